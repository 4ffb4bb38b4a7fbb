"""The one result record of iterative and adaptive algorithms: :class:`Info`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Info"]


@dataclass
class Info:
    """How an algorithm ended: the same record for decompositions, solvers, completion and training.

    Attributes
    ----------
    method : str
        The method that ran (``"auto"`` choices resolved).
    iterations : int
        Sweeps, Krylov iterations or epochs (0 for one-pass methods).
    converged : bool
        False when ``n_iter_max`` (or another cap) stopped the iteration before ``stop_tol`` or
        ``tol`` was met.
    rel_error : float or None
        The achieved relative error of the method's own measure (``||X - X_hat|| / ||X||`` for a
        decomposition, the residual excess for least squares, the validation loss for training).
    history : list of float
        That error after each iteration (iterative methods).
    extras : dict
        Method-specific numbers (sketch sizes, per-split histories, padding applied, ...).

    Examples
    --------
    >>> import numpy as np, tensorkit
    >>> T = tensorkit.tucker(np.ones((4, 5, 6)), rank=(1, 1, 1))
    >>> T.info.method, T.info.converged, T.info.rel_error < 1e-12
    ('st_hosvd', True, True)
    """

    method: str
    iterations: int = 0
    converged: bool = True
    rel_error: float | None = None
    history: list[float] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)
