"""Optimizers (SGD with momentum, Adam, AdamW, Lion) updating parameters in place, and schedulers.

Complex parameters are treated as pairs of real numbers: their gradients follow PyTorch's
convention ``dL/da + i dL/db``, SGD and Lion act on both parts, and Adam's second moment is
``|g|^2`` (as neuraloperator's AdamW for spectral weights).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .. import _kernels
from .._validation import check_int, check_real
from ..backend import array_module, is_numpy_namespace, real_dtype_for, to_numpy
from ._module import Module

__all__ = [
    "SGD", "Adam", "AdamW", "CosineLR", "ExponentialMovingAverage", "Lion", "Optimizer", "Scheduler",
    "StepLR",
]


def _check_nonneg(value: Any, name: str) -> float:
    return check_real(value, name, minimum=0.0)


def _check_betas(betas: Any) -> tuple[float, float]:
    if isinstance(betas, str) or not isinstance(betas, Sequence) or len(betas) != 2:
        raise TypeError(f"betas must be a pair of numbers in [0, 1), got {betas!r}")
    return tuple(
        check_real(b, f"betas[{k}]", minimum=0.0, maximum=1.0, strict_maximum=True)
        for k, b in enumerate(betas)
    )


class Optimizer:
    """Base class: holds the model's parameter and gradient arrays (updated in place).

    Parameters
    ----------
    model : Module
        Its :meth:`~Module.parameters` and :meth:`~Module.gradients` are bound at construction;
        build the optimizer after :meth:`Module.to`.
    lr : float
        Learning rate; schedulers set :attr:`lr`. A parameter with a multiplier in
        :meth:`Module.parameter_lr_scales` is updated at ``lr`` times it.
    """

    _state_names: tuple[str, ...] = ()

    def __init__(self, model: Module, lr: float):
        if not isinstance(model, Module):
            raise TypeError(f"model must be a tensorkit.nn.Module, got {type(model).__name__}")
        self.model = model
        self.lr = _check_nonneg(lr, "lr")
        params = model.parameters()
        grads = model.gradients()
        self._names = list(params)
        self._params = [params[n] for n in self._names]
        self._grads = [grads[n] for n in self._names]
        scales = model.parameter_lr_scales()
        self._lr_scales = [scales.get(n, 1.0) for n in self._names]
        self.step_count = 0
        self.state: dict[str, list[Any]] = {
            name: [self._zeros_for(name, p) for p in self._params] for name in self._state_names
        }

    def _zeros_for(self, state_name: str, p):
        return array_module(p).zeros_like(p)

    def zero_grad(self) -> None:
        """Zero the model's gradients."""
        self.model.zero_grad()

    def step(self) -> None:
        """Apply one update to every parameter."""
        self.step_count += 1
        for i, (p, g) in enumerate(zip(self._params, self._grads, strict=True)):
            self._update(i, p, g)

    def _update(self, i: int, p, g) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, np.ndarray]:
        """Host copies of the step count, learning rate and per-parameter state."""
        out = {"step_count": np.asarray(self.step_count), "lr": np.asarray(self.lr)}
        for state_name, arrays in self.state.items():
            for name, a in zip(self._names, arrays, strict=True):
                out[f"{state_name}/{name}"] = np.array(to_numpy(a), copy=True)
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` output (checked against this model's parameters; nothing
        changes when a check fails).

        Raises
        ------
        TypeError
            When ``state`` is not a dict or a value is not an array.
        ValueError
            Missing or unexpected keys, a shape that differs, or NaN/Inf entries.
        """
        self._check_state(state)
        for state_name, arrays in self.state.items():
            for name, a in zip(self._names, arrays, strict=True):
                a[...] = array_module(a).asarray(state[f"{state_name}/{name}"]).astype(a.dtype)
        self.step_count = int(state["step_count"])
        self.lr = float(state["lr"])

    def _check_state(self, state: Any) -> None:
        """Every check of :meth:`load_state_dict`, changing nothing (for atomic loads)."""
        if not isinstance(state, dict):
            raise TypeError(f"optimizer state must be a dict of arrays, got {type(state).__name__}")
        expected = {"step_count", "lr"} | {
            f"{s}/{n}" for s in self.state for n in self._names
        }
        if set(state) != expected:
            missing = sorted(expected - set(state))[:6]
            unexpected = sorted(set(state) - expected)[:6]
            raise ValueError(
                f"optimizer state does not match {type(self).__name__} on this model: "
                f"missing {missing}, unexpected {unexpected}"
            )
        for state_name, arrays in self.state.items():
            for name, a in zip(self._names, arrays, strict=True):
                value = state[f"{state_name}/{name}"]
                key = f"{state_name}/{name}"
                if not hasattr(value, "shape") or not hasattr(value, "dtype"):
                    raise TypeError(
                        f"optimizer state {key} must be a numpy or CuPy array, got {type(value).__name__}"
                    )
                if tuple(value.shape) != tuple(a.shape):
                    raise ValueError(
                        f"optimizer state {key} has shape {tuple(value.shape)}, expected {tuple(a.shape)}"
                    )
                if value.dtype.kind not in "fciub" or (value.dtype.kind == "c" and a.dtype.kind != "c"):
                    raise TypeError(f"optimizer state {key} has dtype {value.dtype}, expected {a.dtype}")
                n_bad = int((~array_module(value).isfinite(value)).sum())
                if n_bad:
                    raise ValueError(f"optimizer state {key} holds {n_bad} NaN or Inf entries")
        check_int(_scalar(state["step_count"], "step_count"), "optimizer state step_count", minimum=0)
        check_real(_scalar(state["lr"], "lr"), "optimizer state lr", minimum=0.0)


class SGD(Optimizer):
    r"""Stochastic gradient descent with momentum (PyTorch's formulation).

    ``g <- g + wd p``; ``b <- mu b + g`` (``b = g`` at the first step);
    ``p <- p - lr (g + mu b)`` with ``nesterov`` else ``p <- p - lr b``.
    """

    _state_names = ("momentum_buffer",)

    def __init__(
        self,
        model: Module,
        lr: float = 1e-2,
        momentum: float = 0.0,
        *,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ):
        self.momentum = _check_nonneg(momentum, "momentum")
        self.weight_decay = _check_nonneg(weight_decay, "weight_decay")
        if nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs a positive momentum")
        self.nesterov = bool(nesterov)
        if self.momentum == 0:
            self._state_names = ()
        super().__init__(model, lr)

    def _update(self, i, p, g):
        if self.weight_decay:
            g = g + self.weight_decay * p
        if self.momentum:
            buf = self.state["momentum_buffer"][i]
            if self.step_count == 1:
                buf[...] = g
            else:
                buf *= self.momentum
                buf += g
            g = g + self.momentum * buf if self.nesterov else buf
        p -= self.lr * self._lr_scales[i] * g


class Adam(Optimizer):
    r"""Adam (Kingma & Ba 2015) with L2 weight decay added to the gradient (PyTorch's ``Adam``).

    ``g <- g + wd p``; ``m <- b1 m + (1 - b1) g``; ``v <- b2 v + (1 - b2) |g|^2``;
    ``p <- p - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)``.
    """

    _state_names = ("exp_avg", "exp_avg_sq")
    _decoupled = False

    def __init__(
        self,
        model: Module,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        self.betas = _check_betas(betas)
        self.eps = _check_nonneg(eps, "eps")
        self.weight_decay = _check_nonneg(weight_decay, "weight_decay")
        super().__init__(model, lr)

    def _zeros_for(self, state_name, p):
        nxp = array_module(p)
        if state_name == "exp_avg_sq":
            return nxp.zeros(p.shape, dtype=real_dtype_for(p.dtype))
        return nxp.zeros_like(p)

    def _update(self, i, p, g):
        nxp = array_module(p)
        b1, b2 = self.betas
        wd = self.weight_decay
        lr = self.lr * self._lr_scales[i]
        if wd and self._decoupled:
            p *= 1.0 - lr * wd
            wd = 0.0
        m = self.state["exp_avg"][i]
        v = self.state["exp_avg_sq"][i]
        t = self.step_count
        kw = {"b1": b1, "b2": b2, "weight_decay": wd, "lr": lr, "bias1": 1.0 - b1**t,
              "bias2": 1.0 - b2**t, "eps": self.eps}
        # on the CPU one fused pass instead of a dozen array operations with their temporaries
        _kernels.adam_step(p, g, m, v, backend="numba" if is_numpy_namespace(nxp) else "cupy", **kw)


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter 2019): ``p <- p (1 - lr wd)`` before
    the Adam update. Default ``weight_decay=1e-2`` as in PyTorch."""

    _decoupled = True

    def __init__(
        self,
        model: Module,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ):
        super().__init__(model, lr, betas, eps, weight_decay)


class Lion(Optimizer):
    r"""Lion (Chen et al. 2023, "Symbolic discovery of optimization algorithms"): sign momentum.

    ``c = b1 m + (1 - b1) g``; ``p <- p (1 - lr wd) - lr sign(c)``; ``m <- b2 m + (1 - b2) g``.
    Only the momentum ``m`` is kept. For a complex parameter the sign is taken per real part.
    """

    _state_names = ("exp_avg",)

    def __init__(
        self,
        model: Module,
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.9, 0.99),
        weight_decay: float = 0.0,
    ):
        self.betas = _check_betas(betas)
        self.weight_decay = _check_nonneg(weight_decay, "weight_decay")
        super().__init__(model, lr)

    def _update(self, i, p, g):
        nxp = array_module(p)
        b1, b2 = self.betas
        m = self.state["exp_avg"][i]
        c = b1 * m + (1.0 - b1) * g
        direction = nxp.sign(c.real) + 1j * nxp.sign(c.imag) if c.dtype.kind == "c" else nxp.sign(c)
        lr = self.lr * self._lr_scales[i]
        if self.weight_decay:
            p *= 1.0 - lr * self.weight_decay
        p -= lr * direction
        m *= b2
        m += (1.0 - b2) * g


def _scalar(value: Any, key: str) -> Any:
    """The Python number inside a 0-d array (as saved in checkpoints), or ``value`` itself."""
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        if tuple(value.shape) != ():
            raise ValueError(f"state {key!r} must be a scalar, got shape {tuple(value.shape)}")
        return value.item() if value.dtype.kind in "fiub" else value
    return value


class ExponentialMovingAverage:
    r"""Exponential moving average of a model's parameters (Polyak averaging with exponential weights).

    After the ``t``-th optimizer step (:meth:`update`), with ``theta_t`` the parameters,

    .. math::

        \bar\theta_1 = \theta_1, \qquad
        \bar\theta_t = \beta \bar\theta_{t-1} + (1 - \beta) \theta_t,

    PyTorch's ``AveragedModel`` with ``get_ema_multi_avg_fn(beta)``. The average of the last
    ``~1 / (1 - beta)`` steps damps the step-to-step jitter of stochastic gradients, of variance
    about ``(1 - beta) / (1 + beta)`` times that of the iterates near a minimum, without changing
    the training itself; :meth:`applied` evaluates the model at the averaged weights. Buffers are
    not averaged (used as they are).

    Parameters
    ----------
    model : Module
        Its parameter arrays are bound at construction (build after :meth:`Module.to`).
    decay : float
        ``beta`` in [0, 1); 0 keeps the last weights.

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.nn import ExponentialMovingAverage, Linear
    >>> model = Linear(1, 1, bias=False, random_state=0)
    >>> ema = ExponentialMovingAverage(model, decay=0.5)
    >>> for w in (1.0, 2.0, 4.0):
    ...     model.params["weight"][...] = w
    ...     ema.update()
    >>> with ema.applied():          # 0.5 (0.5 * 1 + 0.5 * 2) + 0.5 * 4
    ...     float(model.params["weight"][0, 0])
    2.75
    >>> float(model.params["weight"][0, 0])
    4.0
    """

    def __init__(self, model: Module, decay: float):
        if not isinstance(model, Module):
            raise TypeError(f"model must be a tensorkit.nn.Module, got {type(model).__name__}")
        self.model = model
        self.decay = check_real(decay, "decay", minimum=0.0, maximum=1.0, strict_maximum=True)
        params = model.parameters()
        self._names = list(params)
        self._params = [params[n] for n in self._names]
        self._average = [array_module(p).zeros_like(p) for p in self._params]
        self.n_averaged = 0

    def update(self) -> None:
        """Fold the current parameters into the average (call after each optimizer step)."""
        for avg, p in zip(self._average, self._params, strict=True):
            if self.n_averaged == 0:
                avg[...] = p
            else:
                avg -= (1.0 - self.decay) * (avg - p)
        self.n_averaged += 1

    @contextlib.contextmanager
    def applied(self) -> Iterator[None]:
        """Context in which the model's parameters hold the average (in place, so anything bound to
        the arrays stays valid), restored on exit; the model's own weights before any update."""
        if self.n_averaged == 0:
            yield
            return
        saved = [p.copy() for p in self._params]
        try:
            for p, avg in zip(self._params, self._average, strict=True):
                p[...] = avg
            yield
        finally:
            for p, own in zip(self._params, saved, strict=True):
                p[...] = own

    def state_dict(self) -> dict[str, np.ndarray]:
        """Host copies of the update count and the averaged parameters."""
        out = {"n_averaged": np.asarray(self.n_averaged), "decay": np.asarray(self.decay)}
        out.update({f"average/{n}": np.array(to_numpy(a), copy=True)
                    for n, a in zip(self._names, self._average, strict=True)})
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` output (all checks first; nothing changes when one fails)."""
        self._check_state(state)
        for name, avg in zip(self._names, self._average, strict=True):
            avg[...] = array_module(avg).asarray(state[f"average/{name}"]).astype(avg.dtype)
        self.n_averaged = int(state["n_averaged"])

    def _check_state(self, state: Any) -> None:
        """Every check of :meth:`load_state_dict`, changing nothing (for atomic loads)."""
        if not isinstance(state, dict):
            raise TypeError(f"average state must be a dict of arrays, got {type(state).__name__}")
        expected = {"n_averaged", "decay"} | {f"average/{n}" for n in self._names}
        if set(state) != expected:
            missing, unexpected = sorted(expected - set(state))[:6], sorted(set(state) - expected)[:6]
            raise ValueError(f"average state does not match this model: missing {missing}, "
                             f"unexpected {unexpected}")
        decay = check_real(_scalar(state["decay"], "decay"), "average state decay", minimum=0.0, maximum=1.0)
        if decay != self.decay:
            raise ValueError(f"average state was saved with decay {decay}, this average has {self.decay}")
        check_int(_scalar(state["n_averaged"], "n_averaged"), "average state n_averaged", minimum=0)
        for name, avg in zip(self._names, self._average, strict=True):
            value = state[f"average/{name}"]
            if not hasattr(value, "shape") or tuple(value.shape) != tuple(avg.shape):
                raise ValueError(f"average state {name} must be an array of shape {tuple(avg.shape)}, got "
                                 f"{getattr(value, 'shape', type(value).__name__)}")
            if value.dtype.kind not in "fc" or (value.dtype.kind == "c" and avg.dtype.kind != "c"):
                raise TypeError(f"average state {name} has dtype {value.dtype}, expected {avg.dtype}")
            if not bool(array_module(value).isfinite(value).all()):
                raise ValueError(f"average state {name} holds NaN or Inf entries")


# ------------------------------------------------------------------------------------ schedulers
class Scheduler:
    """Base of the learning-rate schedulers: call :meth:`step` once per epoch."""

    def __init__(self, optimizer: Optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be a tensorkit.nn Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.epoch = 0

    def lr_at(self, epoch: int) -> float:
        raise NotImplementedError

    def _check_state(self, state: Any) -> None:
        """Every check of :meth:`load_state_dict`, changing nothing (for atomic loads)."""
        if not isinstance(state, dict) or set(state) != {"epoch", "base_lr"}:
            found = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise ValueError(f"scheduler state must hold 'epoch' and 'base_lr', got {found}")
        check_int(_scalar(state["epoch"], "epoch"), "scheduler state epoch", minimum=0)
        check_real(_scalar(state["base_lr"], "base_lr"), "scheduler state base_lr", minimum=0.0)

    def step(self) -> None:
        """Advance one epoch and set the optimizer's learning rate."""
        self.epoch += 1
        self.optimizer.lr = self.lr_at(self.epoch)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"epoch": np.asarray(self.epoch), "base_lr": np.asarray(self.base_lr)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._check_state(state)
        self.epoch = int(state["epoch"])
        self.base_lr = float(state["base_lr"])
        self.optimizer.lr = self.lr_at(self.epoch)


class StepLR(Scheduler):
    """``lr = base_lr gamma^(epoch // step_size)``."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        super().__init__(optimizer)
        self.step_size = check_int(step_size, "step_size", minimum=1)
        self.gamma = _check_nonneg(gamma, "gamma")

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class CosineLR(Scheduler):
    r"""Cosine annealing: ``lr = eta_min + (base_lr - eta_min) (1 + cos(pi t / t_max)) / 2`` with
    ``t = min(epoch, t_max)``."""

    def __init__(self, optimizer: Optimizer, t_max: int, eta_min: float = 0.0):
        super().__init__(optimizer)
        self.t_max = check_int(t_max, "t_max", minimum=1)
        self.eta_min = _check_nonneg(eta_min, "eta_min")

    def lr_at(self, epoch: int) -> float:
        t = min(epoch, self.t_max)
        return self.eta_min + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * t / self.t_max)) / 2
