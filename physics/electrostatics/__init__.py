"""Electrostatics of many point charges: range-separated Newton kernel, direct sums, and the
long-range potential in Chebyshev-Tucker format.

>>> import numpy as np
>>> from physics.electrostatics import direct_potential, lattice
>>> pos, q = lattice((2, 2, 2), spacing=1.0)
>>> float(direct_potential(pos, q, np.zeros((1, 3)))[0])
0.0
"""

from ._distributed import distributed_direct_potential, distributed_long_range_potential
from ._kernel import GaussianSum, newton_kernel_terms
from ._plot import plot_potential_slice
from ._potential import default_domain, default_long_range, direct_potential, long_range_potential
from ._systems import ChargeSystem, lattice, random_cluster, read_pqr, read_xyz

__all__ = [
    "ChargeSystem",
    "GaussianSum",
    "default_domain",
    "default_long_range",
    "direct_potential",
    "distributed_direct_potential",
    "distributed_long_range_potential",
    "lattice",
    "long_range_potential",
    "newton_kernel_terms",
    "plot_potential_slice",
    "random_cluster",
    "read_pqr",
    "read_xyz",
]
