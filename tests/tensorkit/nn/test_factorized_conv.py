"""FactorizedConv (CP, Tucker, TT; factorized and reconstructed; 2D and 3D; strides) and Conv3d:
factorized against reconstructed, against torch's convolution with the reconstructed kernel,
finite-difference adjoints, parameter counts and bad input."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from tensorkit.nn import Conv2d, Conv3d, CPConv2d, FactorizedConv, FactorizedWeight, gradcheck

FACTORIZATIONS = ("cp", "tucker", "tt")
RANKS = {"cp": 3, "tucker": (3, 2, 2, 2, 2), "tt": (2, 3, 2, 2)}


def _rank(factorization, ndim):
    rank = RANKS[factorization]
    if factorization == "tucker":
        return rank[: ndim + 2]
    if factorization == "tt":
        return rank[: ndim + 1]
    return rank


def _layer(factorization, ndim, stride, mode, implementation="factorized", random_state=0):
    return FactorizedConv(
        3, 4, 3, ndim=ndim, factorization=factorization, rank=_rank(factorization, ndim),
        implementation=implementation, stride=stride, padding_mode=mode, random_state=random_state,
    )


def _input(ndim, seed=1):
    shape = (2, 3, 7, 6) if ndim == 2 else (2, 3, 5, 4, 6)
    return np.random.default_rng(seed).standard_normal(shape)


CASES = list(itertools.product(FACTORIZATIONS, (2, 3), (1, 2), ("zeros", "periodic")))


@pytest.mark.parametrize(("factorization", "ndim", "stride", "mode"), CASES)
def test_factorized_equals_reconstructed(factorization, ndim, stride, mode):
    fac = _layer(factorization, ndim, stride, mode)
    rec = _layer(factorization, ndim, stride, mode, implementation="reconstructed", random_state=1)
    rec.load_state_dict(fac.state_dict())  # the same parameters move between implementations
    x = _input(ndim)
    y = fac(x)
    np.testing.assert_allclose(y, rec(x), rtol=1e-12, atol=1e-12)
    g = np.random.default_rng(2).standard_normal(y.shape)
    np.testing.assert_allclose(fac.backward(g), rec.backward(g), rtol=1e-12, atol=1e-12)
    for name in fac.params:
        np.testing.assert_allclose(fac.grads[name], rec.grads[name], rtol=1e-11, atol=1e-12, err_msg=name)


@pytest.mark.parametrize(("factorization", "ndim", "stride", "mode"), CASES)
def test_against_torch_with_the_reconstructed_kernel(factorization, ndim, stride, mode):
    torch = pytest.importorskip("torch")
    fn = torch.nn.functional
    layer = _layer(factorization, ndim, stride, mode)
    x = _input(ndim)
    kernel = torch.tensor(layer.kernel())
    tx = torch.tensor(x, requires_grad=True)
    p = layer.padding
    if mode == "periodic":
        # torch's F.pad lists the last axis first
        padded = fn.pad(tx, tuple(q for pd in reversed(p) for q in (pd, pd)), mode="circular")
        conv_padding = 0
    else:
        padded, conv_padding = tx, p
    conv = fn.conv2d if ndim == 2 else fn.conv3d
    ty = conv(padded, kernel, torch.tensor(layer.params["bias"]), stride=stride, padding=conv_padding)
    y = layer(x)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = np.random.default_rng(3).standard_normal(y.shape)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(layer.backward(g), tx.grad.numpy(), rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize(("factorization", "ndim", "stride", "mode"), CASES)
@pytest.mark.parametrize("implementation", ["factorized", "reconstructed"])
def test_gradcheck_input_and_every_factor(factorization, ndim, stride, mode, implementation):
    layer = _layer(factorization, ndim, stride, mode, implementation=implementation)
    assert set(layer.params) == {*layer.weight.names, "bias"}
    assert gradcheck(layer, _input(ndim), max_entries=12)


@pytest.mark.parametrize("ndim", [2, 3])
def test_parameter_counts(ndim):
    k = (3, 5, 3)[:ndim]
    n_in, n_out = 6, 5
    modes = (n_out, n_in, *k)
    cp = FactorizedConv(n_in, n_out, k, ndim=ndim, factorization="cp", rank=4)
    assert cp.num_parameters() == 4 * sum(modes) + n_out
    ranks = (2, 3, 2, 3, 2)[: ndim + 2]
    tucker = FactorizedConv(n_in, n_out, k, ndim=ndim, factorization="tucker", rank=ranks, bias=False)
    assert tucker.num_parameters() == math.prod(ranks) + sum(n * r for n, r in zip(modes, ranks, strict=True))
    bonds = (*(1, 3, 2, 4, 2)[: ndim + 2], 1)
    tt = FactorizedConv(n_in, n_out, k, ndim=ndim, factorization="tt", rank=bonds[1:-1], bias=False)
    assert tt.rank == bonds
    assert tt.num_parameters() == sum(bonds[i] * n * bonds[i + 1] for i, n in enumerate(modes))
    # a fraction keeps about that share of the dense kernel
    dense = n_in * n_out * math.prod(k)
    half = FactorizedConv(n_in, n_out, k, ndim=ndim, factorization="tucker", rank=0.5, bias=False)
    assert 0.3 * dense < half.num_parameters() < 0.7 * dense


def test_kernel_matches_the_format_and_initial_scale():
    layer = FactorizedConv(16, 16, 3, factorization="cp", rank=32, random_state=0)
    np.testing.assert_allclose(layer.kernel(), layer.weight_tensor().to_dense(), rtol=1e-12, atol=1e-15)
    # implied kernel entries have PyTorch's Conv2d variance 1 / (3 fan_in)
    assert np.std(layer.kernel()) == pytest.approx(math.sqrt(1 / (3 * 16 * 9)), rel=0.3)


def test_cpconv2d_is_the_cp_case_and_keeps_its_signature():
    cp = CPConv2d(3, 4, 3, 5, padding_mode="periodic", random_state=0)
    assert isinstance(cp, FactorizedConv) and cp.factorization == "cp" and cp.rank == 5
    same = FactorizedConv(3, 4, 3, factorization="cp", rank=5, padding_mode="periodic")
    same.load_state_dict(cp.state_dict())
    x = _input(2)
    np.testing.assert_array_equal(cp(x), same(x))


def test_rectangular_kernel_explicit_padding_and_float32():
    layer = FactorizedConv(3, 2, (3, 5), factorization="tt", rank=2, padding=(0, 1), stride=(1, 2),
                           dtype=np.float32, random_state=0)
    x = _input(2).astype(np.float32)
    y = layer(x)
    assert y.shape == (2, 2, 5, 2) and y.dtype == np.float32
    assert layer.backward(np.ones_like(y)).dtype == np.float32
    assert all(g.dtype == np.float32 for g in layer.gradients().values())


@pytest.mark.parametrize(
    ("stride", "padding", "mode"), [(1, "same", "periodic"), (2, 1, "zeros"), (1, 0, "zeros")]
)
def test_conv3d_against_torch(stride, padding, mode):
    torch = pytest.importorskip("torch")
    conv = Conv3d(3, 2, 3, stride=stride, padding=padding, padding_mode=mode, random_state=0)
    p = 1 if padding == "same" else padding
    ref = torch.nn.Conv3d(3, 2, 3, stride=stride, padding=p,
                          padding_mode="circular" if mode == "periodic" else "zeros").double()
    with torch.no_grad():
        ref.weight[...] = torch.tensor(conv.params["weight"])
        ref.bias[...] = torch.tensor(conv.params["bias"])
    x = _input(3)
    tx = torch.tensor(x, requires_grad=True)
    ty = ref(tx)
    g = np.random.default_rng(4).standard_normal(ty.shape)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(conv(x), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(conv.backward(g), tx.grad.numpy(), rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(conv.grads["weight"], ref.weight.grad.numpy(), rtol=1e-11)
    np.testing.assert_allclose(conv.grads["bias"], ref.bias.grad.numpy(), rtol=1e-11)


@pytest.mark.parametrize("layer", [
    lambda: Conv3d(2, 3, (3, 1, 3), padding_mode="periodic", random_state=0),
    lambda: Conv3d(2, 3, 2, stride=(2, 1, 2), padding=0, random_state=0),
    lambda: Conv2d(2, 3, 3, stride=2, padding_mode="periodic", random_state=0),
])
def test_gradcheck_dense_conv_strides_and_3d(layer):
    x = np.random.default_rng(5).standard_normal((2, 2, 5, 4, 6)[: 4 + isinstance(layer(), Conv3d)])
    assert gradcheck(layer(), x, max_entries=12)


def test_factorized_weight_engine():
    fw = FactorizedWeight((4, 3, 5), "cp", 2, subscripts="oix")
    assert fw.names == ("weights", "factor_0", "factor_1", "factor_2")
    rng = np.random.default_rng(0)
    factors = [rng.standard_normal(s.shape) for s in fw.specs]
    np.testing.assert_allclose(fw.dense(factors), fw.to_format(factors).to_dense(), rtol=1e-12)
    with pytest.raises(ValueError, match="reserved"):
        FactorizedWeight((4, 3), "cp", 2, subscripts="ra")


def test_bad_input():
    with pytest.raises(TypeError, match="kernel_size"):
        FactorizedConv(3, 4, True)
    with pytest.raises(TypeError, match="kernel_size"):
        FactorizedConv(3, 4, (3, 3.0))
    with pytest.raises(ValueError, match="kernel_size"):
        FactorizedConv(3, 4, (3, 3, 3))  # ndim=2 needs two entries
    with pytest.raises(ValueError, match="empty cp factorization"):
        FactorizedConv(3, 4, 3, rank=0)
    with pytest.raises(ValueError, match=r"rank\[1\] must be >= 1"):
        FactorizedConv(3, 4, 3, factorization="tucker", rank=(2, 0, 2, 2))
    with pytest.raises(TypeError, match="rank"):
        FactorizedConv(3, 4, 3, rank=True)
    with pytest.raises(ValueError, match="factorization"):
        FactorizedConv(3, 4, 3, factorization="svd")
    with pytest.raises(ValueError, match="implementation"):
        FactorizedConv(3, 4, 3, implementation="fast")
    with pytest.raises(ValueError, match="ndim"):
        FactorizedConv(3, 4, 3, ndim=1)
    with pytest.raises(ValueError, match="stride"):
        FactorizedConv(3, 4, 3, stride=0)
    with pytest.raises(ValueError, match="padding_mode"):
        FactorizedConv(3, 4, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="odd kernel_size"):
        FactorizedConv(3, 4, 4)
    with pytest.raises(TypeError, match="dtype"):
        FactorizedConv(3, 4, 3, dtype=np.int64)
    layer = FactorizedConv(3, 4, 3, ndim=3, random_state=0)
    with pytest.raises(ValueError, match=r"\(batch, 3, H, W, D\)"):
        layer(_input(2))
    with pytest.raises(ValueError, match="periodic padding"):
        FactorizedConv(3, 4, 5, padding_mode="periodic")(np.ones((1, 3, 1, 8)))
    with pytest.raises(RuntimeError, match="before forward"):
        FactorizedConv(3, 4, 3).backward(np.ones((1, 4, 5, 5)))
