"""Darcy targets of issue 6: FNO / TFNO test error vs epochs at 32x32 and zero-shot at 64x64.

Darcy 32x32, 1000 training / 100 test samples (``physics.pde.darcy``), FNO modes 12x12, width 32,
4 layers, batch 20, Adam 1e-3 (weight decay 1e-4, halved every 100 epochs), relative L2 loss on
normalized data, float32. Prints the test relative L2 error (de-normalized u) per epoch, the mean of
the last 10 epochs, epoch times, and the zero-shot error on the same test fields solved at 64x64
next to bilinear upsampling of the 32x32 prediction.

Run: ``OPENBLAS_NUM_THREADS=1 python benchmarks/darcy_targets.py --epochs 40 [--model tfno]``
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy.interpolate import RegularGridInterpolator
from threadpoolctl import threadpool_info

from operators import FNO, TFNO
from physics.pde import darcy, fit_darcy
from tensorkit.nn import LpLoss


def bilinear_upsample(u: np.ndarray, resolution: int) -> np.ndarray:
    """Interpolate nodal fields (n, r, r) on [0, 1]^2 to (n, R, R) nodes, bilinearly."""
    r = u.shape[-1]
    coarse = np.linspace(0.0, 1.0, r)
    fine = np.linspace(0.0, 1.0, resolution)
    points = np.stack(np.meshgrid(fine, fine, indexing="ij"), axis=-1)
    return np.stack(
        [RegularGridInterpolator((coarse, coarse), field)(points) for field in u]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--model", choices=["fno", "tfno"], default="fno")
    parser.add_argument("--train", type=int, default=1000)
    parser.add_argument("--test", type=int, default=100)
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--modes", type=int, default=12)
    parser.add_argument("--padding", type=float, default=None)
    parser.add_argument("--json", type=Path, default=None, help="write the history here")
    parser.add_argument("--save", type=Path, default=None, help="write the trained model here (.npz)")
    args = parser.parse_args()
    print("BLAS:", [(i["internal_api"], i["num_threads"]) for i in threadpool_info()])
    start = time.perf_counter()
    a, u = darcy(args.train, args.resolution, random_state=0, progress=False)
    a_test, u_test = darcy(args.test, args.resolution, random_state=1, progress=False)
    a_fine, u_fine = darcy(args.test, 2 * args.resolution, random_state=1, progress=False)
    print(f"data: {time.perf_counter() - start:.1f} s")
    cls = FNO if args.model == "fno" else TFNO
    model = cls((args.modes, args.modes), 1, 1, 32, n_layers=4, domain_padding=args.padding,
                dtype=np.float32, random_state=0)
    print(f"{args.model}: {model.num_parameters()} parameters")
    fit = fit_darcy(model, a, u, epochs=0, validation=(a_test, u_test), random_state=0, progress=False)
    for done in range(0, args.epochs, 10):
        h = fit.train(min(done + 10, args.epochs))
        for k in range(done, len(h["val_metric"])):
            print(f"epoch {k + 1:4d}  train {h['train_loss'][k]:.4f}  test rel. L2 {h['val_metric'][k]:.4%}"
                  f"  {h['epoch_time'][k]:.1f} s", flush=True)
        print(f"  after {len(h['val_metric'])} epochs: mean of last 10 {np.mean(h['val_metric'][-10:]):.4%}, "
              f"zero-shot at {2 * args.resolution} {fit.test_error(a_fine, u_fine):.4%}", flush=True)
        if args.save is not None:
            model.save(args.save)
        if args.json is not None:
            args.json.write_text(json.dumps(h))
    last10 = float(np.mean(h["val_metric"][-10:]))
    print(f"test rel. L2, mean of last 10 epochs: {last10:.4%}")
    print(f"median epoch time: {np.median(h['epoch_time']):.2f} s")
    zero_shot = fit.test_error(a_fine, u_fine)
    # relative L2 per sample over the (R, R) field, averaged
    upsampled = bilinear_upsample(fit.predict(a_test), 2 * args.resolution)
    upsampled = LpLoss(d=2, reduction="mean")(upsampled, u_fine)
    print(f"zero-shot at {2 * args.resolution}: {zero_shot:.4%}; bilinear upsampling of the "
          f"{args.resolution} prediction: {upsampled:.4%}")
    if args.json is not None:
        args.json.write_text(json.dumps({**h, "last10": last10, "zero_shot": zero_shot,
                                         "upsampled": upsampled,
                                         "parameters": model.num_parameters()}))


if __name__ == "__main__":
    main()
