"""Progress bars for long work: tqdm, off by default in library calls, on in the command line."""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm


def progress_bar(enabled: bool, *, total: int | None = None, desc: str | None = None, **kwargs):
    """A tqdm bar that does nothing when ``enabled`` is False (usable as a context manager).

    Raises
    ------
    TypeError
        If ``enabled`` is not a bool (``progress="no"`` would otherwise turn the bar on).
    """
    if not isinstance(enabled, (bool, np.bool_)):
        raise TypeError(f"progress must be a bool, got {enabled!r} ({type(enabled).__name__})")
    return tqdm(total=total, desc=desc, disable=not enabled, leave=False, **kwargs)
