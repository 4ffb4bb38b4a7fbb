"""FNOBlock's fused passes (sums folded into the GELU passes, in-place adjoints) against the unfused
composition of its children, and a finite-difference check."""

import numpy as np
import pytest

from operators import FNOBlock
from tensorkit.nn import GELU, gradcheck


def _unfused(block, v, g):
    """``z = act(K v + W v)``, ``out = act(MLP(z) + s v)`` and its adjoint, one child at a time."""
    spectral, skip, mlp = (block._modules[k] for k in ("spectral", "skip", "mlp"))
    act_z, act_out = GELU(), GELU()
    gate = block.params["gate"].reshape(1, -1, 1, 1)
    layers = list(mlp._modules.values())
    z = spectral.forward(v) + skip.forward(v)
    if not block.last:
        z = act_z.forward(z)
    h = z
    for m in layers:
        h = m.forward(h)
    out = h + gate * v
    if not block.last:
        out = act_out.forward(out)
    grads = {}
    go = g if block.last else act_out.backward(g)
    grads["gate"] = (go * v).sum(axis=(0, 2, 3))
    gz = go
    for m in reversed(layers):
        gz = m.backward(gz)
    if not block.last:
        gz = act_z.backward(gz)
    gv = spectral.backward(gz) + skip.backward(gz) + gate * go
    return out, gv, grads


@pytest.mark.parametrize("last", [False, True])
def test_fused_block_equals_the_composition(last):
    rng = np.random.default_rng(0)
    block = FNOBlock(4, (4, 4), last=last, factorization="tucker", rank=0.5, random_state=1)
    v = rng.standard_normal((2, 4, 8, 8))
    g = rng.standard_normal((2, 4, 8, 8))
    block.params["gate"][...] = rng.uniform(0.5, 1.5, 4)
    out = block.forward(v)
    gv = block.backward(g)
    fused_grads = {k: a.copy() for k, a in block.gradients().items()}
    block.zero_grad()
    ref_out, ref_gv, ref_grads = _unfused(block, v, g)
    np.testing.assert_allclose(out, ref_out, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(gv, ref_gv, rtol=1e-13, atol=1e-13)
    ref_grads.update({k: a for k, a in block.gradients().items() if k != "gate"})
    for name, value in fused_grads.items():
        np.testing.assert_allclose(value, ref_grads[name], rtol=1e-12, atol=1e-13, err_msg=name)
    # the caller's gradient is left as it was
    g_copy = g.copy()
    block.forward(v)
    block.backward(g_copy)
    np.testing.assert_array_equal(g_copy, g)


@pytest.mark.parametrize("last", [False, True])
def test_fused_block_gradcheck(last):
    block = FNOBlock(3, (4, 4), last=last, random_state=2)
    block.params["gate"][...] = [0.7, 1.2, -0.4]
    v = np.random.default_rng(3).standard_normal((2, 3, 8, 8))
    assert gradcheck(block, v, max_entries=12)


@pytest.mark.parametrize("last", [False, True])
def test_backward_with_grad_out_as_scratch(last):
    rng = np.random.default_rng(5)
    block = FNOBlock(3, (4, 4), last=last, random_state=6)
    block.params["gate"][...] = [0.7, 1.2, -0.4]
    v = rng.standard_normal((2, 3, 8, 8))
    g = rng.standard_normal((2, 3, 8, 8))
    block.forward(v)
    expected = block.backward(g)
    grads = {k: a.copy() for k, a in block.gradients().items()}
    block.zero_grad()
    block.forward(v)
    np.testing.assert_allclose(block.backward(g.copy(), overwrite=True), expected, rtol=1e-14, atol=1e-14)
    for name, value in block.gradients().items():
        np.testing.assert_allclose(value, grads[name], rtol=1e-14, atol=1e-14, err_msg=name)
