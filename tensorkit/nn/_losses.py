"""Losses (MSE, relative Lp, relative H1) with their gradients, and a per-channel Gaussian normalizer.

A loss is driven as ``value = loss_fn.forward(pred, target)`` (a Python float) followed by
``g = loss_fn.backward()`` (d value / d pred, shaped like ``pred``).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ._module import Module, array_module

__all__ = ["H1Loss", "Loss", "LpLoss", "MSELoss", "Normalizer"]

_REDUCTIONS = ("sum", "mean")


def _check_reduction(reduction: str) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    return reduction


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
        self.reduction = _check_reduction(reduction)

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
        if isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1:
            raise ValueError(f"d must be a positive int, got {d!r}")
        if not isinstance(p, numbers.Real) or not p >= 1 or not np.isfinite(p):
            raise ValueError(f"p must be a finite number >= 1, got {p!r}")
        if not isinstance(eps, numbers.Real) or eps < 0:
            raise ValueError(f"eps must be a non-negative number, got {eps!r}")
        self.d, self.p, self.eps = int(d), float(p), float(eps)
        self.reduction = _check_reduction(reduction)

    def forward(self, pred, target) -> float:
        target = _check_pair(pred, target, self.d, "LpLoss")
        xp = array_module(pred)
        lead = pred.shape[: pred.ndim - self.d]
        e = (pred - target).reshape(*lead, -1)
        y = target.reshape(*lead, -1)
        p = self.p
        if p == 2:
            diff = (e * e).sum(axis=-1)
            ynorm = xp.sqrt((y * y).sum(axis=-1))
        else:
            diff = (xp.abs(e) ** p).sum(axis=-1)
            ynorm = (xp.abs(y) ** p).sum(axis=-1) ** (1.0 / p)
        denom = ynorm + pred.dtype.type(self.eps)
        num = diff ** (1.0 / p)
        ratios = num / denom
        scale = 1.0 / ratios.size if self.reduction == "mean" else 1.0
        value = float(ratios.sum()) * scale
        # d/de ||e||_p = |e|^(p-1) sign(e) / ||e||_p^(p-1); taken as 0 where e vanishes
        safe = xp.where(num > 0, num, 1)
        coef = xp.where(num > 0, scale / (denom * safe ** (p - 1)), 0).astype(pred.dtype, copy=False)
        if p == 2:
            grad = e
            grad *= coef[..., None]
        else:
            grad = xp.abs(e) ** (p - 1) * xp.sign(e) * coef[..., None]
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
        if isinstance(d, bool) or not isinstance(d, numbers.Integral) or not 1 <= d <= 3:
            raise ValueError(f"d must be 1, 2 or 3, got {d!r}")
        self.d = int(d)
        self.measure = _per_axis(measure, self.d, "measure", float)
        if any(not m > 0 for m in self.measure):
            raise ValueError(f"measure must be positive, got {measure!r}")
        self.periodic = _per_axis(periodic, self.d, "periodic", bool)
        self.reduction = _check_reduction(reduction)
        if not isinstance(eps, numbers.Real) or eps < 0:
            raise ValueError(f"eps must be a non-negative number, got {eps!r}")
        self.eps = float(eps)

    def _operators(self, shape, xp, dtype):
        ops = []
        for k in range(self.d):
            n = shape[len(shape) - self.d + k]
            h = self.measure[k] / n
            ops.append(xp.asarray(_difference_matrix(n, h, self.periodic[k]), dtype=dtype))
        return ops

    def forward(self, pred, target) -> float:
        target = _check_pair(pred, target, self.d, "H1Loss")
        xp = array_module(pred)
        ops = self._operators(pred.shape, xp, pred.dtype)
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
        root_num = xp.sqrt(num)
        denom = xp.sqrt(den) + pred.dtype.type(self.eps)
        ratios = root_num / denom
        scale = 1.0 / ratios.size if self.reduction == "mean" else 1.0
        value = float(ratios.sum()) * scale
        grad = e.copy()
        for D, dk, axis in de:
            grad += _apply_along(D.T, dk, axis)
        safe = xp.where(root_num > 0, root_num, 1)
        coef = xp.where(root_num > 0, scale / (denom * safe), 0).astype(pred.dtype, copy=False)
        grad *= coef.reshape(coef.shape + (1,) * self.d)
        self._grad = grad
        return value


def _per_axis(value, d, name, kind):
    if isinstance(value, (list, tuple)):
        if len(value) != d:
            raise ValueError(f"{name} must have {d} entries (one per axis), got {value!r}")
        return tuple(kind(v) for v in value)
    return (kind(value),) * d


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
    xp = array_module(x)
    moved = xp.moveaxis(x, axis, -2)
    return xp.moveaxis(xp.matmul(D, moved), -2, axis)


class Normalizer(Module):
    r"""Per-channel Gaussian normalization ``(x - mean_c) / (std_c + eps)``, fitted on training data.

    As a module, ``forward`` encodes and ``backward`` is its adjoint ``g / (std + eps)``;
    :meth:`decoder` gives the inverse as a module (for a model whose output is de-normalized).
    ``mean`` and ``std`` are buffers: saved in ``state_dict`` and checkpoints, never trained.

    Parameters
    ----------
    channel_axis : int
        Axis holding the channels (1 for ``(batch, channels, *spatial)``).
    n_channels : int, optional
        Registers the statistics at construction (mean 0, std 1: the identity until :meth:`fit`),
        so that a model holding the normalizer can load a checkpoint before any fitting.
    eps : float
        Guards constant channels (neuraloperator's ``UnitGaussianNormalizer`` uses 1e-7).
    dtype
        See :class:`Module`.

    Notes
    -----
    Statistics are taken over every axis but ``channel_axis``; ``std`` is the population standard
    deviation (``ddof=0``), both accumulated in float64 and stored in ``dtype``.
    """

    def __init__(
        self,
        channel_axis: int = 1,
        *,
        n_channels: int | None = None,
        eps: float = 1e-7,
        dtype: Any = np.float64,
    ):
        super().__init__(dtype=dtype)
        if not isinstance(channel_axis, numbers.Integral):
            raise TypeError(f"channel_axis must be an int, got {channel_axis!r}")
        if not isinstance(eps, numbers.Real) or not eps >= 0:
            raise ValueError(f"eps must be a non-negative number, got {eps!r}")
        self.channel_axis = int(channel_axis)
        self.eps = float(eps)
        if n_channels is not None:
            if isinstance(n_channels, bool) or not isinstance(n_channels, numbers.Integral) or n_channels < 1:
                raise ValueError(f"n_channels must be a positive int, got {n_channels!r}")
            self.add_buffer("mean", np.zeros(int(n_channels), dtype=self.dtype))
            self.add_buffer("std", np.ones(int(n_channels), dtype=self.dtype))

    @property
    def fitted(self) -> bool:
        """Whether statistics are present (fitted, loaded, or registered by ``n_channels``)."""
        return "mean" in self.buffers

    def fit(self, x) -> Normalizer:
        """Estimate per-channel mean and standard deviation from ``x``; returns self."""
        x = self._as_input(x, min_ndim=1)
        xp = array_module(x)
        axis = self._axis(x)
        others = tuple(i for i in range(x.ndim) if i != axis)
        mean = x.mean(axis=others, dtype=np.float64)
        shape = [1] * x.ndim
        shape[axis] = x.shape[axis]
        centered = x - mean.reshape(shape).astype(x.dtype)
        var = (centered * centered).mean(axis=others, dtype=np.float64)
        for name, value in (("mean", mean), ("std", xp.sqrt(var))):
            value = value.astype(self.dtype)
            if name in self.buffers:
                self.buffers[name] = value
            else:
                self.add_buffer(name, value)
        return self

    def _axis(self, x) -> int:
        axis = self.channel_axis if self.channel_axis >= 0 else x.ndim + self.channel_axis
        if not 0 <= axis < x.ndim:
            raise ValueError(f"channel_axis={self.channel_axis} out of range for shape {tuple(x.shape)}")
        return axis

    def _stats(self, x):
        if not self.fitted:
            raise RuntimeError("Normalizer is not fitted; call fit(training_data) first")
        axis = self._axis(x)
        n = int(self.buffers["mean"].shape[0])
        if x.shape[axis] != n:
            raise ValueError(
                f"Normalizer was fitted on {n} channels, got input of shape {tuple(x.shape)} "
                f"(channel axis {self.channel_axis})"
            )
        shape = [1] * x.ndim
        shape[axis] = n
        return self.buffers["mean"].reshape(shape), (self.buffers["std"] + self.eps).reshape(shape)

    def encode(self, x):
        """``(x - mean) / (std + eps)``."""
        x = self._as_input(x)
        mean, scale = self._stats(x)
        return (x - mean) / scale

    def decode(self, x):
        """``x (std + eps) + mean``, the inverse of :meth:`encode`."""
        x = self._as_input(x)
        mean, scale = self._stats(x)
        return x * scale + mean

    def forward(self, x):
        out = self.encode(x)
        self._shape = x.shape
        return out

    def backward(self, grad_out):
        _, scale = self._stats(grad_out)
        return grad_out / scale

    def decoder(self) -> _Decoder:
        """A module applying :meth:`decode` (adjoint ``g (std + eps)``), sharing these statistics."""
        return _Decoder(self)

    def load_state_dict(self, state) -> None:
        if "mean" in state and "std" in state and not self.fitted:
            self.add_buffer("mean", np.asarray(state["mean"], dtype=self.dtype))
            self.add_buffer("std", np.asarray(state["std"], dtype=self.dtype))
        super().load_state_dict(state)


class _Decoder(Module):
    """The inverse of a :class:`Normalizer` as a layer (holds no state of its own)."""

    def __init__(self, normalizer: Normalizer):
        super().__init__(dtype=normalizer.dtype)
        self.normalizer = normalizer

    def forward(self, x):
        return self.normalizer.decode(x)

    def backward(self, grad_out):
        _, scale = self.normalizer._stats(grad_out)
        return grad_out * scale
