r"""The factorized-weight engine: a weight tensor held as CP, Tucker or tensor-train factors.

A weight ``W`` of shape ``(n_0, ..., n_{N-1})`` gets one einsum letter per mode (``subscripts``,
for example ``"oixy"`` for a convolution kernel or ``"ioxy"`` for a spectral weight) and is held
as named factors, every one an einsum operand:

====== ================================================ =========================================
kind   factors (subscripts for ``subscripts="ioxy"``)   weight
====== ================================================ =========================================
dense  ``ioxy``                                         ``W``
cp     ``r`` (optional), ``ir``, ``or``, ``xr``, ``yr`` ``sum_r w_r A_ir B_or C_xr D_yr``
tucker ``abcd``, ``ia``, ``ob``, ``xc``, ``yd``         ``G x_1 U_i x_2 U_o x_3 U_x x_4 U_y``
tt     ``pib``, ``boc``, ``cxd``, ``dyq``               ``G1[:, i, :] G2[:, o, :] G3[:, x, :] G4[:, y, :]``
====== ================================================ =========================================

A layer contracts its input with these operands (:func:`contract_pairwise`, reverse mode by
:func:`backprop_pairwise`), or rebuilds the dense weight (:meth:`FactorizedWeight.dense`) and maps
the dense gradient back to the factors (:meth:`FactorizedWeight.factor_gradients`).

Gradients of a multilinear (holomorphic) contraction ``Y = einsum(X, F_1, ..., F_m)`` under
PyTorch's complex convention (``grad = dL/dRe + i dL/dIm``) are the same einsum with the output
gradient in place of the operand and every other operand conjugated.
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import numpy as np

from ..backend import array_module, is_numpy_namespace, native
from ..decomposition import resolve_rank
from ..formats import CPTensor, TTTensor, TuckerTensor

__all__ = [
    "FACTORIZATIONS",
    "FactorSpec",
    "FactorizedWeight",
    "backprop_pairwise",
    "contract_pairwise",
    "einsum_gradient",
    "einsum_many",
]

FACTORIZATIONS = (None, "cp", "tucker", "tt")
# Letters the factors use for their rank indices; a weight's own subscripts must avoid them.
_CP_RANK = "r"
_TUCKER_CORE = "abcdefgh"
_TT_BONDS = "pbcdefgq"


class FactorSpec(NamedTuple):
    """One factor of a :class:`FactorizedWeight`: parameter name, einsum subscripts and shape."""

    name: str
    subscripts: str
    shape: tuple[int, ...]


class FactorizedWeight:
    """How a weight of ``shape`` is factorized: resolved rank, factor specs, initialization scale,
    dense rebuild and the gradients of the factors from the dense gradient.

    Parameters
    ----------
    shape : tuple of int
        Shape of the dense weight (order 2 to 8).
    factorization : None, "cp", "tucker" or "tt"
        None holds the weight densely (one factor named ``"weight"``).
    rank : float, int or tuple
        As :func:`tensorkit.decomposition.resolve_rank`: a float is the fraction of the dense
        parameter count, an int or tuple explicit. Ignored when ``factorization`` is None.
    subscripts : str, optional
        One einsum letter per mode of the weight (default ``"ioxyzuvw"[:order]``); letters used by
        the rank indices (``r``, ``a``-``h``, ``p``, ``q``) are refused.
    cp_weights : bool
        CP only: hold the vector of weights ``w_r`` (named ``"weights"``, initialized to one, as
        tensorly and tltorch do) or fold it into the factors.

    Attributes
    ----------
    specs : list of FactorSpec
        The factors in a fixed order: CP ``[weights,] factor_0..``; Tucker ``core, factor_0..``;
        TT ``core_0..``; ``factor_k`` / ``core_k`` belongs to mode ``k``.

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.nn import FactorizedWeight
    >>> fw = FactorizedWeight((4, 3, 5), "tucker", (2, 2, 3), subscripts="oix")
    >>> [(s.name, s.subscripts) for s in fw.specs]
    [('core', 'abc'), ('factor_0', 'oa'), ('factor_1', 'ib'), ('factor_2', 'xc')]
    >>> factors = [np.ones(s.shape) for s in fw.specs]
    >>> fw.dense(factors).shape, fw.num_parameters()
    ((4, 3, 5), 41)
    """

    def __init__(
        self,
        shape: tuple[int, ...],
        factorization: str | None,
        rank: Any = None,
        *,
        subscripts: str | None = None,
        cp_weights: bool = True,
    ):
        self.shape = tuple(int(n) for n in shape)
        order = len(self.shape)
        if not 2 <= order <= len(_TUCKER_CORE):
            raise ValueError(f"a factorized weight needs order 2 to {len(_TUCKER_CORE)}, got {shape}")
        if factorization not in FACTORIZATIONS:
            raise ValueError(f"factorization must be one of {FACTORIZATIONS}, got {factorization!r}")
        if subscripts is None:
            subscripts = "ioxyzuvw"[:order]
        if len(subscripts) != order or len(set(subscripts)) != order:
            raise ValueError(f"subscripts needs {order} distinct letters, got {subscripts!r}")
        clash = set(subscripts) & set(_CP_RANK + _TUCKER_CORE + _TT_BONDS)
        if clash:
            raise ValueError(f"subscripts {subscripts!r} use letters reserved for ranks: {sorted(clash)}")
        self.factorization = factorization
        self.subscripts = subscripts
        self.cp_weights = bool(cp_weights)
        self.rank = resolve_rank(factorization, self.shape, rank)
        self.specs = _specs(factorization, self.shape, self.rank, subscripts, self.cp_weights)

    @property
    def names(self) -> tuple[str, ...]:
        """Parameter names of the factors, in :attr:`specs` order."""
        return tuple(s.name for s in self.specs)

    def num_parameters(self) -> int:
        """Entries of all factors together."""
        return sum(math.prod(s.shape) for s in self.specs)

    def factor_std(self, std: float) -> float:
        """Standard deviation of every factor entry so that the weight's entries have about ``std``
        (tltorch's ``normal_``; CP weights, when held, are one).

        CP: ``R s^(2N) = std^2``; Tucker: ``prod(R) s^(2(N+1)) = std^2``; TT: ``s^N = std / prod(R)``.
        """
        order, rank = len(self.shape), self.rank
        if self.factorization is None:
            return std
        if self.factorization == "cp":
            return (std / math.sqrt(rank)) ** (1.0 / order)
        if self.factorization == "tucker":
            return (std / math.prod(math.sqrt(r) for r in rank)) ** (1.0 / (order + 1))
        return (std / math.prod(rank)) ** (1.0 / order)

    def dense(self, factors: list[Any], *, xp: Any = None) -> Any:
        """The dense weight: one einsum of the factors (along a cached pairwise path)."""
        if self.factorization is None:
            return factors[0]
        subs = ",".join(s.subscripts for s in self.specs)
        return einsum_many(f"{subs}->{self.subscripts}", *factors, xp=xp)

    def factor_gradients(self, factors: list[Any], grad_dense: Any, *, xp: Any = None) -> list[Any]:
        """Gradients of the factors given the gradient of :meth:`dense` (chain rule, one einsum each)."""
        if self.factorization is None:
            return [grad_dense]
        subs = [s.subscripts for s in self.specs]
        return [
            einsum_gradient(subs, self.subscripts, factors, grad_dense, j, xp=xp) for j in range(len(subs))
        ]

    def to_format(self, factors: list[Any]) -> Any:
        """The weight as a tensorkit format (dense array, CPTensor, TuckerTensor or TTTensor), sharing
        the factor arrays (CP without held weights gets weights of one)."""
        if self.factorization is None:
            return factors[0]
        if self.factorization == "cp":
            if self.cp_weights:
                return CPTensor(factors[0], factors[1:])
            return CPTensor(array_module(factors[0]).ones(self.rank, dtype=factors[0].dtype), factors)
        if self.factorization == "tucker":
            return TuckerTensor(factors[0], factors[1:])
        return TTTensor(factors)

    def __repr__(self) -> str:
        return f"FactorizedWeight({self.shape}, {self.factorization!r}, rank={self.rank})"


def _specs(factorization, shape, rank, letters, cp_weights) -> list[FactorSpec]:
    if factorization is None:
        return [FactorSpec("weight", letters, shape)]
    if factorization == "cp":
        head = [FactorSpec("weights", _CP_RANK, (rank,))] if cp_weights else []
        return head + [
            FactorSpec(f"factor_{k}", letter + _CP_RANK, (n, rank))
            for k, (letter, n) in enumerate(zip(letters, shape, strict=True))
        ]
    if factorization == "tucker":
        core = _TUCKER_CORE[: len(shape)]
        return [FactorSpec("core", core, tuple(rank))] + [
            FactorSpec(f"factor_{k}", letter + core[k], (n, rank[k]))
            for k, (letter, n) in enumerate(zip(letters, shape, strict=True))
        ]
    bonds = _TT_BONDS[0] + _TT_BONDS[1: len(shape)] + _TT_BONDS[-1]
    return [
        FactorSpec(f"core_{k}", bonds[k] + letter + bonds[k + 1], (rank[k], n, rank[k + 1]))
        for k, (letter, n) in enumerate(zip(letters, shape, strict=True))
    ]


# ---------------------------------------------------------------------------------- contractions
def contract_pairwise(
    operands: dict[str, tuple[str, Any]],
    steps: list[tuple[str, str, str]],
    out: str,
    *,
    tape: list | None = None,
    xp: Any = None,
) -> Any:
    """Run ``steps`` of pairwise einsums over named ``(subscripts, array)`` operands.

    Each step ``(a, b, name)`` replaces operands ``a`` and ``b`` by their contraction ``name``,
    which keeps only the indices still needed by the remaining operands or ``out``. With a ``tape``
    (a list), every step and its operands are recorded for :func:`backprop_pairwise`.

    Examples
    --------
    >>> import numpy as np
    >>> from tensorkit.nn import contract_pairwise
    >>> a, b, c = np.ones((2, 3)), np.ones((3, 4)), np.ones((4,))
    >>> ops = {"a": ("ij", a), "b": ("jk", b), "c": ("k", c)}
    >>> contract_pairwise(ops, [("a", "b", "ab"), ("ab", "c", "y")], "i")
    array([12., 12.])
    """
    operands = dict(operands)
    for a, b, name in steps:
        sa, xa = operands.pop(a)
        sb, xb = operands.pop(b)
        needed = set(out).union(*(s for s, _ in operands.values()))
        keep = "".join(dict.fromkeys(c for c in sa + sb if c in needed))
        operands[name] = (keep, einsum_many(f"{sa},{sb}->{keep}", xa, xb, xp=xp))
        if tape is not None:
            tape.append(((a, sa, xa), (b, sb, xb), (name, keep)))
    ((name, (subs, result)),) = operands.items()
    if tape is not None:
        tape.append((name, subs))
    if subs != out:
        result = einsum_many(f"{subs}->{out}", result, xp=xp)
    return result


def backprop_pairwise(tape: list, grad_out: Any, out: str, *, xp: Any = None) -> dict[str, Any]:
    """Gradients of every original operand of a :func:`contract_pairwise` run, by name.

    Reverse mode through the recorded pairwise steps: for ``C = einsum(A, B)``,
    ``dA = einsum(dC, conj(B))`` and ``dB = einsum(dC, conj(A))``, so each intermediate is used
    once instead of recontracting the whole network for every operand.
    """
    final_name, final_subs = tape[-1]
    grads = {
        final_name: grad_out if final_subs == out else einsum_many(f"{out}->{final_subs}", grad_out, xp=xp)
    }
    for (a, sa, xa), (b, sb, xb), (name, sc) in reversed(tape[:-1]):
        gc = grads.pop(name)
        for target, st, xt, so, xo in ((a, sa, xa, sb, xb), (b, sb, xb, sa, xa)):
            g = einsum_gradient([sc, so], st, [gc, xo], None, None, shape=tuple(xt.shape), xp=xp)
            grads[target] = grads[target] + g if target in grads else g
    return grads


def einsum_gradient(
    subscripts: list[str],
    out: str,
    operands: list[Any],
    grad_out: Any,
    j: int | None,
    *,
    shape: tuple[int, ...] | None = None,
    xp: Any = None,
) -> Any:
    """Gradient with respect to ``operands[j]`` of ``Y = einsum(subscripts -> out, operands)``.

    ``grad_j = einsum(grad_out, conj(others) -> subscripts[j])``; indices of ``subscripts[j]``
    found nowhere else (summed in the forward) come back by broadcasting.

    With ``j=None`` the call is already in adjoint form: ``subscripts`` and ``operands`` are
    ``[gradient, other operands...]``, ``out`` the target subscripts and ``shape`` its shape.
    """
    if j is not None:
        others = [k for k in range(len(subscripts)) if k != j]
        target_subs = subscripts[j]
        shape = tuple(operands[j].shape)
        subscripts = [out] + [subscripts[k] for k in others]
        operands = [grad_out] + [operands[k] for k in others]
    else:
        target_subs = out
    nxp = _native(xp, operands[0])
    present = set().union(*subscripts)
    target = "".join(c for c in target_subs if c in present)
    ops = [operands[0]] + [nxp.conj(o) if o.dtype.kind == "c" else o for o in operands[1:]]
    grad = einsum_many(",".join(subscripts) + "->" + target, *ops, xp=xp)
    if target != target_subs:
        expanded = [shape[i] if c in present else 1 for i, c in enumerate(target_subs)]
        grad = nxp.broadcast_to(grad.reshape(expanded), shape)
    return grad


def einsum_many(eq: str, *operands: Any, xp: Any = None) -> Any:
    """``einsum(eq, *operands)``; with numpy and two or more operands along a cached greedy path
    (numpy's path search costs more than a small contraction itself)."""
    nxp = _native(xp, operands[0])
    if len(operands) > 1 and is_numpy_namespace(nxp):
        path = _cached_path(eq, tuple(tuple(o.shape) for o in operands))
        return np.einsum(eq, *operands, optimize=path)
    return nxp.einsum(eq, *operands)


def _native(xp: Any, array: Any):
    """numpy or CuPy: behind the given namespace, else of the array."""
    return array_module(array) if xp is None else native(xp)


@functools.lru_cache(maxsize=256)
def _cached_path(eq: str, shapes: tuple[tuple[int, ...], ...]) -> list:
    dummies = [np.broadcast_to(np.zeros((), dtype=np.complex64), s) for s in shapes]
    # No memory limit: numpy would otherwise leave the last operands to one slow multi-operand loop.
    return np.einsum_path(eq, *dummies, optimize=("greedy", 2**40))[0]
