"""DAIN: influence-guided data augmentation for neural tensor completion (Oh et al., CIKM 2021)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validation import check_int, check_real
from ..backend import array_module, check_random_state, to_numpy
from ..observed import ObservedTensor
from ._neural import NeuralCompletion, check_observed

__all__ = ["DAIN", "DAINAugmentation", "dain_augment"]

# Tuples drawn per missing one in each sampling round: duplicates and observed cells are rejected.
_OVERSAMPLE = 1.3
_MAX_ROUNDS = 50


@dataclass
class DAINAugmentation:
    """Result of :func:`dain_augment`.

    Attributes
    ----------
    augmented : ObservedTensor
        The new cells (none of them a training or validation cell) labelled by ``model``.
    cell_importance : numpy.ndarray (n_train,)
        Influence of each training cell on the validation loss, in ``[0, 1]`` (the largest is 1).
    entity_importance : list of numpy.ndarray
        Per mode, a probability distribution over its indices.
    model : NeuralCompletion
        The trained model that scored the cells and labelled the new ones.
    extras : dict
        ``"requested"`` and ``"drawn"`` tuple counts, ``"best_epoch"``.
    """

    augmented: Any
    cell_importance: np.ndarray
    entity_importance: list[np.ndarray]
    model: NeuralCompletion
    extras: dict[str, Any] = field(default_factory=dict)


def dain_augment(
    obs: Any,
    validation: Any,
    *,
    ratio: float = 0.5,
    model: NeuralCompletion | None = None,
    epochs: int = 50,
    batch_size: int = 1024,
    lr: float = 1e-3,
    patience: int = 10,
    progress: bool = False,
    random_state: Any = None,
) -> DAINAugmentation:
    r"""Train a neural completion model, score the training cells by influence, and draw new cells.

    1. Train ``model`` on ``obs`` with early stopping on ``validation``
       (:meth:`NeuralCompletion.fit`).
    2. TracIn on the output layer's weight: after each epoch :math:`e` the gradient of a cell's
       squared error is :math:`g_e(c) = h_e(c)\,(\hat x_e(c) - x(c))` (up to a constant factor), with
       :math:`h_e(c)` the output layer's input. The importance of training cell :math:`c` is
       :math:`I(c) = |\sum_{e \le e^*} \langle g_e(c), \sum_{v \in V} g_e(v) \rangle| / \max_c(\cdot)`
       summed over the epochs up to the best one :math:`e^*`.
    3. Entity importance: for mode :math:`k` and index :math:`i`,
       :math:`p_k(i) \propto \sum_{c : c_k = i} I(c)`.
    4. Draw :math:`\lfloor \text{ratio} \cdot n_{train} \rfloor` tuples, each index of mode :math:`k`
       independently from :math:`p_k`; tuples that are training or validation cells, and repeats,
       are rejected and redrawn (so the new cells are distinct and add information); label them with
       the model's predictions.

    Parameters
    ----------
    obs, validation : ObservedTensor
        Training and validation cells (the same shape).
    ratio : float
        New tuples per training cell (DAIN's 0.5).
    model : NeuralCompletion, optional
        An untrained model to use (its architecture); DAIN's default architecture otherwise.
    epochs, batch_size, lr, patience, progress
        Training settings, see :meth:`NeuralCompletion.fit`.
    random_state : int, Generator or None
        Seeds the default model, the training shuffles and the draws.

    Returns
    -------
    DAINAugmentation

    Notes
    -----
    Only a running sum of the per-epoch scores is kept (one float per training cell), snapshotted
    when an epoch sets a new best validation error, so memory does not grow with the epochs.
    Entities without training cells get probability 0. When the distributions cannot supply enough
    distinct unobserved tuples within a few dozen rounds, fewer are returned (``extras["drawn"]``).

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.completion._dain import dain_augment
    >>> from tensorkit.completion._neural import NeuralCompletion
    >>> from tensorkit.observed import ObservedTensor as Cells
    >>> rng = np.random.default_rng(0)
    >>> idx = np.argwhere(np.ones((6, 5, 4), dtype=bool))[rng.permutation(120)[:60]]
    >>> val = np.sin(idx.sum(axis=1)).astype(float)
    >>> train, valid = Cells(idx[:40], val[:40], (6, 5, 4)), Cells(idx[40:], val[40:], (6, 5, 4))
    >>> aug = dain_augment(train, valid, model=NeuralCompletion((6, 5, 4), hidden=(8,), random_state=0),
    ...                    epochs=3, batch_size=16, random_state=0)
    >>> aug.augmented.indices.shape, float(aug.cell_importance.max())
    ((20, 3), 1.0)
    >>> [round(float(p.sum()), 6) for p in aug.entity_importance]
    [1.0, 1.0, 1.0]
    """
    ratio = check_real(ratio, "ratio", minimum=0.0, strict_minimum=True)
    rng = check_random_state(random_state)
    if validation is None:
        raise ValueError("dain_augment needs validation cells: the influence is measured on them")
    if model is None:
        if not isinstance(obs, ObservedTensor):
            raise TypeError(f"obs must be an ObservedTensor, got {type(obs).__name__}")
        model = NeuralCompletion(tuple(obs.shape), random_state=rng)
    elif not isinstance(model, NeuralCompletion):
        raise TypeError(f"model must be a NeuralCompletion, got {type(model).__name__}")
    train_idx, train_val = check_observed(obs, model.shape, "obs")
    val_idx, val_val = check_observed(validation, model.shape, "validation")
    batch_size = check_int(batch_size, "batch_size", minimum=1)

    tracker = _InfluenceTracker(train_idx, train_val, val_idx, val_val, batch_size)
    model.fit(
        obs, validation=validation, epochs=epochs, batch_size=batch_size, lr=lr, patience=patience,
        progress=progress, random_state=rng, callback=tracker,
    )
    cell = np.abs(tracker.at_best)
    top = cell.max() if cell.size else 0.0
    # all-zero influence (a perfect fit on both sets) carries no preference: every cell counts alike
    cell = cell / top if top > 0 else np.ones_like(cell)
    host_idx = to_numpy(train_idx)
    entity = []
    for k, n in enumerate(model.shape):
        weight = np.bincount(host_idx[:, k], weights=cell, minlength=n)
        entity.append(weight / weight.sum())

    requested = int(ratio * host_idx.shape[0])
    observed = np.concatenate([host_idx, to_numpy(val_idx)])
    new_idx = _draw_cells(entity, requested, observed, rng)
    labels = to_numpy(model.predict(new_idx))
    augmented = ObservedTensor(new_idx, labels, tuple(model.shape))
    return DAINAugmentation(
        augmented=augmented,
        cell_importance=cell,
        entity_importance=entity,
        model=model,
        extras={"requested": requested, "drawn": int(new_idx.shape[0]), "best_epoch": model.best_epoch},
    )


class DAIN:
    """The DAIN pipeline: :func:`dain_augment`, then a fresh model trained on the training cells plus
    the augmented ones, with early stopping on the same validation cells.

    Parameters
    ----------
    shape : tuple of int
    embedding_dim, hidden, dtype
        Architecture of both models, see :class:`NeuralCompletion`.
    ratio : float
        New tuples per training cell (0.5).
    random_state : int, Generator or None

    Attributes
    ----------
    model : NeuralCompletion
        The final model (after :meth:`fit`), used by :meth:`predict`.
    base_model : NeuralCompletion
        The model trained on the original cells only.
    cell_importance, entity_importance, augmented
        See :class:`DAINAugmentation`.

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.completion._dain import DAIN
    >>> from tensorkit.observed import ObservedTensor as Cells
    >>> idx = np.argwhere(np.ones((6, 5, 4), dtype=bool))[np.random.default_rng(0).permutation(120)[:60]]
    >>> val = np.cos(idx.sum(axis=1)).astype(float)
    >>> train, valid = Cells(idx[:40], val[:40], (6, 5, 4)), Cells(idx[40:], val[40:], (6, 5, 4))
    >>> dain = DAIN((6, 5, 4), hidden=(8,), random_state=0).fit(train, valid, epochs=2, batch_size=16)
    >>> dain.augmented.indices.shape, dain(idx[:3]).shape
    ((20, 3), (3,))
    """

    def __init__(
        self,
        shape: tuple[int, ...],
        *,
        embedding_dim: int | None = None,
        hidden: tuple[int, ...] = (1024, 1024, 128),
        ratio: float = 0.5,
        dtype: Any = np.float32,
        random_state: Any = None,
    ):
        self.rng = check_random_state(random_state)
        self._architecture = {"embedding_dim": embedding_dim, "hidden": hidden, "dtype": dtype}
        # built here so that a bad shape or architecture fails at construction
        self.base_model = NeuralCompletion(shape, random_state=self.rng, **self._architecture)
        self.shape = self.base_model.shape
        self.ratio = check_real(ratio, "ratio", minimum=0.0, strict_minimum=True)
        self.model: NeuralCompletion | None = None

    def fit(
        self,
        obs: Any,
        validation: Any,
        *,
        epochs: int = 50,
        batch_size: int = 1024,
        lr: float = 1e-3,
        patience: int = 10,
        progress: bool = False,
    ) -> DAIN:
        """Run :func:`dain_augment` on ``obs`` and train the final model on the union; returns self."""
        settings = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "patience": patience,
                    "progress": progress}
        if self.model is not None:  # refitting starts from a fresh first model
            self.base_model = NeuralCompletion(self.shape, random_state=self.rng, **self._architecture)
        result = dain_augment(obs, validation, ratio=self.ratio, model=self.base_model,
                              random_state=self.rng, **settings)
        self.cell_importance = result.cell_importance
        self.entity_importance = result.entity_importance
        self.augmented = result.augmented
        self.extras = result.extras
        nxp = array_module(obs.indices)
        union = ObservedTensor(
            nxp.concatenate([obs.indices, nxp.asarray(self.augmented.indices)]),
            nxp.concatenate([obs.values, nxp.asarray(self.augmented.values).astype(obs.values.dtype)]),
            self.shape,
        )
        self.model = NeuralCompletion(self.shape, random_state=self.rng, **self._architecture)
        self.model.fit(union, validation=validation, random_state=self.rng, **settings)
        return self

    def predict(self, indices: Any, *, batch_size: int = 65536) -> Any:
        """Values of the final model at ``indices`` (n, order); see :meth:`NeuralCompletion.predict`."""
        if self.model is None:
            raise RuntimeError("DAIN.predict called before fit")
        return self.model.predict(indices, batch_size=batch_size)

    def __call__(self, indices: Any) -> Any:
        return self.predict(indices)


class _InfluenceTracker:
    """Per-epoch TracIn scores ``r_c <h_c, sum_v r_v h_v>`` of the training cells, summed over epochs.

    ``r = (x_hat - x) / sigma`` is the standardized residual; ``at_best`` is the running sum as it
    stood after the best epoch so far.
    """

    def __init__(self, train_idx, train_val, val_idx, val_val, batch_size):
        self.train = (train_idx, train_val)
        self.val = (val_idx, val_val)
        self.batch_size = batch_size
        self.running = np.zeros(train_idx.shape[0])
        self.at_best = self.running.copy()

    def __call__(self, model: NeuralCompletion, epoch: int) -> None:
        g_val = sum(
            (h * r[:, None]).sum(axis=0) for h, r in self._features(model, *self.val)
        )
        scores = [r * (h @ g_val) for h, r in self._features(model, *self.train)]
        self.running += np.concatenate(scores)
        if model.best_epoch == epoch:
            self.at_best = self.running.copy()

    def _features(self, model, indices, values):
        """(h, r) in float64 on the host, batch by batch, in evaluation mode."""
        was_training = model.training
        model.eval()
        scale = float(to_numpy(model.buffers["target_scale"])[0])
        mean = float(to_numpy(model.buffers["target_mean"])[0])
        try:
            for s in range(0, indices.shape[0], self.batch_size):
                batch = indices[s:s + self.batch_size]
                h = model.features(batch)
                # the standardized residual (x_hat - x) / sigma = w^T h + b - (x - mu) / sigma
                z = to_numpy(model.head.forward(h)[:, 0]).astype(np.float64)
                r = z - (to_numpy(values[s:s + self.batch_size]) - mean) / scale
                yield to_numpy(h).astype(np.float64), r
        finally:
            model.train(was_training)


def _draw_cells(entity: list[np.ndarray], count: int, observed: np.ndarray, rng) -> np.ndarray:
    """Up to ``count`` distinct tuples drawn mode by mode from ``entity``, none of them in ``observed``."""
    order = len(entity)
    taken = _row_keys(observed)
    chosen = np.zeros((0, order), dtype=np.int64)
    for _ in range(_MAX_ROUNDS):
        missing = count - chosen.shape[0]
        if missing <= 0:
            break
        size = int(np.ceil(missing * _OVERSAMPLE)) + 8
        draw = np.stack([rng.choice(p.size, size=size, p=p) for p in entity], axis=1).astype(np.int64)
        draw = draw[~np.isin(_row_keys(draw), taken)]
        candidates = np.concatenate([chosen, draw])
        _, first = np.unique(_row_keys(candidates), return_index=True)
        chosen = candidates[np.sort(first)]
    return chosen[:count]


def _row_keys(indices: np.ndarray) -> np.ndarray:
    """One opaque key per row (the row's bytes), for set operations on index tuples of any range."""
    indices = np.ascontiguousarray(indices, dtype=np.int64)
    return indices.view(np.dtype((np.void, 8 * indices.shape[1]))).ravel()
