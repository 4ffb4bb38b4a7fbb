"""Neural tensor completion: an MLP over concatenated per-mode embeddings (DAIN's model)."""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from .._info import Info
from .._progress import progress_bar
from .._validation import check_int, check_real
from ..backend import array_module, check_random_state, to_numpy
from ..io import load_archive, save_archive
from ..nn import Adam, Embedding, Linear, Module, MSELoss, ReLU, Sequential
from ..observed import ObservedTensor
from ._metrics import rmse

__all__ = ["NeuralCompletion", "check_cells", "check_observed"]


class NeuralCompletion(Module):
    r"""Predict tensor cells from learned per-mode embeddings with a multilayer perceptron.

    For a cell :math:`(i_1, \dots, i_N)` the input is the concatenation of one learned row per mode,
    :math:`z = [E_1[i_1], \dots, E_N[i_N]]` (length :math:`N d`); hidden layers
    :math:`h_{l} = \mathrm{ReLU}(W_l h_{l-1} + b_l)` with :math:`h_0 = z`; the prediction is
    :math:`\hat x = \mu + \sigma (w^T h_L + b)`, with :math:`\mu, \sigma` the mean and standard
    deviation of the training values (so the network works on standardized values whatever the
    data's unit). Training minimizes the mean squared error over observed cells with Adam.

    Parameters
    ----------
    shape : tuple of int
        Size of each mode of the tensor being completed.
    embedding_dim : int, optional
        Length ``d`` of each mode's embedding; default ``150 // order`` (DAIN's choice).
    hidden : tuple of int
        Widths of the ReLU layers; DAIN's ``(1024, 1024, 128)`` by default.
    dtype : float32 or float64
    random_state : int, Generator or None
        Seeds the initialization (and the training shuffles unless :meth:`fit` gets its own).

    Attributes
    ----------
    info : Info
        After :meth:`fit`: ``history`` holds the validation RMSE per epoch (the training RMSE when no
        validation was given), ``extras`` the ``"train_rmse"`` and ``"val_rmse"`` histories and
        ``"best_epoch"`` (0-based), ``converged`` is True when early stopping ended training.

    Notes
    -----
    The model is a :class:`tensorkit.nn.Module` tree (children ``embedding0 ..``, ``body``,
    ``head``), so :meth:`save` / :meth:`load` and ``to("gpu")`` work as for any module; the
    standardization constants are buffers and travel with it. Calling the model (``model(indices)``)
    predicts in evaluation mode, which is what :func:`tensorkit.completion.rmse` expects.

    References
    ----------
    S. Oh, S. Kim, R. A. Rossi, S. Kumar, "Influence-guided data augmentation for neural tensor
    completion", CIKM 2021 (arXiv:2108.10248).

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.completion._neural import NeuralCompletion
    >>> model = NeuralCompletion((4, 5, 6), hidden=(16,), random_state=0)
    >>> model(np.array([[0, 1, 2], [3, 4, 5]])).shape
    (2,)
    >>> model.embedding_dim
    50
    """

    _FORMAT = "tensorkit.completion.NeuralCompletion"
    _VERSION = 1

    def __init__(
        self,
        shape: tuple[int, ...],
        *,
        embedding_dim: int | None = None,
        hidden: tuple[int, ...] = (1024, 1024, 128),
        dtype: Any = np.float32,
        random_state: Any = None,
    ):
        super().__init__(dtype=dtype, random_state=random_state)
        if not isinstance(shape, (tuple, list)) or not shape:
            raise TypeError(f"shape must be a non-empty tuple of ints, got {shape!r}")
        self.shape = tuple(check_int(n, f"shape[{k}]", minimum=1) for k, n in enumerate(shape))
        order = len(self.shape)
        if embedding_dim is None:
            embedding_dim = max(150 // order, 1)
        self.embedding_dim = check_int(embedding_dim, "embedding_dim", minimum=1)
        if not isinstance(hidden, (tuple, list)):
            raise TypeError(f"hidden must be a tuple of ints, got {hidden!r}")
        self.hidden = tuple(check_int(w, f"hidden[{k}]", minimum=1) for k, w in enumerate(hidden))
        rng = self.rng
        for k, n in enumerate(self.shape):
            self.add_module(f"embedding{k}", Embedding(n, self.embedding_dim, dtype=dtype, random_state=rng))
        widths = (order * self.embedding_dim, *self.hidden)
        layers: list[Module] = []
        for n_in, n_out in itertools.pairwise(widths):
            layers += [Linear(n_in, n_out, axis=-1, dtype=dtype, random_state=rng), ReLU(dtype=dtype)]
        self.body = self.add_module("body", Sequential(*layers)) if layers else None
        self.head = self.add_module("head", Linear(widths[-1], 1, axis=-1, dtype=dtype, random_state=rng))
        self.add_buffer("target_mean", np.zeros(1, dtype=self.dtype))
        self.add_buffer("target_scale", np.ones(1, dtype=self.dtype))
        self.info: Info | None = None
        self.best_epoch = -1

    @property
    def ndim(self) -> int:
        """Order of the completed tensor."""
        return len(self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}, embedding_dim={self.embedding_dim}, hidden={self.hidden}"

    # ----------------------------------------------------------------------------- computation
    def features(self, indices: Any) -> Any:
        """Input ``h_L`` of the output layer for the cells ``indices`` (n, order): shape (n, width).

        Caches what :meth:`backward` needs, like ``forward``.
        """
        indices = check_cells(indices, self.shape, "indices", array_module(self.head.params["weight"]))
        nxp = array_module(indices)
        z = nxp.concatenate(
            [self._modules[f"embedding{k}"].forward(indices[:, k]) for k in range(self.ndim)], axis=1
        )
        return z if self.body is None else self.body.forward(z)

    def forward(self, indices: Any) -> Any:
        """Predicted values ``mu + sigma (w^T h_L + b)`` of the cells ``indices`` (n, order): shape (n,)."""
        out = self.head.forward(self.features(indices))[:, 0]
        return out * self.buffers["target_scale"] + self.buffers["target_mean"]

    def backward(self, grad_out: Any) -> None:
        """Accumulate parameter gradients for d loss / d prediction ``grad_out`` (n,); returns None."""
        g = (grad_out * self.buffers["target_scale"])[:, None].astype(self.dtype, copy=False)
        g = self.head.backward(g)
        if self.body is not None:
            g = self.body.backward(g)
        d = self.embedding_dim
        for k in range(self.ndim):
            self._modules[f"embedding{k}"].backward(g[:, k * d:(k + 1) * d])
        return None

    def predict(self, indices: Any, *, batch_size: int = 65536) -> Any:
        """Predicted values at ``indices`` (n, order), in evaluation mode and by batches: shape (n,).

        Raises
        ------
        TypeError
            For non-integer indices.
        ValueError
            For a wrong number of columns (the order) or an index outside its mode's range.
        """
        batch_size = check_int(batch_size, "batch_size", minimum=1)
        nxp = array_module(self.head.params["weight"])
        indices = check_cells(indices, self.shape, "indices", nxp)
        was_training = self.training
        self.eval()
        try:
            out = [self.forward(indices[s:s + batch_size]) for s in range(0, indices.shape[0], batch_size)]
        finally:
            self.train(was_training)
        return nxp.concatenate(out) if out else nxp.zeros(0, dtype=self.dtype)

    def __call__(self, indices: Any) -> Any:
        return self.predict(indices)

    # ----------------------------------------------------------------------------- files
    def save_checkpoint(self, path: str | os.PathLike) -> None:
        """Write the architecture and weights to a versioned ``.npz`` atomically, for
        :meth:`from_checkpoint` (:meth:`save` writes the weights only, for :meth:`load` into a
        model of the same architecture)."""
        state = {f"state:{k}": v for k, v in self.state_dict().items()}
        save_archive(path, self._FORMAT, self._VERSION, shape=np.asarray(self.shape),
                     embedding_dim=np.asarray(self.embedding_dim),
                     hidden=np.asarray(self.hidden, dtype=np.int64),
                     dtype=np.asarray(np.dtype(self.dtype).name), **state)

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike) -> NeuralCompletion:
        """The model written by :meth:`save_checkpoint` (on the host), architecture included.

        Examples
        --------
        >>> import os, tempfile, numpy as np
        >>> from tensorkit.completion import NeuralCompletion
        >>> model = NeuralCompletion((3, 4), hidden=(5,), random_state=0)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     model.save_checkpoint(os.path.join(d, "m.npz"))
        ...     again = NeuralCompletion.from_checkpoint(os.path.join(d, "m.npz"))
        >>> cells = np.array([[1, 2]])
        >>> bool(np.array_equal(again(cells), model(cells)))
        True
        """
        data = load_archive(path, cls._FORMAT, cls._VERSION, nonfinite="raise")
        model = cls(tuple(int(n) for n in data["shape"]), embedding_dim=int(data["embedding_dim"]),
                    hidden=tuple(int(w) for w in data["hidden"]), dtype=np.dtype(str(data["dtype"])))
        state = {k.split(":", 1)[1]: v for k, v in data.items() if k.startswith("state:")}
        try:
            model.load_state_dict(state)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{str(path)!r} is not a NeuralCompletion checkpoint: {exc}") from None
        return model

    # ----------------------------------------------------------------------------- training
    def fit(
        self,
        obs: Any,
        *,
        validation: Any = None,
        epochs: int = 50,
        batch_size: int = 1024,
        lr: float = 1e-3,
        patience: int = 10,
        progress: bool = False,
        random_state: Any = None,
        callback: Callable[[NeuralCompletion, int], None] | None = None,
    ) -> NeuralCompletion:
        r"""Train on the observed cells of ``obs``; early stopping on ``validation`` keeps the best weights.

        Each epoch visits the training cells in a fresh random order by minibatches and takes one
        Adam step per batch on :math:`\frac{1}{B}\sum_b (\hat x_b - x_b)^2 / \sigma^2`. After each
        epoch the validation RMSE is measured; training stops after ``patience`` epochs without a
        new best, and the weights of the best epoch are restored (DAIN's protocol).

        Parameters
        ----------
        obs : ObservedTensor
            Training cells (``indices`` (nnz, order), ``values`` (nnz,), ``shape`` equal to the model's).
        validation : ObservedTensor, optional
            Held-out cells for early stopping; without it all ``epochs`` run and the last weights stay.
        epochs, batch_size, patience : int
        lr : float
            Adam's learning rate.
        progress : bool
            Show a progress bar over epochs.
        random_state : int, Generator or None
            Seeds the shuffles (the model's generator when None).
        callback : callable, optional
            ``callback(model, epoch)`` after each epoch's bookkeeping (``model.best_epoch`` is
            already updated), with the epoch's weights in place; DAIN's influence tracking uses it.

        Returns
        -------
        self
        """
        indices, values = check_observed(obs, self.shape, "obs")
        if indices.shape[0] == 0:
            raise ValueError("obs has no observed cells to train on")
        if validation is not None and check_observed(validation, self.shape, "validation")[0].shape[0] == 0:
                raise ValueError("validation has no observed cells")
        epochs = check_int(epochs, "epochs", minimum=1)
        batch_size = check_int(batch_size, "batch_size", minimum=1)
        patience = check_int(patience, "patience", minimum=1)
        lr = check_real(lr, "lr", minimum=0.0, strict_minimum=True)
        rng = self.rng if random_state is None else check_random_state(random_state)

        nxp = array_module(self.head.params["weight"])
        indices = nxp.asarray(indices)
        values = nxp.asarray(values)
        peak = float(nxp.abs(values).max())
        if peak > float(np.finfo(self.dtype).max):
            raise ValueError(f"obs has values up to {peak:.3g}, beyond the model's "
                             f"{np.dtype(self.dtype).name}: build it with dtype=float64")
        # mean and spread at a power-of-two scale: the squares of values near 1e200 (1e30 in
        # float32) overflow, and the loss is taken on standardized targets for the same reason
        shift = math.frexp(peak)[1] if peak > 0 else 0
        unit = values.astype(np.float64) * math.ldexp(1.0, -shift)
        mean, std = math.ldexp(float(unit.mean()), shift), math.ldexp(float(unit.std()), shift)
        self.buffers["target_mean"][...] = mean
        self.buffers["target_scale"][...] = std if std > 0 else 1.0
        mean, scale = self.buffers["target_mean"][0], self.buffers["target_scale"][0]
        values = (values.astype(self.dtype, copy=False) - mean) / scale
        optimizer, loss_fn = Adam(self, lr=lr), MSELoss()
        train_rmse: list[float] = []
        val_rmse: list[float] = []
        best, best_state, self.best_epoch, stale = math.inf, None, -1, 0
        n = indices.shape[0]
        self.train()
        with progress_bar(progress, total=epochs, desc="NeuralCompletion") as bar:
            for epoch in range(epochs):
                order = nxp.asarray(rng.permutation(n))
                total = 0.0
                for start in range(0, n, batch_size):
                    batch = order[start:start + batch_size]
                    pred = (self.forward(indices[batch]) - mean) / scale
                    total += loss_fn.forward(pred, values[batch]) * batch.shape[0]
                    self.zero_grad()
                    self.backward(loss_fn.backward() / scale)
                    optimizer.step()
                train_rmse.append(math.sqrt(total / n) * float(scale))
                score = train_rmse[-1]
                if validation is not None:
                    score = rmse(self, validation)
                    val_rmse.append(score)
                if score < best or validation is None:
                    best, self.best_epoch, stale = score, epoch, 0
                    if validation is not None:
                        best_state = self.state_dict()
                else:
                    stale += 1
                if callback is not None:
                    callback(self, epoch)
                bar.update(1)
                bar.set_postfix(rmse=f"{score:.4g}")
                if stale >= patience:
                    break
        if best_state is not None:
            self.load_state_dict(best_state)
        self.info = Info(
            method="neural",
            iterations=len(train_rmse),
            converged=stale >= patience,
            rel_error=best if validation is not None else None,
            history=list(val_rmse if validation is not None else train_rmse),
            extras={"train_rmse": train_rmse, "val_rmse": val_rmse, "best_epoch": self.best_epoch},
        )
        return self


