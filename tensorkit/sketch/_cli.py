"""``tensorkit lstsq``: solve ``min ||A x - b||`` from ``.npy``/``.npz``/``.h5`` files."""

from __future__ import annotations

import time
from pathlib import Path

SKETCH_NAMES = ("auto", "gaussian", "srht", "srdct", "countsketch", "sparse_sign")


def register_lstsq(sub) -> None:
    """Add the ``lstsq`` subcommand to the ``tensorkit`` command."""
    from ._lstsq import METHODS

    p = sub.add_parser("lstsq", help="tall least squares: LAPACK, sketch-and-solve or sketch-preconditioned")
    p.add_argument("A", type=Path, help="matrix file (n, d): .npy, .npz, .h5")
    p.add_argument("b", type=Path, help="right-hand side(s) (n,) or (n, k)")
    p.add_argument("--key-a", default=None, help="array name inside A's .npz/.h5")
    p.add_argument("--key-b", default=None, help="array name inside b's .npz/.h5")
    p.add_argument("--method", choices=METHODS, default="auto")
    p.add_argument("--sketch", choices=SKETCH_NAMES, default="auto")
    p.add_argument("--sketch-size", type=int, default=None, metavar="M")
    p.add_argument("--tol", type=float, default=None,
                   help="LSQR's rule ||A^T r|| <= tol ||A|| ||r|| (default: eps, LAPACK's accuracy)")
    p.add_argument("--n-iter-max", "--max-iter", dest="n_iter_max", type=int, default=None,
                   help="iteration cap of sketch_precondition (default 100)")
    p.add_argument("--seed", type=int, default=0, help="random_state of the sketch")
    p.add_argument("-o", "--output", type=Path, required=True, help="solution x (.npy)")
    p.set_defaults(func=_run_lstsq)


def _run_lstsq(args) -> int:
    from ..io import load_array, save_array
    from ._lstsq import lstsq

    if args.output.suffix != ".npy":
        raise ValueError(f"--output must end in .npy, got {str(args.output)!r}")
    if str(args.output.parent) and not args.output.parent.is_dir():
        raise ValueError(f"output directory {str(args.output.parent)!r} does not exist")
    A = load_array(args.A, key=args.key_a)
    b = load_array(args.b, key=args.key_b)
    start = time.perf_counter()
    result = lstsq(A, b, method=args.method, sketch=args.sketch, sketch_size=args.sketch_size,
                   tol=args.tol, n_iter_max=args.n_iter_max, random_state=args.seed)
    elapsed = time.perf_counter() - start
    save_array(args.output, result.x)
    print(f"A            {args.A} shape={A.shape} dtype={A.dtype}")
    print(f"method       {result.method}" + (f" (sketch {result.sketch}, m={result.sketch_size})"
                                             if result.sketch else ""))
    if result.method == "sketch_precondition":
        print(f"iterations   {result.iterations} (||A^T r|| / (||A|| ||r||) = "
              f"{result.info.rel_error:.1e}, converged={result.converged})")
    print(f"residual     {result.residual_norm}")
    print(f"time         {elapsed:.3f} s")
    print(f"wrote        {args.output}")
    return 0
