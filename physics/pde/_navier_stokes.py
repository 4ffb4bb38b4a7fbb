r"""Two-dimensional Navier-Stokes flows on the unit torus, the FNO paper's generator.

The vorticity form of the incompressible Navier-Stokes equations on :math:`[0, 1)^2` (periodic):

.. math::

    \partial_t w + u \cdot \nabla w = \nu \Delta w + f, \qquad
    u = (\partial_y \psi, -\partial_x \psi), \qquad -\Delta \psi = w,

solved pseudo-spectrally with real FFTs as in Li et al.'s reference code: the stream function from
:math:`\hat\psi = \hat w / (4 \pi^2 |k|^2)`, the velocity and the vorticity gradient in Fourier
space, their product in physical space with the 2/3 rule dealiasing the result, Crank-Nicolson on
the diffusion and explicit Euler on advection and forcing:

.. math::

    \hat w^{n+1} = \frac{(1 - \tfrac{1}{2} \Delta t\, \nu\, 4\pi^2|k|^2)\, \hat w^n
    - \Delta t\, \widehat{(u \cdot \nabla w)}^n + \Delta t\, \hat f}
    {1 + \tfrac{1}{2} \Delta t\, \nu\, 4\pi^2|k|^2}.

The default forcing is :math:`f = 0.1 (\sin 2\pi(x + y) + \cos 2\pi(x + y))`; the initial vorticity
a Gaussian random field with covariance eigenvalues :math:`7^3 (4\pi^2|k|^2 + 49)^{-5/2}` (the
reference code's prefactor), mean zero.

A step costs four inverse and one forward batched real FFT (``scipy.fft`` with as many workers as
Numba threads, or cuFFT) and three fused elementwise passes (:mod:`physics._kernels`). On 2 cores
100 flows of 64 x 64 to t = 10 took 27.5 s in float64 and 21 s in float32
(``benchmarks/bench_ns_generator.py``).

References
----------
Z. Li et al., "Fourier Neural Operator for Parametric Partial Differential Equations", ICLR 2021
(data generator ``ns_spectral.py`` / ``random_fields.py`` of the released code).
"""

from __future__ import annotations

import importlib
import math
import os
import warnings
from collections.abc import Callable
from typing import Any

import numba
import numpy as np

from tensorkit.extend import (
    as_float_array,
    check_allocation,
    check_choice,
    check_dtype,
    check_int,
    check_random_state,
    check_real,
    get_namespace,
    is_numpy_namespace,
    progress_bar,
    scipy_for,
    to_device,
    to_numpy,
)
from tensorkit.io import load_archive, save_archive

from .._kernels import advection, crank_nicolson_step, vorticity_gradients

__all__ = [
    "fno_forcing",
    "load_navier_stokes",
    "navier_stokes2d",
    "random_vorticity",
    "save_navier_stokes",
]

# Fourier modes per direction drawn for the initial field, fixed whatever the grid, so that one
# random_state gives the same flow at every resolution. At |k| = 32 the field's amplitude is 5e-4
# of the leading modes' (the spectrum decays as |k|^-5).
GRF_MODES = 32
GRF_TAU = 7.0
GRF_ALPHA = 2.5
# Courant number of the automatic step (explicit Euler on advection).
CFL = 0.25
# Most time steps one call takes: 100x the FNO paper's longest runs (5e5 steps to t = 50 at dt = 1e-4);
# beyond, a huge t_final, a tiny dt or an extreme initial speed would run for days (or forever).
MAX_STEPS = 10**8
_FORMAT = "physics.NavierStokesDataset"
_VERSION = 1


