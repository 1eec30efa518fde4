"""Work a start can do on the side while the cache opens, and its heap.

Opening the cache checks it whole (SQLite's ``quick_check``, a few hundred
milliseconds for a large cache, with Python's lock released); the queue then
needs the SLA calendar, whose public holidays come from the ``holidays``
package, slow to import (every country's module).  Importing it on a thread
while the check runs takes that import off the start's critical path.

A start also makes most of the objects the console keeps for its whole life
(modules, the window, the queue's columns, the calendar's index): Python's
cycle collector, walking them again at every full collection, would add pauses
of a tenth of a second to the start and later to the ticking countdowns.  The
collector waits while they are built (:func:`hold_collector`), then they are
frozen out of its sight (:func:`settle_heap`).
"""

from __future__ import annotations

import gc
import importlib
import logging
import threading

log = logging.getLogger(__name__)

#: Modules a start needs soon and takes long to import.
_SLOW_IMPORTS = ("holidays", "holidays.countries")


def _import_all() -> None:
    for name in _SLOW_IMPORTS:
        try:
            importlib.import_module(name)
        except ImportError as error:  # the start will say it, where the module is used
            log.debug("warm-up import of %s failed: %s", name, error)


def warm_up() -> threading.Thread:
    """Start the side work; whoever needs a module first simply waits for its import."""
    thread = threading.Thread(target=_import_all, name="warm-up", daemon=True)
    thread.start()
    return thread


def hold_collector() -> None:
    """The cycle collector waits until :func:`settle_heap` (a start makes its
    long-lived objects; reference counting still frees everything else)."""
    gc.disable()


def settle_heap() -> None:
    """The start is done: freeze what it made (collections walk only what comes
    after, so they stay short), and let the collector run again."""
    gc.freeze()
    gc.enable()
