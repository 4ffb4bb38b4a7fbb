"""The lookup layer :class:`Embedding`: rows of a trained table, with a scatter-add adjoint."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_int
from ..backend import array_module, resolve_backend
from ._module import Module
from ._scatter import scatter_add_rows

__all__ = ["Embedding"]


class Embedding(Module):
    r"""Table lookup ``y[..., :] = W[i[...], :]`` (PyTorch's ``torch.nn.Embedding``).

    Parameters
    ----------
    num_embeddings : int
        Number of rows of the table ``W`` (valid indices are ``0 .. num_embeddings - 1``).
    embedding_dim : int
        Length ``d`` of each row.
    dtype, random_state
        See :class:`Module`. Rows are initialized ``N(0, 1)`` as in PyTorch.

    Notes
    -----
    The forward map is linear in ``W``: with the one-hot matrix :math:`E_{m,n} = [i_m = n]` of the
    ``m`` flattened indices, ``Y = E W``, so the adjoint is :math:`\partial L / \partial W = E^T G`,
    i.e. ``dW[n] = sum_{m : i_m = n} G[m]``: a scatter-add (Numba on the CPU, ``numba.cuda`` atomics
    on the GPU) that never forms ``E``. The integer input has no gradient: :meth:`backward`
    returns None.

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.nn._embedding import Embedding
    >>> emb = Embedding(5, 3, random_state=0)
    >>> y = emb.forward(np.array([[0, 4], [4, 1]]))
    >>> y.shape
    (2, 2, 3)
    >>> emb.zero_grad()
    >>> emb.backward(np.ones((2, 2, 3))) is None
    True
    >>> emb.grads["weight"][:, 0]  # row 4 was looked up twice
    array([1., 1., 0., 0., 2.])
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        *,
        dtype: Any = np.float64,
        random_state: Any = None,
    ):
        super().__init__(dtype=dtype, random_state=random_state)
        self.num_embeddings = check_int(num_embeddings, "num_embeddings", minimum=1)
        self.embedding_dim = check_int(embedding_dim, "embedding_dim", minimum=1)
        self.add_parameter("weight", self.rng.standard_normal((self.num_embeddings, self.embedding_dim)))
        self._indices = None

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"

    def forward(self, indices):
        """Rows ``W[indices]``, shape ``indices.shape + (embedding_dim,)``.

        Raises
        ------
        TypeError
            When ``indices`` is not an integer array (floats and booleans are refused).
        ValueError
            When an index is outside ``[0, num_embeddings)``.
        """
        indices = _check_indices(indices, self.num_embeddings, "indices")
        self._indices = indices
        return self.params["weight"][indices]

    def backward(self, grad_out):
        """Accumulate ``dW[n] += sum of grad_out rows looked up at n``; returns None (integer input)."""
        if self._indices is None:
            raise RuntimeError("Embedding.backward called before forward")
        expected = (*self._indices.shape, self.embedding_dim)
        if tuple(grad_out.shape) != expected:
            raise ValueError(f"Embedding: grad_out has shape {tuple(grad_out.shape)}, expected {expected}")
        weight_grad = self.grads["weight"]
        nxp = array_module(weight_grad)
        rows = nxp.ascontiguousarray(grad_out.reshape(-1, self.embedding_dim).astype(self.dtype, copy=False))
        scatter_add_rows(weight_grad, self._indices.reshape(-1), rows, resolve_backend(None, weight_grad))
        return None


def _check_indices(indices: Any, size: int, name: str) -> Any:
    """``indices`` as an int64 array with every entry in ``[0, size)``; TypeError / ValueError otherwise."""
    if not hasattr(indices, "dtype") or not hasattr(indices, "shape"):
        raise TypeError(f"{name} must be an integer numpy or CuPy array, got {type(indices).__name__}")
    if indices.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integers, got dtype {indices.dtype}")
    if indices.size:
        low, high = int(indices.min()), int(indices.max())
        if low < 0 or high >= size:
            raise ValueError(f"{name} must lie in [0, {size}), got values in [{low}, {high}]")
    return indices.astype(array_module(indices).int64, copy=False)
