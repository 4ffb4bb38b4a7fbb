"""Dense against compressed convolutions on the same forecasting data and budget
(:func:`compare_compression`), and the table it returns."""

from __future__ import annotations

import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tensorkit.extend import check_choice, check_int, check_random_state, check_real, to_numpy
from tensorkit.nn import Adam, LpLoss

from .._learning import fit_operator
from ._surrogate import CONV_KINDS, WaveCNN
from ._tasks import forecast_windows, rollout

__all__ = ["CompressionResult", "CompressionTable", "compare_compression", "relative_l2"]

DEFAULT_RANKS = {"oneway": 1, "cp": 4, "tucker": 4}


@dataclass
class CompressionResult:
    """One trained variant of :func:`compare_compression`.

    Attributes
    ----------
    conv : str
    rank : int or None
        None for ``"dense"``.
    parameters : int
    compression : float
        The dense model's parameter count over this one's.
    peak_memory_mb : float
        ``tracemalloc`` peak of the memory allocated during one training step (forward, loss,
        adjoint, Adam update) at the training batch size, after a warm-up step: activations,
        caches and gradient temporaries (the parameters themselves are not counted). These are
        set by the channel widths, batch and grid, which compression leaves alone.
    state_memory_mb : float
        Parameters, gradients and Adam's two moments: ``4 x parameters x itemsize``, what
        compression shrinks.
    epoch_time : float
        Median seconds per epoch.
    one_step_error : float
        Relative L2 of the next-snapshot forecast on the test windows (mean over windows).
    rollout_error : float
        Relative L2 over the whole autoregressive rollout of the test samples (mean over samples).
    rollout_curve : ndarray (n_steps,)
        Relative L2 at every rollout step (mean over samples).
    """

    conv: str
    rank: int | None
    parameters: int
    compression: float
    peak_memory_mb: float
    state_memory_mb: float
    epoch_time: float
    one_step_error: float
    rollout_error: float
    rollout_curve: np.ndarray = field(repr=False)

    @property
    def label(self) -> str:
        """``"dense"`` or ``"<conv> R=<rank>"``."""
        return self.conv if self.rank is None else f"{self.conv} R={self.rank}"


@dataclass
class CompressionTable:
    """The rows of :func:`compare_compression`, its settings, and the rollouts of one test sample
    (``truth`` and ``predictions[label]``, arrays (n_steps, H, W)) for plotting."""

    rows: list[CompressionResult]
    settings: dict[str, Any]
    truth: np.ndarray = field(repr=False)
    predictions: dict[str, np.ndarray] = field(repr=False)

    def __iter__(self):
        return iter(self.rows)

    def to_text(self) -> str:
        """A fixed-width table, one line per variant, ratios against the dense row."""
        dense = next((r for r in self.rows if r.conv == "dense"), None)
        steps = self.settings["rollout_steps"]
        head = (f"{'variant':<12} {'params':>8} {'x fewer':>7} {'peak MB':>8} {'state MB':>8} {'s/epoch':>8} "
                f"{'1-step':>8} {f'{steps}-step':>8} {'vs dense':>13}")
        lines = [head, "-" * len(head)]
        for r in self.rows:
            ratio = "" if dense is None or r is dense else (
                f"{r.one_step_error / dense.one_step_error:5.2f}/"
                f"{r.rollout_error / dense.rollout_error:5.2f}")
            lines.append(f"{r.label:<12} {r.parameters:>8d} {r.compression:>7.1f} {r.peak_memory_mb:>8.2f} "
                         f"{r.state_memory_mb:>8.3f} "
                         f"{r.epoch_time:>8.2f} {r.one_step_error:>8.4f} {r.rollout_error:>8.4f} {ratio:>13}")
        s = self.settings
        lines.append(f"({s['n_train']} train / {s['n_test']} test samples of {s['shape']}, history "
                     f"{s['history']}, width {s['width']}, depth {s['depth']}, {s['dims']}, "
                     f"{s['epochs']} epochs, batch {s['batch_size']}, lr {s['lr']}, "
                     f"seed {s['random_state']}; "
                     "errors relative L2; 'vs dense' = 1-step / rollout error ratios; peak MB: "
                     "tracemalloc over one training step; state MB: parameters, gradients, Adam moments)")
        return "\n".join(lines)


