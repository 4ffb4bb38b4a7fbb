"""Neural tensor completion with and without DAIN augmentation: test RMSE, mean over seeds.

Data (both ship with tensorly):

- Kinetic (64 x 12 x 10 x 60), its 1,754 flagged missing cells excluded;
- COVID-19 serology (438 x 6 x 11), fully observed.

Protocol (DAIN's released code): the observed cells split 72 / 18 / 10 (train / validation / test)
with the seed; the neural model (per-mode embeddings of ``150 // order``, ReLU MLP) trained with
Adam 1e-3, batch 1024, early stopping on the validation RMSE; DAIN scores the training cells by
TracIn on the output layer, draws ``0.5 * n_train`` new cells from the entity distributions,
labels them with that model and trains a fresh model on the union. "plain" is DAIN's first model
(the same seed, the same training), so both columns share everything but the augmentation.

The default is a reduced size for a shared 2-core machine: hidden (128, 128, 32), patience 10, up to
15 epochs on Kinetic and 150 on COVID. ``--full`` uses the paper's (1024, 1024, 128), 50 epochs, patience 10.

Run: ``python benchmarks/bench_dain.py [--seeds 5] [--threads 1] [--full] [--datasets kinetic covid]``.
One BLAS thread is the default: on a loaded machine, two threads per small matmul made a training
epoch on Kinetic 15x slower here.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from tensorkit.backend import thread_limits
from tensorkit.completion import DAIN
from tensorkit.observed import ObservedTensor


def kinetic() -> ObservedTensor:
    from tensorly.datasets import load_kinetic

    data = load_kinetic()
    flagged = np.asarray(data.missing_values_position, dtype=bool)
    return ObservedTensor.from_dense(np.asarray(data.tensor, dtype=np.float64), mask=~flagged)


def covid() -> ObservedTensor:
    from tensorly.datasets import load_covid19_serology

    return ObservedTensor.from_dense(np.asarray(load_covid19_serology().tensor, dtype=np.float64))


DATASETS = {"kinetic": kinetic, "covid": covid}
# Epoch caps of the reduced size: COVID's 21k training cells make 21 steps per epoch, so the cap is
# high enough for early stopping to end training; Kinetic's cap is what the shared machine affords.
REDUCED_EPOCHS = {"kinetic": 15, "covid": 150}


def rmse(model, obs: ObservedTensor) -> float:
    diff = np.asarray(model(obs.indices), dtype=np.float64) - obs.values
    return float(np.sqrt(np.mean(diff * diff)))


def run(name: str, obs: ObservedTensor, args) -> None:
    hidden = (1024, 1024, 128) if args.full else (128, 128, 32)
    epochs, patience = (50, 10) if args.full else (args.epochs or REDUCED_EPOCHS[name], args.patience)
    print(f"\n-- {name}: shape {obs.shape}, {obs.nnz} observed cells, hidden {hidden}, "
          f"up to {epochs} epochs, patience {patience}")
    print(f"{'seed':>4} {'plain RMSE':>11} {'DAIN RMSE':>10} {'plain NRMSE':>12} {'DAIN NRMSE':>11} "
          f"{'epochs':>7} {'drawn':>7} {'time s':>7}")
    plain, dain_scores = [], []
    for seed in range(args.seeds):
        train, valid, test = obs.split((0.72, 0.18, 0.10), random_state=seed)
        start = time.perf_counter()
        dain = DAIN(obs.shape, hidden=hidden, random_state=seed)
        dain.fit(train, valid, epochs=epochs, batch_size=1024, lr=1e-3, patience=patience)
        elapsed = time.perf_counter() - start
        base, final = rmse(dain.base_model, test), rmse(dain.model, test)
        std = float(test.values.std())
        plain.append(base)
        dain_scores.append(final)
        print(f"{seed:>4} {base:>11.5g} {final:>10.5g} {base / std:>12.4f} {final / std:>11.4f} "
              f"{dain.base_model.info.iterations:>3}/{dain.model.info.iterations:<3} "
              f"{dain.augmented.nnz:>7} {elapsed:>7.1f}")
    p, d = np.array(plain), np.array(dain_scores)
    print(f"mean RMSE: plain {p.mean():.5g} +- {p.std():.2g}, DAIN {d.mean():.5g} +- {d.std():.2g}; "
          f"DAIN / plain = {d.mean() / p.mean():.4f}; DAIN better on {int((d < p).sum())}/{len(p)} seeds")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=None, help="epoch cap of the reduced size")
    parser.add_argument("--patience", type=int, default=10, help="patience of the reduced size")
    parser.add_argument("--full", action="store_true", help="the paper's network and schedule")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    args = parser.parse_args()
    with thread_limits(args.threads):
        for name in args.datasets:
            run(name, DATASETS[name](), args)


if __name__ == "__main__":
    main()
