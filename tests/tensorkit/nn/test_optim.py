"""Optimizers against their published update rules on a quadratic, and against torch.optim."""

import math

import numpy as np
import pytest

from tensorkit.nn import SGD, Adam, AdamW, CosineLR, Lion, Module, StepLR


class Quadratic(Module):
    """L(w) = 1/2 sum_k a_k |w_k - c_k|^2 over a real and a complex parameter."""

    def __init__(self, dtype=np.float64):
        super().__init__(dtype=dtype, random_state=0)
        rng = self.rng
        self.a = rng.uniform(0.5, 3.0, 5)
        self.c = rng.standard_normal(5)
        self.cz = rng.standard_normal(3) + 1j * rng.standard_normal(3)
        self.add_parameter("w", rng.standard_normal(5))
        self.add_parameter("z", rng.standard_normal(3) + 1j * rng.standard_normal(3))

    def loss(self):
        return 0.5 * np.sum(self.a * (self.params["w"] - self.c) ** 2) + 0.5 * np.sum(
            np.abs(self.params["z"] - self.cz) ** 2
        )

    def compute_grads(self):
        self.zero_grad()
        self.grads["w"] += self.a * (self.params["w"] - self.c)
        # dL/dRe + i dL/dIm of 1/2 |z - c|^2
        self.grads["z"] += self.params["z"] - self.cz


def reference_run(rule, steps, **hp):
    """The published update rules written directly, on copies of the parameters."""
    q = Quadratic()
    params = {k: v.copy() for k, v in q.params.items()}
    state = {k: {"m": np.zeros_like(v), "v": np.zeros(v.shape), "b": None} for k, v in params.items()}
    for t in range(1, steps + 1):
        grads = {"w": q.a * (params["w"] - q.c), "z": params["z"] - q.cz}
        for k, p in params.items():
            g, s = grads[k], state[k]
            if rule == "sgd":
                g = g + hp["weight_decay"] * p
                s["b"] = g.copy() if s["b"] is None else hp["momentum"] * s["b"] + g
                params[k] = p - hp["lr"] * (g + hp["momentum"] * s["b"] if hp["nesterov"] else s["b"])
            elif rule in ("adam", "adamw"):
                b1, b2 = hp["betas"]
                if rule == "adamw":
                    p = p * (1 - hp["lr"] * hp["weight_decay"])
                else:
                    g = g + hp["weight_decay"] * p
                s["m"] = b1 * s["m"] + (1 - b1) * g
                s["v"] = b2 * s["v"] + (1 - b2) * np.abs(g) ** 2
                mhat, vhat = s["m"] / (1 - b1**t), s["v"] / (1 - b2**t)
                params[k] = p - hp["lr"] * mhat / (np.sqrt(vhat) + hp["eps"])
            elif rule == "lion":
                b1, b2 = hp["betas"]
                c = b1 * s["m"] + (1 - b1) * g
                sign = np.sign(c.real) + 1j * np.sign(c.imag) if np.iscomplexobj(c) else np.sign(c)
                params[k] = p * (1 - hp["lr"] * hp["weight_decay"]) - hp["lr"] * sign
                s["m"] = b2 * s["m"] + (1 - b2) * g
    return params


CASES = [
    ("sgd", SGD, {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01, "nesterov": False}),
    ("sgd", SGD, {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.0, "nesterov": True}),
    ("adam", Adam, {"lr": 0.05, "betas": (0.9, 0.99), "eps": 1e-8, "weight_decay": 0.01}),
    ("adamw", AdamW, {"lr": 0.05, "betas": (0.8, 0.999), "eps": 1e-6, "weight_decay": 0.1}),
    ("lion", Lion, {"lr": 0.05, "betas": (0.9, 0.99), "weight_decay": 0.1}),
]


@pytest.mark.parametrize(("rule", "cls", "hp"), CASES)
def test_published_update_rules_on_a_quadratic(rule, cls, hp):
    q = Quadratic()
    opt = cls(q, **hp)
    start = q.loss()
    for _ in range(40):
        q.compute_grads()
        opt.step()
    ref = reference_run(rule, 40, **hp)
    for k in ("w", "z"):
        np.testing.assert_allclose(q.params[k], ref[k], rtol=1e-12, atol=1e-14)
    assert q.loss() < 0.5 * start


