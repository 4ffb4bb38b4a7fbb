"""Targets of issue 16 (scale out on dask) on a local cluster of 2 worker processes.

- tucker: a float32 n^3 tensor in a Zarr store on local disk, ST-HOSVD at rank (32, 32, 32) on
  workers limited to ``--worker-memory`` each; time against reading the store twice (same run),
  peak worker memory against the limit, and (n <= 256) the in-memory result.
- charges: long-range potential of N charges on the cluster vs one machine at 10^4 (time per
  charge, ranks, error against the direct sum at 200 points).
- darcy: samples at 64 x 64 on 2 workers vs one process (rate, bit-identical).

Quick (what fits a loaded 2-core machine):
    python benchmarks/bench_distributed.py
Full targets:
    python benchmarks/bench_distributed.py --n 1024 --worker-memory 700MB --charges 1000000 --darcy 1000
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time

import numpy as np


def peak_memory(client, stop, out):
    """Largest process memory any worker reported while ``stop`` is unset."""
    while not stop.is_set():
        for w in client.scheduler_info()["workers"].values():
            out[0] = max(out[0], w["metrics"]["memory"])
        time.sleep(0.2)


def bench_tucker(n, worker_memory, rank, workdir):
    import dask
    import dask.array as da
    import distributed
    import zarr

    from tensorkit.distributed import from_zarr, tucker

    path = f"{workdir}/x.zarr"
    chunk = 64
    store = zarr.create_array(path, shape=(n, n, n), chunks=(chunk,) * 3, dtype="f4")
    # 48 random separable terms of weights 0.93^t (singular values decay slowly enough for float32
    # Gram matrices to resolve rank 32) plus noise, written slab by slab (never all in memory)
    rng = np.random.default_rng(0)
    terms = 48
    f = [rng.standard_normal((n, terms)) for _ in range(3)]
    w = 0.93 ** np.arange(terms)
    for s in range(0, n, chunk):
        slab = np.einsum("t,it,jt,kt->ijk", w, f[0][s:s + chunk], f[1], f[2], optimize=True)
        store[s:s + chunk] = (slab + 1e-4 * rng.standard_normal(slab.shape)).astype(np.float32)
    limit = dask.utils.parse_bytes(worker_memory)
    print(f"tucker: {n}^3 float32 = {4 * n**3 / 1e9:.2f} GB in Zarr, 2 workers x {worker_memory} "
          f"({4 * n**3 / (2 * limit):.1f}x total worker memory)")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, memory_limit=worker_memory,
                                  processes=True, dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        A = from_zarr(path)
        start = time.perf_counter()
        da.max(A).compute()
        read = time.perf_counter() - start
        stop, peak = threading.Event(), [0]
        sampler = threading.Thread(target=peak_memory, args=(client, stop, peak))
        sampler.start()
        start = time.perf_counter()
        T = tucker(A, (rank,) * 3)
        elapsed = time.perf_counter() - start
        stop.set()
        sampler.join()
        workers = len(client.scheduler_info()["workers"])
    print(f"  read once {read:.1f} s; st_hosvd {elapsed:.1f} s = {elapsed / (2 * read):.2f}x two reads "
          f"(target <= 3); {T.info.extras}; rel. error {T.info.rel_error:.3e}")
    print(f"  peak worker memory {peak[0] / 1e6:.0f} MB of {limit / 1e6:.0f} MB; workers alive {workers}/2")
    if n <= 256:
        import tensorkit

        # mode order 0, 1, 2: the distributed default for equal sizes and ranks
        R = tensorkit.tucker(store[:].astype(np.float64), (rank,) * 3, mode_order=[0, 1, 2])
        Td = tucker(from_zarr(path).astype(np.float64), (rank,) * 3)
        diff = np.linalg.norm(Td.to_dense() - R.to_dense()) / np.linalg.norm(R.to_dense())
        print(f"  float64 vs in-memory tensorkit.tucker: {diff:.1e} relative (target 1e-10)")


def bench_charges(n_charges):
    import distributed

    from physics.electrostatics import (
        default_domain,
        default_long_range,
        direct_potential,
        long_range_potential,
    )
    from physics.electrostatics._distributed import distributed_long_range_potential

    small = jittered_lattice(10_000, 0)
    long_range_potential(*jittered_lattice(64, 0), tol=1e-7)  # compile and warm up first
    start = time.perf_counter()
    V = long_range_potential(small.positions, small.charges, tol=1e-7)
    single = (time.perf_counter() - start) / 10_000
    big = jittered_lattice(n_charges, 1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as c:
        start = time.perf_counter()
        W = distributed_long_range_potential(big.positions, big.charges, client=c, tol=1e-7,
                                             chunk=max(10_000, n_charges // 16))
        spread = (time.perf_counter() - start) / n_charges
    domain = default_domain(big.positions)
    points = np.random.default_rng(2).uniform(*np.array(domain).T, size=(200, 3))
    ref = direct_potential(big.positions, big.charges, points, kernel="long_range",
                           long_range=default_long_range(domain, 1e-7))
    err = np.abs(W(points) - ref).max() / np.abs(ref).max()
    print(f"charges: one machine 10^4: {single * 1e6:.1f} us/charge, ranks {V.ranks}; cluster "
          f"{n_charges}: {spread * 1e6:.1f} us/charge, ranks {W.ranks}, max error {err:.1e} (1e-7)")


def jittered_lattice(n_charges, seed):
    """About ``n_charges`` alternating charges on a rock-salt lattice, each moved by up to 0.3 A
    (random_cluster places atoms one by one: too slow at 10^6)."""
    from physics.electrostatics import ChargeSystem, lattice

    side = round(n_charges ** (1 / 3))
    pos, q = lattice((side, side, side))
    pos = pos + np.random.default_rng(seed).uniform(-0.3, 0.3, pos.shape)
    return ChargeSystem(pos, q)


def bench_darcy(n_samples, workdir):
    import distributed

    from physics.pde._distributed import darcy_to_zarr

    start = time.perf_counter()
    local = darcy_to_zarr(f"{workdir}/l.zarr", n_samples, 64, random_state=0, chunk=25, progress=False)
    t_local = time.perf_counter() - start
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as c:
        darcy_to_zarr(f"{workdir}/w.zarr", 8, 64, client=c, random_state=1, progress=False)  # warm up
        start = time.perf_counter()
        spread = darcy_to_zarr(f"{workdir}/c.zarr", n_samples, 64, client=c, random_state=0, chunk=25,
                               progress=False)
        t_cluster = time.perf_counter() - start
    same = all(np.array_equal(local[k][:], spread[k][:]) for k in ("a", "u"))
    print(f"darcy: {n_samples} samples 64x64: one process {n_samples / t_local:.0f}/s, 2 workers "
          f"{n_samples / t_cluster:.0f}/s = {t_local / t_cluster:.2f}x (target >= 1.7); bit-identical {same}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--worker-memory", default="150MB")
    p.add_argument("--rank", type=int, default=32)
    p.add_argument("--charges", type=int, default=100_000)
    p.add_argument("--darcy", type=int, default=200)
    p.add_argument("--only", choices=("tucker", "charges", "darcy"))
    args = p.parse_args()
    with tempfile.TemporaryDirectory(dir=".") as workdir:
        if args.only in (None, "tucker"):
            bench_tucker(args.n, args.worker_memory, args.rank, workdir)
        if args.only in (None, "darcy"):
            bench_darcy(args.darcy, workdir)
        if args.only in (None, "charges"):
            bench_charges(args.charges)


if __name__ == "__main__":
    main()
