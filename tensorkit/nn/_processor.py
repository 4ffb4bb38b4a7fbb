"""Per-batch data processing around the model (the trainer's ``processor=``), and batch sources.

A processor sits between the data and the loss, as neuraloperator's ``DataProcessor`` does::

    x, y = processor.preprocess(x, y)          # patching, augmentation, input normalization
    pred = model.forward(x)
    pred, y = processor.postprocess(pred, y)   # unpatching, de-normalization, rollout assembly
    value = loss_fn.forward(pred, y)
    model.backward(processor.postprocess_adjoint(loss_fn.backward()))

Nothing differentiates through ``preprocess`` (it only feeds the model), but the trainer needs the
adjoint of whatever ``postprocess`` does to ``pred``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from ..backend import is_cupy_array, to_numpy
from ._normalizer import Normalizer

__all__ = ["NormalizingProcessor", "Processor"]

_REQUIRED = ("preprocess", "postprocess", "postprocess_adjoint")


class Processor:
    r"""Identity per-batch processing; subclass it and override what a problem needs.

    Methods
    -------
    preprocess(x, y) -> (x', y')
        Applied to every batch before the model, in training and evaluation (``y`` is None when
        only predicting). Not differentiated: it may do anything to the data.
    postprocess(pred, y) -> (pred', y')
        Applied to the model output before the loss (and before a validation metric).
    postprocess_adjoint(grad) -> grad_pred
        The adjoint of the ``pred -> pred'`` part of :meth:`postprocess` at the last call: for a
        linear map ``pred' = A pred`` it returns ``A^T grad``. The identity when ``postprocess``
        leaves ``pred`` alone.
    train(), eval()
        Mode hooks, called when the trainer switches the model (a processor may augment only in
        training, or de-normalize only in evaluation). :attr:`training` tells the mode.
    state_dict(), load_state_dict(state)
        Arrays saved with trainer checkpoints (fitted statistics, augmentation state), so that a
        resumed run continues with exactly the same processing.

    Any object with ``preprocess``, ``postprocess`` and ``postprocess_adjoint`` is accepted by the
    trainer; the mode hooks and the state methods are optional there.

    Examples
    --------
    A processor that doubles the inputs and scales the prediction by 3 before the loss:

    >>> import numpy as np
    >>> from tensorkit.nn import Processor
    >>> class Scale(Processor):
    ...     def preprocess(self, x, y):
    ...         return 2 * x, y
    ...     def postprocess(self, pred, y):
    ...         return 3 * pred, y
    ...     def postprocess_adjoint(self, grad):
    ...         return 3 * grad
    >>> Scale().preprocess(np.ones(2), None)[0]
    array([2., 2.])
    """

    def __init__(self):
        self.training = True

    def preprocess(self, x: Any, y: Any) -> tuple[Any, Any]:
        """Identity: returns ``(x, y)``."""
        return x, y

    def postprocess(self, pred: Any, y: Any) -> tuple[Any, Any]:
        """Identity: returns ``(pred, y)``."""
        return pred, y

    def postprocess_adjoint(self, grad: Any) -> Any:
        """Identity: returns ``grad``."""
        return grad

    def train(self, mode: bool = True) -> Processor:
        """Switch to training mode (``mode=False``: evaluation); returns self."""
        self.training = bool(mode)
        return self

    def eval(self) -> Processor:
        """Switch to evaluation mode; returns self."""
        return self.train(False)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Arrays to checkpoint (none for the identity)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; the identity holds no state."""
        if state:
            raise ValueError(f"{type(self).__name__} holds no state, got keys {sorted(state)}")


