"""History entries become the same SLA events on the server and in the console's cache."""

from __future__ import annotations

import datetime as dt

import pytest

from sla.events import Created, PriorityChanged, Responded, SeverityChanged, Status, StatusChanged
from sla.history import (
    HistoryEntry,
    HistoryEntryError,
    HistoryRow,
    events_from_cached_history,
    events_from_history,
)
from sla.policy import Priority, Severity

T0 = dt.datetime(2026, 3, 4, 9, 0, tzinfo=dt.UTC)
MIN = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)
CREATED = '{"priority": "P2", "severity": "major", "plan": "business", "assignee_id": null}'


def test_server_history_becomes_events_in_order() -> None:
    entries = [
        HistoryRow(T0, "created", CREATED),
        HistoryRow(T0 + MIN, "assignee", "3"),  # not an SLA event
        HistoryRow(T0 + MIN, "status", "open"),
        HistoryRow(T0 + 2 * MIN, "responded", "reply"),
        HistoryRow(T0 + HOUR, "priority", "P1"),
        HistoryRow(T0 + HOUR, "severity", "blocking"),
        HistoryRow(T0 + 2 * HOUR, "status", "resolved"),
    ]
    assert events_from_history(entries) == [
        Created(T0, Priority.P2, Severity.MAJOR, "business"),
        StatusChanged(T0 + MIN, Status.OPEN),
        Responded(T0 + 2 * MIN),
        PriorityChanged(T0 + HOUR, Priority.P1),
        SeverityChanged(T0 + HOUR, Severity.BLOCKING),
        StatusChanged(T0 + 2 * HOUR, Status.RESOLVED),
    ]


@pytest.mark.parametrize(
    "entry",
    [
        HistoryRow(T0, "status", "archived"),
        HistoryRow(T0, "priority", "P9"),
        HistoryRow(T0, "created", "{not json"),
        HistoryRow(T0, "created", '{"priority": "P1", "severity": "major"}'),  # no plan
    ],
)
def test_the_strict_adapter_refuses_an_entry_it_cannot_read(entry: HistoryEntry) -> None:
    with pytest.raises(HistoryEntryError):
        events_from_history([HistoryRow(T0, "created", CREATED), entry])


def test_cached_history_skips_unknown_values_and_reports_them() -> None:
    skipped: list[str] = []
    events = events_from_cached_history(
        [
            HistoryRow(T0, "created", CREATED),
            HistoryRow(T0 + MIN, "responded", None),
            HistoryRow(T0 + HOUR, "status", "bad"),
        ],
        created_at=T0,
        priority="P3",
        severity="minor",
        plan="enterprise",
        on_skip=lambda entry, _error: skipped.append(entry.field),
    )
    assert events == [Created(T0, Priority.P2, Severity.MAJOR, "business"), Responded(T0 + MIN)]
    assert skipped == ["status"]


def test_cached_history_without_its_creation_starts_from_the_ticket() -> None:
    # not synced yet: the ticket's own fields stand for the creation, and nothing
    # happens before the ticket exists
    events = events_from_cached_history(
        [HistoryRow(T0 - MIN, "status", "open"), HistoryRow(T0 + MIN, "severity", "minor")],
        created_at=T0,
        priority="P1",
        severity="blocking",
        plan="enterprise",
    )
    assert events == [
        Created(T0, Priority.P1, Severity.BLOCKING, "enterprise"),
        StatusChanged(T0, Status.OPEN),
        SeverityChanged(T0 + MIN, Severity.MINOR),
    ]


def test_a_creation_entry_missing_fields_takes_the_tickets_own() -> None:
    events = events_from_cached_history(
        [HistoryRow(T0, "created", '{"severity": "blocking"}')],
        created_at=T0 + HOUR,
        priority="P4",
        severity="minor",
        plan="starter",
    )
    assert events == [Created(T0, Priority.P4, Severity.BLOCKING, "starter")]


def test_a_ticket_with_unknown_own_fields_still_has_a_creation() -> None:
    events = events_from_cached_history(
        [], created_at=T0, priority="P7", severity="weird", plan="enterprise"
    )
    assert events == [Created(T0, Priority.P3, Severity.MINOR, "enterprise")]


def test_the_server_module_keeps_its_adapter_name() -> None:
    from server import ticket_sla

    assert ticket_sla.events_from_history is events_from_history
