"""GPU entry of the Kalman recursions: the Numba CPU kernel on host copies.

The recursion is sequential over coordinates with ``R d x R d`` algebra per step: one launch per
coordinate would cost more than the arithmetic, so the messages (n x R x R) go to the host once and
the smoothed states come back once per mode and epoch.
"""

from __future__ import annotations

import numpy as np

from ...backend import array_module
from . import cpu


def rts_smoother(A, Q, P0, lam, eta):
    """See :func:`tensorkit.functional._kernels.rts_smoother`."""
    xp = array_module(lam)
    host = [np.asarray(x.get() if hasattr(x, "get") else x) for x in (A, Q, P0, lam, eta)]
    return tuple(xp.asarray(out) for out in cpu.rts_smoother(*host))
