"""Operator learning on Darcy data: :func:`physics.fit_operator` with the FNO paper's
normalization, on fields shaped ``(n, R, R)``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from tensorkit.nn import Module, Normalizer, NormalizingProcessor

from .._learning import OperatorFit, fit_operator

__all__ = ["DarcyFit", "fit_darcy"]


@dataclass
class DarcyFit(OperatorFit):
    """A trained Darcy operator: an :class:`~physics.OperatorFit` on ``(n, R, R)`` fields.

    ``history["val_metric"]`` is the test relative L2 error of the de-normalized solution; the
    normalizers of the data are :attr:`a_normalizer` and :attr:`u_normalizer`.
    """

    @property
    def a_normalizer(self) -> Normalizer:
        """Fitted on the training coefficients."""
        return self.processor.x_normalizer

    @property
    def u_normalizer(self) -> Normalizer:
        """Fitted on the training solutions."""
        return self.processor.y_normalizer

    def predict(self, a: Any, *, batch_size: int = 50) -> np.ndarray:
        """Solutions ``u`` (n, R, R) predicted for coefficients ``a`` (n, R, R) at any resolution."""
        return super().predict(_with_channel(a, "a"), batch_size=batch_size)[:, 0]

    def test_error(self, a: Any, u: Any) -> float:
        """Relative L2 error of :meth:`predict` against ``u`` (mean over samples)."""
        return super().test_error(_with_channel(a, "a"), _with_channel(u, "u"))


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
    progress: bool = True,
    random_state: Any = None,
) -> DarcyFit:
    """Train ``model`` to map ``a`` to ``u`` with the recipe of the FNO paper.

    :func:`physics.fit_operator` with a :class:`~tensorkit.nn.NormalizingProcessor` fitted on
    the training set (Gaussian per channel): the loss is the relative L2 error
    (:class:`tensorkit.nn.LpLoss`, summed over the batch) on normalized data; Adam with L2 weight
    decay, learning rate multiplied by ``gamma`` every ``step_size`` epochs.

    Parameters
    ----------
    model : Module
        Maps ``(batch, 1, R, R)`` to ``(batch, 1, R, R)``, e.g. :class:`operators.FNO`.
    a_train, u_train : arrays (n, R, R)
    epochs : int
    validation : (a_test, u_test), optional
        Scored after every epoch on the de-normalized prediction: ``history["val_metric"]`` is
        its relative L2 error, ``history["val_loss"]`` the loss.
    batch_size, lr, weight_decay, step_size, gamma
        The optimization recipe.
    checkpoint : path, optional
        Trainer checkpoint (atomic ``.npz``, the normalizers included), see
        :class:`tensorkit.nn.Trainer`.
    progress : bool
    random_state : int, Generator or None
        Seeds the minibatch shuffling.

    Returns
    -------
    DarcyFit
    """
    x = _with_channel(a_train, "a_train").astype(model.dtype)
    y = _with_channel(u_train, "u_train").astype(model.dtype)
    processor = NormalizingProcessor(Normalizer(dtype=model.dtype), Normalizer(dtype=model.dtype))
    processor.fit(x, y)
    if validation is not None:
        validation = (_with_channel(validation[0], "validation a"),
                      _with_channel(validation[1], "validation u"))
    fit = fit_operator(model, x, y, epochs=0, processor=processor, batch_size=batch_size, lr=lr,
                       weight_decay=weight_decay, step_size=step_size, gamma=gamma,
                       validation=validation, checkpoint=checkpoint, progress=progress,
                       random_state=random_state)
    fit = DarcyFit(fit.model, fit.trainer, metric=fit.metric, _data=fit._data)
    fit.train(epochs)
    return fit


def _with_channel(a: Any, name: str) -> Any:
    if not hasattr(a, "ndim"):
        a = np.asarray(a)
    if a.ndim != 3:
        raise ValueError(f"{name} must have shape (n, R, R), got {tuple(a.shape)}")
    return a[:, None]
