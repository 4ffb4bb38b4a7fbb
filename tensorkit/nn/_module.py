"""The ``Module`` base: named parameters and gradients in plain dicts, forward and hand-written adjoint.

Every layer owns ``forward(x)`` (returns the output and caches what the adjoint needs) and
``backward(grad_out)`` (returns d loss / d input and *accumulates* into ``self.grads``). A model is a
tree of modules; :meth:`Module.parameters` flattens it with dotted names (``"layers.0.weight"``)
and returns the very array objects that optimizers update in place.

Complex parameters (spectral weights) follow PyTorch's convention: for ``w = a + i b`` and a real
loss ``L`` the stored gradient is ``dL/da + i dL/db``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import numpy as np

from .._validation import check_choice, check_dtype
from ..backend import (
    array_module,
    check_random_state,
    complex_dtype_for,
    real_dtype_for,
    to_device,
    to_numpy,
)
from ..io import load_archive, save_archive

__all__ = ["Module", "array_module", "complex_dtype_for", "real_dtype_for"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$|^[0-9]+$")
_CHECKPOINT_FORMAT = "tensorkit.nn.Module"
_CHECKPOINT_VERSION = 1
_PARAM_PREFIX = "param/"


class Module:
    """Base class of layers and models trained with hand-written adjoints.

    Parameters
    ----------
    dtype : float32 or float64
        Real dtype of the parameters (complex parameters use the matching complex dtype) and of the
        computation: inputs are cast to it, so a float32 model never computes in float64.
    random_state : int, numpy.random.Generator or None
        Seeds the initialization. Composite models pass their generator on to their children.

    Attributes
    ----------
    params, grads : dict of str -> array
        This module's own parameters and their accumulated gradients (same keys, shapes, dtypes).
    buffers : dict of str -> array
        Arrays that are saved and moved with the model but not trained (normalization statistics).
    lr_scales : dict of str -> float
        Learning-rate multipliers of this module's own parameters (absent: 1), applied by every
        optimizer (:meth:`parameter_lr_scales`); set by layers whose parameters start at a scale
        other than the weight they stand for (factorized spectral weights).
    training : bool
        Set by :meth:`train` / :meth:`eval` (for layers that behave differently).

    Notes
    -----
    The protocol a script drives by hand::

        pred = model.forward(x); value = loss_fn.forward(pred, y); g = loss_fn.backward()
        model.zero_grad(); model.backward(g); optimizer.step()

    A module caches only its latest forward; ``backward`` must follow the forward it differentiates.
    """

    def __init__(self, *, dtype: Any = np.float64, random_state: Any = None):
        self.dtype = check_dtype(dtype)
        self.rng = check_random_state(random_state)
        self.params: dict[str, Any] = {}
        self.grads: dict[str, Any] = {}
        self.buffers: dict[str, Any] = {}
        self._modules: dict[str, Module] = {}
        self.lr_scales: dict[str, float] = {}
        self.training = True

    # ----------------------------------------------------------------------------- registration
    @property
    def complex_dtype(self) -> np.dtype:
        """The complex dtype matching :attr:`dtype` (complex64 for float32)."""
        return complex_dtype_for(self.dtype)

    def add_parameter(self, name: str, value: Any) -> Any:
        """Register ``value`` as parameter ``name`` (cast to the module dtype, or its complex
        counterpart when ``value`` is complex) with a zero gradient; returns the stored array."""
        self._check_name(name)
        nxp = array_module(value)
        value = nxp.asarray(value)
        if value.dtype.kind not in "fc":
            raise TypeError(f"parameter {name!r} must be a float or complex array, got {value.dtype}")
        target = self.complex_dtype if value.dtype.kind == "c" else self.dtype
        value = nxp.ascontiguousarray(value.astype(target, copy=False))
        self.params[name] = value
        self.grads[name] = nxp.zeros_like(value)
        return value

    def add_buffer(self, name: str, value: Any) -> Any:
        """Register a non-trained array (statistics, masks): saved in :meth:`state_dict` and moved
        by :meth:`to`, but not returned by :meth:`parameters`; returns the stored array."""
        self._check_name(name)
        nxp = array_module(value)
        value = nxp.ascontiguousarray(nxp.asarray(value))
        self.buffers[name] = value
        return value

    def add_module(self, name: str, module: Module) -> Module:
        """Register a child module (kept in insertion order); returns it."""
        if not isinstance(module, Module):
            raise TypeError(f"module {name!r} must be a tensorkit.nn.Module, got {type(module).__name__}")
        self._check_name(name)
        self._modules[name] = module
        return module

    def _check_name(self, name: str) -> None:
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"name must be an identifier or a digit string (no dots), got {name!r}")
        if name in self.params or name in self.buffers or name in self._modules:
            raise ValueError(f"{type(self).__name__} already has a parameter or child named {name!r}")

    # ----------------------------------------------------------------------------- computation
    def forward(self, x: Any) -> Any:
        """Output for input ``x``; caches what :meth:`backward` needs."""
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, grad_out: Any) -> Any:
        """Gradient with respect to the last forward's input; accumulates parameter gradients."""
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def __call__(self, x: Any) -> Any:
        return self.forward(x)

    # ----------------------------------------------------------------------------- tree access
    def children(self) -> Iterator[tuple[str, Module]]:
        """Direct children, as ``(name, module)`` in insertion order."""
        return iter(self._modules.items())

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """All modules of the tree, depth first, this one first (name ``""``)."""
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def parameters(self) -> dict[str, Any]:
        """Every parameter of the tree by dotted name (the arrays themselves, not copies)."""
        out = {}
        for mod_name, module in self.named_modules():
            for name, value in module.params.items():
                out[f"{mod_name}.{name}" if mod_name else name] = value
        return out

    def gradients(self) -> dict[str, Any]:
        """Gradients with the same keys as :meth:`parameters`."""
        out = {}
        for mod_name, module in self.named_modules():
            for name, value in module.grads.items():
                out[f"{mod_name}.{name}" if mod_name else name] = value
        return out

    def parameter_lr_scales(self) -> dict[str, float]:
        """Learning-rate multipliers by dotted parameter name (only those set; the others are 1)."""
        out = {}
        for mod_name, module in self.named_modules():
            for name, value in getattr(module, "lr_scales", {}).items():
                out[f"{mod_name}.{name}" if mod_name else name] = float(value)
        return out

    def named_buffers(self) -> dict[str, Any]:
        """Every buffer of the tree by dotted name."""
        out = {}
        for mod_name, module in self.named_modules():
            for name, value in module.buffers.items():
                out[f"{mod_name}.{name}" if mod_name else name] = value
        return out

    def zero_grad(self) -> None:
        """Set every gradient to zero in place."""
        for _, module in self.named_modules():
            for g in module.grads.values():
                g[...] = 0

    def train(self, mode: bool = True) -> Module:
        """Set training mode on the whole tree; returns self."""
        for _, module in self.named_modules():
            module.training = bool(mode)
        return self

    def eval(self) -> Module:
        """Set evaluation mode on the whole tree; returns self."""
        return self.train(False)

    def num_parameters(self) -> int:
        """Number of real parameters (a complex entry counts 2, as in PyTorch)."""
        return int(
            sum(p.size * (2 if p.dtype.kind == "c" else 1) for p in self.parameters().values())
        )

    # ----------------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, np.ndarray]:
        """Host (numpy) copies of every parameter and buffer, by dotted name."""
        state = {**self.parameters(), **self.named_buffers()}
        return {k: np.array(to_numpy(v), copy=True) for k, v in state.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Copy ``state`` into the parameters and buffers in place (arrays keep identity and device).

        Raises
        ------
        TypeError
            When ``state`` is not a dict or a value is not an array (a list, say).
        ValueError
            When the keys differ (missing or unexpected names are listed), a shape or the
            real/complex kind does not match (typically a checkpoint of another architecture), or
            a value holds NaN or Inf. Nothing is modified in that case.
        """
        self._check_state(state)
        for name, p in {**self.parameters(), **self.named_buffers()}.items():
            nxp = array_module(p)
            p[...] = nxp.asarray(state[name]).astype(p.dtype, copy=False)

    def _check_state(self, state: Any) -> None:
        """Every check of :meth:`load_state_dict`, changing nothing (for atomic loads)."""
        if not isinstance(state, dict):
            raise TypeError(f"state must be a dict of arrays, got {type(state).__name__}")
        params = {**self.parameters(), **self.named_buffers()}
        missing = sorted(set(params) - set(state))
        unexpected = sorted(set(state) - set(params))
        if missing or unexpected:
            raise ValueError(
                f"state does not match {type(self).__name__}: missing {missing[:8]}"
                f"{'...' if len(missing) > 8 else ''}, unexpected {unexpected[:8]}"
                f"{'...' if len(unexpected) > 8 else ''} (a checkpoint of another architecture?)"
            )
        for name, p in params.items():
            value = state[name]
            if not hasattr(value, "shape") or not hasattr(value, "dtype"):
                raise TypeError(
                    f"state[{name!r}] must be a numpy or CuPy array, got {type(value).__name__}"
                )
            if tuple(value.shape) != tuple(p.shape):
                raise ValueError(
                    f"state[{name!r}] has shape {tuple(value.shape)}, the model's parameter has "
                    f"{tuple(p.shape)} (a checkpoint of another architecture?)"
                )
            if value.dtype.kind not in "fciub":
                raise TypeError(f"state[{name!r}] must hold numbers, got dtype {value.dtype}")
            if value.dtype.kind == "c" and p.dtype.kind != "c":
                raise ValueError(f"state[{name!r}] is complex but the model's parameter is real")
            n_bad = int((~array_module(value).isfinite(value)).sum())
            if n_bad:
                raise ValueError(f"state[{name!r}] holds {n_bad} NaN or Inf entries")

    def to(self, device: str) -> Module:
        """Move parameters and gradients to ``"gpu"`` or ``"cpu"``; returns self.

        Optimizers hold references to the parameter arrays: build them after moving the model.
        """
        check_choice(device, "device", ("cpu", "gpu"))
        for _, module in self.named_modules():
            for name in list(module.params):
                module.params[name] = to_device(module.params[name], device)
                module.grads[name] = to_device(module.grads[name], device)
            for name in list(module.buffers):
                module.buffers[name] = to_device(module.buffers[name], device)
        return self

    def save(self, path: str | os.PathLike) -> None:
        """Write the parameters to a versioned ``.npz`` checkpoint atomically."""
        save_archive(
            path,
            _CHECKPOINT_FORMAT,
            _CHECKPOINT_VERSION,
            module_class=np.asarray(type(self).__name__),
            **{_PARAM_PREFIX + k: v for k, v in self.state_dict().items()},
        )

    def load(self, path: str | os.PathLike) -> Module:
        """Load parameters saved by :meth:`save` into this model (checked: nothing changes when a
        check fails, and NaN or Inf parameters are refused); returns self."""
        # NaN parameters are refused below (load_state_dict), naming the key
        data = load_archive(path, _CHECKPOINT_FORMAT, _CHECKPOINT_VERSION, nonfinite="allow")
        saved_class = str(data.get("module_class", ""))
        if saved_class != type(self).__name__:
            raise ValueError(
                f"{str(path)!r} holds a {saved_class} checkpoint, not a {type(self).__name__}"
            )
        self.load_state_dict(
            {k[len(_PARAM_PREFIX):]: v for k, v in data.items() if k.startswith(_PARAM_PREFIX)}
        )
        return self

    # ----------------------------------------------------------------------------- helpers
    def _as_input(self, x: Any, name: str = "x", *, min_ndim: int = 1, allow_complex: bool = False) -> Any:
        """Validate an input array and cast it to the module dtype (no copy when it matches).

        Layers are real unless they say otherwise: complex data is a TypeError, not a silent cast.
        """
        if not hasattr(x, "dtype") or not hasattr(x, "ndim"):
            raise TypeError(f"{name} must be a numpy or CuPy array, got {type(x).__name__}")
        if x.ndim < min_ndim:
            raise ValueError(
                f"{type(self).__name__} expects {name} with at least {min_ndim} dimensions, "
                f"got shape {tuple(x.shape)}"
            )
        if x.dtype.kind == "c":
            if not allow_complex:
                raise TypeError(f"{type(self).__name__} is real: {name} must be real, got dtype {x.dtype}")
            return x.astype(self.complex_dtype, copy=False)
        if x.dtype.kind not in "fiub":
            raise TypeError(f"{name} must hold numbers, got dtype {x.dtype}")
        return x.astype(self.dtype, copy=False)

    def _as_grad(self, grad_out: Any, shape: tuple[int, ...] | None, *, allow_complex: bool = False) -> Any:
        """``grad_out`` checked against the last forward's output ``shape`` (None: any shape) and
        cast to the dtype.

        A gradient of another shape would broadcast or reshape into a wrong answer, so it is refused.
        """
        layer = type(self).__name__
        if not hasattr(grad_out, "dtype") or not hasattr(grad_out, "shape"):
            raise TypeError(
                f"{layer}.backward: grad_out must be a numpy or CuPy array, got {type(grad_out).__name__}"
            )
        if grad_out.dtype.kind == "c" and not allow_complex:
            raise TypeError(f"{layer}.backward: grad_out must be real, got dtype {grad_out.dtype}")
        if grad_out.dtype.kind not in "fciub":
            raise TypeError(f"{layer}.backward: grad_out must hold numbers, got dtype {grad_out.dtype}")
        if shape is not None and tuple(grad_out.shape) != tuple(shape):
            raise ValueError(
                f"{layer}.backward: grad_out has shape {tuple(grad_out.shape)}, the last forward's "
                f"output has shape {tuple(shape)}"
            )
        target = self.complex_dtype if grad_out.dtype.kind == "c" else self.dtype
        return grad_out.astype(target, copy=False)

    def extra_repr(self) -> str:
        """Layer settings shown by ``repr``."""
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, child in self._modules.items():
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child_repr}")
        return lines[0] + ")" if len(lines) == 1 else "\n".join(lines) + "\n)"
