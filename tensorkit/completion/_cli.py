"""``tensorkit complete``: predict the missing cells of a tensor file and report held-out errors.

INPUT is a dense ``.npy`` / ``.npz`` / HDF5 tensor with NaN at the missing cells, or a FROSTT
``.tns`` file of observed cells. A random ``--validation`` fraction of the observed cells is held
out: the fit stops early on it and its RMSE / NRMSE are printed. Every check runs before anything
is written; the model (and with ``--dense`` the completed tensor) is written atomically at the end.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

METHODS = ("als", "wopt", "tucker", "neural", "dain")


def register_complete(sub) -> None:
    """Add the ``complete`` subcommand to the ``tensorkit`` command."""
    p = sub.add_parser("complete", help="tensor completion: fill the missing (NaN) cells of a tensor")
    p.add_argument("input", type=Path, metavar="INPUT",
                   help="tensor with NaN as missing (.npy, .npz, .h5/.hdf5) or observed cells (.tns)")
    p.add_argument("--rank", required=True,
                   help="CP rank (als, wopt); Tucker ranks as R or R1,R2,... (tucker); the embedding "
                        "size per mode (neural, dain)")
    p.add_argument("--method", choices=METHODS, default="als",
                   help="CP by ALS or CP-WOPT, Tucker, the neural model, or the neural model with DAIN")
    p.add_argument("--reg", type=float, default=None,
                   help="relative ridge weight of cp_complete / tucker_complete (default: theirs)")
    p.add_argument("--validation", type=float, default=0.1,
                   help="fraction of the observed cells held out for early stopping and the errors")
    p.add_argument("--seed", type=int, default=0, help="random_state of the split and the fit")
    p.add_argument("--key", default=None, help="array name inside a .npz")
    p.add_argument("--dataset", default=None, help="dataset name inside an HDF5 file")
    p.add_argument("--n-iter-max", dest="n_iter_max", type=int, default=None,
                   help="sweeps (als, tucker), L-BFGS iterations (wopt) or epochs (neural, dain)")
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="the completed model (.npz: a CP/Tucker archive, or the neural checkpoint that "
                        "NeuralCompletion.from_checkpoint reads)")
    p.add_argument("--dense", action="store_true",
                   help="also write the completed dense tensor (observed cells kept) to "
                        "OUTPUT-dense.npy, refused before any work when it cannot fit in memory")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    p.set_defaults(func=_run_complete)


def _run_complete(args) -> int:
    from .._validation import check_allocation, check_int, check_real

    output = args.output
    if output.suffix != ".npz":
        raise ValueError(f"--output must end in .npz, got {str(output)!r}")
    if str(output.parent) and not output.parent.is_dir():
        raise ValueError(f"output directory {str(output.parent)!r} does not exist")
    ranks = _ranks(args.rank, args.method)
    check_real(args.validation, "--validation", minimum=0.0, maximum=1.0, strict_maximum=True)
    if args.n_iter_max is not None:
        check_int(args.n_iter_max, "--n-iter-max", minimum=1)
    obs = _load(args)
    if obs.nnz == 0:
        raise ValueError(f"{str(args.input)!r} has no observed cell (every value is NaN)")
    if args.method == "tucker" and len(ranks) not in (1, obs.ndim):
        raise ValueError(f"--rank gives {len(ranks)} ranks for a tensor of order {obs.ndim}")
    dense_path = output.with_name(f"{output.stem}-dense.npy")
    if args.dense:  # refused before any work or writing when it cannot fit
        import numpy as np

        check_allocation(obs.shape, np.float64, "the completed dense tensor", alternative="drop --dense")
    if args.validation > 0:
        train, validation = obs.split((1 - args.validation, args.validation), random_state=args.seed)
    else:
        train, validation = obs, None
    start = time.perf_counter()
    model, sweeps = _fit(args, ranks, train, validation)
    elapsed = time.perf_counter() - start
    dense = _dense(model, obs) if args.dense else None

    print(f"input        {args.input} shape={obs.shape} observed={obs.nnz} ({obs.density:.3%})")
    reg = f" reg={args.reg:g}" if args.reg is not None else ""
    print(f"method       {args.method} rank={args.rank}{reg}")
    print(f"fit          {train.nnz} training cells, {sweeps}, {elapsed:.2f} s")
    if validation is not None:
        from ._metrics import mae, nrmse, rmse

        print(f"validation   {validation.nnz} held-out cells: RMSE {rmse(model, validation):.6g}  "
              f"NRMSE {nrmse(model, validation):.4f}  MAE {mae(model, validation):.6g}")
    else:
        print("validation   none (--validation 0): no held-out error")
    if hasattr(model, "save_checkpoint"):  # the neural model: its architecture with the weights
        model.save_checkpoint(output)
    else:
        model.save(output)
    print(f"wrote        {output}")
    if dense is not None:
        from ..io import save_array

        save_array(dense_path, dense)
        print(f"wrote        {dense_path}")
    return 0


def _ranks(text: str, method: str) -> tuple[int, ...]:
    from .._validation import check_int

    try:
        ranks = tuple(int(part) for part in str(text).split(","))
    except ValueError:
        raise ValueError(f"--rank must be an integer or a comma-separated list, got {text!r}") from None
    if len(ranks) > 1 and method != "tucker":
        raise ValueError(f"--rank takes one integer with --method {method}, got {text!r}")
    if method in ("neural", "dain"):  # the rank is the embedding size per mode
        return (check_int(ranks[0], "--rank", minimum=1),)
    return tuple(check_int(r, "--rank", minimum=1) for r in ranks)


def _load(args):
    from ..io import load_array
    from ..observed import ObservedTensor, read_tns

    path = args.input
    if not path.is_file():
        raise ValueError(f"INPUT {str(path)!r} does not exist or is not a file")
    if path.suffix == ".tns":
        return read_tns(path)
    key = args.dataset if path.suffix in (".h5", ".hdf5") else args.key
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NaN marks the missing cells here
        X = load_array(path, key=key)
    if X.ndim < 2:
        raise ValueError(f"INPUT must be a tensor of order >= 2, got shape {X.shape}")
    if X.dtype.kind not in "fiu":
        raise ValueError(f"INPUT must hold real numbers, got dtype {X.dtype}")
    return ObservedTensor.from_dense(X.astype("float64", copy=False))


def _fit(args, ranks, train, validation):
    """The fitted model and a words summary of its iterations."""
    from ._als import cp_complete
    from ._tucker import tucker_complete

    common = {"validation": validation, "random_state": args.seed, "progress": args.progress}
    if args.reg is not None:
        common["reg"] = args.reg
    if args.n_iter_max is not None and args.method in ("als", "wopt", "tucker"):
        common["n_iter_max"] = args.n_iter_max
    if args.method in ("als", "wopt"):
        model = cp_complete(train, ranks[0], method=args.method, **common)
    elif args.method == "tucker":
        model = tucker_complete(train, ranks if len(ranks) > 1 else ranks[0], **common)
    else:
        return _fit_neural(args, ranks[0], train, validation)
    extras = model.info.extras
    return model, f"{model.info.iterations} sweeps (best {extras['best_iteration']})"


def _fit_neural(args, embedding_dim, train, validation):
    from ._dain import DAIN
    from ._neural import NeuralCompletion

    epochs = args.n_iter_max or 50
    settings = {"epochs": epochs, "progress": args.progress}
    if args.method == "neural":
        model = NeuralCompletion(train.shape, embedding_dim=embedding_dim, random_state=args.seed)
        model.fit(train, validation=validation, random_state=args.seed, **settings)
    else:
        if validation is None:
            raise ValueError("--method dain needs validation cells (--validation > 0) for its influences")
        dain = DAIN(train.shape, embedding_dim=embedding_dim, random_state=args.seed)
        model = dain.fit(train, validation, **settings).model
    return model, f"{model.info.iterations} epochs (best {model.best_epoch + 1})"


def _dense(model, obs):
    """The completed tensor: the model's values at the missing cells, the observed values kept."""
    import numpy as np

    from ..backend import to_numpy

    if hasattr(model, "to_dense"):
        dense = np.array(to_numpy(model.to_dense()), dtype=np.float64)
    else:
        cells = np.indices(obs.shape).reshape(obs.ndim, -1).T
        dense = np.asarray(to_numpy(model.predict(cells)), dtype=np.float64).reshape(obs.shape)
    dense[tuple(to_numpy(obs.indices).T)] = to_numpy(obs.values)
    return dense
