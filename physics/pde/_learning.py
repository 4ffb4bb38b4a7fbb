"""Operator learning on PDE data: :func:`physics.fit_operator` with the FNO paper's normalization
on Darcy fields shaped ``(n, R, R)``, and training pairs / errors for Navier-Stokes trajectories."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from tensorkit.extend import array_module, check_int, to_numpy
from tensorkit.nn import CosineLR, Module, Normalizer, NormalizingProcessor

from .._learning import OperatorFit, fit_operator

__all__ = ["DarcyFit", "fit_darcy", "navier_stokes_pairs", "relative_errors"]


@dataclass
class DarcyFit(OperatorFit):
    """A trained Darcy operator: an :class:`~physics.OperatorFit` on ``(n, R, R)`` fields.

    ``history["val_metric"]`` is the test relative L2 error of the de-normalized solution; the
    normalizers of the data are :attr:`a_normalizer` and :attr:`u_normalizer`.
    """

    @property
    def a_normalizer(self) -> Normalizer:
        """Fitted on the training coefficients."""
        return self._normalizing().x_normalizer

    @property
    def u_normalizer(self) -> Normalizer:
        """Fitted on the training solutions."""
        return self._normalizing().y_normalizer

    def _normalizing(self) -> NormalizingProcessor:
        proc = self.processor
        return proc.processors[0] if hasattr(proc, "processors") else proc

    def predict(self, a: Any, *, batch_size: int = 50) -> np.ndarray:
        """Solutions ``u`` (n, R, R) predicted for coefficients ``a`` (n, R, R) at any resolution."""
        return super().predict(_with_channel(a, "a"), batch_size=batch_size)[:, 0]

    def test_error(self, a: Any, u: Any) -> float:
        """Relative L2 error of :meth:`predict` against ``u`` (mean over samples)."""
        return super().test_error(_with_channel(a, "a"), _with_channel(u, "u"))


def fit_darcy(
    model: Module,
    a_train: Any,
    u_train: Any,
    *,
    epochs: int,
    validation: tuple[Any, Any] | None = None,
    batch_size: int = 20,
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    scheduler: Any = "step",
    step_size: int = 100,
    gamma: float = 0.5,
    checkpoint: str | os.PathLike | None = None,
    progress: bool = True,
    random_state: Any = None,
    processor: Any = None,
    loss: Any = None,
    ema: float | None = None,
) -> DarcyFit:
    """Train ``model`` to map ``a`` to ``u`` with the recipe of the FNO paper.

    :func:`physics.fit_operator` with a :class:`~tensorkit.nn.NormalizingProcessor` fitted on
    the training set (Gaussian per channel): the loss is the relative L2 error
    (:class:`tensorkit.nn.LpLoss`, summed over the batch) on normalized data; Adam with L2 weight
    decay, learning rate multiplied by ``gamma`` every ``step_size`` epochs.

    Parameters
    ----------
    model : Module
        Maps ``(batch, 1, R, R)`` to ``(batch, 1, R, R)``, e.g. :class:`operators.FNO`.
    a_train, u_train : arrays (n, R, R)
    epochs : int
    validation : (a_test, u_test), optional
        Scored after every epoch on the de-normalized prediction: ``history["val_metric"]`` is
        its relative L2 error, ``history["val_loss"]`` the loss.
    batch_size, lr, weight_decay, scheduler, step_size, gamma
        The optimization recipe, as :func:`physics.fit_operator` (``scheduler="cosine"`` anneals
        over the ``epochs`` of this call).
    checkpoint : path, optional
        Trainer checkpoint (atomic ``.npz``, the normalizers included), see
        :class:`tensorkit.nn.Trainer`.
    progress : bool
    random_state : int, Generator or None
        Seeds the minibatch shuffling.
    processor : Processor, optional
        Applied after the normalization (e.g. :attr:`operators.MGTFNO.processor`, the patching).
    loss : Loss, "l2" or "h1", optional
        As :func:`physics.fit_operator` (relative L2 by default).
    ema : float, optional
        Score and predict with an exponential moving average of the weights, as
        :func:`physics.fit_operator` (``benchmarks/darcy_targets.py`` uses 0.95).

    Returns
    -------
    DarcyFit
    """
    x = _with_channel(a_train, "a_train").astype(model.dtype)
    y = _with_channel(u_train, "u_train").astype(model.dtype)
    normalizing = NormalizingProcessor(Normalizer(dtype=model.dtype), Normalizer(dtype=model.dtype))
    normalizing.fit(x, y)
    if validation is not None:
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            size = f" of length {len(validation)}" if isinstance(validation, (tuple, list)) else ""
            raise TypeError(f"validation must be a pair (a_test, u_test), got "
                            f"{type(validation).__name__}{size}")
        validation = (_with_channel(validation[0], "validation a"),
                      _with_channel(validation[1], "validation u"))
    chain = normalizing if processor is None else [normalizing, processor]
    if isinstance(scheduler, str) and scheduler == "cosine":
        # built with 0 epochs and trained after: the annealing must span the epochs to come
        t_max = max(check_int(epochs, "epochs", minimum=0), 1)
        scheduler = functools.partial(CosineLR, t_max=t_max)
    fit = fit_operator(model, x, y, epochs=0, processor=chain, loss=loss, batch_size=batch_size, lr=lr,
                       weight_decay=weight_decay, scheduler=scheduler, step_size=step_size, gamma=gamma,
                       validation=validation, checkpoint=checkpoint, progress=progress,
                       random_state=random_state, ema=ema)
    fit = DarcyFit(fit.model, fit.trainer, metric=fit.metric, _data=fit._data)
    fit.train(epochs)
    return fit


def _with_channel(a: Any, name: str) -> Any:
    if not hasattr(a, "ndim"):
        a = np.asarray(a)
    if a.ndim != 3:
        raise ValueError(f"{name} must have shape (n, R, R), got {tuple(a.shape)}")
    return a[:, None]


def navier_stokes_pairs(w: Any, *, n_in: int = 1, n_out: int = 1) -> tuple[Any, Any]:
    """Training pairs from vorticity trajectories: ``n_in`` consecutive snapshots -> the next ``n_out``.

    Parameters
    ----------
    w : array (n_flows, n_snapshots, R, R)
        As :func:`physics.pde.navier_stokes2d` returns (a periodic grid: square, R even).
    n_in, n_out : int

    Returns
    -------
    x : array (n_flows * n_windows, n_in, R, R)
    y : array (n_flows * n_windows, n_out, R, R)
        With ``n_windows = n_snapshots - n_in - n_out + 1`` windows per flow, flow-major.
    """
    w = check_vorticity(w, "w")
    n_in = check_int(n_in, "n_in", minimum=1)
    n_out = check_int(n_out, "n_out", minimum=1)
    n, t, r, _ = w.shape
    windows = t - n_in - n_out + 1
    if windows < 1:
        raise ValueError(f"{t} snapshots per flow cannot give {n_in} inputs and {n_out} outputs")
    nxp = array_module(w)
    x = nxp.stack([w[:, k:k + n_in] for k in range(windows)], axis=1).reshape(n * windows, n_in, r, r)
    y = nxp.stack([w[:, k + n_in:k + n_in + n_out] for k in range(windows)], axis=1)
    return x, y.reshape(n * windows, n_out, r, r)


def check_vorticity(w: Any, name: str) -> Any:
    """Vorticity trajectories ``(n, T, R, R)`` on a periodic grid (square, R even), else ValueError."""
    if not hasattr(w, "ndim"):
        w = np.asarray(w)
    if w.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {w.dtype}")
    if w.ndim != 4 or w.shape[2] != w.shape[3] or w.shape[2] % 2 or w.shape[2] < 2:
        raise ValueError(
            f"{name} must be vorticity trajectories (n_flows, n_snapshots, R, R) on a periodic grid "
            f"(square, R even, as navier_stokes2d returns), got shape {tuple(w.shape)}"
        )
    return w


def relative_errors(pred: Any, truth: Any) -> np.ndarray:
    """Relative L2 error ``||pred - truth|| / ||truth||`` per sample and channel (e.g. per rollout
    step), the norms over the last two (spatial) axes, as a host array ``(n, C)``.

    Both fields are divided by the largest entry of either before they are subtracted and squared,
    so values near the overflow or underflow thresholds give the true ratio.

    Raises
    ------
    TypeError
        Arguments that are not arrays of real numbers.
    ValueError
        Shapes that differ, fewer than two axes, empty fields, or a ``truth`` field that is zero
        (its relative error is undefined).
    """
    for name, value in (("pred", pred), ("truth", truth)):
        if not hasattr(value, "shape") or not hasattr(value, "dtype"):
            raise TypeError(f"{name} must be a numpy or CuPy array, got {type(value).__name__}")
        if value.dtype.kind not in "iuf":
            raise TypeError(f"{name} must hold real numbers, got dtype {value.dtype}")
    if tuple(pred.shape) != tuple(truth.shape) or truth.ndim < 2:
        raise ValueError(f"pred {tuple(pred.shape)} and truth {tuple(truth.shape)} must be fields of one "
                         "shape (..., ny, nx)")
    if 0 in truth.shape[-2:]:
        raise ValueError(f"pred and truth hold empty fields, shape {tuple(truth.shape)}")
    nxp = array_module(truth)
    axes = (-2, -1)
    truth_max = nxp.abs(truth).max(axis=axes)
    if bool((truth_max == 0).any()):
        raise ValueError(f"truth holds {int((truth_max == 0).sum())} all-zero field(s): "
                         "their relative error is undefined")
    # pred - truth itself may overflow (1e308 - (-1e308)): scale first
    scale = nxp.maximum(nxp.abs(pred).max(axis=axes), truth_max)[..., None, None]
    num = nxp.sqrt(((pred / scale - truth / scale) ** 2).sum(axis=axes))
    return to_numpy(num / nxp.sqrt(((truth / scale) ** 2).sum(axis=axes)))
