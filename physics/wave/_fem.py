"""P1 finite elements for the scalar wave equation on a rectangle meshed on a structured grid.

Semi-discretization of ``u_tt = div(c^2 grad u) + f`` with piecewise-linear triangles (scikit-fem
assembles every matrix; nothing here is hand-written element code):

.. math::

    M_L \\ddot u + B \\dot u + K u = F, \\qquad
    K_{ij} = \\int_\\Omega c^2 \\nabla\\phi_i \\cdot \\nabla\\phi_j, \\quad
    (M_L)_{ii} = \\sum_j \\int_\\Omega \\phi_i \\phi_j, \\quad
    B_{ii} = \\sum_j \\int_{\\partial\\Omega} c\\, \\phi_i \\phi_j,

where ``M_L`` is the lumped (row-sum) mass, and ``B`` the lumped first-order absorbing boundary
term (Engquist-Majda: ``du/dn = -(1/c) du/dt``), zero for Dirichlet boundaries.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from skfem import Basis, BilinearForm, ElementTriP1, FacetBasis, MeshTri
from skfem.helpers import dot, grad

from tensorkit.extend import as_float_array, check_choice, check_real

__all__ = ["UNIT_SQUARE", "WaveFEM", "grid_coordinates", "probe_matrix"]

UNIT_SQUARE = ((0.0, 1.0), (0.0, 1.0))
BOUNDARIES = ("dirichlet", "absorbing")
# Below this many free nodes the largest eigenvalue comes from a dense solver (Lanczos needs k < n).
_DENSE_EIGEN = 400


class WaveFEM:
    """The P1 wave operator on the rectangle ``zone`` with ``shape`` nodes per side.

    The nodes are the grid ``x_i = x0 + i (x1 - x0) / (nx - 1)``, ``y_j`` likewise, boundary
    included, each grid cell split into two triangles along the same diagonal. Node ``i * ny + j``
    is grid point ``(x_i, y_j)``, so a nodal vector reshapes to a ``(nx, ny)`` field.

    Parameters
    ----------
    shape : (int, int)
        Nodes per side, each >= 3.
    zone : ((x0, x1), (y0, y1))
        The rectangle (default the unit square).
    speed : float, callable or ndarray of shape ``shape``
        Wave speed ``c > 0``: a constant, a function ``c(x, y)`` of coordinate arrays (evaluated at
        the quadrature points), or nodal values (interpolated by P1 functions).
    boundary : {"dirichlet", "absorbing"}
        ``u = 0`` (the boundary nodes are fixed) or the first-order absorbing condition.

    Attributes
    ----------
    stiffness : scipy.sparse.csr_matrix (N, N)
    mass : ndarray (N,)
        Lumped mass ``M_L``.
    damping : ndarray (N,)
        Lumped absorbing-boundary term ``B`` (zeros for Dirichlet).
    fixed : ndarray of bool (N,)
        Nodes whose values are prescribed (the boundary for Dirichlet, none for absorbing).
    x, y : ndarray (nx, ny)
        Node coordinates.

    Examples
    --------
    >>> from physics.wave import WaveFEM
    >>> fem = WaveFEM((17, 17))
    >>> h = 1 / 16
    >>> round(fem.max_eigenvalue() * h**2, 4)  # the 5-point Laplacian's 8 sin^2(15 pi / 32) / h^2
    7.9231
    """

    def __init__(self, shape, *, zone=UNIT_SQUARE, speed: Any = 1.0, boundary: str = "dirichlet"):
        self.shape = tuple(shape)
        self.zone = zone
        self.boundary = check_choice(boundary, "boundary", BOUNDARIES)
        mesh, basis, order = _grid_mesh(self.shape, zone)
        self.x, self.y = grid_coordinates(self.shape, zone)
        c2, c_facets = _speed_at_quadrature(speed, basis, order, self.shape, mesh)
        stiffness = _STIFFNESS.assemble(basis, c2=c2)
        lumped = np.asarray(_MASS.assemble(basis).sum(axis=1)).ravel()
        # permute scikit-fem's node numbering to the grid's (x index major)
        self.stiffness = sp.csr_matrix(stiffness[order][:, order])
        self.stiffness.eliminate_zeros()
        self.mass = lumped[order]
        boundary_nodes = np.zeros(mesh.p.shape[1], dtype=bool)
        boundary_nodes[mesh.boundary_nodes()] = True
        self.on_boundary = boundary_nodes[order]
        if self.boundary == "absorbing":
            facets = FacetBasis(mesh, ElementTriP1(), facets=mesh.boundary_facets())
            damping = _DAMPING.assemble(facets, c=c_facets(facets))
            self.damping = np.asarray(damping.sum(axis=1)).ravel()[order]
            self.fixed = np.zeros_like(self.on_boundary)
        else:
            self.damping = np.zeros_like(self.mass)
            self.fixed = self.on_boundary.copy()
        self._lambda_max: float | None = None

    @property
    def n_nodes(self) -> int:
        """Number of nodes ``N = nx * ny``."""
        return self.shape[0] * self.shape[1]

    def max_eigenvalue(self) -> float:
        """Largest ``lambda`` of ``K phi = lambda M_L phi`` on the free (not fixed) nodes.

        Computed once (Lanczos on ``M_L^{-1/2} K M_L^{-1/2}``, a dense solver on small meshes).
        """
        if self._lambda_max is None:
            free = ~self.fixed
            scale = 1.0 / np.sqrt(self.mass[free])
            a = self.stiffness[free][:, free].multiply(scale[:, None]).multiply(scale[None, :])
            if a.shape[0] <= _DENSE_EIGEN:
                value = scipy.linalg.eigvalsh(a.toarray())[-1]
            else:
                value = spla.eigsh(sp.csr_matrix(a), k=1, which="LA", return_eigenvectors=False)[0]
            self._lambda_max = float(value)
        return self._lambda_max

    def cfl_bound(self) -> float:
        """The leapfrog stability bound ``dt < 2 / sqrt(lambda_max)``."""
        return 2.0 / math.sqrt(self.max_eigenvalue())

    def energy(self, u, u_next, dt: float) -> np.ndarray:
        """Discrete leapfrog energy between two consecutive steps ``u = u^n``, ``u_next = u^{n+1}``.

        .. math::

            E^{n+1/2} = \\tfrac12 (v^{n+1/2})^T M_L v^{n+1/2} + \\tfrac12 (u^{n+1})^T K u^n,
            \\qquad v^{n+1/2} = (u^{n+1} - u^n) / \\Delta t,

        conserved exactly by undamped leapfrog and positive when ``dt`` is below the CFL bound.

        Parameters
        ----------
        u, u_next : ndarray (..., nx, ny)
        dt : float

        Returns
        -------
        ndarray (...)
        """
        u = np.asarray(u, dtype=np.float64)
        u_next = np.asarray(u_next, dtype=np.float64)
        lead = u.shape[:-2]
        a = u.reshape(-1, self.n_nodes).T
        b = u_next.reshape(-1, self.n_nodes).T
        v = (b - a) / dt
        kinetic = np.einsum("ns,n,ns->s", v, self.mass, v)
        potential = np.einsum("ns,ns->s", b, self.stiffness @ a)
        return (0.5 * (kinetic + potential)).reshape(lead)


def grid_coordinates(shape, zone=UNIT_SQUARE) -> tuple[np.ndarray, np.ndarray]:
    """Node coordinates ``(x, y)``, each of shape ``shape``, of the grid on ``zone`` (``ij`` order)."""
    (x0, x1), (y0, y1) = zone
    return np.meshgrid(np.linspace(x0, x1, shape[0]), np.linspace(y0, y1, shape[1]), indexing="ij")


def probe_matrix(shape, points, zone=UNIT_SQUARE) -> sp.csr_matrix:
    """Sparse ``P`` with ``(P u)_k = u_h(points[k])``: the P1 function of nodal values ``u`` on the
    grid ``shape`` over ``zone``, evaluated exactly at ``points`` (array (n, 2), inside ``zone``).

    >>> import numpy as np
    >>> from physics.wave import probe_matrix
    >>> probe_matrix((3, 3), np.array([[0.25, 0.5]])).toarray().round(2).tolist()
    [[0.0, 0.5, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0]]
    """
    _, basis, order = _grid_mesh(tuple(shape), zone)
    probes = sp.csr_matrix(basis.probes(np.asarray(points, dtype=np.float64).T))
    return sp.csr_matrix(probes[:, order])


def _grid_mesh(shape, zone):
    """Mesh, P1 basis, and ``order`` with ``order[g]`` the scikit-fem node at grid index ``g``."""
    (x0, x1), (y0, y1) = zone
    xs, ys = np.linspace(x0, x1, shape[0]), np.linspace(y0, y1, shape[1])
    mesh = MeshTri.init_tensor(xs, ys)
    ix = np.rint((mesh.p[0] - x0) / (x1 - x0) * (shape[0] - 1)).astype(np.int64)
    iy = np.rint((mesh.p[1] - y0) / (y1 - y0) * (shape[1] - 1)).astype(np.int64)
    order = np.empty(mesh.p.shape[1], dtype=np.int64)
    order[ix * shape[1] + iy] = np.arange(mesh.p.shape[1])
    return mesh, Basis(mesh, ElementTriP1()), order


def _speed_at_quadrature(speed, basis, order, shape, mesh) -> tuple[np.ndarray, Callable]:
    """``c^2`` at the element quadrature points, and a function giving ``c`` on a facet basis."""
    if callable(speed):
        def evaluate(b):
            x, y = np.asarray(b.global_coordinates())
            return _positive(np.broadcast_to(np.asarray(speed(x, y), dtype=np.float64), x.shape))

        return evaluate(basis) ** 2, evaluate
    if np.ndim(speed) == 0:
        c = check_real(speed, "speed", minimum=0.0, strict_minimum=True)
        return np.full(basis.global_coordinates().shape[1:], c * c), (
            lambda b: np.full(b.global_coordinates().shape[1:], c)
        )
    nodal = _positive(as_float_array(np.asarray(speed), "speed", allow_complex=False))
    if nodal.shape != shape:
        raise ValueError(f"speed must be a scalar, a callable or an array of shape {shape}, "
                         f"got shape {nodal.shape}")
    in_mesh_order = np.empty(mesh.p.shape[1])
    in_mesh_order[order] = nodal.ravel()
    return np.asarray(basis.interpolate(in_mesh_order)) ** 2, lambda b: np.asarray(
        b.interpolate(in_mesh_order))


def _positive(c: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(c)):
        raise ValueError("speed must be finite everywhere")
    if c.min() <= 0:
        raise ValueError(f"speed must be positive everywhere, got min {float(c.min())!r}")
    return c


@BilinearForm
def _STIFFNESS(u, v, w):
    return w.c2 * dot(grad(u), grad(v))


@BilinearForm
def _MASS(u, v, w):
    return u * v


@BilinearForm
def _DAMPING(u, v, w):
    return w.c * u * v
