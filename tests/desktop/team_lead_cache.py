"""A team lead's cache for the team-lead tests: the lead and a second team beside the
conftest feed's, tickets whose SLA is worked out by hand, and the queue and workload a
lead's console reads over a cache."""

from __future__ import annotations

import datetime as dt
from typing import Any

from desktop.models.queue import QueueState
from desktop.models.sla_cells import events_from_history
from desktop.models.workload import WorkloadModel
from sla.history import HistoryRow
from sync.cache import Cache
from sync.store import Store
from tests.clock import FakeClock
from tests.desktop.conftest import T0, Feed

LEAD = 3


def _lead_feed(feed: Feed) -> Feed:
    """The conftest feed (agents 1 and 2 in team 1) with a team lead and a second team."""
    feed.add(
        "user",
        LEAD,
        {
            "id": LEAD,
            "username": "lea",
            "display_name": "Léa Garnier",
            "email": "3@example.com",
            "role": "team_lead",
            "active": True,
            "team_ids": [1],
        },
    )
    feed.add("team", 2, {"id": 2, "name": "Network", "member_ids": []})
    return feed


#: T0 is Wednesday 4 March 2026, 10:00 in Paris (calendar open 09:00-18:00).
HAND_MADE: dict[int, dict[str, Any]] = {
    # P1 blocking (enterprise: response 1 h, resolution 4 h), 30 min in: breaches soon
    101: {"created": T0 - dt.timedelta(minutes=30), "priority": "P1", "severity": "blocking",
          "assignee": 1},
    # P3 major (9 h / 45 h), just opened: nothing within 4 business hours
    102: {"created": T0, "priority": "P3", "severity": "major", "assignee": 1},
    # P2 blocking (2 h / 9 h), an hour in: the response clock breaches in an hour
    103: {"created": T0 - dt.timedelta(hours=1), "priority": "P2", "severity": "blocking",
          "assignee": 2},
    # P1 blocking opened before hours (08:00 Paris): an hour of business time gone, 0 left
    104: {"created": T0 - dt.timedelta(hours=2), "priority": "P1", "severity": "blocking"},
    # P1 blocking from yesterday morning: breached already, not a forecast
    105: {"created": T0 - dt.timedelta(days=1), "priority": "P1", "severity": "blocking"},
    # P1 blocking, answered, then pending since yesterday 16:00: paused, stays so
    106: {"created": T0 - dt.timedelta(hours=19), "priority": "P1", "severity": "blocking",
          "assignee": 1, "status": "pending",
          "history": ((T0 - dt.timedelta(hours=18, minutes=50), "responded", "reply"),
                      (T0 - dt.timedelta(hours=18), "status", "pending"))},
    # resolved: not open, not counted
    107: {"created": T0 - dt.timedelta(minutes=30), "priority": "P1", "severity": "blocking",
          "assignee": 2, "status": "resolved",
          "history": ((T0 - dt.timedelta(minutes=10), "status", "resolved"),)},
}  # fmt: skip


def hand_made(cache: Cache, feed: Feed) -> Store:
    """The lead's feed and the ``HAND_MADE`` tickets in the cache; the lead's store."""
    _lead_feed(feed)
    for ticket_id, spec in HAND_MADE.items():
        feed.ticket(
            ticket_id,
            created=spec["created"],
            priority=spec["priority"],
            severity=spec["severity"],
            status=spec.get("status", "new"),
            assignee=spec.get("assignee"),
            history=spec.get("history", ()),
        )
    store = Store(cache, user_id=LEAD)
    store.apply_page(feed.page())
    return store


def queue_state(cache: Cache, clock: FakeClock, me: int = LEAD, **options: int) -> QueueState:
    """The queue's tickets and clocks, as the console's queue reads them: what the
    workload counts on."""
    queue = QueueState(cache, me=me, clock=clock, **options)
    queue.reload()
    return queue


def workload_model(
    cache: Cache, clock: FakeClock, me: int = LEAD, queue: QueueState | None = None
) -> WorkloadModel:
    """The workload panel's model, loaded, over ``queue`` (a queue read for it if none)."""
    if queue is None:
        queue = queue_state(cache, clock, me)
    model = WorkloadModel(cache, me=me, now=clock, queue=queue)
    model.reload()
    return model


def ticket_events(cache: Cache, ticket_id: int) -> list[Any]:
    """A cached ticket's history as the SLA events the console evaluates."""
    ticket = cache.ticket(ticket_id)
    assert ticket is not None
    plans = {o.id: o.plan.value for o in cache.organisations()}
    rows = [HistoryRow(h.at, h.field, h.after) for h in cache.history(ticket_id)]
    return events_from_history(
        rows,
        created_at=ticket.created_at,
        priority=ticket.priority,
        severity=ticket.severity,
        plan=plans[ticket.organisation_id],
    )
