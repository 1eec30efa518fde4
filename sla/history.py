"""From a ticket's history entries to :mod:`sla.events` events: one adapter for all.

The server's ``ticket_history`` table and the console's cache hold the same
entries (``field``, ``at``, ``after``); the ``created``, ``status``,
``priority``, ``severity`` and ``responded`` entries are what the SLA replays.
The server and the console turn them into events here, so they agree on every
clock.

* :func:`events_from_history` is strict: an entry it cannot read raises
  :class:`HistoryEntryError` (the server's own history must be sound).
* :func:`events_from_cached_history` is lenient, for a local cache that may hold
  optimistic entries, a history without its ``created`` entry (not synced yet)
  or a value this version does not know: such entries are skipped (reported to
  ``on_skip``), the ticket's own fields stand in for a missing creation, and
  nothing happens before the ticket exists.

Pure Python: no database, no Qt.  Parsing is memoised per distinct value, so a
queue of 100,000 tickets converts cheaply.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Iterable
from typing import Final, NamedTuple, Protocol, TypeVar

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

__all__ = [
    "SLA_FIELDS",
    "HistoryEntry",
    "HistoryEntryError",
    "HistoryRow",
    "event_from_entry",
    "events_from_cached_history",
    "events_from_history",
]

#: The history fields the SLA replays (anything else is not an SLA event).
SLA_FIELDS: Final = ("created", "status", "priority", "severity", "responded")


class HistoryEntry(Protocol):
    """What the adapter reads of a history entry (a server row, a cache row…)."""

    @property
    def at(self) -> dt.datetime: ...

    @property
    def field(self) -> str: ...

    @property
    def after(self) -> str | None: ...


class HistoryRow(NamedTuple):
    """A history entry reduced to what the SLA needs."""

    at: dt.datetime
    field: str
    after: str | None


_T = TypeVar("_T")


class HistoryEntryError(ValueError):
    """A history entry whose value cannot become an SLA event."""


_PRIORITIES: Final = {priority.value: priority for priority in Priority}
_SEVERITIES: Final = {severity.value: severity for severity in Severity}
_STATUSES: Final = {status.value: status for status in Status}
#: ``created`` documents seen, parsed: (priority, severity, plan) or the error
_CREATED: dict[str, tuple[Priority | None, Severity | None, str | None] | str] = {}
_CREATED_LIMIT: Final = 4096


def _lookup(table: dict[str, _T], value: str | None, what: str) -> _T:
    found = table.get(value) if isinstance(value, str) else None
    if found is None:
        raise HistoryEntryError(f"unknown {what} {value!r}")
    return found


def _created(after: str | None) -> tuple[Priority | None, Severity | None, str | None]:
    """A ``created`` entry's priority, severity and plan (None where it has none)."""
    key = after or "{}"
    parsed = _CREATED.get(key)
    if parsed is None:
        try:
            document = json.loads(key)
            if not isinstance(document, dict):
                raise HistoryEntryError("a creation entry is not an object")
            priority = document.get("priority")
            severity = document.get("severity")
            plan = document.get("plan")
            parsed = (
                None if priority is None else _lookup(_PRIORITIES, priority, "priority"),
                None if severity is None else _lookup(_SEVERITIES, severity, "severity"),
                None if plan is None else str(plan),
            )
        except (ValueError, TypeError) as error:  # JSONDecodeError is a ValueError
            parsed = str(error)
        if len(_CREATED) >= _CREATED_LIMIT:
            _CREATED.clear()
        _CREATED[key] = parsed
    if isinstance(parsed, str):
        raise HistoryEntryError(f"unreadable creation entry: {parsed}")
    return parsed


def event_from_entry(
    at: dt.datetime,
    field: str,
    after: str | None,
    *,
    priority: Priority | None = None,
    severity: Severity | None = None,
    plan: str | None = None,
) -> Event | None:
    """The SLA event of one history entry; None when the entry is not an SLA event.

    A ``created`` entry lacking its priority, severity or plan takes the ones
    given here; without them it raises :class:`HistoryEntryError`, as does any
    value that names no known status, priority or severity.
    """
    if field == "status":
        return StatusChanged(at, _lookup(_STATUSES, after, "status")) if after else None
    if field == "responded":
        return Responded(at)
    if field == "priority":
        return PriorityChanged(at, _lookup(_PRIORITIES, after, "priority")) if after else None
    if field == "severity":
        return SeverityChanged(at, _lookup(_SEVERITIES, after, "severity")) if after else None
    if field == "created":
        found_priority, found_severity, found_plan = _created(after)
        priority = found_priority or priority
        severity = found_severity or severity
        plan = found_plan if found_plan is not None else plan
        if priority is None or severity is None or plan is None:
            raise HistoryEntryError("a creation entry without its priority, severity or plan")
        return Created(at, priority, severity, plan)
    return None


def events_from_history(entries: Iterable[HistoryEntry]) -> list[Event]:
    """The SLA events of a ticket's history, in history order (strict).

    Entries that are no SLA event (assignee, tags…) are left out; an entry that
    cannot be read raises :class:`HistoryEntryError`.
    """
    events: list[Event] = []
    for entry in entries:
        event = event_from_entry(entry.at, entry.field, entry.after)
        if event is not None:
            events.append(event)
    return events


def events_from_cached_history(
    entries: Iterable[HistoryEntry],
    *,
    created_at: dt.datetime,
    priority: str,
    severity: str,
    plan: str,
    on_skip: Callable[[HistoryEntry, HistoryEntryError], None] | None = None,
) -> list[Event]:
    """The SLA events of a cached ticket (lenient), its creation first.

    ``created_at``, ``priority``, ``severity`` and ``plan`` are the ticket's
    own fields: they fill a ``created`` entry that lacks them, and stand for the
    creation when the history has none (a ticket's own unknown priority or
    severity falls back to P3 / minor).  Unreadable entries are skipped (each
    reported to ``on_skip``); an event dated before the creation is moved to it.
    """
    own_priority = _PRIORITIES.get(priority)
    own_severity = _SEVERITIES.get(severity)
    events: list[Event] = []
    created: Created | None = None
    for entry in entries:
        try:
            event = event_from_entry(
                entry.at,
                entry.field,
                entry.after,
                priority=own_priority,
                severity=own_severity,
                plan=plan,
            )
        except HistoryEntryError as error:
            if on_skip is not None:
                on_skip(entry, error)
            continue
        if isinstance(event, Created):
            created = event
        elif event is not None:
            events.append(event)
    if created is None:
        created = Created(
            created_at, own_priority or Priority.P3, own_severity or Severity.MINOR, plan
        )
    start = created.at_us
    if any(event.at_us < start for event in events):
        events = [event if event.at_us >= start else _moved(event, created.at) for event in events]
    return [created, *events]


def _moved(event: Event, when: dt.datetime) -> Event:
    return dataclasses.replace(event, at=when)  # at_us follows (computed after init)
