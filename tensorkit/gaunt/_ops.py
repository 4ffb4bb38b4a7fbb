"""Equivariant operations built on the Gaunt tensor product (Luo et al., ICLR 2024, section 3.2)."""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from .._validation import as_float_array, check_allocation, check_int, device_of
from ..backend import get_namespace, native, scipy_for
from ._product import gaunt_tensor_product
from ._sph_harm import degree_index, lmax_from_size, real_sph_harm

__all__ = ["equivariant_convolution", "feature_interaction", "many_body_product"]


def feature_interaction(
    x1: Any, x2: Any = None, *, lmax_out: int, weights: Any = None, method: str = "auto"
):
    """Channel-wise Gaunt product of a feature with itself or with another feature.

    Parameters
    ----------
    x1 : array of shape (..., C, (L1+1)**2)
        Equivariant features (any leading dimensions, typically nodes and channels).
    x2 : array of shape (..., C, (L2+1)**2), optional
        The second feature; None interacts ``x1`` with itself (its grid values are computed once).
    lmax_out : int
        Largest output degree.
    weights : array, optional
        Broadcastable to ``(..., C, lmax_out + 1)``: learnable scale per channel and output degree.
    method : str
        Passed to :func:`gaunt_tensor_product`.

    Returns
    -------
    array of shape (..., C, (lmax_out+1)**2)
        ``w_{c,l} Proj_l(F_{1,c} F_{2,c})`` for each channel ``c``.

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.gaunt import feature_interaction
    >>> h = np.random.default_rng(0).standard_normal((7, 4, 9))  # 7 nodes, 4 channels, L = 2
    >>> feature_interaction(h, lmax_out=2, weights=np.ones((4, 3))).shape
    (7, 4, 9)
    """
    second = x1 if x2 is None else x2
    return gaunt_tensor_product(x1, second, lmax_out=lmax_out, method=method, weights=weights)


