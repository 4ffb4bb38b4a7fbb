"""Losses with their gradients: MSE, and the relative Lp and H1 errors used to train neural operators.

A loss is driven as ``value = loss_fn.forward(pred, target)`` (a Python float) followed by
``g = loss_fn.backward()`` (d value / d pred, shaped like ``pred``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_choice, check_int, check_real, per_axis
from ..backend import array_module

__all__ = ["H1Loss", "Loss", "LpLoss", "MSELoss"]

_REDUCTIONS = ("sum", "mean")


def _check_pair(pred, target, d: int, name: str):
    for arg, value in (("pred", pred), ("target", target)):
        if not hasattr(value, "shape") or not hasattr(value, "dtype"):
            raise TypeError(f"{name}: {arg} must be a numpy or CuPy array, got {type(value).__name__}")
    if pred.shape != target.shape:
        raise ValueError(f"{name}: pred shape {tuple(pred.shape)} != target shape {tuple(target.shape)}")
    if pred.ndim < d:
        raise ValueError(f"{name}: needs at least d={d} dimensions, got shape {tuple(pred.shape)}")
    if pred.dtype.kind != "f":
        raise TypeError(f"{name}: pred must be a real float array, got {pred.dtype}")
    if target.dtype.kind not in "fiub":
        raise TypeError(f"{name}: target must be a real array, got {target.dtype}")
    return target.astype(pred.dtype, copy=False)


class Loss:
    """Base of the losses: ``forward(pred, target) -> float``, then ``backward() -> d value / d pred``."""

    def __init__(self):
        self._grad = None

    def forward(self, pred: Any, target: Any) -> float:
        raise NotImplementedError

    def backward(self):
        """d value / d pred of the last :meth:`forward`."""
        if self._grad is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return self._grad

    def __call__(self, pred: Any, target: Any) -> float:
        return self.forward(pred, target)


class MSELoss(Loss):
    r"""Mean (or summed) squared error ``sum (pred - target)^2`` (divided by the size for ``"mean"``)."""

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = check_choice(reduction, "reduction", _REDUCTIONS)

    def forward(self, pred, target) -> float:
        target = _check_pair(pred, target, 0, "MSELoss")
        diff = pred - target
        scale = 1.0 / diff.size if self.reduction == "mean" else 1.0
        value = float((diff * diff).sum()) * scale
        diff *= pred.dtype.type(2.0 * scale)
        self._grad = diff
        return value


class LpLoss(Loss):
    r"""Relative Lp error over the last ``d`` axes, as neuraloperator's ``LpLoss`` (its ``rel``).

    For each leading index (sample and channel)
    :math:`r = \|x - y\|_p / (\|y\|_p + \varepsilon)`, the norms taken over the flattened last ``d``
    axes; the value is the sum (``"sum"``, the default) or mean of ``r`` over all leading indices.
    Quadrature weights cancel in the ratio, so none appear.

    Parameters
    ----------
    d : int
        Number of trailing (spatial) axes, 2 by default.
    p : float >= 1
    reduction : {"sum", "mean"}
    eps : float
        Added to the target norm (neuraloperator's 1e-8).
    """

    def __init__(self, d: int = 2, p: float = 2, *, reduction: str = "sum", eps: float = 1e-8):
        super().__init__()
        self.d = check_int(d, "d", minimum=1)
        self.p = check_real(p, "p", minimum=1.0)
        self.eps = check_real(eps, "eps", minimum=0.0)
        self.reduction = check_choice(reduction, "reduction", _REDUCTIONS)

    def forward(self, pred, target) -> float:
        target = _check_pair(pred, target, self.d, "LpLoss")
        nxp = array_module(pred)
        lead = pred.shape[: pred.ndim - self.d]
        e = (pred - target).reshape(*lead, -1)
        y = target.reshape(*lead, -1)
        p = self.p
        if p == 2:
            diff = (e * e).sum(axis=-1)
            ynorm = nxp.sqrt((y * y).sum(axis=-1))
        else:
            diff = (nxp.abs(e) ** p).sum(axis=-1)
            ynorm = (nxp.abs(y) ** p).sum(axis=-1) ** (1.0 / p)
        denom = ynorm + pred.dtype.type(self.eps)
        num = diff ** (1.0 / p)
        ratios = num / denom
        scale = 1.0 / ratios.size if self.reduction == "mean" else 1.0
        value = float(ratios.sum()) * scale
        # d/de ||e||_p = |e|^(p-1) sign(e) / ||e||_p^(p-1); taken as 0 where e vanishes
        safe = nxp.where(num > 0, num, 1)
        coef = nxp.where(num > 0, scale / (denom * safe ** (p - 1)), 0).astype(pred.dtype, copy=False)
        if p == 2:
            grad = e
            grad *= coef[..., None]
        else:
            grad = nxp.abs(e) ** (p - 1) * nxp.sign(e) * coef[..., None]
        self._grad = grad.reshape(pred.shape).astype(pred.dtype, copy=False)
        return value


class H1Loss(Loss):
    r"""Relative H1 (Sobolev) error over the last ``d`` axes, as neuraloperator's ``H1Loss``.

    With finite-difference derivatives :math:`D_k` (step ``h_k = measure_k / n_k``) along each of
    the last ``d`` axes, for each leading index
    :math:`r = \sqrt{\|e\|^2 + \sum_k \|D_k e\|^2} / (\sqrt{\|y\|^2 + \sum_k \|D_k y\|^2} + \varepsilon)`,
    ``e = pred - target``; the value is the sum or mean of ``r``.

    Parameters
    ----------
    d : int
        Number of trailing axes (1, 2 or 3), 2 by default.
    measure : float or sequence of float
        Domain length per axis (1.0).
    reduction : {"sum", "mean"}
    eps : float
    periodic : bool or sequence of bool
        Periodic central differences (neuraloperator's default); otherwise central in the interior
        and third-order one-sided at the two ends (needs at least 4 points).

    Notes
    -----
    Each ``D_k`` is applied as an ``(n_k, n_k)`` matrix along its axis; the gradient is
    ``(e + sum_k D_k^T D_k e) / (sqrt(num) (sqrt(den) + eps))``.
    """

    def __init__(
        self,
        d: int = 2,
        *,
        measure: float | Any = 1.0,
        reduction: str = "sum",
        eps: float = 1e-8,
        periodic: bool | Any = True,
    ):
        super().__init__()
        self.d = check_int(d, "d", minimum=1, maximum=3)
        self.measure = per_axis(
            measure, self.d, "measure", lambda v, n: check_real(v, n, minimum=0.0, strict_minimum=True)
        )
        self.periodic = per_axis(periodic, self.d, "periodic", lambda v, n: bool(v))
        self.reduction = check_choice(reduction, "reduction", _REDUCTIONS)
        self.eps = check_real(eps, "eps", minimum=0.0)

    def _operators(self, shape, nxp, dtype):
        ops = []
        for k in range(self.d):
            n = shape[len(shape) - self.d + k]
            h = self.measure[k] / n
            ops.append(nxp.asarray(_difference_matrix(n, h, self.periodic[k]), dtype=dtype))
        return ops

    def forward(self, pred, target) -> float:
        target = _check_pair(pred, target, self.d, "H1Loss")
        nxp = array_module(pred)
        ops = self._operators(pred.shape, nxp, pred.dtype)
        e = pred - target
        axes = tuple(range(pred.ndim - self.d, pred.ndim))
        num = (e * e).sum(axis=axes)
        den = (target * target).sum(axis=axes)
        de = []
        for k, D in enumerate(ops):
            axis = pred.ndim - self.d + k
            dk = _apply_along(D, e, axis)
            de.append((D, dk, axis))
            num = num + (dk * dk).sum(axis=axes)
            dy = _apply_along(D, target, axis)
            den = den + (dy * dy).sum(axis=axes)
        root_num = nxp.sqrt(num)
        denom = nxp.sqrt(den) + pred.dtype.type(self.eps)
        ratios = root_num / denom
        scale = 1.0 / ratios.size if self.reduction == "mean" else 1.0
        value = float(ratios.sum()) * scale
        grad = e.copy()
        for D, dk, axis in de:
            grad += _apply_along(D.T, dk, axis)
        safe = nxp.where(root_num > 0, root_num, 1)
        coef = nxp.where(root_num > 0, scale / (denom * safe), 0).astype(pred.dtype, copy=False)
        grad *= coef.reshape(coef.shape + (1,) * self.d)
        self._grad = grad
        return value


def _difference_matrix(n: int, h: float, periodic: bool) -> np.ndarray:
    """First-derivative matrix of neuraloperator's ``FiniteDiff`` (order 1) on ``n`` points."""
    D = np.zeros((n, n))
    if periodic:
        if n < 3:
            raise ValueError(f"periodic differences need at least 3 points per axis, got {n}")
        idx = np.arange(n)
        D[idx, (idx + 1) % n] += 1.0 / (2 * h)
        D[idx, (idx - 1) % n] -= 1.0 / (2 * h)
        return D
    if n < 4:
        raise ValueError(f"non-periodic differences need at least 4 points per axis, got {n}")
    idx = np.arange(1, n - 1)
    D[idx, idx + 1] = 1.0 / (2 * h)
    D[idx, idx - 1] = -1.0 / (2 * h)
    D[0, :4] = np.array([-11.0, 18.0, -9.0, 2.0]) / (6 * h)
    D[n - 1, n - 4:] = np.array([-2.0, 9.0, -18.0, 11.0]) / (6 * h)
    return D


def _apply_along(D, x, axis: int):
    nxp = array_module(x)
    moved = nxp.moveaxis(x, axis, -2)
    return nxp.moveaxis(nxp.matmul(D, moved), -2, axis)
