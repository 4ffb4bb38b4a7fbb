"""``tensorkit train fno``: generate Darcy or Navier-Stokes data, train an FNO / TFNO / MG-TFNO, report
the test error; ``tensorkit train wave``: compare dense and compressed CNN surrogates of the wave
simulator.

Contributed to the ``tensorkit`` command through the ``tensorkit.commands`` entry point (the command
lives in ``physics`` because it needs the PDE data; shared/ARCHITECTURE.md).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .wave._cli import add_wave_parser

FACTORIZATIONS = ("none", "cp", "tucker", "tt")
PROBLEMS = ("darcy", "navier-stokes")
MODELS = ("fno", "tfno", "mgtfno", "mgtfno2l")


def register_train(sub) -> None:
    """Add ``tensorkit train fno`` to the ``tensorkit`` subcommands."""
    p = sub.add_parser("train", help="train neural operators on generated PDE data")
    models = p.add_subparsers(dest="model", metavar="MODEL", required=True)
    f = models.add_parser("fno", help="Fourier neural operators (FNO, TFNO, MG-TFNO) on Darcy flow or "
                          "2D Navier-Stokes (the FNO benchmarks)")
    f.add_argument("--problem", choices=PROBLEMS, default="darcy",
                   help="darcy: coefficient -> solution; navier-stokes: vorticity w(t) -> w(t + 1)")
    f.add_argument("--model", dest="architecture", choices=MODELS, default="fno",
                   help="fno (dense unless --factorization), tfno (factorized per layer), mgtfno (one "
                   "factorized tensor over the layers, trained on multi-grid patches), mgtfno2l (mgtfno "
                   "plus a global TFNO on the coarse grid of one patch's size: operators.TwoLevelMGTFNO)")
    f.add_argument("--resolution", type=int, default=None,
                   help="grid nodes per side (default 32 for darcy, 64 for navier-stokes)")
    f.add_argument("--samples", type=int, default=None,
                   help="training samples / flows (default 1000 / 200; a tenth as many more are drawn "
                   "for testing unless --test-samples)")
    f.add_argument("--test-samples", type=int, default=None)
    f.add_argument("--epochs", type=int, default=None, help="default 40 for darcy, 20 for navier-stokes")
    f.add_argument("--factorization", choices=FACTORIZATIONS, default=None,
                   help="spectral weights dense or factorized (default: none for fno; tucker for darcy, cp "
                   "for navier-stokes, which beat Tucker there at equal size)")
    f.add_argument("--rank", type=float, default=None,
                   help="factorization rank as a fraction of the dense weight (default 0.1 for darcy, 0.07 "
                   "for navier-stokes: 11x fewer parameters than FNO at width 20)")
    f.add_argument("--modes", type=int, default=12, help="Fourier modes per dimension (default 12)")
    f.add_argument("--width", type=int, default=None,
                   help="hidden channels (default 32 for darcy, 20 for navier-stokes as in the FNO paper)")
    f.add_argument("--layers", type=int, default=4)
    f.add_argument("--levels", type=int, default=1, help="mgtfno: patching levels (default 1)")
    f.add_argument("--coarse-width", type=int, default=None,
                   help="mgtfno2l: hidden channels of the coarse TFNO (default --width)")
    f.add_argument("--padding", type=float, default=None,
                   help="mgtfno: patch padding as a fraction of the side (default 0.0625 for darcy, 0.125 "
                   "for navier-stokes: one-step error 0.048 against 0.063 in bench_navier_stokes.py)")
    f.add_argument("--embedding", choices=("grid", "periodic", "dirichlet"), default=None,
                   help="positional embedding: grid (each model's own [0, 1] coordinates; of the patch for "
                   "mgtfno), periodic (sin / cos of the global coordinates, appended before any patching "
                   "so that a patch knows where it lies) or dirichlet (fno/tfno on darcy: the box folded "
                   "onto one period, coordinates plus prod sin(pi x), the same modes at every resolution); "
                   "default periodic for navier-stokes, dirichlet for darcy (grid for darcy mgtfno)")
    f.add_argument("--ema", type=float, default=None,
                   help="score with an exponential moving average of the weights of this decay (0: the last "
                   "weights; default 0.95 for darcy, 0 for navier-stokes)")
    f.add_argument("--loss", choices=("l2", "h1"), default="l2", help="relative L2 or H1 training loss")
    f.add_argument("--viscosity", type=float, default=1e-3, help="navier-stokes: viscosity (default 1e-3)")
    f.add_argument("--t-final", type=float, default=10.0,
                   help="navier-stokes: trajectory length, one snapshot per unit time (default 10)")
    f.add_argument("--dt", type=float, default=None,
                   help="navier-stokes: solver time step (default: from a CFL bound on the initial flow)")
    f.add_argument("--data", type=Path, default=None,
                   help="navier-stokes: a dataset .npz (save_navier_stokes) instead of generating one; "
                   "its last --test-samples flows are held out")
    f.add_argument("--batch-size", type=int, default=20)
    f.add_argument("--lr", type=float, default=None, help="default 1e-3 for darcy, 1e-2 for navier-stokes")
    f.add_argument("--schedule", choices=("step", "cosine"), default=None,
                   help="learning-rate decay: step (halved every --step-size epochs, the FNO recipe; default "
                   "for darcy) or cosine (annealed to zero over the run: short runs settle; default for "
                   "navier-stokes)")
    f.add_argument("--step-size", type=int, default=100, help="epochs between halvings (--schedule step)")
    f.add_argument("--float64", action="store_true", help="train in float64 (default float32)")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("-o", "--output", type=Path, default=None,
                   help="trainer checkpoint .npz (written atomically after every epoch)")
    f.add_argument("--no-progress", dest="progress", action="store_false")
    f.set_defaults(func=_run_train_fno)
    add_wave_parser(models)


def _run_train_fno(args) -> int:
    _check_args(args)
    if args.problem == "darcy":
        data, (x, y, x_test, y_test) = _darcy_data(args)
    else:
        data, (x, y, x_test, y_test) = _navier_stokes_data(args)
    model, processor = _model(args, in_channels=x.shape[1])
    start = time.perf_counter()
    try:
        if args.problem == "darcy":
            from physics.pde import fit_darcy

            fit = fit_darcy(model, x[:, 0], y[:, 0], epochs=args.epochs,
                            validation=(x_test[:, 0], y_test[:, 0]), batch_size=args.batch_size,
                            lr=args.lr, checkpoint=args.output, scheduler=args.schedule,
                            step_size=args.step_size, progress=args.progress, random_state=args.seed,
                            processor=processor, loss=args.loss, ema=args.ema or None)
        else:
            from physics import fit_operator

            fit = fit_operator(model, x, y, epochs=args.epochs, processor=processor, loss=args.loss,
                               validation=(x_test, y_test), batch_size=args.batch_size, lr=args.lr,
                               scheduler=args.schedule, step_size=args.step_size, checkpoint=args.output,
                               progress=args.progress, random_state=args.seed, ema=args.ema or None)
    except FloatingPointError as exc:
        # a diverged run: the trainer names the epoch and step and keeps the last good checkpoint
        raise RuntimeError(str(exc)) from exc
    train_time = time.perf_counter() - start
    errors = fit.history["val_metric"]
    print(f"data         {data}")
    fact = args.factorization
    print(f"model        {args.architecture.upper()} modes {args.modes}x{args.modes}, width {args.width}, "
          f"{args.layers} layers, factorization {fact}"
          + (f", levels {args.levels}, padding {args.padding}" if args.architecture.startswith("mgtfno")
             else "")
          + f", {args.embedding} embedding: {model.num_parameters()} parameters")
    print(f"test error   {errors[-1]:.3%} relative L2 (mean of last {min(10, len(errors))} epochs: "
          f"{np.mean(errors[-10:]):.3%})")
    if args.problem == "navier-stokes":
        _report_rollout(args, fit)
    print(f"time         {train_time:.1f} s ({np.median(fit.history['epoch_time']):.2f} s per epoch)")
    if args.output is not None:
        print(f"wrote        {args.output}")
    return 0


def _check_args(args) -> None:
    ns = args.problem == "navier-stokes"
    if args.resolution is None:
        args.resolution = 64 if ns else 32
    if args.samples is None:
        args.samples = 200 if ns else 1000
    if args.test_samples is None:
        args.test_samples = max(args.samples // 10, 1)
    if args.factorization is None:
        args.factorization = "none" if args.architecture == "fno" else "cp" if ns else "tucker"
    # navier-stokes: the settings of benchmarks/bench_navier_stokes.py --full (its sweep's best)
    for name, darcy_default, ns_default in (("epochs", 40, 20), ("rank", 0.1, 0.07), ("width", 32, 20),
                                            ("padding", 0.0625, 0.125), ("lr", 1e-3, 1e-2),
                                            ("schedule", "step", "cosine")):
        if getattr(args, name) is None:
            setattr(args, name, ns_default if ns else darcy_default)
    patched = args.architecture.startswith("mgtfno")
    if args.embedding is None:
        args.embedding = "periodic" if ns else "grid" if patched else "dirichlet"
    if args.embedding == "dirichlet" and (ns or patched):
        raise ValueError("--embedding dirichlet is for fno/tfno on darcy (a box with boundary values), got "
                         f"--problem {args.problem} --model {args.architecture}")
    if args.ema is None:
        args.ema = 0.0 if ns else 0.95
    if not 0.0 <= args.ema < 1.0:
        raise ValueError(f"--ema must be in [0, 1), got {args.ema}")
    for name in ("resolution", "samples", "test_samples", "epochs", "modes", "width", "layers", "batch_size",
                 "step_size"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if args.resolution < 3:
        raise ValueError(f"--resolution must be at least 3, got {args.resolution}")
    if args.modes > args.resolution:
        raise ValueError(f"--modes {args.modes} does not fit a grid of {args.resolution} nodes")
    if ns and args.data is None and (args.resolution % 2 or args.resolution < 8):
        raise ValueError(f"--resolution must be even and >= 8 for navier-stokes (a periodic grid), "
                         f"got {args.resolution}")
    if args.architecture.startswith("mgtfno"):
        low = 1 if args.architecture == "mgtfno2l" else 0
        if args.levels < low:
            raise ValueError(f"--levels must be >= {low} for --model {args.architecture}, got {args.levels}")
        if args.coarse_width is not None and args.coarse_width < 1:
            raise ValueError(f"--coarse-width must be positive, got {args.coarse_width}")
        if not 0.0 <= args.padding < 1.0:
            raise ValueError(f"--padding must be in [0, 1), got {args.padding}")
        if args.data is None and args.resolution % 4**args.levels:
            raise ValueError(f"--resolution {args.resolution} is not divisible by 4^levels = "
                             f"{4**args.levels} (--levels {args.levels} cuts patches of side R / 2^levels, "
                             f"subsampled 2^levels times)")
    if ns and args.data is None and args.viscosity <= 0:
        raise ValueError(f"--viscosity must be positive, got {args.viscosity}")
    if ns and args.dt is not None and args.dt <= 0:
        raise ValueError(f"--dt must be positive, got {args.dt}")
    if ns and args.t_final < 1:
        raise ValueError(f"--t-final must be at least 1 (one snapshot per unit time), got {args.t_final}")
    if args.data is not None and (not ns or not args.data.is_file()):
        raise ValueError(f"--data {str(args.data)!r}: needs --problem navier-stokes and an existing file")
    if args.output is not None:
        if args.output.suffix != ".npz":
            raise ValueError(f"--output must end in .npz, got {str(args.output)!r}")
        if str(args.output.parent) and not args.output.parent.is_dir():
            raise ValueError(f"output directory {str(args.output.parent)!r} does not exist")


def _darcy_data(args):
    from physics.pde import darcy

    start = time.perf_counter()
    a, u = darcy(args.samples, args.resolution, random_state=args.seed, progress=args.progress)
    a_test, u_test = darcy(args.test_samples, args.resolution, random_state=args.seed + 1,
                           progress=args.progress)
    text = (f"Darcy {args.resolution}x{args.resolution}: {args.samples} train / {args.test_samples} test "
            f"({time.perf_counter() - start:.1f} s)")
    return text, (a[:, None], u[:, None], a_test[:, None], u_test[:, None])


def _navier_stokes_data(args):
    from physics.pde import load_navier_stokes, navier_stokes2d
    from physics.pde._learning import check_vorticity, navier_stokes_pairs

    start = time.perf_counter()
    if args.data is not None:
        w, _ = load_navier_stokes(args.data)
        w = check_vorticity(w, f"--data {str(args.data)!r}")
        if w.shape[0] <= args.test_samples:
            raise ValueError(f"--data holds {w.shape[0]} flows, not more than --test-samples "
                             f"{args.test_samples}")
        if args.architecture.startswith("mgtfno") and w.shape[2] % 4**args.levels:
            raise ValueError(f"--data grids of {w.shape[2]} are not divisible by 4^levels = {4**args.levels}")
        w_train, w_test = w[: -args.test_samples], w[-args.test_samples:]
        source = f"{str(args.data)!r}"
    else:
        n_snapshots = round(args.t_final) + 1
        kw = {"viscosity": args.viscosity, "dt": args.dt, "t_final": float(n_snapshots - 1),
              "n_snapshots": n_snapshots, "progress": args.progress}
        w_train, _ = navier_stokes2d(args.samples, args.resolution, random_state=args.seed, **kw)
        w_test, _ = navier_stokes2d(args.test_samples, args.resolution, random_state=args.seed + 1, **kw)
        source = f"viscosity {args.viscosity:g}"
    args.w_test = w_test
    x, y = navier_stokes_pairs(w_train)
    x_test, y_test = navier_stokes_pairs(w_test[:, :2])
    r, t = w_train.shape[2], w_train.shape[1]
    text = (f"Navier-Stokes {r}x{r}, {source}: w(t) -> w(t+1), {w_train.shape[0]} train flows x {t - 1} "
            f"pairs / {w_test.shape[0]} test flows ({time.perf_counter() - start:.1f} s)")
    return text, (x, y, x_test, y_test)


def _model(args, in_channels: int):
    from operators import FNO, MGTFNO, PeriodicCoordinates, TwoLevelMGTFNO

    factorization = None if args.factorization == "none" else args.factorization
    kw = {"factorization": factorization, "rank": args.rank if factorization else 1.0,
          "dtype": np.float64 if args.float64 else np.float32, "random_state": args.seed}
    modes = (args.modes, args.modes)
    if args.architecture == "mgtfno":
        # the periodic embedding goes ahead of the patching (the model's processor), not on each patch
        model = MGTFNO(modes, in_channels, 1, args.width, n_layers=args.layers, levels=args.levels,
                       padding_fraction=args.padding, positional_embedding=args.embedding, **kw)
        return model, model.processor
    if args.architecture == "mgtfno2l":
        # patches inside its forward (the coarse TFNO needs the whole field): no processor
        return TwoLevelMGTFNO(modes, in_channels, 1, args.width, n_layers=args.layers, levels=args.levels,
                              padding_fraction=args.padding, coarse_hidden_channels=args.coarse_width,
                              positional_embedding=args.embedding, **kw), None
    if args.embedding == "periodic":
        embedding = PeriodicCoordinates()
        model = FNO(modes, in_channels + embedding.channels(2), 1, args.width, n_layers=args.layers,
                    positional_embedding=None, **kw)
        return model, embedding
    if args.embedding == "dirichlet":
        return FNO(modes, in_channels, 1, args.width, n_layers=args.layers, periodic_fold=True,
                   positional_embedding="dirichlet", **kw), None
    return FNO(modes, in_channels, 1, args.width, n_layers=args.layers, **kw), None


def _report_rollout(args, fit) -> None:
    from physics.pde._learning import relative_errors

    w_test = args.w_test
    steps = w_test.shape[1] - 1
    pred = fit.rollout(w_test[:, :1], steps)
    errors = relative_errors(pred, w_test[:, 1:]).mean(axis=0)
    print(f"rollout      {steps} steps on {w_test.shape[0]} test flows: relative L2 {errors[0]:.3%} after 1, "
          f"{errors[-1]:.3%} after {steps}")
