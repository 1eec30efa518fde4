"""Events drawn by hypothesis, for the SLA property tests' random histories."""

from __future__ import annotations

import datetime as dt

from hypothesis import strategies as st

from sla.events import (
    Created,
    Event,
    PriorityChanged,
    Responded,
    SeverityChanged,
    Status,
    StatusChanged,
)
from sla.policy import Priority, Severity


def drawn_creation(draw: st.DrawFn, at: dt.datetime) -> Created:
    """A ticket created at ``at``, its priority, severity and plan drawn."""
    return Created(
        at,
        draw(st.sampled_from(Priority)),
        draw(st.sampled_from(Severity)),
        draw(st.sampled_from(["enterprise", "business", "starter"])),
    )


def drawn_event(draw: st.DrawFn, kind: str, at: dt.datetime) -> Event:
    """An event of ``kind`` ("reply", "status", "priority" or "severity") at ``at``, its
    new value drawn."""
    if kind == "reply":
        return Responded(at)
    if kind == "status":
        return StatusChanged(at, draw(st.sampled_from(Status)))
    if kind == "priority":
        return PriorityChanged(at, draw(st.sampled_from(Priority)))
    return SeverityChanged(at, draw(st.sampled_from(Severity)))
