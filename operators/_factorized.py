"""Factorized spectral weights: shapes, ranks, initialization and contractions (CP, Tucker, TT).

A spectral weight ``W[i, o, x(, y)]`` (input channel, output channel, kept modes) is held either
densely or as the factors of a CP, Tucker or tensor-train decomposition. Every contraction is an
einsum over named indices:

====== ================================================ =========================================
kind   factors (einsum subscripts)                      weight
====== ================================================ =========================================
dense  ``ioxy``                                         ``W``
cp     ``r``, ``ir``, ``or``, ``xr``, ``yr``            ``sum_r w_r A_ir B_or C_xr D_yr``
tucker ``abcd``, ``ia``, ``ob``, ``xc``, ``yd``         ``G x_1 U_i x_2 U_o x_3 U_x x_4 U_y``
tt     ``pib``, ``boc``, ``cxd``, ``dyq``               ``G1[:, i, :] G2[:, o, :] G3[:, x, :] G4[:, y, :]``
====== ================================================ =========================================

Gradients of a multilinear (holomorphic) contraction ``Y = einsum(X, F_1, ..., F_m)`` under
PyTorch's complex convention (``grad = dL/dRe + i dL/dIm``) are the same einsum with the output
gradient in place of the operand and every other operand conjugated.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
from tensorly.cp_tensor import validate_cp_rank
from tensorly.tt_tensor import validate_tt_rank
from tensorly.tucker_tensor import validate_tucker_rank

from tensorkit.formats import CPTensor, TuckerTensor

FACTORIZATIONS = (None, "cp", "tucker", "tt")
_WEIGHT_LETTERS = "ioxyz"
_BATCH = "n"


def weight_subscripts(order: int) -> str:
    """Subscripts of the dense weight: ``io`` then one letter per spatial dimension."""
    return _WEIGHT_LETTERS[: 2 + order]


def resolve_rank(factorization: str | None, shape: tuple[int, ...], rank: Any) -> Any:
    """The explicit rank for ``factorization`` of a tensor of ``shape``, as neuraloperator (tltorch)
    defines it: a float is the fraction of the dense parameter count, an int or a tuple explicit.

    Returns None (dense), an int (CP), a tuple of ints (Tucker: one per mode; TT: ``ndim + 1``
    bond dimensions with ones at both ends).
    """
    if factorization is None:
        return None
    if isinstance(rank, bool) or not isinstance(rank, (int, float, np.integer, np.floating, tuple, list)):
        raise TypeError(f"rank must be a float, an int or a tuple of ints, got {rank!r}")
    if isinstance(rank, (float, np.floating)) and not (math.isfinite(rank) and rank > 0):
        raise ValueError(f"rank must be positive and finite, got {rank!r}")
    if isinstance(rank, (tuple, list)):
        if not all(isinstance(r, (int, np.integer)) and not isinstance(r, bool) for r in rank):
            raise TypeError(f"an explicit rank must hold ints, got {rank!r}")
        rank = tuple(int(r) for r in rank)
    elif isinstance(rank, (int, np.integer)):
        rank = int(rank)
    if factorization == "cp":
        if isinstance(rank, tuple):
            raise ValueError(f"a CP rank is one number, got {rank!r}")
        resolved = int(validate_cp_rank(shape, rank))
        ranks = (resolved,)
    elif factorization == "tucker":
        if isinstance(rank, tuple) and len(rank) != len(shape):
            raise ValueError(f"a Tucker rank needs one entry per mode of {shape}, got {rank!r}")
        resolved = tuple(int(r) for r in validate_tucker_rank(shape, rank))
        ranks = resolved
    elif factorization == "tt":
        if isinstance(rank, tuple) and len(rank) == len(shape) - 1:
            rank = (1, *rank, 1)
        if isinstance(rank, tuple) and (len(rank) != len(shape) + 1 or rank[0] != 1 or rank[-1] != 1):
            raise ValueError(
                f"a TT rank needs {len(shape) + 1} bond dimensions with ones at both ends "
                f"(or the {len(shape) - 1} inner ones), got {rank!r}"
            )
        resolved = tuple(int(r) for r in validate_tt_rank(shape, rank))
        ranks = resolved
    else:
        raise ValueError(f"factorization must be one of {FACTORIZATIONS}, got {factorization!r}")
    if min(ranks) < 1:
        raise ValueError(
            f"rank={rank!r} gives an empty {factorization} factorization of a {shape} weight "
            f"(ranks {resolved}); use a larger rank"
        )
    return resolved


def factor_specs(
    factorization: str | None, shape: tuple[int, ...], rank: Any
) -> list[tuple[str, str, tuple]]:
    """``(parameter name, einsum subscripts, shape)`` of every factor of the weight."""
    w = weight_subscripts(len(shape) - 2)
    if factorization is None:
        return [("weight", w, tuple(shape))]
    if factorization == "cp":
        return [("weights", "r", (rank,))] + [
            (f"factor_{k}", f"{letter}r", (n, rank))
            for k, (letter, n) in enumerate(zip(w, shape, strict=True))
        ]
    if factorization == "tucker":
        core = "abcdefgh"[: len(shape)]
        return [("core", core, tuple(rank))] + [
            (f"factor_{k}", f"{letter}{core[k]}", (n, rank[k]))
            for k, (letter, n) in enumerate(zip(w, shape, strict=True))
        ]
    bonds = "p" + "bcdefg"[: len(shape) - 1] + "q"
    return [
        (f"core_{k}", f"{bonds[k]}{letter}{bonds[k + 1]}", (rank[k], n, rank[k + 1]))
        for k, (letter, n) in enumerate(zip(w, shape, strict=True))
    ]


def init_std_of_factors(factorization: str | None, shape: tuple[int, ...], rank: Any, std: float) -> float:
    """Standard deviation of every factor entry so that the weight's entries have roughly ``std``
    (tltorch's ``normal_``); CP weights are set to one."""
    order = len(shape)
    if factorization is None:
        return std
    if factorization == "cp":
        return (std / math.sqrt(rank)) ** (1.0 / order)
    if factorization == "tucker":
        return (std / math.prod(math.sqrt(r) for r in rank)) ** (1.0 / (order + 1))
    return (std / math.prod(rank)) ** (1.0 / order)


def weight_format(factorization: str | None, arrays: list[Any]) -> Any:
    """The weight as a tensorkit format (dense array, CPTensor, TuckerTensor or TTTensor), sharing
    the parameter arrays."""
    if factorization is None:
        return arrays[0]
    if factorization == "cp":
        return CPTensor(arrays[0], arrays[1:])
    if factorization == "tucker":
        return TuckerTensor(arrays[0], arrays[1:])
    from tensorkit.formats import TTTensor

    return TTTensor(arrays)


def forward_steps(factorization: str, order: int) -> list[tuple[str, str, str]]:
    """Pairwise contraction order for ``einsum(X, factors...)`` that never forms the dense weight.

    The input is first reduced by the input-channel factor, the mode factors are merged into a
    small ``(rank, modes)`` tensor, and the output-channel factor comes last.
    """
    if factorization == "cp":
        steps = [("x", "f0", "x1"), ("weights", "f2", "w1")]
        for k in range(1, order):
            steps.append((f"w{k}", f"f{2 + k}", f"w{k + 1}"))
        steps += [("x1", f"w{order}", "x2"), ("x2", "f1", "y")]
        return steps
    if factorization == "tucker":
        steps = [("x", "f0", "x1"), ("core", "f2", "c1")]
        for k in range(1, order):
            steps.append((f"c{k}", f"f{2 + k}", f"c{k + 1}"))
        steps += [("x1", f"c{order}", "x2"), ("x2", "f1", "y")]
        return steps
    # tt: merge the mode cores, then sweep the channel cores through the input.
    steps = []
    if order == 1:
        merged = "f2"
    else:
        steps.append(("f2", "f3", "t1"))
        for k in range(2, order):
            steps.append((f"t{k - 1}", f"f{2 + k}", f"t{k}"))
        merged = f"t{order - 1}"
    steps += [("x", "f0", "x1"), ("x1", "f1", "x2"), ("x2", merged, "y")]
    return steps


def contract_pairwise(
    xp: Any, operands: dict[str, tuple[str, Any]], steps, out: str, tape: list | None = None
) -> Any:
    """Run ``steps`` of pairwise einsums over named ``(subscripts, array)`` operands.

    Each intermediate keeps only the indices still needed by the remaining operands or ``out``.
    With a ``tape`` (a list), every step and its operands are recorded for :func:`backprop_pairwise`.
    """
    operands = dict(operands)
    for a, b, name in steps:
        sa, xa = operands.pop(a)
        sb, xb = operands.pop(b)
        needed = set(out).union(*(s for s, _ in operands.values()))
        keep = "".join(dict.fromkeys(c for c in sa + sb if c in needed))
        operands[name] = (keep, _einsum(xp, f"{sa},{sb}->{keep}", xa, xb))
        if tape is not None:
            tape.append(((a, sa, xa), (b, sb, xb), (name, keep)))
    ((name, (subs, result)),) = operands.items()
    if tape is not None:
        tape.append((name, subs))
    if subs != out:
        result = _einsum(xp, f"{subs}->{out}", result)
    return result


def backprop_pairwise(xp: Any, tape: list, grad_out: Any, out: str) -> dict[str, Any]:
    """Gradients of every original operand of a :func:`contract_pairwise` run, by name.

    Reverse mode through the recorded pairwise steps: for ``C = einsum(A, B)``,
    ``dA = einsum(dC, conj(B))`` and ``dB = einsum(dC, conj(A))``, so each intermediate is used
    once instead of recontracting the whole network for every operand.
    """
    final_name, final_subs = tape[-1]
    grads = {final_name: grad_out if final_subs == out else _einsum(xp, f"{out}->{final_subs}", grad_out)}
    for (a, sa, xa), (b, sb, xb), (name, sc) in reversed(tape[:-1]):
        gc = grads.pop(name)
        for target, st, xt, so, xo in ((a, sa, xa, sb, xb), (b, sb, xb, sa, xa)):
            g = _pair_gradient(xp, sc, gc, so, xo, st, tuple(xt.shape))
            grads[target] = grads[target] + g if target in grads else g
    return grads


def _pair_gradient(xp, sc, gc, so, xo, st, shape):
    present = set(sc) | set(so)
    target = "".join(c for c in st if c in present)
    other = xp.conj(xo) if xo.dtype.kind == "c" else xo
    g = _einsum(xp, f"{sc},{so}->{target}", gc, other)
    if target != st:
        # indices only the target carries were summed in the forward: broadcast back
        g = xp.broadcast_to(g.reshape([shape[i] if c in present else 1 for i, c in enumerate(st)]), shape)
    return g


def einsum_gradient(xp: Any, subs: list[str], out: str, operands: list[Any], grad_out: Any, j: int) -> Any:
    """Gradient with respect to ``operands[j]`` of ``Y = einsum(subs -> out, operands)``.

    ``grad_j = einsum(grad_out, conj(others) -> subs[j])``; indices of ``subs[j]`` found nowhere else
    (summed in the forward) come back by broadcasting.
    """
    others = [k for k in range(len(subs)) if k != j]
    present = set(out).union(*(subs[k] for k in others))
    target = "".join(c for c in subs[j] if c in present)
    eq = ",".join([out] + [subs[k] for k in others]) + "->" + target
    ops = [grad_out] + [
        xp.conj(operands[k]) if operands[k].dtype.kind == "c" else operands[k] for k in others
    ]
    grad = einsum_many(xp, eq, ops)
    if target != subs[j]:
        shape = tuple(operands[j].shape)
        expanded = [1 if c not in present else shape[i] for i, c in enumerate(subs[j])]
        grad = xp.broadcast_to(grad.reshape(expanded), shape)
    return grad


def _einsum(xp, eq, *ops):
    if len(ops) > 1:
        return einsum_many(xp, eq, list(ops))
    return xp.einsum(eq, *ops)


def einsum_many(xp: Any, eq: str, ops: list[Any]) -> Any:
    """``einsum(eq, *ops)`` along a cached greedy pairwise path."""
    if xp is np:
        path = _cached_path(eq, tuple(tuple(o.shape) for o in ops))
        return np.einsum(eq, *ops, optimize=path)
    return xp.einsum(eq, *ops)


@functools.lru_cache(maxsize=256)
def _cached_path(eq: str, shapes: tuple[tuple[int, ...], ...]) -> list:
    dummies = [np.broadcast_to(np.zeros((), dtype=np.complex64), s) for s in shapes]
    # No memory limit: numpy would otherwise leave the last operands to one slow multi-operand loop.
    return np.einsum_path(eq, *dummies, optimize=("greedy", 2**40))[0]