def navier_stokes2d(
    n_samples: int,
    resolution: int,
    *,
    viscosity: float = 1e-3,
    t_final: float = 10.0,
    n_snapshots: int = 11,
    dt: float | None = None,
    forcing: str | Callable | Any | None = "fno",
    initial: Any = None,
    dtype: Any = np.float64,
    device: str | None = None,
    random_state: Any = None,
    progress: bool = True,
) -> tuple[Any, np.ndarray]:
    r"""Simulate vorticity fields of 2D incompressible flows on the unit torus.

    Parameters
    ----------
    n_samples : int
        Number of flows, >= 1 (advanced together, one batched FFT per step).
    resolution : int
        Grid points per side (``x_i = i / resolution``, periodic), even, >= 8.
    viscosity : float
        Kinematic viscosity :math:`\nu > 0` (1e-3, 1e-4, 1e-5 in the FNO paper).
    t_final : float
        Final time, > 0.
    n_snapshots : int
        Snapshots returned at ``linspace(0, t_final, n_snapshots)`` (t = 0 included), >= 2.
    dt : float or None
        Time step. None picks :math:`\Delta t = 0.25\, h / \max(|u_0|_\infty, 1)` (a Courant number
        of 0.25 on the initial velocity, at least unit speed), at most :math:`2 / (\nu
        \max|k|^2)` (so that Crank-Nicolson damps every mode monotonically; a given larger ``dt``
        warns), shortened so that every snapshot falls on a step. A given ``dt`` is shortened the
        same way; a run whose Courant number :math:`\Delta t \max|u| / h` exceeds 1 stops with a
        ``ValueError`` naming the time, and one that needs more than ``MAX_STEPS`` (1e8) steps is
        refused before it starts (continue a long run from its last snapshot with ``initial=``).
    forcing : "fno", None, callable or array
        ``"fno"``: :func:`fno_forcing`; None: unforced; a callable ``f(x, y)`` on the grid or an
        array of shape (resolution, resolution).
    initial : None, callable or array
        None draws :func:`random_vorticity`; a callable ``w0(x, y)`` or an array of shape
        (resolution, resolution) or (n_samples, resolution, resolution) gives the initial vorticity
        (its mean is removed: the mean vorticity of a periodic flow is zero).
    dtype : float32 or float64
    device : None, "cpu" or "gpu"
        Where to compute (None: the CPU, or the device of an array ``initial``).
    random_state : int, numpy.random.Generator or None
    progress : bool
        Progress bar over the time steps.

    Returns
    -------
    w : array (n_samples, n_snapshots, resolution, resolution)
        Vorticity snapshots, on ``device``.
    times : ndarray (n_snapshots,)

    Examples
    --------
    >>> from physics.pde import navier_stokes2d
    >>> w, t = navier_stokes2d(2, 16, t_final=0.5, n_snapshots=3, random_state=0, progress=False)
    >>> w.shape, t.tolist()
    ((2, 3, 16, 16), [0.0, 0.25, 0.5])
    """
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    resolution = check_int(resolution, "resolution", minimum=8)
    if resolution % 2:
        raise ValueError(f"resolution must be even (a periodic FFT grid), got {resolution}")
    viscosity = check_real(viscosity, "viscosity", minimum=0.0, strict_minimum=True)
    t_final = check_real(t_final, "t_final", minimum=0.0, strict_minimum=True)
    n_snapshots = check_int(n_snapshots, "n_snapshots", minimum=2)
    if dt is not None:
        dt = check_real(dt, "dt", minimum=0.0, strict_minimum=True)
    dtype = check_dtype(dtype)
    if device is None and initial is not None and hasattr(initial, "__array_namespace__"):
        device = "gpu" if "cupy" in type(initial).__module__ else "cpu"
    device = check_choice("cpu" if device is None else device, "device", ("cpu", "gpu"))
    check_allocation((n_samples, n_snapshots, resolution, resolution), dtype, "the vorticity snapshots",
                     device=device, alternative="fewer samples or snapshots per call, or "
                     "physics.pde.navier_stokes2d_to_zarr on a cluster")
    xp = get_namespace(to_device(np.zeros(1, dtype=dtype), device))

    x = np.arange(resolution) / resolution
    w0 = _initial_vorticity(initial, n_samples, resolution, dtype, random_state)
    f = _forcing(forcing, x, dtype)
    solver = _SpectralSolver(resolution, viscosity, dtype, xp)
    w_hat = solver.rfft(xp.asarray(to_device(w0, device)))
    f_hat = None if f is None else solver.rfft(xp.asarray(to_device(f, device)))

    speed = float(xp.max(solver.speed(w_hat)))
    if not math.isfinite(speed):
        raise ValueError(f"initial vorticity of max |w| = {float(np.abs(w0).max()):.3g} overflows the "
                         f"spectral solver in {dtype} (its Fourier transform or velocity is not finite)")
    speed = max(speed, 1.0)
    h = 1.0 / resolution
    # Crank-Nicolson damps mode k by (1 - a) / (1 + a), a = dt nu |k|^2 / 2: monotonically (as the
    # exact exp(-2a)) only for a <= 1; beyond, the mode flips sign every step instead of vanishing
    top = 0.5 * viscosity * float(xp.max(solver.lap))
    if not math.isfinite(top):
        raise ValueError(f"viscosity={viscosity:.3g} overflows the diffusion factor nu |k|^2 / 2 of the "
                         "Crank-Nicolson step; use a smaller viscosity")
    requested = min(CFL * h / speed, 1.0 / top) if dt is None else dt
    interval = t_final / (n_snapshots - 1)
    ratio = interval / requested
    if not ratio * (n_snapshots - 1) <= MAX_STEPS:  # also inf
        raise ValueError(
            f"reaching t_final={t_final:.3g} takes {ratio * (n_snapshots - 1):.3g} steps of "
            f"dt={requested:.3g} (initial max |u| = {speed:.3g}), more than MAX_STEPS = {MAX_STEPS:.0e}: "
            "shorten t_final, start slower, or continue a run from its last snapshot (initial=w[:, -1])"
        )
    steps_per_snapshot = max(1, math.ceil(ratio - 1e-9))
    # the step actually taken: the snapshot interval in whole steps, never above the one asked for
    dt = interval / steps_per_snapshot
    if dt * speed / h > 1.0:
        taken = "" if dt == requested else f" (the step taken: {dt:.3g}, whole steps per snapshot)"
        raise ValueError(
            f"dt={requested:.3g}{taken} violates the CFL bound dt <= h / max|u| = {h / speed:.3g} at t=0; "
            "pass a smaller dt or leave dt=None"
        )
    # Crank-Nicolson's factor 1 +- dt nu |k|^2 / 2 times the largest mode must stay a float64 number
    diffusion = dt * top
    if not math.isfinite(diffusion * max(float(xp.max(xp.abs(w_hat))), 1.0)):
        raise ValueError(f"viscosity={viscosity:.3g} overflows the diffusion factor dt nu |k|^2 / 2 = "
                         f"{diffusion:.3g} of the Crank-Nicolson step (dt={dt:.3g}); use a smaller viscosity")
    if diffusion > 1.0:
        warnings.warn(
            f"dt={dt:.3g} gives the highest mode a diffusion factor dt nu |k|^2 / 2 = {diffusion:.3g} > 1: "
            f"Crank-Nicolson flips the sign of such modes each step instead of damping them (exactly "
            f"by exp(-{2 * diffusion:.3g})); dt <= {1.0 / top:.3g} (or dt=None) damps every mode",
            RuntimeWarning, stacklevel=2,
        )

    out = xp.empty((n_samples, n_snapshots, resolution, resolution), dtype=dtype)
    out[:, 0] = solver.irfft(w_hat)
    check_every = max(1, steps_per_snapshot // 4)
    with progress_bar(progress, total=steps_per_snapshot * (n_snapshots - 1), desc="navier-stokes") as bar:
        for snap in range(1, n_snapshots):
            for step in range(steps_per_snapshot):
                w_hat = solver.step(w_hat, f_hat, dt)
                if step % check_every == 0:
                    courant = dt * float(xp.max(solver.speed(w_hat))) / h
                    t_now = ((snap - 1) * steps_per_snapshot + step + 1) * dt
                    if not math.isfinite(courant):
                        raise ValueError(f"the vorticity is no longer finite at t={t_now:.3g} (dt={dt:.3g}); "
                                         "check the forcing's size, or pass a smaller dt")
                    if courant > 1.0:
                        raise ValueError(
                            f"the flow violates the CFL bound at t={t_now:.3g} (Courant number "
                            f"{courant:.3g} > 1); pass a smaller dt"
                        )
            out[:, snap] = solver.irfft(w_hat)
            bar.update(steps_per_snapshot)
    return out, np.linspace(0.0, t_final, n_snapshots)


def random_vorticity(
    n_samples: int,
    resolution: int,
    *,
    dtype: Any = np.float64,
    random_state: Any = None,
) -> np.ndarray:
    r"""Initial vorticity fields: a mean-zero Gaussian random field on the unit torus.

    ``w0 = Re sum_k sqrt(lambda_k) xi_k exp(2 pi i k.x)`` with complex standard normal ``xi_k`` for
    ``|k_1|, |k_2| <= 32`` (drawn whatever the grid, then truncated to the modes the grid resolves)
    and :math:`\lambda_k = 7^3 (4 \pi^2 |k|^2 + 49)^{-5/2}`, :math:`\lambda_0 = 0`.

    Returns
    -------
    ndarray (n_samples, resolution, resolution), host memory.

    Examples
    --------
    >>> from physics.pde import random_vorticity
    >>> w = random_vorticity(1, 32, random_state=0)
    >>> w.shape, abs(float(w.mean())) < 1e-12
    ((1, 32, 32), True)
    """
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    resolution = check_int(resolution, "resolution", minimum=2)
    dtype = check_dtype(dtype)
    rng = check_random_state(random_state)
    check_allocation((n_samples, resolution, resolution), np.complex128, "the random vorticity's spectrum",
                     count=2, alternative="fewer samples per call")
    k = np.arange(-GRF_MODES, GRF_MODES + 1)
    xi = rng.standard_normal((n_samples, k.size, k.size, 2)) @ np.array([1.0, 1.0j])
    sqrt_eig = (
        GRF_TAU ** (GRF_ALPHA - 1.0)  # 7^(3/2): the reference code's sigma
        * (4 * np.pi**2 * (k[:, None] ** 2 + k[None, :] ** 2) + GRF_TAU**2) ** (-GRF_ALPHA / 2)
    )
    sqrt_eig[GRF_MODES, GRF_MODES] = 0.0
    keep = np.abs(k) < resolution // 2  # modes the grid resolves (Nyquist dropped)
    spectrum = np.zeros((n_samples, resolution, resolution), dtype=np.complex128)
    kk = k[keep] % resolution
    spectrum[:, kk[:, None], kk[None, :]] = (sqrt_eig * xi)[:, keep][:, :, keep]
    field = np.fft.ifft2(spectrum).real * resolution**2
    return field.astype(dtype)


def fno_forcing(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    r""":math:`f(x, y) = 0.1 (\sin 2\pi(x + y) + \cos 2\pi(x + y))`, the FNO paper's forcing."""
    s = 2 * np.pi * (np.asarray(x) + np.asarray(y))
    return 0.1 * (np.sin(s) + np.cos(s))


def save_navier_stokes(path: str | os.PathLike, w: Any, times: Any) -> None:
    """Write vorticity snapshots ``(n, T, R, R)`` and their times to a versioned ``.npz``, atomically.

    Raises
    ------
    TypeError
        ``w`` or ``times`` not real numbers.
    ValueError
        Non-finite entries, ``w`` not ``(n, T, ny, nx)``, ``times`` not ``T`` increasing values.
    """
    w = to_numpy(as_float_array(w, "w", allow_complex=False))
    times = to_numpy(as_float_array(times, "times", allow_complex=False)).astype(np.float64)
    if times.ndim != 1 or (times.size > 1 and not bool(np.all(np.diff(times) > 0))):
        raise ValueError(f"times must be increasing snapshot times (T,), got {times!r}")
    if w.ndim != 4 or w.shape[1] != times.shape[0]:
        raise ValueError(
            f"w must have shape (n_samples, n_snapshots, R, R) matching times of length "
            f"{times.shape[0]}, got {w.shape}"
        )
    save_archive(path, _FORMAT, _VERSION, w=w, times=times)


def load_navier_stokes(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read a dataset written by :func:`save_navier_stokes`; returns ``(w, times)``."""
    data = load_archive(path, _FORMAT, _VERSION, nonfinite="raise")
    if set(data) != {"w", "times"}:
        raise ValueError(f"{str(path)!r} is not a Navier-Stokes dataset: it holds {sorted(data)}")
    for key, ndim in (("w", 4), ("times", 1)):
        if data[key].dtype.kind != "f" or data[key].ndim != ndim:
            raise ValueError(f"{str(path)!r} is not a Navier-Stokes dataset: {key} has dtype "
                             f"{data[key].dtype} and shape {data[key].shape}")
    return data["w"], data["times"]


# ---------------------------------------------------------------------------------- internals
class _SpectralSolver:
    """Wavenumbers, dealiasing mask and one Crank-Nicolson / explicit Euler step on rfft2 grids."""

    def __init__(self, n: int, viscosity: float, dtype: np.dtype, xp: Any):
        self.fft = importlib.import_module(f"{scipy_for(xp).__name__}.fft")
        self.xp = xp
        self.n = n
        self.dtype = dtype
        on_gpu = not is_numpy_namespace(xp)
        self.backend = "cupy" if on_gpu else "numba"
        # scipy's pocketfft runs a batch of transforms on several threads; as many as Numba may use,
        # so thread_limits() and NUMBA_NUM_THREADS bound the generator as they bound the kernels
        self.fft_options = {} if on_gpu else {"workers": numba.get_num_threads()}
        kx = 2 * np.pi * np.fft.fftfreq(n, 1.0 / n)
        ky = 2 * np.pi * np.fft.rfftfreq(n, 1.0 / n)
        self.kx, self.ky = xp.asarray(kx.astype(dtype)), xp.asarray(ky.astype(dtype))
        lap = kx[:, None] ** 2 + ky[None, :] ** 2
        lap[0, 0] = 1.0  # the mean mode: psi_0 = w_0 = 0 anyway
        self.inv_lap = xp.asarray((1.0 / lap).astype(dtype))
        self.lap = xp.asarray(lap.astype(dtype))
        k_max = n // 2
        k = np.fft.fftfreq(n, 1.0 / n)
        self.dealias = xp.asarray(
            ((np.abs(k[:, None]) <= 2 / 3 * k_max) & (np.abs(k[None, : n // 2 + 1]) <= 2 / 3 * k_max))
            .astype(dtype)
        )
        self.viscosity = viscosity
        self._spectra = None  # (4, B, n, m) buffer for the velocity and gradient spectra

    def rfft(self, w):
        return self.fft.rfft2(w, axes=(-2, -1), **self.fft_options)

    def irfft(self, w_hat):
        return self.fft.irfft2(w_hat, s=(self.n, self.n), axes=(-2, -1), **self.fft_options)

    def speed(self, w_hat):
        psi_hat = w_hat * self.inv_lap
        u, v = self.irfft(self.xp.stack([1j * self.ky[None, :] * psi_hat, -1j * self.kx[:, None] * psi_hat]))
        return self.xp.hypot(u, v)  # u * u overflows for vorticities of 1e160 (float32: 1e20)

    def step(self, w_hat, f_hat, dt: float):
        """One step, written into ``w_hat``: four inverse transforms in one call for
        ``u = d_y psi``, ``v = -d_x psi`` and the vorticity gradient, one forward transform of the
        advection term, the rest fused in :mod:`physics._kernels`."""
        if self._spectra is None or self._spectra.shape[1:] != w_hat.shape:
            self._spectra = self.xp.empty((4, *w_hat.shape), dtype=w_hat.dtype)
        spectra = vorticity_gradients(w_hat, self.inv_lap, self.kx, self.ky, self._spectra, self.backend)
        fields = self.irfft(spectra)
        product = advection(fields, fields[0], self.backend)  # u is not needed after the product
        return crank_nicolson_step(w_hat, self.rfft(product), f_hat, self.lap, self.dealias, dt,
                                   self.viscosity, self.backend)


def _grid_values(value: Any, x: np.ndarray, name: str, dtype: np.dtype) -> np.ndarray:
    n = x.size
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an array or a callable f(x, y), got {value!r}")
    if callable(value):
        # as_float_array, not a cast to float64: None would become NaN, complex values lose their
        # imaginary part
        out = to_numpy(as_float_array(value(x[:, None], x[None, :]), name, allow_complex=False,
                                      check_finite=False))
        try:
            out = np.broadcast_to(out, (n, n))
        except ValueError:
            raise ValueError(
                f"{name}(x, y) must give values on the ({n}, {n}) grid, got shape {out.shape}"
            ) from None
    else:
        out = to_numpy(as_float_array(value, name, allow_complex=False))
    return as_float_array(np.array(out, dtype=dtype), name, allow_complex=False)


def _initial_vorticity(initial, n_samples, n, dtype, random_state):
    if initial is None:
        return random_vorticity(n_samples, n, dtype=dtype, random_state=random_state)
    x = np.arange(n) / n
    w0 = _grid_values(initial, x, "initial", dtype)
    if w0.shape == (n, n):
        w0 = np.broadcast_to(w0, (n_samples, n, n))
    if w0.shape != (n_samples, n, n):
        raise ValueError(
            f"initial must have shape ({n}, {n}) or ({n_samples}, {n}, {n}) on this periodic grid, "
            f"got {w0.shape}"
        )
    return w0 - w0.mean(axis=(-2, -1), keepdims=True)


def _forcing(forcing, x, dtype):
    if forcing is None:
        return None
    if isinstance(forcing, str):
        check_choice(forcing, "forcing", ("fno",))
        forcing = fno_forcing
    f = _grid_values(forcing, x, "forcing", dtype)
    if f.shape != (x.size, x.size):
        raise ValueError(f"forcing must have shape ({x.size}, {x.size}), got {f.shape}")
    return f
