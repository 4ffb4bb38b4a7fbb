"""Minibatch training loop with evaluation, progress, history, atomic checkpoints and exact resume."""

from __future__ import annotations

import contextlib
import json
import math
import numbers
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .._progress import progress_bar
from ..backend import check_random_state, thread_limits
from ..io import atomic_path, load_archive, save_archive
from ._losses import Loss
from ._module import Module, array_module
from ._optim import Optimizer, Scheduler

__all__ = ["HISTORY_KEYS", "Trainer", "plot_history"]

HISTORY_KEYS = ("train_loss", "val_loss", "val_metric", "lr", "epoch_time")
_FORMAT = "tensorkit.nn.TrainerCheckpoint"
_VERSION = 1


class Trainer:
    """Train a :class:`Module` on arrays by shuffled minibatches.

    Parameters
    ----------
    model : Module
    loss_fn : Loss
    optimizer : Optimizer
        Built on ``model``.
    batch_size : int
    scheduler : Scheduler, optional
        Stepped once per epoch.
    checkpoint : path, optional
        ``.npz`` written atomically every ``checkpoint_every`` epochs and at the end: parameters,
        optimizer and scheduler state, the shuffling generator's state, the epoch and the history.
        ``fit(..., resume=True)`` continues from it with exactly the numbers an uninterrupted run
        with the same seed would give.
    checkpoint_every : int
    progress : bool
        A tqdm bar over epochs (showing the losses).
    random_state : int, numpy.random.Generator or None
        Seeds the shuffling.
    n_threads : int, optional
        Limit BLAS and Numba threads during :meth:`fit` (the default leaves them alone). On a
        machine shared with other jobs one thread per process avoids BLAS threads spinning against
        each other, which can cost several times the step time.

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.nn import Linear, MSELoss, Adam, Trainer
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((64, 3)); y = x @ rng.standard_normal((3, 2))
    >>> model = Linear(3, 2, axis=-1, random_state=0)
    >>> trainer = Trainer(model, MSELoss(), Adam(model, lr=0.05), batch_size=16, progress=False,
    ...                   random_state=0)
    >>> history = trainer.fit(x, y, epochs=60)
    >>> history["train_loss"][-1] < 1e-3 * history["train_loss"][0]
    True
    """

    def __init__(
        self,
        model: Module,
        loss_fn: Loss,
        optimizer: Optimizer,
        *,
        batch_size: int,
        scheduler: Scheduler | None = None,
        checkpoint: str | os.PathLike | None = None,
        checkpoint_every: int = 1,
        progress: bool = True,
        random_state: Any = None,
        n_threads: int | None = None,
    ):
        if not isinstance(model, Module):
            raise TypeError(f"model must be a tensorkit.nn.Module, got {type(model).__name__}")
        if not isinstance(loss_fn, Loss):
            raise TypeError(f"loss_fn must be a tensorkit.nn loss, got {type(loss_fn).__name__}")
        if not isinstance(optimizer, Optimizer) or optimizer.model is not model:
            raise ValueError("optimizer must be a tensorkit.nn Optimizer built on this model")
        if scheduler is not None and (
            not isinstance(scheduler, Scheduler) or scheduler.optimizer is not optimizer
        ):
            raise ValueError("scheduler must be a tensorkit.nn Scheduler built on this optimizer")
        self.batch_size = _positive_int(batch_size, "batch_size")
        self.checkpoint_every = _positive_int(checkpoint_every, "checkpoint_every")
        self.n_threads = None if n_threads is None else _positive_int(n_threads, "n_threads")
        self.model, self.loss_fn, self.optimizer, self.scheduler = model, loss_fn, optimizer, scheduler
        self.checkpoint = None if checkpoint is None else Path(checkpoint)
        self.progress = bool(progress)
        self.rng = check_random_state(random_state)
        self.epoch = 0
        self.history: dict[str, list[float]] = {k: [] for k in HISTORY_KEYS}

    # ----------------------------------------------------------------------------- training
    def fit(
        self,
        x: Any,
        y: Any,
        epochs: int,
        *,
        validation: tuple[Any, Any] | None = None,
        metric: Callable[[Any, Any], float] | None = None,
        resume: bool = False,
    ) -> dict[str, list[float]]:
        """Train until ``epochs`` epochs are done in total; returns the history.

        Parameters
        ----------
        x, y : arrays with the same first (sample) dimension
            Cast once to the model dtype.
        epochs : int
            Total epoch count (a resumed run continues up to it).
        validation : (x_test, y_test), optional
            Evaluated after every epoch in eval mode: ``val_loss`` is the mean of the loss over
            minibatches, ``val_metric`` is ``metric(pred, y_test)`` on all test predictions.
        metric : callable, optional
        resume : bool
            Continue from ``checkpoint`` when that file exists (else start afresh).

        Returns
        -------
        dict of lists, keys ``train_loss`` (mean of the minibatch losses), ``val_loss``,
        ``val_metric`` (NaN when not computed), ``lr``, ``epoch_time`` (seconds).

        Raises
        ------
        FloatingPointError
            When a loss is NaN or infinite: names the epoch and step; the checkpoint on disk
            stays the last good one.
        ValueError
            Mismatched shapes, or a checkpoint of another architecture or optimizer.
        """
        epochs = _nonneg_int(epochs, "epochs")
        x, y = self._check_data(x, y, "x", "y")
        if validation is not None:
            if not isinstance(validation, (tuple, list)) or len(validation) != 2:
                raise ValueError("validation must be a pair (x_test, y_test)")
            validation = self._check_data(*validation, "validation x", "validation y")
        if metric is not None and not callable(metric):
            raise TypeError(f"metric must be callable, got {type(metric).__name__}")
        if resume:
            if self.checkpoint is None:
                raise ValueError("resume=True needs a checkpoint path")
            if self.checkpoint.exists():
                self.load_checkpoint(self.checkpoint)
        xp = array_module(x)
        n = int(x.shape[0])
        steps_per_epoch = math.ceil(n / self.batch_size)
        limits = contextlib.nullcontext() if self.n_threads is None else thread_limits(self.n_threads)
        with limits, progress_bar(self.progress, total=epochs, desc="train", initial=self.epoch) as bar:
            while self.epoch < epochs:
                start = time.perf_counter()
                lr = self.optimizer.lr
                self.model.train()
                order = self.rng.permutation(n)
                total = 0.0
                for step in range(steps_per_epoch):
                    idx = order[step * self.batch_size:(step + 1) * self.batch_size]
                    idx = idx if xp is np else xp.asarray(idx)
                    value = self._train_step(x[idx], y[idx], step)
                    total += value
                train_loss = total / steps_per_epoch
                val_loss, val_metric = (math.nan, math.nan)
                if validation is not None:
                    val_loss, val_metric = self.evaluate(*validation, metric=metric)
                if self.scheduler is not None:
                    self.scheduler.step()
                self.epoch += 1
                for key, value in zip(
                    HISTORY_KEYS,
                    (train_loss, val_loss, val_metric, lr, time.perf_counter() - start),
                    strict=True,
                ):
                    self.history[key].append(float(value))
                if self.checkpoint is not None and (
                    self.epoch % self.checkpoint_every == 0 or self.epoch == epochs
                ):
                    self.save_checkpoint(self.checkpoint)
                bar.update(1)
                bar.set_postfix(train=f"{train_loss:.4g}", val=f"{val_loss:.4g}")
        return self.history

    def _train_step(self, xb, yb, step: int) -> float:
        pred = self.model.forward(xb)
        value = self.loss_fn.forward(pred, yb)
        if not math.isfinite(value):
            kept = (
                f"; the checkpoint {str(self.checkpoint)!r} from epoch {self._saved_epoch()} is kept"
                if self.checkpoint is not None and self.checkpoint.exists()
                else ""
            )
            raise FloatingPointError(
                f"training loss is {value} at epoch {self.epoch + 1}, step {step + 1} "
                f"(lower the learning rate or check the data){kept}"
            )
        self.model.zero_grad()
        self.model.backward(self.loss_fn.backward())
        self.optimizer.step()
        return value

    def evaluate(self, x, y, *, metric: Callable[[Any, Any], float] | None = None) -> tuple[float, float]:
        """Mean minibatch loss and ``metric(pred, y)`` (NaN without a metric), in eval mode."""
        x, y = self._check_data(x, y, "x", "y")
        xp = array_module(x)
        self.model.eval()
        preds, total, count = [], 0.0, 0
        for start in range(0, int(x.shape[0]), self.batch_size):
            pred = self.model.forward(x[start:start + self.batch_size])
            total += self.loss_fn.forward(pred, y[start:start + self.batch_size])
            count += 1
            if metric is not None:
                preds.append(pred)
        self.model.train()
        value = total / count
        if not math.isfinite(value):
            raise FloatingPointError(f"validation loss is {value} after epoch {self.epoch + 1}")
        score = float(metric(xp.concatenate(preds), y)) if metric is not None else math.nan
        return value, score

    def _check_data(self, x, y, xname, yname):
        for name, value in ((xname, x), (yname, y)):
            if not hasattr(value, "shape") or not hasattr(value, "dtype"):
                raise TypeError(f"{name} must be a numpy or CuPy array, got {type(value).__name__}")
            if value.ndim < 1 or value.shape[0] == 0:
                raise ValueError(f"{name} must hold at least one sample, got shape {tuple(value.shape)}")
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"{xname} has {x.shape[0]} samples but {yname} has {y.shape[0]}")
        return self.model._as_input(x, xname), self.model._as_input(y, yname)

    # ----------------------------------------------------------------------------- checkpoints
    def save_checkpoint(self, path: str | os.PathLike) -> None:
        """Write model, optimizer, scheduler, generator state, epoch and history atomically."""
        arrays = {f"param/{k}": v for k, v in self.model.state_dict().items()}
        arrays.update({f"optim/{k}": v for k, v in self.optimizer.state_dict().items()})
        if self.scheduler is not None:
            arrays.update({f"sched/{k}": v for k, v in self.scheduler.state_dict().items()})
        arrays.update({f"history/{k}": np.asarray(v, dtype=np.float64) for k, v in self.history.items()})
        save_archive(
            path,
            _FORMAT,
            _VERSION,
            model_class=np.asarray(type(self.model).__name__),
            optimizer_class=np.asarray(type(self.optimizer).__name__),
            epoch=np.asarray(self.epoch),
            rng_state=np.asarray(json.dumps(self.rng.bit_generator.state)),
            **arrays,
        )

    def load_checkpoint(self, path: str | os.PathLike) -> None:
        """Restore a checkpoint of :meth:`save_checkpoint` (all checks pass before anything changes)."""
        data = load_archive(path, _FORMAT, _VERSION)
        for key, obj in (("model_class", self.model), ("optimizer_class", self.optimizer)):
            found = str(data.get(key, ""))
            if found != type(obj).__name__:
                raise ValueError(
                    f"{str(path)!r} was written for a {found}, this trainer has a {type(obj).__name__}"
                )
        groups: dict[str, dict[str, Any]] = {"param": {}, "optim": {}, "sched": {}, "history": {}}
        for key, value in data.items():
            head, _, tail = key.partition("/")
            if head in groups and tail:
                groups[head][tail] = value
        # Validate everything first so a mismatch leaves the model untouched
        params = {**self.model.parameters(), **self.model.named_buffers()}
        bad = sorted(set(params) ^ set(groups["param"]))
        bad += [k for k in params if k in groups["param"] and groups["param"][k].shape != params[k].shape]
        if bad:
            raise ValueError(
                f"{str(path)!r} is a checkpoint of another architecture (mismatched parameters "
                f"{bad[:6]}{'...' if len(bad) > 6 else ''})"
            )
        if (self.scheduler is None) != (not groups["sched"]):
            raise ValueError(f"{str(path)!r} and this trainer disagree on having a scheduler")
        self.optimizer.load_state_dict(groups["optim"])
        self.model.load_state_dict(groups["param"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(groups["sched"])
        self.rng.bit_generator.state = json.loads(str(data["rng_state"]))
        self.epoch = int(data["epoch"])
        self.history = {k: [float(v) for v in groups["history"].get(k, [])] for k in HISTORY_KEYS}

    def _saved_epoch(self) -> int | str:
        try:
            return int(load_archive(self.checkpoint, _FORMAT, _VERSION)["epoch"])
        except ValueError:
            return "?"

    def plot(self, path: str | os.PathLike) -> None:
        """Save the loss curves of :attr:`history` (see :func:`plot_history`)."""
        plot_history(self.history, path)


def plot_history(history: dict[str, list[float]], path: str | os.PathLike) -> None:
    """Plot training and validation loss (log scale) and the validation metric; saved atomically.

    Needs matplotlib (``pip install 'tensorkit[plot]'``). The format follows the file suffix.
    """
    try:
        # A bare Figure (no pyplot) leaves the user's backend and open figures alone
        from matplotlib.figure import Figure
    except ImportError:
        raise ValueError("plotting needs matplotlib: pip install 'tensorkit[plot]'") from None
    if not history.get("train_loss"):
        raise ValueError("history holds no epochs to plot")
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    has_metric = any(math.isfinite(v) for v in history.get("val_metric", []))
    fig = Figure(figsize=(10 if has_metric else 5, 3.6))
    axes = fig.subplots(1, 2 if has_metric else 1)
    axes = np.atleast_1d(axes)
    axes[0].semilogy(epochs, history["train_loss"], label="train loss")
    if any(math.isfinite(v) for v in history.get("val_loss", [])):
        axes[0].semilogy(epochs, history["val_loss"], label="validation loss")
    axes[0].set_xlabel("epoch")
    axes[0].legend()
    if has_metric:
        axes[1].semilogy(epochs, history["val_metric"], color="C2")
        axes[1].set_xlabel("epoch")
        axes[1].set_title("validation metric")
    fig.tight_layout()
    suffix = Path(path).suffix.lstrip(".") or "png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=suffix)


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _nonneg_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    return int(value)
