"""When Python's cycle collector runs: paused while many objects are made at once,
and kept away from the objects a process keeps for its whole life.

A full collection walks every object the process holds.  The work this project
does in bulk (a page of the feed validated and stored, the queue read, its
clocks evaluated) makes tens of thousands of objects and no reference cycle, yet
enough of them to set off a full collection every page or two: measured, a
seventh of the initial sync's time.  Reference counting frees them all without
the collector's help.

The console's start makes most of what it keeps until it quits (modules, the
window, the queue's columns, the calendar's index); collections walking them
again would add pauses of a tenth of a second to the start and later to the
ticking countdowns.  So the collector waits while they are built
(:func:`hold_collector`), then they are frozen out of its sight
(:func:`freeze_heap`).
"""

from __future__ import annotations

import gc

from sla.collector import collector_paused

__all__ = ["collector_paused", "freeze_heap", "hold_collector"]


def hold_collector() -> None:
    """Pause the cycle collector until :func:`freeze_heap` (a start makes its
    long-lived objects; reference counting still frees everything else)."""
    gc.disable()


def freeze_heap() -> None:
    """Freeze every object made so far out of the collector's sight (collections
    then walk only what comes after, so they stay short), and let it run again."""
    gc.freeze()
    gc.enable()
