"""Clusters for the distributed algorithms: a local one sized to the machine, an existing one by
address or ``Client``, and the retry rule for a cluster that lost its data.

A ``LocalCluster`` by default gets one single-threaded worker process per core (BLAS inside a task
is serial: the parallelism is across chunks) and an equal share of 80% of the machine's memory, so
dask spills and pauses workers before the operating system kills them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

from .._validation import check_int, check_real

__all__ = ["cluster_client", "compress_on_dask", "local_cluster", "lost_data", "retry_once"]

# Share of the machine's memory handed to the workers of a default local cluster.
_MEMORY_SHARE = 0.8


def local_cluster(n_workers: int | None = None, *, memory_limit: Any = None,
                  threads_per_worker: int = 1) -> Any:
    """A ``distributed.LocalCluster`` of worker processes on this machine (loopback only).

    Parameters
    ----------
    n_workers : int, optional
        Default: the number of cores available to this process.
    memory_limit : int, str or None
        Per worker (bytes or ``"700MB"``); default an equal share of 80% of the machine's memory.
    threads_per_worker : int
        Threads per worker process (1: chunks run in parallel across processes).
    """
    import distributed

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    n_workers = cores if n_workers is None else check_int(n_workers, "n_workers", minimum=1)
    threads_per_worker = check_int(threads_per_worker, "threads_per_worker", minimum=1)
    if memory_limit is None:
        memory_limit = int(_MEMORY_SHARE * _total_memory() / n_workers)
    elif not isinstance(memory_limit, str):
        memory_limit = int(check_real(memory_limit, "memory_limit", minimum=1.0))
    return distributed.LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker,
                                    processes=True, memory_limit=memory_limit, host="127.0.0.1",
                                    dashboard_address=":0")


@contextlib.contextmanager
def cluster_client(client: Any = None, *, scheduler: str | None = None) -> Iterator[Any]:
    """The ``distributed.Client`` to run on: ``client`` itself, a client of the scheduler at
    ``scheduler`` (closed on exit), or a new :func:`local_cluster` (shut down on exit).

    Exactly one of ``client`` and ``scheduler`` may be given.
    """
    import distributed

    if client is not None and scheduler is not None:
        raise ValueError(f"give client or scheduler, not both (scheduler={scheduler!r})")
    if client is not None:
        if not isinstance(client, distributed.Client):
            raise TypeError(f"client must be a distributed.Client, got {type(client).__name__}")
        with client.as_current():
            yield client
        return
    if scheduler is not None:
        if not isinstance(scheduler, str):
            raise TypeError(f"scheduler must be an address string, got {type(scheduler).__name__}")
        try:
            c = distributed.Client(scheduler, timeout="10s")
        except OSError as exc:
            raise ConnectionError(f"no dask scheduler answers at {scheduler!r}: {exc}") from None
        with c, c.as_current():
            yield c
        return
    with local_cluster() as cluster, distributed.Client(cluster) as c, c.as_current():
        yield c


def retry_once(step: Callable[[], Any], what: str, *, reset: Callable[[], None] | None = None,
               lost: str = "its data") -> Any:
    """``step()``, run again once (after ``reset()``) when the cluster lost its data mid-way; a
    second loss raises ``RuntimeError`` in one line saying what was lost (``lost``) and what was
    running (``what``).

    A worker that dies is not a loss: dask recomputes its tasks from the graph. A restarted
    cluster (``client.restart()``) cancels every future, including persisted intermediates:
    ``step`` then starts over from the graph of its input.

    Examples
    --------
    >>> from tensorkit.distributed._cluster import retry_once
    >>> retry_once(lambda: 3, "adding")
    3
    """
    try:
        return step()
    except Exception as exc:
        if not lost_data(exc):
            raise
    if reset is not None:
        reset()
    try:
        return step()
    except Exception as exc:
        if not lost_data(exc):
            raise
        raise RuntimeError(
            f"the dask cluster lost {lost} twice while {what} (restarted, or its workers were "
            f"lost; retried once): {type(exc).__name__}"
        ) from exc


def lost_data(exc: BaseException) -> bool:
    """Whether ``exc`` says the cluster lost data (a restart, dead workers), not a bug."""
    from concurrent.futures import CancelledError

    return isinstance(exc, CancelledError) or type(exc).__name__ in (
        "KilledWorker", "FutureCancelledError", "CancelledError")


def compress_on_dask(path: str | os.PathLike, *, rank: Any = None, tol: float | None = None,
                     method: str = "st_hosvd", dataset: str | None = None, scheduler: str | None = None,
                     output: str | os.PathLike, random_state: int = 0, progress: bool = True) -> Any:
    """``tensorkit compress BIG.zarr --dask [--scheduler ADDRESS]``: the Tucker decomposition of a
    Zarr array (a directory) or an HDF5 dataset (``.h5``/``.hdf5``) by
    :func:`tensorkit.distributed.tucker`, saved to the ``.npz`` file ``output``; prints a summary.

    Runs on a local cluster sized to the machine, or on the scheduler at ``scheduler``
    (``"tcp://host:8786"``; its workers must see ``path``). ``dataset`` names the array inside a
    Zarr group or HDF5 file (required for HDF5 files holding more than one). Returns the
    :class:`TuckerTensor`.
    """
    import time
    from pathlib import Path

    from ._io import from_hdf5, from_zarr
    from ._tucker import tucker

    path, output = Path(path), Path(output)
    if isinstance(rank, (list, tuple)) and len(rank) == 1:
        rank = rank[0]  # --rank R: one rank for every mode
    if output.suffix != ".npz":
        raise ValueError(f"--output must end in .npz, got {str(output)!r}")
    if str(output.parent) and not output.parent.is_dir():
        raise ValueError(f"output directory {str(output.parent)!r} does not exist")
    if path.suffix in (".h5", ".hdf5"):
        if dataset is None:
            dataset = _only_dataset(path)
        A = from_hdf5(path, dataset)
    elif path.is_dir():
        A = from_zarr(path, component=dataset)
    else:
        raise ValueError(f"--dask reads a Zarr store (a directory) or an .h5/.hdf5 file, got "
                         f"{str(path)!r}; compress .npy/.npz files without --dask")
    with cluster_client(scheduler=scheduler) as client:
        workers = len(client.scheduler_info()["workers"])
        start = time.perf_counter()
        result = tucker(A, rank, tol=tol, method=method, random_state=random_state, progress=progress)
        elapsed = time.perf_counter() - start
    result.save(output)
    print(f"input        {path} shape={A.shape} dtype={A.dtype} chunks={A.chunksize}")
    print(f"cluster      {scheduler or 'local'} ({workers} workers)")
    print(f"method       {method}")
    print(f"ranks        {result.ranks}")
    print(f"rel. error   {result.info.rel_error:.3e}")
    print(f"compression  {result.compression_ratio:.1f}x")
    print(f"time         {elapsed:.3f} s")
    print(f"wrote        {output}")
    return result


def _only_dataset(path):
    import h5py

    with h5py.File(path, "r") as f:
        names: list[str] = []
        f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
    if len(names) != 1:
        raise ValueError(f"{str(path)!r} holds {len(names)} datasets {names[:5]}; choose one with --dataset")
    return names[0]


def _total_memory() -> int:
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except ImportError:  # pragma: no cover - psutil comes with distributed
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
