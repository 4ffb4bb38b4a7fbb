"""Operator learning on any data: one call that builds the FNO-paper recipe around a model and
trains it with :class:`tensorkit.nn.Trainer` (processor, checkpoints, exact resume included)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tensorkit.extend import Info, array_module, check_choice, check_int, check_real, get_namespace, native
from tensorkit.nn import (
    Adam,
    CosineLR,
    H1Loss,
    Loss,
    LpLoss,
    Module,
    Optimizer,
    Processor,
    Scheduler,
    StepLR,
    Trainer,
)

__all__ = ["OperatorFit", "ProcessorChain", "VorticityVelocity", "fit_operator"]

LOSSES = ("l2", "h1")
SCHEDULES = ("step", "cosine")


@dataclass
class OperatorFit:
    """A trained operator with its trainer, processor and history.

    Attributes
    ----------
    model : Module
    trainer : Trainer
        Holds the optimizer, scheduler, processor and shuffling state; :meth:`train` continues
        from them.
    history : dict of lists
        As :meth:`tensorkit.nn.Trainer.fit`.
    metric : callable
        ``metric(pred, y)`` scored on validation data after every epoch and by :meth:`test_error`.
    """

    model: Module
    trainer: Trainer
    history: dict[str, list[float]] = field(default_factory=dict)
    metric: Callable[[Any, Any], float] | None = None
    _data: tuple = field(default=(), repr=False)

    @property
    def processor(self) -> Any:
        """The trainer's per-batch processor."""
        return self.trainer.processor

    @property
    def info(self) -> Info:
        """The run as an :class:`~tensorkit.extend.Info` (see :attr:`tensorkit.nn.Trainer.info`)."""
        return self.trainer.info

    def train(self, epochs: int) -> dict[str, list[float]]:
        """Continue training until ``epochs`` epochs are done in total (the numbers are those of
        one uninterrupted run); returns the history."""
        x, y, validation = self._data
        self.history = self.trainer.fit(x, y, epochs, validation=validation, metric=self.metric)
        return self.history

    def predict(self, x: Any, *, batch_size: int | None = None) -> Any:
        """Model outputs for inputs ``x``, through the processor in evaluation mode."""
        return self.trainer.predict(x, batch_size=batch_size)

    def test_error(self, x: Any, y: Any) -> float:
        """:attr:`metric` of the prediction for ``x`` against ``y``."""
        metric = self.metric or _relative_l2(y)
        return float(metric(self.trainer.predict(x), y))

    def rollout(self, x: Any, n_steps: int, *, batch_size: int | None = None) -> Any:
        """Autoregressive prediction: ``n_steps`` applications, each output fed back as input.

        For a model mapping ``k`` input channels (e.g. the last ``k`` snapshots of a flow) to ``m <= k``
        output channels, the next input drops the oldest ``m`` channels of the current one and appends
        the prediction. Returns the ``n_steps`` predictions, ``(batch, n_steps * m, *spatial)``.

        Raises
        ------
        FloatingPointError
            When a prediction is not finite (the rollout diverged), naming the step.
        """
        n_steps = check_int(n_steps, "n_steps", minimum=1)
        nxp = array_module(x)
        outputs = []
        for step in range(n_steps):
            pred = self.trainer.predict(x, batch_size=batch_size)
            bad = int((~nxp.isfinite(pred)).sum())
            if bad:
                # fed back, it would be refused as a non-finite input x, which the caller's x is not
                raise FloatingPointError(f"the rollout diverged: the prediction of step {step + 1} holds "
                                         f"{bad} non-finite (NaN or Inf) values")
            m = pred.shape[1]
            if m > x.shape[1]:
                raise ValueError(
                    f"rollout needs at most as many output channels ({m}) as input channels ({x.shape[1]})"
                )
            outputs.append(pred)
            x = nxp.concatenate([x[:, m:], pred.astype(x.dtype, copy=False)], axis=1)
        return nxp.concatenate(outputs, axis=1)


