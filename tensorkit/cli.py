"""The ``tensorkit`` command.

Subcommands and ``tensorkit demo`` sections come from entry points, so each package (``tensorkit``,
``operators``, ``physics``) contributes its own and this module never imports upward:

- group ``tensorkit.commands``: ``name = "module:register"``, where ``register(subparsers)`` adds a
  subparser whose ``func(args) -> int`` runs the command;
- group ``tensorkit.demo``: ``"NN-name" = "module:run"``, where ``run(options: DemoOptions)`` prints
  one section; sections run in the order of their names.

Errors in the input end the command with a one-line message on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

__all__ = ["DemoOptions", "main"]


@dataclass
class DemoOptions:
    """What every demo section is told.

    Attributes
    ----------
    quick : bool
        Small sizes (seconds in total), for tests and a first look.
    plot : Path or None
        Where the user asked for a plot; see :meth:`plot_file`.
    progress : bool
        Whether long steps show progress bars.
    """

    quick: bool = False
    plot: Path | None = None
    progress: bool = True

    def plot_file(self, section: str, *, primary: bool = False) -> Path | None:
        """The plot path for ``section``: ``--plot`` itself for the primary section (Tucker),
        ``STEM-section.SUFFIX`` beside it for the others, None when no plot was asked for."""
        if self.plot is None:
            return None
        if primary:
            return self.plot
        return self.plot.with_name(f"{self.plot.stem}-{section}{self.plot.suffix or '.png'}")


def main(argv: list[str] | None = None) -> int:
    """Run the ``tensorkit`` command; return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError, OSError, RuntimeError, MemoryError) as exc:
        message = " ".join(str(exc).split())  # one line, whatever the library's message holds
        print(f"tensorkit {args.command}: error: {message or type(exc).__name__}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="tensorkit", description="Tensor decompositions and scientific computing."
    )
    parser.add_argument("--version", action="version", version=f"tensorkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _register_demo(sub)
    seen = {"demo"}
    for ep in sorted(entry_points(group="tensorkit.commands"), key=lambda e: e.name):
        if ep.name in seen:
            continue
        seen.add(ep.name)
        ep.load()(sub)
    return parser


def _register_demo(sub) -> None:
    p = sub.add_parser("demo", help="run every capability on built-in data and print tables")
    p.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    p.add_argument("--plot", type=Path, default=None, metavar="FILE.png",
                   help="save plots (the Tucker one here, others beside it)")
    p.add_argument("--only", nargs="+", default=None, metavar="SECTION",
                   help="run only these sections (names without the number prefix)")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    p.set_defaults(func=_run_demo)


def _run_demo(args) -> int:
    sections = sorted(entry_points(group="tensorkit.demo"), key=lambda e: e.name)
    names = {ep.name.split("-", 1)[-1]: ep for ep in sections}
    if args.only:
        unknown = [n for n in args.only if n not in names]
        if unknown:
            raise ValueError(f"unknown demo section(s) {unknown}; available: {sorted(names)}")
        sections = [names[n] for n in args.only]
    options = DemoOptions(quick=args.quick, plot=args.plot, progress=args.progress)
    if options.plot is not None and not options.plot.parent.is_dir():
        raise ValueError(f"--plot directory {str(options.plot.parent)!r} does not exist")
    for ep in sections:
        title = ep.name.split("-", 1)[-1]
        print(f"\n== {title} ==")
        start = time.perf_counter()
        ep.load()(options)
        print(f"({title}: {time.perf_counter() - start:.1f} s)")
    return 0


def register_info(sub) -> None:
    """``tensorkit info``: versions, threads, backends and devices, for bug reports."""
    p = sub.add_parser("info", help="versions, BLAS threads, backends and devices (paste into bug reports)")
    p.set_defaults(func=_run_info)


def _run_info(args) -> int:
    from ._sysinfo import format_system_info

    print(format_system_info())
    return 0


def register_compress(sub) -> None:
    """``tensorkit compress``: Tucker-compress a tensor file into a ``.npz`` archive."""
    from .decomposition import TUCKER_METHODS

    p = sub.add_parser("compress", help="Tucker-compress a tensor stored in .npy/.npz/.h5")
    p.add_argument("input", type=Path, help="tensor file (.npy, .npz, .h5)")
    p.add_argument("--key", "--dataset", dest="key", default=None,
                   help="array name inside .npz, dataset inside .h5")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--rank", type=int, nargs="+", metavar="R",
                        help="multilinear rank: one int for every mode, or one per mode")
    target.add_argument("--tol", type=float, help="relative error target in (0, 1)")
    p.add_argument("--method", choices=TUCKER_METHODS, default="st_hosvd")
    p.add_argument("--seed", type=int, default=0, help="random_state for --method randomized")
    p.add_argument("-o", "--output", type=Path, required=True, help="output .npz")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    p.add_argument("--dask", action="store_true",
                   help="decompose a Zarr store or HDF5 dataset larger than memory on a dask cluster")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="with --dask: an existing scheduler (default: a local cluster sized to the machine)")
    p.set_defaults(func=_run_compress)


def _run_compress(args) -> int:
    import numpy as np

    from .decomposition import tucker
    from .io import load_array

    if args.scheduler is not None and not args.dask:
        raise ValueError("--scheduler needs --dask")
    if args.dask:
        from .distributed import compress_on_dask

        rank = None if args.rank is None else (args.rank[0] if len(args.rank) == 1 else tuple(args.rank))
        compress_on_dask(args.input, rank=rank, tol=args.tol, method=args.method, dataset=args.key,
                         scheduler=args.scheduler, output=args.output, random_state=args.seed,
                         progress=args.progress)
        return 0
    if args.output.suffix != ".npz":
        raise ValueError(f"--output must end in .npz, got {str(args.output)!r}")
    if not args.output.parent.is_dir() and str(args.output.parent):
        raise ValueError(f"output directory {str(args.output.parent)!r} does not exist")
    if args.input.is_dir():
        raise ValueError(f"input {str(args.input)!r} is a directory, not a tensor file")
    if args.output.is_dir():
        raise ValueError(f"--output {str(args.output)!r} is a directory, not a file to write")
    with warnings.catch_warnings():
        # refused below in one line: a warning first would say it twice
        warnings.simplefilter("ignore", RuntimeWarning)
        tensor = load_array(args.input, key=args.key)
    if tensor.dtype.kind in "fc" and not np.all(np.isfinite(tensor)):
        n_bad = int(np.sum(~np.isfinite(tensor)))
        raise ValueError(
            f"input {str(args.input)!r}: tensor contains {n_bad} non-finite (NaN or Inf) entries"
        )
    rank = None
    if args.rank is not None:
        rank = args.rank[0] if len(args.rank) == 1 else tuple(args.rank)
    start = time.perf_counter()
    result = tucker(tensor, rank, tol=args.tol, method=args.method, random_state=args.seed,
                    progress=args.progress)
    elapsed = time.perf_counter() - start
    result.save(args.output)
    print(f"input        {args.input} shape={tuple(np.shape(tensor))} dtype={result.dtype}")
    print(f"method       {args.method}")
    print(f"ranks        {result.ranks}")
    print(f"rel. error   {result.info.rel_error:.3e}")
    print(f"compression  {result.compression_ratio:.1f}x")
    print(f"time         {elapsed:.3f} s")
    print(f"wrote        {args.output}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
