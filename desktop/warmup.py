"""A start's heap, out of the garbage collector's way once the window is up.

A start makes most of the objects the console keeps for its whole life
(modules, the window, the queue's columns, the calendar's index): Python's
cycle collector, walking them again at every full collection, would add pauses
of a tenth of a second to the start and later to the ticking countdowns.  The
collector waits while they are built (:func:`hold_collector`), then they are
frozen out of its sight (:func:`settle_heap`).

(Imports on a side thread were tried, and dropped: the start's work is Python
code holding the interpreter's lock, so a thread importing meanwhile only slows
it down; the calendar that needed the slow ``holidays`` package is now kept
built between starts, see ``desktop.models.sla_memo``.)
"""

from __future__ import annotations

import gc


def hold_collector() -> None:
    """The cycle collector waits until :func:`settle_heap` (a start makes its
    long-lived objects; reference counting still frees everything else)."""
    gc.disable()


def settle_heap() -> None:
    """The start is done: freeze what it made (collections walk only what comes
    after, so they stay short), and let the collector run again."""
    gc.freeze()
    gc.enable()
