"""An independent catalogue of bad and extreme inputs for the core's public entry points.

Four kinds of case, each against an oracle that does not use the code under test:

- refusals: the exception type of the error policy (wrong type -> TypeError, wrong value ->
  ValueError, cannot fit -> MemoryError) and a message that names the argument;
- inputs that must be accepted (lists, tuples, views with any strides, integer, bool and float16
  data) and give what the same data as a C-contiguous float array gives;
- data near overflow and underflow: a planted low-rank tensor scaled by 1e300, 1e-300, 1e37 and
  1e-37 (float32) is decomposed as accurately as at unit scale; subnormal data (1e-310, 1e-320,
  float32 1e-40) cannot be, and then the reported ``info.rel_error`` must be the true error of
  the returned object (measured here after an exact power-of-two rescaling), never NaN or 0;
  likewise least squares, completion and the functional Tucker model on jointly scaled data;
- peers' classic cases (tensorly's and pyttb's tests): planted low rank recovered, rank-1
  tensors, a zero slice, the all-zero tensor (error 0, not NaN), orthonormal Tucker factors,
  the same result for the same ``random_state``;

and the atomic writers of :mod:`tensorkit.io`: a write that fails leaves the old file intact.
"""

from __future__ import annotations

import math
import os
import warnings

import numpy as np
import pytest

import tensorkit
from tensorkit import CPTensor, ObservedTensor, TTTensor, TuckerTensor, tenalg
from tensorkit.chebyshev import ChebTucker, chebyshev_points, coefficients_to_values, values_to_coefficients
from tensorkit.completion import cp_complete, rmse, tucker_complete, values_at
from tensorkit.decomposition import linalg
from tensorkit.functional import ContinuousObservations, FunctionalTucker
from tensorkit.io import load_archive, save_archive, save_array
from tensorkit.sketch import lstsq

RNG = np.random.default_rng(7)
X = RNG.standard_normal((4, 5, 6))
BIG = RNG.standard_normal((40, 30, 30))
A3, B3, C3 = (RNG.standard_normal((n, 2)) for n in (6, 7, 8))
PLANTED = np.einsum("ir,jr,kr->ijk", A3, B3, C3)  # CP rank 2, multilinear rank (2, 2, 2)
CP2 = CPTensor(np.ones(2), [np.ones((4, 2)), np.ones((5, 2)), np.ones((6, 2))])
NAN, INF = float("nan"), float("inf")


def with_entry(value):
    out = X.copy()
    out[1, 2, 3] = value
    return out


def tucker(t, **kw):
    return tensorkit.tucker(t, **({"rank": 2} | kw))


def cp(t, **kw):
    return tensorkit.cp(t, **({"rank": 2, "random_state": 0} | kw))


def tt(t, **kw):
    return tensorkit.tt(t, **({"rank": 2} | kw))


DECOMPOSITIONS = {"tucker": tucker, "cp": cp, "tt": tt}

# ------------------------------------------------------------------------------------- refusals
# (id, call, exception type, regex the message must match: it names the argument at fault)
REFUSALS = []
for _name, _f in DECOMPOSITIONS.items():
    REFUSALS += [
        (f"{_name}-nan", lambda f=_f: f(with_entry(NAN)), ValueError, "tensor.*non-finite"),
        (f"{_name}-inf", lambda f=_f: f(with_entry(-INF)), ValueError, "tensor.*non-finite"),
        (f"{_name}-0d", lambda f=_f: f(np.array(1.0)), ValueError, "tensor must have order >= 2"),
        (f"{_name}-1d", lambda f=_f: f(np.ones(4)), ValueError, "tensor must have order >= 2"),
        (f"{_name}-zero-size", lambda f=_f: f(np.ones((3, 0, 2))), ValueError, "tensor has an empty mode"),
        (f"{_name}-object", lambda f=_f: f(X.astype(object)), TypeError, "tensor must hold numbers"),
        (f"{_name}-str", lambda f=_f: f(X.astype(str)), TypeError, "tensor must hold numbers"),
        (f"{_name}-None", lambda f=_f: f(None), TypeError, "tensor"),
        (f"{_name}-rank-negative", lambda f=_f: f(X, rank=-1), ValueError, "rank"),
        (f"{_name}-rank-bool", lambda f=_f: f(X, rank=True), TypeError, "rank"),
        (f"{_name}-rank-np-bool", lambda f=_f: f(X, rank=np.bool_(True)), TypeError, "rank"),
        (f"{_name}-rank-str", lambda f=_f: f(X, rank="2"), TypeError, "rank"),
        (f"{_name}-rank-nan", lambda f=_f: f(X, rank=NAN), ValueError, "rank"),
        (f"{_name}-rank-inf", lambda f=_f: f(X, rank=INF), ValueError, "rank"),
        (f"{_name}-rank-fraction-0", lambda f=_f: f(X, rank=0.0), ValueError, "rank"),
        (f"{_name}-backend", lambda f=_f: f(X, backend="torch"), ValueError, "backend"),
    ]
