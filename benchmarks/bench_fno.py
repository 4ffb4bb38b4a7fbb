"""tensorkit FNO / TFNO against neuraloperator's (PyTorch, CPU): training-step time and test error.

1. One training step (forward, backward, Adam) at modes 16x16, width 32, 4 layers, batch 8, 64x64,
   float32, both libraries in one process, interleaved; medians and the ratio tensorkit / peer.
2. Test relative L2 error on the same generated Darcy data after the same training budget (same
   epochs, batch 20, Adam 1e-3 with weight decay 1e-4, relative L2 loss on normalized data).

Run: ``python benchmarks/bench_fno.py [--threads 1] [--epochs 5] [--train 200]``. On a shared
machine, single-threaded runs (``--threads 1``) are the least noisy, and their CPU time (also
printed) is a steadier measure than wall time, which includes waiting for a core.

Measured (2026-12-02, ``--threads 1 --repeats 21 --skip-training``, shared 2-core AMD EPYC, CPU
time, tensorkit / neuraloperator, four runs): FNO 0.52-0.54x, TFNO 0.51-0.54x (before the fused GELU / Adam /
skip passes: 0.67x and 0.68x). What it took: GELU writes its activation and slope in one
vectorized Numba pass with the bias, skip and gate sums folded in, the channel-MLP biases ride on
it, the skip 1x1 adds into the spectral output by one GEMM with beta = 1, Adam is one pass, and no
full-size temporary is made that a pass in place can avoid (each fresh 4 MB array costs about 1 ms
of page faults here, as much as a 32x32 channel mix over it).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from operators import FNO, TFNO
from physics.pde import darcy, fit_darcy
from tensorkit.nn import Adam, LpLoss


def step_times(args, torch, neuralop_models) -> None:
    print(f"\n-- training step: modes 16x16, width 32, 4 layers, batch 8, 64x64, float32 "
          f"({args.repeats} interleaved repeats, median)")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 1, 64, 64)).astype(np.float32)
    y = rng.standard_normal((8, 1, 64, 64)).astype(np.float32)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for name, ours_cls, kwargs in (("FNO", FNO, {}), ("TFNO", TFNO, {"factorization": "tucker",
                                                                      "rank": 0.1})):
        torch.manual_seed(0)
        peer = neuralop_models.FNO(n_modes=(16, 16), in_channels=1, out_channels=1, hidden_channels=32,
                                   n_layers=4, **kwargs)
        peer_opt = torch.optim.Adam(peer.parameters(), lr=1e-3, weight_decay=1e-4)
        peer_loss = __import__("neuralop").losses.LpLoss(d=2, p=2)
        ours = ours_cls((16, 16), 1, 1, 32, n_layers=4, dtype=np.float32, random_state=0)
        ours_opt = Adam(ours, lr=1e-3, weight_decay=1e-4)
        ours_loss = LpLoss(d=2)

        def peer_step(peer=peer, peer_opt=peer_opt, peer_loss=peer_loss):
            peer_opt.zero_grad()
            loss = peer_loss(peer(xt), yt)
            loss.backward()
            peer_opt.step()

        def ours_step(ours=ours, ours_opt=ours_opt, ours_loss=ours_loss):
            ours_loss.forward(ours.forward(x), y)
            ours.zero_grad()
            ours.backward(ours_loss.backward())
            ours_opt.step()

        peer_step()
        ours_step()
        t_peer, t_ours, c_peer, c_ours = [], [], [], []
        for _ in range(args.repeats):
            for step, wall, cpu in ((peer_step, t_peer, c_peer), (ours_step, t_ours, c_ours)):
                start, start_cpu = time.perf_counter(), time.process_time()
                step()
                wall.append(time.perf_counter() - start)
                cpu.append(time.process_time() - start_cpu)
        a, b = np.median(t_peer), np.median(t_ours)
        ca, cb = np.median(c_peer), np.median(c_ours)
        n_peer = sum(p.numel() * (2 if p.is_complex() else 1) for p in peer.parameters())
        print(f"{name:5s} wall: neuraloperator {a * 1e3:7.1f} ms  tensorkit {b * 1e3:7.1f} ms  "
              f"ratio {b / a:5.2f} | CPU: {ca * 1e3:7.1f} ms vs {cb * 1e3:7.1f} ms  ratio {cb / ca:5.2f}"
              f" | parameters {n_peer} / {ours.num_parameters()}")


def test_errors(args, torch, neuralop_models) -> None:
    print(f"\n-- test error after the same budget: Darcy {args.resolution}x{args.resolution}, "
          f"{args.train} train / {args.test} test, {args.epochs} epochs, modes 12x12, width 32")
    a, u = darcy(args.train, args.resolution, random_state=0, progress=False)
    a_test, u_test = darcy(args.test, args.resolution, random_state=1, progress=False)
    for name, ours_cls, kwargs in (("FNO", FNO, {}), ("TFNO", TFNO, {"factorization": "tucker",
                                                                      "rank": 0.1})):
        start, start_cpu = time.perf_counter(), time.process_time()
        ours = ours_cls((12, 12), 1, 1, 32, dtype=np.float32, random_state=0)
        fit = fit_darcy(ours, a, u, epochs=args.epochs, validation=(a_test, u_test), random_state=0)
        t_ours, c_ours = time.perf_counter() - start, time.process_time() - start_cpu
        err_ours = fit.history["val_metric"][-1]
        start, start_cpu = time.perf_counter(), time.process_time()
        err_peer = _train_peer(torch, neuralop_models, kwargs, a, u, a_test, u_test, args.epochs)
        t_peer, c_peer = time.perf_counter() - start, time.process_time() - start_cpu
        print(f"{name:5s} neuraloperator {err_peer:.3%} in {t_peer:6.1f} s ({c_peer:6.1f} s CPU)   "
              f"tensorkit {err_ours:.3%} in {t_ours:6.1f} s ({c_ours:6.1f} s CPU)   "
              f"ratio wall {t_ours / t_peer:5.2f}, CPU {c_ours / c_peer:5.2f}")


def _train_peer(torch, neuralop_models, kwargs, a, u, a_test, u_test, epochs) -> float:
    """neuraloperator's model with the same recipe: Gaussian normalization, LpLoss, Adam, StepLR."""
    from neuralop.losses import LpLoss as PeerLpLoss

    torch.manual_seed(0)
    x = torch.from_numpy(a[:, None].astype(np.float32))
    y = torch.from_numpy(u[:, None].astype(np.float32))
    xm, xs = x.mean(), x.std(unbiased=False)
    ym, ys = y.mean(), y.std(unbiased=False)
    xn, yn = (x - xm) / xs, (y - ym) / ys
    model = neuralop_models.FNO(n_modes=(12, 12), in_channels=1, out_channels=1, hidden_channels=32,
                                n_layers=4, **kwargs)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=100, gamma=0.5)
    loss_fn = PeerLpLoss(d=2, p=2)
    gen = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        for idx in torch.randperm(x.shape[0], generator=gen).split(20):
            opt.zero_grad()
            loss_fn(model(xn[idx]), yn[idx]).backward()
            opt.step()
        sched.step()
    with torch.no_grad():
        xt = (torch.from_numpy(a_test[:, None].astype(np.float32)) - xm) / xs
        pred = (model(xt) * ys + ym).numpy()[:, 0]
    # mean over samples of the relative L2 error, as fit_darcy's val_metric
    return LpLoss(d=2, reduction="mean")(pred.astype(np.float64), u_test)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="BLAS / torch threads")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--train", type=int, default=200)
    parser.add_argument("--test", type=int, default=50)
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--skip-training", action="store_true")
    args = parser.parse_args()
    import torch
    from neuralop import models as neuralop_models

    if args.threads:
        torch.set_num_threads(args.threads)
    with threadpool_limits(limits=args.threads):
        blas = [(i["internal_api"], i["num_threads"], i.get("architecture")) for i in threadpool_info()]
        print("BLAS:", blas, "| torch threads:", torch.get_num_threads())
        step_times(args, torch, neuralop_models)
        if not args.skip_training:
            test_errors(args, torch, neuralop_models)


if __name__ == "__main__":
    main()
