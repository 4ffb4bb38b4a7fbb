"""tensorkit algorithms on dask arrays and a dask cluster (``pip install 'tensorkit[dask]'``).

- :func:`sketch`: one-pass sketches of row-chunked arrays, summed over blocks seeded by
  ``(seed, block index)``;
- :func:`lstsq`: exact (sketch-preconditioned CG with distributed ``A^T (A p)``) and sketched
  least squares.
"""

from ._lstsq import lstsq, sketch

__all__ = ["lstsq", "sketch"]
