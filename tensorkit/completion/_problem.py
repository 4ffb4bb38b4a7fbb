"""What every completion solver shares: argument checks, the observations laid out by row for each
mode (computed once), the data scale, and the sweep loop's stopping and early-stopping rules."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

from .._validation import check_int, check_real, check_stop_tol
from ..backend import array_module, frobenius_norm, get_namespace, resolve_backend, to_numpy
from ..observed import ObservedTensor
from . import _kernels


class Problem:
    """The training observations, ready for row-wise solves.

    Attributes
    ----------
    obs : ObservedTensor (the training cells)
    xp, nxp : array-api-compat namespace and native module of the data
    backend : resolved kernel set
    scale : RMS of the observed values; solvers fit ``values / scale`` (unit RMS), so that ``reg``
        means the same for every data set
    y : the scaled values (nnz,)
    by_mode : per mode ``(indices, y, rowptr)`` sorted by that mode's index (int32 indices when
        they fit: the three sorted copies then take no more than twice the COO data)
    counts : per mode, observations per row (host int64 arrays)
    """

    def __init__(self, obs: ObservedTensor, backend: str | None):
        if not isinstance(obs, ObservedTensor):
            raise TypeError(f"obs must be an ObservedTensor, got {type(obs).__name__}")
        if obs.nnz == 0:
            raise ValueError("obs has no observed cells")
        self.obs = obs
        self.xp = get_namespace(obs.values)
        self.nxp = array_module(obs.values)
        self.backend = resolve_backend(backend, obs.values)
        self.shape = obs.shape
        # the norm without squaring (values near 1e300 or 1e-300 would overflow or underflow)
        rms = frobenius_norm(obs.values) / math.sqrt(obs.nnz)
        self.scale = rms if rms > 0 else 1.0
        self.y = obs.values / self.scale
        index_dtype = self.nxp.int32 if max(self.shape) < 2**31 else self.nxp.int64
        self.by_mode = []
        self.counts = []
        for k, n in enumerate(self.shape):
            self.by_mode.append(_kernels.sort_by_row(obs.indices, self.y, k, n, index_dtype, self.backend))
            self.counts.append(np.diff(to_numpy(self.by_mode[-1][2])))

    def check_determined(self, ranks: tuple[int, ...], reg: float) -> None:
        """Without regularization every factor row needs at least as many observations as unknowns."""
        if reg > 0:
            return
        for k, (counts, r) in enumerate(zip(self.counts, ranks, strict=True)):
            short = np.flatnonzero(counts < r)
            if short.size:
                raise ValueError(
                    f"with reg=0, rank {r} is more than the observations can determine: "
                    f"{short.size} rows of mode {k} have fewer than {r} observations (rows "
                    f"{short[:10].tolist()}{' ...' if short.size > 10 else ''}); use reg > 0 or a "
                    "lower rank"
                )


def check_common(rank: Any, reg: Any, n_iter_max: Any, stop_tol: Any, patience: Any, validation: Any,
                 obs: ObservedTensor) -> tuple[float, int, float, int]:
    """The arguments every completion function takes (``rank`` is checked by the caller)."""
    reg = check_real(reg, "reg", minimum=0.0)
    n_iter_max = check_int(n_iter_max, "n_iter_max", minimum=1)
    stop_tol = check_stop_tol(stop_tol)
    patience = check_int(patience, "patience", minimum=1)
    if validation is not None:
        if not isinstance(validation, ObservedTensor):
            raise TypeError(f"validation must be an ObservedTensor or None, got {type(validation).__name__}")
        if validation.shape != obs.shape:
            raise ValueError(f"validation has shape {validation.shape}, obs has shape {obs.shape}")
        get_namespace(validation.values, obs.values)  # refuses a device mix
    return reg, n_iter_max, stop_tol, patience


class Monitor:
    """Train / validation RMSE per sweep, the relative-improvement stop and early stopping.

    ``update`` returns True when the iteration should stop; ``best`` holds a copy of the state of
    the sweep with the lowest validation RMSE (of the last sweep without validation).
    """

    def __init__(self, stop_tol: float, patience: int, has_validation: bool):
        self.stop_tol, self.patience, self.has_validation = stop_tol, patience, has_validation
        self.history: list[float] = []
        self.validation: list[float] = []
        self.best = None
        self.best_iteration = 0
        self.converged = False
        self.stopped_early = False

    def update(self, train_rmse: float, validation_rmse: float | None, state: Any) -> bool:
        self.history.append(train_rmse)
        if self.has_validation:
            self.validation.append(validation_rmse)
            if validation_rmse <= min(self.validation):
                self.best, self.best_iteration = copy.deepcopy(state), len(self.history)
            elif len(self.history) - self.best_iteration >= self.patience:
                self.converged = self.stopped_early = True
                return True
        else:
            self.best, self.best_iteration = state, len(self.history)
        if len(self.history) > 1:
            previous = self.history[-2]
            if previous - train_rmse <= self.stop_tol * previous or train_rmse == 0:
                self.converged = True
                return True
        return False

    def extras(self) -> dict[str, Any]:
        out: dict[str, Any] = {"best_iteration": self.best_iteration, "stopped_early": self.stopped_early}
        if self.has_validation:
            out["validation_history"] = list(self.validation)
            out["validation_rmse"] = self.validation[self.best_iteration - 1]
        return out

