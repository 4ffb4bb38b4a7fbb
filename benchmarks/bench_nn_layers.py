"""tensorkit.nn layers against PyTorch (CPU, float32): forward + backward per layer, and an Adam step.

The FNO hot path at the issue's benchmark size (batch 8, width 32, 64x64): the 1x1 convolution
(``Linear`` over channels), GELU, a 3x3 convolution (dense at strides 1 and 2; CP, Tucker and TT
factorized), the relative L2 loss and one Adam step over 700k parameters. Peer and tensorkit run
interleaved in one process with the same thread count; medians and minima of the CPU time
(``time.process_time``: steadier than wall time on a shared machine) over repeats are printed.

Measured (2026-12-02, 1 thread, CPU time, medians of 25, three runs; a shared 2-core AMD EPYC (Zen 5)
under load): Linear 1x1 0.8x, GELU 0.55-0.65x, LpLoss 0.7x and Adam 0.3x of torch's. Conv2d 3x3
periodic, default (Winograd F(3x3, 3x3)) 0.97-0.99x; algorithm='winograd3' 0.95-0.99x; 'winograd'
(F(2x2, 3x3)) 1.10-1.13x; 'direct' 1.45-1.55x; 'winograd4' 0.88-0.90x; stride 2 (polyphase taps)
0.97-1.05x. The default was F(2x2, 3x3) at 1.24-1.31x before, and the taps at 1.71-1.84x before
that. numpy's OpenBLAS runs Haswell (AVX2) kernels on this AVX-512 CPU while torch's oneDNN uses
AVX-512; with ``OPENBLAS_CORETYPE=SkylakeX``: default 0.76x, direct 1.20x, winograd 0.97x, winograd4
0.73x, stride 2 0.87x. ``--accuracy`` prints the float32 error of each Conv2d algorithm against a
float64 oracle.

Usage: python benchmarks/bench_nn_layers.py [--quick] [--threads N] [--accuracy]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

ALGORITHMS = ("direct", "winograd", "winograd3", "winograd4")


def timings(cases: dict, repeats: int) -> dict:
    times = {k: [] for k in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            start = time.process_time()
            fn()
            times[name].append(time.process_time() - start)
    return {k: (float(np.median(v)) * 1e3, float(np.min(v)) * 1e3) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--accuracy", action="store_true",
                        help="only the float32 error of Conv2d's algorithms against a float64 oracle")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        print("torch is not installed: nothing to compare against")
        return
    from threadpoolctl import threadpool_info, threadpool_limits

    from tensorkit import nn

    torch.set_num_threads(args.threads)
    b, c, n = (2, 8, 16) if args.quick else (8, 32, 64)
    if args.accuracy:
        conv_accuracy(torch, b, c, n)
        return
    repeats = 3 if args.quick else 25
    f32 = np.float32
    rng = np.random.default_rng(0)
    x = rng.standard_normal((b, c, n, n)).astype(f32)
    g = rng.standard_normal((b, c, n, n)).astype(f32)
    tx = torch.tensor(x, requires_grad=True)
    tg = torch.tensor(g)

    lin = nn.Linear(c, c, dtype=f32, random_state=0)
    t_lin = torch.nn.Conv2d(c, c, 1)
    gelu = nn.GELU(dtype=f32)
    conv = nn.Conv2d(c, c, 3, padding_mode="periodic", dtype=f32, random_state=0)
    conv_direct = nn.Conv2d(c, c, 3, padding_mode="periodic", algorithm="direct", dtype=f32, random_state=0)
    conv_f2 = nn.Conv2d(c, c, 3, padding_mode="periodic", algorithm="winograd", dtype=f32, random_state=0)
    conv_f3 = nn.Conv2d(c, c, 3, padding_mode="periodic", algorithm="winograd3", dtype=f32, random_state=0)
    conv_f4 = nn.Conv2d(c, c, 3, padding_mode="periodic", algorithm="winograd4", dtype=f32, random_state=0)
    t_conv = torch.nn.Conv2d(c, c, 3, padding=1, padding_mode="circular")
    conv_s2 = nn.Conv2d(c, c, 3, stride=2, padding_mode="periodic", dtype=f32, random_state=0)
    t_conv_s2 = torch.nn.Conv2d(c, c, 3, stride=2, padding=1, padding_mode="circular")
    cpconv = nn.CPConv2d(c, c, 3, c // 2, padding_mode="periodic", dtype=f32, random_state=0)
    factorized = {
        kind: nn.FactorizedConv(c, c, 3, factorization=kind, rank=0.25, padding_mode="periodic",
                                dtype=f32, random_state=0)
        for kind in ("tucker", "tt")
    }
    loss = nn.LpLoss()
    t_loss = None
    try:
        from neuralop.losses.data_losses import LpLoss as TLpLoss

        t_loss = TLpLoss(d=2, p=2)
    except ImportError:
        pass

    def fb(module):
        def run():
            out = module.forward(x)
            module.backward(g[:, :, : out.shape[2], : out.shape[3]])

        return run

    def t_fb(fn):
        def run():
            tx.grad = None
            out = fn(tx)
            out.backward(tg[:, :, : out.shape[2], : out.shape[3]])

        return run

    def ours_loss():
        loss.forward(x, g)
        loss.backward()

    def theirs_loss():
        tx.grad = None
        t_loss(tx, tg).backward()

    # Adam over 700k parameters (the FNO of the target), split into 10 tensors
    sizes = [70_000] * 10
    holder = nn.Module(dtype=f32)
    for k, s in enumerate(sizes):
        holder.add_parameter(f"p{k}", rng.standard_normal(s))
        holder.grads[f"p{k}"][...] = rng.standard_normal(s)
    adam = nn.Adam(holder, lr=1e-3, weight_decay=1e-4)
    t_params = [torch.tensor(p, requires_grad=True) for p in holder.parameters().values()]
    for p, gr in zip(t_params, holder.gradients().values(), strict=True):
        p.grad = torch.tensor(gr)
    t_adam = torch.optim.Adam(t_params, lr=1e-3, weight_decay=1e-4)

    cases = {
        "Linear 1x1 fwd+bwd": (fb(lin), t_fb(t_lin)),
        "GELU fwd+bwd": (fb(gelu), t_fb(torch.nn.functional.gelu)),
        "Conv2d 3x3 periodic fwd+bwd": (fb(conv), t_fb(t_conv)),
        "  algorithm='direct'": (fb(conv_direct), t_fb(t_conv)),
        "  algorithm='winograd'": (fb(conv_f2), t_fb(t_conv)),
        "  algorithm='winograd3'": (fb(conv_f3), t_fb(t_conv)),
        "  algorithm='winograd4'": (fb(conv_f4), t_fb(t_conv)),
        "Conv2d 3x3 stride 2 fwd+bwd": (fb(conv_s2), t_fb(t_conv_s2)),
        f"CPConv2d 3x3 rank {c // 2} fwd+bwd": (fb(cpconv), None),
        **{f"FactorizedConv {kind} 0.25 fwd+bwd": (fb(layer), None) for kind, layer in factorized.items()},
        "LpLoss fwd+bwd": (ours_loss, theirs_loss if t_loss is not None else None),
        "Adam step (700k params)": (adam.step, t_adam.step),
    }
    flat = {}
    for name, (ours, theirs) in cases.items():
        flat[(name, "tensorkit")] = ours
        if theirs is not None:
            flat[(name, "torch")] = theirs
    with threadpool_limits(limits=args.threads):
        blas = sorted({(i["internal_api"], i["num_threads"], str(i.get("architecture")))
                       for i in threadpool_info()})
        print(f"size: batch {b}, channels {c}, {n}x{n}, float32; threads {args.threads}; BLAS {blas}")
        timings(flat, 2)  # warm up (Numba compile, allocator)
        result = timings(flat, repeats)
    header = ("case (CPU time)", "tensorkit ms (min)", "torch ms (min)", "ratio med", "ratio min")
    print(f"{header[0]:36s} {header[1]:>20s} {header[2]:>18s} {header[3]:>10s} {header[4]:>10s}")
    for name in cases:
        ours = result[(name, "tensorkit")]
        theirs = result.get((name, "torch"))
        if theirs is None:
            print(f"{name:36s} {ours[0]:10.2f} ({ours[1]:6.2f})")
            continue
        print(
            f"{name:36s} {ours[0]:10.2f} ({ours[1]:6.2f}) {theirs[0]:9.2f} ({theirs[1]:6.2f}) "
            f"{ours[0] / theirs[0]:10.2f} {ours[1] / theirs[1]:10.2f}"
        )
    # accuracy of the compared forwards (float32 against torch)
    with torch.no_grad():
        t_conv.weight[...] = torch.tensor(conv.params["weight"])
        t_conv.bias[...] = torch.tensor(conv.params["bias"])
        err_conv = float(np.abs(conv.forward(x) - t_conv(tx).numpy()).max())
        err_gelu = float(np.abs(gelu.forward(x) - torch.nn.functional.gelu(tx).numpy()).max())
    print(f"max |difference| vs torch: Conv2d {err_conv:.2e}, GELU {err_gelu:.2e}")


def conv_accuracy(torch, b: int, c: int, n: int, seeds: int = 3) -> None:
    """Relative errors (max |err| / max |ref| and RMS) of float32 3x3 periodic convolutions, forward
    and both gradients, against torch in float64, per algorithm (and torch's own float32)."""
    from tensorkit import nn

    errors: dict = {}
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((b, c, n, n))
        g = rng.standard_normal((b, c, n, n))
        ref = torch.nn.Conv2d(c, c, 3, padding=1, padding_mode="circular").double()
        layers = {name: nn.Conv2d(c, c, 3, padding_mode="periodic", algorithm=name, dtype=np.float32,
                                  random_state=seed) for name in ALGORITHMS}
        weight = layers["direct"].params["weight"].astype(np.float64)
        with torch.no_grad():
            ref.weight[...] = torch.tensor(weight)
            ref.bias[...] = torch.tensor(layers["direct"].params["bias"].astype(np.float64))
        results = {}
        for name, layer in layers.items():
            y = layer.forward(x.astype(np.float32))
            results[name] = (y, layer.backward(g.astype(np.float32)), layer.grads["weight"])
        t32 = torch.nn.Conv2d(c, c, 3, padding=1, padding_mode="circular")
        with torch.no_grad():
            t32.weight[...] = ref.weight.float()
            t32.bias[...] = ref.bias.float()
        results["torch float32"] = _torch_run(torch, t32, x.astype(np.float32), g.astype(np.float32))
        oracle = _torch_run(torch, ref, x, g)
        for name, outs in results.items():
            for what, got, want in zip(("y", "dx", "dW"), outs, oracle, strict=True):
                diff = got.astype(np.float64) - want
                errors.setdefault((name, what), []).append(
                    (np.abs(diff).max() / np.abs(want).max(), np.sqrt(np.mean(diff**2) / np.mean(want**2))))
    print(f"float32 relative error vs float64 (batch {b}, {c} channels, {n}x{n}, periodic; worst of "
          f"{seeds} seeds): max |err| / max |ref|, RMS")
    for name in (*ALGORITHMS, "torch float32"):
        cells = []
        for what in ("y", "dx", "dW"):
            worst = [max(e[k] for e in errors[(name, what)]) for k in (0, 1)]
            cells.append(f"{what} {worst[0]:.1e} {worst[1]:.1e}")
        print(f"  {name:14s} " + "   ".join(cells))


def _torch_run(torch, layer, x, g):
    tx = torch.tensor(x, requires_grad=True)
    y = layer(tx)
    y.backward(torch.tensor(g))
    return y.detach().numpy(), tx.grad.numpy(), layer.weight.grad.numpy()


if __name__ == "__main__":
    main()