for _m in ("hosvd", "st_hosvd", "hooi", "randomized"):
    REFUSALS += [
        (f"tucker-{_m}-n-iter-max-0", lambda m=_m: tucker(X, method=m, n_iter_max=0), ValueError,
         "n_iter_max must be >= 1"),
        (f"tucker-{_m}-n-iter-max-negative", lambda m=_m: tucker(X, method=m, n_iter_max=-3), ValueError,
         "n_iter_max"),
        # a bad seed is refused by every method, not only by the one that draws
        (f"tucker-{_m}-random-state-float", lambda m=_m: tucker(X, method=m, random_state=1.5), TypeError,
         "random_state"),
        (f"tucker-{_m}-random-state-negative", lambda m=_m: tucker(X, method=m, random_state=-1),
         ValueError, "random_state"),
        (f"tucker-{_m}-random-state-legacy", lambda m=_m: tucker(
            X, method=m, random_state=np.random.RandomState(0)), TypeError, "random_state"),
        (f"tucker-{_m}-random-state-bool", lambda m=_m: tucker(X, method=m, random_state=True),
         TypeError, "random_state"),
    ]
for _name in ("tucker", "tt"):
    for _tol in (0.0, 1.0, -0.1, 1.5, NAN, INF):
        REFUSALS.append(
            (f"{_name}-tol-{_tol}", lambda n=_name, t=_tol: DECOMPOSITIONS[n](X, rank=None, tol=t),
             ValueError, "tol")
        )
    REFUSALS += [
        (f"{_name}-tol-str", lambda n=_name: DECOMPOSITIONS[n](X, rank=None, tol="0.1"), TypeError, "tol"),
        (f"{_name}-tol-bool", lambda n=_name: DECOMPOSITIONS[n](X, rank=None, tol=True), TypeError, "tol"),
        (f"{_name}-rank-and-tol", lambda n=_name: DECOMPOSITIONS[n](X, tol=0.1), ValueError, "rank and tol"),
    ]
