"""Work a start can do on the side while the cache opens.

Opening the cache checks it whole (SQLite's ``quick_check``, a few hundred
milliseconds for a large cache, with Python's lock released); the queue then
needs the SLA calendar, whose public holidays come from the ``holidays``
package, slow to import (every country's module).  Importing it on a thread
while the check runs takes that import off the start's critical path.
"""

from __future__ import annotations

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