def compare_compression(
    data: Any,
    *,
    convs: Sequence[str] = CONV_KINDS,
    ranks: int | dict[str, int | Sequence[int]] | None = None,
    history: int = 4,
    width: int = 8,
    depth: int = 2,
    dims: str = "2d",
    epochs: int = 20,
    batch_size: int = 16,
    lr: float = 3e-3,
    test_fraction: float = 0.25,
    rollout_steps: int = 20,
    dtype: Any = np.float32,
    random_state: Any = 0,
    progress: bool = False,
) -> CompressionTable:
    """Train a :class:`WaveCNN` forecaster per convolution kind (and rank) on the same data with the
    same budget and seed, and tabulate size, memory, time and errors.

    Each variant learns ``u(t_{n-k}), .., u(t_{n-1}) -> u(t_n)`` (:func:`forecast_windows`) on the
    training samples with :func:`physics.fit_operator` (relative L2 loss, Adam, the rate halved at
    half the epochs, the same shuffling seed and initialization seed), then is scored on held-out
    samples: one step on every window, and an autoregressive rollout (:func:`rollout`) of
    ``rollout_steps`` snapshots from each test sample's first ``k``.

    Parameters
    ----------
    data : array (n_samples, n_snapshots, H, W) or (u, times)
        As :func:`wave2d` returns; ``n_snapshots >= history + rollout_steps``, ``H`` and ``W``
        multiples of ``2^depth``.
    convs : sequence of {"dense", "oneway", "cp", "tucker"}
    ranks : int or dict, optional
        Rank of the compressed kinds (one int for all, or per kind an int or a list of ints, each a
        row); default ``{"oneway": 1, "cp": 4, "tucker": 4}``.
    history, width, depth, dims
        The task's ``k`` and :class:`WaveCNN`'s settings.
    epochs, batch_size, lr
        The common budget.
    test_fraction : float
        Share of the samples held out (at least one).
    rollout_steps : int
    dtype : float32 or float64
    random_state : int
        Seeds the split, every initialization and the shuffling (the same for every variant).
    progress : bool

    Returns
    -------
    CompressionTable
        ``to_text()`` prints it; :func:`plot_compression` and :func:`plot_rollout` draw it.

    Examples
    --------
    >>> from physics.wave import compare_compression, wave2d
    >>> u, _ = wave2d(6, 16, n_snapshots=8, t_final=0.5, random_state=0, progress=False)
    >>> table = compare_compression(u, convs=("dense", "cp"), history=2, rollout_steps=4,
    ...                             width=4, epochs=1, batch_size=8)
    >>> [row.label for row in table], table.rows[1].compression > 3
    (['dense', 'cp R=4'], True)
    """
    u = data[0] if isinstance(data, tuple) else data
    u = np.asarray(to_numpy(u))
    if u.ndim != 4:
        raise ValueError(f"data must be snapshots (n_samples, n_snapshots, H, W), got shape {u.shape}")
    convs = [check_choice(c, "conv", CONV_KINDS) for c in convs]
    if not convs:
        raise ValueError("convs must name at least one convolution kind")
    variants = _variants(convs, ranks)
    history = check_int(history, "history", minimum=1)
    rollout_steps = check_int(rollout_steps, "rollout_steps", minimum=1)
    if u.shape[1] < history + rollout_steps:
        raise ValueError(f"data has {u.shape[1]} snapshots; history {history} + rollout_steps "
                         f"{rollout_steps} need at least {history + rollout_steps}")
    check_int(epochs, "epochs", minimum=1)
    check_real(test_fraction, "test_fraction", minimum=0.0, maximum=1.0, strict_minimum=True,
               strict_maximum=True)
    seed = check_int(random_state, "random_state", minimum=0)
    order = check_random_state(seed).permutation(u.shape[0])
    n_test = max(1, round(test_fraction * u.shape[0]))
    if n_test >= u.shape[0]:
        raise ValueError(f"{u.shape[0]} samples leave none for training with test_fraction={test_fraction}")
    u = u.astype(dtype, copy=False)
    train, test = u[order[n_test:]], u[order[:n_test]]
    x, y = forecast_windows(train, history, dims=dims)
    x_test, y_test = forecast_windows(test, history, dims=dims)
    start_history = test[:, :history]
    truth = test[:, history: history + rollout_steps]

    rows, predictions = [], {}
    dense_params = None
    for conv, rank in variants:
        def build(conv=conv, rank=rank):
            return WaveCNN(history if dims == "2d" else 1, 1, dims=dims, width=width, depth=depth,
                           conv=conv, rank=rank or 1, dtype=dtype, random_state=seed)
        peak = _peak_step_memory(build(), x[:batch_size], y[:batch_size], lr)
        model = build()
        fit = fit_operator(model, x, y, epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=0.0,
                           step_size=max(1, epochs // 2), random_state=seed, progress=progress)
        pred = fit.predict(x_test)
        if dims == "3d":
            pred, target = pred[:, :, -1], y_test[:, :, -1]
        else:
            target = y_test
        one_step = float(relative_l2(pred, target).mean())
        rolled = rollout(model, start_history, rollout_steps)
        curve = np.array([relative_l2(rolled[:, t], truth[:, t]).mean() for t in range(rollout_steps)])
        params = model.num_parameters()
        if conv == "dense":
            dense_params = params
        rows.append(CompressionResult(
            conv, rank, params, (dense_params or params) / params, peak / 2**20,
            4 * params * np.dtype(dtype).itemsize / 2**20,
            float(np.median(fit.history["epoch_time"])), one_step,
            float(relative_l2(rolled, truth).mean()), curve))
        predictions[rows[-1].label] = np.asarray(rolled[0])
    settings = {"n_train": train.shape[0], "n_test": n_test, "shape": u.shape[2:], "history": history,
                "width": width, "depth": depth, "dims": dims, "epochs": epochs, "batch_size": batch_size,
                "lr": lr, "random_state": seed, "rollout_steps": rollout_steps}
    return CompressionTable(rows, settings, np.asarray(truth[0]), predictions)


def relative_l2(pred: Any, target: Any) -> np.ndarray:
    """``||pred - target|| / ||target||`` per sample (over every axis but the first)."""
    pred, target = np.asarray(to_numpy(pred), np.float64), np.asarray(to_numpy(target), np.float64)
    if pred.shape != target.shape:
        raise ValueError(f"pred {pred.shape} and target {target.shape} differ")
    diff = np.linalg.norm((pred - target).reshape(len(pred), -1), axis=1)
    return diff / np.maximum(np.linalg.norm(target.reshape(len(target), -1), axis=1), 1e-30)


def _variants(convs, ranks) -> list[tuple[str, int | None]]:
    if ranks is None:
        ranks = DEFAULT_RANKS
    if not isinstance(ranks, dict):
        ranks = dict.fromkeys(CONV_KINDS[1:], ranks)
    out = []
    for conv in dict.fromkeys(convs):
        if conv == "dense":
            out.append(("dense", None))
            continue
        values = ranks.get(conv, DEFAULT_RANKS[conv])
        for r in (values if isinstance(values, (list, tuple)) else [values]):
            out.append((conv, check_int(r, f"rank of {conv!r}", minimum=1)))
    # the dense row first: the others are compared with it
    return sorted(out, key=lambda v: v[0] != "dense")


def _peak_step_memory(model, x, y, lr) -> int:
    """Peak bytes allocated during one training step (after a warm-up step)."""
    loss = LpLoss(d=y.ndim - 2)
    optimizer = Adam(model, lr=lr)

    def step():
        pred = model.forward(x)
        loss.forward(pred, y)
        model.zero_grad()
        model.backward(loss.backward())
        optimizer.step()

    step()
    tracemalloc.start()
    try:
        step()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
