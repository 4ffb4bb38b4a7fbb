"""``tensorkit train fno``: generate Darcy data, train an FNO / TFNO, report the test error.

Contributed to the ``tensorkit`` command through the ``tensorkit.commands`` entry point (the command
lives in ``physics`` because it needs the Darcy data; shared/ARCHITECTURE.md).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

FACTORIZATIONS = ("none", "cp", "tucker", "tt")


def register_train(sub) -> None:
    """Add ``tensorkit train fno`` to the ``tensorkit`` subcommands."""
    p = sub.add_parser("train", help="train neural operators on generated PDE data")
    models = p.add_subparsers(dest="model", metavar="MODEL", required=True)
    f = models.add_parser("fno", help="Fourier neural operator on Darcy flow (the FNO benchmark)")
    f.add_argument("--resolution", type=int, default=32, help="grid nodes per side (default 32)")
    f.add_argument("--samples", type=int, default=1000,
                   help="training samples (a tenth as many more are drawn for testing)")
    f.add_argument("--epochs", type=int, default=40)
    f.add_argument("--factorization", choices=FACTORIZATIONS, default="none",
                   help="spectral weights dense (FNO) or factorized (TFNO with tucker)")
    f.add_argument("--rank", type=float, default=0.1,
                   help="factorization rank as a fraction of the dense weight (default 0.1)")
    f.add_argument("--modes", type=int, default=12, help="Fourier modes per dimension (default 12)")
    f.add_argument("--width", type=int, default=32, help="hidden channels (default 32)")
    f.add_argument("--layers", type=int, default=4)
    f.add_argument("--batch-size", type=int, default=20)
    f.add_argument("--lr", type=float, default=1e-3)
    f.add_argument("--float64", action="store_true", help="train in float64 (default float32)")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("-o", "--output", type=Path, default=None,
                   help="trainer checkpoint .npz (written atomically after every epoch)")
    f.add_argument("--no-progress", dest="progress", action="store_false")
    f.set_defaults(func=_run_train_fno)


def _run_train_fno(args) -> int:
    from operators import FNO
    from physics.pde import darcy, fit_darcy

    for name in ("resolution", "samples", "epochs", "modes", "width", "layers", "batch_size"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if args.resolution < 3:
        raise ValueError(f"--resolution must be at least 3, got {args.resolution}")
    if args.modes > args.resolution:
        raise ValueError(f"--modes {args.modes} does not fit a grid of {args.resolution} nodes")
    if args.output is not None:
        if args.output.suffix != ".npz":
            raise ValueError(f"--output must end in .npz, got {str(args.output)!r}")
        if str(args.output.parent) and not args.output.parent.is_dir():
            raise ValueError(f"output directory {str(args.output.parent)!r} does not exist")
    factorization = None if args.factorization == "none" else args.factorization
    start = time.perf_counter()
    n_test = max(args.samples // 10, 1)
    a, u = darcy(args.samples, args.resolution, random_state=args.seed, progress=args.progress)
    a_test, u_test = darcy(n_test, args.resolution, random_state=args.seed + 1, progress=args.progress)
    data_time = time.perf_counter() - start
    model = FNO((args.modes, args.modes), 1, 1, args.width, n_layers=args.layers,
                factorization=factorization, rank=args.rank if factorization else 1.0,
                dtype=np.float64 if args.float64 else np.float32, random_state=args.seed)
    start = time.perf_counter()
    try:
        fit = fit_darcy(model, a, u, epochs=args.epochs, validation=(a_test, u_test),
                        batch_size=args.batch_size, lr=args.lr, checkpoint=args.output,
                        progress=args.progress, random_state=args.seed)
    except FloatingPointError as exc:
        # a diverged run: the trainer names the epoch and step and keeps the last good checkpoint
        raise RuntimeError(str(exc)) from exc
    train_time = time.perf_counter() - start
    errors = fit.history["val_metric"]
    print(f"data         Darcy {args.resolution}x{args.resolution}: {args.samples} train / {n_test} test "
          f"({data_time:.1f} s)")
    print(f"model        FNO modes {args.modes}x{args.modes}, width {args.width}, {args.layers} layers, "
          f"factorization {args.factorization}: {model.num_parameters()} parameters")
    print(f"test error   {errors[-1]:.3%} relative L2 (mean of last {min(10, len(errors))} epochs: "
          f"{np.mean(errors[-10:]):.3%})")
    print(f"time         {train_time:.1f} s ({np.median(fit.history['epoch_time']):.2f} s per epoch)")
    if args.output is not None:
        print(f"wrote        {args.output}")
    return 0
