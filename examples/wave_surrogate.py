"""CNN surrogates of the 2D wave equation with convolutions compressed a priori, and the boundary
generator of a zone of interest (Boukraichi et al., arXiv 2304.04964).

Simulates Gaussian pulses by finite elements (``physics.wave.wave2d``), trains a U-Net forecaster
(``WaveCNN``) per convolution kind (dense, one-way filters, CP, Tucker) on the same budget and seed,
prints parameters, peak training memory, time per epoch and one-step / rollout errors, and saves
the figures; then predicts a zone's boundary trace from the initial field, fills the zone in with
the finite-element ``Submodel``, and compares with a CNN that predicts the zone directly.

    python examples/wave_surrogate.py            # 32 simulations at 32x32 (minutes)
    python examples/wave_surrogate.py --quick    # seconds (also TENSORKIT_QUICK=1)
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from physics.wave import (
    compare_boundary_generator,
    compare_compression,
    plot_compression,
    plot_rollout,
    wave2d,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds)")
    parser.add_argument("--outdir", type=Path, default=Path("."))
    args = parser.parse_args()
    quick = args.quick or os.environ.get("TENSORKIT_QUICK") == "1"
    if quick:
        n, resolution, snapshots, t_final, width, epochs, steps = 6, 16, 10, 0.6, 4, 1, 5
    else:
        n, resolution, snapshots, t_final, width, epochs, steps = 32, 32, 31, 1.5, 8, 8, 20

    u, times = wave2d(n, resolution, n_snapshots=snapshots, t_final=t_final, random_state=0,
                      progress=not quick)
    print(f"data: {n} pulse simulations, {resolution}x{resolution}, {snapshots} snapshots to t = {t_final}")

    # every variant: same data split, same initialization seed, same epochs, batch size and rate
    table = compare_compression((u, times), ranks={"oneway": 1, "cp": 4, "tucker": 4}, history=4,
                                width=width, depth=2, epochs=epochs, rollout_steps=steps,
                                random_state=0, progress=not quick)
    print(table.to_text())
    for name, plot in (("wave_compression.png", plot_compression), ("wave_rollout.png", plot_rollout)):
        plot(table, args.outdir / name)
        print(f"saved {args.outdir / name}")

    # a zone in the middle of the square, corners on the grid
    cells = resolution - 1
    zone = ((cells // 4 / cells, (cells - cells // 4) / cells),) * 2
    result = compare_boundary_generator((u, times), zone, conv="cp", rank=8, width=width,
                                        epochs=2 * epochs, random_state=0, progress=not quick)
    print(f"boundary generator, zone {zone[0]} x {zone[1]}:")
    print(result.to_text())


if __name__ == "__main__":
    main()
