"""CNN surrogates of the wave simulator: a U-Net whose every convolution is dense or compressed a
priori by one argument (:class:`WaveCNN`), as Boukraichi et al. (arXiv 2304.04964) build theirs."""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorkit.extend import check_choice, check_int, check_random_state
from tensorkit.nn import (
    GELU,
    Conv2d,
    Conv3d,
    FactorizedConv,
    Module,
    OneWayConv,
    Sequential,
    SkipConcat,
    Upsample,
)

__all__ = ["CONV_KINDS", "WaveCNN", "make_conv"]

CONV_KINDS = ("dense", "oneway", "cp", "tucker")
KERNEL = 3


class WaveCNN(Module):
    r"""U-Net-like encoder-decoder over space (time as channels) or space-time, every convolution
    dense or compressed a priori.

    ``dims="2d"`` maps ``(batch, in_channels, H, W)`` to ``(batch, out_channels, H, W)`` (a field's
    snapshots as channels); ``dims="3d"`` maps ``(batch, in_channels, T, H, W)`` to
    ``(batch, out_channels, T, H, W)`` with 3D convolutions over ``(t, x, y)``, striding and
    upsampling space only. With ``c_l = width 2^l``::

        stem:    conv(in -> c_0), GELU
        level l: SkipConcat(conv(c_l -> c_{l+1}, stride 2), GELU, level l+1,
                            Upsample(2), conv(c_{l+1} -> c_l), GELU),
                 conv(2 c_l -> c_l), GELU                    (l < depth)
        level depth: conv(c_depth -> c_depth), GELU           (the bottleneck)
        head:    conv(c_0 -> out)

    Every convolution has a ``3^d`` kernel and is made by :func:`make_conv`:

    - ``"dense"``: :class:`~tensorkit.nn.Conv2d` / :class:`~tensorkit.nn.Conv3d`
      (``C_in C_out 3^d`` parameters);
    - ``"oneway"``: :class:`~tensorkit.nn.OneWayConv`, each (in, out) kernel a rank-``R`` sum of
      outer products of 1D filters (``C_in C_out R d 3``; ratio ``3^(d-1) / (R d)``);
    - ``"cp"``: :class:`~tensorkit.nn.FactorizedConv` CP over channels and space (Lebedev et al.;
      ``R (C_in + C_out + 3 d)``);
    - ``"tucker"``: FactorizedConv Tucker with channel ranks ``min(R, C)`` and full spatial ranks
      (``R_o R_i 3^d + C_out R_o + C_in R_i + 9 d``).

    Parameters
    ----------
    in_channels, out_channels : int
    dims : {"2d", "3d"}
    width : int
        Channels of the finest level.
    depth : int
        Number of down-sampling levels (>= 1); ``H`` and ``W`` must be multiples of ``2^depth``.
    conv : {"dense", "oneway", "cp", "tucker"}
    rank : int
        ``R`` above (ignored by ``"dense"``).
    dtype, random_state
        See :class:`tensorkit.nn.Module`.

    Examples
    --------
    >>> import numpy as np
    >>> from physics.wave import WaveCNN
    >>> dense = WaveCNN(4, 1, width=8, depth=2, random_state=0)
    >>> cp = WaveCNN(4, 1, width=8, depth=2, conv="cp", rank=4, random_state=0)
    >>> cp(np.ones((2, 4, 16, 16))).shape, dense.num_parameters(), cp.num_parameters()
    ((2, 1, 16, 16), 26993, 1557)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        dims: str = "2d",
        width: int = 16,
        depth: int = 2,
        conv: str = "dense",
        rank: int = 4,
        dtype: Any = np.float32,
        random_state: Any = None,
    ):
        super().__init__(dtype=dtype, random_state=random_state)
        self.in_channels = check_int(in_channels, "in_channels", minimum=1)
        self.out_channels = check_int(out_channels, "out_channels", minimum=1)
        self.dims = check_choice(dims, "dims", ("2d", "3d"))
        self.width = check_int(width, "width", minimum=1)
        self.depth = check_int(depth, "depth", minimum=1, maximum=6)
        self.conv = check_choice(conv, "conv", CONV_KINDS)
        self.rank = check_int(rank, "rank", minimum=1)
        ndim = 2 if self.dims == "2d" else 3
        self.ndim = ndim
        rng = check_random_state(random_state)
        space = (2, 2) if ndim == 2 else (1, 2, 2)

        def conv_(c_in, c_out, stride=1):
            return make_conv(self.conv, c_in, c_out, ndim=ndim, rank=self.rank,
                             stride=space if stride == 2 else 1, dtype=self.dtype, random_state=rng)

        def act():
            return GELU(dtype=self.dtype)

        def level(l):
            c = self.width * 2**l
            if l == self.depth:
                return Sequential(conv_(c, c), act())
            inner = Sequential(conv_(c, 2 * c, 2), act(), level(l + 1),
                               Upsample(space, ndim=ndim, dtype=self.dtype), conv_(2 * c, c), act())
            return Sequential(SkipConcat(inner), conv_(2 * c, c), act())

        self.add_module("net", Sequential(conv_(self.in_channels, self.width), act(), level(0),
                                          conv_(self.width, self.out_channels)))

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, dims={self.dims!r}, width={self.width}, "
                f"depth={self.depth}, conv={self.conv!r}, rank={self.rank}")

    def forward(self, x):
        x = self._as_input(x)
        multiple = 2**self.depth
        grid = "T, H, W" if self.ndim == 3 else "H, W"
        if x.ndim != 2 + self.ndim or x.shape[1] != self.in_channels:
            raise ValueError(f"WaveCNN(dims={self.dims!r}) expects snapshots of shape (batch, "
                             f"{self.in_channels}, {grid}), got {tuple(x.shape)}")
        if any(n % multiple for n in x.shape[-2:]):
            raise ValueError(f"WaveCNN with depth {self.depth} needs H and W multiples of {multiple}, "
                             f"got {tuple(x.shape[-2:])}")
        return self._modules["net"].forward(x)

    def backward(self, grad_out):
        return self._modules["net"].backward(grad_out)


def make_conv(kind: str, in_channels: int, out_channels: int, *, ndim: int = 2, rank: int = 4,
              stride: Any = 1, dtype: Any = np.float32, random_state: Any = None) -> Module:
    """One ``3^ndim`` "same"-padded convolution of the kind :class:`WaveCNN` uses (see there)."""
    check_choice(kind, "conv", CONV_KINDS)
    common = {"stride": stride, "dtype": dtype, "random_state": random_state}
    if kind == "dense":
        return (Conv2d if ndim == 2 else Conv3d)(in_channels, out_channels, KERNEL, **common)
    if kind == "oneway":
        return OneWayConv(in_channels, out_channels, KERNEL, ndim=ndim, rank=rank, **common)
    if kind == "cp":
        return FactorizedConv(in_channels, out_channels, KERNEL, ndim=ndim, factorization="cp",
                              rank=rank, **common)
    ranks = (min(rank, out_channels), min(rank, in_channels), *(KERNEL,) * ndim)
    return FactorizedConv(in_channels, out_channels, KERNEL, ndim=ndim, factorization="tucker",
                          rank=ranks, **common)
