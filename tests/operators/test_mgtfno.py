"""Joint factorization over layers (JointSpectralWeight) and MGTFNO: adjoints, the function class at
full rank, training through the patching processor, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from operators import FNO, MGTFNO, JointSpectralWeight, PeriodicCoordinates, SpectralConv
from physics import fit_operator
from tensorkit.nn import gradcheck


def _spectral(model, k):
    return model._modules[f"block{k}"]._modules["spectral"]


@pytest.mark.parametrize("factorization", [None, "cp", "tucker", "tt"])
@pytest.mark.parametrize("implementation", ["factorized", "reconstructed"])
def test_joint_gradcheck(factorization, implementation):
    model = FNO((4, 4), 1, 1, 4, n_layers=3, factorization=factorization, rank=0.6,
                implementation=implementation, joint_factorization=True, random_state=0)
    x = np.random.default_rng(1).standard_normal((2, 1, 8, 8))
    assert gradcheck(model, x, max_entries=5)
    # the layers hold no weight of their own: the joint tensor is counted once
    names = model.parameters()
    assert any(n.startswith("spectral_weight.") for n in names)
    assert not any(".spectral." in n and not n.endswith("bias") for n in names)


@pytest.mark.parametrize("factorization", ["cp", "tucker", "tt"])
def test_layer_weights_are_slices_of_the_joint_tensor(factorization):
    model = FNO((6, 6), 1, 1, 4, n_layers=3, factorization=factorization, rank=0.5,
                joint_factorization=True, random_state=0)
    joint = model._modules["spectral_weight"]
    dense = joint.dense()
    assert dense.shape == (3, 4, 4, 6, 4)
    for k in range(3):
        np.testing.assert_allclose(_spectral(model, k).dense_weight(), dense[k], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(joint.to_format().to_dense(), dense, rtol=1e-12, atol=1e-14)


def test_full_rank_joint_tucker_is_the_dense_function_class():
    """Any dense FNO is a joint Tucker FNO at full rank: core = stacked weights, identity factors."""
    dense = FNO((4, 4), 1, 1, 5, n_layers=3, random_state=0)
    shape = (3, 5, 5, 4, 3)
    joint = FNO((4, 4), 1, 1, 5, n_layers=3, factorization="tucker", rank=shape,
                joint_factorization=True, random_state=1)
    state = {k: v for k, v in dense.state_dict().items() if not k.endswith("spectral.weight")}
    state["spectral_weight.core"] = np.stack(
        [dense.state_dict()[f"block{k}.spectral.weight"] for k in range(3)]
    )
    for k, n in enumerate(shape):
        state[f"spectral_weight.factor_{k}"] = np.eye(n, dtype=complex)
    joint.load_state_dict(state)
    x = np.random.default_rng(0).standard_normal((2, 1, 8, 8))
    np.testing.assert_allclose(joint(x), dense(x), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("factorization", ["cp", "tucker", "tt"])
def test_factorized_and_reconstructed_joint_gradients_agree(factorization):
    """Two routes to the shared factors' gradients: pairwise reverse mode per layer, and the dense
    slice's gradient mapped back through the merge; both summed over the layers."""
    kw = {"factorization": factorization, "rank": 0.5, "joint_factorization": True}
    a = FNO((4, 4), 1, 1, 4, n_layers=3, random_state=0, **kw)
    b = FNO((4, 4), 1, 1, 4, n_layers=3, random_state=0, implementation="reconstructed", **kw)
    x = np.random.default_rng(0).standard_normal((2, 1, 8, 8))
    for model in (a, b):
        out = model(x)
        model.zero_grad()
        model.backward(np.cos(out))
    ga, gb = a.gradients(), b.gradients()
    assert set(ga) == set(gb)
    for name in ga:
        np.testing.assert_allclose(ga[name], gb[name], rtol=1e-9, atol=1e-12, err_msg=name)


def test_mgtfno_trains_through_its_processor():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((12, 1, 16, 16))
    y = np.roll(x, 1, axis=-1)
    model = MGTFNO((6, 6), 1, 1, 8, n_layers=2, levels=1, padding_fraction=0.125, rank=0.5,
                   positional_embedding=None, random_state=0)
    assert model.processor.levels == 1 and model.in_channels == 2
    assert model._modules["spectral_weight"].weight.shape[0] == 2
    fit = fit_operator(model, x, y, epochs=6, processor=model.processor, batch_size=4, lr=1e-2,
                       validation=(x[:4], y[:4]), random_state=0, progress=False)
    errors = fit.history["val_metric"]
    assert errors[-1] < errors[0]
    assert fit.predict(x[:2]).shape == (2, 1, 16, 16)
    np.testing.assert_allclose(fit.predict(x[:2]), model.predict_fields(x[:2]), rtol=1e-10)
    assert "levels=1" in repr(model)


