"""Zero and periodic padding of the spatial axes, its adjoint, and the convolution argument checks.

Arrays are ``(batch, channels, *spatial)``; padding acts on the spatial axes (2, 3, ...), each with
its own width ``p_d`` on both sides. The adjoint of zero padding crops; the adjoint of periodic
padding crops and adds the margins back onto the entries they copied.
"""

from __future__ import annotations

from typing import Any

from .._validation import check_choice, check_int, per_axis
from ..backend import array_module

__all__ = ["PADDING_MODES", "check_conv_input", "pad", "pad_adjoint", "pad_into", "resolve_padding"]

PADDING_MODES = ("zeros", "periodic")


def resolve_padding(padding: Any, kernel_size: tuple[int, ...], padding_mode: str) -> tuple[int, ...]:
    """Per-axis padding widths: ``"same"`` is ``k // 2`` (odd kernels), an int or tuple is explicit."""
    check_choice(padding_mode, "padding_mode", PADDING_MODES)
    if isinstance(padding, str):
        if padding != "same":
            raise ValueError(f"padding must be 'same', an int or a tuple of ints, got {padding!r}")
        even = [k for k in kernel_size if k % 2 == 0]
        if even:
            raise ValueError(f"padding='same' needs an odd kernel_size, got {kernel_size}")
        return tuple(k // 2 for k in kernel_size)
    return per_axis(padding, len(kernel_size), "padding", lambda v, n: check_int(v, n, minimum=0))


def check_conv_input(layer: Any, x: Any, in_channels: int, kernel_size, pads, padding_mode) -> Any:
    """``x`` cast to the layer dtype, after checking its shape against the kernel and padding."""
    ndim = len(kernel_size)
    x = layer._as_input(x)
    if x.ndim != 2 + ndim or x.shape[1] != in_channels:
        spatial = ", ".join("HWD"[:ndim]) if ndim <= 3 else "..."
        raise ValueError(
            f"{type(layer).__name__} expects input of shape (batch, {in_channels}, {spatial}), "
            f"got {tuple(x.shape)}"
        )
    for d, (n, p, k) in enumerate(zip(x.shape[2:], pads, kernel_size, strict=True)):
        if padding_mode == "periodic" and p > n:
            raise ValueError(f"periodic padding {p} exceeds the input size {n} on axis {d + 2}")
        if n + 2 * p < k:
            raise ValueError(
                f"input of shape {tuple(x.shape)} padded by {pads} is smaller than the kernel {k}"
            )
    return x


def pad(x: Any, pads: tuple[int, ...], mode: str) -> Any:
    """``x`` padded by ``pads[d]`` on both sides of spatial axis ``2 + d`` (a new array)."""
    if not any(pads):
        return x
    nxp = array_module(x)
    out = nxp.zeros((*x.shape[:2], *(n + 2 * p for n, p in zip(x.shape[2:], pads, strict=True))), x.dtype)
    pad_into(x, out, pads, mode)
    return out


def pad_into(x: Any, out: Any, pads: tuple[int, ...], mode: str) -> None:
    """Write ``x`` padded by ``pads`` into ``out`` (already zero, of the padded shape)."""
    out[_interior(x.shape, pads)] = x
    if mode != "periodic":
        return
    # axis by axis over the full extent of the axes already wrapped: corners come out right
    for d, p in enumerate(pads):
        if not p:
            continue
        axis, n = 2 + d, x.shape[2 + d]
        out[_along(out.ndim, axis, 0, p)] = out[_along(out.ndim, axis, n, n + p)]
        out[_along(out.ndim, axis, p + n, 2 * p + n)] = out[_along(out.ndim, axis, p, 2 * p)]


def pad_adjoint(g: Any, pads: tuple[int, ...], mode: str) -> Any:
    """Adjoint of :func:`pad`: crop, and for periodic padding fold the margins back in."""
    if not any(pads):
        return g
    if mode != "periodic":
        return array_module(g).ascontiguousarray(g[_interior_of_padded(g.shape, pads)])
    for d in reversed(range(len(pads))):
        p = pads[d]
        if not p:
            continue
        axis = 2 + d
        n = g.shape[axis] - 2 * p
        out = g[_along(g.ndim, axis, p, p + n)].copy()
        out[_along(g.ndim, axis, n - p, n)] += g[_along(g.ndim, axis, 0, p)]
        out[_along(g.ndim, axis, 0, p)] += g[_along(g.ndim, axis, p + n, 2 * p + n)]
        g = out
    return g


def _along(ndim: int, axis: int, start: int, stop: int) -> tuple:
    index = [slice(None)] * ndim
    index[axis] = slice(start, stop)
    return tuple(index)


def _interior(shape, pads) -> tuple:
    return (slice(None), slice(None), *(slice(p, p + n) for n, p in zip(shape[2:], pads, strict=True)))


def _interior_of_padded(shape, pads) -> tuple:
    return (slice(None), slice(None), *(slice(p, n - p) for n, p in zip(shape[2:], pads, strict=True)))
