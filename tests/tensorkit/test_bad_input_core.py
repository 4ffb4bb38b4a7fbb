"""Bad-input catalogue for the core's decompositions, tenalg, formats, Chebyshev-Tucker and the
``tensorkit compress`` command (issue 10).

Every case asserts the exception type (the policy of :mod:`tensorkit._validation`: wrong type ->
TypeError, wrong value -> ValueError, cannot fit -> MemoryError) and that the message names the
argument at fault. Each runs under a time limit: no case may hang.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import warnings

import numpy as np
import pytest

import tensorkit
from tensorkit import CPTensor, TTTensor, TuckerTensor, tenalg
from tensorkit.chebyshev import (
    ChebTucker,
    chebyshev_points,
    chebyshev_vandermonde,
    coefficients_to_values,
    values_to_coefficients,
)
from tensorkit.decomposition import check_multilinear_rank, check_ranks, resolve_rank
from tensorkit.decomposition.linalg import leading_subspace

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 5, 6))
M = RNG.standard_normal((4, 5))
F3 = [RNG.standard_normal((n, 2)) for n in (4, 5, 6)]
IDX = np.array([[0, 1, 2], [1, 2, 3], [3, 4, 5]])
VAL = np.array([1.0, -2.0, 0.5])
BOX = [(-1.0, 1.0)] * 2
NAN = float("nan")
INF = float("inf")


def f2(x, y):
    return np.exp(x * y)


F = ChebTucker.from_function(f2, BOX, tol=1e-8)

# (id, call, exception type, regex the message must match: it names the argument)
CASES = [
    # ---------------------------------------------------------------- tucker
    ("tucker-list-of-str", lambda: tensorkit.tucker([["a"]], 1), TypeError, "tensor"),
    ("tucker-object", lambda: tensorkit.tucker(object(), 1), TypeError, "tensor"),
    ("tucker-nan", lambda: tensorkit.tucker(np.full((3, 3), NAN), 1), ValueError, "tensor.*non-finite"),
    ("tucker-inf", lambda: tensorkit.tucker(np.full((3, 3), INF), 1), ValueError, "tensor.*non-finite"),
    ("tucker-vector", lambda: tensorkit.tucker(np.ones(4), 1), ValueError, "tensor must have order >= 2"),
    (
        "tucker-empty-mode",
        lambda: tensorkit.tucker(np.ones((0, 3)), 1),
        ValueError,
        "tensor has an empty mode",
    ),
    ("tucker-string-tensor", lambda: tensorkit.tucker(np.array([["a"]]), 1), TypeError, "tensor"),
    (
        "tucker-already-tucker",
        lambda: tensorkit.tucker(TuckerTensor(np.ones((1, 1)), [np.ones((2, 1))] * 2), 1),
        TypeError,
        "tensor is already a TuckerTensor",
    ),
    ("tucker-rank-and-tol", lambda: tensorkit.tucker(X, 2, tol=0.1), ValueError, "rank and tol"),
    ("tucker-neither", lambda: tensorkit.tucker(X), ValueError, "rank and tol"),
    ("tucker-rank-0", lambda: tensorkit.tucker(X, 0), ValueError, "rank"),
    ("tucker-rank-negative", lambda: tensorkit.tucker(X, (2, -1, 2)), ValueError, "rank"),
    ("tucker-rank-too-big", lambda: tensorkit.tucker(X, (2, 9, 2)), ValueError, r"rank\[1\]=9 exceeds"),
    ("tucker-rank-wrong-length", lambda: tensorkit.tucker(X, (2, 2)), ValueError, "rank"),
    ("tucker-rank-bool", lambda: tensorkit.tucker(X, True), TypeError, "rank"),
    ("tucker-rank-str", lambda: tensorkit.tucker(X, "2"), TypeError, "rank"),
    (
        "tucker-rank-not-multilinear",
        lambda: tensorkit.tucker(RNG.random((3, 4, 3)), (2, 3, 1)),
        ValueError,
        r"rank \(2, 3, 1\) is not a multilinear rank: r_1=3 > r_0 \* r_2 = 2",
    ),
    (
        "tucker-rank-112",
        lambda: tensorkit.tucker(RNG.random((3, 4, 3)), (1, 1, 2), method="hooi"),
        ValueError,
        "not a multilinear rank",
    ),
    ("tucker-tol-0", lambda: tensorkit.tucker(X, tol=0.0), ValueError, "tol"),
    ("tucker-tol-1", lambda: tensorkit.tucker(X, tol=1.0), ValueError, "tol"),
    ("tucker-tol-nan", lambda: tensorkit.tucker(X, tol=NAN), ValueError, "tol"),
    ("tucker-tol-str", lambda: tensorkit.tucker(X, tol="0.1"), TypeError, "tol"),
    ("tucker-method", lambda: tensorkit.tucker(X, 2, method="svd"), ValueError, "method"),
    ("tucker-n-iter-max-bool", lambda: tensorkit.tucker(X, 2, n_iter_max=True), TypeError, "n_iter_max"),
    (
        "tucker-hooi-n-iter-max-0",
        lambda: tensorkit.tucker(X, 2, method="hooi", n_iter_max=0),
        ValueError,
        "n_iter_max must be >= 1",
    ),
    ("tucker-n-iter-max-float", lambda: tensorkit.tucker(X, 2, n_iter_max=3.0), TypeError, "n_iter_max"),
    ("tucker-stop-tol-nan", lambda: tensorkit.tucker(X, 2, stop_tol=NAN), ValueError, "stop_tol"),
    ("tucker-stop-tol-negative", lambda: tensorkit.tucker(X, 2, stop_tol=-1.0), ValueError, "stop_tol"),
    (
        "tucker-oversampling-negative",
        lambda: tensorkit.tucker(X, 2, method="randomized", oversampling=-1),
        ValueError,
        "oversampling",
    ),
    (
        "tucker-n-power-iter-negative",
        lambda: tensorkit.tucker(X, 2, method="randomized", n_power_iter=-2),
        ValueError,
        "n_power_iter",
    ),
    (
        "tucker-mode-order-str",
        lambda: tensorkit.tucker(X, 2, mode_order=["a", 1, 2]),
        TypeError,
        r"mode_order\[0\]",
    ),
    (
        "tucker-mode-order-not-permutation",
        lambda: tensorkit.tucker(X, 2, mode_order=[0, 0, 1]),
        ValueError,
        "mode_order",
    ),
    ("tucker-mode-order-length", lambda: tensorkit.tucker(X, 2, mode_order=[0, 1]), ValueError, "mode_order"),
    (
        "tucker-mode-order-bool",
        lambda: tensorkit.tucker(X, 2, mode_order=[True, 0, 2]),
        TypeError,
        "mode_order",
    ),
    (
        "tucker-random-state",
        lambda: tensorkit.tucker(X, 2, method="randomized", random_state="x"),
        TypeError,
        "random_state",
    ),
    ("tucker-backend", lambda: tensorkit.tucker(X, 2, backend="torch"), ValueError, "backend"),
    (
        "tucker-norm-overflows",
        lambda: tensorkit.tucker(np.full((4, 4), 1e308), tol=0.1),
        ValueError,
        "tensor has a Frobenius norm above the float range",
    ),
    # ---------------------------------------------------------------- tt
    ("tt-list-of-str", lambda: tensorkit.tt([["a", "b"]], 1), TypeError, "tensor"),
    ("tt-nan", lambda: tensorkit.tt(np.full((3, 3), NAN), 1), ValueError, "tensor"),
    ("tt-vector", lambda: tensorkit.tt(np.ones(3), 1), ValueError, "tensor must have order >= 2"),
    ("tt-both", lambda: tensorkit.tt(X, 2, tol=0.1), ValueError, "rank and tol"),
    ("tt-rank-0", lambda: tensorkit.tt(X, 0), ValueError, "rank"),
    ("tt-rank-bool", lambda: tensorkit.tt(X, False), TypeError, "rank"),
    ("tt-rank-length", lambda: tensorkit.tt(X, (1, 2, 3, 4, 5, 6)), ValueError, "rank"),
    ("tt-tol-2", lambda: tensorkit.tt(X, tol=2.0), ValueError, "tol"),
    ("tt-tol-inf", lambda: tensorkit.tt(X, tol=INF), ValueError, "tol"),
    ("tt-already-tt", lambda: tensorkit.tt(TTTensor([np.ones((1, 2, 1))] * 2), 1), TypeError, "tensor"),
    (
        "tt-norm-overflows",
        lambda: tensorkit.tt(np.full((4, 4), 1e308), tol=0.1),
        ValueError,
        "tensor has a Frobenius norm",
    ),
    # ---------------------------------------------------------------- cp
    ("cp-rank-0", lambda: tensorkit.cp(X, 0), ValueError, "rank"),
    ("cp-rank-bool", lambda: tensorkit.cp(X, True), TypeError, "rank"),
    ("cp-rank-huge", lambda: tensorkit.cp(X, 10**6), MemoryError, r"rank=1000000.*GiB.*tucker/tt"),
    ("cp-rank-huge-sparse", lambda: tensorkit.cp((IDX, VAL, (4, 5, 6)), 10**7), MemoryError, "rank=10000000"),
    ("cp-n-iter-max-bool", lambda: tensorkit.cp(X, 2, n_iter_max=True), TypeError, "n_iter_max"),
    ("cp-n-iter-max-0", lambda: tensorkit.cp(X, 2, n_iter_max=0), ValueError, "n_iter_max"),
    ("cp-stop-tol-nan", lambda: tensorkit.cp(X, 2, stop_tol=NAN), ValueError, "stop_tol"),
    ("cp-stop-tol-str", lambda: tensorkit.cp(X, 2, stop_tol="1e-3"), TypeError, "stop_tol"),
    ("cp-init", lambda: tensorkit.cp(X, 2, init="hosvd"), ValueError, "init"),
    ("cp-init-wrong-rank", lambda: tensorkit.cp(X, 3, init=CPTensor(np.ones(2), F3)), ValueError, "init"),
    ("cp-nan", lambda: tensorkit.cp(np.full((3, 3), NAN), 1), ValueError, "tensor"),
    ("cp-empty-mode", lambda: tensorkit.cp(np.ones((0, 3, 2)), 1), ValueError, "tensor has an empty mode"),
    ("cp-coo-length", lambda: tensorkit.cp((IDX, VAL), 1), ValueError, "sparse tensor"),
    ("cp-coo-shape-0", lambda: tensorkit.cp((IDX, VAL, (4, 0, 6)), 1), ValueError, r"shape\[1\]"),
    ("cp-coo-index-out", lambda: tensorkit.cp((IDX, VAL, (2, 5, 6)), 1), ValueError, r"indices\[:, 0\]"),
    ("cp-coo-float-indices", lambda: tensorkit.cp((IDX * 1.0, VAL, (4, 5, 6)), 1), TypeError, "indices"),
    (
        "cp-coo-nan-values",
        lambda: tensorkit.cp((IDX, np.array([1.0, NAN, 2.0]), (4, 5, 6)), 1),
        ValueError,
        "values",
    ),
    ("cp-coo-values-length", lambda: tensorkit.cp((IDX, VAL[:2], (4, 5, 6)), 1), ValueError, "values"),
    ("cp-tol-and-stop-tol", lambda: tensorkit.cp(X, 2, tol=1e-3, stop_tol=1e-4), TypeError, "stop_tol"),
    ("cp-backend", lambda: tensorkit.cp(X, 2, backend="jax"), ValueError, "backend"),
    # ---------------------------------------------------------------- ranks
    ("resolve-rank-factorization", lambda: resolve_rank("parafac", (3, 3), 1), ValueError, "factorization"),
    ("resolve-rank-fraction-0", lambda: resolve_rank("tucker", (3, 3), 0.0), ValueError, "rank"),
    ("check-ranks-too-big", lambda: check_ranks((4, 4), (3, 3)), ValueError, r"rank\[0\]=4"),
    ("check-multilinear", lambda: check_multilinear_rank((1, 5, 2)), ValueError, "r_1=5"),
    ("leading-subspace-neither", lambda: leading_subspace(M, xp=np), ValueError, "rank and threshold"),
    ("leading-subspace-rank", lambda: leading_subspace(M, rank=5, xp=np), ValueError, "rank must be <= 4"),
    (
        "leading-subspace-threshold",
        lambda: leading_subspace(M, threshold=NAN, xp=np),
        ValueError,
        "threshold",
    ),
    # ---------------------------------------------------------------- tenalg
    ("unfold-list", lambda: tenalg.unfold([[1.0, 2.0]], 0), TypeError, "tensor must be an array"),
    ("unfold-mode-out", lambda: tenalg.unfold(X, 3), ValueError, "mode"),
    ("unfold-mode-float", lambda: tenalg.unfold(X, 1.0), TypeError, "mode"),
    ("unfold-mode-bool", lambda: tenalg.unfold(X, True), TypeError, "mode"),
    ("fold-shape-mismatch", lambda: tenalg.fold(M, 0, (4, 6)), ValueError, "shape"),
    ("fold-list", lambda: tenalg.fold([[1.0]], 0, (1, 1)), TypeError, "unfolded"),
    (
        "mode-dot-mismatch",
        lambda: tenalg.mode_dot(X, np.ones((3, 3)), 0),
        ValueError,
        r"matrix.*tensor.shape\[0\]",
    ),
    ("mode-dot-list", lambda: tenalg.mode_dot(X, [[1.0]], 0), TypeError, "matrix"),
    ("mode-dot-mode", lambda: tenalg.mode_dot(X, np.ones((2, 4)), -4), ValueError, "mode"),
    (
        "multi-mode-dot-count",
        lambda: tenalg.multi_mode_dot(X, [np.ones((2, 4))], modes=[0, 1]),
        ValueError,
        "matrices",
    ),
    ("multi-mode-dot-skip", lambda: tenalg.multi_mode_dot(X, F3, skip=7, transpose=True), ValueError, "skip"),
    ("vandermonde-2d", lambda: chebyshev_vandermonde(np.zeros((2, 2)), 3), ValueError, "x must be a 1-D"),
    (
        "vandermonde-huge",
        lambda: chebyshev_vandermonde(np.zeros(10**6), 10**8),
        MemoryError,
        "chebyshev_vandermonde",
    ),
    (
        "khatri-rao-columns",
        lambda: tenalg.khatri_rao([np.ones((2, 2)), np.ones((3, 3))]),
        ValueError,
        r"matrices\[1\]|columns",
    ),
    ("khatri-rao-list", lambda: tenalg.khatri_rao([[[1.0]], np.ones((3, 1))]), TypeError, r"matrices\[0\]"),
    ("mttkrp-factor-count", lambda: tenalg.mttkrp(X, F3[:2], 0), ValueError, "factors"),
    ("mttkrp-factor-shape", lambda: tenalg.mttkrp(X, [F3[0], F3[0], F3[2]], 0), ValueError, r"factors\[1\]"),
    (
        "mttkrp-coo-str-values",
        lambda: tenalg.mttkrp((IDX, np.array(["a", "b", "c"]), (4, 5, 6)), F3, 0),
        TypeError,
        "values",
    ),
    (
        "mttkrp-coo-indices-shape",
        lambda: tenalg.mttkrp((IDX[:, :2], VAL, (4, 5, 6)), F3, 0),
        ValueError,
        "indices",
    ),
    ("mttkrp-vector", lambda: tenalg.mttkrp(np.ones(3), [np.ones((3, 1))], 0), ValueError, "order >= 2"),
    # ---------------------------------------------------------------- formats
    (
        "tucker-tensor-factor-count",
        lambda: TuckerTensor(np.ones((2, 2)), [np.ones((3, 2))]),
        ValueError,
        "core has 2 modes but 1 factors",
    ),
    (
        "tucker-tensor-factor-shape",
        lambda: TuckerTensor(np.ones((2, 2)), [np.ones((3, 2)), np.ones((3, 3))]),
        ValueError,
        r"factors\[1\]",
    ),
    ("tucker-tensor-str", lambda: TuckerTensor("core", [np.ones((3, 1))]), TypeError, "core"),
    ("tucker-tensor-factors-int", lambda: TuckerTensor(np.ones((1,)), 3), TypeError, "factors"),
    ("cp-tensor-no-factors", lambda: CPTensor(np.ones(2), []), ValueError, "factor"),
    ("cp-tensor-weights", lambda: CPTensor(np.ones(3), F3), ValueError, "weights"),
    ("cp-tensor-str", lambda: CPTensor(np.ones(2), [["a", "b"]]), TypeError, r"factors\[0\]"),
    ("tt-tensor-ranks", lambda: TTTensor([np.ones((1, 2, 2)), np.ones((3, 2, 1))]), ValueError, "cores"),
    ("tt-tensor-boundary", lambda: TTTensor([np.ones((2, 2, 1))]), ValueError, "cores"),
    ("tt-tensor-empty", lambda: TTTensor([]), ValueError, "core"),
    (
        "dense-too-big",
        lambda: TuckerTensor(np.ones((1,) * 4), [np.ones((10**5, 1))] * 4).to_dense(),
        MemoryError,
        "the dense tensor.*factored form",
    ),
    ("load-missing", lambda: TuckerTensor.load("/nonexistent/x.npz"), ValueError, "x.npz"),
    # ---------------------------------------------------------------- chebyshev
    ("points-m-0", lambda: chebyshev_points(0), ValueError, "m"),
    ("points-m-float", lambda: chebyshev_points(3.0), TypeError, "m"),
    ("points-huge", lambda: chebyshev_points(10**12), MemoryError, r"chebyshev_points\(m=10+\).*GiB"),
    ("points-domain-reversed", lambda: chebyshev_points(3, (1, -1)), ValueError, "domain"),
    ("points-domain-nan", lambda: chebyshev_points(3, (NAN, 1)), ValueError, "domain"),
    ("points-device", lambda: chebyshev_points(3, device="tpu"), ValueError, "device"),
    ("vandermonde-m", lambda: chebyshev_vandermonde(np.zeros(3), 0), ValueError, "m"),
    ("values-to-coefficients-str", lambda: values_to_coefficients(np.array(["a", "b"])), TypeError, "values"),
    (
        "coefficients-to-values-axis",
        lambda: coefficients_to_values(np.ones((3, 3)), axes=5),
        ValueError,
        "ax",
    ),
    ("constant-nan", lambda: ChebTucker.constant(NAN, BOX), ValueError, "value"),
    ("constant-inf", lambda: ChebTucker.constant(INF, BOX), ValueError, "value"),
    ("constant-complex", lambda: ChebTucker.constant(1j, BOX), TypeError, "value"),
    ("constant-dtype", lambda: ChebTucker.constant(1.0, BOX, dtype=np.int32), TypeError, "dtype"),
    ("mul-nan", lambda: F * NAN, ValueError, "other"),
    ("rmul-inf", lambda: INF * F, ValueError, "other"),
    ("mul-overflow", lambda: (F * 1e300) * 1e300, ValueError, "other.*overflows"),
    ("div-nan", lambda: F / NAN, ValueError, "other"),
    ("div-zero", lambda: F / 0.0, ZeroDivisionError, "zero"),
    ("add-nan", lambda: F + NAN, ValueError, "other"),
    ("sub-inf", lambda: F - INF, ValueError, "other"),
    ("mul-complex", lambda: F * 1j, TypeError, "other"),
    ("from-function-tol", lambda: ChebTucker.from_function(f2, BOX, tol=0.0), ValueError, "tol"),
    ("from-function-domain", lambda: ChebTucker.from_function(f2, [(1, 1)] * 2), ValueError, "domain"),
    ("from-function-degree", lambda: ChebTucker.from_function(f2, BOX, degree=-1), ValueError, "degree"),
    (
        "from-function-max-degree",
        lambda: ChebTucker.from_function(f2, BOX, max_degree=True),
        TypeError,
        "max_degree",
    ),
    ("from-function-nan", lambda: ChebTucker.from_function(lambda x, y: x / 0 * y, BOX), ValueError, "f"),
    (
        "from-function-shape",
        lambda: ChebTucker.from_function(lambda x, y: 1.0, BOX),
        ValueError,
        "f must return",
    ),
    (
        "from-function-huge-degree",
        lambda: ChebTucker.from_function(f2, BOX, degree=10**7),
        MemoryError,
        "grid",
    ),
    ("from-values-nan", lambda: ChebTucker.from_values(np.full((3, 3), NAN), BOX), ValueError, "values"),
    (
        "from-values-ndim",
        lambda: ChebTucker.from_values(np.ones((3, 3)), [(-1, 1)] * 3),
        ValueError,
        "domain|values",
    ),
    (
        "from-cp-weights",
        lambda: ChebTucker.from_cp(np.ones(2), [np.ones((5, 3))] * 2, BOX),
        ValueError,
        r"factors\[0\]",
    ),
    ("round-rank-0", lambda: F.round(rank=0), ValueError, "rank"),
    ("evaluate-outside", lambda: F(np.array([[2.0, 0.0]])), ValueError, "points|outside"),
    ("evaluate-shape", lambda: F(np.ones((2, 3))), ValueError, "points"),
    ("diff-axis", lambda: F.diff(5), ValueError, "axis"),
    ("diff-order", lambda: F.diff(0, order=-1), ValueError, "order"),
    ("combine-domains", lambda: F + ChebTucker.constant(1.0, [(0, 2)] * 2), ValueError, "domain"),
]


@contextlib.contextmanager
def deadline(seconds):
    """Fail, rather than hang, when a refusal takes longer than ``seconds``."""

    def expired(signum, frame):
        raise AssertionError(f"no answer within {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize(("call", "exc", "match"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_refused_naming_the_argument(call, exc, match):
    with deadline(60), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(exc, match=match):
            call()


def test_catalogue_size():
    assert len(CASES) + len(ARCHIVE_CASES) + len(CLI_CASES) >= 80


# ---------------------------------------------------------------- malformed archives
def _archive(path, fmt, **arrays):
    np.savez(path, format=np.asarray(fmt), version=np.asarray(1), **arrays)
    return path


ARCHIVE_CASES = [
    ("tucker-no-core", TuckerTensor, "tensorkit.TuckerTensor", {"factor_0": np.eye(3, 2)}, "core"),
    (
        "tucker-gap",
        TuckerTensor,
        "tensorkit.TuckerTensor",
        {"core": np.ones((2, 2, 2)), "factor_0": np.eye(3, 2), "factor_2": np.eye(3, 2)},
        "factor_1",
    ),
    (
        "tucker-count",
        TuckerTensor,
        "tensorkit.TuckerTensor",
        {"core": np.ones((2, 2, 2)), "factor_0": np.eye(3, 2), "factor_1": np.eye(3, 2)},
        "factors",
    ),
    (
        "tucker-nan",
        TuckerTensor,
        "tensorkit.TuckerTensor",
        {"core": np.full((2,), NAN), "factor_0": np.eye(3, 2)},
        "'core'.*non-finite",
    ),
    ("cp-no-weights", CPTensor, "tensorkit.CPTensor", {"factor_0": np.eye(3, 2)}, "weights"),
    (
        "cp-weights-length",
        CPTensor,
        "tensorkit.CPTensor",
        {"weights": np.ones(3), "factor_0": np.eye(3, 2)},
        "weights",
    ),
    (
        "tt-ranks",
        TTTensor,
        "tensorkit.TTTensor",
        {"core_0": np.ones((1, 3, 2)), "core_1": np.ones((3, 3, 1))},
        "cores",
    ),
    ("tt-none", TTTensor, "tensorkit.TTTensor", {}, "core"),
    (
        "cheb-no-domain",
        ChebTucker,
        "tensorkit.ChebTucker",
        {
            "tol": np.asarray(1e-8),
            "core": np.ones((1, 1)),
            "factor_0": np.ones((1, 1)),
            "factor_1": np.ones((1, 1)),
        },
        "'domain'",
    ),
    (
        "cheb-bad-domain",
        ChebTucker,
        "tensorkit.ChebTucker",
        {
            "domain": np.array([[1.0, -1.0], [-1.0, 1.0]]),
            "tol": np.asarray(1e-8),
            "core": np.ones((1, 1)),
            "factor_0": np.ones((1, 1)),
            "factor_1": np.ones((1, 1)),
        },
        "domain",
    ),
    ("tucker-wrong-format", TuckerTensor, "tensorkit.CPTensor", {"weights": np.ones(1)}, "format"),
    (
        "tucker-str-array",
        TuckerTensor,
        "tensorkit.TuckerTensor",
        {"core": np.array(["a"]), "factor_0": np.eye(1)},
        "'core'",
    ),
]


@pytest.mark.parametrize(
    ("cls", "fmt", "arrays", "match"), [c[1:] for c in ARCHIVE_CASES], ids=[c[0] for c in ARCHIVE_CASES]
)
def test_malformed_archive_names_the_file_and_the_key(tmp_path, cls, fmt, arrays, match):
    path = _archive(tmp_path / "bad.npz", fmt, **arrays)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # one refusal, not a warning and then an error
        with pytest.raises(ValueError, match=match) as info:
            cls.load(path)
    assert "bad.npz" in str(info.value)


def test_garbage_archive(tmp_path):
    path = tmp_path / "garbage.npz"
    path.write_bytes(os.urandom(200))
    for cls in (TuckerTensor, CPTensor, TTTensor, ChebTucker):
        with pytest.raises(ValueError, match="garbage.npz"):
            cls.load(path)


# ---------------------------------------------------------------- tensorkit compress
def _compress(tmp_path, *args):
    return subprocess.run(
        [sys.executable, "-m", "tensorkit.cli", "compress", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


CLI_CASES = [
    ("directory", lambda p: (p / "d.npy").mkdir(), ["d.npy", "--rank", "2", "-o", "o.npz"], "is a directory"),
    (
        "garbage-npy",
        lambda p: (p / "g.npy").write_bytes(os.urandom(300)),
        ["g.npy", "--rank", "2", "-o", "o.npz"],
        "g.npy",
    ),
    (
        "garbage-npz",
        lambda p: (p / "g.npz").write_bytes(os.urandom(300)),
        ["g.npz", "--rank", "2", "-o", "o.npz"],
        "g.npz",
    ),
    (
        "truncated-npy",
        lambda p: (p / "t.npy").write_bytes(b"\x93NUMPY\x01\x00garbage"),
        ["t.npy", "--rank", "2", "-o", "o.npz"],
        "t.npy",
    ),
    ("missing", lambda p: None, ["none.npy", "--rank", "2", "-o", "o.npz"], "does not exist"),
    ("suffix", lambda p: np.save(p / "x.npy", X), ["x.npy", "--rank", "2", "-o", "o.txt"], "--output"),
    ("rank-0", lambda p: np.save(p / "x.npy", X), ["x.npy", "--rank", "0", "-o", "o.npz"], "rank"),
    (
        "rank-not-multilinear",
        lambda p: np.save(p / "x.npy", RNG.random((3, 4, 3))),
        ["x.npy", "--rank", "2", "3", "1", "-o", "o.npz"],
        "not a multilinear rank",
    ),
    ("tol-2", lambda p: np.save(p / "x.npy", X), ["x.npy", "--tol", "2", "-o", "o.npz"], "tol"),
    (
        "nan",
        lambda p: np.save(p / "x.npy", np.full((3, 3), NAN)),
        ["x.npy", "--rank", "1", "-o", "o.npz"],
        "tensor",
    ),
    (
        "string-array",
        lambda p: np.save(p / "x.npy", np.array([["a", "b"]])),
        ["x.npy", "--rank", "1", "-o", "o.npz"],
        "tensor",
    ),
    (
        "output-dir-missing",
        lambda p: np.save(p / "x.npy", X),
        ["x.npy", "--rank", "2", "-o", "no/o.npz"],
        "output directory",
    ),
    (
        "output-is-directory",
        lambda p: (np.save(p / "x.npy", X), (p / "o.npz").mkdir()),
        ["x.npy", "--rank", "2", "-o", "o.npz"],
        "--output.*is a directory",
    ),
    ("npz-key", lambda p: np.savez(p / "x.npz", a=X, b=X), ["x.npz", "--rank", "2", "-o", "o.npz"], "key"),
]


@pytest.mark.parametrize(
    ("setup", "args", "match"), [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES]
)
def test_compress_refuses_bad_input_in_one_line(tmp_path, setup, args, match):
    setup(tmp_path)
    done = _compress(tmp_path, *args)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("tensorkit compress: error: ")
    assert __import__("re").search(match, lines[0]), lines[0]
