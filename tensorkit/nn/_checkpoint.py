"""Checks of a trainer checkpoint, all run before the trainer changes anything (atomic resume)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ._processor import check_processor_state

__all__ = ["check_checkpoint"]


def check_checkpoint(
    data: dict[str, Any],
    name: str,
    *,
    model: Any,
    optimizer: Any,
    scheduler: Any,
    processor: Any,
    rng: Any,
    history_keys: tuple[str, ...],
) -> dict[str, Any]:
    """Validate a loaded trainer checkpoint against the trainer's parts, changing none of them.

    Returns
    -------
    dict with the state groups ``param``, ``optim``, ``sched``, ``proc`` (dicts of arrays), and
    ``rng_state``, ``epoch`` and ``history`` ready to assign.

    Raises
    ------
    ValueError
        Naming the file and the offending key.
    """
    for key, obj in (("model_class", model), ("optimizer_class", optimizer)):
        found = str(data.get(key, ""))
        if found != type(obj).__name__:
            raise ValueError(f"{name!r} was written for a {found}, this trainer has a {type(obj).__name__}")
    groups: dict[str, dict[str, Any]] = {"param": {}, "optim": {}, "sched": {}, "proc": {}, "history": {}}
    for key, value in data.items():
        head, _, tail = key.partition("/")
        if head in groups and tail:
            groups[head][tail] = value
    params = {**model.parameters(), **model.named_buffers()}
    bad = sorted(set(params) ^ set(groups["param"]))
    bad += [k for k in params if k in groups["param"] and groups["param"][k].shape != params[k].shape]
    if bad:
        raise ValueError(
            f"{name!r} is a checkpoint of another architecture (mismatched parameters "
            f"{bad[:6]}{'...' if len(bad) > 6 else ''})"
        )
    if (scheduler is None) != (not groups["sched"]):
        raise ValueError(f"{name!r} and this trainer disagree on having a scheduler")
    checks = [("param", model._check_state), ("optim", optimizer._check_state)]
    if scheduler is not None:
        checks.append(("sched", scheduler._check_state))
    for group, check in checks:
        try:
            check(groups[group])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name!r}: {exc}") from exc
    check_processor_state(processor, groups["proc"], name)
    for key, value in groups["proc"].items():
        if value.dtype.kind in "fc" and not np.all(np.isfinite(value)):
            raise ValueError(f"{name!r}: processor state {key!r} holds NaN or Inf entries")
    return {
        **groups,
        "rng_state": _rng_state(data, name, rng),
        "epoch": _epoch(data, name),
        "history": _history(groups["history"], name, history_keys),
    }


def _rng_state(data: dict[str, Any], name: str, rng: Any) -> dict[str, Any]:
    """The saved generator state, tried on a scratch generator of the same kind first."""
    if "rng_state" not in data:
        raise ValueError(f"{name!r} has no 'rng_state' key (not a complete trainer checkpoint)")
    kind = type(rng.bit_generator)
    try:
        state = json.loads(str(data["rng_state"]))
        kind().state = state
    except Exception as exc:
        raise ValueError(f"{name!r}: 'rng_state' is not a valid {kind.__name__} state ({exc})") from exc
    return state


def _epoch(data: dict[str, Any], name: str) -> int:
    """The saved epoch count: a non-negative integer scalar under key ``epoch``."""
    if "epoch" not in data:
        raise ValueError(f"{name!r} has no 'epoch' key (not a complete trainer checkpoint)")
    value = data["epoch"]
    if value.shape != () or value.dtype.kind not in "iu" or int(value) < 0:
        raise ValueError(f"{name!r}: 'epoch' must be a non-negative integer scalar, got {value!r}")
    return int(value)


def _history(saved: dict[str, Any], name: str, keys: tuple[str, ...]) -> dict[str, list[float]]:
    """Loss curves as lists (NaN is a legitimate entry there: an epoch without validation)."""
    history = {}
    for key in keys:
        values = saved.get(key, np.zeros(0))
        if values.ndim != 1 or values.dtype.kind not in "fiu":
            raise ValueError(
                f"{name!r}: history/{key} must be a 1-d array of numbers, got shape "
                f"{tuple(values.shape)} and dtype {values.dtype}"
            )
        history[key] = [float(v) for v in values]
    return history