REFUSALS += [
    ("tucker-rank-0", lambda: tucker(X, rank=0), ValueError, "rank"),
    ("tucker-rank-float-int-valued", lambda: tucker(X, rank=(2.0, 2, 2)), TypeError, "rank"),
    ("tucker-rank-above-mode", lambda: tucker(X, rank=5), ValueError, r"rank\[0\]=5 exceeds"),
    ("tucker-rank-length", lambda: tucker(X, rank=(2, 2)), ValueError, "rank"),
    ("tucker-rank-fraction-above-modes", lambda: tucker(X, rank=2.0), ValueError,
     r"rank=2.0 \(a fraction of the parameters\) gives ranks \(4, 5, 7\)"),
    ("tucker-oversampling-negative", lambda: tucker(X, method="randomized", oversampling=-1), ValueError,
     "oversampling"),
    ("tucker-n-power-iter-bool", lambda: tucker(X, method="randomized", n_power_iter=True), TypeError,
     "n_power_iter"),
    ("tucker-stop-tol-negative", lambda: tucker(X, method="hooi", stop_tol=-1e-3), ValueError, "stop_tol"),
    ("tucker-mode-order-repeated", lambda: tucker(X, mode_order=(0, 0, 1)), ValueError, "mode_order"),
    ("tucker-method-case", lambda: tucker(X, method="HOSVD"), ValueError, "method"),
    ("tucker-of-a-format", lambda: tucker(CP2), TypeError, "tensor is already a CPTensor"),
    ("cp-rank-0", lambda: cp(X, rank=0), ValueError, "rank"),
    ("cp-n-iter-max-0", lambda: cp(X, n_iter_max=0), ValueError, "n_iter_max"),
    ("cp-n-iter-max-negative", lambda: cp(X, n_iter_max=-1), ValueError, "n_iter_max"),
    ("cp-n-iter-max-float", lambda: cp(X, n_iter_max=10.0), TypeError, "n_iter_max"),
    ("cp-stop-tol-inf", lambda: cp(X, stop_tol=INF), ValueError, "stop_tol"),
    ("cp-random-state-str", lambda: cp(X, random_state="0"), TypeError, "random_state"),
    ("cp-random-state-negative", lambda: cp(X, random_state=-5), ValueError, "random_state"),
    ("cp-init-name", lambda: cp(X, init="svdd"), ValueError, "init"),
    ("cp-init-shape", lambda: cp(X, init=CPTensor(np.ones(2), [np.ones((4, 2)), np.ones((5, 2)),
                                                              np.ones((7, 2))])), ValueError, "init"),
    ("cp-coo-ragged", lambda: cp(([[0, 1]], [1.0, 2.0], (2, 2))), ValueError, "values"),
    ("tt-rank-0", lambda: tt(X, rank=0), ValueError, "rank"),
    ("tt-rank-boundary", lambda: tt(X, rank=(2, 2, 2, 2)), ValueError, "boundary"),
    # tenalg and the formats
    ("unfold-mode-out", lambda: tenalg.unfold(X, 3), ValueError, "mode"),
    ("unfold-mode-bool", lambda: tenalg.unfold(X, True), TypeError, "mode"),
    ("mode-dot-shape", lambda: tenalg.mode_dot(X, np.ones((2, 4)), 1), ValueError, "matrix of shape"),
    ("khatri-rao-rank-mismatch", lambda: tenalg.khatri_rao([np.ones((3, 2)), np.ones((4, 3))]), ValueError,
     "matrix 1"),
    ("mttkrp-factor-shape", lambda: tenalg.mttkrp(X, [np.ones((4, 2)), np.ones((5, 3)), np.ones((6, 2))], 0),
     ValueError, "factors"),
    ("kron-rows-empty-factor", lambda: tenalg.kron_rows([np.ones((0, 2)), np.ones((3, 2))],
                                                        np.array([[0, 1]])), ValueError, "indices of mode 0"),
    ("kron-rows-0d-factor", lambda: tenalg.kron_rows([np.array(1.0), np.ones((3, 2))], np.array([[0, 1]])),
     ValueError, r"factors\[0\]"),
    ("kron-rows-1d-indices", lambda: tenalg.kron_rows([np.ones((2, 2))] * 2, np.array([0, 1])), ValueError,
     "indices"),
    ("tucker-tensor-str-core", lambda: TuckerTensor(np.array([["a"]]), [np.ones((2, 1))] * 2), TypeError,
     "core must hold numbers"),
    ("cp-tensor-object-factor", lambda: CPTensor(np.ones(1), [np.ones((2, 1), dtype=object)]), TypeError,
     r"factors\[0\] must hold numbers"),
    ("tt-tensor-rank-gap", lambda: TTTensor([np.ones((1, 3, 2)), np.ones((3, 3, 1))]), ValueError, "rank"),
    ("cp-at-float-indices", lambda: CP2.at(np.array([[0.0, 1.0, 2.0]])), TypeError, "indices"),
    ("cp-at-out-of-range", lambda: CP2.at([[4, 0, 0]]), ValueError, "indices of mode 0"),
    # completion.values_at checks as .at does: never a read outside the factors in a kernel
    ("values-at-float-indices", lambda: values_at(CP2, np.array([[0.0, 1.0, 2.0]])), TypeError, "indices"),
    ("values-at-out-of-range", lambda: values_at(CP2, np.array([[0, 9, 0]])), ValueError,
     "indices of mode 1"),
    ("values-at-negative", lambda: values_at(CP2, np.array([[0, -1, 0]])), ValueError, "indices of mode 1"),
    ("values-at-0d", lambda: values_at(CP2, np.array(0)), ValueError, "indices"),
    ("values-at-columns", lambda: values_at(CP2, np.zeros((2, 2), dtype=np.int64)), ValueError, "indices"),
    ("rmse-no-cells", lambda: rmse(CP2, ObservedTensor(np.zeros((0, 3), dtype=np.int64), np.zeros(0),
                                                        (4, 5, 6))), ValueError, "obs has no observed cells"),
    # Chebyshev transforms: an axis without samples
    ("values-to-coefficients-empty", lambda: values_to_coefficients(np.ones((3, 0))), ValueError,
     "values has no samples along axis 1"),
    ("coefficients-to-values-empty", lambda: coefficients_to_values(np.ones((0,))), ValueError,
     "coefficients has no samples"),
    # sketched least squares: a finite problem whose solution overflows is an error, not inf
    ("lstsq-solution-overflows", lambda: lstsq(np.eye(3, 2) * 1e-310, np.ones(3)), ValueError,
     "solution overflows float64"),
    ("lstsq-nan", lambda: lstsq(np.eye(3, 2), np.array([1.0, NAN, 0.0])), ValueError, "b"),
    ("lstsq-shapes", lambda: lstsq(np.eye(3, 2), np.ones(4)), ValueError, "b has 4 rows"),
    # archives
    ("save-archive-reserved-key", lambda: save_archive(os.devnull, "f", 1, format=np.ones(1)), ValueError,
     "archive's own keys"),
    ("save-archive-version-bool", lambda: save_archive(os.devnull, "f", True), TypeError, "version"),
    ("save-archive-version-0", lambda: save_archive(os.devnull, "f", 0), ValueError, "version"),
    ("save-archive-format-int", lambda: save_archive(os.devnull, 3, 1), TypeError, "format_name"),
    ("save-array-object", lambda: save_array(os.devnull, np.array([None])), TypeError, "object"),
]


