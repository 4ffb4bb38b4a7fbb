r"""Periodic positional embedding: Fourier features of the global coordinates as input channels.

On the unit torus :math:`[0, 1)^d`, sampled at :math:`x_j = j / n` along each axis, the channels

.. math:: \sin(2 \pi k x_i), \quad \cos(2 \pi k x_i), \qquad i = 1..d, \; k = 1..K

are smooth, periodic and tell every point where it lies. Appended to a field BEFORE it is cut into
patches (:class:`MultigridPatching2D`), they travel with each patch, so a model that only sees one
patch still knows its global position, which a patch-local ``[0, 1]`` grid cannot tell it (a
forcing that depends on the position, as in the FNO paper's Navier-Stokes data, is then learnable
on patches). Being periodic, the channels are also consistent with circular padding.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorkit.extend import check_int, get_namespace
from tensorkit.nn import Processor

__all__ = ["PeriodicCoordinates"]


class PeriodicCoordinates(Processor):
    r"""Append :math:`\sin, \cos (2 \pi k x_i)` of the global grid coordinates as input channels.

    A fixed affine map ``x -> [x; E]`` of fields ``(batch, C, n_1, ..., n_d)`` to
    ``(batch, C + 2 d K, n_1, ..., n_d)``: for each spatial axis ``i`` (in order) and harmonic
    ``k = 1..K`` the channels :math:`\sin(2 \pi k j / n_i)` and :math:`\cos(2 \pi k j / n_i)` of the
    node index ``j`` along that axis, constant along the others. Use it as a trainer processor
    (``processor=`` hook: it embeds the inputs, leaves predictions alone) in front of a model with
    ``in_channels = C + channels(d)`` and ``positional_embedding=None``, or give it to
    :class:`MultigridPatching2D` (``embedding=``) / :class:`MGTFNO`
    (``positional_embedding="periodic"``) to embed whole fields ahead of the patching.

    Parameters
    ----------
    n_harmonics : int
        ``K >= 1``: frequencies ``1..K`` per axis. Each must stay below the Nyquist frequency
        ``n_i / 2`` of the grid it is sampled on (checked when embedding).

    Examples
    --------
    >>> import numpy as np
    >>> from operators import PeriodicCoordinates
    >>> emb = PeriodicCoordinates()
    >>> x = np.zeros((2, 1, 4, 4))
    >>> z = emb.embed(x)
    >>> z.shape, emb.channels(2)
    ((2, 5, 4, 4), 4)
    >>> np.round(z[0, 1:3, :, 0], 12)             # sin and cos of 2 pi j / 4 along the first axis
    array([[ 0.,  1.,  0., -1.],
           [ 1.,  0., -1., -0.]])
    """

    def __init__(self, n_harmonics: int = 1):
        super().__init__()
        self.n_harmonics = check_int(n_harmonics, "n_harmonics", minimum=1)

    def channels(self, n_dim: int) -> int:
        """Channels added to fields with ``n_dim`` spatial axes: ``2 n_dim K``."""
        return 2 * check_int(n_dim, "n_dim", minimum=1) * self.n_harmonics

    def embed(self, x: Any) -> Any:
        """``(batch, C, *spatial) -> (batch, C + channels(d), *spatial)``, in ``x``'s dtype and device."""
        if not hasattr(x, "shape") or not hasattr(x, "ndim"):
            raise TypeError(f"x must be a numpy or CuPy array, got {type(x).__name__}")
        if x.ndim < 3:
            raise ValueError(
                f"x must be a batch of fields (batch, C, n_1, ..., n_d), got shape {tuple(x.shape)}"
            )
        spatial = tuple(x.shape[2:])
        if min(spatial) <= 2 * self.n_harmonics:
            raise ValueError(
                f"n_harmonics={self.n_harmonics} needs more than {2 * self.n_harmonics} nodes per axis "
                f"(below the Nyquist frequency), got fields of spatial shape {spatial}"
            )
        xp = get_namespace(x)
        if not xp.isdtype(x.dtype, "real floating"):
            raise TypeError(f"x must be a real floating array, got dtype {x.dtype}")
        coords = xp.asarray(_coordinates(spatial, self.n_harmonics).astype(x.dtype))
        coords = xp.broadcast_to(coords[None], (x.shape[0], *coords.shape))
        return xp.concat([x, coords], axis=1)

    def embed_adjoint(self, grad: Any) -> Any:
        """Adjoint of the linear part of :meth:`embed`: the gradient's first ``C`` channels (the
        appended channels are constants)."""
        if not hasattr(grad, "shape") or not hasattr(grad, "ndim"):
            raise TypeError(f"grad must be a numpy or CuPy array, got {type(grad).__name__}")
        if grad.ndim < 3:
            raise ValueError(
                f"grad must be a batch of fields (batch, C, n_1, ..., n_d), got shape {tuple(grad.shape)}"
            )
        d = grad.ndim - 2
        c = grad.shape[1] - self.channels(d)
        if c < 1:
            raise ValueError(
                f"grad has {grad.shape[1]} channels, not more than the {self.channels(d)} embedded ones"
            )
        return grad[:, :c]

    def preprocess(self, x: Any, y: Any) -> tuple[Any, Any]:
        """Embed the inputs; ``y`` is unchanged."""
        return self.embed(x), y

    def __repr__(self) -> str:
        return f"PeriodicCoordinates(n_harmonics={self.n_harmonics})"


def _coordinates(spatial: tuple[int, ...], n_harmonics: int) -> np.ndarray:
    """The ``(2 d K, *spatial)`` channels, in float64 (cast by the caller)."""
    d = len(spatial)
    out = []
    for axis, n in enumerate(spatial):
        shape = [1] * d
        shape[axis] = n
        t = 2 * np.pi * np.arange(n) / n
        for k in range(1, n_harmonics + 1):
            for f in (np.sin, np.cos):
                out.append(np.broadcast_to(f(k * t).reshape(shape), spatial))
    return np.stack(out)

