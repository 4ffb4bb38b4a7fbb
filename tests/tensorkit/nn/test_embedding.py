"""Embedding: forward and adjoint against a one-hot matmul, finite differences and torch; the
scatter-add kernels against ``np.add.at``; bad indices."""

import numpy as np
import pytest

from tensorkit.nn import Adam, Linear, Module, gradcheck
from tensorkit.nn._embedding import Embedding
from tensorkit.nn._scatter import scatter_add_rows


def one_hot(indices, n):
    return (indices.reshape(-1, 1) == np.arange(n)).astype(np.float64)


@pytest.mark.parametrize("index_shape", [(7,), (3, 4), (2, 2, 3), (0,)])
def test_forward_and_backward_match_one_hot_matmul(index_shape):
    rng = np.random.default_rng(0)
    emb = Embedding(6, 5, random_state=1)
    idx = rng.integers(0, 6, size=index_shape)
    E = one_hot(idx, 6)
    y = emb.forward(idx)
    assert y.shape == (*index_shape, 5)
    np.testing.assert_allclose(y.reshape(-1, 5), E @ emb.params["weight"], rtol=1e-15)
    g = rng.standard_normal(y.shape)
    emb.zero_grad()
    assert emb.backward(g) is None
    np.testing.assert_allclose(emb.grads["weight"], E.T @ g.reshape(-1, 5), rtol=1e-13, atol=1e-15)


def test_backward_accumulates():
    emb = Embedding(3, 2, random_state=0)
    idx = np.array([1, 1])
    emb.forward(idx)
    emb.backward(np.ones((2, 2)))
    emb.forward(idx)
    emb.backward(np.ones((2, 2)))
    np.testing.assert_array_equal(emb.grads["weight"], [[0, 0], [4, 4], [0, 0]])


class _ScaledLookup(Module):
    """``Linear(E[indices] * x)`` with a float input ``x``, so gradcheck drives the table's adjoint."""

    def __init__(self, indices):
        super().__init__()
        self.indices = indices
        self.emb = self.add_module("emb", Embedding(4, 3, random_state=2))
        self.lin = self.add_module("lin", Linear(3, 2, axis=-1, random_state=3))

    def forward(self, x):
        self._x, self._e = x, self.emb.forward(self.indices)
        return self.lin.forward(self._e * x)

    def backward(self, g):
        g = self.lin.backward(g)
        self.emb.backward(g * self._x)
        return (g * self._e).sum(axis=-1, keepdims=True)


def test_gradcheck_of_the_table_gradient():
    net = _ScaledLookup(np.array([[0, 3, 3], [2, 0, 1]]))
    x = np.random.default_rng(4).standard_normal((2, 3, 1))
    assert gradcheck(net, x, max_entries=None)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_torch_embedding(dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    emb = Embedding(9, 4, dtype=dtype, random_state=0)
    ref = torch.nn.Embedding(9, 4, dtype=torch.float32 if dtype == np.float32 else torch.float64)
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(emb.params["weight"].astype(np.float64)).to(ref.weight.dtype))
    idx = rng.integers(0, 9, size=(5, 6))
    g = rng.standard_normal((5, 6, 4))
    y = emb.forward(idx)
    assert y.dtype == dtype
    emb.zero_grad()
    emb.backward(g)
    out = ref(torch.from_numpy(idx))
    out.backward(torch.from_numpy(g).to(out.dtype))
    tol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y, out.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(emb.grads["weight"], ref.weight.grad.numpy(), rtol=tol, atol=tol)


def test_trains_with_adam():
    emb = Embedding(3, 2, random_state=0)
    target = np.array([[1.0, -1.0], [0.5, 0.5], [2.0, 0.0]])
    opt = Adam(emb, lr=0.1)
    idx = np.array([0, 1, 2, 2])
    for _ in range(300):
        emb.zero_grad()
        emb.backward(emb.forward(idx) - target[idx])
        opt.step()
    np.testing.assert_allclose(emb.params["weight"], target, atol=1e-3)


def _scatter_case(dtype):
    rng = np.random.default_rng(6)
    indices = rng.integers(0, 7, size=40)
    rows = rng.standard_normal((40, 3)).astype(dtype)
    return indices, rows


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scatter_numba_matches_reference(dtype):
    indices, rows = _scatter_case(dtype)
    ref = scatter_add_rows(np.zeros((7, 3), dtype), indices, rows, "numpy")
    got = scatter_add_rows(np.zeros((7, 3), dtype), indices, rows, "numba")
    np.testing.assert_allclose(got, ref, rtol=1e-6 if dtype == np.float32 else 1e-13)
    np.testing.assert_allclose(ref, one_hot(indices, 7).T @ rows.astype(np.float64), rtol=1e-5)


@pytest.mark.cuda_kernel
def test_scatter_cuda_matches_reference():
    from tensorkit.nn._scatter import cuda

    indices, rows = _scatter_case(np.float64)
    ref = scatter_add_rows(np.zeros((7, 3)), indices, rows, "numpy")
    got = cuda.scatter_add_rows(np.zeros((7, 3)), indices, rows)
    np.testing.assert_allclose(np.asarray(got), ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("indices", "error", "match"),
    [
        (np.array([0.0, 1.0]), TypeError, "must hold integers"),
        (np.array([True, False]), TypeError, "must hold integers"),
        ([0, 1], TypeError, "integer numpy or CuPy array"),
        (np.array([0, 5]), ValueError, r"\[0, 5\), got values in \[0, 5\]"),
        (np.array([-1, 2]), ValueError, r"got values in \[-1, 2\]"),
    ],
)
def test_bad_indices(indices, error, match):
    emb = Embedding(5, 2)
    with pytest.raises(error, match=match):
        emb.forward(indices)


def test_bad_construction_and_order_of_calls():
    with pytest.raises(ValueError, match="num_embeddings"):
        Embedding(0, 2)
    with pytest.raises(TypeError, match="embedding_dim"):
        Embedding(3, 2.5)
    emb = Embedding(3, 2)
    with pytest.raises(RuntimeError, match="before forward"):
        emb.backward(np.ones((1, 2)))
    emb.forward(np.array([0, 1]))
    with pytest.raises(ValueError, match="grad_out has shape"):
        emb.backward(np.ones((3, 2)))
