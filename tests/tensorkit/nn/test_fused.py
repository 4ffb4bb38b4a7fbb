"""The fused kernels (GELU with shift and slope, Adam) and the fused paths that use them, against the
unfused compositions, plain-numpy references, finite differences and torch.autograd."""

import numpy as np
import pytest
import scipy.special

from tensorkit import _kernels
from tensorkit.nn import GELU, Adam, AdamW, Linear, Module, Sequential, gradcheck


def gelu_forward(x, bias=None, residual=None, gate=None, **kw):
    return _kernels.gelu_shifted(x, bias, residual, gate, backend="numba", **kw)


def gelu_forward_reference(nxp, special, x, bias=None, residual=None, gate=None):
    return _kernels.gelu_shifted(x, bias, residual, gate, backend="numpy")


def adam_update(p, g, m, v, **kw):
    _kernels.adam_step(p, g, m, v, backend="numba", **kw)


def adam_update_reference(nxp, p, g, m, v, **kw):
    _kernels.adam_step(p, g, m, v, backend="numpy", **kw)

TOL = {np.float32: 2e-6, np.float64: 1e-14}


def _case(dtype, shape=(3, 4, 5, 6), seed=0):
    rng = np.random.default_rng(seed)
    x = (3 * rng.standard_normal(shape)).astype(dtype)
    bias = rng.standard_normal(shape[1]).astype(dtype)
    residual = rng.standard_normal(shape).astype(dtype)
    gate = rng.standard_normal(shape[1]).astype(dtype)
    return x, bias, residual, gate


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("terms", ["none", "bias", "residual", "all"])
@pytest.mark.parametrize("overwrite", [False, True])
def test_gelu_kernel_against_reference(dtype, terms, overwrite):
    x, bias, residual, gate = _case(dtype)
    bias = bias if terms in ("bias", "all") else None
    residual, gate = (residual, gate) if terms in ("residual", "all") else (None, None)
    x64 = x.astype(np.float64)
    expected = gelu_forward_reference(np, scipy.special, x64, bias, residual, gate)
    original = x.copy()
    y, slope = gelu_forward(x, bias, residual, gate, overwrite_x=overwrite)
    assert y.dtype == slope.dtype == dtype
    assert (y is x) == overwrite
    if not overwrite:
        np.testing.assert_array_equal(x, original)
    np.testing.assert_allclose(y, expected[0], rtol=0, atol=TOL[dtype] * 4)
    np.testing.assert_allclose(slope, expected[1], rtol=0, atol=TOL[dtype])


@pytest.mark.parametrize("terms", ["none", "bias", "all"])
def test_gelu_on_non_contiguous_input(terms):
    """A transposed or strided x is read in its own layout (a flat view of it would be a copy that
    the kernel writes into, leaving the result unwritten)."""
    x, bias, residual, gate = _case(np.float64, shape=(5, 4, 3, 6), seed=4)
    x = x.transpose(0, 1, 3, 2)[..., ::2]
    residual = residual.transpose(0, 1, 3, 2)[..., ::2]
    bias = bias if terms != "none" else None
    residual, gate = (residual, gate) if terms == "all" else (None, None)
    expected = gelu_forward_reference(np, scipy.special, np.ascontiguousarray(x), bias, residual, gate)
    y, slope = gelu_forward(x, bias, residual, gate)
    np.testing.assert_allclose(y, expected[0], rtol=0, atol=1e-14)
    np.testing.assert_allclose(slope, expected[1], rtol=0, atol=1e-14)
    module = GELU()
    np.testing.assert_allclose(module.forward_shifted(x, bias, residual, gate), expected[0], atol=1e-14)
    g = np.ones_like(np.ascontiguousarray(x))
    np.testing.assert_allclose(module.backward(g), expected[1], atol=1e-14)


def test_adam_on_non_contiguous_and_mixed_dtype_gradients():
    rng = np.random.default_rng(5)
    p, m = rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    g = rng.standard_normal((4, 6)).T
    v = np.abs(rng.standard_normal((6, 4)))
    kw = {"b1": 0.9, "b2": 0.99, "weight_decay": 0.1, "lr": 1e-2, "bias1": 0.1, "bias2": 0.01, "eps": 1e-8}
    ref = [a.copy() for a in (p, g, m, v)]
    adam_update(p, g, m, v, **kw)
    adam_update_reference(np, *ref, **kw)
    np.testing.assert_allclose(p, ref[0], rtol=1e-14)
    g32 = g.astype(np.float32)
    adam_update(p, g32, m, v, **kw)
    adam_update_reference(np, ref[0], g32, ref[2], ref[3], **kw)
    np.testing.assert_allclose(p, ref[0], rtol=1e-14)


