"""Learn the Darcy-flow solution operator with an FNO and a TFNO (Tucker-factorized weights).

Generates coefficient fields ``a`` and pressures ``u`` (``-div(a grad u) = 1``, ``u = 0`` on the
boundary), trains both models with the FNO paper's recipe, prints test errors and parameter counts,
evaluates zero-shot at twice the resolution, and saves two figures: the loss curves and a test
prediction next to the truth and the error.

    python examples/darcy_fno.py            # 1000 train / 100 test at 32x32, 40 epochs (slow)
    python examples/darcy_fno.py --quick    # seconds
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from operators import FNO, TFNO
from physics.pde import darcy, fit_darcy, plot_prediction
from tensorkit.nn import plot_history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds)")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--train", type=int, default=1000)
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--outdir", type=Path, default=Path("."))
    args = parser.parse_args()
    if args.quick:
        n_train, n_test, res, epochs, width, modes, layers = 60, 10, 16, 6, 8, 6, 2
    else:
        n_train, n_test, res, epochs = args.train, max(args.train // 10, 1), args.resolution, args.epochs
        width, modes, layers = 32, 12, 4

    start = time.perf_counter()
    a, u = darcy(n_train, res, random_state=0, progress=not args.quick)
    a_test, u_test = darcy(n_test, res, random_state=1, progress=False)
    # the same test fields (same random_state) solved on a grid twice as fine, for zero-shot testing
    a_fine, u_fine = darcy(n_test, 2 * res, random_state=1, progress=False)
    print(f"Darcy {res}x{res}: {n_train} train / {n_test} test ({time.perf_counter() - start:.1f} s)")

    print(f"{'model':>5} {'parameters':>11} {'test rel. L2':>13} {f'zero-shot {2 * res}':>14} "
          f"{'s/epoch':>8}")
    fits = {}
    for name, cls in (("FNO", FNO), ("TFNO", TFNO)):
        model = cls((modes, modes), 1, 1, width, n_layers=layers, dtype=np.float32, random_state=0)
        fit = fit_darcy(model, a, u, epochs=epochs, validation=(a_test, u_test),
                        lr=5e-3 if args.quick else 1e-3, batch_size=10 if args.quick else 20,
                        random_state=0, progress=not args.quick)
        fits[name] = fit
        print(f"{name:>5} {model.num_parameters():11d} {fit.history['val_metric'][-1]:13.2%} "
              f"{fit.test_error(a_fine, u_fine):14.2%} {np.median(fit.history['epoch_time']):8.2f}")

    for name, fit in fits.items():
        path = args.outdir / f"darcy_{name.lower()}_loss.png"
        plot_history(fit.history, path)
        print(f"saved {path}")
    path = args.outdir / "darcy_fno_prediction.png"
    plot_prediction(a_test[0], u_test[0], fits["FNO"].predict(a_test[:1])[0], path,
                    title="FNO: test sample")
    print(f"saved {path}")


if __name__ == "__main__":
    main()
