"""A ticket's history as the SLA clocks replay it: its statuses and its events.

A history is built in several places (:mod:`sla.history`'s adapter, the demo
data, the console's staged changes) and replayed in two (:mod:`sla.clock` for
one ticket, :mod:`sla.queue` for many).  These types are what they all share,
kept apart from the evaluation so that building a history needs none of it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from i18n import N_, gettext
from sla.calendar import to_us
from sla.policy import Priority, Severity

__all__ = [
    "Created",
    "Event",
    "PriorityChanged",
    "Responded",
    "SeverityChanged",
    "Status",
    "StatusChanged",
    "closed",
    "reopened",
    "resolved",
]


class Status(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return gettext(_STATUS_LABELS[self])

    @property
    def is_done(self) -> bool:
        return self in (Status.RESOLVED, Status.CLOSED)


_STATUS_LABELS: Final = {
    Status.NEW: N_("New"),
    Status.OPEN: N_("Open"),
    Status.PENDING: N_("Pending"),
    Status.RESOLVED: N_("Resolved"),
    Status.CLOSED: N_("Closed"),
}


@dataclass(frozen=True, slots=True)
class _Timed:
    """An event at an aware instant; ``at_us`` is that instant as computed once."""

    at: dt.datetime
    at_us: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "at_us", to_us(self.at))  # rejects a naive datetime


@dataclass(frozen=True, slots=True)
class Created(_Timed):
    priority: Priority
    severity: Severity
    plan: str


@dataclass(frozen=True, slots=True)
class StatusChanged(_Timed):
    status: Status


@dataclass(frozen=True, slots=True)
class PriorityChanged(_Timed):
    priority: Priority


@dataclass(frozen=True, slots=True)
class SeverityChanged(_Timed):
    severity: Severity


@dataclass(frozen=True, slots=True)
class Responded(_Timed):
    """An agent's public reply, or an explicit acknowledgement ("prise en compte")."""


Event = Created | StatusChanged | PriorityChanged | SeverityChanged | Responded


def resolved(at: dt.datetime) -> StatusChanged:
    return StatusChanged(at, Status.RESOLVED)


def reopened(at: dt.datetime) -> StatusChanged:
    return StatusChanged(at, Status.OPEN)


def closed(at: dt.datetime) -> StatusChanged:
    return StatusChanged(at, Status.CLOSED)
