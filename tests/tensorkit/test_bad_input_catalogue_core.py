"""Bad and extreme inputs of completion, sketch, chebyshev, gaunt, functional and io that an audit
found slipping past the error policy, each against an oracle that does not use the code under test:

- refusals: the policy's exception type and a message naming the argument;
- scale equivariance as the oracle for data near overflow and underflow: the answer for data
  scaled by a power of two (or by 1e200 / 1e-200, 1e30 / 1e-30 in float32) is the unit-scale
  answer scaled alike, never NaN, inf or a different fit.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tensorkit import CPTensor, TuckerTensor
from tensorkit.chebyshev import ChebTucker, chebyshev_points, coefficients_to_values, values_to_coefficients
from tensorkit.completion import (
    NeuralCompletion,
    cp_complete,
    dain_augment,
    mae,
    nrmse,
    rmse,
    tucker_complete,
)
from tensorkit.functional import ContinuousObservations, FunctionalTucker
from tensorkit.io import new_figure, save_figure
from tensorkit.observed import ObservedTensor
from tensorkit.sketch import lstsq, preconditioned_cg, refined_cg, sketched_solve

RNG = np.random.default_rng(0)
A = RNG.standard_normal((60, 4))
B = A @ RNG.standard_normal(4) + 0.1 * RNG.standard_normal(60)
SQUARE = ((-1.0, 1.0), (-1.0, 1.0))
SA, SB = np.array([[2.0, 0.0], [0.0, 4.0], [0.0, 0.0]]), np.array([[2.0], [8.0], [1.0]])
_X3 = np.random.default_rng(3).standard_normal((3, 4, 2))
_OBS3 = ObservedTensor.from_dense(_X3, np.random.default_rng(4).random(_X3.shape) < 0.7)
R_ID, X0, B_NORMS = np.eye(4), np.zeros((4, 1)), np.ones(1)


def _normal_op(W, cols, subtract_b):
    r = A @ W - (B[:, None][:, cols] if subtract_b else 0.0)
    return A.T @ r, np.sum(r * r, axis=0)


def _cg(**changes):
    args = dict(normal_op=_normal_op, R=R_ID, X0=X0, b_norms=B_NORMS, tol=1e-8, n_iter_max=20, sketch_size=16)
    args.update(changes)
    return preconditioned_cg(**args)


def _refined(**changes):
    args = dict(normal_op=_normal_op, R=R_ID, X0=X0, norm_A=1.0, b_norms=B_NORMS, tol=1e-8, n_iter_max=20,
                sketch_size=16)
    args.update(changes)
    return refined_cg(**args)
OBS = ObservedTensor([[0, 0], [1, 1], [0, 1]], [1.0, 3.0, 2.0], (2, 2))


def _gauss(x, y):
    return np.exp(-x**2 - y**2)


REFUSED = [
    # a misspelt sketch name was silently ignored whenever the direct solver was chosen
    ("lstsq-sketch-misspelt-auto", lambda: lstsq(A, B, sketch="gausian"), ValueError, "sketch"),
    ("lstsq-sketch-misspelt-direct", lambda: lstsq(A, B, method="direct", sketch="srht2"), ValueError,
     "sketch"),
    # sketched_solve had no checks: AttributeError, unpacking errors, LAPACK messages, and a
    # shape (n, d) that disagreed with SA (or held a bool) was accepted
    ("sketched-solve-not-an-array", lambda: sketched_solve("SA", SB, (100, 2)), TypeError, "SA"),
    ("sketched-solve-vector-SA", lambda: sketched_solve(SA[0], SB, (100, 2)), ValueError, "SA"),
    ("sketched-solve-fewer-rows", lambda: sketched_solve(SA[:1], SB[:1], (100, 2)), ValueError, "m >= d"),
    ("sketched-solve-SB-rows", lambda: sketched_solve(SA, SB[:2], (100, 2)), ValueError, "SB"),
    ("sketched-solve-nan", lambda: sketched_solve(SA * np.nan, SB, (100, 2)), ValueError, "SA.*non-finite"),
    ("sketched-solve-complex", lambda: sketched_solve(SA + 0j, SB, (100, 2)), TypeError, "SA"),
    ("sketched-solve-shape-d", lambda: sketched_solve(SA, SB, (100, 3)), ValueError, "shape"),
    ("sketched-solve-shape-bool", lambda: sketched_solve(SA, SB, (True, 2)), TypeError, "shape"),
    # the CG iterations had no checks: ZeroDivisionError, IndexError, silently ignored bad options
    ("cg-sketch-size-zero", lambda: _cg(sketch_size=0), ValueError, "sketch_size"),
    ("cg-b-norms-wrong-length", lambda: _cg(b_norms=np.ones(3)), ValueError, "b_norms"),
    ("cg-b-norms-negative", lambda: _cg(b_norms=-B_NORMS), ValueError, "b_norms"),
    ("cg-tol-zero", lambda: _cg(tol=0.0), ValueError, "tol"),
    ("cg-tol-nan", lambda: _cg(tol=float("nan")), ValueError, "tol"),
    ("cg-n-iter-max-bool", lambda: _cg(n_iter_max=True), TypeError, "n_iter_max"),
    ("cg-R-shape", lambda: _cg(R=np.eye(3)), ValueError, r"R must have shape \(4, 4\)"),
    ("cg-X0-vector", lambda: _cg(X0=np.zeros(4)), ValueError, "X0"),
    ("cg-not-callable", lambda: _cg(normal_op=3), TypeError, "normal_op"),
    ("refined-norm-A-zero", lambda: _refined(norm_A=0.0), ValueError, "norm_A"),
    ("refined-norm-A-nan", lambda: _refined(norm_A=float("nan")), ValueError, "norm_A"),
    ("refined-n-refine-negative", lambda: _refined(n_refine_max=-1), ValueError, "n_refine_max"),
    ("refined-n-refine-bool", lambda: _refined(n_refine_max=True), TypeError, "n_refine_max"),
    # a NaN start returned a NaN model; an array start hit the name check's ambiguous truth value
    ("cp-init-nan", lambda: cp_complete(_OBS3, 2, init=CPTensor(
        np.ones(2), [np.full((3, 2), np.nan), np.ones((4, 2)), np.ones((2, 2))])), ValueError,
     "init has non-finite"),
    ("cp-init-array", lambda: cp_complete(_OBS3, 2, init=np.ones(3)), TypeError, "init"),
    ("tucker-init-inf", lambda: tucker_complete(_OBS3, 2, init=TuckerTensor(
        np.full((2, 2, 2), np.inf), [np.ones((3, 2)), np.ones((4, 2)), np.ones((2, 2))])), ValueError,
     "init has non-finite"),
    ("tucker-init-array", lambda: tucker_complete(_OBS3, 2, init=np.ones(2)), TypeError, "init"),
    # NaN coefficients made a function that is NaN everywhere
    ("cheb-nan-core", lambda: ChebTucker(np.full((2, 2), np.nan), [np.eye(3, 2), np.eye(3, 2)], SQUARE),
     ValueError, "core has non-finite"),
    ("cheb-inf-factor", lambda: ChebTucker(np.eye(2), [np.eye(3, 2), np.full((3, 2), np.inf)], SQUARE),
     ValueError, r"factors\[1\] has non-finite"),
    # bool bounds of a domain were read as 0 and 1
    ("cheb-domain-bool-pair", lambda: ChebTucker.from_function(_gauss, [(True, 2.0), (-1.0, 1.0)]),
     TypeError, r"domain\[0\].*bool"),
    ("cheb-domain-bool-cube", lambda: ChebTucker.from_function(_gauss, (False, 1.0)), TypeError,
     "domain.*bool"),
    ("cheb-points-domain-bool", lambda: chebyshev_points(4, (False, True)), TypeError, "domain.*bool"),
    # transform axes: a bool was axis 1, a float was truncated, a repeated axis transformed twice
    ("cheb-axes-bool", lambda: values_to_coefficients(np.ones((3, 3)), axes=True), TypeError, "axes"),
    ("cheb-axes-float", lambda: values_to_coefficients(np.ones((3, 3)), axes=1.5), TypeError, "axes"),
    ("cheb-axes-float-entry", lambda: values_to_coefficients(np.ones((3, 3)), axes=(0, 1.0)), TypeError,
     "axes"),
    ("cheb-axes-repeated", lambda: coefficients_to_values(np.ones((3, 3)), axes=(0, 0)), ValueError,
     "repeat"),
    ("cheb-axes-out-of-range", lambda: values_to_coefficients(np.ones((3, 3)), axes=2), ValueError, "axes"),
    # dividing by a tiny number went through 1 / other = inf and blamed "other ... inf"
    ("cheb-divide-overflow", lambda: ChebTucker.from_function(_gauss, SQUARE) / 1e-320, ValueError,
     r"other=1e-320 overflows"),
    # a non-figure crashed with AttributeError; a bool dpi was accepted as 1
    ("save-figure-not-a-figure", lambda: save_figure("figure.png", None), TypeError, "fig"),
    ("save-figure-dpi-bool", lambda: save_figure(new_figure(), None, dpi=True), TypeError, "dpi"),
    ("save-figure-dpi-zero", lambda: save_figure(new_figure(), None, dpi=0), ValueError, "dpi"),
    # ranks of 0 or True were kept until fit
    ("functional-rank-zero", lambda: FunctionalTucker(0), ValueError, "rank"),
    ("functional-rank-bool", lambda: FunctionalTucker(True), TypeError, "rank"),
    ("functional-rank-entry-bool", lambda: FunctionalTucker([2, True]), TypeError, r"rank\[1\]"),
    ("functional-cp-rank-tuple", lambda: FunctionalTucker((2, 2), core="cp"), TypeError, "rank"),
    # a callable model returning no numbers crashed with AttributeError inside the metric
    ("rmse-callable-returns-str", lambda: rmse(lambda idx: "x", OBS), TypeError, "model returned"),
    ("mae-callable-returns-none", lambda: mae(lambda idx: None, OBS), TypeError, "model returned"),
    ("nrmse-callable-returns-complex", lambda: nrmse(lambda idx: np.ones(3) * 1j, OBS), TypeError,
     "model returned"),
    # float64 data beyond float32's range became inf inside a float32 model (NaN predictions)
    ("neural-values-beyond-float32", lambda: NeuralCompletion((2, 2), hidden=(4,)).fit(
        ObservedTensor([[0, 0], [1, 1]], [1e200, 2e200], (2, 2)), epochs=1), ValueError,
     "dtype=float64"),
]


@pytest.mark.parametrize(("name", "call", "exc", "match"), REFUSED, ids=[c[0] for c in REFUSED])
def test_refused_with_the_policy_exception(name, call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_checked_iterations_still_solve():
    # oracle: numpy's least squares
    x_star = np.linalg.lstsq(A, B, rcond=None)[0]
    R = np.linalg.qr(A, mode="r")
    norms = np.array([np.linalg.norm(B)])
    np.testing.assert_allclose(_cg(R=R, b_norms=norms, tol=1e-14)[0][:, 0], x_star, rtol=1e-10)
    np.testing.assert_allclose(_refined(R=R, b_norms=norms, norm_A=np.linalg.norm(A, 2)).x[:, 0], x_star,
                               rtol=1e-10)
    # one right-hand side as a vector stays a vector
    np.testing.assert_allclose(sketched_solve(SA, SB[:, 0], (100, 2))[1], [1.0, 2.0])


def test_functional_factor_functions_refuse_a_2d_grid():
    rng = np.random.default_rng(0)
    coords = rng.random((40, 2))
    model = FunctionalTucker(2, n_epochs=2, random_state=0).fit(
        ContinuousObservations(coords, np.sin(3 * coords[:, 0]) * np.cos(2 * coords[:, 1])))
    mean, var = model.factor_functions(0, np.linspace(0, 1, 5))
    assert mean.shape == var.shape == (5, 2)
    with pytest.raises(ValueError, match="grid"):  # was flattened to 4 rows
        model.factor_functions(0, np.zeros((2, 2)))


def test_metric_accepts_a_list_from_a_callable_model():
    # the oracle: the error written out by hand
    assert rmse(lambda idx: [1.0, 3.0, 0.0], OBS) == pytest.approx(2.0 / math.sqrt(3.0))
    assert mae(lambda idx: np.array([1, 3, 2]), OBS) == 0.0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_transforms_near_the_top_of_the_dtype_are_the_scaled_unit_transforms(dtype):
    # An exact power-of-two scaling is the oracle: the DCT is linear, so the transform of 2^e v is
    # 2^e times the transform of v as long as that is representable (it overflowed to inf before).
    top = np.finfo(dtype).maxexp - 1
    unit = np.array([[0.75, 0.5, -0.75, 0.25], [0.5, -0.5, 0.75, -0.25]], dtype=dtype)
    big = unit * dtype(2.0**top)
    np.testing.assert_allclose(values_to_coefficients(big) / dtype(2.0**top), values_to_coefficients(unit),
                               rtol=1e-6, atol=1e-7)
    coefficients = np.array([0.75, 0.75, 0.75], dtype=dtype)  # values 0.75, 0, 2.25 at x = -1, 0, 1
    with np.errstate(over="ignore"):
        values = coefficients_to_values(coefficients * dtype(2.0**top))
    # the value at x = -1 is 0.75 2^top (representable), at x = 1 it is 2.25 2^top (it overflows)
    assert values[0] == dtype(0.75 * 2.0**top)
    assert values[1] == 0.0
    assert np.isinf(values[2])


def test_dividing_a_tiny_function_by_a_tiny_number():
    f = ChebTucker.from_function(_gauss, SQUARE)
    g = (f * 1e-300) / 1e-310
    assert g.norm() == pytest.approx(f.norm() * 1e10, rel=1e-12)
    assert float(g(np.array([[0.3, -0.2]]))[0]) == pytest.approx(1e10 * _gauss(0.3, -0.2), rel=1e-9)


def _neural_predictions(scale, dtype):
    X = np.random.default_rng(1).standard_normal((4, 5, 3))
    mask = np.random.default_rng(2).random(X.shape) < 0.6
    model = NeuralCompletion(X.shape, hidden=(8,), embedding_dim=3, dtype=dtype, random_state=0)
    model.fit(ObservedTensor.from_dense((X * scale).astype(dtype), mask), epochs=3, batch_size=16,
              random_state=0)
    return model.predict(np.argwhere(mask)[:5]).astype(np.float64), model.info.extras["train_rmse"]


@pytest.mark.parametrize(("scale", "dtype", "rtol"), [
    (1e200, np.float64, 1e-9), (1e-200, np.float64, 1e-9),
    (1e30, np.float32, 1e-4), (1e-30, np.float32, 1e-4),
])
def test_neural_completion_of_scaled_data_is_the_scaled_unit_fit(scale, dtype, rtol):
    # NaN predictions at 1e200 and 1e30 (float32), and a different fit at 1e-200, before
    unit, unit_rmse = _neural_predictions(1.0, dtype)
    scaled, scaled_rmse = _neural_predictions(scale, dtype)
    assert np.all(np.isfinite(scaled))
    np.testing.assert_allclose(scaled / scale, unit, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(np.asarray(scaled_rmse) / scale, unit_rmse, rtol=rtol)


@pytest.mark.parametrize("scale", [1e200, 1e-200])
def test_dain_influence_does_not_depend_on_the_scale_of_the_values(scale):
    rng = np.random.default_rng(0)
    idx = np.argwhere(np.ones((6, 5, 4), dtype=bool))[rng.permutation(120)[:60]]
    val = np.sin(idx.sum(axis=1)).astype(float)

    def run(s):
        train = ObservedTensor(idx[:40], val[:40] * s, (6, 5, 4))
        valid = ObservedTensor(idx[40:], val[40:] * s, (6, 5, 4))
        model = NeuralCompletion((6, 5, 4), hidden=(8,), dtype=np.float64, random_state=0)
        return dain_augment(train, valid, model=model, epochs=3, batch_size=16, random_state=0)

    unit, scaled = run(1.0), run(scale)
    np.testing.assert_allclose(scaled.cell_importance, unit.cell_importance, rtol=1e-9)
    np.testing.assert_array_equal(scaled.augmented.indices, unit.augmented.indices)
    np.testing.assert_allclose(scaled.augmented.values / scale, unit.augmented.values, rtol=1e-9)


def test_catalogue_size():
    assert len(REFUSED) >= 40
