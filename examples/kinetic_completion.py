"""Tensor completion walk-through on tensorly's Kinetic tensor (64 x 12 x 10 x 60).

1. Drop the 1,754 flagged missing cells, hide 80% of the rest at random (seed 0): the model sees
   20% of the cells and is scored on the hidden ones (NRMSE = RMSE / std of the hidden values).
2. Choose the rank and regularization with cp_complete's own validation on the observed cells only
   (early stopping on a held-out tenth), refit on all observed cells, score on the hidden ones.
3. Save the observed cells as a FROSTT .tns file and read them back.

    python examples/kinetic_completion.py [--quick]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from tensorly.datasets import load_kinetic

from tensorkit.completion import cp_complete, nrmse
from tensorkit.observed import ObservedTensor, read_tns, write_tns


def kinetic_split(seed: int = 0):
    data = load_kinetic()
    X = np.asarray(data["tensor"], dtype=np.float64)
    missing = np.asarray(data["missing_values_position"], dtype=bool)
    indices, values = np.argwhere(~missing), X[~missing]
    hide = np.random.default_rng(seed).random(values.shape[0]) < 0.8
    return (ObservedTensor(indices[~hide], values[~hide], X.shape),
            ObservedTensor(indices[hide], values[hide], X.shape))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small grid, few sweeps (seconds)")
    args = parser.parse_args()
    observed, hidden = kinetic_split()
    print(f"1) {observed.nnz} observed cells, {hidden.nnz} hidden, shape {observed.shape}")
    sweeps = 10 if args.quick else 300
    start = time.perf_counter()
    model = cp_complete(observed, 10, reg=1e-7, n_iter_max=sweeps, random_state=0)
    print(f"   rank 10: NRMSE {nrmse(model, hidden):.4f} ({model.info.iterations} sweeps, "
          f"{time.perf_counter() - start:.2f} s)")

    train, validation = observed.split((0.9, 0.1), random_state=1)
    grid = [(5, 1e-6)] if args.quick else [(r, g) for r in (8, 10, 12, 15) for g in (1e-7, 1e-6, 1e-5)]
    print("2) rank / reg by validation on the observed cells:")
    best = None
    for rank, reg in grid:
        fit = cp_complete(train, rank, reg=reg, validation=validation, n_iter_max=sweeps * 3,
                          patience=20, stop_tol=0, random_state=0)
        score = fit.info.extras["validation_rmse"]
        print(f"   rank {rank:2d} reg {reg:.0e}: validation RMSE {score:.5f} at sweep "
              f"{fit.info.extras['best_iteration']}")
        if best is None or score < best[0]:
            best = (score, rank, reg, fit.info.extras["best_iteration"])
    _, rank, reg, n_sweeps = best
    final = cp_complete(observed, rank, reg=reg, n_iter_max=n_sweeps, stop_tol=0, random_state=0)
    print(f"   chosen rank {rank}, reg {reg:.0e}, {n_sweeps} sweeps: hidden-cell NRMSE "
          f"{nrmse(final, hidden):.4f}")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "kinetic.tns"
        write_tns(path, observed)
        back = read_tns(path, shape=observed.shape)
        print(f"3) wrote and read {path.name}: {back.nnz} cells, values equal: "
              f"{bool(np.array_equal(back.values, observed.values))}")


if __name__ == "__main__":
    main()