def equivariant_convolution(
    node_features: Any,
    edge_index: Any,
    edge_vectors: Any,
    radial_weights: Any,
    *,
    lmax_filter: int,
    lmax_out: int,
    method: str = "auto",
):
    """Equivariant convolution: Gaunt products of source features with edge-direction filters.

    .. math::

        h'_{i} = \\sum_{(j \\to i)} \\mathrm{GTP}\\Big(h_j,\\;
        \\sum_{l \\le L_f} R_{ji,l}\\, Y_l(\\hat r_{ji})\\Big)

    Parameters
    ----------
    node_features : array of shape (N, ..., (L+1)**2)
        Features of N nodes (optionally with channel dimensions).
    edge_index : int array of shape (2, E)
        ``edge_index[0]`` the source node, ``edge_index[1]`` the target node of each edge.
    edge_vectors : array of shape (E, 3)
        Non-zero relative positions; only their directions enter the filter.
    radial_weights : array
        Broadcastable to ``(E, ..., lmax_filter + 1)``: the radial filter value per edge, filter
        degree (and channel), e.g. an MLP of the edge length computed by the caller.
    lmax_filter, lmax_out : int
        Degrees of the filter and of the output.
    method : str
        Passed to :func:`gaunt_tensor_product`.

    Returns
    -------
    array of shape (N, ..., (lmax_out+1)**2)
        Sum of the messages arriving at each node (zero for nodes without incoming edges).

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.gaunt import equivariant_convolution
    >>> rng = np.random.default_rng(0)
    >>> pos = rng.standard_normal((5, 3))
    >>> edges = np.array([[0, 1, 2, 3, 4], [1, 2, 3, 4, 0]])
    >>> h = rng.standard_normal((5, 2, 4))  # 5 nodes, 2 channels, L = 1
    >>> out = equivariant_convolution(h, edges, pos[edges[1]] - pos[edges[0]], np.ones((5, 1, 3)),
    ...                               lmax_filter=2, lmax_out=2)
    >>> out.shape
    (5, 2, 9)
    """
    xp = get_namespace(node_features, edge_index, edge_vectors, radial_weights)
    node_features = as_float_array(node_features, "node_features", allow_complex=False, xp=xp)
    lmax_from_size(node_features, "node_features")
    if node_features.ndim < 2:
        raise ValueError(
            f"node_features must have shape (N, ..., (L+1)**2), got shape {tuple(node_features.shape)}"
        )
    lmax_filter = check_int(lmax_filter, "lmax_filter", minimum=0)
    lmax_out = check_int(lmax_out, "lmax_out", minimum=0)
    n_nodes = node_features.shape[0]
    if not hasattr(edge_index, "dtype"):
        edge_index = xp.asarray(np.asarray(edge_index))
    if edge_index.ndim != 2 or edge_index.shape[0] != 2 or edge_index.dtype.kind not in "iu":
        raise ValueError(
            f"edge_index must be an int array of shape (2, E), got shape {tuple(edge_index.shape)} "
            f"and dtype {edge_index.dtype}"
        )
    n_edges = edge_index.shape[1]
    if n_edges and (int(xp.min(edge_index)) < 0 or int(xp.max(edge_index)) >= n_nodes):
        raise ValueError(
            f"edge_index entries must lie in [0, {n_nodes}) for {n_nodes} nodes, got range "
            f"[{int(xp.min(edge_index))}, {int(xp.max(edge_index))}]"
        )
    edge_vectors = as_float_array(edge_vectors, "edge_vectors", allow_complex=False, xp=xp)
    if tuple(edge_vectors.shape) != (n_edges, 3):
        raise ValueError(
            f"edge_vectors must have shape (E, 3) = ({n_edges}, 3), got shape {tuple(edge_vectors.shape)}"
        )
    radial_weights = as_float_array(radial_weights, "radial_weights", allow_complex=False, xp=xp)
    if radial_weights.ndim == 0 or radial_weights.shape[-1] not in (1, lmax_filter + 1):
        raise ValueError(
            f"radial_weights must broadcast to (E, ..., lmax_filter + 1) = ({n_edges}, ..., "
            f"{lmax_filter + 1}), got shape {tuple(radial_weights.shape)}"
        )
    if radial_weights.ndim < 2 or radial_weights.shape[0] not in (1, n_edges):
        raise ValueError(
            f"radial_weights must have a leading edge dimension of size {n_edges} (or 1), "
            f"got shape {tuple(radial_weights.shape)}"
        )
    dtype = node_features.dtype
    if n_edges == 0:
        return xp.zeros((*node_features.shape[:-1], (lmax_out + 1) ** 2), dtype=dtype)
    sh = xp.astype(real_sph_harm(lmax_filter, xp.astype(edge_vectors, dtype)), dtype, copy=False)
    rw = xp.astype(radial_weights, dtype, copy=False)
    if rw.shape[-1] != 1:
        rw = xp.take(rw, xp.asarray(degree_index(lmax_filter)), axis=-1)
    # Channel dimensions sit between the edge axis and the last axis; line them up (ones after
    # the edge axis) so that broadcasting never pairs an edge axis with a channel axis.
    n_mid = max(node_features.ndim, rw.ndim) - 2
    rw = xp.reshape(rw, (rw.shape[0], *([1] * (n_mid - rw.ndim + 2)), *rw.shape[1:]))
    filt = xp.reshape(sh, (n_edges, *([1] * n_mid), sh.shape[-1])) * rw
    sources = xp.take(node_features, edge_index[0], axis=0)
    sources = xp.reshape(
        sources, (n_edges, *([1] * (n_mid - node_features.ndim + 2)), *sources.shape[1:])
    )
    messages = gaunt_tensor_product(sources, filt, lmax_out=lmax_out, method=method)
    return _sum_at_targets(messages, edge_index[1], n_nodes, xp)


