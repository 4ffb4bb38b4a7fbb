"""The house conventions in tensorkit.sketch: one error policy (bool is never an int), the
deprecated ``max_iter``, the ``info`` record, the public planning helpers, and that no module
outside ``tensorkit/sketch`` imports a private sketch module."""

from __future__ import annotations

import ast
import math
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest

from tensorkit.extend import Info
from tensorkit.sketch import (
    ComposedSketch,
    CountSketch,
    GaussianSketch,
    KroneckerSketch,
    SparseSign,
    lstsq,
    make_sketch,
    sparse_then_gaussian,
)
from tensorkit.sketch.planning import (
    DEFAULT_N_ITER_MAX,
    check_iteration_options,
    first_stage_size,
    precondition_size,
    seed_from,
    sketch_size_for,
    working_dtype,
)

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((3000, 12))
    b = A @ rng.standard_normal(12) + 0.1 * rng.standard_normal(3000)
    return A, b


# --- bool is never an int; messages name the argument and the value ---------------------------


@pytest.mark.parametrize("kwargs, name", [
    ({"sketch_size": True}, "sketch_size"),
    ({"n_iter_max": True}, "n_iter_max"),
    ({"tol": True}, "tol"),
    ({"random_state": True}, "random_state"),
])
def test_lstsq_refuses_bools(problem, kwargs, name):
    A, b = problem
    with pytest.raises(TypeError, match=rf"{name}.*(True|bool)"):
        lstsq(A, b, method="sketch_precondition", **kwargs)


def test_sketch_size_bool_refused_even_for_direct(problem):
    A, b = problem
    with pytest.raises(TypeError, match="sketch_size must be an int, got True"):
        lstsq(A, b, method="direct", sketch_size=True)


def test_operators_refuse_bools():
    with pytest.raises(TypeError, match="sketch_size must be an int, got True"):
        GaussianSketch(True)
    with pytest.raises(TypeError, match="nnz_per_column must be an int, got True"):
        SparseSign(8, nnz_per_column=True)
    with pytest.raises(TypeError, match="block_index must be an int, got False"):
        CountSketch(4, random_state=0).apply_block(np.ones((5, 2)), False)
    with pytest.raises(TypeError, match=r"shapes\[0\] must be an int, got True"):
        KroneckerSketch(5, (True, 3))
    with pytest.raises(TypeError, match="random_state"):
        make_sketch("gaussian", 4, random_state=True)
    with pytest.raises(TypeError, match="sketch_size must be an int, got 2.0"):
        CountSketch(2.0)


def test_option_messages_show_the_value(problem):
    A, b = problem
    with pytest.raises(ValueError, match=r"tol must be > 0.0, got -1.0"):
        lstsq(A, b, tol=-1.0)
    with pytest.raises(ValueError, match="tol must be finite, got nan"):
        lstsq(A, b, tol=float("nan"))
    with pytest.raises(TypeError, match="n_iter_max must be an int, got 2.5"):
        lstsq(A, b, n_iter_max=2.5)
    with pytest.raises(ValueError, match="method must be one of .* got 'qr'"):
        lstsq(A, b, method="qr")
    with pytest.raises(ValueError, match="random_state must be >= 0, got -3"):
        lstsq(A, b, method="sketch_solve", random_state=-3)
    with pytest.raises(TypeError, match="A must be one of"):
        lstsq(np.ones((10, 2), dtype=np.longdouble), np.ones(10))


# --- max_iter is the deprecated name of n_iter_max --------------------------------------------


@pytest.mark.filterwarnings("ignore:sketch_precondition stopped")
def test_max_iter_is_deprecated_and_still_works(problem):
    A, b = problem
    with pytest.warns(DeprecationWarning, match="max_iter is deprecated; use n_iter_max") as record:
        old = lstsq(A, b, method="sketch_precondition", max_iter=3, tol=1e-30, random_state=0)
    assert record[0].filename == __file__  # points at the caller
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        new = lstsq(A, b, method="sketch_precondition", n_iter_max=3, tol=1e-30, random_state=0)
    np.testing.assert_array_equal(old.x, new.x)
    assert old.iterations == new.iterations <= 3
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="max_iter must be >= 0, got -2"):
        lstsq(A, b, max_iter=-2)
    with pytest.raises(TypeError, match="pass n_iter_max only"):
        lstsq(A, b, max_iter=3, n_iter_max=3)


