"""Progress bars for long work: tqdm, off by default in library calls, on in the command line."""

from __future__ import annotations

from tqdm.auto import tqdm


def progress_bar(enabled: bool, *, total: int | None = None, desc: str | None = None, **kwargs):
    """A tqdm bar that does nothing when ``enabled`` is False (usable as a context manager)."""
    return tqdm(total=total, desc=desc, disable=not enabled, leave=False, **kwargs)