def check_observed(obs: Any, shape: tuple[int, ...], name: str) -> tuple[Any, Any]:
    """Indices (int64, checked against ``shape``) and values of an observed-cells object."""
    if not isinstance(obs, ObservedTensor):
        raise TypeError(f"{name} must be an ObservedTensor, got {type(obs).__name__}")
    if tuple(obs.shape) != tuple(shape):
        raise ValueError(f"{name} has shape {tuple(obs.shape)}, the model was built for {tuple(shape)}")
    indices = check_cells(obs.indices, shape, f"{name}.indices", array_module(obs.indices))
    values = obs.values
    if values.dtype.kind != "f" or values.shape != (indices.shape[0],):
        raise ValueError(
            f"{name}.values must be a float array of shape ({indices.shape[0]},), got "
            f"{values.dtype} {tuple(values.shape)}"
        )
    return indices, values


def check_cells(indices: Any, shape: tuple[int, ...], name: str, nxp: Any) -> Any:
    """``indices`` as an int64 (n, order) array of ``nxp`` with ``0 <= indices[:, k] < shape[k]``.

    Raises TypeError for a non-array or non-integer input, ValueError for a wrong column count or an
    index out of its mode's range (the mode and the offending range are named).
    """
    if not hasattr(indices, "dtype") or not hasattr(indices, "shape"):
        raise TypeError(
            f"{name} must be an integer array of shape (n, {len(shape)}), got {type(indices).__name__}"
        )
    if indices.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integers, got dtype {indices.dtype}")
    if indices.ndim != 2 or indices.shape[1] != len(shape):
        raise ValueError(
            f"{name} must have shape (n, {len(shape)}) for a tensor of order {len(shape)}, "
            f"got {tuple(indices.shape)}"
        )
    indices = nxp.asarray(indices).astype(nxp.int64, copy=False)
    if indices.shape[0]:
        low, high = to_numpy(indices.min(axis=0)), to_numpy(indices.max(axis=0))
        for k, n in enumerate(shape):
            if low[k] < 0 or high[k] >= n:
                raise ValueError(
                    f"{name}[:, {k}] must lie in [0, {n}) (mode {k} of shape {tuple(shape)}), "
                    f"got values in [{low[k]}, {high[k]}]"
                )
    return indices

