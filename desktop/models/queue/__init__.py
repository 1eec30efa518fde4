"""The ticket queue: every cached ticket with its live SLA clocks, as a Qt table model.

- :mod:`.columns`: the tickets' fields in columns, one entry a ticket (its slot).
- :mod:`.facts`: what is kept of a ticket's clocks, as integers (sort keys,
  states, the next state change, from when it is at risk or breached).
- :mod:`.clocks`: the clocks evaluated, lazily, in columns; the wake-up heap;
  the memo of an earlier run.
- :mod:`.ordering`: views (My tickets, Breached…), their counts, sort keys.
- :mod:`.state`: all of the above read from the cache and kept current after a
  change; the team lead's workload reads the same state.
- :mod:`.cells` and :mod:`.model`: the Qt table model, and what its cells show.

The first five are plain Python (no Qt).  The Qt names are imported on first
use, so that importing the plain parts (the workload's counts, their tests)
does not load Qt.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from desktop.models.queue.columns import QueueTicket
from desktop.models.queue.ordering import SLA_COLUMNS, Column, QueueView
from desktop.models.queue.state import EAGER_LIMIT, QueueState

if TYPE_CHECKING:
    from desktop.models.queue.cells import (
        CELL_ROLE,
        CLOCK_STATE_ROLE,
        PLAN_ROLE,
        TICKET_ID_ROLE,
        Cell,
    )
    from desktop.models.queue.model import (
        OFF_SCREEN_STEP,
        ORDER_WAIT,
        QueueModel,
        QueueRow,
        Watched,
    )

__all__ = [
    "CELL_ROLE",
    "CLOCK_STATE_ROLE",
    "EAGER_LIMIT",
    "OFF_SCREEN_STEP",
    "ORDER_WAIT",
    "PLAN_ROLE",
    "SLA_COLUMNS",
    "TICKET_ID_ROLE",
    "Cell",
    "Column",
    "QueueModel",
    "QueueRow",
    "QueueState",
    "QueueTicket",
    "QueueView",
    "Watched",
]

#: The Qt names, by the module that defines them.
_QT_NAMES: dict[str, str] = {
    "CELL_ROLE": "cells",
    "CLOCK_STATE_ROLE": "cells",
    "PLAN_ROLE": "cells",
    "TICKET_ID_ROLE": "cells",
    "Cell": "cells",
    "OFF_SCREEN_STEP": "model",
    "ORDER_WAIT": "model",
    "QueueModel": "model",
    "QueueRow": "model",
    "Watched": "model",
}


def __getattr__(name: str) -> Any:
    module = _QT_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