def test_check_iteration_options():
    assert check_iteration_options(1e-12, None) == (1e-12, DEFAULT_N_ITER_MAX)
    assert check_iteration_options(2.0, 0) == (2.0, 0)  # an excess of 2 is a valid target
    with pytest.raises(ValueError, match="tol"):
        check_iteration_options(0.0, None)


# --- one result shape -------------------------------------------------------------------------


def test_result_info_for_each_method(problem):
    A, b = problem
    x_np = np.linalg.lstsq(A, b, rcond=None)[0]
    r_np = np.linalg.norm(A @ x_np - b)

    direct = lstsq(A, b, method="direct")
    assert isinstance(direct.info, Info)
    assert (direct.info.method, direct.info.iterations, direct.info.converged) == ("direct", 0, True)
    assert direct.info.rel_error == 0.0 == direct.excess_estimate and direct.rank == 12

    solve = lstsq(A, b, method="sketch_solve", random_state=0)
    assert solve.info.method == "sketch_solve" and solve.info.rel_error is None
    assert math.isnan(solve.excess_estimate) and solve.info.iterations == 0 and solve.converged
    assert solve.info.extras == {"sketch": solve.sketch, "sketch_size": solve.sketch_size}

    pre = lstsq(A, b, method="sketch_precondition", random_state=0)
    info = pre.info
    assert (pre.method, pre.iterations, pre.converged) == (info.method, info.iterations, info.converged)
    assert info.method == "sketch_precondition" and info.converged and info.iterations >= 1
    assert info.rel_error == pre.excess_estimate <= 1e-12
    # the history: the warm start, then one value per refinement, ending at rel_error
    refinements = info.extras["refinements"]
    assert len(info.history) == refinements + 1 and info.history[-1] == info.rel_error
    assert info.history[0] > info.history[-1]
    # rel_error is the true ||A^T r|| / (||A|| ||r||) of the returned x
    r = A @ pre.x - b
    true_ratio = np.linalg.norm(A.T @ r) / (np.linalg.norm(A, 2) * np.linalg.norm(r))
    assert true_ratio <= 1.5 * info.rel_error + 1e-15
    assert pre.residual_norm / r_np - 1.0 <= 1e-14
    assert {k: info.extras[k] for k in ("sketch", "sketch_size")} == {
        "sketch": pre.sketch, "sketch_size": pre.sketch_size}
    assert info.extras["stopped"] in ("tol", "rounding") and refinements >= 1


# --- the public planning helpers -------------------------------------------------------------


