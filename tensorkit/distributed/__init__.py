"""tensorkit algorithms on dask arrays and a dask cluster (``pip install 'tensorkit[dask]'``).

- :func:`tucker`: ST-HOSVD, HOSVD and randomized Tucker of chunked tensors larger than memory
  (scaled Gram matrices summed over chunks, the accurate TSQR path where the tolerance needs it);
  :func:`from_zarr` / :func:`from_hdf5` open stores as dask arrays, :func:`compress_on_dask` backs
  ``tensorkit compress --dask``;
- :func:`sketch`: one-pass sketches of row-chunked arrays, summed over blocks seeded by
  ``(seed, block index)``;
- :func:`lstsq`: exact (sketch-and-precondition with iterative refinement, distributed
  ``A^T (A p)``) and sketched least squares;
- :func:`cp_complete`: CP completion by ALS with the observations chunked on the workers;
- :func:`generate_to_zarr`: data generation on a cluster into a Zarr store, deterministic per
  sample seed (:func:`sample_rng`); :func:`local_cluster` / :func:`cluster_client` start or reach
  a cluster.
"""

from ._cluster import cluster_client, compress_on_dask, local_cluster
from ._completion import cp_complete
from ._generate import generate_to_zarr, sample_rng
from ._io import from_hdf5, from_zarr
from ._lstsq import lstsq, sketch
from ._tucker import DISTRIBUTED_TUCKER_METHODS, tucker

__all__ = [
    "DISTRIBUTED_TUCKER_METHODS",
    "cluster_client",
    "compress_on_dask",
    "cp_complete",
    "from_hdf5",
    "from_zarr",
    "generate_to_zarr",
    "local_cluster",
    "lstsq",
    "sample_rng",
    "sketch",
    "tucker",
]
