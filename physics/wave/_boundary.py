"""The boundary generator of Boukraichi et al.: a CNN predicts a zone's boundary trace over time
from the initial field, the finite-element :class:`Submodel` fills the zone in
(:func:`compare_boundary_generator`), against a CNN that predicts the zone's field directly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tensorkit.extend import check_choice, check_int, check_random_state, check_real, to_numpy
from tensorkit.nn import LpLoss, Sequential

from .._learning import fit_operator
from ._compare import relative_l2
from ._submodel import Submodel, boundary_trace
from ._surrogate import CONV_KINDS, WaveCNN
from ._tasks import ZoneReadout

__all__ = ["BoundaryResult", "compare_boundary_generator"]


@dataclass
class BoundaryResult:
    """Errors of :func:`compare_boundary_generator` (relative L2 over time and nodes, mean over the
    test samples).

    Attributes
    ----------
    trace_error : float
        The predicted boundary trace against the full simulation's.
    submodel_error : float
        The zone's interior field from the submodel driven by the predicted trace, against the full
        simulation.
    exact_submodel_error : float
        The same with the exact trace (the submodel's own discretization and time interpolation).
    direct_error : float
        The interior field of a CNN with the same architecture and parameter count trained to
        predict the zone's field directly.
    parameters : int
        Of each of the two CNNs (equal).
    """

    trace_error: float
    submodel_error: float
    exact_submodel_error: float
    direct_error: float
    parameters: int

    def to_text(self) -> str:
        """A few lines with the errors and the ratios the issue asks about."""
        return "\n".join([
            f"boundary trace predicted by the CNN      {self.trace_error:.4f}",
            f"zone interior, submodel on that trace    {self.submodel_error:.4f} "
            f"({self.submodel_error / self.trace_error:.2f} x the trace error)",
            f"zone interior, submodel on exact trace   {self.exact_submodel_error:.4f}",
            f"zone interior, CNN predicting it directly {self.direct_error:.4f} "
            f"(submodel / direct = {self.submodel_error / self.direct_error:.2f})",
            f"parameters of each CNN                   {self.parameters}",
        ])


def compare_boundary_generator(
    data: tuple[Any, Any],
    zone: Any,
    *,
    conv: str = "dense",
    rank: int = 4,
    width: int = 8,
    depth: int = 2,
    epochs: int = 30,
    batch_size: int = 8,
    lr: float = 3e-3,
    test_fraction: float = 0.25,
    dtype: Any = np.float32,
    random_state: Any = 0,
    progress: bool = False,
) -> BoundaryResult:
    """Predict a zone's boundary trace from the initial field, run the :class:`Submodel` on it, and
    compare the zone's interior with the full simulation and with a direct CNN.

    Both CNNs are the same :class:`WaveCNN` (input: the initial displacement ``u(t_0)``, one
    channel; output: the field at every snapshot time as channels) followed by a fixed
    :class:`ZoneReadout`: of the zone's boundary nodes for the generator (trained on
    :func:`boundary_trace`), of the zone's nodes for the direct model (trained on the zone's field).
    They have equal parameter counts and the same budget and seed. The submodel starts from the
    known initial field and interpolates the predicted trace between snapshots (cubic splines).

    Parameters
    ----------
    data : (u, times)
        As :func:`wave2d` returns (pulse sources: the field starts at rest from ``u(t_0)``).
    zone : ((x0, x1), (y0, y1))
        Corners on the grid of ``u`` (see :class:`Submodel`).
    conv, rank, width, depth
        :class:`WaveCNN` settings (``H`` and ``W`` multiples of ``2^depth``).
    epochs, batch_size, lr, test_fraction, dtype, random_state, progress
        As :func:`compare_compression`.

    Returns
    -------
    BoundaryResult

    Examples
    --------
    >>> from physics.wave import compare_boundary_generator, wave2d
    >>> u, times = wave2d(6, 16, n_snapshots=6, t_final=0.5, random_state=0, progress=False)
    >>> result = compare_boundary_generator((u, times), ((4 / 15, 12 / 15), (4 / 15, 12 / 15)),
    ...                                     width=4, epochs=1)
    >>> result.exact_submodel_error < 0.1 < result.trace_error
    True
    """
    if not isinstance(data, tuple) or len(data) != 2:
        raise TypeError("data must be the pair (u, times) that wave2d returns")
    u, times = np.asarray(to_numpy(data[0])), np.asarray(to_numpy(data[1]), np.float64)
    if u.ndim != 4 or u.shape[2] != u.shape[3]:
        raise ValueError(f"u must have shape (n_samples, n_snapshots, R, R), got {u.shape}")
    check_choice(conv, "conv", CONV_KINDS)
    check_real(test_fraction, "test_fraction", minimum=0.0, maximum=1.0, strict_minimum=True,
               strict_maximum=True)
    seed = check_int(random_state, "random_state", minimum=0)
    resolution, n_times = u.shape[2], u.shape[1]
    sub = Submodel(zone, resolution)
    n_test = max(1, round(test_fraction * u.shape[0]))
    if n_test >= u.shape[0]:
        raise ValueError(f"{u.shape[0]} samples leave none for training with test_fraction={test_fraction}")
    order = check_random_state(seed).permutation(u.shape[0])
    u = u.astype(dtype, copy=False)
    train, test = u[order[n_test:]], u[order[:n_test]]

    def trained(part, target, d):
        cnn = WaveCNN(1, n_times, width=width, depth=depth, conv=conv, rank=rank, dtype=dtype,
                      random_state=seed)
        model = Sequential(cnn, ZoneReadout(zone, resolution, part=part, dtype=dtype))
        fit = fit_operator(model, train[:, :1], target, epochs=epochs, batch_size=batch_size, lr=lr,
                           weight_decay=0.0, loss=LpLoss(d=d), step_size=max(1, epochs // 2),
                           random_state=seed, progress=progress)
        return fit, model.num_parameters()

    trace_fit, params = trained("boundary", boundary_trace(train, times, zone, resolution), 2)
    direct_fit, direct_params = trained("zone", sub.sample(train), 3)
    if params != direct_params:
        raise AssertionError("the two CNNs must have equal parameter counts")  # by construction

    true_trace = boundary_trace(test, times, zone, resolution).astype(np.float64)
    pred_trace = np.asarray(trace_fit.predict(test[:, :1]), np.float64)
    true_zone = sub.sample(test.astype(np.float64))
    initial = true_zone[:, 0]
    interior = (slice(None), slice(None), slice(1, -1), slice(1, -1))
    from_pred = sub.run(pred_trace, times, initial=initial)
    from_exact = sub.run(true_trace, times, initial=initial)
    direct = np.asarray(direct_fit.predict(test[:, :1]), np.float64)
    return BoundaryResult(
        trace_error=float(relative_l2(pred_trace, true_trace).mean()),
        submodel_error=float(relative_l2(from_pred[interior], true_zone[interior]).mean()),
        exact_submodel_error=float(relative_l2(from_exact[interior], true_zone[interior]).mean()),
        direct_error=float(relative_l2(direct[interior], true_zone[interior]).mean()),
        parameters=params,
    )
