"""``tensorkit demo`` section: completing tensorly's Kinetic tensor from 20% of its cells."""

from __future__ import annotations

import time

import numpy as np

from ..observed import ObservedTensor
from ._als import cp_complete
from ._metrics import nrmse
from ._tucker import tucker_complete


def kinetic_split(*, hidden: float = 0.8, seed: int = 0) -> tuple[ObservedTensor, ObservedTensor]:
    """Kinetic (64 x 12 x 10 x 60, bundled with tensorly) without its flagged missing cells, split
    into the observed cells and the hidden ones (``hidden`` of them at random, ``seed``)."""
    from tensorly.datasets import load_kinetic

    data = load_kinetic()
    X = np.asarray(data["tensor"], dtype=np.float64)
    missing = np.asarray(data["missing_values_position"], dtype=bool)
    indices, values = np.argwhere(~missing), X[~missing]
    hide = np.random.default_rng(seed).random(values.shape[0]) < hidden
    return (ObservedTensor(indices[~hide], values[~hide], X.shape),
            ObservedTensor(indices[hide], values[hide], X.shape))


def run(options) -> None:
    """Print held-out NRMSE and time of CP (ALS, WOPT) and Tucker completion on Kinetic."""
    train, test = kinetic_split()
    sweeps = 20 if options.quick else 200
    print(f"Kinetic {train.shape}: {train.nnz} observed cells, {test.nnz} hidden; "
          f"NRMSE on the hidden cells (RMSE / their std), at most {sweeps} sweeps")
    runs = [
        ("CP rank 10, ALS", lambda: cp_complete(train, 10, reg=1e-7, n_iter_max=sweeps, random_state=0)),
        ("CP rank 10, WOPT", lambda: cp_complete(train, 10, method="wopt", reg=1e-7,
                                                 n_iter_max=sweeps, random_state=0)),
        # the core's least squares costs nnz * (prod of ranks)^2: rank 5 (625 core entries) keeps
        # it to seconds, where 8 (4096 entries) takes about a minute per sweep
        ("Tucker (5,5,5,5)", lambda: tucker_complete(train, 5, reg=1e-6, n_iter_max=sweeps // 4,
                                                     random_state=0)),
    ]
    for name, fit in runs:
        start = time.perf_counter()
        model = fit()
        elapsed = time.perf_counter() - start
        print(f"{name:>18}: NRMSE {nrmse(model, test):.4f} in {elapsed:6.2f} s "
              f"({model.info.iterations} iterations)")
