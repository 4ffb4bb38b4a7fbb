"""Namespace-generic algorithms on ``array_api_strict`` arrays, compared with the numpy result.

``array_api_strict`` refuses everything outside the array API standard (numpy-only methods and
functions, ``dtype.kind``, out-of-bounds slices, implicit conversions), so a call that would break
on CuPy, or on any non-numpy namespace, breaks here first, without a GPU. The cases marked
``xfail(strict=True)`` fail today for the reason given (the first numpy-only call on the path);
when the owner fixes it, the strict xfail turns into a failure: remove the mark then.
"""

import array_api_compat
import numpy as np
import pytest

import tensorkit
from tensorkit import tenalg

xs = pytest.importorskip("array_api_strict")

SHAPE = (4, 5, 6)


def data(*shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def strict(x):
    if isinstance(x, (list, tuple)):
        return type(x)(strict(v) for v in x)
    return xs.asarray(x)


def check(result, oracle, *, rtol=1e-12):
    """``result`` is still an array_api_strict array and equals the numpy oracle."""
    assert array_api_compat.is_array_api_strict_namespace(array_api_compat.array_namespace(result))
    got = np.from_dlpack(result)
    assert got.shape == np.shape(oracle)
    assert got.dtype == np.asarray(oracle).dtype
    np.testing.assert_allclose(got, oracle, rtol=rtol, atol=rtol * np.abs(oracle).max())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", [0, 1, 2])
def test_unfold_fold(mode, dtype):
    X = data(*SHAPE, dtype=dtype)
    unfolded = tenalg.unfold(strict(X), mode)
    check(unfolded, tenalg.unfold(X, mode), rtol=0)
    check(tenalg.fold(unfolded, mode, SHAPE), X, rtol=0)


@pytest.mark.parametrize("transpose", [False, True])
def test_mode_dot(transpose):
    X, M = data(*SHAPE), data(3, 5, seed=1)
    M = M.T.copy() if transpose else M
    check(tenalg.mode_dot(strict(X), strict(M), 1, transpose=transpose),
          tenalg.mode_dot(X, M, 1, transpose=transpose))


def test_mode_dot_vector():
    X, v = data(*SHAPE), data(6, seed=1)
    check(tenalg.mode_dot(strict(X), strict(v), 2), tenalg.mode_dot(X, v, 2))


@pytest.mark.parametrize("skip", [None, 0])
def test_multi_mode_dot(skip):
    X = data(*SHAPE)
    matrices = [data(r, n, seed=k) for k, (r, n) in enumerate(zip((2, 3, 7), SHAPE, strict=True))]
    check(tenalg.multi_mode_dot(strict(X), strict(matrices), skip=skip),
          tenalg.multi_mode_dot(X, matrices, skip=skip))


@pytest.mark.parametrize(("skip", "reverse"), [(None, False), (1, True)])
def test_khatri_rao(skip, reverse):
    matrices = [data(n, 3, seed=k) for k, n in enumerate(SHAPE)]
    check(tenalg.khatri_rao(strict(matrices), skip=skip, reverse=reverse),
          tenalg.khatri_rao(matrices, skip=skip, reverse=reverse))


# ------------------------------------------------------------------ not namespace-generic yet
# Most public entry points validate their input with tensorkit._validation.as_float_array, which
# reads ``x.dtype.kind`` (numpy/CuPy only): that is the first failure on each path below; the
# reasons also name the next numpy-only call found past it.
DTYPE_KIND = "_validation.as_float_array reads x.dtype.kind (numpy-only; xp.isdtype is the standard)"
XFAIL = (AttributeError, TypeError, ValueError, IndexError)


def known_failure(reason):
    return pytest.mark.xfail(strict=True, raises=XFAIL, reason=reason)


@known_failure("tenalg.mttkrp contracts with native(xp).einsum: native() returns numpy for any "
               "non-CuPy namespace, so a numpy array reaches xp.reshape (xp.sum(out * F, axis=-2) "
               "is the portable form)")
def test_mttkrp_dense():
    X = data(*SHAPE)
    factors = [data(n, 3, seed=k + 1) for k, n in enumerate(SHAPE)]
    check(tenalg.mttkrp(strict(X), strict(factors), 1), tenalg.mttkrp(X, factors, 1))


@known_failure(DTYPE_KIND + "; then decomposition.linalg.leading_subspace calls "
               "np.finfo(unfolding.dtype) (xp.finfo is the standard)")
@pytest.mark.parametrize("method", ["hosvd", "st_hosvd", "hooi", "randomized"])
def test_tucker(method):
    X = tensorkit.TuckerTensor(data(2, 3, 2), [np.linalg.qr(data(n, r, seed=n))[0]
                                                for n, r in zip(SHAPE, (2, 3, 2), strict=True)]).to_dense()
    oracle = tensorkit.tucker(X, rank=(2, 3, 2), method=method, random_state=0).to_dense()
    check(tensorkit.tucker(strict(X), rank=(2, 3, 2), method=method, random_state=0).to_dense(),
          oracle, rtol=1e-10)


@known_failure(DTYPE_KIND + "; then np.finfo(unfolding.dtype) in decomposition.linalg (SVD init)")
def test_cp():
    rng = np.random.default_rng(0)
    A, B, C = (rng.standard_normal((n, 2)) for n in SHAPE)
    X = np.einsum("ir,jr,kr->ijk", A, B, C)
    check(tensorkit.cp(strict(X), 2, random_state=0).to_dense(), X, rtol=1e-6)


@known_failure(DTYPE_KIND + "; then decomposition._tt indexes s[:r, None] (a 1-D array indexed "
               "with two axes; s[:r][:, None] is the standard form)")
def test_tt():
    X = data(*SHAPE)
    check(tensorkit.tt(strict(X), rank=(2, 3)).to_dense(), tensorkit.tt(X, rank=(2, 3)).to_dense())


@known_failure("to_dense: _validation.check_allocation calls np.dtype(dtype) on a non-numpy dtype; "
               "past it Tucker and CP work, TTTensor._dense calls the method cores[0].reshape")
@pytest.mark.parametrize("fmt", ["tucker", "cp", "tt"])
def test_formats_to_dense(fmt):
    if fmt == "tucker":
        core, factors = data(2, 3, 2), [data(n, r, seed=n) for n, r in zip(SHAPE, (2, 3, 2), strict=True)]
        oracle = tensorkit.TuckerTensor(core, factors).to_dense()
        result = tensorkit.TuckerTensor(strict(core), strict(factors)).to_dense()
    elif fmt == "cp":
        weights, factors = data(3), [data(n, 3, seed=n) for n in SHAPE]
        oracle = tensorkit.CPTensor(weights, factors).to_dense()
        result = tensorkit.CPTensor(strict(weights), strict(factors)).to_dense()
    else:
        cores = [data(*s, seed=k) for k, s in enumerate([(1, 4, 2), (2, 5, 3), (3, 6, 1)])]
        oracle = tensorkit.TTTensor(cores).to_dense()
        result = tensorkit.TTTensor(strict(cores)).to_dense()
    check(result, oracle)


@known_failure("sketch.planning.working_dtype calls np.dtype(A.dtype) on a non-numpy dtype "
               "(through sketch._base.as_matrix)")
@pytest.mark.parametrize("method", ["direct", "sketch_precondition"])
def test_lstsq(method):
    from tensorkit.sketch import lstsq

    A, b = data(500, 5), data(500, seed=1)
    check(lstsq(strict(A), strict(b), method=method, random_state=0).x,
          np.linalg.lstsq(A, b, rcond=None)[0], rtol=1e-6)


@known_failure("sketch.planning.working_dtype calls np.dtype(A.dtype) on a non-numpy dtype "
               "(through sketch._base.as_matrix)")
@pytest.mark.parametrize("kind", ["gaussian", "countsketch", "srht"])
def test_sketch_apply(kind):
    """Each operator draws its own stream per namespace: compare a property, not entries."""
    from tensorkit.sketch import make_sketch

    A = data(256, 4)
    SA = make_sketch(kind, 64, random_state=0).apply(strict(A))
    assert array_api_compat.is_array_api_strict_namespace(array_api_compat.array_namespace(SA))
    assert tuple(SA.shape) == (64, 4)


@known_failure(DTYPE_KIND + "; then gaunt._sph_harm sums a boolean array (xp.sum(norm == 0))")
def test_real_sph_harm():
    from tensorkit.gaunt import real_sph_harm

    v = data(7, 3)
    check(real_sph_harm(3, strict(v)), real_sph_harm(3, v))


@known_failure(DTYPE_KIND + "; then gaunt._product reads x1.itemsize (grid methods; "
               "x1.dtype.itemsize is not standard either: xp.finfo(dtype).bits // 8) and gaunt._direct "
               "slices past the end of the batch (out-of-bounds slice stops are not standard)")
@pytest.mark.parametrize("method", ["s2grid", "fourier", "direct"])
def test_gaunt_tensor_product(method):
    from tensorkit.gaunt import gaunt_tensor_product

    x1, x2 = data(4, 16, seed=1), data(4, 9, seed=2)
    check(gaunt_tensor_product(strict(x1), strict(x2), method=method),
          gaunt_tensor_product(x1, x2, method=method), rtol=1e-10)


@known_failure(DTYPE_KIND + "; then wigner_D evaluates real_sph_harm (boolean xp.sum)")
def test_wigner_D():
    from scipy.spatial.transform import Rotation

    from tensorkit.gaunt import wigner_D

    R = Rotation.random(2, random_state=0).as_matrix()
    check(wigner_D(2, strict(R)), wigner_D(2, R), rtol=1e-10)


@known_failure(DTYPE_KIND + "; chebyshev._transform.values_to_coefficients reads x.dtype.kind too")
def test_chebtucker_from_values():
    from tensorkit.chebyshev import ChebTucker, chebyshev_points

    grids = np.meshgrid(*(chebyshev_points(9) for _ in range(3)), indexing="ij")
    values = np.sin(grids[0] + 2 * grids[1]) * np.cos(grids[2])
    points = np.random.default_rng(0).uniform(-1, 1, (10, 3))
    oracle = ChebTucker.from_values(values, (-1, 1))(points)
    check(ChebTucker.from_values(strict(values), (-1, 1))(strict(points)), oracle, rtol=1e-10)


@known_failure(DTYPE_KIND + "; then the CPU pair-potential kernel calls np.result_type on the "
               "arrays (Numba takes numpy arrays only: the kernel layer needs numpy or CuPy)")
def test_direct_potential():
    from physics.electrostatics import direct_potential

    positions, charges, points = data(6, 3), data(6, seed=1), data(4, 3, seed=2) + 5.0
    check(direct_potential(strict(positions), strict(charges), strict(points)),
          direct_potential(positions, charges, points), rtol=1e-10)