class ProcessorChain(Processor):
    """Several processors in a row: preprocessing in the given order, postprocessing (and its adjoint)
    in reverse, so ``ProcessorChain([normalize, patch])`` normalizes, then patches the normalized fields
    (what :func:`fit_operator` builds from a list of processors). Its state is the members' state,
    keyed ``"<position>/<name>"``.
    """

    def __init__(self, processors: Any):
        super().__init__()
        if not isinstance(processors, (list, tuple)):
            raise TypeError(f"processors must be a list or tuple, got {type(processors).__name__}")
        self.processors = [_check_processor(p) for p in processors]

    def preprocess(self, x: Any, y: Any) -> tuple[Any, Any]:
        for p in self.processors:
            x, y = p.preprocess(x, y)
        return x, y

    def postprocess(self, pred: Any, y: Any) -> tuple[Any, Any]:
        for p in reversed(self.processors):
            pred, y = p.postprocess(pred, y)
        return pred, y

    def postprocess_adjoint(self, grad: Any) -> Any:
        for p in self.processors:
            grad = p.postprocess_adjoint(grad)
        return grad

    def train(self, mode: bool = True) -> ProcessorChain:
        self.training = bool(mode)
        for p in self.processors:
            hook = getattr(p, "train", None)
            if callable(hook):
                hook(mode)
        return self

    def state_dict(self) -> dict[str, Any]:
        state = {}
        for k, p in enumerate(self.processors):
            get = getattr(p, "state_dict", None)
            if callable(get):
                state.update({f"{k}/{name}": v for name, v in get().items()})
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k, p in enumerate(self.processors):
            part = {name.split("/", 1)[1]: v for name, v in state.items() if name.split("/", 1)[0] == str(k)}
            load = getattr(p, "load_state_dict", None)
            if callable(load):
                load(part)
            elif part:
                raise ValueError(f"processor state {sorted(part)} for {type(p).__name__}, which keeps none")


def _check_processor(p: Any) -> Any:
    names = ("preprocess", "postprocess", "postprocess_adjoint")
    missing = [m for m in names if not callable(getattr(p, m, None))]
    if missing:
        raise TypeError(f"processor {type(p).__name__} lacks {', '.join(missing)} (tensorkit.nn.Processor)")
    return p


