"""The house conventions on tucker, cp and tt: one validation policy, keyword-only controls,
cp's renamed stop_tol, ranks through the one parser, xp handed to tenalg, plots that leave
matplotlib alone."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import tensorkit
from tensorkit import CPTensor, TTTensor, TuckerTensor, cp, tt, tucker
from tensorkit.decomposition import check_ranks, cp_rank, tt_rank, tucker_rank

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 5, 6))


# ----------------------------------------------------------------------------- signatures


@pytest.mark.parametrize(
    ("function", "controls"),
    [
        (tucker, ["tol", "stop_tol", "n_iter_max", "random_state", "backend", "progress"]),
        (cp, ["tol", "stop_tol", "n_iter_max", "random_state", "backend", "progress"]),
        (tt, ["tol", "backend", "progress"]),
    ],
)
def test_controls_are_keyword_only_and_rank_stays_positional(function, controls):
    params = inspect.signature(function).parameters
    assert params["rank"].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    for name in controls:
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY, name


def test_a_positional_control_is_refused():
    with pytest.raises(TypeError, match="positional argument"):
        tucker(X, 2, 0.1)
    with pytest.raises(TypeError, match="positional argument"):
        tt(X, None, 0.1)
    with pytest.raises(TypeError, match="positional argument"):
        cp(X, 2, 10)


# ----------------------------------------------------------------------- cp: tol -> stop_tol


def test_cp_old_tol_keyword_warns_and_means_stop_tol():
    Y = CPTensor(np.ones(2), [RNG.standard_normal((n, 2)) for n in (6, 7, 8)]).to_dense()
    Y = Y + 1e-3 * RNG.standard_normal(Y.shape)
    with pytest.warns(DeprecationWarning, match="renamed stop_tol") as record:
        old = cp(Y, 2, tol=1e-6, random_state=0)
    assert record[0].filename == __file__  # points at the caller
    new = cp(Y, 2, stop_tol=1e-6, random_state=0)
    assert old.info.history == new.info.history
    with pytest.raises(TypeError, match="give stop_tol only"):
        cp(Y, 2, tol=1e-6, stop_tol=1e-4)


def test_cp_stop_tol_without_the_old_name_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        cp(X, 2, stop_tol=1e-3, n_iter_max=500)


# -------------------------------------------------------------------------- validation policy


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: tucker(X, 2, method="hooi", n_iter_max=True), TypeError,
         "n_iter_max must be an int, got True"),
        (lambda: tucker(X, 2, n_iter_max=0), ValueError, "n_iter_max must be >= 1, got 0"),
        (lambda: tucker(X, 2, stop_tol=-1e-3), ValueError, "stop_tol must be >= 0.0, got -0.001"),
        (lambda: tucker(X, 2, stop_tol=float("nan")), ValueError, "stop_tol must be finite"),
        (lambda: tucker(X, 2, oversampling=-1), ValueError, "oversampling must be >= 0, got -1"),
        (lambda: tucker(X, 2, n_power_iter=1.0), TypeError, "n_power_iter must be an int, got 1.0"),
        (lambda: tucker(X, 2, mode_order=(0, 1.0, 2)), TypeError,
         r"mode_order\[1\] must be an int, got 1.0"),
        (lambda: tucker(X, 2, mode_order=(0, 1)), ValueError, "mode_order needs 3 entries"),
        (lambda: tucker(X, tol="0.1"), TypeError, "tol must be a real number, got '0.1'"),
        (lambda: tucker(np.ones((3, 0, 2)), 1), ValueError, "tensor has an empty mode"),
        (lambda: cp(X, 2, n_iter_max=True), TypeError, "n_iter_max must be an int, got True"),
        (lambda: cp(X, 2, n_iter_max=2.0), TypeError, "n_iter_max must be an int, got 2.0"),
        (lambda: cp(X, 2, stop_tol=-1.0), ValueError, "stop_tol must be >= 0.0, got -1.0"),
        (lambda: cp(X, True), TypeError, "a CP rank must be an int or a float fraction, got True"),
        (lambda: cp(X, 2, init=True), ValueError, r"init must be one of \('svd', 'random'\)"),
        # cp's own copy of the dense check used to skip this one
        (lambda: cp(np.ones((3, 0, 2)), 1), ValueError, "tensor has an empty mode"),
        (lambda: cp((np.zeros((1, 3), int), np.ones(1), (2, 0, 2)), 1), ValueError,
         r"shape\[1\] must be >= 1, got 0"),
        (lambda: cp((np.zeros((1, 2), int), np.ones(1)), 1), ValueError,
         r"\(indices, values, shape\), got a tuple of length 2"),
        (lambda: tt(X, tol=True), TypeError, "tol must be a real number, got True"),
        (lambda: tt(X, tol=0.0), ValueError, "tol must be > 0.0, got 0.0"),
        (lambda: tt(X, rank=True), TypeError, "rank must be an int or a sequence of ints, got True"),
        (lambda: tt(np.ones((3, 0)), rank=1), ValueError, "tensor has an empty mode"),
        (lambda: tt(X, rank=2, backend="cupy"), ValueError, "backend='cupy' needs CuPy arrays"),
    ],
)
def test_bad_controls_follow_the_policy(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("function", [tucker, cp, tt])
@pytest.mark.parametrize("make", [
    lambda: TuckerTensor(np.ones((1, 1)), [np.ones((3, 1)), np.ones((4, 1))]),
    lambda: CPTensor(np.ones(1), [np.ones((3, 1)), np.ones((4, 1))]),
    lambda: TTTensor([np.ones((1, 3, 1)), np.ones((1, 4, 1))]),
])
def test_a_low_rank_format_is_refused_with_the_way_out(function, make):
    with pytest.raises(TypeError, match=r"already a \w+Tensor; pass tensor.to_dense\(\)"):
        function(make(), 1)


@pytest.mark.parametrize("function", [tucker, cp, tt])
def test_nested_lists_are_decomposed_like_arrays(function):
    kwargs = {"random_state": 0} if function is not tt else {}
    Y = np.arange(24.0).reshape(2, 3, 4) % 5
    from_list = function(Y.tolist(), 2, **kwargs)
    from_array = function(Y, 2, **kwargs)
    np.testing.assert_allclose(from_list.to_dense(), from_array.to_dense(), rtol=1e-12)


# ------------------------------------------------------------------------ the one rank parser


def test_fractional_ranks_mean_what_resolve_rank_says():
    Y = RNG.standard_normal((8, 9, 10))
    assert tucker(Y, 0.3).ranks == tucker_rank(0.3, Y.shape)
    assert tt(Y, 0.3).ranks == tt_rank(0.3, Y.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert cp(Y, 0.3, n_iter_max=2).rank == cp_rank(0.3, Y.shape)


def test_check_ranks_is_tucker_rank_bounded_by_the_shape():
    assert check_ranks(2, (3, 4)) == tucker_rank(2, (3, 4)) == (2, 2)
    assert check_ranks((1, 4), (3, 4)) == (1, 4)
    with pytest.raises(ValueError, match=r"rank\[0\]=4 exceeds the size of mode 0 \(3\)"):
        check_ranks(4, (3, 4))
    with pytest.raises(TypeError, match="rank must hold ints"):
        check_ranks((2, 2.0), (3, 4))


# ------------------------------------------------------------ xp handed to tenalg, not re-inferred


@pytest.mark.parametrize(
    "run",
    [
        lambda Y: tucker(Y, 2, method="hosvd"),
        lambda Y: tucker(Y, 2, method="st_hosvd"),
        lambda Y: tucker(Y, tol=0.5, method="randomized", random_state=0),
        lambda Y: tucker(Y, 2, method="hooi", stop_tol=1e-6),
        lambda Y: cp(Y, 2, stop_tol=1e-3),
    ],
)
def test_algorithms_pass_xp_to_tenalg(monkeypatch, run):
    """Every mode product of the algorithms runs on the namespace the entry point inferred."""
    import tensorkit.tenalg as tenalg_module

    Y = RNG.standard_normal((6, 7, 8))  # far from low rank: no dense reconstruction on the way

    def refuse(*arrays):
        raise AssertionError("tenalg inferred the namespace again")

    monkeypatch.setattr(tenalg_module, "get_namespace", refuse)
    result = run(Y)
    assert result.info.rel_error > 1e-3


# ------------------------------------------------------------------------------------ demo plot


def test_demo_plot_leaves_the_matplotlib_backend_alone(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    from tensorkit.decomposition._demo import plot_error_vs_compression

    before = matplotlib.get_backend()
    matplotlib.use("svg")  # a user's choice that is not Agg, so that a switch would show
    try:
        rows = [(0.1, (2, 2, 2), 0.08, 50.0, 0.0), (0.01, (5, 5, 5), 0.009, 8.0, 0.0)]
        plot_error_vs_compression(rows, tmp_path / "plot.svg", title="t")
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(before)
    assert (tmp_path / "plot.svg").read_text().lstrip().startswith("<?xml")
    assert not list(tmp_path.glob(".*tmp"))


def test_public_names():
    assert tensorkit.decomposition.check_ranks is check_ranks
