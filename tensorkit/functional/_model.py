"""Functional Bayesian Tucker decomposition (FunBaT): :class:`FunctionalTucker`."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import digamma

from .._info import Info
from .._progress import progress_bar
from .._validation import as_float_array, check_choice, check_int, check_real, per_axis
from ..backend import array_module, check_random_state, frobenius_norm, resolve_backend, to_numpy
from ._kalman import smooth_mode, states_at
from ._moments import CPCore, TuckerCore, triu, unpack_triu
from ._observations import SCALE, ContinuousObservations
from ._sde import KERNELS

__all__ = ["FunctionalTucker"]

# Observations per chunk of the message computations (chunk x prod P_j numbers at a time).
_CHUNK = 1 << 13

# Lengthscales allowed in normalized units (coordinates mapped onto [0, SCALE]).
_LENGTHSCALE_BAND = (1e-100, 1e100)


class FunctionalTucker:
    r"""Tucker decomposition of data at continuous coordinates with Gaussian-process factor functions.

    The value at coordinates ``(x_1, ..., x_K)`` is modelled as

    .. math::

        y = G \times_1 u_1(x_1)^\top \cdots \times_K u_K(x_K)^\top + \varepsilon, \qquad
        \varepsilon \sim \mathcal N(0, \tau^{-1}),

    where the ``R_k`` functions ``u_k`` of each mode are independent GPs with a Matern kernel
    written as a linear SDE (:mod:`tensorkit.functional._sde`), ``G`` has a Gaussian posterior
    and ``tau ~ Gamma(a0, b0)``. One epoch (Fang et al., 2024): for each mode, the conditional
    expectation-propagation message of every observation on ``u_k(x_{nk})`` (precision
    ``E[tau] E[a a^T]``, linear term ``E[tau] y E[a]`` with ``a = G_(k) kron_{j != k} u_j``),
    summed per distinct coordinate while streaming over the data, then a Kalman filter and RTS
    smoother over the sorted coordinates; then the core's Gaussian posterior (precision
    ``E[tau] sum E[phi phi^T] + I``, ``phi = kron_k u_k``); then ``tau``'s Gamma posterior. Each
    update keeps the fraction ``damping`` of the new natural parameters. Cost per epoch:
    ``O(N prod_j P_j)`` with ``P_j = R_j (R_j + 1) / 2`` for the messages, by BLAS, and
    ``O(n_k (R_k d)^3)`` for the recursions over ``n_k`` distinct coordinates; memory linear in
    ``n_k`` plus the data.

    Parameters
    ----------
    rank : int or tuple of int
        Functions per mode ``R_k`` (for ``core="cp"`` one int: the CP rank).
    kernel : {"matern12", "matern32"}
    lengthscale : float or tuple of float
        Per mode, in the units of the coordinates (> 0).
    variance : float
        Prior variance of every latent function (> 0).
    noise_prior : (float, float)
        Shape and rate ``(a0, b0)`` of the Gamma prior of the noise precision, on the standardized
        scale (values are centered and scaled to unit variance internally).
    damping : (float, float, float)
        Fractions of the new factor messages, noise posterior and core posterior kept (1 = none).
    n_epochs : int
    core : {"tucker", "cp"}
        ``"cp"``: a diagonal core (CP with Gaussian weights).
    random_state, progress
        Seed of the initial functions and core; a progress bar over epochs.
    backend : {"numpy", "numba", "cupy"} or None
        Kernel set of the Kalman recursions (None: from the device of the data).

    Attributes
    ----------
    info : Info
        ``history``: training RMSE on the standardized scale after each epoch; ``extras``:
        ``train_rmse`` and ``validation_rmse`` (data units) and ``evidence`` (the expected
        log-likelihood ``E_q[log p(y | f, tau)]``, a stand-in for the evidence bound).

    References
    ----------
    S. Fang, X. Yu, Z. Wang, S. Li, M. Kirby, S. Zhe, "Functional Bayesian Tucker Decomposition for
    Continuous-indexed Tensor Data", ICLR 2024, arXiv:2311.04829.

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.functional import ContinuousObservations, FunctionalTucker
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((600, 2))
    >>> y = np.sin(2 * np.pi * X[:, 0]) * np.exp(-X[:, 1])
    >>> train, test = ContinuousObservations(X, y).split((0.5, 0.5), random_state=0)
    >>> model = FunctionalTucker(1, kernel="matern32", lengthscale=0.3, n_epochs=30,
    ...                          random_state=0).fit(train)
    >>> mean, std = model.predict(test.coords, return_std=True)
    >>> bool(np.sqrt(np.mean((mean - test.values) ** 2)) < 0.05)
    True
    >>> bool(np.mean(np.abs(mean - test.values) < 2.0 * std) > 0.9)
    True
    """

    def __init__(self, rank: Any, *, kernel: str = "matern32", lengthscale: Any = 1.0,
                 variance: float = 1.0, noise_prior: tuple[float, float] = (1e-3, 1e-3),
                 damping: tuple[float, float, float] = (0.5, 0.6, 0.9), n_epochs: int = 50,
                 core: str = "tucker", random_state: Any = None, progress: bool = False,
                 backend: str | None = None):
        self.rank = rank
        self.kernel = check_choice(kernel, "kernel", KERNELS)
        self.lengthscale = lengthscale
        self.variance = check_real(variance, "variance", minimum=0.0, strict_minimum=True)
        a0, b0 = per_axis(noise_prior, 2, "noise_prior")
        self.noise_prior = (check_real(a0, "noise_prior[0]", minimum=0.0, strict_minimum=True),
                            check_real(b0, "noise_prior[1]", minimum=0.0, strict_minimum=True))
        self.damping = per_axis(damping, 3, "damping", lambda v, n: check_real(
            v, n, minimum=0.0, maximum=1.0, strict_minimum=True))
        self.n_epochs = check_int(n_epochs, "n_epochs", minimum=1)
        self.core = check_choice(core, "core", ("tucker", "cp"))
        self.random_state, self.progress, self.backend = random_state, progress, backend
        per_axis(lengthscale, 1 if np.ndim(lengthscale) == 0 else len(lengthscale), "lengthscale",
                 lambda v, n: check_real(v, n, minimum=0.0, strict_minimum=True))
        # the entries are checked now (a rank of 0 or True is refused here, not at fit); their
        # number against the modes of the data at fit
        if self.core == "cp":
            check_int(rank, "rank", minimum=1)
        else:
            per_axis(rank, 1 if np.ndim(rank) == 0 else len(rank), "rank",
                     lambda v, n: check_int(v, n, minimum=1))

    def fit(self, obs: ContinuousObservations, validation: ContinuousObservations | None = None):
        """Fit to ``obs`` (``validation``: also record the RMSE there after each epoch); returns self."""
        if not isinstance(obs, ContinuousObservations):
            raise TypeError(f"obs must be ContinuousObservations, got {type(obs).__name__}")
        K = obs.n_modes
        if self.core == "cp":
            R = check_int(self.rank, "rank", minimum=1)
            ranks = (R,) * K
        else:
            ranks = per_axis(self.rank, K, "rank", lambda v, n: check_int(v, n, minimum=1))
        scales = [SCALE / (hi - lo) for lo, hi in zip(obs.lows, obs.highs, strict=True)]
        ls = per_axis(self.lengthscale, K, "lengthscale",
                      lambda v, n: check_real(v, n, minimum=0.0, strict_minimum=True))
        for k, (lv, s) in enumerate(zip(ls, scales, strict=True)):
            # the state-space kernels hold 1/l^2 and l^2 (normalized units): far outside this band
            # they overflow or vanish, and the smoother would divide by zero or return NaN
            if not _LENGTHSCALE_BAND[0] <= lv * s <= _LENGTHSCALE_BAND[1]:
                raise ValueError(
                    f"lengthscale[{k}]={lv:g} is {lv / (obs.highs[k] - obs.lows[k]):.3g} times the "
                    f"coordinate range of mode {k} ({obs.highs[k] - obs.lows[k]:.3g}); give it in the "
                    f"units of coords (within {_LENGTHSCALE_BAND[0] / SCALE:g} to "
                    f"{_LENGTHSCALE_BAND[1] / SCALE:g} times the range)"
                )
        self.obs_, self.ranks_ = obs, tuple(ranks)
        self._ls = [lv * s for lv, s in zip(ls, scales, strict=True)]
        self._backend = resolve_backend(self.backend, obs.values)
        nxp = array_module(obs.values)
        y = obs.values
        self._ymean = float(y.mean())
        # the norm without squaring: values near 1e300 or 1e-300 neither overflow nor vanish
        self._ystd = frobenius_norm(y - self._ymean) / math.sqrt(y.shape[0]) or 1.0
        ys = (y - self._ymean) / self._ystd
        y2 = float((ys * ys).sum())
        self._init_state(obs, nxp)
        a0, b0 = self.noise_prior
        self._a, self._b = a0, b0
        msgs, core_state = [None] * K, None
        rho_u, rho_tau, rho_g = self.damping
        history, train_rmse, val_rmse, evidence = [], [], [], []
        bar = progress_bar(self.progress, total=self.n_epochs, desc="FunBaT")
        for epoch in range(self.n_epochs):
            tau = self._a / self._b
            for k in range(K):
                lam, eta = self._messages(k, ys, tau, nxp)
                if msgs[k] is not None:
                    lam = rho_u * lam + (1 - rho_u) * msgs[k][0]
                    eta = rho_u * eta + (1 - rho_u) * msgs[k][1]
                msgs[k] = (lam, eta)
                self._set_mode(k, smooth_mode(obs.unique[k], unpack_triu(lam, ranks[k]), eta, self.kernel,
                                              self._ls[k], self.variance, self._backend))
            stats = self._core_statistics(ys)
            core_state = self._core.update(stats, tau, rho_g, core_state)
            sse = self._core.expected_sse(stats, y2)
            resid = self._residual_sum(ys)
            a_new, b_new = a0 + 0.5 * obs.n_obs, b0 + 0.5 * sse
            self._a = a_new
            self._b = rho_tau * b_new + (1 - rho_tau) * self._b if epoch else b_new
            tau = self._a / self._b
            n = obs.n_obs
            evidence.append(0.5 * n * (digamma(self._a) - math.log(self._b) - math.log(2 * math.pi))
                            - 0.5 * tau * sse)
            history.append(math.sqrt(resid / n))
            train_rmse.append(history[-1] * self._ystd)
            if validation is not None:
                pred = self.predict(validation.coords)
                val_rmse.append(float(nxp.sqrt(nxp.mean((pred - validation.values) ** 2))))
            bar.update()
        bar.close()
        extras = {"train_rmse": train_rmse, "evidence": evidence, "noise_std": self._ystd / math.sqrt(tau)}
        if validation is not None:
            extras["validation_rmse"] = val_rmse
        self.info = Info(method=f"funbat-{self.core}", iterations=self.n_epochs, converged=True,
                         rel_error=history[-1], history=history, extras=extras)
        return self

    def predict(self, coords: Any, return_std: bool = False):
        """Posterior mean (M,) at ``coords`` (M, K); with ``return_std`` also the standard deviation
        of a new observation there (the model's posterior variance plus the noise variance
        ``E[1 / tau] = b / (a - 1)``)."""
        means, wtri = self._query(coords)
        Ef, Ef2 = self._chunked_moments(means, wtri)
        mean = Ef * self._ystd + self._ymean
        if not return_std:
            return mean
        nxp = array_module(Ef)
        var = nxp.maximum(Ef2 - Ef**2, 0.0) + self._b / max(self._a - 1.0, 1e-12)
        return mean, nxp.sqrt(var) * self._ystd

    def factor_functions(self, mode: int, grid: Any):
        """Posterior mean and variance (M, R_k) of mode ``mode``'s latent functions at the user's
        coordinates ``grid`` (M,). Tucker factors are defined up to scale, sign and rotation."""
        self._check_fitted()
        mode = check_int(mode, "mode", minimum=0, maximum=self.obs_.n_modes - 1)
        nxp = array_module(self.obs_.values)
        g = as_float_array(nxp.asarray(grid), "grid", allow_complex=False)
        if g.ndim > 1:  # flattening a 2-D grid would return rows the caller cannot map back
            raise ValueError(f"grid must be the coordinates (M,) of mode {mode}, got shape {tuple(g.shape)}")
        g = g.reshape(-1)
        lo, hi = self.obs_.lows[mode], self.obs_.highs[mode]
        mean, cov = states_at(self._states[mode], (g - lo) * (SCALE / (hi - lo)))
        return mean, nxp.diagonal(cov, axis1=1, axis2=2).copy()

    # --- internals -------------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "obs_"):
            raise RuntimeError("this FunctionalTucker is not fitted yet; call fit(obs) first")

    def _init_state(self, obs, nxp) -> None:
        """Random smooth initial functions (random Fourier features of the prior's lengthscale),
        zero posterior variance, and a random core scaled so that the model has unit variance."""
        rng = check_random_state(self.random_state)
        self._means, self._wtri, self._states = [], [], [None] * obs.n_modes
        for k, R in enumerate(self.ranks_):
            z = to_numpy(obs.unique[k])
            omega = rng.standard_normal((8, R)) / self._ls[k]
            phase = rng.uniform(0, 2 * np.pi, (8, R))
            amp = rng.standard_normal((8, R)) * math.sqrt(self.variance / 8)
            m = (amp[None] * np.cos(z[:, None, None] * omega[None] + phase[None])).sum(axis=1)
            self._means.append(nxp.asarray(m))
            self._wtri.append(nxp.asarray(triu(m[:, :, None] * m[:, None, :])))
        if self.core == "cp":
            R = self.ranks_[0]
            self._core = CPCore(nxp.asarray(rng.standard_normal(R) / math.sqrt(R)), nxp.zeros((R, R)))
        else:
            n = int(np.prod(self.ranks_))
            self._core = TuckerCore(nxp.asarray(rng.standard_normal(self.ranks_) / math.sqrt(n)),
                                    nxp.zeros((n, n)))

    def _set_mode(self, k: int, st) -> None:
        self._states[k] = st
        m, V = st.values()
        self._means[k] = m
        self._wtri[k] = triu(V + m[:, :, None] * m[:, None, :])

    def _rows(self, sl):
        inv = self.obs_.inverse[sl]
        return ([m[inv[:, k]] for k, m in enumerate(self._means)],
                [w[inv[:, k]] for k, w in enumerate(self._wtri)])

    def _messages(self, k, ys, tau, nxp):
        """Per distinct coordinate of mode ``k``: running sums over the observations there of the
        message precision triangles (n_k, P_k) and linear terms (n_k, R_k)."""
        scipy_sparse = _sparse(nxp)
        n_k, N = self.obs_.unique[k].shape[0], self.obs_.n_obs
        lam = nxp.zeros((n_k, self.ranks_[k] * (self.ranks_[k] + 1) // 2))
        eta = nxp.zeros((n_k, self.ranks_[k]))
        for start in range(0, N, _CHUNK):
            sl = slice(start, start + _CHUNK)
            means, wtri = self._rows(sl)
            lt, ea = self._core.message(k, means, wtri)
            keys = self.obs_.inverse[sl, k]
            ind = scipy_sparse.coo_matrix((nxp.ones(keys.shape[0]), (keys, nxp.arange(keys.shape[0]))),
                                          shape=(n_k, keys.shape[0])).tocsr()
            lam += ind @ lt
            eta += ind @ (ea * ys[sl, None])
        return tau * lam, tau * eta

    def _core_statistics(self, ys):
        total = None
        for start in range(0, self.obs_.n_obs, _CHUNK):
            sl = slice(start, start + _CHUNK)
            stats = self._core.statistics(*self._rows(sl), ys[sl])
            total = stats if total is None else (total[0] + stats[0], total[1] + stats[1])
        return total

    def _residual_sum(self, ys) -> float:
        """``sum (y - E f)^2`` over the training data (standardized), with the posterior means."""
        resid = 0.0
        for start in range(0, self.obs_.n_obs, _CHUNK):
            sl = slice(start, start + _CHUNK)
            means, _ = self._rows(sl)
            resid += float(((ys[sl] - self._core.values(means)) ** 2).sum())
        return resid

    def _query(self, coords):
        self._check_fitted()
        nxp = array_module(self.obs_.values)
        c = as_float_array(nxp.asarray(coords), "coords", allow_complex=False)
        K = self.obs_.n_modes
        if c.ndim == 1 and K == 1:
            c = c[:, None]
        if c.ndim != 2 or c.shape[1] != K:
            raise ValueError(f"coords must have shape (M, {K}) (the model has {K} modes), got {c.shape}")
        z = self.obs_.normalize(c)
        means, wtri = [], []
        for k in range(K):
            m, V = states_at(self._states[k], nxp.ascontiguousarray(z[:, k]))
            means.append(m)
            wtri.append(triu(V + m[:, :, None] * m[:, None, :]))
        return means, wtri

    def _chunked_moments(self, means, wtri):
        nxp = array_module(means[0])
        M = means[0].shape[0]
        Ef, Ef2 = nxp.empty(M), nxp.empty(M)
        for start in range(0, M, _CHUNK):
            sl = slice(start, start + _CHUNK)
            Ef[sl], Ef2[sl] = self._core.moments([m[sl] for m in means], [w[sl] for w in wtri])
        return Ef, Ef2


def _sparse(nxp):
    """scipy.sparse or cupyx.scipy.sparse for the arrays of module ``nxp``."""
    if nxp is np:
        import scipy.sparse

        return scipy.sparse
    import cupyx.scipy.sparse

    return cupyx.scipy.sparse
