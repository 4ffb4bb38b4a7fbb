r"""Spectral weights of all Fourier layers factorized jointly (one tensor with a leading layer mode).

MG-TFNO (Kossaifi et al.) holds the spectral weights of the ``L`` layers as ONE tensor
``W[l, i, o, x, y]`` in CP or Tucker form (tltorch's ``FactorizedTensor`` with ``n_layers``), so the
layers share the channel and mode factors and differ only through the row ``l`` of the layer
factor. Layer ``l``'s weight ``W[l]`` is again a CP / Tucker / TT tensor of order ``2 + d``:

====== ====================================================== =========================================
kind   joint factors                                          layer ``l`` (per-layer factors)
====== ====================================================== =========================================
dense  ``W (L, i, o, ...)``                                   ``W[l]``
cp     ``w (R)``, ``A_L (L, R)``, ``A_i``, ``A_o``, ...       weights ``w * A_L[l]``, ``A_i``, ``A_o``, ...
tucker ``G (r_L, r_i, ...)``, ``U_L (L, r_L)``, ``U_i``, ...  core ``sum_a U_L[l, a] G[a]``, ``U_i``, ...
tt     ``G_0 (1, L, r_1)``, ``G_1 (r_1, i, r_2)``, ...        ``G_0[:, l] G_1 (1, i, r_2)``, ``G_2``, ...
====== ====================================================== =========================================

Each :class:`~operators.SpectralConv` built with ``joint=(weight, l)`` contracts its input with the
per-layer factors exactly as a per-layer factorized layer does (never forming a dense weight); its
factor gradients are mapped back by :meth:`JointSpectralWeight.accumulate` (the chain rule through
the one small product above) and summed into the shared factors.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tensorkit.extend import array_module, check_int, check_real
from tensorkit.nn import FACTORIZATIONS, FactorizedWeight, Module

__all__ = ["JointSpectralWeight"]

_SUBSCRIPTS = "lioxyz"  # layer, input channel, output channel, modes


class JointSpectralWeight(Module):
    """The spectral weights of ``n_layers`` layers as one (factorized) tensor ``(n_layers, in, out, *modes)``.

    Parameters
    ----------
    n_layers, in_channels, out_channels : int
    weight_modes : tuple of int
        Stored modes per spatial dimension (:attr:`operators.SpectralConv.weight_modes`).
    factorization : None, "cp", "tucker" or "tt"
    rank : float, int or tuple
        Of the joint tensor (a float is the fraction of the parameters of all dense layer weights
        together, as tltorch with ``n_layers``).
    std : float, optional
        Scale of the entries of the weight (default ``sqrt(2 / (in + out))``, as :class:`SpectralConv`).
    dtype, random_state
        See :class:`tensorkit.nn.Module`.

    Attributes
    ----------
    weight : FactorizedWeight
        The joint format (subscripts ``"lioxy"``).
    layer_weight : FactorizedWeight
        The format of one layer's slice (same factorization, the induced rank).

    Examples
    --------
    >>> import numpy as np
    >>> from operators import JointSpectralWeight
    >>> joint = JointSpectralWeight(3, 4, 4, (6, 4), "tucker", 0.5, random_state=0)
    >>> joint.weight.shape, joint.layer_weight.rank == joint.weight.rank[1:]
    ((3, 4, 4, 6, 4), True)
    >>> w1 = joint.layer_weight.dense(joint.layer_factors(1))
    >>> bool(np.allclose(w1, joint.dense()[1]))
    True
    """

    def __init__(
        self,
        n_layers: int,
        in_channels: int,
        out_channels: int,
        weight_modes: tuple[int, ...],
        factorization: str | None,
        rank: Any = 1.0,
        *,
        std: float | None = None,
        dtype: Any = np.float64,
        random_state: Any = None,
    ):
        super().__init__(dtype=dtype, random_state=random_state)
        self.n_layers = check_int(n_layers, "n_layers", minimum=1)
        in_channels = check_int(in_channels, "in_channels", minimum=1)
        out_channels = check_int(out_channels, "out_channels", minimum=1)
        if not isinstance(weight_modes, (tuple, list)) or not 1 <= len(weight_modes) <= 3:
            raise (ValueError if isinstance(weight_modes, (tuple, list)) else TypeError)(
                "weight_modes must be a tuple of 1 to 3 ints (one per spatial dimension), "
                f"got {weight_modes!r}"
            )
        modes = tuple(check_int(m, f"weight_modes[{k}]", minimum=1) for k, m in enumerate(weight_modes))
        if factorization not in FACTORIZATIONS:
            raise ValueError(f"factorization must be one of {FACTORIZATIONS}, got {factorization!r}")
        self.factorization = factorization
        shape = (self.n_layers, in_channels, out_channels, *modes)
        subs = _SUBSCRIPTS[: len(shape)]
        self.weight = FactorizedWeight(shape, factorization, rank, subscripts=subs)
        self.rank = self.weight.rank
        self.layer_weight = FactorizedWeight(shape[1:], factorization, _layer_rank(factorization, self.rank),
                                             subscripts=subs[1:])
        if std is None:
            std = math.sqrt(2.0 / (in_channels + out_channels))
        std = check_real(std, "std", minimum=0.0, strict_minimum=True)
        factor_std = self.weight.factor_std(std)
        for name, _, fshape in self.weight.specs:
            if name == "weights":  # CP weights start at one, as in tltorch
                value = np.ones(fshape, dtype=np.complex128)
            else:
                value = self.rng.standard_normal((*fshape, 2)) @ np.array([1.0, 1.0j])
                value *= factor_std / math.sqrt(2)
                # the dense weight's relative step under Adam, as SpectralConv's factors
                self.lr_scales[name] = factor_std / std
            self.add_parameter(name, value)

    @property
    def layer_shape(self) -> tuple[int, ...]:
        """Shape of one layer's weight ``(in, out, *modes)``."""
        return self.weight.shape[1:]

    def factors(self) -> list[Any]:
        """The joint factors, in :attr:`weight` spec order (the parameter arrays)."""
        return [self.params[name] for name in self.weight.names]

    def dense(self) -> Any:
        """The dense joint weight ``(n_layers, in, out, *modes)``."""
        return self.weight.dense(self.factors())

    def to_format(self) -> Any:
        """The joint weight as a tensorkit format sharing the parameter arrays."""
        return self.weight.to_format(self.factors())

    def layer_factors(self, layer: int) -> list[Any]:
        """Factors of layer ``layer``'s weight in :attr:`layer_weight` order (fresh arrays only where
        the layer row is merged in; the other factors are the shared parameters)."""
        layer = self._check_layer(layer)
        p = self.params
        f = self.factorization
        if f is None:
            return [p["weight"][layer]]
        n = len(self.layer_shape)
        if f == "cp":
            return [p["weights"] * p["factor_0"][layer]] + [p[f"factor_{k}"] for k in range(1, n + 1)]
        if f == "tucker":
            core = p["core"]
            merged = (p["factor_0"][layer] @ core.reshape(core.shape[0], -1)).reshape(core.shape[1:])
            return [merged] + [p[f"factor_{k}"] for k in range(1, n + 1)]
        c0, c1 = p["core_0"][:, layer, :], p["core_1"]
        merged = (c0 @ c1.reshape(c1.shape[0], -1)).reshape(1, *c1.shape[1:])
        return [merged] + [p[f"core_{k}"] for k in range(2, n + 1)]

    def accumulate(self, layer: int, grads: list[Any]) -> None:
        """Add the gradients of layer ``layer``'s factors (in :meth:`layer_factors` order) to the
        joint factors' gradients (the chain rule through the merge, PyTorch's complex convention)."""
        layer = self._check_layer(layer)
        expected = [tuple(spec.shape) for spec in self.layer_weight.specs]
        got = [tuple(getattr(a, "shape", ())) for a in grads] if isinstance(grads, (list, tuple)) else grads
        if got != expected:
            raise ValueError(
                f"grads must be the gradients of layer_factors(layer), shapes {expected}, got {got}"
            )
        p, g = self.params, self.grads
        f = self.factorization
        if f is None:
            g["weight"][layer] += grads[0]
            return
        nxp = array_module(grads[0])
        first, rest = grads[0], grads[1:]
        if f == "cp":
            g["weights"] += first * nxp.conj(p["factor_0"][layer])
            g["factor_0"][layer] += first * nxp.conj(p["weights"])
            names = [f"factor_{k}" for k in range(1, len(rest) + 1)]
        elif f == "tucker":
            core = p["core"].reshape(p["core"].shape[0], -1)
            flat = first.reshape(-1)
            g["core"] += (nxp.conj(p["factor_0"][layer])[:, None] * flat[None, :]).reshape(p["core"].shape)
            g["factor_0"][layer] += nxp.conj(core) @ flat
            names = [f"factor_{k}" for k in range(1, len(rest) + 1)]
        else:
            c0, c1 = p["core_0"][:, layer, :], p["core_1"]
            flat = first.reshape(1, -1)
            c1_flat = c1.reshape(c1.shape[0], -1)
            g["core_0"][:, layer, :] += flat @ nxp.conj(c1_flat).T
            g["core_1"] += (nxp.conj(c0).T @ flat).reshape(c1.shape)
            names = [f"core_{k}" for k in range(2, len(rest) + 2)]
        for name, grad in zip(names, rest, strict=True):
            g[name] += grad

    def _check_layer(self, layer: Any) -> int:
        # a negative index would silently pick a layer from the end
        return check_int(layer, "layer", minimum=0, maximum=self.n_layers - 1)

    def forward(self, x: Any) -> Any:
        raise TypeError("JointSpectralWeight holds parameters; the SpectralConv layers sharing it compute")

    def extra_repr(self) -> str:
        return f"{self.weight.shape}, factorization={self.factorization!r}, rank={self.rank}"


def _layer_rank(factorization: str | None, rank: Any) -> Any:
    """Rank of one layer's slice of a joint tensor of rank ``rank``."""
    if factorization is None:
        return None
    if factorization == "cp":
        return rank
    if factorization == "tucker":
        return tuple(rank[1:])
    return (1, *rank[2:])
