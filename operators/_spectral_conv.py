"""Spectral convolution (the Fourier layer of FNO) with a hand-written adjoint and factorized weights."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tensorkit.extend import (
    array_module,
    check_allocation,
    check_bool,
    check_choice,
    check_int,
)
from tensorkit.nn import (
    FACTORIZATIONS,
    FactorizedWeight,
    Module,
    backprop_pairwise,
    contract_pairwise,
)

from ._fourier import (
    forward_transform,
    forward_transform_adjoint,
    inverse_transform,
    inverse_transform_adjoint,
    make_plan,
)

__all__ = ["SpectralConv"]

IMPLEMENTATIONS = ("factorized", "reconstructed")
_WEIGHT = "ioxyz"  # subscripts of the weight: input channel, output channel, modes
FFT_NORMS = ("forward", "backward", "ortho")
MAX_SPATIAL_DIMS = 3


class SpectralConv(Module):
    """Fourier-domain convolution ``y = irfft(W . rfft(x)) + b`` over 1, 2 or 3 spatial dimensions.

    For an input ``x`` of shape ``(batch, in_channels, *spatial)`` the layer computes the real FFT
    over the spatial axes, keeps the lowest modes, multiplies them by the learned complex weight

    .. math::

        \\hat y_{b, o, k} = \\sum_i \\hat x_{b, i, k} \\, W_{i, o, k}

    (a different ``in x out`` matrix for every kept mode ``k``), sets the other modes to zero and
    transforms back at the input resolution, so the same weights act on any grid fine enough to
    hold the kept modes (zero-shot super-resolution).

    Modes follow neuraloperator (>= 1.0): ``n_modes[d]`` is the number of modes kept in total along
    dimension ``d``, centred on frequency 0 (``n_modes[d] // 2`` negative ones); along the last
    dimension, whose real FFT stores only non-negative frequencies, ``n_modes[-1] // 2 + 1`` are
    kept. The weight therefore has shape ``(in, out, n_modes[0], ..., n_modes[-1] // 2 + 1)`` with
    the frequencies of each non-last dimension in increasing order (neuraloperator's layout).

    Parameters
    ----------
    in_channels, out_channels : int
    n_modes : int or tuple of int
        Modes per spatial dimension (1, 2 or 3 of them).
    factorization : None, "cp", "tucker" or "tt"
        Hold the weight densely or as the factors of a CP / Tucker / tensor-train decomposition.
    rank : float, int or tuple
        As neuraloperator: a float is the fraction of the dense weight's parameter count, an int or
        tuple an explicit rank (CP: int; Tucker: one per mode; TT: bond dimensions). Ignored when
        ``factorization`` is None.
    implementation : "factorized" or "reconstructed"
        ``factorized`` contracts the input with the factors directly (the dense weight is never
        formed); ``reconstructed`` rebuilds the dense weight (``to_dense`` of the format) first. Both
        hold the same parameters, so a ``state_dict`` moves between them.
    fft_norm : "forward", "backward" or "ortho"
        Normalization of the forward FFT (the inverse uses the matching one). With "forward" the
        Fourier coefficients do not scale with the grid size, which is what makes the layer
        resolution-independent.
    bias : bool
        Add a learned per-channel bias (as neuraloperator).
    joint : (JointSpectralWeight, int), optional
        Take the weight from slice ``layer`` of a weight shared by several layers (MG-TFNO's joint
        factorization, :class:`JointSpectralWeight`); this layer then holds no weight parameters
        (the model registers the joint weight once) and ``factorization`` / ``rank`` are the joint
        weight's.
    dtype, random_state
        See :class:`tensorkit.nn.Module`. Weights are drawn as in neuraloperator: complex normal
        with standard deviation ``sqrt(2 / (in + out))`` for the (reconstructed) weight.

    References
    ----------
    Li et al., "Fourier Neural Operator for Parametric Partial Differential Equations", ICLR 2021.
    Kossaifi et al., "Multi-Grid Tensorized Fourier Neural Operator for High-Resolution PDEs",
    TMLR 2024.

    Examples
    --------
    >>> import numpy as np
    >>> from operators import SpectralConv
    >>> layer = SpectralConv(2, 3, (8, 8), factorization="tucker", rank=0.5, random_state=0)
    >>> layer(np.ones((4, 2, 16, 16))).shape
    (4, 3, 16, 16)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        n_modes: int | tuple[int, ...],
        *,
        factorization: str | None = None,
        rank: float | int | tuple[int, ...] = 1.0,
        implementation: str = "factorized",
        fft_norm: str = "forward",
        bias: bool = True,
        joint: tuple[Any, int] | None = None,
        dtype: Any = np.float64,
        random_state: Any = None,
    ):
        super().__init__(dtype=dtype, random_state=random_state)
        self.in_channels = check_int(in_channels, "in_channels", minimum=1)
        self.out_channels = check_int(out_channels, "out_channels", minimum=1)
        self.n_modes = check_n_modes(n_modes)
        if isinstance(factorization, str):
            factorization = factorization.lower()
            if factorization == "dense":
                factorization = None
        self.factorization = check_choice(factorization, "factorization", FACTORIZATIONS)
        self.implementation = check_choice(implementation, "implementation", IMPLEMENTATIONS)
        self.fft_norm = check_choice(fft_norm, "fft_norm", FFT_NORMS)
        check_bool(bias, "bias")
        self.order = len(self.n_modes)
        # Modes stored per dimension: all n_modes along leading dims, n // 2 + 1 of the real FFT last.
        self.weight_modes = (*self.n_modes[:-1], self.n_modes[-1] // 2 + 1)
        self.weight_shape = (self.in_channels, self.out_channels, *self.weight_modes)
        self._joint, self._layer = _check_joint(joint, self.weight_shape, self.factorization)
        if self._joint is None and (factorization is None or self.implementation == "reconstructed"):
            # the dense complex weight is held (or rebuilt every forward), with its draw's temporary
            check_allocation(
                self.weight_shape, self.complex_dtype, "SpectralConv's dense weight", count=2,
                alternative="fewer n_modes, or factorization='cp'/'tucker'/'tt' with "
                "implementation='factorized' (the dense weight is never formed)",
            )
        if self._joint is not None:
            # the factors live in the joint weight, registered once by the model that owns it
            self.weight = self._joint.layer_weight
            self.factorization = self._joint.factorization
        else:
            self.weight = FactorizedWeight(
                self.weight_shape, factorization, rank, subscripts=_WEIGHT[: 2 + self.order]
            )
        self.rank = self.weight.rank
        check_allocation(
            (self.weight.num_parameters(),), self.complex_dtype, "SpectralConv's weight factors",
            count=2, alternative="fewer n_modes or a smaller rank",
        )
        std = math.sqrt(2.0 / (self.in_channels + self.out_channels))
        factor_std = self.weight.factor_std(std)
        for name, _, shape in self.weight.specs if self._joint is None else ():
            if name == "weights":  # CP weights start at one, as in tltorch
                value = np.ones(shape, dtype=np.complex128)
            else:
                # complex normal: real and imaginary parts each carry half the variance
                value = self.rng.standard_normal((*shape, 2)) @ np.array([1.0, 1.0j])
                value *= factor_std / math.sqrt(2)
                if self.factorization is not None:
                    # Adam moves every entry by about lr per step whatever its scale: factors drawn
                    # at factor_std would change std / factor_std times slower, relatively, than
                    # the dense weight they replace; this gives them its relative step
                    self.lr_scales[name] = factor_std / std
            self.add_parameter(name, value)
        if bias:
            self.add_parameter("bias", std * self.rng.standard_normal((self.out_channels,)))
        self._cache: dict[str, Any] = {}

    # ------------------------------------------------------------------------------------ weights
    def weight_tensor(self) -> Any:
        """The spectral weight in its format (dense array, CPTensor, TuckerTensor or TTTensor),
        sharing the parameter arrays."""
        return self.weight.to_format(self._factors())

    def dense_weight(self) -> Any:
        """The dense weight ``(in, out, *weight_modes)``, rebuilt from the factors if factorized
        (the einsum whose adjoint gives the factor gradients; equal to ``weight_tensor().to_dense()``)."""
        return self.weight.dense(self._factors())

    # ------------------------------------------------------------------------------------ forward
    def forward(self, x: Any) -> Any:
        x = self._as_input(x, min_ndim=2)
        if x.ndim != 2 + self.order or x.shape[1] != self.in_channels:
            raise ValueError(
                f"SpectralConv expects x of shape (batch, {self.in_channels}, "
                f"{', '.join(['n'] * self.order)}), got {tuple(x.shape)}"
            )
        spatial = tuple(int(s) for s in x.shape[2:])
        plan = make_plan(spatial, self.n_modes, self.dtype)
        nxp = array_module(x)
        x_hat = forward_transform(nxp, x, plan, self.fft_norm)
        y_hat = self._contract(nxp, x_hat)
        y = inverse_transform(nxp, y_hat, plan, self.fft_norm)
        if "bias" in self.params:
            y += self.params["bias"].reshape((1, -1) + (1,) * self.order)
        self._cache = {"x_hat": x_hat, "plan": plan, "nxp": nxp}
        return y

    def backward(self, grad_out: Any) -> Any:
        if not self._cache:
            raise RuntimeError("SpectralConv.backward called before forward")
        nxp, plan, x_hat = self._cache["nxp"], self._cache["plan"], self._cache["x_hat"]
        if not hasattr(grad_out, "dtype") or not hasattr(grad_out, "shape"):
            raise TypeError(
                f"SpectralConv.backward: grad_out must be an array, got {type(grad_out).__name__}"
            )
        if grad_out.dtype.kind not in "fiub":
            raise TypeError(f"SpectralConv.backward: grad_out must be real, got dtype {grad_out.dtype}")
        expected = (x_hat.shape[0], self.out_channels, *plan.spatial)
        if tuple(grad_out.shape) != expected:
            raise ValueError(
                f"SpectralConv.backward: grad_out has shape {tuple(grad_out.shape)}, the last "
                f"forward's output has shape {expected}"
            )
        grad_out = grad_out.astype(self.dtype, copy=False)
        if "bias" in self.params:
            self.grads["bias"] += grad_out.sum(axis=(0, *range(2, grad_out.ndim)))
        g_hat = inverse_transform_adjoint(nxp, grad_out, plan, self.fft_norm)
        gx_hat = self._contract_backward(nxp, x_hat, g_hat)
        return forward_transform_adjoint(nxp, gx_hat, plan, self.fft_norm)

    # ------------------------------------------------------------------------------ contractions
    def _factors(self) -> list[Any]:
        if self._joint is not None:
            return self._joint.layer_factors(self._layer)
        return [self.params[name] for name in self.weight.names]

    def _accumulate(self, grads: list[Any]) -> None:
        """Add the gradients of :meth:`_factors` to the parameters that hold them."""
        if self._joint is not None:
            self._joint.accumulate(self._layer, grads)
            return
        for name, grad in zip(self.weight.names, grads, strict=True):
            self.grads[name] += grad

    def _step_names(self) -> dict[str, str]:
        """Parameter name -> operand name in :func:`forward_steps` (f0, f1, ...; weights; core)."""
        return {
            name: name if name in ("weights", "core") else "f" + name.rsplit("_", 1)[1]
            for name in self.weight.names
        }

    def _contract(self, nxp: Any, x_hat: Any) -> Any:
        factors = self._used = self._factors()
        if self.factorization is None:
            return _dense_contract(nxp, x_hat, factors[0])
        if self.implementation == "reconstructed":
            return _dense_contract(nxp, x_hat, self.weight.dense(factors))
        w = self.weight.subscripts
        operands = {"x": ("n" + w[0] + w[2:], x_hat)}
        step_names = self._step_names()
        for (name, subs, _), factor in zip(self.weight.specs, factors, strict=True):
            operands[step_names[name]] = (subs, factor)
        tape: list = []
        out = contract_pairwise(
            operands, _forward_steps(self.factorization, self.order), "n" + w[1] + w[2:], tape=tape, xp=nxp
        )
        self._tape = tape
        return out

    def _contract_backward(self, nxp: Any, x_hat: Any, g_hat: Any) -> Any:
        """Accumulate the weight (factor) gradients; return the gradient of ``x_hat``."""
        factors = self._used
        if self.factorization is None:
            gx, gw = _dense_contract_backward(nxp, x_hat, factors[0], g_hat)
            self._accumulate([gw])
            return gx
        w = self.weight.subscripts
        if self.implementation == "reconstructed":
            gx, gw = _dense_contract_backward(nxp, x_hat, self.weight.dense(factors), g_hat)
            self._accumulate(self.weight.factor_gradients(factors, gw))
            return gx
        grads = backprop_pairwise(self._tape, g_hat, "n" + w[1] + w[2:], xp=nxp)
        self._accumulate([grads[step] for step in self._step_names().values()])
        return grads["x"]

    def extra_repr(self) -> str:
        fact = (
            "" if self.factorization is None
            else f", factorization={self.factorization!r}, rank={self.rank}"
        )
        return f"{self.in_channels}, {self.out_channels}, n_modes={self.n_modes}{fact}"


# ------------------------------------------------------------------------------ dense contraction
def _dense_contract(nxp, x_hat, weight):
    """``y[b, o, k] = sum_i x[b, i, k] W[i, o, k]`` as one batched matmul over the modes ``k``."""
    b, i = x_hat.shape[:2]
    modes = x_hat.shape[2:]
    o, k = weight.shape[1], math.prod(modes)  # sizes spelled out: -1 is ambiguous for an empty batch
    xk = nxp.moveaxis(x_hat.reshape(b, i, k), -1, 0)  # (K, b, i)
    wk = nxp.moveaxis(weight.reshape(i, o, k), -1, 0)  # (K, i, o)
    yk = nxp.matmul(xk, wk)  # (K, b, o)
    return nxp.moveaxis(yk, 0, -1).reshape(b, o, *modes)


def _dense_contract_backward(nxp, x_hat, weight, g_hat):
    """``(dL/dx_hat, dL/dW)`` of :func:`_dense_contract`: ``G conj(W)`` and ``sum_b conj(X) G``."""
    b, i = x_hat.shape[:2]
    modes = x_hat.shape[2:]
    o, k = weight.shape[1], math.prod(modes)
    xk = nxp.moveaxis(x_hat.reshape(b, i, k), -1, 0)
    wk = nxp.moveaxis(weight.reshape(i, o, k), -1, 0)
    gk = nxp.moveaxis(g_hat.reshape(b, o, k), -1, 0)
    gx = nxp.matmul(gk, nxp.conj(nxp.swapaxes(wk, -1, -2)))  # (K, b, i)
    gw = nxp.matmul(nxp.conj(nxp.swapaxes(xk, -1, -2)), gk)  # (K, i, o)
    return (
        nxp.moveaxis(gx, 0, -1).reshape(b, i, *modes),
        nxp.moveaxis(gw, 0, -1).reshape(i, o, *modes),
    )


def _check_joint(joint: Any, weight_shape: tuple[int, ...], factorization: str | None) -> tuple[Any, Any]:
    """``(JointSpectralWeight, layer)`` or ``(None, None)``, checked against this layer's weight."""
    if joint is None:
        return None, None
    from ._joint import JointSpectralWeight

    if not isinstance(joint, tuple) or len(joint) != 2 or not isinstance(joint[0], JointSpectralWeight):
        raise TypeError(f"joint must be a (JointSpectralWeight, layer) pair, got {joint!r}")
    weight, layer = joint
    layer = check_int(layer, "layer", minimum=0, maximum=weight.n_layers - 1)
    if weight.layer_shape != weight_shape:
        raise ValueError(
            f"the joint weight holds layers of shape {weight.layer_shape}, this layer needs {weight_shape}"
        )
    if factorization is not None and factorization != weight.factorization:
        raise ValueError(
            f"factorization={factorization!r} differs from the joint weight's {weight.factorization!r}"
        )
    return weight, layer


def check_n_modes(n_modes: Any) -> tuple[int, ...]:
    """Modes per spatial dimension: an int (1D) or a tuple of 1 to 3 positive ints."""
    if isinstance(n_modes, (int, np.integer)) and not isinstance(n_modes, (bool, np.bool_)):
        n_modes = (n_modes,)
    if not isinstance(n_modes, (tuple, list)) or not 1 <= len(n_modes) <= MAX_SPATIAL_DIMS:
        raise ValueError(
            f"n_modes must be an int or a tuple of 1 to {MAX_SPATIAL_DIMS} ints (one per spatial "
            f"dimension), got {n_modes!r}"
        )
    return tuple(check_int(m, f"n_modes[{k}]", minimum=1) for k, m in enumerate(n_modes))


def _forward_steps(factorization: str, order: int) -> list[tuple[str, str, str]]:
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
