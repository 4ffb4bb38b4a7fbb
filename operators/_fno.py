"""Fourier neural operators: FNO and its tensorized variant TFNO (neuraloperator's architecture)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorkit.extend import array_module, check_bool, check_choice, check_int, check_real
from tensorkit.nn import GELU, Linear, Module, Sequential

from ._embedding import _coordinates
from ._joint import JointSpectralWeight
from ._spectral_conv import SpectralConv, check_n_modes

__all__ = ["FNO", "TFNO", "FNOBlock"]

POSITIONAL_EMBEDDINGS = ("grid", "dirichlet", "periodic", None)


class FNO(Module):
    """Fourier neural operator ``u = Q(L_n(... L_1(P([a, grid]))))`` (Li et al. 2021), laid out as
    neuraloperator (>= 2.0) builds it, with every adjoint written out.

    - ``P`` (lifting): a channel MLP ``in_channels + dim -> lifting_channels -> hidden_channels``;
    - each Fourier layer ``L``: ``z = GELU(K(v) + W v)`` with ``K`` a :class:`SpectralConv` and ``W``
      a 1x1 convolution, then ``v' = GELU(MLP(z) + s * v)`` with a channel MLP of width
      ``hidden_channels / 2`` and a per-channel soft gate ``s`` (no GELU after the last layer);
    - ``Q`` (projection): a channel MLP ``hidden -> projection_channels -> out_channels``.

    Parameters
    ----------
    n_modes : int or tuple of int
        Fourier modes per spatial dimension (1D, 2D or 3D), as :class:`SpectralConv` (neuraloperator
        >= 1.0: modes in total per dimension; the last dimension keeps ``n // 2 + 1``).
    in_channels : int
        Data channels of the input (the grid embedding adds its own).
    out_channels, hidden_channels : int
    n_layers : int
    lifting_channels, projection_channels : int or None
        Hidden widths of the lifting and projection MLPs; None means ``2 * hidden_channels``
        (neuraloperator's default ratio), 0 a single linear layer.
    positional_embedding : "grid", "dirichlet", "periodic" or None
        ``"grid"``: append the coordinates of the nodes as channels. The grid spans ``[0, 1]`` with
        both ends included, i.e. nodal data that include the boundary (Darcy); a node keeps its
        physical coordinate at every resolution (with ``periodic_fold``, folded with the data: the
        first node holds 1/2, the mean of the two ends). ``"dirichlet"``: the coordinates and
        :math:`\\phi = \\prod_i \\sin(\\pi x_i)`, the lowest eigenfunction of the Laplacian on the
        box with zero boundary values: the shape of a solution that vanishes on the boundary,
        smooth inside and continuous across the fold (zero at both ends), so the same at every
        resolution; standardized over the box, :math:`(\\phi - (2/\\pi)^d) / \\sqrt{2^{-d} -
        (2/\\pi)^{2d}}`. ``"periodic"``: append
        :math:`\\sin(2 \\pi x_j), \\cos(2 \\pi x_j)` per axis on the periodic grid the Fourier layers
        see, ``x_j = j / n`` (``n`` points; with ``periodic_fold`` the nodes ``i / (R - 1)``):
        smooth across the period, as :class:`PeriodicCoordinates`.
    domain_padding : float, tuple of float, or None
        Zero-pad each spatial dimension on both sides by this fraction of its length after lifting
        (and crop before projection), so the non-periodic problem is not wrapped around by the FFT;
        a tuple gives one fraction per dimension (e.g. ``(0, 0, 0.1)`` pads only the time axis of a
        space-time FNO-3D, whose spatial axes are periodic).
    periodic_fold : bool
        The input holds nodal samples ``v_0 .. v_{R-1}`` of fields on the closed box ``[0, 1]^d``,
        both ends included (``x_i = i / (R - 1)``), that need not be periodic (Darcy's
        coefficient). Each spatial axis is folded onto the periodic grid of its first ``R - 1``
        nodes, the first taking the mean of the two ends,

        .. math:: \\tilde v_0 = (v_0 + v_{R-1}) / 2, \\qquad \\tilde v_i = v_i \\quad (0 < i < R - 1),

        the layers run on that grid (one period ``[0, 1)`` at every resolution; the DFT of the
        folded samples is the trapezoidal rule of the Fourier integral), and the outputs come back
        on the nodal grid with the last node a copy of the first (exact for outputs equal at both
        ends, e.g. zero on the boundary). Unfolded, the DFT weights both end samples fully: an
        O(h) error on every mode of a field that differs at the two ends, different at every
        resolution, which a model trained at one resolution misreads at another (the Darcy
        section of the user guide measures it).
    factorization, rank, implementation, fft_norm
        Passed to every :class:`SpectralConv`.
    joint_factorization : bool
        Factorize the spectral weights of all layers jointly, as ONE tensor ``(n_layers, hidden,
        hidden, *modes)`` (a :class:`JointSpectralWeight`, child ``spectral_weight``; ``rank`` is
        then the joint tensor's), instead of one tensor per layer.
    dtype, random_state
        See :class:`tensorkit.nn.Module`.

    Examples
    --------
    >>> import numpy as np
    >>> from operators import FNO
    >>> model = FNO((8, 8), 1, 1, 16, n_layers=2, random_state=0)
    >>> model(np.zeros((2, 1, 16, 16))).shape, model(np.zeros((2, 1, 32, 32))).shape
    ((2, 1, 16, 16), (2, 1, 32, 32))

    A space-time FNO-3D (Li et al.'s Navier-Stokes model: 10 snapshots in, the next 40 out) takes
    the input snapshots as channels, repeated along a time axis as long as the output; the grid
    embedding appends the ``(x, y, t)`` coordinates, and only the non-periodic time axis is padded.
    The paper's modes 8 (frequencies -8..7 in x and y, 0..7 in t) and width 20 read
    ``FNO((16, 16, 14), 10, 1, 20, lifting_channels=0, projection_channels=128,
    domain_padding=(0, 0, 0.075))``; a small one:

    >>> a = np.zeros((2, 10, 16, 16))  # (batch, 10 snapshots, x, y)
    >>> x = np.repeat(a[..., None], 40, axis=-1)  # (batch, 10, x, y, t)
    >>> fno3d = FNO((8, 8, 6), 10, 1, 8, n_layers=2, domain_padding=(0, 0, 0.075), random_state=0)
    >>> fno3d(x).shape  # the vorticity at the 40 next times
    (2, 1, 16, 16, 40)
    """

    def __init__(
        self,
        n_modes: int | tuple[int, ...],
        in_channels: int,
        out_channels: int,
        hidden_channels: int,
        n_layers: int = 4,
        *,
        lifting_channels: int | None = None,
        projection_channels: int | None = None,
        positional_embedding: str | None = "grid",
        domain_padding: float | tuple[float, ...] | None = None,
        periodic_fold: bool = False,
        factorization: str | None = None,
        rank: float | int | tuple[int, ...] = 1.0,
        implementation: str = "factorized",
        joint_factorization: bool = False,
        fft_norm: str = "forward",
        dtype: Any = np.float64,
        random_state: Any = None,
    ):
        super().__init__(dtype=dtype, random_state=random_state)
        self.n_modes = check_n_modes(n_modes)
        self.n_dim = len(self.n_modes)
        self.in_channels = check_int(in_channels, "in_channels", minimum=1)
        self.out_channels = check_int(out_channels, "out_channels", minimum=1)
        self.hidden_channels = check_int(hidden_channels, "hidden_channels", minimum=1)
        self.n_layers = check_int(n_layers, "n_layers", minimum=1)
        self.lifting_channels = _width(lifting_channels, "lifting_channels", 2 * self.hidden_channels)
        self.projection_channels = _width(
            projection_channels, "projection_channels", 2 * self.hidden_channels
        )
        self.positional_embedding = check_choice(
            positional_embedding, "positional_embedding", POSITIONAL_EMBEDDINGS
        )
        self.domain_padding = _domain_padding(domain_padding, self.n_dim)
        self.periodic_fold = check_bool(periodic_fold, "periodic_fold")
        self.joint_factorization = check_bool(joint_factorization, "joint_factorization")
        self.factorization = factorization
        self.rank = rank
        kw = {"dtype": self.dtype, "random_state": self.rng}
        embedded = {"grid": self.n_dim, "dirichlet": self.n_dim + 1, "periodic": 2 * self.n_dim, None: 0}[
            self.positional_embedding]
        lifting_in = self.in_channels + embedded
        self.add_module("lifting", _channel_mlp(lifting_in, self.lifting_channels, self.hidden_channels, kw))
        joint = None
        if self.joint_factorization:
            width = self.hidden_channels
            weight_modes = (*self.n_modes[:-1], self.n_modes[-1] // 2 + 1)
            joint = self.add_module("spectral_weight", JointSpectralWeight(
                self.n_layers, width, width, weight_modes, _factorization(factorization), rank, **kw
            ))
            self.rank = joint.rank
        for k in range(self.n_layers):
            self.add_module(
                f"block{k}",
                FNOBlock(
                    self.hidden_channels,
                    self.n_modes,
                    last=k == self.n_layers - 1,
                    factorization=factorization,
                    rank=rank,
                    joint=None if joint is None else (joint, k),
                    implementation=implementation,
                    fft_norm=fft_norm,
                    **kw,
                ),
            )
        self.add_module(
            "projection", _channel_mlp(self.hidden_channels, self.projection_channels, self.out_channels, kw)
        )
        self._pads: tuple[int, ...] | None = None

    def forward(self, x: Any) -> Any:
        x = self._as_input(x)
        if x.ndim != 2 + self.n_dim or x.shape[1] != self.in_channels:
            raise ValueError(
                f"{type(self).__name__} expects x of shape (batch, {self.in_channels}, "
                f"{', '.join(['n'] * self.n_dim)}), got {tuple(x.shape)}"
            )
        if x.shape[0] == 0:
            raise ValueError(
                f"{type(self).__name__} needs at least one sample, got x of shape {tuple(x.shape)}"
            )
        if self.periodic_fold and min(x.shape[2:]) < 3:
            raise ValueError(f"periodic_fold needs at least 3 nodes per axis, got {tuple(x.shape[2:])}")
        if self.positional_embedding in ("grid", "dirichlet"):
            x = _append_grid(x, dirichlet=self.positional_embedding == "dirichlet")
        if self.periodic_fold:
            x = _fold(x)
        if self.positional_embedding == "periodic":
            x = _append_periodic(x)
        v = self._modules["lifting"].forward(x)
        self._pads = tuple(round(p * s) for p, s in zip(self.domain_padding, v.shape[2:], strict=True))
        if any(self._pads):
            v = _pad(v, self._pads)
        for k in range(self.n_layers):
            v = self._modules[f"block{k}"].forward(v)
        if any(self._pads):
            v = _crop(v, self._pads)
        out = self._modules["projection"].forward(v)
        out = _unfold(out) if self.periodic_fold else out
        self._out_shape = tuple(out.shape)
        return out

    def backward(self, grad_out: Any) -> Any:
        if self._pads is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        # checked here, where the caller's shapes are known (inside, folding and padding change them)
        g = self._as_grad(grad_out, self._out_shape)
        if self.periodic_fold:
            g = _unfold_adjoint(g)
        g = self._modules["projection"].backward(g)
        if any(self._pads):
            g = _pad(g, self._pads)
        for k in reversed(range(self.n_layers)):
            # each gradient here is a new array of the layer after: the block may reuse it
            g = self._modules[f"block{k}"].backward(g, overwrite=True)
        if any(self._pads):
            g = _crop(g, self._pads)
        g = self._modules["lifting"].backward(g)
        if self.positional_embedding == "periodic":
            g = g[:, : g.shape[1] - 2 * self.n_dim]
        if self.periodic_fold:
            g = _fold_adjoint(g)
        return g[:, : self.in_channels]

    def extra_repr(self) -> str:
        fact = (
            "" if self.factorization is None
            else f", factorization={self.factorization!r}, rank={self.rank}"
        )
        return (
            f"n_modes={self.n_modes}, in={self.in_channels}, out={self.out_channels}, "
            f"hidden={self.hidden_channels}, n_layers={self.n_layers}{fact}"
        )


class TFNO(FNO):
    """Tensorized FNO: :class:`FNO` with Tucker-factorized spectral weights (rank 0.1) by default.

    A rank of 0.1 keeps about a tenth of the spectral parameters of the dense FNO (Kossaifi et al.,
    "Multi-Grid Tensorized Fourier Neural Operator for High-Resolution PDEs", TMLR 2024).
    """

    def __init__(
        self,
        n_modes: int | tuple[int, ...],
        in_channels: int,
        out_channels: int,
        hidden_channels: int,
        n_layers: int = 4,
        *,
        factorization: str | None = "tucker",
        rank: float | int | tuple[int, ...] = 0.1,
        **kwargs: Any,
    ):
        super().__init__(
            n_modes,
            in_channels,
            out_channels,
            hidden_channels,
            n_layers,
            factorization=factorization,
            rank=rank,
            **kwargs,
        )


class FNOBlock(Module):
    """One Fourier layer: ``z = act(K v + W v)``, ``v' = act(MLP(z) + s * v)`` (no ``act`` if last).

    ``K`` is a :class:`SpectralConv`, ``W`` a bias-free 1x1 convolution, ``MLP`` a two-layer channel
    MLP of width ``channels // 2`` (rounded) and ``s`` a per-channel soft gate initialized at one.
    """

    def __init__(
        self,
        channels: int,
        n_modes: tuple[int, ...],
        *,
        last: bool = False,
        factorization: str | None = None,
        rank: Any = 1.0,
        implementation: str = "factorized",
        joint: tuple[Any, int] | None = None,
        fft_norm: str = "forward",
        dtype: Any = np.float64,
        random_state: Any = None,
    ):
        super().__init__(dtype=dtype, random_state=random_state)
        kw = {"dtype": self.dtype, "random_state": self.rng}
        self.channels = channels
        self.last = last
        self.n_dim = len(n_modes)
        self.add_module(
            "spectral",
            SpectralConv(
                channels,
                channels,
                n_modes,
                factorization=factorization,
                rank=rank,
                implementation=implementation,
                joint=joint,
                fft_norm=fft_norm,
                **kw,
            ),
        )
        self.add_module("skip", Linear(channels, channels, bias=False, **kw))
        self.add_module("mlp", _channel_mlp(channels, round(channels * 0.5), channels, kw))
        self.add_parameter("gate", np.ones(channels))
        self.add_module("act_z", GELU(**kw))
        self.add_module("act_out", GELU(**kw))
        self._v = None

    def forward(self, v: Any) -> Any:
        # the sums go into the GEMM (beta = 1) and the GELU passes (activation and slope in one
        # pass, in place): no full-size temporaries besides the two layer outputs
        z = self._modules["spectral"].forward(v)
        self._modules["skip"].forward(v, add_to=z)  # one GEMM adding into z (BLAS beta = 1)
        if not self.last:
            z = self._modules["act_z"].forward_shifted(z, overwrite_x=True)
        out = self._modules["mlp"].forward(z)
        gate = self.params["gate"]
        if self.last:
            out += v * self._gate_view()
        else:
            out = self._modules["act_out"].forward_shifted(out, residual=v, gate=gate, overwrite_x=True)
        self._v = v
        return out

    def backward(self, grad_out: Any, *, overwrite: bool = False) -> Any:
        """The input gradient; ``overwrite=True`` lets the adjoint use ``grad_out`` as scratch
        (for an owner that no longer needs it, as :class:`FNO` between its blocks)."""
        if self._v is None:
            raise RuntimeError("FNOBlock.backward called before forward")
        v = self._v
        g = grad_out
        if not self.last:
            g = self._modules["act_out"].backward(g, overwrite=overwrite)
        shape = (v.shape[0], v.shape[1], -1)
        self.grads["gate"] += array_module(v).einsum("bcs,bcs->c", g.reshape(shape), v.reshape(shape))
        gz = self._modules["mlp"].backward(g)
        if not self.last:
            gz = self._modules["act_z"].backward(gz, overwrite=True)
        gv = self._modules["spectral"].backward(gz)
        self._modules["skip"].backward(gz, add_to=gv)
        if self.last and not overwrite:
            gv += g * self._gate_view()
        else:
            g *= self._gate_view()  # g is ours (act_out's array, or grad_out given as scratch)
            gv += g
        return gv

    def _gate_view(self):
        return self.params["gate"].reshape((1, -1) + (1,) * self.n_dim)


def _append_grid(x: Any, dirichlet: bool = False) -> Any:
    """The node coordinates in [0, 1] along each spatial axis as channels, and with ``dirichlet``
    the product of their ``sin(pi x)``."""
    nxp = array_module(x)
    spatial = x.shape[2:]
    axes = [nxp.linspace(0.0, 1.0, n, dtype=x.dtype) for n in spatial]
    grids = nxp.meshgrid(*axes, indexing="ij")
    if dirichlet:
        bubble = nxp.sin(np.pi * grids[0])
        for g in grids[1:]:
            bubble = bubble * nxp.sin(np.pi * g)
        # standardized over the box like normalized data channels (mean (2/pi)^d, E[.^2] = 2^-d): at
        # its raw [0, 1] scale the Darcy errors were 0-23% larger (TFNO the most)
        mean = (2.0 / np.pi) ** len(spatial)
        grids = [*grids, (bubble - mean) / np.sqrt(0.5 ** len(spatial) - mean**2)]
    grid = nxp.broadcast_to(nxp.stack(grids)[None], (x.shape[0], len(grids), *spatial))
    return nxp.concatenate([x, grid], axis=1)


def _append_periodic(x: Any) -> Any:
    """``sin, cos (2 pi j / n)`` along each spatial axis (in order), as channels: the channels of
    :class:`PeriodicCoordinates` with one harmonic."""
    nxp = array_module(x)
    coords = nxp.asarray(_coordinates(tuple(x.shape[2:]), 1).astype(x.dtype))
    return nxp.concatenate([x, nxp.broadcast_to(coords[None], (x.shape[0], *coords.shape))], axis=1)


def _along(axis: int, index: slice) -> tuple:
    return (slice(None),) * axis + (index,)


def _fold(x: Any) -> Any:
    """Nodal ``R`` -> periodic ``R - 1`` along every spatial axis: the first node takes the mean of
    the two ends."""
    nxp = array_module(x)
    for axis in range(2, x.ndim):
        ends = 0.5 * (x[_along(axis, slice(0, 1))] + x[_along(axis, slice(-1, None))])
        x = nxp.concatenate([ends, x[_along(axis, slice(1, -1))]], axis=axis)
    return x


def _fold_adjoint(g: Any) -> Any:
    nxp = array_module(g)
    for axis in range(2, g.ndim):
        half = 0.5 * g[_along(axis, slice(0, 1))]
        g = nxp.concatenate([half, g[_along(axis, slice(1, None))], half], axis=axis)
    return g


def _unfold(x: Any) -> Any:
    """Periodic ``n`` -> nodal ``n + 1`` along every spatial axis: the last node copies the first."""
    nxp = array_module(x)
    for axis in range(2, x.ndim):
        x = nxp.concatenate([x, x[_along(axis, slice(0, 1))]], axis=axis)
    return x


def _unfold_adjoint(g: Any) -> Any:
    nxp = array_module(g)
    for axis in range(2, g.ndim):
        first = g[_along(axis, slice(0, 1))] + g[_along(axis, slice(-1, None))]
        g = nxp.concatenate([first, g[_along(axis, slice(1, -1))]], axis=axis)
    return g


def _pad(x: Any, pads: tuple[int, ...]) -> Any:
    nxp = array_module(x)
    widths = [(0, 0), (0, 0)] + [(p, p) for p in pads]
    return nxp.pad(x, widths)


def _crop(x: Any, pads: tuple[int, ...]) -> Any:
    index = (slice(None), slice(None), *(slice(p, s - p) for p, s in zip(pads, x.shape[2:], strict=True)))
    return array_module(x).ascontiguousarray(x[index])


def _channel_mlp(n_in: int, n_hidden: int, n_out: int, kw: dict) -> Module:
    if n_hidden == 0:
        return Sequential(Linear(n_in, n_out, **kw))
    return Sequential(Linear(n_in, n_hidden, **kw), GELU(**kw), Linear(n_hidden, n_out, **kw))


def _factorization(value: Any) -> Any:
    """SpectralConv's spelling of a factorization (``"dense"`` and any case accepted)."""
    if isinstance(value, str):
        value = value.lower()
        return None if value == "dense" else value
    return value


def _domain_padding(value: Any, n_dim: int) -> tuple[float, ...]:
    """One padding fraction in ``[0, 1)`` per spatial dimension."""
    if value is None:
        return (0.0,) * n_dim
    if isinstance(value, (tuple, list)):
        if len(value) != n_dim:
            raise ValueError(
                f"domain_padding needs one fraction per spatial dimension ({n_dim}), got {value!r}"
            )
        names = [f"domain_padding[{k}]" for k in range(n_dim)]
    else:
        value, names = (value,) * n_dim, ["domain_padding"] * n_dim
    return tuple(
        check_real(v, name, minimum=0.0, maximum=1.0, strict_maximum=True)
        for v, name in zip(value, names, strict=True)
    )


def _width(value: Any, name: str, default: int) -> int:
    return default if value is None else check_int(value, name, minimum=0)

