"""Forward and adjoint against PyTorch autograd through neuraloperator's own layers (test-only oracle).

neuraloperator accumulates the spectral product in complex64 whatever the input dtype, so agreement
is to single precision; the float64 accuracy is tested against explicit DFT sums and finite differences.
"""

from __future__ import annotations

import numpy as np
import pytest

from operators import FNO, SpectralConv

torch = pytest.importorskip("torch")
neuralop = pytest.importorskip("neuralop")


@pytest.fixture(autouse=True)
def _tensorly_pytorch_backend():
    # neuraloperator contracts through tensorly, whose backend is process-global state
    import tensorly

    with tensorly.backend_context("pytorch"):
        yield


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


# 3D with even lengths on the leading axes only: neuraloperator 2.0 undoes its fftshift with a second
# fftshift (not ifftshift), which moves the output spectrum by one frequency along an odd-length
# leading axis (with ifftshift patched in, the odd cases agree too); test_fno3d's fftn oracle covers
# odd grids.
@pytest.mark.parametrize(
    ("shape", "n_modes"), [((2, 3, 12, 10), (6, 6)), ((2, 3, 8, 8), (8, 8)), ((2, 3, 16), (6,)),
                           ((2, 3, 8, 8, 8), (4, 4, 4)), ((2, 3, 8, 10, 9), (5, 6, 6)),
                           ((2, 3, 6, 6, 6), (6, 6, 6))]
)
def test_spectral_conv_matches_neuraloperator(shape, n_modes):
    from neuralop.layers.spectral_convolution import SpectralConv as TorchSpectralConv

    torch.manual_seed(0)
    ref = TorchSpectralConv(3, 4, n_modes).double()
    ref.weight.tensor.data = ref.weight.tensor.data.to(torch.complex128)
    ours = SpectralConv(3, 4, n_modes, random_state=0)
    ours.load_state_dict({
        "weight": ref.weight.tensor.detach().numpy(),
        "bias": ref.bias.detach().numpy().reshape(-1),
    })
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    g = rng.standard_normal((shape[0], 4, *shape[2:]))
    xt = _t(x).requires_grad_(True)
    yt = ref(xt)
    (yt * _t(g)).sum().backward()
    y = ours(x)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-5, atol=1e-6)
    ours.zero_grad()
    gx = ours.backward(g)
    np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.grads["weight"], ref.weight.tensor.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.grads["bias"], ref.bias.grad.numpy().reshape(-1), rtol=1e-5, atol=1e-6)


def _neuraloperator_state(ref, n_layers):
    """Our FNO's state_dict from a neuraloperator FNO (same layout, renamed, 1x1 kernels squeezed)."""
    p = {k: v.detach().numpy() for k, v in ref.named_parameters()}
    state = {}
    for side in ("lifting", "projection"):
        for j, ours in ((0, 0), (1, 2)):
            state[f"{side}.{ours}.weight"] = p[f"{side}.fcs.{j}.weight"][..., 0]
            state[f"{side}.{ours}.bias"] = p[f"{side}.fcs.{j}.bias"]
    for k in range(n_layers):
        b = "fno_blocks"
        state[f"block{k}.spectral.weight"] = p[f"{b}.convs.{k}.weight.tensor"]
        state[f"block{k}.spectral.bias"] = p[f"{b}.convs.{k}.bias"].reshape(-1)
        state[f"block{k}.skip.weight"] = p[f"{b}.fno_skips.{k}.conv.weight"][..., 0]
        for j, ours in ((0, 0), (1, 2)):
            state[f"block{k}.mlp.{ours}.weight"] = p[f"{b}.channel_mlp.{k}.fcs.{j}.weight"][..., 0]
            state[f"block{k}.mlp.{ours}.bias"] = p[f"{b}.channel_mlp.{k}.fcs.{j}.bias"]
        state[f"block{k}.gate"] = p[f"{b}.channel_mlp_skips.{k}.weight"].reshape(-1)
    return state


@pytest.mark.parametrize(
    ("n_modes", "grid", "width"), [((6, 6), (12, 12), 8), ((4, 4, 4), (8, 6, 8), 4)]  # FNO-2D, FNO-3D
)
def test_fno_matches_neuraloperator(n_modes, grid, width):
    from neuralop.models import FNO as TorchFNO

    torch.manual_seed(0)
    n_layers = 3
    ref = TorchFNO(n_modes=n_modes, in_channels=2, out_channels=1, hidden_channels=width,
                   n_layers=n_layers, positional_embedding=None).double()
    gate_shape = (1, width) + (1,) * len(n_modes)
    for k in range(n_layers):
        w = ref.fno_blocks.convs[k].weight
        w.tensor.data = w.tensor.data.to(torch.complex128)
        # soft gates start at one; perturb them so their gradients are tested on a generic point
        ref.fno_blocks.channel_mlp_skips[k].weight.data += 0.1 * torch.randn(gate_shape, dtype=torch.float64)
    ours = FNO(n_modes, 2, 1, width, n_layers=n_layers, positional_embedding=None, random_state=0)
    ours.load_state_dict(_neuraloperator_state(ref, n_layers))
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 2, *grid))
    g = rng.standard_normal((3, 1, *grid))
    xt = _t(x).requires_grad_(True)
    yt = ref(xt)
    (yt * _t(g)).sum().backward()
    np.testing.assert_allclose(ours(x), yt.detach().numpy(), rtol=1e-5, atol=1e-6)
    ours.zero_grad()
    np.testing.assert_allclose(ours.backward(g), xt.grad.numpy(), rtol=1e-5, atol=1e-6)
    ref_grads = _neuraloperator_state(
        type("G", (), {"named_parameters": lambda self: ((n, q.grad) for n, q in ref.named_parameters())})(),
        n_layers,
    )
    ours_grads = ours.gradients()
    for name, value in ref_grads.items():
        np.testing.assert_allclose(ours_grads[name], value, rtol=1e-5, atol=1e-6, err_msg=name)