@pytest.mark.parametrize(("name", "kwargs"), [
    ("SGD", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01}),
    ("Adam", {"lr": 0.05, "betas": (0.9, 0.99), "weight_decay": 0.01}),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.1}),
])
def test_against_torch_optim_real(name, kwargs):
    torch = pytest.importorskip("torch")
    q = Quadratic()
    w0 = q.params["w"].copy()
    tw = torch.tensor(w0, requires_grad=True)
    topt = getattr(torch.optim, name)([tw], **kwargs)
    ours = {"SGD": SGD, "Adam": Adam, "AdamW": AdamW}[name](q, **kwargs)
    a, c = torch.tensor(q.a), torch.tensor(q.c)
    for _ in range(25):
        topt.zero_grad()
        (0.5 * (a * (tw - c) ** 2).sum()).backward()
        topt.step()
        q.compute_grads()
        q.grads["z"][...] = 0
        ours.step()
    np.testing.assert_allclose(q.params["w"], tw.detach().numpy(), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize(("cls", "hp"), [(SGD, {"momentum": 0.9}), (Adam, {}), (AdamW, {}), (Lion, {})])
def test_lr_scales_multiply_the_rate_of_their_parameters(cls, hp):
    # a module's lr_scales act as a per-parameter learning rate: scale 3 at lr equals lr 3 * lr
    scaled, slow, fast = Quadratic(), Quadratic(), Quadratic()
    scaled.lr_scales["z"] = 3.0
    runs = [(q, cls(q, lr=lr, **hp)) for q, lr in ((scaled, 0.01), (slow, 0.01), (fast, 0.03))]
    for _ in range(5):
        for q, opt in runs:
            q.compute_grads()
            opt.step()
    np.testing.assert_allclose(scaled.params["w"], slow.params["w"], rtol=1e-12)
    np.testing.assert_allclose(scaled.params["z"], fast.params["z"], rtol=1e-12)
    assert scaled.parameter_lr_scales() == {"z": 3.0}


def test_float32_updates_stay_float32():
    q = Quadratic(dtype=np.float32)
    for cls in (SGD, Adam, AdamW, Lion):
        opt = cls(q, lr=1e-2)
        q.compute_grads()
        opt.step()
        assert q.params["w"].dtype == np.float32 and q.params["z"].dtype == np.complex64
        for arrays in opt.state.values():
            assert all(a.dtype in (np.float32, np.complex64) for a in arrays)


def test_state_dict_resume_is_exact():
    a, b = Quadratic(), Quadratic()
    oa, ob = Adam(a, lr=0.05), Adam(b, lr=0.05)
    for _ in range(5):
        a.compute_grads()
        oa.step()
    b.load_state_dict(a.state_dict())
    ob.load_state_dict(oa.state_dict())
    for _ in range(5):
        a.compute_grads()
        oa.step()
        b.compute_grads()
        ob.step()
    np.testing.assert_array_equal(a.params["z"], b.params["z"])
    with pytest.raises(ValueError, match="does not match"):
        SGD(a, lr=0.1, momentum=0.9).load_state_dict(oa.state_dict())


def test_schedulers():
    q = Quadratic()
    opt = SGD(q, lr=1.0)
    sched = StepLR(opt, step_size=3, gamma=0.5)
    lrs = []
    for _ in range(7):
        lrs.append(opt.lr)
        sched.step()
    assert lrs == [1, 1, 1, 0.5, 0.5, 0.5, 0.25]
    opt2 = Adam(q, lr=0.1)
    cos = CosineLR(opt2, t_max=4, eta_min=0.01)
    seen = []
    for _ in range(6):
        seen.append(opt2.lr)
        cos.step()
    expected = [0.01 + 0.09 * (1 + math.cos(math.pi * min(t, 4) / 4)) / 2 for t in range(6)]
    np.testing.assert_allclose(seen, expected, rtol=1e-14)
    torch = pytest.importorskip("torch")
    tw = torch.zeros(1, requires_grad=True)
    topt = torch.optim.SGD([tw], lr=0.1)
    tsched = torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=4, eta_min=0.01)
    theirs = []
    for _ in range(5):
        theirs.append(topt.param_groups[0]["lr"])
        topt.step()
        tsched.step()
    np.testing.assert_allclose(seen[:5], theirs, rtol=1e-12)


def test_bad_input():
    q = Quadratic()
    with pytest.raises(ValueError, match="lr"):
        Adam(q, lr=-1)
    with pytest.raises(ValueError, match="betas"):
        Adam(q, betas=(0.9, 1.0))
    with pytest.raises(TypeError, match="Module"):
        SGD({"w": np.ones(2)}, lr=0.1)
    with pytest.raises(ValueError, match="nesterov"):
        SGD(q, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="step_size"):
        StepLR(SGD(q), step_size=0)
