"""Layers: adjoints by finite differences (float64), against torch.autograd, scipy and dense kernels."""

import numpy as np
import pytest
from scipy.signal import correlate

from tensorkit.nn import (
    GELU,
    Conv2d,
    CPConv2d,
    GradcheckError,
    Linear,
    Module,
    ReLU,
    Residual,
    Sequential,
    Tanh,
    gradcheck,
)


@pytest.fixture
def x():
    return np.random.default_rng(0).standard_normal((2, 3, 7, 6))


LAYERS = {
    "linear": lambda: Linear(3, 4, random_state=0),
    "linear_last_axis": lambda: Linear(6, 2, axis=-1, random_state=0),
    "linear_nobias": lambda: Linear(3, 2, bias=False, random_state=0),
    "conv_zeros": lambda: Conv2d(3, 2, 3, random_state=0),
    "conv_periodic": lambda: Conv2d(3, 2, 3, padding_mode="periodic", random_state=0),
    "conv_valid": lambda: Conv2d(3, 2, 2, padding=0, random_state=0),
    "conv_k5_periodic": lambda: Conv2d(3, 2, 5, padding_mode="periodic", random_state=0),
    "conv_wide_zero_padding": lambda: Conv2d(3, 2, 3, padding=3, bias=False, random_state=0),
    "cpconv_zeros": lambda: CPConv2d(3, 2, 3, 2, random_state=0),
    "cpconv_periodic": lambda: CPConv2d(3, 4, 5, 3, padding_mode="periodic", random_state=0),
    "gelu": GELU,
    "gelu_tanh": lambda: GELU("tanh"),
    "relu": ReLU,
    "tanh": Tanh,
    "sequential": lambda: Sequential(Linear(3, 5, random_state=1), GELU(), Conv2d(5, 3, 3, random_state=2)),
    "residual": lambda: Residual(Sequential(Conv2d(3, 3, 3, random_state=1), Tanh())),
    "residual_shortcut": lambda: Residual(Linear(3, 4, random_state=1), Linear(3, 4, random_state=2)),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_gradcheck_every_layer(name, x):
    assert gradcheck(LAYERS[name](), x)


def test_gradcheck_detects_a_wrong_adjoint(x):
    class Broken(Linear):
        def backward(self, grad_out):
            return 1.01 * super().backward(grad_out)

    with pytest.raises(GradcheckError, match="worst mismatch at input"):
        gradcheck(Broken(3, 3, random_state=0), x)


def test_gradcheck_complex_parameter():
    class ComplexScale(Module):
        """y = Re(w * x) with a complex weight per channel (the spectral-weight gradient convention)."""

        def __init__(self):
            super().__init__(random_state=0)
            self.add_parameter("w", self.rng.standard_normal(3) + 1j * self.rng.standard_normal(3))

        def forward(self, x):
            self._x = x
            return (self.params["w"][:, None] * x).real

        def backward(self, g):
            # L = sum g Re(w x): dL/da = sum g Re x ... combined as conj(x) g for real g
            self.grads["w"] += (np.conj(self._x) * g).sum(axis=1)
            return g * np.conj(self.params["w"])[:, None]

    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))
    assert gradcheck(ComplexScale(), x)


def test_conv2d_against_scipy_correlate(x):
    conv = Conv2d(3, 2, 3, padding=0, random_state=0)
    y = conv(x)
    k = conv.params["weight"]
    for b in range(2):
        for o in range(2):
            ref = sum(correlate(x[b, c], k[o, c], mode="valid") for c in range(3)) + conv.params["bias"][o]
            np.testing.assert_allclose(y[b, o], ref, rtol=1e-12, atol=1e-12)


def test_conv2d_periodic_against_direct_loops():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 2, 5, 4))
    conv = Conv2d(2, 1, 3, padding_mode="periodic", bias=False, random_state=0)
    k = conv.params["weight"]
    ref = np.zeros((5, 4))
    for h in range(5):
        for w in range(4):
            for c in range(2):
                for i in range(3):
                    for j in range(3):
                        ref[h, w] += k[0, c, i, j] * x[0, c, (h + i - 1) % 5, (w + j - 1) % 4]
    np.testing.assert_allclose(conv(x)[0, 0], ref, rtol=1e-12)


