"""Operator learning on Darcy data: normalization, training with the FNO recipe, evaluation."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tensorkit.nn import Adam, LpLoss, Module, Normalizer, StepLR, Trainer

__all__ = ["DarcyFit", "fit_darcy", "relative_l2"]


def relative_l2(pred: Any, target: Any) -> float:
    """Mean over samples of ``||pred - target||_2 / ||target||_2`` (norms over all other axes)."""
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if pred.shape != target.shape:
        raise ValueError(f"pred and target shapes differ: {pred.shape} vs {target.shape}")
    n = pred.shape[0]
    diff = np.linalg.norm((pred - target).reshape(n, -1), axis=1)
    return float(np.mean(diff / np.linalg.norm(target.reshape(n, -1), axis=1)))


@dataclass
class DarcyFit:
    """A trained operator with the normalizers of its data and the training history.

    Attributes
    ----------
    model : Module
    a_normalizer, u_normalizer : Normalizer
        Fitted on the training coefficients and solutions.
    history : dict of lists
        As :meth:`tensorkit.nn.Trainer.fit`; ``val_metric`` is the test relative L2 error of the
        de-normalized solution.
    trainer : Trainer
        Holds the optimizer, scheduler and shuffling state; :meth:`train` continues from them.
    """

    model: Module
    a_normalizer: Normalizer
    u_normalizer: Normalizer
    history: dict[str, list[float]] = field(default_factory=dict)
    trainer: Trainer | None = None
    _data: tuple = field(default=(), repr=False)

    def train(self, epochs: int) -> dict[str, list[float]]:
        """Continue training until ``epochs`` epochs are done in total (the numbers are those of
        one uninterrupted run); returns the history."""
        x, y, val, metric = self._data
        self.history = self.trainer.fit(x, y, epochs, validation=val, metric=metric)
        return self.history

    def predict(self, a: Any, *, batch_size: int = 50) -> np.ndarray:
        """Solutions ``u`` (n, R, R) predicted for coefficients ``a`` (n, R, R) at any resolution."""
        a = _with_channel(a, "a")
        self.model.eval()
        out = []
        for start in range(0, a.shape[0], batch_size):
            x = self.a_normalizer.encode(a[start:start + batch_size])
            out.append(self.u_normalizer.decode(self.model.forward(x)))
        return np.concatenate(out)[:, 0]

    def test_error(self, a: Any, u: Any) -> float:
        """Relative L2 error of :meth:`predict` against ``u``."""
        return relative_l2(self.predict(a), u)


def fit_darcy(
    model: Module,
    a_train: Any,
    u_train: Any,
    *,
    epochs: int,
    validation: tuple[Any, Any] | None = None,
    batch_size: int = 20,
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    step_size: int = 100,
    gamma: float = 0.5,
    checkpoint: str | os.PathLike | None = None,
    progress: bool = False,
    random_state: Any = None,
) -> DarcyFit:
    """Train ``model`` to map ``a`` to ``u`` with the recipe of the FNO paper.

    Inputs and outputs are normalized per channel (Gaussian, fitted on the training set); the loss
    is the relative L2 error (:class:`tensorkit.nn.LpLoss`, summed over the batch) on normalized
    data; Adam with L2 weight decay, learning rate multiplied by ``gamma`` every ``step_size``
    epochs.

    Parameters
    ----------
    model : Module
        Maps ``(batch, 1, R, R)`` to ``(batch, 1, R, R)``, e.g. :class:`operators.FNO`.
    a_train, u_train : arrays (n, R, R)
    epochs : int
    validation : (a_test, u_test), optional
        Scored after every epoch: ``history["val_metric"]`` is the relative L2 error of the
        de-normalized prediction.
    batch_size, lr, weight_decay, step_size, gamma
        The optimization recipe.
    checkpoint : path, optional
        Trainer checkpoint (atomic ``.npz``), see :class:`tensorkit.nn.Trainer`.
    progress : bool
    random_state : int, Generator or None
        Seeds the minibatch shuffling.

    Returns
    -------
    DarcyFit
    """
    x = _with_channel(a_train, "a_train").astype(model.dtype)
    y = _with_channel(u_train, "u_train").astype(model.dtype)
    a_norm = Normalizer(dtype=model.dtype).fit(x)
    u_norm = Normalizer(dtype=model.dtype).fit(y)
    optimizer = Adam(model, lr=lr, weight_decay=weight_decay)
    trainer = Trainer(
        model,
        LpLoss(d=2, reduction="sum"),
        optimizer,
        batch_size=batch_size,
        scheduler=StepLR(optimizer, step_size=step_size, gamma=gamma),
        checkpoint=checkpoint,
        progress=progress,
        random_state=random_state,
    )
    val = None
    metric = None
    if validation is not None:
        a_test = _with_channel(validation[0], "validation a").astype(model.dtype)
        u_test = _with_channel(validation[1], "validation u").astype(model.dtype)
        val = (a_norm.encode(a_test), u_norm.encode(u_test))

        def metric(pred, target):
            return relative_l2(u_norm.decode(pred), u_norm.decode(target))

    fit = DarcyFit(model, a_norm, u_norm, trainer=trainer,
                   _data=(a_norm.encode(x), u_norm.encode(y), val, metric))
    fit.train(epochs)
    return fit


def _with_channel(a: Any, name: str) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 3:
        raise ValueError(f"{name} must have shape (n, R, R), got {a.shape}")
    return a[:, None]
