"""``tensorkit info`` and :func:`tensorkit.system_info`: what a bug report needs."""

from __future__ import annotations

import numpy as np
import scipy

import tensorkit
from tensorkit.cli import main


def test_system_info_reports_versions_backends_and_threads():
    info = tensorkit.system_info()
    assert info["tensorkit"] == tensorkit.__version__
    assert info["packages"]["numpy"] == np.__version__
    assert info["packages"]["scipy"] == scipy.__version__
    assert info["backends"] == tensorkit.available_backends()
    assert info["numba_threads"] >= 1
    assert info["gpu"] is None or info["gpu"]["memory_gib"] > 0


def test_info_command_prints_one_line_per_fact(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    for word in ("tensorkit", "numpy", "scipy", "numba", "tensorly", "cupy", "dask", "backends", "gpu",
                 "numba cache"):
        assert word in out
    assert f"numpy            {np.__version__}" in out


def test_compress_scheduler_needs_dask(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.ones((3, 4, 5)))
    code = main(["compress", str(tmp_path / "x.npy"), "--rank", "1", "--scheduler", "tcp://127.0.0.1:1",
                 "-o", str(tmp_path / "out.npz")])
    assert code == 2
    assert "--scheduler needs --dask" in capsys.readouterr().err
    assert not (tmp_path / "out.npz").exists()


def test_blas_hint_only_for_avx2_openblas_on_an_avx512_cpu(capsys):
    from tensorkit._sysinfo import blas_kernel_hint, format_system_info

    avx512 = frozenset({"avx2", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"})
    haswell = [{"internal_api": "openblas", "architecture": "Haswell"}]
    assert "OPENBLAS_CORETYPE=SkylakeX" in blas_kernel_hint(haswell, avx512)
    assert blas_kernel_hint(haswell, frozenset({"avx2", "avx512f"})) is None  # no BW/DQ/VL: no SkylakeX
    assert blas_kernel_hint([{"internal_api": "openblas", "architecture": "SkylakeX"}], avx512) is None
    assert blas_kernel_hint([{"internal_api": "mkl", "architecture": None}], avx512) is None
    info = tensorkit.system_info()
    info["blas_hint"] = "advice"
    assert "blas hint        advice" in format_system_info(info)
    info["blas_hint"] = None
    assert "blas hint" not in format_system_info(info)