def fit_operator(
    model: Module,
    x: Any,
    y: Any = None,
    *,
    epochs: int,
    processor: Any = None,
    loss: Loss | None = None,
    optimizer: Optimizer | Callable[[Module], Optimizer] | None = None,
    batch_size: int = 20,
    lr: float | None = None,
    weight_decay: float | None = None,
    scheduler: str | Scheduler | Callable[[Optimizer], Scheduler] | None = "step",
    step_size: int = 100,
    gamma: float = 0.5,
    validation: Any = None,
    metric: Callable[[Any, Any], float] | None = None,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    random_state: Any = None,
    progress: bool = True,
    n_threads: int | None = None,
    ema: float | None = None,
) -> OperatorFit:
    r"""Train ``model`` to map ``x`` to ``y`` with the recipe of the FNO paper, on any data.

    The defaults are those of Li et al. (ICLR 2021) and neuraloperator: the relative L2 loss
    summed over the batch (:class:`tensorkit.nn.LpLoss` over the spatial axes), Adam with L2
    weight decay (``lr = 1e-3``, ``weight_decay = 1e-4``), the learning rate multiplied by
    ``gamma`` every ``step_size`` epochs (or annealed to zero over the run, ``scheduler="cosine"``,
    for short runs whose last epochs should settle); validation is scored by the mean over samples of
    :math:`\|\hat y - y\|_2 / \|y\|_2`. A ``processor`` (for instance
    :class:`tensorkit.nn.NormalizingProcessor`) adapts each batch around the model.

    Parameters
    ----------
    model : Module
        Maps ``(batch, in_channels, *spatial)`` to ``(batch, out_channels, *spatial)``, e.g.
        :class:`operators.FNO`.
    x, y : arrays, or a batch source and None
        Training data, as :meth:`tensorkit.nn.Trainer.fit` takes it.
    epochs : int
        Epochs to train now (0: build only; :meth:`OperatorFit.train` continues).
    processor : Processor or sequence of processors, optional
        Per-batch processing (see :class:`tensorkit.nn.Trainer`); a list or tuple runs as a
        :class:`ProcessorChain` (e.g. normalization, then :class:`operators.MultigridPatching2D`).
    loss : Loss, "l2" or "h1", optional
        Default and ``"l2"``: ``LpLoss(d=y.ndim - 2, reduction="sum")`` (``d=2`` for a batch
        source), the relative L2 error; ``"h1"``: the relative H1 error ``H1Loss`` (periodic
        differences, neuraloperator's training loss for Navier-Stokes).
    optimizer : Optimizer or callable(model) -> Optimizer, optional
        Default ``Adam(model, lr=lr, weight_decay=weight_decay)``.
    batch_size : int
    lr, weight_decay : float, optional
        For the default optimizer only (1e-3 and 1e-4).
    scheduler : "step", "cosine", Scheduler, callable(optimizer) -> Scheduler or None
        ``"step"``: ``StepLR(optimizer, step_size, gamma)``; ``"cosine"``:
        ``CosineLR(optimizer, t_max=epochs)``, :math:`\eta_e = \eta_0 (1 + \cos(\pi e / E)) / 2` over the
        ``E = epochs`` epochs of this call (zero after them if :meth:`OperatorFit.train` continues);
        None keeps the rate constant.
    step_size, gamma
        Of the ``"step"`` schedule.
    validation : (x_test, y_test) or batch source, optional
        Scored after every epoch: ``history["val_loss"]`` and ``history["val_metric"]``, both on
        the postprocessed prediction (in the data's units with a normalizing processor).
    metric : callable(pred, y) -> float, optional
        Default: relative L2 per sample, averaged (``LpLoss`` over all non-batch axes; over the
        last three for a batch source).
    checkpoint : path, optional
        Trainer checkpoint (atomic ``.npz``); ``resume=True`` continues from it exactly.
    random_state : int, Generator or None
        Seeds the minibatch shuffling.
    progress : bool
        A progress bar over epochs (on by default, as in every trainer).
    n_threads : int, optional
        See :class:`tensorkit.nn.Trainer`.
    ema : float, optional
        Decay of an exponential moving average of the weights
        (:class:`tensorkit.nn.ExponentialMovingAverage`), used for validation, prediction and
        checkpoints; training itself is unchanged. On Darcy, 0.95 cut the epoch-to-epoch change of
        the test error from about 5% to about 1% and the error itself by 5-8%. None: the last weights.

    Returns
    -------
    OperatorFit
        With ``info`` (method ``"trainer"``, epochs run, the validation-loss history).

    Examples
    --------
    >>> import numpy as np
    >>> from physics import fit_operator
    >>> from tensorkit.nn import Conv2d
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((32, 1, 8, 8)); y = 2.0 * x + 1.0
    >>> model = Conv2d(1, 1, 1, random_state=0)
    >>> fit = fit_operator(model, x, y, epochs=200, lr=0.05, weight_decay=0.0, batch_size=8,
    ...                    validation=(x[:8], y[:8]), random_state=0, progress=False)
    >>> fit.info.iterations, bool(fit.history["val_metric"][-1] < 1e-2)
    (200, True)
    """
    if not isinstance(model, Module):
        raise TypeError(f"model must be a tensorkit.nn.Module, got {type(model).__name__}")
    check_int(epochs, "epochs", minimum=0)
    arrays = hasattr(y, "ndim")
    d = max(1, y.ndim - 2) if arrays else 2
    if isinstance(processor, (list, tuple)):
        processor = ProcessorChain(processor)
    if loss is None or isinstance(loss, str):
        loss = check_choice("l2" if loss is None else loss, "loss", LOSSES)
        loss = LpLoss(d=d, reduction="sum") if loss == "l2" else H1Loss(d=min(d, 3), reduction="sum")
    elif not isinstance(loss, Loss):
        raise TypeError(f"loss must be a tensorkit.nn Loss, 'l2' or 'h1', got {type(loss).__name__}")
    optimizer = _optimizer(model, optimizer, lr, weight_decay)
    if isinstance(scheduler, str):
        scheduler = check_choice(scheduler, "scheduler", SCHEDULES)
    if scheduler == "cosine":
        scheduler = CosineLR(optimizer, t_max=max(epochs, 1))
    elif scheduler == "step":
        scheduler = StepLR(optimizer, step_size=check_int(step_size, "step_size", minimum=1),
                           gamma=check_real(gamma, "gamma", minimum=0.0, strict_minimum=True))
    elif callable(scheduler) and not isinstance(scheduler, Scheduler):
        scheduler = scheduler(optimizer)
    if scheduler is not None and not isinstance(scheduler, Scheduler):
        raise TypeError(f"scheduler must be 'step', 'cosine', a tensorkit.nn Scheduler, a "
                        f"callable(optimizer) returning one, or None; got {type(scheduler).__name__}")
    if metric is None and validation is not None:
        metric = _relative_l2(y if arrays else None)
    trainer = Trainer(model, loss, optimizer, batch_size=batch_size, scheduler=scheduler,
                      processor=processor, checkpoint=checkpoint, progress=progress,
                      random_state=random_state, n_threads=n_threads, ema=ema)
    fit = OperatorFit(model, trainer, metric=metric, _data=(x, y, validation))
    fit.history = trainer.fit(x, y, epochs, validation=validation, metric=metric, resume=resume)
    return fit


