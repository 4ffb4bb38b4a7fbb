"""Minibatch training loop with per-batch processing, evaluation, progress, history, atomic
checkpoints and exact resume."""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .._info import Info
from .._progress import progress_bar
from .._validation import check_all_finite, check_int
from ..backend import array_module, check_random_state, thread_limits
from ..io import load_archive, new_figure, save_archive, save_figure
from ._checkpoint import check_checkpoint
from ._losses import Loss
from ._module import Module
from ._optim import ExponentialMovingAverage, Optimizer, Scheduler
from ._processor import array_batches, check_processor, check_source, processor_state, set_mode

__all__ = ["HISTORY_KEYS", "Trainer", "plot_history"]

HISTORY_KEYS = ("train_loss", "val_loss", "val_metric", "lr", "epoch_time")
_FORMAT = "tensorkit.nn.TrainerCheckpoint"
_VERSION = 1


class Trainer:
    """Train a :class:`Module` by minibatches, from in-memory arrays or from a batch source.

    Each step runs ``processor.preprocess`` on the batch, the model, ``processor.postprocess``
    and the loss; the loss gradient goes back through ``processor.postprocess_adjoint`` and the
    model's adjoint, then the optimizer steps (see :class:`tensorkit.nn.Processor`).

    Parameters
    ----------
    model : Module
    loss_fn : Loss
    optimizer : Optimizer
        Built on ``model``.
    batch_size : int
        Minibatch size for array data (a batch source makes its own batches).
    scheduler : Scheduler, optional
        Stepped once per epoch.
    processor : Processor, optional
        Per-batch processing around the model (patching, augmentation, normalization); any object
        with ``preprocess``, ``postprocess`` and ``postprocess_adjoint``. Default: the identity.
        Its ``state_dict`` (when it has one) is saved with checkpoints.
    checkpoint : path, optional
        ``.npz`` written atomically every ``checkpoint_every`` epochs and at the end: parameters,
        optimizer, scheduler and processor state, the shuffling generator's state, the epoch and
        the history. ``fit(..., resume=True)`` continues from it with exactly the numbers an
        uninterrupted run with the same seed would give.
    checkpoint_every : int
    progress : bool
        A tqdm bar over epochs (showing the losses); on by default.
    random_state : int, numpy.random.Generator or None
        Seeds the shuffling (and is handed to a batch source).
    n_threads : int, optional
        Limit BLAS and Numba threads during :meth:`fit` (the default leaves them alone). On a
        machine shared with other jobs one thread per process avoids BLAS threads spinning against
        each other, which can cost several times the step time.
    ema : float, optional
        Keep an exponential moving average of the weights with this decay per step
        (``tensorkit.nn._optim.ExponentialMovingAverage``: ``theta_bar <- beta theta_bar +
        (1 - beta) theta`` after every optimizer step) and evaluate, predict and score validation
        with it; training itself is unchanged, and ``trainer.model`` keeps the trained weights
        (``trainer.ema.applied()`` swaps the average in). Checkpointed with the rest.

    Attributes
    ----------
    history : dict of lists
        See :meth:`fit`.
    info : Info
        The run as the library's one result record (see :attr:`info`).

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
    >>> trainer.info.method, trainer.info.iterations
    ('trainer', 60)

    Data that does not sit in memory comes from a batch source, here a callable drawing its
    batches with the trainer's generator (so that a resumed run sees the same batches):

    >>> def batches(epoch, rng):
    ...     for _ in range(4):
    ...         xb = rng.standard_normal((16, 3))
    ...         yield xb, xb @ np.ones((3, 2))
    >>> len(trainer.fit(batches, epochs=62)["train_loss"])
    62
    """

    def __init__(
        self,
        model: Module,
        loss_fn: Loss,
        optimizer: Optimizer,
        *,
        batch_size: int,
        scheduler: Scheduler | None = None,
        processor: Any = None,
        checkpoint: str | os.PathLike | None = None,
        checkpoint_every: int = 1,
        progress: bool = True,
        random_state: Any = None,
        n_threads: int | None = None,
        ema: float | None = None,
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
        self.batch_size = check_int(batch_size, "batch_size", minimum=1)
        self.checkpoint_every = check_int(checkpoint_every, "checkpoint_every", minimum=1)
        self.n_threads = None if n_threads is None else check_int(n_threads, "n_threads", minimum=1)
        self.model, self.loss_fn, self.optimizer, self.scheduler = model, loss_fn, optimizer, scheduler
        self.processor = check_processor(processor)
        self.checkpoint = None if checkpoint is None else Path(checkpoint)
        self.progress = bool(progress)
        self.rng = check_random_state(random_state)
        self.ema = None if ema is None else ExponentialMovingAverage(model, ema)
        self.epoch = 0
        self.history: dict[str, list[float]] = {k: [] for k in HISTORY_KEYS}

    # ----------------------------------------------------------------------------- training
    def fit(
        self,
        x: Any,
        y: Any = None,
        epochs: int | None = None,
        *,
        validation: Any = None,
        metric: Callable[[Any, Any], float] | None = None,
        resume: bool = False,
    ) -> dict[str, list[float]]:
        """Train until ``epochs`` epochs are done in total; returns the history.

        Parameters
        ----------
        x, y : arrays with the same first (sample) dimension
            Cast once to the model dtype and shuffled into minibatches every epoch.
            Alternatively ``x`` is a batch source and ``y`` is None: a callable
            ``batches(epoch, rng)`` returning an iterable of ``(x, y)`` batches (``epoch`` counts
            from 0; ``rng`` is the trainer's generator, checkpointed for exact resume), or an
            iterable of ``(x, y)`` pairs iterated afresh every epoch (a list, a loader).
        epochs : int
            Total epoch count (a resumed run continues up to it).
        validation : (x_test, y_test) or batch source, optional
            Evaluated after every epoch in eval mode (see :meth:`evaluate`).
        metric : callable, optional
            ``metric(pred, y)`` on all postprocessed validation predictions and targets.
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
            Mismatched shapes, a source yielding no batch, or a checkpoint of another
            architecture, optimizer or processor.
        """
        if epochs is None:
            raise TypeError("fit() needs epochs")
        epochs = check_int(epochs, "epochs", minimum=0)
        source, cast = self._source(x, y)
        if validation is not None:
            validation = self._validation(validation)
        if metric is not None and not callable(metric):
            raise TypeError(f"metric must be callable, got {type(metric).__name__}")
        if resume:
            if self.checkpoint is None:
                raise ValueError("resume=True needs a checkpoint path")
            if self.checkpoint.exists():
                self.load_checkpoint(self.checkpoint)
        limits = contextlib.nullcontext() if self.n_threads is None else thread_limits(self.n_threads)
        with limits, progress_bar(self.progress, total=epochs, desc="train", initial=self.epoch) as bar:
            while self.epoch < epochs:
                start = time.perf_counter()
                lr = self.optimizer.lr
                self._set_mode(True)
                total, steps = 0.0, 0
                for batch in source(self.epoch, self.rng):
                    xb, yb = self._cast(*_pair(batch)) if cast else batch
                    total += self._train_step(xb, yb, steps)
                    steps += 1
                if steps == 0:
                    raise ValueError(
                        f"the data source yielded no batch in epoch {self.epoch + 1} (a one-shot "
                        "iterator feeds a single epoch: pass a list or a callable batches(epoch, rng))"
                    )
                train_loss = total / steps
                val_loss, val_metric = (math.nan, math.nan)
                if validation is not None:
                    val_loss, val_metric = self._evaluate(validation(), metric)
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

    @property
    def info(self) -> Info:
        """The run so far as an :class:`~tensorkit.extend.Info`.

        ``iterations`` is the epoch count, ``history`` the validation loss per epoch (the training
        loss when no validation ran), ``rel_error`` its last value, ``extras["history"]`` a copy
        of the full :attr:`history` and ``extras["monitored"]`` which loss ``history`` holds.
        """
        monitored = "val_loss" if any(math.isfinite(v) for v in self.history["val_loss"]) else "train_loss"
        values = list(self.history[monitored])
        return Info(
            method="trainer",
            iterations=self.epoch,
            converged=True,
            rel_error=values[-1] if values else None,
            history=values,
            extras={"history": {k: list(v) for k, v in self.history.items()}, "monitored": monitored},
        )

    def compute_gradients(self, x: Any, y: Any) -> float:
        """Loss of one batch through processor and model, with the parameter gradients left in
        ``model.gradients()`` (no optimizer step): the trainer's step without the update."""
        x, y = self._check_data(x, y, "x", "y")
        value = self._forward(x, y)
        self._backward()
        return value

    def _forward(self, xb, yb) -> float:
        xb, yb = self.processor.preprocess(xb, yb)
        pred = self.model.forward(xb)
        pred, yb = self.processor.postprocess(pred, yb)
        return self.loss_fn.forward(pred, yb)

    def _backward(self) -> None:
        self.model.zero_grad()
        self.model.backward(self.processor.postprocess_adjoint(self.loss_fn.backward()))

    def _train_step(self, xb, yb, step: int) -> float:
        value = self._forward(xb, yb)
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
        self._backward()
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update()
        return value

    def evaluate(
        self, x: Any, y: Any = None, *, metric: Callable[[Any, Any], float] | None = None
    ) -> tuple[float, float]:
        """Mean minibatch loss and ``metric(pred, y)`` (NaN without a metric), in eval mode.

        ``x, y`` are arrays (cut into ``batch_size`` slices) or ``x`` is a batch source as in
        :meth:`fit` (a callable gets ``rng=None``); predictions and targets are those after
        ``processor.postprocess``.
        """
        return self._evaluate(self._validation(x if y is None else (x, y))(), metric)

    def _evaluate(self, batches, metric) -> tuple[float, float]:
        self._set_mode(False)
        preds, targets, total, count = [], [], 0.0, 0
        try:
            with self._averaged():
                for xb, yb in batches:
                    xb, yb = self.processor.preprocess(xb, yb)
                    pred, yb = self.processor.postprocess(self.model.forward(xb), yb)
                    total += self.loss_fn.forward(pred, yb)
                    count += 1
                    if metric is not None:
                        preds.append(pred)
                        targets.append(yb)
        finally:
            self._set_mode(True)
        if count == 0:
            raise ValueError("the validation data yielded no batch")
        value = total / count
        if not math.isfinite(value):
            raise FloatingPointError(f"validation loss is {value} after epoch {self.epoch + 1}")
        if metric is None:
            return value, math.nan
        xp = array_module(preds[0])
        return value, float(metric(xp.concatenate(preds), xp.concatenate(targets)))

    def predict(self, x: Any, *, batch_size: int | None = None) -> Any:
        """Model outputs for inputs ``x`` in eval mode, through ``preprocess(x, None)`` and
        ``postprocess(pred, None)``, by slices of ``batch_size`` (default the trainer's)."""
        batch_size = self.batch_size if batch_size is None else check_int(batch_size, "batch_size", minimum=1)
        x = self.model._as_input(x, "x")
        if x.shape[0] == 0:
            raise ValueError(f"x must hold at least one sample, got shape {tuple(x.shape)}")
        check_all_finite(x, "x")  # a NaN prediction would not be traced back to x
        self._set_mode(False)
        try:
            with self._averaged():
                out = []
                for start in range(0, int(x.shape[0]), batch_size):
                    xb, _ = self.processor.preprocess(x[start:start + batch_size], None)
                    out.append(self.processor.postprocess(self.model.forward(xb), None)[0])
        finally:
            self._set_mode(True)
        return array_module(x).concatenate(out)

    def _set_mode(self, training: bool) -> None:
        self.model.train(training)
        set_mode(self.processor, training)

    def _averaged(self):
        """The weights to evaluate at: the moving average when there is one."""
        return contextlib.nullcontext() if self.ema is None else self.ema.applied()

    def _source(self, x, y):
        """``(batches(epoch, rng), cast_each_batch)`` for arrays or a batch source."""
        if hasattr(x, "shape"):
            if y is None:
                raise TypeError("y is required when x is an array")
            x, y = self._check_data(x, y, "x", "y")
            return array_batches(x, y, self.batch_size), False
        if y is not None:
            if not callable(x):
                raise TypeError(f"x must be a numpy or CuPy array (with y), or a batch source (a callable, "
                                f"with y=None), got {type(x).__name__}")
            raise TypeError(f"y must be None when x is a batch source, got {type(y).__name__}")
        return check_source(x, "x"), True

    def _validation(self, validation):
        """Validation data as a function returning a fresh iterable of cast ``(x, y)`` batches."""
        if isinstance(validation, (tuple, list)) and all(hasattr(v, "shape") for v in validation):
            if len(validation) != 2:
                raise ValueError(f"validation must be a pair (x, y) of arrays, got {len(validation)} arrays")
            x, y = self._check_data(*validation, "validation x", "validation y")
            step = self.batch_size
            return lambda: ((x[s:s + step], y[s:s + step]) for s in range(0, int(x.shape[0]), step))
        source = check_source(validation, "validation")
        return lambda: (self._cast(*_pair(batch)) for batch in source(self.epoch, None))

    def _cast(self, x, y):
        x, y = self.model._as_input(x, "x"), self.model._as_input(y, "y")
        check_all_finite(x, "x")  # as _check_data: NaN would surface as a NaN loss blamed on the rate
        check_all_finite(y, "y")
        return x, y

    def _check_data(self, x, y, xname, yname):
        for name, value in ((xname, x), (yname, y)):
            if not hasattr(value, "shape") or not hasattr(value, "dtype"):
                raise TypeError(f"{name} must be a numpy or CuPy array, got {type(value).__name__}")
            if value.ndim < 1 or value.shape[0] == 0:
                raise ValueError(f"{name} must hold at least one sample, got shape {tuple(value.shape)}")
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"{xname} has {x.shape[0]} samples but {yname} has {y.shape[0]}")
        x, y = self.model._as_input(x, xname), self.model._as_input(y, yname)
        # NaN or Inf in the data would surface as a NaN loss, blamed on the learning rate
        check_all_finite(x, xname)
        check_all_finite(y, yname)
        return x, y

    # ----------------------------------------------------------------------------- checkpoints
    def save_checkpoint(self, path: str | os.PathLike) -> None:
        """Write model, optimizer, scheduler and processor state, generator state, epoch and
        history atomically."""
        arrays = {f"param/{k}": v for k, v in self.model.state_dict().items()}
        arrays.update({f"optim/{k}": v for k, v in self.optimizer.state_dict().items()})
        if self.scheduler is not None:
            arrays.update({f"sched/{k}": v for k, v in self.scheduler.state_dict().items()})
        arrays.update({f"proc/{k}": v for k, v in processor_state(self.processor).items()})
        if self.ema is not None:
            arrays.update({f"ema/{k}": v for k, v in self.ema.state_dict().items()})
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
        """Restore a checkpoint of :meth:`save_checkpoint`.

        All checks pass before anything changes: a checkpoint of another architecture, optimizer
        or processor, or one with a missing or corrupted entry (NaN parameters, a bad generator
        state, no epoch) raises ``ValueError`` naming the file and the key, and leaves model,
        optimizer, scheduler, processor, generator, epoch and history exactly as they were.
        """
        data = load_archive(path, _FORMAT, _VERSION, nonfinite="allow")
        checked = check_checkpoint(
            data, str(path), model=self.model, optimizer=self.optimizer, scheduler=self.scheduler,
            processor=self.processor, rng=self.rng, history_keys=HISTORY_KEYS,
        )
        ema = {k[4:]: v for k, v in data.items() if k.startswith("ema/")}
        if (self.ema is None) != (not ema):
            raise ValueError(f"{str(path)!r} and this trainer disagree on keeping a weight average (ema)")
        if self.ema is not None:
            try:
                self.ema._check_state(ema)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{str(path)!r}: {exc}") from exc
        # Then assign; the processor first, as the one user-defined step that may still refuse
        if checked["proc"]:
            self.processor.load_state_dict(checked["proc"])
        self.optimizer.load_state_dict(checked["optim"])
        if self.ema is not None:
            self.ema.load_state_dict(ema)
        self.model.load_state_dict(checked["param"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(checked["sched"])
        self.rng.bit_generator.state = checked["rng_state"]
        self.epoch = checked["epoch"]
        self.history = checked["history"]

    def _saved_epoch(self) -> int | str:
        try:
            return int(load_archive(self.checkpoint, _FORMAT, _VERSION, nonfinite="allow")["epoch"])
        except ValueError:
            return "?"

    def plot(self, path: str | os.PathLike) -> None:
        """Save the loss curves of :attr:`history` (see :func:`plot_history`)."""
        plot_history(self.history, path)


def _pair(batch: Any) -> tuple[Any, Any]:
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise ValueError(f"a batch source must yield (x, y) pairs, got {type(batch).__name__} {batch!r:.60}")
    return batch[0], batch[1]


def plot_history(history: dict[str, list[float]], path: str | os.PathLike) -> None:
    """Plot training and validation loss (log scale) and the validation metric; saved atomically.

    Needs matplotlib (``pip install 'tensorkit[plot]'``). The format follows the file suffix.
    """
    if not history.get("train_loss"):
        raise ValueError("history holds no epochs to plot")
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    has_metric = any(math.isfinite(v) for v in history.get("val_metric", []))
    fig = new_figure(figsize=(10 if has_metric else 5, 3.6))
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
    save_figure(fig, path)
