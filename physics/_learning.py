"""Operator learning on any data: one call that builds the FNO-paper recipe around a model and
trains it with :class:`tensorkit.nn.Trainer` (processor, checkpoints, exact resume included)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tensorkit.extend import Info, check_int, check_real
from tensorkit.nn import Adam, Loss, LpLoss, Module, Optimizer, Scheduler, StepLR, Trainer

__all__ = ["OperatorFit", "fit_operator"]


@dataclass
class OperatorFit:
    """A trained operator with its trainer, processor and history.

    Attributes
    ----------
    model : Module
    trainer : Trainer
        Holds the optimizer, scheduler, processor and shuffling state; :meth:`train` continues
        from them.
    history : dict of lists
        As :meth:`tensorkit.nn.Trainer.fit`.
    metric : callable
        ``metric(pred, y)`` scored on validation data after every epoch and by :meth:`test_error`.
    """

    model: Module
    trainer: Trainer
    history: dict[str, list[float]] = field(default_factory=dict)
    metric: Callable[[Any, Any], float] | None = None
    _data: tuple = field(default=(), repr=False)

    @property
    def processor(self) -> Any:
        """The trainer's per-batch processor."""
        return self.trainer.processor

    @property
    def info(self) -> Info:
        """The run as an :class:`~tensorkit.extend.Info` (see :attr:`tensorkit.nn.Trainer.info`)."""
        return self.trainer.info

    def train(self, epochs: int) -> dict[str, list[float]]:
        """Continue training until ``epochs`` epochs are done in total (the numbers are those of
        one uninterrupted run); returns the history."""
        x, y, validation = self._data
        self.history = self.trainer.fit(x, y, epochs, validation=validation, metric=self.metric)
        return self.history

    def predict(self, x: Any, *, batch_size: int | None = None) -> Any:
        """Model outputs for inputs ``x``, through the processor in evaluation mode."""
        return self.trainer.predict(x, batch_size=batch_size)

    def test_error(self, x: Any, y: Any) -> float:
        """:attr:`metric` of the prediction for ``x`` against ``y``."""
        metric = self.metric or _relative_l2(y)
        return float(metric(self.trainer.predict(x), y))


