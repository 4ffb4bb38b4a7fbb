"""Finite-difference check of a module's (or a loss's) hand-written adjoint."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_int, check_real
from ..backend import array_module, check_random_state, to_numpy
from ._losses import Loss
from ._module import Module

__all__ = ["GradcheckError", "gradcheck"]


class GradcheckError(AssertionError):
    """Raised by :func:`gradcheck` when ``backward`` disagrees with finite differences."""


def gradcheck(
    module: Module | Loss,
    inputs: Any,
    *,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    max_entries: int | None = 30,
    check_params: bool = True,
    random_state: Any = 0,
) -> bool:
    r"""Compare ``backward`` with central finite differences, for the input and every parameter.

    The scalar checked is :math:`L = \langle w, f(x) \rangle` with a fixed random ``w`` (for a
    module), or the loss value itself (for a :class:`Loss`, given ``inputs=(pred, target)``; only
    ``pred`` is differentiated). Each checked entry ``z`` gets
    :math:`(L(z + \epsilon) - L(z - \epsilon)) / (2\epsilon)`; a complex entry ``a + ib`` is
    perturbed along ``a`` and ``b`` and compared with the gradient convention ``dL/da + i dL/db``.

    Parameters
    ----------
    module : Module or Loss
        Evaluated in its current mode; run it in float64 (float32 cannot resolve the differences).
    inputs : array, or ``(pred, target)`` for a loss
    eps, rtol, atol : float
        Step (> 0) and tolerances (>= 0, finite): an entry passes when
        ``|fd - an| <= atol + rtol * max(|fd|, |an|, s)`` with ``s`` the largest analytic
        gradient magnitude of that array (so tiny entries are
        judged on the array's scale, not their own).
    max_entries : int or None
        Entries checked per array (a random subset, always including the largest-gradient entry);
        None checks all.
    check_params : bool
        Also check parameter gradients.
    random_state
        Seeds ``w`` and the subsets.

    Returns
    -------
    True when every checked entry agrees.

    Raises
    ------
    GradcheckError
        Naming the array, the entry and both values of the worst mismatch; or naming the array
        whose analytic or finite-difference gradient is NaN or infinite (a NaN never compares
        greater than a tolerance, so it is a failure by itself).
    TypeError, ValueError
        For a bad ``module``, ``inputs``, ``eps``, ``rtol``, ``atol`` or ``max_entries``.
    """
    if not isinstance(module, (Module, Loss)):
        raise TypeError(f"module must be a tensorkit.nn Module or Loss, got {type(module).__name__}")
    eps = check_real(eps, "eps", minimum=0.0, strict_minimum=True)
    for name, value in (("rtol", rtol), ("atol", atol)):
        check_real(value, name, minimum=0.0)
    if max_entries is not None:
        check_int(max_entries, "max_entries", minimum=1)
    rng = check_random_state(random_state)

    if isinstance(module, Loss):
        if not isinstance(inputs, (tuple, list)) or len(inputs) != 2:
            raise ValueError("for a loss, inputs must be the pair (pred, target)")
        x, target = inputs
        x = _as_array(x, "inputs[0] (pred)")

        def objective() -> float:
            return module.forward(x, target)

        objective()
        analytic = {"input": module.backward().copy()}
        arrays = {"input": x}
    else:
        x = _as_array(inputs, "inputs")
        out = module.forward(x)
        nxp = array_module(out)
        w = nxp.asarray(rng.standard_normal(out.shape)).astype(out.dtype)
        if out.dtype.kind == "c":
            w = w + 1j * nxp.asarray(rng.standard_normal(out.shape)).astype(w.dtype)

        def objective() -> float:
            y = module.forward(x)
            # Re <w, y> is a real loss for complex outputs as well
            return float((w.conj() * y).real.sum())

        module.zero_grad()
        dx = module.backward(w)
        analytic = {"input": dx.copy()}
        arrays = {"input": x}
        if check_params:
            grads = module.gradients()
            for name, p in module.parameters().items():
                analytic[f"parameter {name!r}"] = grads[name].copy()
                arrays[f"parameter {name!r}"] = p

    worst = (-1.0, "", (), 0.0, 0.0)
    for label, arr in arrays.items():
        an = to_numpy(analytic[label])
        if an.shape != arr.shape:
            raise GradcheckError(f"gradient of {label} has shape {an.shape}, expected {arr.shape}")
        n_bad = int((~np.isfinite(an)).sum())
        if n_bad:
            raise GradcheckError(
                f"gradcheck failed for {type(module).__name__}: backward gave {n_bad} NaN or Inf "
                f"entries in the gradient of {label}"
            )
        scale = float(np.abs(an).max()) if an.size else 0.0
        for idx in _entries(an, max_entries, rng):
            parts = [(1.0, "real")] + ([(1j, "imag")] if arr.dtype.kind == "c" else [])
            for unit, part in parts:
                fd = _central_difference(objective, arr, idx, unit, eps)
                if not np.isfinite(fd):
                    raise GradcheckError(
                        f"gradcheck failed for {type(module).__name__}: the finite difference at "
                        f"{label} entry {idx} is {fd} (NaN or Inf inputs, or a forward that is not "
                        f"finite near them; eps={eps})"
                    )
                value = an[idx].real if part == "real" else an[idx].imag
                err = abs(fd - value)
                bound = atol + rtol * max(abs(fd), abs(value), scale)
                ratio = err / bound if bound > 0 else (np.inf if err > 0 else 0.0)
                if ratio > worst[0]:
                    worst = (ratio, label, (*idx, part) if len(parts) > 1 else idx, fd, value)
    ratio, label, idx, fd, value = worst
    if ratio > 1:
        raise GradcheckError(
            f"gradcheck failed for {type(module).__name__}: worst mismatch at {label} entry {idx}: "
            f"finite difference {fd:.10g}, backward {value:.10g} "
            f"(|diff| = {abs(fd - value):.3g}, {ratio:.3g} x the tolerance)"
        )
    return True


def _as_array(x: Any, name: str) -> Any:
    """A private copy of an input array (finite differences perturb it in place)."""
    if not hasattr(x, "dtype") or not hasattr(x, "copy"):
        raise TypeError(f"gradcheck: {name} must be a numpy or CuPy array, got {type(x).__name__}")
    if x.dtype.kind not in "fc":
        raise TypeError(f"gradcheck: {name} must be a float or complex array, got dtype {x.dtype}")
    return x.copy()


def _entries(an: np.ndarray, max_entries: int | None, rng) -> list[tuple[int, ...]]:
    if an.size == 0:
        return []
    if max_entries is None or an.size <= max_entries:
        return [tuple(int(i) for i in np.unravel_index(k, an.shape)) for k in range(an.size)]
    flat = set(rng.choice(an.size, size=max_entries - 1, replace=False).tolist())
    flat.add(int(np.argmax(np.abs(an))))
    return [tuple(int(i) for i in np.unravel_index(k, an.shape)) for k in sorted(flat)]


def _central_difference(objective, arr, idx, unit, eps: float) -> float:
    original = arr[idx].copy() if hasattr(arr[idx], "copy") else arr[idx]
    try:
        arr[idx] = original + unit * eps
        plus = objective()
        arr[idx] = original - unit * eps
        minus = objective()
    finally:
        arr[idx] = original
    return (plus - minus) / (2 * eps)
