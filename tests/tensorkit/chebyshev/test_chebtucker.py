"""ChebTucker against independent oracles: numpy.polynomial.chebyshev, exact integrals and ranks,
plain-SVD HOSVD of sampled grids, closed-form derivatives."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.polynomial import chebyshev as npc
from scipy.special import erf

from tensorkit.backend import gpu_available
from tensorkit.chebyshev import ChebTucker, chebyshev_points
from tensorkit.formats import TuckerTensor

CUBE = ((-1.0, 1.0),) * 3
BOX = ((-1.0, 2.0), (0.0, 1.0), (-0.5, 0.5))


def _random_points(domain, n, seed=0):
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(a, b, n) for a, b in domain])


def _mapped(points, domain):
    return [(2 * points[:, k] - sum(domain[k])) / (domain[k][1] - domain[k][0]) for k in range(3)]


def _random_format(seed=0, sizes=(6, 5, 7), ranks=(2, 3, 2), domain=BOX):
    rng = np.random.default_rng(seed)
    core = rng.standard_normal(ranks)
    factors = [rng.standard_normal((m, r)) for m, r in zip(sizes, ranks, strict=True)]
    return ChebTucker(core, factors, domain), TuckerTensor(core, factors).to_dense()


def test_evaluation_matches_chebval3d():
    f, coefficients = _random_format()
    p = _random_points(BOX, 300)
    np.testing.assert_allclose(f(p), npc.chebval3d(*_mapped(p, BOX), coefficients), atol=1e-12)


def test_extrapolation_only_when_asked():
    f, coefficients = _random_format(domain=CUBE)
    p = np.array([[1.2, 0.0, -1.1], [0.5, 0.5, 0.5]])
    with pytest.raises(ValueError, match="outside the domain"):
        f(p)
    np.testing.assert_allclose(f(p, extrapolate=True), npc.chebval3d(*p.T, coefficients), atol=1e-12)


def test_on_grid_is_the_two_level_format():
    f, coefficients = _random_format()
    grids = [np.linspace(a, b, n) for (a, b), n in zip(BOX, (4, 5, 6), strict=True)]
    t = f.on_grid(*grids)
    assert isinstance(t, TuckerTensor) and t.ranks == f.ranks
    mapped = [(2 * g - a - b) / (b - a) for g, (a, b) in zip(grids, BOX, strict=True)]
    np.testing.assert_allclose(t.to_dense(), npc.chebgrid3d(*mapped, coefficients), atol=1e-12)


def test_derivatives_match_chebder():
    f, coefficients = _random_format()
    p = _random_points(BOX, 200, seed=1)
    for axis, order in [(0, 1), (1, 2), (2, 3)]:
        scale = (2.0 / (BOX[axis][1] - BOX[axis][0])) ** order
        expected = npc.chebval3d(*_mapped(p, BOX), npc.chebder(coefficients, m=order, axis=axis)) * scale
        np.testing.assert_allclose(f.diff(axis, order)(p), expected, atol=1e-9)


def test_integral_over_axes_matches_chebint():
    f, coefficients = _random_format()
    g = f.integrate(axes=(1, 2))
    assert g.ndim == 1 and g.domain == (BOX[0],)
    # definite integral over [-1, 1] of the series along axes 1 and 2, times the Jacobians
    c = coefficients
    for axis in (2, 1):
        anti = np.moveaxis(npc.chebint(c, axis=axis, lbnd=-1), axis, 0)
        c = npc.chebval(1.0, anti, tensor=False)  # antiderivative at 1 (it is 0 at -1)
    jac = 0.5 * (BOX[1][1] - BOX[1][0]) * 0.5 * (BOX[2][1] - BOX[2][0])
    x = np.linspace(*BOX[0], 7)
    expected = npc.chebval((2 * x - sum(BOX[0])) / (BOX[0][1] - BOX[0][0]), c) * jac
    np.testing.assert_allclose(g(x[:, None]), expected, atol=1e-12)


def test_integral_of_rational_function_to_1e13():
    f = ChebTucker.from_function(lambda x, y, z: 1.0 / (1.0 + x**2 + y**2 + z**2), CUBE, tol=1e-13)
    assert abs(f.integrate() - 4.28685406230184188) <= 1e-13


@pytest.mark.parametrize("a", [0.5, 3.0])
def test_integral_of_gaussian(a):
    f = ChebTucker.from_function(lambda x, y, z: np.exp(-a * (x**2 + y**2 + z**2)), CUBE, tol=1e-13)
    exact = (math.sqrt(math.pi / a) * erf(math.sqrt(a))) ** 3
    assert abs(f.integrate() - exact) <= 1e-12 * exact
    assert f.ranks == (1, 1, 1)


def test_exact_multilinear_ranks():
    assert ChebTucker.from_function(lambda x, y, z: np.exp(x + y + z), CUBE, tol=1e-12).ranks == (1, 1, 1)
    g = ChebTucker.from_function(lambda x, y, z: np.sin(x + 2 * y + 3 * z), CUBE, tol=1e-12)
    assert g.ranks == (2, 2, 2)
    p = _random_points(CUBE, 200)
    np.testing.assert_allclose(g(p), np.sin(p @ [1.0, 2.0, 3.0]), atol=1e-11)


def _svd_hosvd(tensor, tol):
    """Plain numpy-SVD HOSVD with the per-mode rule: ranks and projection error (oracle)."""
    norm = np.linalg.norm(tensor)
    factors = []
    for mode in range(3):
        s_u, s, _ = np.linalg.svd(np.moveaxis(tensor, mode, 0).reshape(tensor.shape[mode], -1),
                                  full_matrices=False)
        tails = np.sqrt(np.cumsum((s**2)[::-1])[::-1])
        r = max(1, int(np.nonzero(np.append(tails, 0) <= tol * norm / math.sqrt(3))[0][0]))
        factors.append(s_u[:, :r])
    core = np.einsum("abc,ai,bj,ck->ijk", tensor, *factors)
    approx = np.einsum("ijk,ai,bj,ck->abc", core, *factors)
    return tuple(u.shape[1] for u in factors), np.linalg.norm(tensor - approx) / norm


@pytest.mark.parametrize("tol, ranks", [(1e-3, 4), (1e-4, 5), (1e-6, 7), (1e-8, 9)])
def test_ranks_and_error_match_svd_hosvd_of_the_grid(tol, ranks):
    def g(x, y, z):
        return 1.0 / np.sqrt(x**2 + y**2 + z**2 + 0.1)

    f = ChebTucker.from_function(g, CUBE, tol=tol)
    u = np.linspace(-1, 1, 48)
    grid = g(*np.meshgrid(u, u, u, indexing="ij"))
    oracle_ranks, oracle_error = _svd_hosvd(grid, tol)
    assert f.ranks == (ranks,) * 3 == oracle_ranks
    error = np.linalg.norm(f.on_grid(u, u, u).to_dense() - grid) / np.linalg.norm(grid)
    assert error <= 2 * oracle_error


def test_adaptive_degree_and_fixed_degree():
    f = ChebTucker.from_function(lambda x, y, z: np.cos(8 * x) + y * z**2, CUBE, tol=1e-12)
    assert f.degrees[1] <= 2 and f.degrees[2] <= 3 and 25 <= f.degrees[0] <= 64
    fixed = ChebTucker.from_function(lambda x, y, z: x * y + z, CUBE, degree=(3, 4, 5), tol=1e-12)
    assert fixed.degrees == (3, 4, 5)
    with pytest.warns(RuntimeWarning, match="not resolved"):
        ChebTucker.from_function(lambda x, y, z: np.abs(x) + 0 * y * z, CUBE, max_degree=32)


def test_from_values_and_fixed_rank():
    x = chebyshev_points(20, (0, 1))
    values = np.exp(-np.add.outer(np.add.outer(x, 2 * x), x) ** 2)
    f = ChebTucker.from_values(values, ((0, 1),) * 3, 1e-10)
    p = _random_points(((0, 1),) * 3, 100)
    assert np.max(np.abs(f(p) - np.exp(-(p @ [1.0, 2.0, 1.0]) ** 2))) < 1e-4  # degree 19 only
    assert ChebTucker.from_values(values, ((0, 1),) * 3, rank=2).ranks == (2, 2, 2)


def test_arithmetic_and_rounding():
    f = ChebTucker.from_function(lambda x, y, z: np.exp(-x * y) + z, BOX, tol=1e-12)
    g = ChebTucker.from_function(lambda x, y, z: np.sin(x + y * z), BOX, tol=1e-12)
    p = _random_points(BOX, 300, seed=2)
    fv, gv = np.exp(-p[:, 0] * p[:, 1]) + p[:, 2], np.sin(p[:, 0] + p[:, 1] * p[:, 2])
    np.testing.assert_allclose((f + g)(p), fv + gv, atol=1e-10)
    np.testing.assert_allclose((f - 2.5 * g)(p), fv - 2.5 * gv, atol=1e-10)
    np.testing.assert_allclose((3.0 - f / 2)(p), 3.0 - fv / 2, atol=1e-10)
    np.testing.assert_allclose((f * g)(p), fv * gv, atol=1e-9)
    zero = f - f
    assert zero.ranks == (1, 1, 1) and np.max(np.abs(zero(p))) == 0.0
    loose = (f * g).round(1e-3)
    assert all(a <= b for a, b in zip(loose.ranks, (f * g).ranks, strict=True))
    assert np.max(np.abs(loose(p) - fv * gv)) < 1e-2


def test_laplacian_of_a_gaussian():
    f = ChebTucker.from_function(lambda x, y, z: np.exp(-(x**2 + y**2 + z**2)), CUBE, tol=1e-13)
    p = _random_points(CUBE, 200, seed=3)
    r2 = np.sum(p**2, axis=1)
    np.testing.assert_allclose(f.laplacian()(p), (4 * r2 - 6) * np.exp(-r2), atol=1e-8)


def test_l2_norm_is_exact():
    f = ChebTucker.from_function(lambda x, y, z: np.exp(x + y + z), CUBE, tol=1e-14)
    assert f.norm() == pytest.approx(((np.exp(2) - np.exp(-2)) / 2) ** 1.5, rel=1e-13)


def test_float32_build_and_evaluation():
    f = ChebTucker.from_function(lambda x, y, z: np.cos(x + y - z), CUBE, tol=1e-6, dtype=np.float32)
    assert f.dtype == np.float32
    p = _random_points(CUBE, 100).astype(np.float32)
    out = f(p)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, np.cos(p[:, 0] + p[:, 1] - p[:, 2]), atol=1e-5)


def test_save_load_roundtrip(tmp_path):
    f, _ = _random_format()
    path = tmp_path / "f.npz"
    f.save(path)
    g = ChebTucker.load(path)
    assert g.domain == f.domain and g.ranks == f.ranks and g.tol == f.tol
    p = _random_points(BOX, 20)
    np.testing.assert_array_equal(g(p), f(p))
    np.savez(tmp_path / "other.npz", a=np.ones(2))
    with pytest.raises(ValueError, match="format"):
        ChebTucker.load(tmp_path / "other.npz")


def test_properties():
    f, _ = _random_format()
    assert f.degrees == (5, 4, 6) and f.ranks == (2, 3, 2) and f.ndim == 3
    assert f.nbytes == 8 * (12 + 6 * 2 + 5 * 3 + 7 * 2)
    assert "ChebTucker" in repr(f)


def test_from_cp_equals_full_route():
    rng = np.random.default_rng(4)
    centres, weights = rng.uniform(-1, 1, (40, 3)), rng.standard_normal(40)
    widths = rng.uniform(1.0, 4.0, 40)

    def factor(k):
        return lambda x: np.exp(-widths * (x[:, None] - centres[None, :, k]) ** 2)

    def full(x, y, z):
        pts = np.stack([x, y, z], axis=-1)[..., None, :]
        return np.sum(weights * np.exp(-widths * np.sum((pts - centres) ** 2, axis=-1)), axis=-1)

    cp = ChebTucker.from_cp(weights, [factor(k) for k in range(3)], CUBE, 1e-9)
    dense = ChebTucker.from_function(full, CUBE, tol=1e-9, degree=cp.degrees)
    assert cp.ranks == dense.ranks
    p = _random_points(CUBE, 300, seed=5)
    truth = full(*p.T)
    err_cp, err_dense = (np.max(np.abs(h(p) - truth)) for h in (cp, dense))
    assert err_cp <= 2 * err_dense + 1e-12
    # per-axis value arrays at the Chebyshev points give the same function
    arrays = [factor(k)(chebyshev_points(m + 1)) for k, m in enumerate(cp.degrees)]
    np.testing.assert_allclose(ChebTucker.from_cp(weights, arrays, CUBE, 1e-9)(p), cp(p), atol=1e-9)


# ------------------------------------------------------------------ bad input
def test_bad_function_output():
    with pytest.raises(ValueError, match="grid's shape"):
        ChebTucker.from_function(lambda x, y, z: x[0], CUBE)
    with pytest.raises(ValueError, match="grid's shape"):
        ChebTucker.from_function(lambda x, y, z: 1.0, CUBE)
    with np.errstate(divide="ignore"), pytest.raises(ValueError, match="non-finite"):
        ChebTucker.from_function(lambda x, y, z: 1.0 / (x + 0 * y * z), CUBE, degree=4)
    with pytest.raises(TypeError, match="callable"):
        ChebTucker.from_function(3.0, CUBE)


@pytest.mark.parametrize("domain", [((0, 0), (0, 1), (0, 1)), ((1, 0), (0, 1), (0, 1)),
                                    ((0, np.nan), (0, 1), (0, 1)), 5])
def test_bad_domain(domain):
    with pytest.raises(ValueError, match="domain"):
        ChebTucker.from_function(lambda x, y, z: x, domain)


def test_huge_grid_refused_before_allocation():
    calls = []
    with pytest.raises(MemoryError, match=r"the grid of shape \(10000, 10000, 10000\) needs .* GiB"):
        ChebTucker.from_function(lambda x, y, z: calls.append(1) or x, CUBE, degree=9999)
    assert not calls


def test_huge_cp_sample_refused_before_allocation():
    calls = []
    with pytest.raises(MemoryError, match=r"sample of factors\[0\] of shape .* needs"):
        ChebTucker.from_cp(np.ones(10**6), [lambda x: calls.append(1)] * 3, CUBE, degree=10**5)
    assert not calls


@pytest.mark.parametrize("kwargs, match", [({"tol": 0.0}, "tol"), ({"tol": 2.0}, "tol"),
                                           ({"degree": -1}, "degree"), ({"rank": (1, 2)}, "rank")])
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ChebTucker.from_function(lambda x, y, z: x + y * z, CUBE, **kwargs)


@pytest.mark.parametrize("kwargs, match", [
    ({"dtype": np.float16}, "dtype"), ({"dtype": np.int64}, "dtype"), ({"dtype": "complex128"}, "dtype"),
    ({"dtype": "nonsense"}, "dtype"), ({"tol": "1e-6"}, "tol"), ({"degree": 2.5}, "degree"),
    ({"max_degree": True}, "max_degree"), ({"rank": 2.0}, "rank"),
])
def test_bad_parameter_types(kwargs, match):
    calls = []
    with pytest.raises(TypeError, match=match):
        ChebTucker.from_function(lambda x, y, z: calls.append(1) or x + y * z, CUBE, **kwargs)
    assert not calls  # refused before f is sampled


def test_bad_dtype_of_constant():
    with pytest.raises(TypeError, match="dtype"):
        ChebTucker.zeros(CUBE, dtype=np.int32)
    with pytest.raises(TypeError, match="value"):
        ChebTucker.constant(1j, CUBE)


def test_bad_cp_input():
    good = np.ones((5, 2))
    with pytest.raises(ValueError, match="factors\\[1\\] must have shape"):
        ChebTucker.from_cp(np.ones(2), [good, np.ones((5, 3)), good], CUBE)
    with pytest.raises(ValueError, match="domain has 3 axes but 2 are needed"):
        ChebTucker.from_cp(np.ones(2), [good, good], CUBE)
    with pytest.raises(ValueError, match="must return shape"):
        ChebTucker.from_cp(np.ones(2), [lambda x: np.ones(len(x)), good, good], CUBE)
    with pytest.raises(ValueError, match="non-finite"):
        ChebTucker.from_cp(np.array([1.0, np.nan]), [good, good, good], CUBE)


def test_bad_points_and_operands():
    f, _ = _random_format()
    with pytest.raises(ValueError, match=r"shape \(M, 3\)"):
        f(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="non-finite"):
        f(np.full((1, 3), np.nan))
    g = ChebTucker.from_function(lambda x, y, z: x, CUBE)
    with pytest.raises(ValueError, match="different domains"):
        f + g
    with pytest.raises(ValueError, match="axis"):
        f.diff(3)
    with pytest.raises(ZeroDivisionError):
        f / 0


# ------------------------------------------------------------------ devices
def test_device_cpu_is_the_default():
    def g(x, y, z):
        return np.cos(x + y - z)

    a = ChebTucker.from_function(g, CUBE, tol=1e-8)
    b = ChebTucker.from_function(g, CUBE, tol=1e-8, device="cpu")
    assert isinstance(b.core, np.ndarray) and all(isinstance(v, np.ndarray) for v in b.factors)
    p = _random_points(CUBE, 50)
    np.testing.assert_array_equal(a(p), b(p))
    for f in (ChebTucker.zeros(BOX, device="cpu"), ChebTucker.constant(2.0, BOX, device="cpu")):
        assert isinstance(f.core, np.ndarray) and f.ranks == (1, 1, 1) and f.degrees == (0, 0, 0)
    assert ChebTucker.constant(2.0, BOX, device="cpu").integrate() == pytest.approx(2.0 * 3.0 * 1.0 * 1.0)


@pytest.mark.parametrize("make", [
    lambda device: ChebTucker.from_function(lambda x, y, z: x, CUBE, device=device),
    lambda device: ChebTucker.zeros(CUBE, device=device),
    lambda device: ChebTucker.constant(1.0, CUBE, device=device),
    lambda device: chebyshev_points(4, device=device),
])
def test_bad_device(make):
    with pytest.raises(ValueError, match="device"):
        make("cuda:0")
    if not gpu_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            make("gpu")


def test_from_cp_follows_the_weights():
    """No device argument: callable factors are sampled where the weights are, in their precision."""
    seen = []

    def factor(x):
        seen.append((type(x), x.dtype))
        return np.exp(-((x[:, None] - np.array([0.0, 0.5], dtype=x.dtype)) ** 2))

    f = ChebTucker.from_cp(np.ones(2, dtype=np.float32), [factor] * 3, CUBE, 1e-5)
    assert f.dtype == np.float32 and isinstance(f.core, np.ndarray)
    assert set(seen) == {(np.ndarray, np.dtype(np.float32))}
    with pytest.raises(TypeError, match="xp"):
        ChebTucker.from_cp(np.ones(2), [factor] * 3, CUBE, 1e-5, xp=np)


@pytest.mark.gpu
def test_gpu_matches_cpu():
    if not gpu_available():
        pytest.skip("no CUDA device")
    import cupy

    def g(x, y, z):
        return 1.0 / (1.0 + x**2 + y**2 + z**2)

    for dtype, atol in ((np.float64, 1e-12), (np.float32, 1e-5)):
        cpu = ChebTucker.from_function(g, CUBE, tol=1e-6, dtype=dtype)
        gpu = ChebTucker.from_function(lambda x, y, z: g(x, y, z), CUBE, tol=1e-6, dtype=dtype, device="gpu")
        assert isinstance(gpu.core, cupy.ndarray) and gpu.dtype == dtype and gpu.ranks == cpu.ranks
        p = _random_points(CUBE, 100).astype(dtype)
        np.testing.assert_allclose(cupy.asnumpy(gpu(cupy.asarray(p))), cpu(p), atol=atol)
        assert gpu.integrate() == pytest.approx(cpu.integrate(), rel=10 * atol)
        np.testing.assert_allclose(cupy.asnumpy((gpu * gpu + 1.0)(cupy.asarray(p))), (cpu * cpu + 1.0)(p),
                                   atol=10 * atol)
    weights = cupy.asarray([1.0, -0.5])
    factors = [lambda x: cupy.stack([cupy.cos(x), cupy.sin(x)], axis=1)] * 3
    cp = ChebTucker.from_cp(weights, factors, CUBE, 1e-9)
    assert isinstance(cp.core, cupy.ndarray)


# ------------------------------------------------------------------ the held TuckerTensor
def test_holds_a_tucker_tensor_of_coefficients():
    x = chebyshev_points(6, (0, 1))
    values = np.add.outer(np.add.outer(x**2, x), np.ones(6)) + np.multiply.outer(np.multiply.outer(x, x), x)
    f = ChebTucker.from_values(values, ((0, 1),) * 3, 1e-13)
    assert isinstance(f.coefficients, TuckerTensor)
    assert f.core is f.coefficients.core and f.factors is f.coefficients.factors
    assert f.ranks == f.coefficients.ranks and f.nbytes == f.coefficients.nbytes
    assert f.compression_ratio == pytest.approx(6**3 / (math.prod(f.ranks) + sum(6 * r for r in f.ranks)))
    # the dense coefficients are those of the interpolant (numpy's chebyshev transform as oracle)
    u = 2 * x - 1
    expected = np.einsum("ia,jb,kc,ijk->abc", *(np.linalg.inv(npc.chebvander(u, 5)).T,) * 3, values)
    np.testing.assert_allclose(f.coefficients.to_dense(), expected, atol=1e-12)
    g = ChebTucker.from_tucker(f.coefficients, f.domain, tol=f.tol)
    assert g.coefficients is f.coefficients
    with pytest.raises(TypeError, match="TuckerTensor"):
        ChebTucker.from_tucker((f.core, f.factors), f.domain)


def test_pickle_roundtrip():
    import pickle

    f, _ = _random_format()
    g = pickle.loads(pickle.dumps(f))
    p = _random_points(BOX, 20)
    assert g.domain == f.domain and g.tol == f.tol
    np.testing.assert_array_equal(g(p), f(p))


def test_save_load_float32_and_layout(tmp_path):
    f = ChebTucker.from_function(lambda x, y, z: np.cos(x * y + z), BOX, tol=1e-5, dtype=np.float32)
    f.save(tmp_path / "f.npz")
    with np.load(tmp_path / "f.npz") as data:
        assert str(data["format"]) == "tensorkit.ChebTucker" and int(data["version"]) == 1
        assert sorted(data.files) == sorted(["format", "version", "domain", "tol", "core",
                                             "factor_0", "factor_1", "factor_2"])
    g = ChebTucker.load(tmp_path / "f.npz")
    assert g.dtype == np.float32 and g.ranks == f.ranks and g.degrees == f.degrees
    p = _random_points(BOX, 20).astype(np.float32)
    np.testing.assert_array_equal(g(p), f(p))


def test_loads_an_archive_of_the_previous_layout(tmp_path):
    """Archives written before ChebTucker held a TuckerTensor (the same keys, written by hand)."""
    f, _ = _random_format()
    np.savez(tmp_path / "old.npz", format=np.asarray("tensorkit.ChebTucker"), version=np.asarray(1),
             core=f.core, domain=np.asarray(BOX), tol=np.asarray(1e-10),
             **{f"factor_{k}": v for k, v in enumerate(f.factors)})
    g = ChebTucker.load(tmp_path / "old.npz")
    assert g.domain == BOX and g.ranks == f.ranks
    p = _random_points(BOX, 20)
    np.testing.assert_array_equal(g(p), f(p))