def _optimizer(model, optimizer, lr, weight_decay) -> Optimizer:
    if optimizer is None:
        lr = 1e-3 if lr is None else check_real(lr, "lr", minimum=0.0, strict_minimum=True)
        weight_decay = 1e-4 if weight_decay is None else check_real(weight_decay, "weight_decay", minimum=0.0)
        return Adam(model, lr=lr, weight_decay=weight_decay)
    if lr is not None or weight_decay is not None:
        raise ValueError("lr and weight_decay set the default optimizer; give them to your optimizer instead")
    if callable(optimizer) and not isinstance(optimizer, Optimizer):
        optimizer = optimizer(model)
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a tensorkit.nn Optimizer, got {type(optimizer).__name__}")
    return optimizer


def _relative_l2(y) -> Loss:
    """Relative L2 per sample over every non-batch axis, averaged over the batch; an all-zero truth,
    whose relative error is undefined, raises ValueError (no eps, which would report |pred| / eps)."""
    return LpLoss(d=max(1, y.ndim - 1) if y is not None else 3, reduction="mean", eps=0.0)


class VorticityVelocity(Processor):
    r"""Append the velocity of a 2D vorticity field, computed on the whole periodic field, as channels.

    On the unit torus the velocity follows from the vorticity :math:`w` by the Biot-Savart law,
    :math:`u = \partial_y \psi`, :math:`v = -\partial_x \psi` with :math:`-\Delta \psi = w`, i.e.
    :math:`\hat\psi = \hat w / (4 \pi^2 |k|^2)` (mean mode and Nyquist modes dropped). It is non-local
    (a :math:`1 / r` kernel): the velocity inside a patch depends on the vorticity everywhere, which a
    patch model (:class:`operators.MGTFNO`) does not see at full resolution. Given to the patching as
    its embedding (``MGTFNO(positional_embedding=VorticityVelocity(PeriodicCoordinates()))``), the
    velocity is computed once on the whole field, then cut with it, so every patch carries it.
    A linear map ``w -> [w; u; v (; coordinates)]``; :meth:`embed_adjoint` is its adjoint.

    Parameters
    ----------
    coordinates : PeriodicCoordinates, optional
        Further channels appended after the velocity (their :meth:`embed` / :meth:`embed_adjoint`).

    Examples
    --------
    >>> import numpy as np
    >>> from physics._learning import VorticityVelocity  # physics/__init__ does not export it yet
    >>> i = np.arange(8) / 8
    >>> w = np.sin(2 * np.pi * i)[None, None, :, None] * np.ones((1, 1, 8, 8))   # w = sin 2 pi x
    >>> z = VorticityVelocity().embed(w)                    # psi = w / (4 pi^2): v = -cos(2 pi x) / (2 pi)
    >>> z.shape, bool(np.allclose(z[0, 2, :, 0], -np.cos(2 * np.pi * i) / (2 * np.pi)))
    ((1, 3, 8, 8), True)
    """

    def __init__(self, coordinates: Any = None):
        super().__init__()
        if coordinates is not None and not all(
            callable(getattr(coordinates, m, None)) for m in ("embed", "embed_adjoint", "channels")
        ):
            raise TypeError(
                f"coordinates must be an embedding such as PeriodicCoordinates, got {coordinates!r}"
            )
        self.coordinates = coordinates

    def channels(self, n_dim: int) -> int:
        """Channels added to a 2D vorticity field: the 2 velocity components (and the coordinates')."""
        if check_int(n_dim, "n_dim", minimum=1) != 2:
            raise ValueError(f"VorticityVelocity is 2D, got n_dim={n_dim}")
        return 2 + (0 if self.coordinates is None else self.coordinates.channels(2))

    def embed(self, x: Any) -> Any:
        """``(batch, 1, H, W)`` vorticity -> ``(batch, 3 (+ coordinates), H, W)``: ``[w; u; v]``."""
        if not hasattr(x, "shape") or getattr(x, "ndim", 0) != 4 or x.shape[1] != 1 or 0 in x.shape[2:]:
            raise ValueError(f"x must be vorticity fields (batch, 1, H, W), got {getattr(x, 'shape', x)!r}")
        xp = get_namespace(x)
        if not xp.isdtype(x.dtype, "real floating"):
            raise TypeError(f"x must be a real floating array, got dtype {x.dtype}")
        out = xp.concat([x, self._velocity(xp, x, adjoint=False)], axis=1)
        return out if self.coordinates is None else self.coordinates.embed(out)

    def embed_adjoint(self, grad: Any) -> Any:
        """Adjoint of the linear part of :meth:`embed`: ``g_w + L^T [g_u; g_v]``."""
        if not hasattr(grad, "shape") or not hasattr(grad, "dtype"):
            raise TypeError(f"grad must be a numpy or CuPy array, got {type(grad).__name__}")
        channels = 1 + self.channels(2)
        if grad.ndim != 4 or grad.shape[1] != channels:
            # fewer channels would slice into an empty, silently wrong gradient
            raise ValueError(
                f"grad must be (batch, {channels}, H, W) like embed's output, got {tuple(grad.shape)}"
            )
        if self.coordinates is not None:
            grad = self.coordinates.embed_adjoint(grad)
        xp = get_namespace(grad)
        return grad[:, :1] + self._velocity(xp, grad[:, 1:3], adjoint=True)

    def preprocess(self, x: Any, y: Any) -> tuple[Any, Any]:
        """Embed the inputs (as a trainer processor); ``y`` is unchanged."""
        return self.embed(x), y

    def _velocity(self, xp, a, *, adjoint):
        """``w -> (u, v)``, or its adjoint ``(g_u, g_v) -> g_w``: real Fourier multipliers ``m``, whose
        adjoints are ``conj(m)`` (Nyquist modes zeroed, so that ``m(-k) = conj(m(k))`` holds)."""
        fft = native(xp).fft
        h, w = a.shape[2:]
        kx = xp.asarray(2 * np.pi * np.fft.fftfreq(h, 1.0 / h))[:, None]
        ky = xp.asarray(2 * np.pi * np.fft.rfftfreq(w, 1.0 / w))[None, :]
        lap = kx**2 + ky**2
        lap = xp.where(lap == 0, 1.0, lap)
        keep = xp.asarray(((np.abs(np.fft.fftfreq(h, 1.0 / h)) < h / 2)[:, None]
                           & (np.fft.rfftfreq(w, 1.0 / w) < w / 2)[None, :]).astype(float))
        mu, mv = 1j * ky * keep / lap, -1j * kx * keep / lap
        if adjoint:
            g = fft.rfft2(a, axes=(2, 3))
            out = fft.irfft2(xp.conj(mu) * g[:, :1] + xp.conj(mv) * g[:, 1:2], s=(h, w), axes=(2, 3))
            return xp.asarray(out, dtype=a.dtype)
        g = fft.rfft2(a, axes=(2, 3))
        out = fft.irfft2(xp.concat([mu * g, mv * g], axis=1), s=(h, w), axes=(2, 3))
        return xp.asarray(out, dtype=a.dtype)

    def __repr__(self) -> str:
        return f"VorticityVelocity(coordinates={self.coordinates!r})"