class NormalizingProcessor(Processor):
    r"""Gaussian normalization of inputs and targets, the FNO recipe, as a processor.

    Training: ``x -> (x - mean_x) / std_x`` and ``y -> (y - mean_y) / std_y``, so the loss compares
    normalized fields. Evaluation: ``x`` is encoded, ``y`` stays in physical units and the
    prediction is decoded, ``pred -> pred std_y + mean_y`` (adjoint ``g std_y``), so validation
    losses and metrics are in the units of the data (as neuraloperator's ``DefaultDataProcessor``).

    Parameters
    ----------
    x_normalizer, y_normalizer : Normalizer, optional
        Fitted (or to be fitted by :meth:`fit`); None leaves that side alone.

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.nn import Normalizer
    >>> from tensorkit.nn import NormalizingProcessor
    >>> x = np.arange(8.0).reshape(4, 1, 2); y = 10 * x
    >>> proc = NormalizingProcessor(Normalizer(), Normalizer()).fit(x, y)
    >>> xn, yn = proc.preprocess(x, y)
    >>> bool(abs(yn.mean()) < 1e-12), float(proc.eval().postprocess(yn, y)[0].max())
    (True, 70.0)
    """

    def __init__(self, x_normalizer: Normalizer | None = None, y_normalizer: Normalizer | None = None):
        super().__init__()
        for name, value in (("x_normalizer", x_normalizer), ("y_normalizer", y_normalizer)):
            if value is not None and not isinstance(value, Normalizer):
                raise TypeError(
                    f"{name} must be a tensorkit.nn.Normalizer or None, got {type(value).__name__}"
                )
        self.x_normalizer, self.y_normalizer = x_normalizer, y_normalizer

    def fit(self, x: Any, y: Any) -> NormalizingProcessor:
        """Fit the normalizers on training inputs and targets; returns self."""
        if self.x_normalizer is not None:
            self.x_normalizer.fit(x)
        if self.y_normalizer is not None:
            self.y_normalizer.fit(y)
        return self

    def preprocess(self, x, y):
        if self.x_normalizer is not None:
            x = self.x_normalizer.encode(x)
        if self.training and self.y_normalizer is not None and y is not None:
            y = self.y_normalizer.encode(y)
        return x, y

    def postprocess(self, pred, y):
        if not self.training and self.y_normalizer is not None:
            pred = self.y_normalizer.decode(pred)
        return pred, y

    def postprocess_adjoint(self, grad):
        if not self.training and self.y_normalizer is not None:
            return self.y_normalizer.decoder().backward(grad)
        return grad

    def state_dict(self) -> dict[str, np.ndarray]:
        return {f"{side}/{k}": v for side, norm in self._normalizers() for k, v in norm.state_dict().items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        current = self.state_dict()
        expected, found = set(current), set(state)
        # Unfitted normalizers have no keys yet: accept their statistics from the state
        unfitted = {side for side, norm in self._normalizers() if not norm.fitted}
        extra = {k for k in found - expected if k.partition("/")[0] not in unfitted}
        if extra or expected - found:
            raise ValueError(
                f"processor state mismatch: missing {sorted(expected - found)}, unexpected {sorted(extra)}"
            )
        shapes = [k for k, v in current.items() if tuple(state[k].shape) != v.shape]
        if shapes:
            raise ValueError(f"processor state mismatch: shapes of {shapes} differ from the normalizers'")
        for side, norm in self._normalizers():
            prefix = side + "/"
            norm.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})

    def _normalizers(self):
        return [(side, norm) for side, norm in (("x", self.x_normalizer), ("y", self.y_normalizer))
                if norm is not None]


def check_processor(processor: Any) -> Any:
    """``processor`` when it has the three methods the trainer calls (None: the identity)."""
    if processor is None:
        return Processor()
    missing = [m for m in _REQUIRED if not callable(getattr(processor, m, None))]
    if missing:
        raise TypeError(
            f"processor must provide {', '.join(_REQUIRED)} (see tensorkit.nn.Processor); "
            f"{type(processor).__name__} lacks {', '.join(missing)}"
        )
    return processor


def set_mode(processor: Any, training: bool) -> None:
    """Call the processor's optional ``train()`` / ``eval()`` hook."""
    hook = getattr(processor, "train" if training else "eval", None)
    if callable(hook):
        hook()


def processor_state(processor: Any) -> dict[str, np.ndarray]:
    """The processor's arrays on the host (empty when it keeps no state)."""
    get = getattr(processor, "state_dict", None)
    return {k: to_numpy(v) for k, v in get().items()} if callable(get) else {}


def check_processor_state(processor: Any, saved: dict[str, Any], path: Any) -> None:
    """Refuse checkpointed processor state that ``processor`` cannot take, before anything loads."""
    if saved and not callable(getattr(processor, "load_state_dict", None)):
        raise ValueError(
            f"{str(path)!r} holds processor state {sorted(saved)[:6]} but this trainer's "
            f"{type(processor).__name__} has no load_state_dict"
        )
    current = processor_state(processor)
    # A processor with state must find the same arrays; one without may be filled (unfitted)
    if current and (set(current) != set(saved) or any(saved[k].shape != v.shape for k, v in current.items())):
        raise ValueError(
            f"{str(path)!r} and this trainer's processor disagree on its state: saved "
            f"{sorted(saved)[:6]}, expected {sorted(current)[:6]}"
        )


# ----------------------------------------------------------------------------- batch sources
def array_batches(x: Any, y: Any, batch_size: int) -> Callable[[int, Any], Iterator[tuple[Any, Any]]]:
    """The trainer's source for in-memory arrays: a fresh permutation per epoch, then slices.

    The permutation is the only draw from the trainer's generator, so a checkpointed generator
    state resumes the exact same batches.
    """
    n = int(x.shape[0])

    def batches(epoch: int, rng: Any) -> Iterator[tuple[Any, Any]]:
        order = rng.permutation(n)
        if is_cupy_array(x):
            import cupy

            order = cupy.asarray(order)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            yield x[idx], y[idx]

    return batches


def check_source(source: Any, name: str) -> Callable[[int, Any], Iterable[tuple[Any, Any]]]:
    """A batch source as a callable ``batches(epoch, rng)``.

    Accepts a callable (returned as is) or an iterable of ``(x, y)`` pairs (a list, a loader
    whose ``__iter__`` starts over): each epoch iterates it afresh.
    """
    if callable(source):
        return source
    if isinstance(source, Iterable) and not hasattr(source, "shape"):
        return lambda epoch, rng: source
    raise TypeError(
        f"{name} must be an array (with y), a callable batches(epoch, rng) or an iterable of "
        f"(x, y) pairs, got {type(source).__name__}"
    )