def test_gelu_kernel_tails_and_slope_buffer():
    # far tails: GELU -> 0 / identity, slope -> 0 / 1 (float32 clamps must not leak)
    x = np.array([[[-40.0, -8.0, -6.5, -1e-3, 0.0, 1e-3, 6.5, 8.0, 40.0]]], dtype=np.float32)
    buffer = np.full_like(x, np.nan)
    y, slope = gelu_forward(x, slope=buffer)
    assert slope is buffer
    ref = gelu_forward_reference(np, scipy.special, x.astype(np.float64))
    np.testing.assert_allclose(y, ref[0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(slope, ref[1], rtol=0, atol=1e-6)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_forward_shifted_equals_the_composition(approximate):
    x, bias, residual, gate = _case(np.float64, seed=1)
    g = np.random.default_rng(2).standard_normal(x.shape)
    fused, plain = GELU(approximate), GELU(approximate)
    view = (1, -1, 1, 1)
    y = fused.forward_shifted(x.copy(), bias, residual, gate, overwrite_x=True)
    p = x + bias.reshape(view) + gate.reshape(view) * residual
    np.testing.assert_allclose(y, plain.forward(p), rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(fused.backward(g), plain.backward(g), rtol=1e-15, atol=1e-15)
    g_copy = g.copy()
    assert fused.backward(g_copy, overwrite=True) is g_copy


class _ShiftedGELU(Module):
    """GELU(x + b + s r) with b, s, r parameters: the gradients of every operand by the chain rule."""

    def __init__(self, shape, seed):
        super().__init__(dtype=np.float64)
        _, bias, residual, gate = _case(np.float64, shape, seed)
        self.add_parameter("bias", bias)
        self.add_parameter("residual", residual)
        self.add_parameter("gate", gate)
        self.act = GELU()

    def forward(self, x):
        return self.act.forward_shifted(x, self.params["bias"], self.params["residual"], self.params["gate"])

    def backward(self, grad_out):
        gp = self.act.backward(grad_out)
        self.grads["bias"] += gp.sum(axis=(0, 2, 3))
        self.grads["residual"] += gp * self.params["gate"].reshape(1, -1, 1, 1)
        self.grads["gate"] += (gp * self.params["residual"]).sum(axis=(0, 2, 3))
        return gp


def test_forward_shifted_gradcheck():
    shape = (2, 3, 4, 5)
    x = np.random.default_rng(3).standard_normal(shape)
    assert gradcheck(_ShiftedGELU(shape, 4), x, max_entries=20)


def _mlp(dtype, seed, n_in=3, hidden=5, n_out=2):
    return Sequential(Linear(n_in, hidden, dtype=dtype, random_state=seed), GELU(dtype=dtype),
                      Linear(hidden, n_out, dtype=dtype, random_state=seed + 1))


@pytest.mark.parametrize("shape", [(4, 3, 6, 7), (5, 3)])
def test_fused_sequential_equals_the_unfused_composition(shape):
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape)
    fused = _mlp(np.float64, 0)
    g = rng.standard_normal((shape[0], 2, *shape[2:]))
    y = fused.forward(x)
    dx = fused.backward(g)
    # the same children run one by one (no fusion): the reference composition
    modules = [fused[0], fused[1], fused[2]]
    for m in modules:
        m.zero_grad()
    h = x
    for m in modules:
        h = m.forward(h)
    grad = g
    for m in reversed(modules):
        grad = m.backward(grad)
    np.testing.assert_allclose(y, h, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(dx, grad, rtol=1e-13, atol=1e-14)
    first = fused.gradients()
    fused.zero_grad()
    fused.forward(x)
    fused.backward(g)
    for name, value in fused.gradients().items():
        np.testing.assert_allclose(value, first[name], rtol=1e-13, atol=1e-14)
    # GELU last: the caller's gradient is never overwritten
    tail = Sequential(Linear(3, 4, random_state=0), GELU())
    tail.forward(x)
    g_tail = rng.standard_normal((shape[0], 4, *shape[2:]))
    kept = g_tail.copy()
    tail.backward(g_tail)
    np.testing.assert_array_equal(g_tail, kept)


def test_fused_sequential_gradcheck_and_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(6).standard_normal((2, 3, 4, 5))
    model = _mlp(np.float64, 1)
    assert gradcheck(model, x, max_entries=20)
    g = np.random.default_rng(7).standard_normal((2, 2, 4, 5))
    model.zero_grad()
    y = model.forward(x)
    dx = model.backward(g)
    tx = torch.tensor(x, requires_grad=True)
    names = ("0.weight", "0.bias", "2.weight", "2.bias")
    w = [torch.tensor(model.parameters()[k], requires_grad=True) for k in names]
    h = torch.nn.functional.gelu(torch.einsum("oi,bihw->bohw", w[0], tx) + w[1][:, None, None])
    ty = torch.einsum("oi,bihw->bohw", w[2], h) + w[3][:, None, None]
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-12, atol=1e-13)
    for name, tw in zip(names, w, strict=True):
        np.testing.assert_allclose(model.gradients()[name], tw.grad.numpy(), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
@pytest.mark.parametrize("weight_decay", [0.0, 1e-2])
def test_adam_kernel_against_reference(dtype, weight_decay):
    rng = np.random.default_rng(8)
    shape = (7, 9)
    real = np.zeros(0, dtype=dtype).real.dtype

    def draw():
        a = rng.standard_normal(shape)
        if np.dtype(dtype).kind == "c":
            a = a + 1j * rng.standard_normal(shape)
        return a.astype(dtype)

    p, g, m = draw(), draw(), draw()
    v = np.abs(rng.standard_normal(shape)).astype(real)
    kw = {"b1": 0.9, "b2": 0.99, "weight_decay": weight_decay, "lr": 1e-2, "bias1": 1 - 0.9**3,
          "bias2": 1 - 0.99**3, "eps": 1e-8}
    ref = [a.copy() for a in (p, g, m, v)]
    adam_update(p, g, m, v, **kw)
    adam_update_reference(np, *ref, **kw)
    tol = 1e-6 if real == np.float32 else 1e-14
    for got, want in zip((p, m, v), (ref[0], ref[2], ref[3]), strict=True):
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


class _Params(Module):
    def __init__(self, values):
        super().__init__(dtype=np.float64)
        for name, value in values.items():
            self.add_parameter(name, value)


@pytest.mark.parametrize("cls", [Adam, AdamW])
def test_adam_against_torch(cls):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    # real parameters only: torch's Adam takes the second moment of each part of a complex entry,
    # ours |g|^2 (neuraloperator's convention), which the reference test covers
    values = {"w": rng.standard_normal((4, 3)), "b": rng.standard_normal(5)}
    model = _Params(values)
    opt = cls(model, lr=1e-2, weight_decay=1e-2)
    params = [torch.tensor(value.copy(), requires_grad=True) for value in values.values()]
    torch_opt = (torch.optim.Adam if cls is Adam else torch.optim.AdamW)(params, lr=1e-2, weight_decay=1e-2)
    for step in range(4):
        grads = {name: np.cos(step + model.params[name]) for name in values}
        for name, grad in grads.items():
            model.grads[name][...] = grad
        opt.step()
        for p, grad in zip(params, grads.values(), strict=True):
            p.grad = torch.tensor(grad)
        torch_opt.step()
    for name, p in zip(values, params, strict=True):
        np.testing.assert_allclose(model.params[name], p.detach().numpy(), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3, 4, 5, 6), (5, 4)])
def test_linear_add_to_equals_the_sum(dtype, shape):
    rng = np.random.default_rng(10)
    layer = Linear(4, 3, dtype=dtype, random_state=0)
    x = rng.standard_normal(shape).astype(dtype)
    out_shape = (shape[0], 3, *shape[2:])
    target = rng.standard_normal(out_shape).astype(dtype)
    expected = target + layer.forward(x)
    result = layer.forward(x, add_to=target)
    assert result is target
    tol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(result, expected, rtol=tol, atol=tol)
    g = rng.standard_normal(out_shape).astype(dtype)
    gx_target = rng.standard_normal(shape).astype(dtype)
    layer.zero_grad()
    expected_gx = gx_target + layer.backward(g)
    expected_gw = layer.grads["weight"].copy()
    layer.zero_grad()
    assert layer.backward(g, add_to=gx_target) is gx_target
    np.testing.assert_allclose(gx_target, expected_gx, rtol=tol, atol=tol)
    np.testing.assert_allclose(layer.grads["weight"], expected_gw, rtol=tol, atol=tol)
    with pytest.raises(ValueError, match="add_to"):
        layer.forward(x, add_to=np.zeros((1, 3), dtype=dtype))
    with pytest.raises(ValueError, match="add_to"):
        layer.forward(x, add_to=target.astype(np.float16))