def test_mgtfno_multigrid_options_train_and_predict():
    """shifted_training, overlap and full-weighting contexts: training runs through the processor (with
    exact resume state), and the evaluation blend is the overlap patching of the model."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 1, 16, 16))
    y = np.roll(x, 1, axis=-1)
    model = MGTFNO((6, 6), 1, 1, 8, n_layers=2, levels=1, padding_fraction=0.125, rank=0.5,
                   positional_embedding="periodic", overlap=True, restriction="full_weighting",
                   shifted_training=True, random_state=0)
    fit = fit_operator(model, x, y, epochs=4, processor=model.processor, batch_size=4, lr=1e-2,
                       validation=(x[:4], y[:4]), random_state=0, progress=False)
    assert fit.history["val_metric"][-1] < fit.history["val_metric"][0]
    assert model.processor.state_dict()["step"] == 8  # 2 batches x 4 epochs
    mg = model.processor
    patches, _ = mg.patch(x[:2], overlap=True)
    assert patches.shape[0] == 2 * 4 * 4  # 4 tilings of 4 patches
    np.testing.assert_allclose(fit.predict(x[:2]), mg.unpatch(model(patches)), rtol=1e-10)
    np.testing.assert_allclose(model.predict_fields(x[:2]), fit.predict(x[:2]), rtol=1e-10)
    assert "overlap=True" in repr(model) and "full_weighting" in repr(model)


def test_joint_factorization_has_fewer_parameters():
    per_layer = FNO((8, 8), 1, 1, 16, factorization="tucker", rank=0.1, random_state=0)
    joint = MGTFNO((8, 8), 1, 1, 16, levels=0, rank=0.1, random_state=0)
    dense = FNO((8, 8), 1, 1, 16, random_state=0)
    assert joint.num_parameters() < dense.num_parameters()
    assert per_layer.num_parameters() < dense.num_parameters()
    assert joint._modules["spectral_weight"].weight.num_parameters() <= 0.11 * 4 * 16 * 16 * 8 * 5


def test_bad_input():
    joint = JointSpectralWeight(2, 3, 3, (4, 3), "tucker", 0.5, random_state=0)
    with pytest.raises(ValueError, match="holds layers of shape"):
        SpectralConv(3, 4, (4, 4), joint=(joint, 0))
    with pytest.raises(ValueError, match="layer"):
        SpectralConv(3, 3, (4, 4), joint=(joint, 2))
    with pytest.raises(TypeError, match="JointSpectralWeight"):
        SpectralConv(3, 3, (4, 4), joint=joint)
    with pytest.raises(ValueError, match="differs from the joint"):
        SpectralConv(3, 3, (4, 4), factorization="cp", joint=(joint, 0))
    with pytest.raises(ValueError, match="factorization"):
        JointSpectralWeight(2, 3, 3, (4, 3), "svd")
    with pytest.raises(TypeError, match="holds parameters"):
        joint(np.zeros((1, 3, 8, 8)))
    with pytest.raises(ValueError, match="2D"):
        MGTFNO(8, 1, 1, 8)
    with pytest.raises(TypeError, match="joint_factorization"):
        FNO((4, 4), 1, 1, 4, joint_factorization="yes")
    model = MGTFNO((4, 4), 1, 1, 4, n_layers=1, levels=1, padding_fraction=0.1, random_state=0)
    with pytest.raises(ValueError, match="divisible"):
        model.predict_fields(np.zeros((1, 1, 18, 18)))
    with pytest.raises(ValueError, match="padding_fraction"):
        MGTFNO((4, 4), 1, 1, 4, levels=1, padding_fraction=0.6).predict_fields(np.zeros((1, 1, 16, 16)))


def test_periodic_embedding_end_to_end_gradient():
    """d <w, unpatch(model(patch(x)))> / dx through the embedding, the patching and the model
    (model.backward, then the processor's adjoints) against central differences."""
    rng = np.random.default_rng(6)
    model = MGTFNO((4, 4), 1, 1, 4, n_layers=2, levels=1, padding_fraction=0.125, rank=0.6,
                   positional_embedding="periodic", random_state=0)
    assert model.in_channels == (1 + 4) * 2 and model.positional_embedding is None
    mg = model.processor
    x = rng.standard_normal((2, 1, 16, 16))
    w = rng.standard_normal((2, 1, 16, 16))

    def value(z):
        return float(np.vdot(w, model.predict_fields(z)))

    patches, _ = mg.patch(x)
    out = model.forward(patches)
    assert np.allclose(mg.unpatch(out), model.predict_fields(x))
    grad = mg.patch_adjoint(model.backward(mg.unpatch_adjoint(w)))
    assert grad.shape == x.shape
    eps = 1e-6
    for index in [(0, 0, 0, 0), (1, 0, 7, 9), (0, 0, 15, 3), (1, 0, 8, 8)]:
        e = np.zeros_like(x)
        e[index] = eps
        fd = (value(x + e) - value(x - e)) / (2 * eps)
        assert np.isclose(grad[index], fd, rtol=1e-5, atol=1e-9), index


def test_periodic_embedding_learns_what_a_patch_grid_cannot():
    """A position-dependent map (a forcing, as in Navier-Stokes) on 4 patches: the patch-local grid
    cannot tell the patches apart, the global periodic coordinates can."""
    rng = np.random.default_rng(7)
    n = 16
    t = 2 * np.pi * np.arange(n) / n
    forcing = np.sin(t)[:, None] + np.cos(t)[None, :]
    x = rng.standard_normal((16, 1, n, n)) * 0.1
    y = x + forcing
    errors = {}
    for embedding in ("grid", "periodic"):
        model = MGTFNO((4, 4), 1, 1, 8, n_layers=2, levels=1, padding_fraction=0.125, rank=0.5,
                       positional_embedding=embedding, random_state=0)
        fit = fit_operator(model, x, y, epochs=30, processor=model.processor, batch_size=4, lr=1e-2,
                           validation=(x[:4], y[:4]), random_state=0, progress=False)
        errors[embedding] = fit.history["val_metric"][-1]
        np.testing.assert_allclose(fit.predict(x[:2]), model.predict_fields(x[:2]), rtol=1e-10)
    assert errors["periodic"] < 0.5 * errors["grid"], errors
    model = MGTFNO((4, 4), 2, 1, 4, levels=1, positional_embedding=PeriodicCoordinates(2), random_state=0)
    assert model.in_channels == (2 + 8) * 2 and "PeriodicCoordinates(n_harmonics=2)" in repr(model)


@pytest.mark.parametrize(("value", "error"), [("sincos", ValueError), (3, ValueError)])
def test_bad_positional_embedding(value, error):
    with pytest.raises(error, match="positional_embedding"):
        MGTFNO((4, 4), 1, 1, 4, levels=1, positional_embedding=value)


# ------------------------------------------------------------------ the velocity of the whole field
def test_vorticity_velocity_is_biot_savart_on_fourier_modes():
    """w = sin 2 pi (a x + b y): psi = w / (4 pi^2 (a^2 + b^2)), u = d_y psi, v = -d_x psi, exactly."""
    from physics._learning import VorticityVelocity

    n = 16
    g = np.arange(n) / n
    xx, yy = np.meshgrid(g, g, indexing="ij")
    for a, b in [(1, 0), (2, 3), (-1, 5)]:
        phase = 2 * np.pi * (a * xx + b * yy)
        w = np.sin(phase)[None, None]
        z = VorticityVelocity().embed(w)
        scale = 2 * np.pi / (4 * np.pi**2 * (a * a + b * b))
        np.testing.assert_allclose(z[0, 0], w[0, 0])
        np.testing.assert_allclose(z[0, 1], b * scale * np.cos(phase), atol=1e-14)
        np.testing.assert_allclose(z[0, 2], -a * scale * np.cos(phase), atol=1e-14)
    # the mean carries no velocity; float32 stays float32
    assert np.abs(VorticityVelocity().embed(np.ones((1, 1, 8, 8)))[:, 1:]).max() < 1e-15
    assert VorticityVelocity().embed(np.ones((1, 1, 8, 8), np.float32)).dtype == np.float32


@pytest.mark.parametrize("shape", [(2, 1, 16, 12), (1, 1, 9, 10)])
def test_vorticity_velocity_adjoint(shape):
    from physics._learning import VorticityVelocity

    rng = np.random.default_rng(10)
    emb = VorticityVelocity(PeriodicCoordinates())
    x = rng.standard_normal(shape)
    z = emb.embed(x)
    assert z.shape[1] == 1 + emb.channels(2) == 7
    g = rng.standard_normal(z.shape)
    lin = z - emb.embed(np.zeros_like(x))
    assert np.isclose(np.vdot(lin, g), np.vdot(x, emb.embed_adjoint(g)), rtol=1e-12)


def test_vorticity_velocity_in_mgtfno_and_bad_input():
    from physics._learning import VorticityVelocity

    model = MGTFNO((4, 4), 1, 1, 4, n_layers=1, levels=1, padding_fraction=0.125,
                   positional_embedding=VorticityVelocity(PeriodicCoordinates()), random_state=0)
    assert model.in_channels == (1 + 2 + 4) * 2
    assert model.predict_fields(np.zeros((1, 1, 16, 16))).shape == (1, 1, 16, 16)
    with pytest.raises(ValueError, match="vorticity"):
        VorticityVelocity().embed(np.zeros((1, 2, 8, 8)))
    with pytest.raises(TypeError, match="real floating"):
        VorticityVelocity().embed(np.zeros((1, 1, 8, 8), dtype=int))
    with pytest.raises(TypeError, match="coordinates"):
        VorticityVelocity(coordinates="periodic")
    with pytest.raises(ValueError, match="2D"):
        VorticityVelocity().channels(3)
