"""Each algorithm module against the ``direct`` contraction, the plan's pickling and the demo plot."""

import pickle

import numpy as np
import pytest

from tensorkit.gaunt import GauntTensorProduct, gaunt_coefficients
from tensorkit.gaunt._direct import direct_product, direct_tables
from tensorkit.gaunt._fourier import fourier_product, fourier_tables
from tensorkit.gaunt._s2grid import s2grid_product, s2grid_tables
from tensorkit.gaunt._sph_harm import lmax_from_size

MODULES = {
    "s2grid": (s2grid_tables, s2grid_product),
    "fourier": (fourier_tables, fourier_product),
}
# (L1, L2, Lout, batch of x1, batch of x2): uneven degrees, truncated and full outputs, broadcasting
CASES = [
    (0, 2, 2, (7,), (7,)),
    (3, 1, 4, (5, 3), (5, 1)),
    (2, 4, 3, (1, 4), (6, 4)),
    (5, 5, 10, (9,), (9,)),
    (6, 3, 2, (2, 3, 2), (3, 1)),
]


def _random_pair(rng, l1, l2, b1, b2):
    return rng.standard_normal((*b1, (l1 + 1) ** 2)), rng.standard_normal((*b2, (l2 + 1) ** 2))


@pytest.mark.parametrize("method", sorted(MODULES))
@pytest.mark.parametrize(("l1", "l2", "lout", "b1", "b2"), CASES)
def test_method_matches_direct(method, l1, l2, lout, b1, b2, device, dtype, rtol):
    rng = np.random.default_rng(l1 * 100 + l2 * 10 + lout)
    x1, x2 = _random_pair(rng, l1, l2, b1, b2)
    ref = GauntTensorProduct(l1, l2, lout, method="direct")(x1, x2)
    a, b = device.put([x1.astype(dtype), x2.astype(dtype)])
    out = device.get(GauntTensorProduct(l1, l2, lout, method=method)(a, b))
    assert out.dtype == dtype and out.shape == ref.shape
    np.testing.assert_allclose(out, ref, atol=rtol(dtype) * np.abs(ref).max())


@pytest.mark.parametrize("method", sorted(MODULES))
def test_module_product_on_host_tables(method):
    """The module's own contract: host float64 tables serve numpy float64 inputs as they are,
    for a pair and for one input used twice (the shared-synthesis path)."""
    from tensorkit.backend import get_namespace

    build, product = MODULES[method]
    rng = np.random.default_rng(11)
    x1, x2 = _random_pair(rng, 4, 3, (6,), (6,))
    xp = get_namespace(x1)
    direct = direct_tables(4, 3, 5)
    pair = product(x1, x2, build(4, 3, 5), False, xp)
    np.testing.assert_allclose(pair, direct_product(x1, x2, direct, False, xp), atol=1e-12)
    squared = product(x1, x1, build(4, 4, 6), True, xp)
    np.testing.assert_allclose(squared, direct_product(x1, x1, direct_tables(4, 4, 6), True, xp),
                               atol=1e-12)


def test_direct_table_is_the_gaunt_tensor():
    g = direct_tables(2, 1, 3)["gaunt"].toarray().reshape(16, 9, 4)
    for l1 in range(3):
        for l2 in range(2):
            for l3 in range(4):
                block = g[l3 * l3:(l3 + 1) ** 2, l1 * l1:(l1 + 1) ** 2, l2 * l2:(l2 + 1) ** 2]
                np.testing.assert_allclose(np.transpose(block, (1, 2, 0)), gaunt_coefficients(l1, l2, l3),
                                           atol=1e-15)


@pytest.mark.parametrize("method", ["auto", "s2grid", "fourier", "direct"])
@pytest.mark.parametrize("dtype_arg", [None, np.float32])
def test_plan_pickles_without_device_tables(method, dtype_arg):
    rng = np.random.default_rng(12)
    x1, x2 = _random_pair(rng, 3, 2, (4,), (4,))
    plan = GauntTensorProduct(3, 2, 4, method=method, dtype=dtype_arg)
    out = plan(x1, x2)
    state = plan.__getstate__()
    assert state["_device"] == {} and plan._device  # the live plan keeps its copies
    restored = pickle.loads(pickle.dumps(plan))
    assert repr(restored) == repr(plan)
    assert restored._device == {}
    np.testing.assert_array_equal(restored(x1, x2), out)
    # a plan pickled before its first call builds its tables after unpickling
    fresh = pickle.loads(pickle.dumps(GauntTensorProduct(3, 2, 4, method=method, dtype=dtype_arg)))
    np.testing.assert_array_equal(fresh(x1, x2), out)


def test_resolved_method_by_device():
    assert GauntTensorProduct(1, 1, 2).resolved_method() == "direct"
    assert GauntTensorProduct(1, 1, 2).resolved_method("gpu") == "s2grid"
    assert GauntTensorProduct(3, 3).resolved_method("cpu") == "s2grid"
    assert GauntTensorProduct(3, 3, method="fourier").resolved_method("gpu") == "fourier"
    with pytest.raises(ValueError, match="device must be one of"):
        GauntTensorProduct(1, 1).resolved_method("tpu")


def test_degree_checks_follow_the_policy():
    with pytest.raises(TypeError, match="lmax1 must be an int, got True"):
        GauntTensorProduct(True, 1)
    with pytest.raises(TypeError, match="lmax_out must be an int"):
        GauntTensorProduct(1, 1, 2.0)
    with pytest.raises(ValueError, match="lmax2 must be >= 0, got -3"):
        GauntTensorProduct(1, -3)
    with pytest.raises(TypeError, match="dtype must be one of"):
        GauntTensorProduct(1, 1, dtype="complex128")
    with pytest.raises(ValueError, match=r"x must have last dimension \(lmax\+1\)\*\*2"):
        lmax_from_size(np.ones(5), "x")
    with pytest.raises(ValueError, match="device must be one of"):
        gaunt_coefficients(1, 1, 2, device="tpu")
    assert gaunt_coefficients(1, 1, 2, device="cpu") is gaunt_coefficients(1, 1, 2)


def test_demo_plot_keeps_the_matplotlib_backend(tmp_path, monkeypatch):
    matplotlib = pytest.importorskip("matplotlib")
    from tensorkit.gaunt._demo import _plot_times

    def refuse(*args, **kwargs):
        raise AssertionError("the demo must not switch the matplotlib backend")

    monkeypatch.setattr(matplotlib, "use", refuse)
    rows = [(2, {"s2grid": 1e-3, "direct": 2e-3}), (4, {"s2grid": 4e-3})]
    path = tmp_path / "gaunt.png"
    _plot_times(rows, ("s2grid", "direct"), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["gaunt.png"]  # no temporary file left
