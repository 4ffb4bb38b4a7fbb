"""Losses with their gradients: MSE, and the relative Lp and H1 errors used to train neural operators.

A loss is driven as ``value = loss_fn.forward(pred, target)`` (a Python float) followed by
``g = loss_fn.backward()`` (d value / d pred, shaped like ``pred``).

Norms are taken of the fields divided by their largest entry (the scaling of LAPACK's ``dnrm2``),
so a sum of squares neither overflows nor underflows: data of size 1e200 (float64) or 1e30
(float32) give the loss their ratio has, not NaN or 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_bool, check_choice, check_int, check_real, per_axis
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
    if pred.size == 0:
        raise ValueError(f"{name}: pred and target are empty, shape {tuple(pred.shape)}")
    return target.astype(pred.dtype, copy=False)


def _max_abs(nxp, x, axes):
    """``max |x|`` over ``axes`` (kept as size-1 axes), 1 where ``x`` is all zero: the divisor that
    brings ``x`` to ``[-1, 1]`` without overflow or underflow."""
    top = nxp.abs(x).max(axis=axes, keepdims=True)
    return nxp.where(top > 0, top, 1).astype(x.dtype, copy=False)


def _refuse_zero_targets(name: str, eps: float, norms) -> None:
    if eps == 0 and bool((norms == 0).any()):
        raise ValueError(
            f"{name}: target holds {int((norms == 0).sum())} all-zero field(s), whose relative error "
            "is undefined with eps=0"
        )


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
        # squared in units of max |diff|, so that float32 errors of 1e20 do not overflow to inf
        top = float(array_module(diff).abs(diff).max())
        unit = diff / diff.dtype.type(top) if top > 0 else diff
        value = top * (top * (float((unit * unit).sum()) * scale))
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
        size = pred.size // max(1, int(np.prod(lead)))
        e = (pred - target).reshape(*lead, size)
        y = target.reshape(*lead, size)
        p = self.p
        # ||v||_p = s ||v / s||_p with s = max |v|: no power of an entry exceeds 1
        s_e, s_y = _max_abs(nxp, e, -1), _max_abs(nxp, y, -1)
        u = e / s_e
        if p == 2:
            n_u = nxp.sqrt((u * u).sum(axis=-1))
            v = y / s_y
            n_y = nxp.sqrt((v * v).sum(axis=-1))
        else:
            n_u = (nxp.abs(u) ** p).sum(axis=-1) ** (1.0 / p)
            n_y = (nxp.abs(y / s_y) ** p).sum(axis=-1) ** (1.0 / p)
        ynorm = s_y[..., 0] * n_y
        _refuse_zero_targets("LpLoss", self.eps, ynorm)
        denom = ynorm + pred.dtype.type(self.eps)
        ratios = s_e[..., 0] * n_u / denom
        scale = 1.0 / ratios.size if self.reduction == "mean" else 1.0
        value = float(ratios.sum()) * scale
        # d/de ||e||_p = sign(e) (|e| / ||e||_p)^(p-1) = sign(u) (|u| / ||u||_p)^(p-1); 0 where e vanishes
        safe = nxp.where(n_u > 0, n_u, 1)
        coef = nxp.where(n_u > 0, scale / denom, 0).astype(pred.dtype, copy=False)
        if p == 2:
            grad = u
            grad *= (coef / safe)[..., None]
        else:
            grad = (nxp.abs(u) / safe[..., None]) ** (p - 1) * nxp.sign(u) * coef[..., None]
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
        self.periodic = per_axis(periodic, self.d, "periodic", check_bool)
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
        axes = tuple(range(pred.ndim - self.d, pred.ndim))
        # in units of the largest entry of each field (then of each field and its differences), so
        # that no square overflows or underflows
        e = pred - target
        s_e = _max_abs(nxp, e, axes)
        u = e / s_e
        n_u, du = self._norm(nxp, u, ops, axes)
        s_y = _max_abs(nxp, target, axes)
        n_y, _ = self._norm(nxp, target / s_y, ops, axes)
        ynorm = s_y.reshape(n_y.shape) * n_y
        _refuse_zero_targets("H1Loss", self.eps, ynorm)
        denom = ynorm + pred.dtype.type(self.eps)
        ratios = s_e.reshape(n_u.shape) * n_u / denom
        scale = 1.0 / ratios.size if self.reduction == "mean" else 1.0
        value = float(ratios.sum()) * scale
        # d r / d e = (e + sum_k D_k^T D_k e) / (||e||_H1 denom) = (u + sum_k D_k^T D_k u) / (||u||_H1 denom)
        grad = u
        for D, dk, axis in du:
            grad += _apply_along(D.T, dk, axis)
        safe = nxp.where(n_u > 0, n_u, 1)
        coef = nxp.where(n_u > 0, scale / (denom * safe), 0).astype(pred.dtype, copy=False)
        grad *= coef.reshape(coef.shape + (1,) * self.d)
        self._grad = grad
        return value

    def _norm(self, nxp, u, ops, axes):
        """``sqrt(||u||^2 + sum_k ||D_k u||^2)`` per field, and the ``(D_k, D_k u, axis)``; the sum of
        squares taken in units of the largest entry of ``u`` and its differences (the ``D_k`` carry
        ``1 / h``)."""
        du = [(D, _apply_along(D, u, axis), axis) for D, axis in
              zip(ops, range(u.ndim - self.d, u.ndim), strict=True)]
        top = nxp.abs(u).max(axis=axes)
        for _, dk, _ in du:
            top = nxp.maximum(top, nxp.abs(dk).max(axis=axes))
        top = nxp.where(top > 0, top, 1).astype(u.dtype, copy=False)
        unit = top.reshape(top.shape + (1,) * self.d)
        total = ((u / unit) ** 2).sum(axis=axes)
        for _, dk, _ in du:
            total = total + ((dk / unit) ** 2).sum(axis=axes)
        return top * nxp.sqrt(total), du


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