@pytest.mark.parametrize(("call", "exc", "match"), [c[1:] for c in REFUSALS], ids=[c[0] for c in REFUSALS])
def test_refused_with_the_policy_exception_naming_the_argument(call, exc, match):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(exc, match=match):
            call()


# ------------------------------------------------------------------- accepted: same as the array
ODD = RNG.standard_normal((8, 10, 12))
ACCEPTED = {
    "list": (X.tolist(), X),
    "nested-tuple": (tuple(tuple(map(tuple, m)) for m in X.tolist()), X),
    "strided-view": (ODD[::2, 1::2, ::3], np.ascontiguousarray(ODD[::2, 1::2, ::3])),
    "negative-strides": (X[::-1, :, ::-1], np.ascontiguousarray(X[::-1, :, ::-1])),
    "transposed": (X.transpose(2, 0, 1), np.ascontiguousarray(X.transpose(2, 0, 1))),
    "fortran-order": (np.asfortranarray(X), X),
    "int": ((X * 10).astype(np.int32), (X * 10).astype(np.int32).astype(np.float64)),
    "bool": (X > 0, (X > 0).astype(np.float64)),
    "float16": (X.astype(np.float16), X.astype(np.float16).astype(np.float32)),
    "big-endian": (X.astype(">f8"), X),
}