def many_body_product(x: Any, nu: int, *, lmax_out: int, weights: Any = None, method: str = "auto"):
    """Projection of the ``nu``-th power of a spherical function, by divide and conquer.

    .. math::

        B^{(\\nu)}_{lm} = w_l \\int_{S^2} F^{\\nu} \\, Y_{lm}, \\qquad F = \\sum x_{lm} Y_{lm},
        \\quad l \\le L_{out}

    (the symmetric many-body features of MACE, channel-wise). ``F^nu`` is split as
    ``F^{floor(nu/2)} F^{ceil(nu/2)}`` recursively, so only O(log nu) distinct products run; every
    intermediate keeps exactly the degrees the final projection needs
    (``min(k L, lmax_out + (nu - k) L)`` for the power ``k``), so the result is exact, not a
    truncated chain.

    Parameters
    ----------
    x : array of shape (..., (L+1)**2)
        Features (leading dimensions are batch and channels).
    nu : int
        Body order (number of factors), ``>= 1``.
    lmax_out : int
        Largest output degree.
    weights : array, optional
        Broadcastable to ``(..., lmax_out + 1)``: scale per output degree (and channel).
    method : str
        Passed to :func:`gaunt_tensor_product`.

    Returns
    -------
    array of shape (..., (lmax_out+1)**2)

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.gaunt import many_body_product
    >>> x = np.random.default_rng(0).standard_normal((3, 8, 9))  # 3 nodes, 8 channels, L = 2
    >>> many_body_product(x, 3, lmax_out=2).shape
    (3, 8, 9)
    """
    xp = get_namespace(x, weights)
    x = as_float_array(x, "x", allow_complex=False, xp=xp)
    lmax = lmax_from_size(x, "x")
    nu = check_int(nu, "nu", minimum=1)
    lmax_out = check_int(lmax_out, "lmax_out", minimum=0)
    check_allocation(
        (*x.shape[:-1], (lmax_out + 1) ** 2), x.dtype, f"many_body_product's output (lmax_out={lmax_out})",
        alternative="a smaller lmax_out (F^nu has no degree above nu * L)", device=device_of(xp),
    )
    if weights is not None:
        weights = as_float_array(weights, "weights", allow_complex=False, xp=xp)
        if weights.ndim == 0 or weights.shape[-1] not in (1, lmax_out + 1):
            raise ValueError(
                f"weights must broadcast to (..., lmax_out + 1) = (..., {lmax_out + 1}), "
                f"got shape {tuple(weights.shape)}"
            )
    memo: dict[tuple[int, int], Any] = {}

    def power(k: int, degree: int):
        degree = min(degree, k * lmax)
        if (k, degree) in memo:
            return memo[(k, degree)]
        if k == 1:
            result = x[..., : (degree + 1) ** 2]
        else:
            a = k // 2
            b = k - a
            left = power(a, min(a * lmax, degree + b * lmax))
            right = left if b == a else power(b, min(b * lmax, degree + a * lmax))
            result = gaunt_tensor_product(left, right, lmax_out=degree, method=method)
        memo[(k, degree)] = result
        return result

    out = power(nu, lmax_out)
    reached = lmax_from_size(out, "x")
    if reached < lmax_out:  # F^nu has no degree above nu * L: pad with exact zeros
        pad = xp.zeros((*out.shape[:-1], (lmax_out + 1) ** 2 - out.shape[-1]), dtype=out.dtype)
        out = xp.concat([out, pad], axis=-1)
    if weights is not None:
        w = weights
        if w.shape[-1] != 1:
            w = xp.take(w, xp.asarray(degree_index(lmax_out)), axis=-1)
        out = out * xp.astype(w, out.dtype, copy=False)
    return out


def _sum_at_targets(messages, target, n_nodes: int, xp):
    """``out[i] = sum of messages[e] over edges e with target[e] == i`` (a sparse incidence matmul)."""
    n_edges = messages.shape[0]
    flat = xp.reshape(messages, (n_edges, -1))
    nxp = native(xp)
    sparse = importlib.import_module(f"{scipy_for(xp).__name__}.sparse")
    ones = nxp.ones(n_edges, dtype=messages.dtype)
    # (data, (row, col)) input is taken by the COO constructor of both scipy and cupyx
    incidence = sparse.coo_matrix(
        (ones, (target, nxp.arange(n_edges))), shape=(n_nodes, n_edges)
    ).tocsr()
    out = xp.asarray(incidence @ flat)
    return xp.reshape(out, (n_nodes, *messages.shape[1:]))
