"""``tensorkit info``: the versions, threads and devices a bug report needs, in one place."""

from __future__ import annotations

import importlib
import os
import platform
import sys
from typing import Any

from ._version import __version__
from .backend import available_backends, gpu_available

__all__ = ["format_system_info", "system_info"]

_PACKAGES = ("numpy", "scipy", "numba", "tensorly", "array_api_compat", "cupy", "dask", "distributed",
             "h5py", "zarr", "matplotlib", "skfem")


def system_info() -> dict[str, Any]:
    """Versions of tensorkit, Python and the libraries it runs on, BLAS and thread counts, the
    available backends and devices, and the Numba cache directory.

    Nothing is installed or initialized beyond importing the libraries that are present; a CUDA
    device is asked for its name and memory only when CuPy reports one.

    Returns
    -------
    dict
        ``{"tensorkit": ..., "python": ..., "platform": ..., "packages": {name: version or None},
        "blas": [...], "numba_threads": ..., "backends": [...], "gpu": {...} or None,
        "numba_cache_dir": ..., "blas_hint": str or None}``

    Examples
    --------
    >>> from tensorkit import system_info
    >>> info = system_info()
    >>> info["tensorkit"] == __import__("tensorkit").__version__, "numba" in info["backends"]
    (True, True)
    """
    packages = {}
    for name in _PACKAGES:
        try:
            module = importlib.import_module(name)
            packages[name] = str(getattr(module, "__version__", "installed"))
        except Exception:  # absent, or broken without a device (CuPy): both worth reporting
            packages[name] = None
    blas = []
    try:
        from threadpoolctl import threadpool_info

        blas = [
            {k: pool.get(k) for k in ("internal_api", "version", "num_threads", "threading_layer",
                                      "architecture")}
            for pool in threadpool_info()
        ]
    except Exception:
        pass
    import numba

    return {
        "tensorkit": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "packages": packages,
        "blas": blas,
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
        "backends": available_backends(),
        "gpu": _gpu() if gpu_available() else None,
        "numba_cache_dir": numba.config.CACHE_DIR or "(beside the sources, in __pycache__)",
        "blas_hint": blas_kernel_hint(blas, _cpu_flags()),
    }


# The instruction sets OpenBLAS's SkylakeX kernels need (AVX-512 foundation, CD, BW, DQ, VL).
_AVX512_FLAGS = frozenset({"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"})
# OpenBLAS cores that use at most AVX2 although the CPU may have AVX-512.
_AVX2_CORES = frozenset({"haswell", "zen", "sandybridge", "excavator", "steamroller", "piledriver",
                         "bulldozer", "nehalem", "core2", "prescott", "atom", "barcelona"})


def blas_kernel_hint(blas: list[dict[str, Any]], cpu_flags: frozenset[str]) -> str | None:
    """Advice when OpenBLAS runs AVX2 kernels on a CPU that has AVX-512, else None.

    OpenBLAS picks its kernels from the CPU model at load time. On CPUs it does not recognise
    (virtual machines often report a generic "AMD EPYC") it falls back to its Haswell (AVX2)
    kernels even when the operating system exposes AVX-512; forcing the SkylakeX kernels then
    roughly doubles large float32 GEMMs (measured 113 -> 223 GFLOP/s for 512^3 on one core of
    such a machine). The choice is made once, before numpy is imported, so it can only be
    advised, not applied, from here.

    Parameters
    ----------
    blas : list of dict
        :func:`system_info`'s ``"blas"`` entries (``internal_api``, ``architecture``).
    cpu_flags : frozenset of str
        The CPU's feature flags as the operating system reports them (``/proc/cpuinfo``).

    Returns
    -------
    str or None

    Examples
    --------
    >>> pools = [{"internal_api": "openblas", "architecture": "Haswell"}]
    >>> blas_kernel_hint(pools, frozenset({"avx2"})) is None
    True
    >>> flags = frozenset({"avx2", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"})
    >>> blas_kernel_hint(pools, flags).split(";")[0]
    'OpenBLAS runs its Haswell (AVX2) kernels on this AVX-512 CPU'
    """
    if not _AVX512_FLAGS.issubset(cpu_flags):
        return None
    for pool in blas:
        core = str(pool.get("architecture") or "")
        if pool.get("internal_api") == "openblas" and core.lower() in _AVX2_CORES:
            return (f"OpenBLAS runs its {core} (AVX2) kernels on this AVX-512 CPU; start Python with "
                    "OPENBLAS_CORETYPE=SkylakeX for about 2x faster large GEMMs")
    return None


def _cpu_flags() -> frozenset[str]:
    """The CPU feature flags Linux reports (empty elsewhere: no advice is better than a guess)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.partition(":")[2].split())
    except OSError:
        pass
    return frozenset()


def format_system_info(info: dict[str, Any] | None = None) -> str:
    """:func:`system_info` as the text block the bug-report template asks for."""
    info = system_info() if info is None else info
    lines = [
        f"tensorkit        {info['tensorkit']}",
        f"python           {info['python']} ({info['platform']}, {info['cpu_count']} CPUs)",
    ]
    for name, version in info["packages"].items():
        lines.append(f"{name:<16} {version or 'not installed'}")
    for pool in info["blas"]:
        lines.append(
            f"threads          {pool['internal_api']} {pool['version'] or ''} x{pool['num_threads']}"
            + (f" ({pool['threading_layer']})" if pool.get("threading_layer") else "")
            + (f", {pool['architecture']} kernels" if pool.get("architecture") else "")
        )
    lines.append(f"numba threads    {info['numba_threads']}")
    if info.get("blas_hint"):
        lines.append(f"blas hint        {info['blas_hint']}")
    lines.append(f"backends         {', '.join(info['backends'])}")
    gpu = info["gpu"]
    lines.append(
        "gpu              none" if gpu is None
        else f"gpu              {gpu['name']} ({gpu['memory_gib']:.1f} GiB, CUDA runtime {gpu['cuda']})"
    )
    lines.append(f"numba cache      {info['numba_cache_dir']}")
    return "\n".join(lines)


def _gpu() -> dict[str, Any]:
    import cupy

    device = cupy.cuda.Device()
    props = cupy.cuda.runtime.getDeviceProperties(device.id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    return {
        "name": name,
        "memory_gib": device.mem_info[1] / 2**30,
        "cuda": cupy.cuda.runtime.runtimeGetVersion(),
    }