@pytest.mark.parametrize("name", DECOMPOSITIONS)
@pytest.mark.parametrize("case", ACCEPTED)
def test_accepted_input_gives_what_the_contiguous_float_array_gives(name, case):
    given, reference = ACCEPTED[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # CP may stop at n_iter_max on noise
        got = DECOMPOSITIONS[name](given)
        want = DECOMPOSITIONS[name](reference)
    assert got.shape == reference.shape
    assert got.dtype == reference.dtype
    tol = 1e-4 if reference.dtype == np.float32 else 1e-9
    assert abs(got.info.rel_error - want.info.rel_error) <= tol
    np.testing.assert_allclose(got.to_dense(), want.to_dense(), atol=tol * np.abs(reference).max())


def test_complex_data_is_decomposed_in_complex():
    Z = np.einsum("ir,jr,kr->ijk", *(RNG.standard_normal((n, 2)) + 1j * RNG.standard_normal((n, 2))
                                     for n in (4, 5, 6))).astype(np.complex64)
    for name, f in DECOMPOSITIONS.items():
        kw = {"stop_tol": 1e-6} if name == "cp" else {}  # complex64 rounding: float32's stop
        result = f(Z, rank=(2, 2, 2) if name == "tucker" else 2 if name == "cp" else (4, 2), **kw)
        assert result.dtype == np.complex64, name
        assert np.linalg.norm(result.to_dense() - Z) <= 1e-5 * np.linalg.norm(Z), name


def test_cp_svd_init_on_modes_of_size_one():
    T = 3.0 * np.ones((1, 5, 1))
    result = cp(T, rank=2)
    np.testing.assert_allclose(result.to_dense(), T, atol=1e-12)


def test_a_three_row_nested_tuple_is_a_dense_matrix_not_a_coo_triple():
    M = ((1.0, 2.0), (3.0, 4.0), (5.0, 6.0))
    result = cp(M, rank=1)
    assert result.shape == (3, 2)
    sigma = np.linalg.svd(np.array(M), compute_uv=False)
    assert result.info.rel_error == pytest.approx(sigma[1] / np.linalg.norm(sigma), rel=1e-6)


# ---------------------------------------------------------------- near overflow and underflow
def true_error(result, T):
    """``||X_hat - X|| / ||X||`` of the returned object, both multiplied by the power of two that
    brings ``max|X|`` near 1 (exact for subnormal and huge data alike), in float64."""
    k = -math.frexp(float(np.max(np.abs(T))))[1]
    scaled = np.ldexp(T.astype(np.float64), k)
    if isinstance(result, TuckerTensor):
        approx = TuckerTensor(np.ldexp(result.core.astype(np.float64), k),
                              [f.astype(np.float64) for f in result.factors])
    elif isinstance(result, CPTensor):
        approx = CPTensor(np.ldexp(result.weights.astype(np.float64), k),
                          [f.astype(np.float64) for f in result.factors])
    else:
        cores = [c.astype(np.float64) for c in result.cores]
        approx = TTTensor([*cores[:-1], np.ldexp(cores[-1], k)])
    return float(np.linalg.norm(approx.to_dense() - scaled) / np.linalg.norm(scaled))


SCALED_METHODS = {
    **{f"tucker-{m}": (lambda t, m=m: tucker(t, method=m, random_state=0))
       for m in ("hosvd", "st_hosvd", "hooi", "randomized")},
    **{f"tucker-tol-{m}": (lambda t, m=m: tucker(t, rank=None, tol=1e-3, method=m, random_state=0))
       for m in ("st_hosvd", "randomized")},
    # float32 rounding moves the error by more than the float64 default stop_tol
    "cp": lambda t: cp(t, init="random", stop_tol=1e-10 if t.dtype == np.float64 else 1e-6),
    "tt": tt,
    "tt-tol": lambda t: tt(t, rank=None, tol=1e-3),
}
REPRESENTABLE = [(1e300, np.float64), (1e-300, np.float64), (1e150, np.float64), (1e-160, np.float64),
                 (1e37, np.float32), (1e-37, np.float32), (1e19, np.float32)]
SUBNORMAL = [(1e-310, np.float64), (1e-320, np.float64), (1e-40, np.float32), (1e-43, np.float32)]


def _case_id(value):
    return value.__name__ if isinstance(value, type) else f"{value:g}"


def _scaled(scale, dtype):
    return PLANTED.astype(dtype) * dtype(scale)


@pytest.mark.parametrize("method", SCALED_METHODS)
@pytest.mark.parametrize(("scale", "dtype"), REPRESENTABLE, ids=_case_id)
def test_scaled_planted_tensor_is_decomposed_as_at_unit_scale(method, scale, dtype):
    T = _scaled(scale, dtype)
    assert np.all(np.isfinite(T))
    result = SCALED_METHODS[method](T)
    bound = 1e-4 if dtype == np.float32 else 1e-10
    error = true_error(result, T)
    assert error <= bound
    assert math.isfinite(result.info.rel_error) and result.info.rel_error <= bound
    assert result.dtype == dtype


@pytest.mark.parametrize("method", SCALED_METHODS)
@pytest.mark.parametrize(("scale", "dtype"), SUBNORMAL, ids=_case_id)
def test_subnormal_data_reports_the_true_error(method, scale, dtype):
    T = _scaled(scale, dtype)
    with warnings.catch_warnings():
        # a tolerance the subnormal output cannot hold is said in a RuntimeWarning
        warnings.simplefilter("ignore", RuntimeWarning)
        result = SCALED_METHODS[method](T)
        unit = SCALED_METHODS[method](PLANTED.astype(dtype))
    error = true_error(result, T)
    eps = float(np.finfo(dtype).eps)
    assert math.isfinite(result.info.rel_error)
    assert abs(result.info.rel_error - error) <= 0.05 * error + 100 * eps
    # the input itself holds few digits; the decomposition loses no more than they allow
    digits = float(np.finfo(dtype).smallest_subnormal) / float(np.max(np.abs(T)))
    assert error <= unit.info.rel_error + 100 * max(digits, eps)


def test_a_tolerance_that_subnormal_output_cannot_hold_is_said():
    T = _scaled(1e-320, np.float64)
    for f in (tucker, tt):
        with pytest.warns(RuntimeWarning, match="subnormal"):
            result = f(T, rank=None, tol=1e-8)
        assert result.info.rel_error > 1e-8


def test_rank_from_tail_at_any_scale():
    sigma = np.array([3.0, 2.0, 1e-3])
    for c in (1.0, 1e-300, 1e-310, 1e-320, 1e300):
        assert linalg.rank_from_tail(sigma * c, 1e-2 * c) == 2
        assert linalg.rank_from_tail(sigma * c, 10.0 * c) == 1
        assert linalg.rank_from_tail(sigma * c, 0.0) == 3


def test_chebyshev_from_subnormal_values():
    x = chebyshev_points(9)
    unit = np.exp(x[:, None] * x[None, :])
    values = unit * 1e-310
    F = ChebTucker.from_values(values, [(-1.0, 1.0)] * 2)
    np.testing.assert_allclose(F.on_grid(x, x).to_dense() / 1e-310, unit, rtol=1e-9)


@pytest.mark.parametrize("method", ["direct", "sketch_solve", "sketch_precondition"])
@pytest.mark.parametrize(("scale", "dtype"), [(1e-300, np.float64), (1e300, np.float64), (1e-310, np.float64),
                                              (1e-30, np.float32), (1e-40, np.float32), (1e30, np.float32)],
                         ids=_case_id)
def test_lstsq_jointly_scaled_problem_has_the_unit_scale_solution(method, scale, dtype):
    A = RNG.standard_normal((400, 5))
    b = RNG.standard_normal(400)
    unit = lstsq(A.astype(dtype), b.astype(dtype), method=method, random_state=0)
    got = lstsq((A * scale).astype(dtype), (b * scale).astype(dtype), method=method, random_state=0)
    rtol = 1e-4 if dtype == np.float32 else 1e-12
    x_star = np.linalg.lstsq(A, b, rcond=None)[0]
    np.testing.assert_allclose(got.x, unit.x, rtol=rtol, atol=rtol * np.abs(x_star).max())
    residual = np.linalg.norm(A @ x_star - b)
    assert math.isfinite(got.residual_norm)
    assert got.residual_norm / scale == pytest.approx(unit.residual_norm, rel=max(rtol, 1e-6))
    if method != "sketch_solve":  # exact methods: the true least-squares residual
        rel = 1e-5 if dtype == np.float32 else 1e-10
        assert got.residual_norm / scale == pytest.approx(residual, rel=rel)


@pytest.mark.parametrize("scale", [1e300, 1e-300, 1e-310, 1e150], ids=_case_id)
@pytest.mark.parametrize("method", ["cp", "tucker"])
def test_completion_of_scaled_data_is_the_unit_scale_completion(method, scale):
    mask = np.random.default_rng(1).random(PLANTED.shape) < 0.5
    cells = np.argwhere(mask)

    def complete(values):
        obs = ObservedTensor(cells, values, PLANTED.shape)
        fit = cp_complete if method == "cp" else tucker_complete
        return obs, fit(obs, 2, random_state=0, n_iter_max=30)

    unit_obs, unit = complete(PLANTED[mask])
    obs, got = complete(PLANTED[mask] * scale)
    k = -math.frexp(scale)[1]  # compare at unit scale, exactly
    dense = np.ldexp(got.to_dense(), k)
    atol = 1e-9 if scale > 1e-305 else 1e-5  # subnormal values hold fewer digits
    np.testing.assert_allclose(dense, unit.to_dense() * np.ldexp(scale, k), atol=atol * np.abs(PLANTED).max())
    assert rmse(got, obs) <= max(10 * rmse(unit, unit_obs), atol) * scale


@pytest.mark.parametrize("scale", [1e300, 1e-300], ids=_case_id)
def test_functional_tucker_of_scaled_values_is_the_unit_scale_model(scale):
    coords = RNG.random((120, 2))
    y = np.sin(3 * coords[:, 0]) * np.cos(2 * coords[:, 1])

    def fit(values):
        model = FunctionalTucker((2, 2), n_epochs=3, random_state=0)
        return model.fit(ContinuousObservations(coords, values))

    unit = fit(y).predict(coords)
    got = fit(y * scale).predict(coords)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got / scale, unit, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("scale", [1e300, 1e-300], ids=_case_id)
def test_functional_tucker_lengthscale_far_outside_the_coordinate_range_is_refused(scale):
    coords = RNG.random((50, 2)) * scale
    obs = ContinuousObservations(coords, RNG.standard_normal(50))
    with pytest.raises(ValueError, match=r"lengthscale\[0\]=1 is .* times the coordinate range of mode 0"):
        FunctionalTucker((2, 2), n_epochs=1).fit(obs)
    model = FunctionalTucker((2, 2), lengthscale=scale, n_epochs=1, random_state=0).fit(obs)
    assert np.all(np.isfinite(model.predict(coords)))


# ------------------------------------------------------------------------ peers' classic cases
@pytest.mark.parametrize("name", DECOMPOSITIONS)
def test_planted_low_rank_is_recovered(name):
    result = DECOMPOSITIONS[name](PLANTED)
    np.testing.assert_allclose(result.to_dense(), PLANTED, atol=1e-8 * np.abs(PLANTED).max())
    assert result.info.rel_error < 1e-8


@pytest.mark.parametrize("name", DECOMPOSITIONS)
def test_rank_one_tensor_at_rank_one(name):
    T = np.einsum("i,j,k->ijk", np.arange(1.0, 5.0), np.linspace(-1, 2, 5), np.linspace(1, 2, 6))
    result = DECOMPOSITIONS[name](T, rank=1)
    assert result.info.rel_error < 1e-12
    np.testing.assert_allclose(result.to_dense(), T, atol=1e-12 * np.abs(T).max())


@pytest.mark.parametrize(
    ("name", "how"), [(n, "rank") for n in DECOMPOSITIONS] + [("tucker", "tol"), ("tt", "tol")]
)
def test_all_zero_tensor_has_zero_error_not_nan(name, how):
    Z = np.zeros((4, 5, 6))
    result = DECOMPOSITIONS[name](Z, **({"rank": None, "tol": 0.1} if how == "tol" else {}))
    assert result.info.rel_error == 0.0
    dense = result.to_dense()
    assert np.all(dense == 0.0)
    if isinstance(result, TuckerTensor):
        for f in result.factors:  # factors of a zero tensor are still orthonormal
            np.testing.assert_allclose(f.T @ f, np.eye(f.shape[1]), atol=1e-12)


@pytest.mark.parametrize("name", DECOMPOSITIONS)
def test_zero_slice_stays_zero_and_error_matches(name):
    T = RNG.standard_normal((4, 5, 6))
    T[0] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = DECOMPOSITIONS[name](T, rank=3)
    dense = result.to_dense()
    assert np.all(np.isfinite(dense))
    measured = np.linalg.norm(dense - T) / np.linalg.norm(T)
    assert result.info.rel_error == pytest.approx(measured, rel=1e-6, abs=1e-12)
    assert np.abs(dense[0]).max() <= 1e-10 * np.abs(T).max() + (name == "cp")  # CP may not zero it exactly


@pytest.mark.parametrize("method", ["hosvd", "st_hosvd", "hooi", "randomized"])
def test_tucker_factors_are_orthonormal_and_the_error_is_pythagorean(method):
    T = RNG.standard_normal((6, 7, 8))
    result = tucker(T, rank=(3, 4, 2), method=method, random_state=1)
    for f in result.factors:
        np.testing.assert_allclose(f.T @ f, np.eye(f.shape[1]), atol=1e-12)
    measured = np.linalg.norm(result.to_dense() - T) / np.linalg.norm(T)
    assert result.info.rel_error == pytest.approx(measured, rel=1e-10)


@pytest.mark.parametrize(
    "call",
    [
        lambda s: tucker(BIG, rank=3, method="randomized", random_state=s),
        lambda s: tucker(ODD, rank=None, tol=0.5, method="randomized", random_state=s),
        lambda s: cp(ODD, rank=3, init="random", random_state=s, n_iter_max=20),
        lambda s: cp(ODD, rank=3, init="random", random_state=np.random.default_rng(s), n_iter_max=20),
    ],
)
def test_same_random_state_same_result(call):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        first, second, other = call(3), call(3), call(4)
    for p, q in zip(first.factors, second.factors, strict=True):
        np.testing.assert_array_equal(p, q)
    if isinstance(first, CPTensor):  # a random start; small Tucker sketches fall back to exact SVDs
        assert not all(np.array_equal(p, q) for p, q in zip(first.factors, other.factors, strict=True))


# --------------------------------------------------------------------------- atomic writers
def _boom(*args, **kwargs):
    fh = args[0]
    fh.write(b"partial")  # half a file reaches the temporary, then the writer fails
    raise OSError("disk full")


@pytest.mark.parametrize(
    ("write", "patch"),
    [
        (lambda p: save_array(p, np.zeros(3)), "save"),
        (lambda p: save_archive(p, "tensorkit.Test", 1, a=np.zeros(3)), "savez"),
        (lambda p: CP2.save(p), "savez"),
    ],
    ids=["save_array", "save_archive", "format.save"],
)
def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch, write, patch):
    path = tmp_path / "out.npz"
    path.write_bytes(b"old contents")
    monkeypatch.setattr(np, patch, _boom)
    with pytest.raises(OSError, match="disk full"):
        write(path)
    assert path.read_bytes() == b"old contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npz"]


def test_a_write_is_synced_before_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    path = tmp_path / "x.npz"
    save_archive(path, "tensorkit.Test", 1, a=np.arange(3.0))
    assert events == ["fsync", "replace"]
    np.testing.assert_array_equal(load_archive(path, "tensorkit.Test", 1)["a"], np.arange(3.0))


def test_catalogue_size():
    assert len(REFUSALS) >= 120
