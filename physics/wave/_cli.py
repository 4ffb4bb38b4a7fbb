"""``tensorkit train wave``: generate wave data, train CNN forecasters with dense or compressed
convolutions on the same budget, print the comparison table (and optionally save its figures).

``physics/cli.py`` registers it next to ``train fno`` with ``add_wave_parser(models)``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ._surrogate import CONV_KINDS

__all__ = ["add_wave_parser"]


def add_wave_parser(models_subparsers) -> None:
    """Add ``wave`` to the ``tensorkit train`` model subcommands."""
    w = models_subparsers.add_parser(
        "wave", help="CNN surrogates of the 2D wave equation, convolutions dense or compressed a priori")
    w.add_argument("--conv", nargs="+", choices=(*CONV_KINDS, "all"), default=["all"],
                   help="convolution kinds to train (default all: dense, oneway, cp, tucker)")
    w.add_argument("--rank", type=int, default=None,
                   help="rank of the compressed kinds (default oneway 1, cp 4, tucker 4)")
    w.add_argument("--dims", choices=("2d", "3d"), default="2d",
                   help="2d: time as channels; 3d: convolutions over (t, x, y)")
    w.add_argument("--resolution", type=int, default=32, help="grid nodes per side (default 32)")
    w.add_argument("--samples", type=int, default=40, help="simulations (a quarter held out for testing)")
    w.add_argument("--snapshots", type=int, default=41)
    w.add_argument("--t-final", type=float, default=2.0)
    w.add_argument("--history", type=int, default=4, help="snapshots in (default 4)")
    w.add_argument("--rollout", type=int, default=20, help="autoregressive steps scored (default 20)")
    w.add_argument("--width", type=int, default=8)
    w.add_argument("--depth", type=int, default=2)
    w.add_argument("--epochs", type=int, default=10)
    w.add_argument("--batch-size", type=int, default=16)
    w.add_argument("--lr", type=float, default=3e-3)
    w.add_argument("--float64", action="store_true", help="train in float64 (default float32)")
    w.add_argument("--seed", type=int, default=0)
    w.add_argument("--plots", type=Path, default=None,
                   help="directory for wave_compression.png and wave_rollout.png")
    w.add_argument("--no-progress", dest="progress", action="store_false")
    w.set_defaults(func=_run_train_wave)


def _run_train_wave(args) -> int:
    from ._compare import compare_compression
    from ._plots import plot_compression, plot_rollout
    from ._simulate import wave2d

    for name in ("resolution", "samples", "snapshots", "history", "rollout", "width", "depth", "epochs",
                 "batch_size"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if args.rank is not None and args.rank < 1:
        raise ValueError(f"--rank must be positive, got {args.rank}")
    if args.plots is not None and not args.plots.is_dir():
        raise ValueError(f"--plots directory {str(args.plots)!r} does not exist")
    convs = CONV_KINDS if "all" in args.conv else tuple(args.conv)
    start = time.perf_counter()
    u, times = wave2d(args.samples, args.resolution, n_snapshots=args.snapshots, t_final=args.t_final,
                      random_state=args.seed, progress=args.progress)
    print(f"data   {args.samples} pulse simulations, {args.resolution}x{args.resolution}, "
          f"{args.snapshots} snapshots to t = {args.t_final} ({time.perf_counter() - start:.1f} s)")
    table = compare_compression((u, times), convs=convs, ranks=args.rank, history=args.history,
                                width=args.width, depth=args.depth, dims=args.dims, epochs=args.epochs,
                                batch_size=args.batch_size, lr=args.lr, rollout_steps=args.rollout,
                                dtype=np.float64 if args.float64 else np.float32,
                                random_state=args.seed, progress=args.progress)
    print(table.to_text())
    if args.plots is not None:
        for name, plot in (("wave_compression.png", plot_compression), ("wave_rollout.png", plot_rollout)):
            plot(table, args.plots / name)
            print(f"wrote  {args.plots / name}")
    return 0