@pytest.mark.parametrize("mode", ["zeros", "periodic"])
def test_cpconv_equals_dense_conv_with_reconstructed_kernel(mode, x):
    cp = CPConv2d(3, 4, 3, 5, padding_mode=mode, random_state=0)
    dense = Conv2d(3, 4, 3, padding_mode=mode, random_state=1)
    dense.params["weight"][...] = cp.kernel()
    dense.params["bias"][...] = cp.params["bias"]
    np.testing.assert_allclose(cp(x), dense(x), rtol=1e-12, atol=1e-13)
    g = np.random.default_rng(5).standard_normal(dense(x).shape)
    cp(x)
    np.testing.assert_allclose(cp.backward(g), dense.backward(g), rtol=1e-12, atol=1e-13)
    assert cp.num_parameters() == 5 * (3 + 4 + 2 * 3) + 4


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float32_stays_float32(dtype, x):
    model = Sequential(Linear(3, 4, dtype=dtype, random_state=0), GELU(dtype=dtype),
                       CPConv2d(4, 3, 3, 2, dtype=dtype, random_state=0), Conv2d(3, 2, 3, dtype=dtype))
    y = model(x.astype(dtype))
    assert y.dtype == dtype
    assert model.backward(np.ones_like(y)).dtype == dtype
    assert all(g.dtype == dtype for g in model.gradients().values())


def test_against_torch_autograd(x):
    torch = pytest.importorskip("torch")
    lin = Linear(3, 4, random_state=0)
    conv = Conv2d(4, 2, 3, padding_mode="periodic", random_state=1)
    model = Sequential(lin, GELU(), conv, Tanh())
    tl = torch.nn.Conv2d(3, 4, 1).double()
    tc = torch.nn.Conv2d(4, 2, 3, padding=1, padding_mode="circular").double()
    with torch.no_grad():
        tl.weight[...] = torch.tensor(lin.params["weight"][:, :, None, None])
        tl.bias[...] = torch.tensor(lin.params["bias"])
        tc.weight[...] = torch.tensor(conv.params["weight"])
        tc.bias[...] = torch.tensor(conv.params["bias"])
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.tanh(tc(torch.nn.functional.gelu(tl(tx))))
    g = np.random.default_rng(7).standard_normal(ty.shape)
    ty.backward(torch.tensor(g))
    y = model(x)
    dx = model.backward(g)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(lin.grads["weight"], tl.weight.grad.numpy()[:, :, 0, 0], rtol=1e-11)
    np.testing.assert_allclose(conv.grads["weight"], tc.weight.grad.numpy(), rtol=1e-11)
    np.testing.assert_allclose(conv.grads["bias"], tc.bias.grad.numpy(), rtol=1e-11)


def test_gelu_tanh_and_relu_against_torch(x):
    torch = pytest.importorskip("torch")
    tx = torch.tensor(x)
    np.testing.assert_allclose(GELU("tanh")(x), torch.nn.functional.gelu(tx, approximate="tanh").numpy(),
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ReLU()(x), torch.relu(tx).numpy())


def test_parameters_are_shared_arrays_and_named():
    model = Sequential(Linear(3, 4, random_state=0), Residual(Conv2d(4, 4, 3, random_state=0)))
    params = model.parameters()
    assert list(params) == ["0.weight", "0.bias", "1.body.weight", "1.body.bias"]
    assert params["0.weight"] is model[0].params["weight"]
    assert list(model.gradients()) == list(params)
    assert model.num_parameters() == 4 * 3 + 4 + 4 * 4 * 9 + 4
    names = [name for name, _ in model.named_modules()]
    assert names == ["", "0", "1", "1.body"]


