"""CP-WOPT: all factors at once by L-BFGS on the observed-cells objective of :func:`cp_complete`."""

from __future__ import annotations

import numpy as np
import scipy.optimize

from .. import _kernels as core_kernels
from .._progress import progress_bar
from .._validation import device_of
from ..backend import to_device, to_numpy


def wopt(problem, factors, reg, validation, n_iter_max, monitor, progress) -> None:
    """Minimize ``1/2 ||y - m||^2_Omega + reg/2 sum_k sum_i n_{k,i} ||A_k[i]||^2`` with L-BFGS-B.

    The gradient with respect to ``A_k`` is ``-MTTKRP_k(r) + reg n_k * A_k`` with ``r`` the residuals
    at the observed cells (a sparse MTTKRP: the core's COO kernel). The optimizer works on a host
    vector; the model, residuals and gradients stay on the data's device.
    """
    from ._als import _errors  # the same train / validation measure as ALS

    xp, backend = problem.xp, problem.backend
    indices, y = problem.obs.indices, problem.y
    dtype = factors[0].dtype
    rank = factors[0].shape[1]
    sizes = [n * rank for n in problem.shape]
    bounds = np.cumsum([0, *sizes])
    counts = [xp.asarray(c.astype(np.float64), dtype=dtype)[:, None] for c in problem.counts]
    ones = xp.ones(rank, dtype=dtype)
    device = device_of(xp)

    def unpack(x):
        flat = to_device(x.astype(dtype), device)
        return [xp.reshape(flat[lo:hi], (n, rank))
                for lo, hi, n in zip(bounds[:-1], bounds[1:], problem.shape, strict=True)]

    def objective(x):
        F = unpack(x)
        residual = y - core_kernels.cp_values(indices, ones, F, backend)
        value = 0.5 * float(xp.sum(residual**2))
        grads = []
        for k, (f, n) in enumerate(zip(F, counts, strict=True)):
            value += 0.5 * reg * float(xp.sum(n * f**2))
            mttkrp = core_kernels.mttkrp_coo(indices, residual, F, k, f.shape[0], backend)
            grads.append(xp.reshape(reg * n * f - mttkrp, (-1,)))
        return value, to_numpy(xp.concat(grads)).astype(np.float64)

    with progress_bar(progress, total=n_iter_max, desc="cp_complete (wopt)") as bar:

        def callback(intermediate_result):
            F = unpack(intermediate_result.x)
            train, val = _errors(problem, F, validation)
            bar.update()
            if monitor.update(train, val, F):
                raise StopIteration

        x0 = np.concatenate([to_numpy(f).reshape(-1) for f in factors]).astype(np.float64)
        result = scipy.optimize.minimize(
            objective, x0, jac=True, method="L-BFGS-B", callback=callback,
            # ftol/gtol off: the stop is the monitor's relative RMSE improvement, as for ALS
            options={"maxiter": n_iter_max, "ftol": 0.0, "gtol": 0.0, "maxcor": 20},
        )
    if not monitor.history:  # stopped before a full iteration: keep the starting point
        train, val = _errors(problem, unpack(result.x), validation)
        monitor.update(train, val, unpack(result.x))
    if result.status == 2 or result.nit < n_iter_max:
        # the line search found no more decrease: converged to working precision
        monitor.converged = True
