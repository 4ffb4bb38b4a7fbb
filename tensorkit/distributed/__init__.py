"""tensorkit algorithms on dask arrays and a dask cluster (``pip install 'tensorkit[dask]'``).

- :func:`sketch`: one-pass sketches of row-chunked arrays, summed over blocks seeded by
  ``(seed, block index)``;
- :func:`lstsq`: exact (sketch-and-precondition with iterative refinement, distributed
  ``A^T (A p)``) and sketched least squares;
- :func:`cp_complete`: CP completion by ALS with the observations chunked on the workers.
"""

from ._completion import cp_complete
from ._lstsq import lstsq, sketch

__all__ = ["cp_complete", "lstsq", "sketch"]