def test_state_dict_roundtrip_and_architecture_mismatch(tmp_path, x):
    a = Sequential(Linear(3, 4, random_state=0), GELU(), Linear(4, 2, random_state=1))
    b = Sequential(Linear(3, 4, random_state=5), GELU(), Linear(4, 2, random_state=6))
    path = tmp_path / "model.npz"
    a.save(path)
    b.load(path)
    np.testing.assert_array_equal(a(x), b(x))
    other = Sequential(Linear(3, 5, random_state=0), GELU(), Linear(5, 2, random_state=1))
    before = other.state_dict()
    with pytest.raises(ValueError, match="another architecture"):
        other.load(path)
    for k, v in other.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    with pytest.raises(ValueError, match="missing"):
        Sequential(Linear(3, 4), GELU()).load_state_dict(a.state_dict())
    with pytest.raises(ValueError, match="Linear checkpoint, not a Sequential"):
        lin = Linear(3, 4)
        lin.save(tmp_path / "lin.npz")
        a.load(tmp_path / "lin.npz")


def test_bad_input(x):
    with pytest.raises(ValueError, match="expects 4 channels"):
        Linear(4, 2)(x)
    with pytest.raises(ValueError, match=r"\(batch, 3, H, W\)"):
        Conv2d(3, 2, 3)(x[0])
    with pytest.raises(ValueError, match=r"\(batch, 2, H, W\)"):
        CPConv2d(2, 2, 3, 1)(x)
    with pytest.raises(ValueError, match="padding_mode"):
        Conv2d(3, 2, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="odd kernel_size"):
        Conv2d(3, 2, 4)
    with pytest.raises(ValueError, match="empty cp factorization"):
        CPConv2d(3, 2, 3, 0)
    with pytest.raises(TypeError, match="dtype"):
        Linear(3, 2, dtype=np.int32)
    with pytest.raises(TypeError, match="must be a numpy or CuPy array"):
        Linear(3, 2)([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match="before forward"):
        Conv2d(3, 2, 3).backward(x)
    with pytest.raises(ValueError, match="already has"):
        m = Linear(3, 2)
        m.add_parameter("weight", np.ones(2))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_kernel_against_reference_and_torch(dtype):
    from tensorkit import _kernels

    x = np.linspace(-9, 9, 20001).astype(dtype)
    y, slope = _kernels.gelu_shifted(x, backend="numba")
    y_ref, slope_ref = _kernels.gelu_shifted(x.astype(np.float64), backend="numpy")
    assert y.dtype == dtype and slope.dtype == dtype
    tol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(slope, slope_ref, rtol=0, atol=tol)
    # |y error| = |x| |Phi error|
    np.testing.assert_allclose(y, y_ref, rtol=tol, atol=10 * tol)
    torch = pytest.importorskip("torch")
    np.testing.assert_allclose(GELU(dtype=dtype)(x), torch.nn.functional.gelu(torch.tensor(x)).numpy(),
                               rtol=2e-6 if dtype == np.float32 else 1e-14,
                               atol=2e-6 if dtype == np.float32 else 1e-15)


def test_to_device(x):
    from tensorkit.backend import gpu_available

    model = Sequential(Linear(3, 4, random_state=0), GELU())
    before = model(x)
    assert model.to("cpu") is model
    np.testing.assert_array_equal(model(x), before)
    with pytest.raises(ValueError, match="device must be"):
        model.to("tpu")
    if not gpu_available():
        with pytest.raises(RuntimeError, match="no CUDA device"):
            model.to("gpu")


@pytest.mark.parametrize(
    ("kernel", "padding", "mode"), [(5, 2, "periodic"), (3, 3, "zeros"), (4, 0, "zeros")]
)
def test_conv2d_more_shapes_against_torch(kernel, padding, mode, x):
    torch = pytest.importorskip("torch")
    conv = Conv2d(3, 4, kernel, padding=padding, padding_mode=mode, random_state=0)
    ref = torch.nn.Conv2d(3, 4, kernel, padding=padding,
                          padding_mode="circular" if mode == "periodic" else "zeros").double()
    with torch.no_grad():
        ref.weight[...] = torch.tensor(conv.params["weight"])
        ref.bias[...] = torch.tensor(conv.params["bias"])
    tx = torch.tensor(x, requires_grad=True)
    ty = ref(tx)
    g = np.random.default_rng(8).standard_normal(ty.shape)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(conv(x), ty.detach().numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(conv.backward(g), tx.grad.numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(conv.grads["weight"], ref.weight.grad.numpy(), rtol=1e-11)