def fit_operator(
    model: Module,
    x: Any,
    y: Any = None,
    *,
    epochs: int,
    processor: Any = None,
    loss: Loss | None = None,
    optimizer: Optimizer | Callable[[Module], Optimizer] | None = None,
    batch_size: int = 20,
    lr: float | None = None,
    weight_decay: float | None = None,
    scheduler: str | Scheduler | Callable[[Optimizer], Scheduler] | None = "step",
    step_size: int = 100,
    gamma: float = 0.5,
    validation: Any = None,
    metric: Callable[[Any, Any], float] | None = None,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    random_state: Any = None,
    progress: bool = True,
    n_threads: int | None = None,
) -> OperatorFit:
    r"""Train ``model`` to map ``x`` to ``y`` with the recipe of the FNO paper, on any data.

    The defaults are those of Li et al. (ICLR 2021) and neuraloperator: the relative L2 loss
    summed over the batch (:class:`tensorkit.nn.LpLoss` over the spatial axes), Adam with L2
    weight decay (``lr = 1e-3``, ``weight_decay = 1e-4``), the learning rate multiplied by
    ``gamma`` every ``step_size`` epochs; validation is scored by the mean over samples of
    :math:`\|\hat y - y\|_2 / \|y\|_2`. A ``processor`` (for instance
    :class:`tensorkit.nn.NormalizingProcessor`) adapts each batch around the model.

    Parameters
    ----------
    model : Module
        Maps ``(batch, in_channels, *spatial)`` to ``(batch, out_channels, *spatial)``, e.g.
        :class:`operators.FNO`.
    x, y : arrays, or a batch source and None
        Training data, as :meth:`tensorkit.nn.Trainer.fit` takes it.
    epochs : int
        Epochs to train now (0: build only; :meth:`OperatorFit.train` continues).
    processor : Processor, optional
        Per-batch processing (see :class:`tensorkit.nn.Trainer`).
    loss : Loss, optional
        Default ``LpLoss(d=y.ndim - 2, reduction="sum")`` (``d=2`` for a batch source).
    optimizer : Optimizer or callable(model) -> Optimizer, optional
        Default ``Adam(model, lr=lr, weight_decay=weight_decay)``.
    batch_size : int
    lr, weight_decay : float, optional
        For the default optimizer only (1e-3 and 1e-4).
    scheduler : "step", Scheduler, callable(optimizer) -> Scheduler or None
        ``"step"``: ``StepLR(optimizer, step_size, gamma)``; None keeps the rate constant.
    step_size, gamma
        Of the ``"step"`` schedule.
    validation : (x_test, y_test) or batch source, optional
        Scored after every epoch: ``history["val_loss"]`` and ``history["val_metric"]``, both on
        the postprocessed prediction (in the data's units with a normalizing processor).
    metric : callable(pred, y) -> float, optional
        Default: relative L2 per sample, averaged (``LpLoss`` over all non-batch axes; over the
        last three for a batch source).
    checkpoint : path, optional
        Trainer checkpoint (atomic ``.npz``); ``resume=True`` continues from it exactly.
    random_state : int, Generator or None
        Seeds the minibatch shuffling.
    progress : bool
        A progress bar over epochs (on by default, as in every trainer).
    n_threads : int, optional
        See :class:`tensorkit.nn.Trainer`.

    Returns
    -------
    OperatorFit
        With ``info`` (method ``"trainer"``, epochs run, the validation-loss history).

    Examples
    --------
    >>> import numpy as np
    >>> from physics import fit_operator
    >>> from tensorkit.nn import Conv2d
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((32, 1, 8, 8)); y = 2.0 * x + 1.0
    >>> model = Conv2d(1, 1, 1, random_state=0)
    >>> fit = fit_operator(model, x, y, epochs=200, lr=0.05, weight_decay=0.0, batch_size=8,
    ...                    validation=(x[:8], y[:8]), random_state=0, progress=False)
    >>> fit.info.iterations, bool(fit.history["val_metric"][-1] < 1e-2)
    (200, True)
    """
    if not isinstance(model, Module):
        raise TypeError(f"model must be a tensorkit.nn.Module, got {type(model).__name__}")
    check_int(epochs, "epochs", minimum=0)
    arrays = hasattr(y, "ndim")
    if loss is None:
        loss = LpLoss(d=max(1, y.ndim - 2) if arrays else 2, reduction="sum")
    elif not isinstance(loss, Loss):
        raise TypeError(f"loss must be a tensorkit.nn Loss, got {type(loss).__name__}")
    optimizer = _optimizer(model, optimizer, lr, weight_decay)
    if scheduler == "step":
        scheduler = StepLR(optimizer, step_size=check_int(step_size, "step_size", minimum=1),
                           gamma=check_real(gamma, "gamma", minimum=0.0, strict_minimum=True))
    elif callable(scheduler) and not isinstance(scheduler, Scheduler):
        scheduler = scheduler(optimizer)
    if metric is None and validation is not None:
        metric = _relative_l2(y if arrays else None)
    trainer = Trainer(model, loss, optimizer, batch_size=batch_size, scheduler=scheduler,
                      processor=processor, checkpoint=checkpoint, progress=progress,
                      random_state=random_state, n_threads=n_threads)
    fit = OperatorFit(model, trainer, metric=metric, _data=(x, y, validation))
    fit.history = trainer.fit(x, y, epochs, validation=validation, metric=metric, resume=resume)
    return fit


def _optimizer(model, optimizer, lr, weight_decay) -> Optimizer:
    if optimizer is None:
        lr = 1e-3 if lr is None else check_real(lr, "lr", minimum=0.0, strict_minimum=True)
        weight_decay = 1e-4 if weight_decay is None else check_real(weight_decay, "weight_decay", minimum=0.0)
        return Adam(model, lr=lr, weight_decay=weight_decay)
    if lr is not None or weight_decay is not None:
        raise ValueError("lr and weight_decay set the default optimizer; give them to your optimizer instead")
    if callable(optimizer) and not isinstance(optimizer, Optimizer):
        optimizer = optimizer(model)
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a tensorkit.nn Optimizer, got {type(optimizer).__name__}")
    return optimizer


def _relative_l2(y) -> Loss:
    """Relative L2 per sample over every non-batch axis, averaged over the batch."""
    return LpLoss(d=max(1, y.ndim - 1) if y is not None else 3, reduction="mean")