def test_planning_sizes():
    # flop model: 2 m d^2 + 6 (3 + 70 / ln(m/d)) n d, capped at n / 2 and at least d
    n, d = 200_000, 100
    costs = {r * d: 2.0 * r * d**3 + 6 * (3 + 70 / math.log(r)) * n * d
             for r in (2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128) if r * d <= n // 2}
    assert precondition_size(n, d) == min(costs, key=costs.get)
    assert precondition_size(30, 20) == 30  # the whole problem: never above n, never below d
    assert precondition_size(15, 20) == 20
    assert first_stage_size(10**6, 10) == 160 and first_stage_size(1000, 10) == 80
    assert sketch_size_for("sketch_solve", 2000, 10) == 40
    assert sketch_size_for("sketch_solve", 25, 10) == 25
    assert sketch_size_for("sketch_precondition", 4000, 20) == precondition_size(4000, 20)
    with pytest.raises(ValueError, match="sketch_size=5 is smaller than d=10"):
        sketch_size_for("sketch_solve", 2000, 10, 5)
    with pytest.raises(ValueError, match=r"tall A.*\(5, 10\)"):
        sketch_size_for("sketch_solve", 5, 10)


def test_seed_and_dtype_helpers():
    assert seed_from(5) == 5 and seed_from(np.int64(5)) == 5
    assert seed_from(np.random.default_rng(1)) == seed_from(np.random.default_rng(1))
    with pytest.raises(TypeError, match="random_state"):
        seed_from(2.5)
    assert working_dtype(np.bool_, "A") == np.float64
    assert working_dtype(np.dtype(">f8"), "A") == np.dtype("<f8")
    with pytest.raises(TypeError, match="A must be real"):
        working_dtype(np.complex64, "A")
    with pytest.raises(TypeError, match="b must be one of"):
        working_dtype(np.dtype("U3"), "b")


def test_big_endian_input_is_solved_in_native_order():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((400, 3))
    b = rng.standard_normal(400)
    S = CountSketch(20, random_state=0)
    np.testing.assert_allclose(S.apply(A.astype(">f8")), S.apply(A), atol=1e-12)
    res = lstsq(A.astype(">f8"), b, method="sketch_solve", sketch_size=20, random_state=0)
    np.testing.assert_allclose(res.x, lstsq(A, b, method="sketch_solve", sketch_size=20,
                                            random_state=0).x)


def test_composed_sketch_name_and_pickle():
    op = sparse_then_gaussian(40, 10, random_state=2)
    assert isinstance(op, ComposedSketch) and op.name == "sparse_sign+gaussian" and op.kind == "composed"
    A = np.random.default_rng(0).standard_normal((100, 3))
    np.testing.assert_allclose(pickle.loads(pickle.dumps(op)).apply(A), op.apply(A))
    # the same seed through an int or a keyword gives the same operator
    np.testing.assert_array_equal(op.to_dense(50), sparse_then_gaussian(40, 10, random_state=2).to_dense(50))


def test_kronecker_factor_sketches_device():
    op = KroneckerSketch(4, (2, 3), random_state=0)
    G = op.factor_sketches(device="cpu")
    assert [g.shape for g in G] == [(4, 2), (4, 3)] and isinstance(G[0], np.ndarray)
    np.testing.assert_array_equal(G[1], op.factor_sketches()[1])
    with pytest.raises(ValueError, match="device"):
        op.factor_sketches(device="tpu")


# --- imports: the sketch package publishes what others need ------------------------------------


def _private_sketch_imports(path: Path, source: str | None = None) -> list[str]:
    """Imports in ``path`` of a private ``tensorkit.sketch`` module or of a ``_name`` from sketch."""
    tree = ast.parse(path.read_text() if source is None else source, filename=str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        for target in targets:
            parts = target.split(".")
            if parts[:2] == ["tensorkit", "sketch"] and any(p.startswith("_") for p in parts[2:]):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {target}")
    return bad


def test_no_private_sketch_import_outside_the_sketch_package():
    files = [p for folder in ("tensorkit", "operators", "physics", "benchmarks", "examples")
             for p in (ROOT / folder).rglob("*.py")]
    assert any(p.parts[-2:] == ("distributed", "_lstsq.py") for p in files)
    bad = [hit for p in files if "sketch" not in p.relative_to(ROOT).parts[:2]
           for hit in _private_sketch_imports(p)]
    assert bad == []


def test_the_import_check_catches_private_imports():
    where = ROOT / "tensorkit" / "distributed" / "_lstsq.py"
    source = ("from ..sketch._lstsq import preconditioned_cg\nfrom ..sketch import _seed_from, lstsq\n"
              "import tensorkit.sketch._operators\nfrom tensorkit.sketch.planning import seed_from\n")
    hits = _private_sketch_imports(where, source)
    assert [h.split(" imports ")[1] for h in hits] == [
        "tensorkit.sketch._lstsq", "tensorkit.sketch._lstsq.preconditioned_cg",
        "tensorkit.sketch._seed_from", "tensorkit.sketch._operators"]
