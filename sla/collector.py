"""Python's cycle collector paused while many objects are made at once.

A full collection walks every object the process holds.  Bulk work (a queue's
clocks evaluated, a page of the feed stored) makes tens of thousands of objects
and no reference cycle, yet enough of them to set off collections that walk
everything again: measured, a third of the time of evaluating 100,000 tickets.
Reference counting frees them all without the collector's help.  Here, the lowest
layer that needs it, so that :mod:`sync.collector` and the console share it.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["collector_paused"]


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cycle collector while many objects are made at once.

    A cycle made meanwhile (by anyone: the collector is the process's) waits for
    the next collection.  A collector paused by someone else (another queue, say)
    stays paused.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
