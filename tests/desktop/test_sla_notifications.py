"""SLA notifications: only my tickets' worsening states, in business hours, once each;
none for old news at start."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pytestqt.qtbot import QtBot

from desktop.models.queue import QueueModel, QueueView
from desktop.views.notifications import Alert, Level, Seen, SlaNotifier, decide
from sla.clock import ClockStatus
from sync.cache import Cache
from tests.desktop.conftest import T0, FakeClock, Feed, load


def test_notify_only_worsening_states_of_my_tickets_during_business_hours() -> None:
    seen = {
        1: Seen("INC-1", "Printer", Level.AT_RISK),
        2: Seen("INC-2", "VPN", Level.BREACHED),
        3: Seen("INC-3", "Mail", Level.FINE),
        4: Seen("INC-4", "New one", Level.BREACHED),
    }
    before = {1: Level.FINE, 2: Level.AT_RISK, 3: Level.AT_RISK}
    alerts = decide(before, seen, enabled=True, calendar_open=True)
    assert [(a.tracking_number, a.level) for a in alerts] == [
        ("INC-2", Level.BREACHED),
        ("INC-1", Level.AT_RISK),
    ]  # not the improving INC-3, not INC-4 seen for the first time
    assert alerts[0].title == "SLA breached: INC-2"
    assert decide(before, seen, enabled=False, calendar_open=True) == []
    assert decide(before, seen, enabled=True, calendar_open=False) == []
    after = {ticket_id: s.level for ticket_id, s in seen.items()}
    assert decide(after, seen, enabled=True, calendar_open=True) == []  # once only


def _notified(
    cache: Cache, clock: FakeClock, feed: Feed, **options: Any
) -> tuple[QueueModel, SlaNotifier, list[list[Alert]]]:
    """The feed's tickets in the cache, a queue over them (``options``) and a notifier
    that keeps what it shows."""
    load(cache, feed)
    model = QueueModel(cache, me=1, clock=clock, **options)
    shown: list[list[Alert]] = []
    return model, SlaNotifier(model, 1, show=shown.append), shown


def test_my_ticket_breaching_off_screen_is_notified_once_others_never(
    qtbot: QtBot, cache: Cache, clock: FakeClock
) -> None:
    # 11 is mine, 12 is Bob's: both P1 blocking, their first responses due at T0 + 10 min
    feed = Feed()
    minute = dt.timedelta(minutes=1)
    feed.ticket(11, created=T0 - 50 * minute, priority="P1", severity="blocking", assignee=1)
    feed.ticket(12, created=T0 - 50 * minute, priority="P1", severity="blocking", assignee=2)
    model, notifier, shown = _notified(cache, clock, feed)
    assert not notifier.looked  # its first look comes once the window is painted
    qtbot.waitUntil(lambda: notifier.looked)
    assert shown == []
    assert notifier.sent == []  # no old news at start
    watched: list[dict[int, object]] = []
    model.clocksMoved.connect(watched.append)
    model.tick(T0 + 11 * minute)  # nothing on screen: the clocks change state together
    assert [list(moved) for moved in watched] == [[11, 12]]  # these two, not every ticket
    assert [(a.ticket_id, a.level) for batch in shown for a in batch] == [(11, Level.BREACHED)]
    assert shown[0][0].title == "SLA breached: INC-2026-000011"
    model.tick(T0 + 20 * minute)
    assert len(shown) == 1
    assert notifier.sent == shown[0]  # once only
    # 11 handed to Bob and back, still breached: not news again
    feed.ticket(11, created=T0 - 50 * minute, priority="P1", severity="blocking", assignee=2)
    load(cache, feed)
    model.refresh_tickets([11])
    assert model.watch(1) == {}
    feed.ticket(11, created=T0 - 50 * minute, priority="P1", severity="blocking", assignee=1)
    load(cache, feed)
    model.refresh_tickets([11])
    assert list(model.watch(1)) == [11]
    assert len(shown) == 1


def test_my_ticket_breaching_before_the_first_look_is_notified(
    cache: Cache, clock: FakeClock
) -> None:
    feed = Feed()
    minute = dt.timedelta(minutes=1)
    feed.ticket(11, created=T0 - 50 * minute, priority="P1", severity="blocking", assignee=1)
    feed.ticket(12, created=T0 - 50 * minute, priority="P4", severity="minor", assignee=1)
    model, notifier, shown = _notified(cache, clock, feed)
    model.tick(T0 + 11 * minute)  # within the first moments, before the window is painted
    assert notifier.looked
    # 11 breached: news, though the first look came after; 12 did not move
    assert [(a.ticket_id, a.level) for batch in shown for a in batch] == [(11, Level.BREACHED)]


def test_a_sync_before_the_first_look_raises_no_old_breach(cache: Cache, clock: FakeClock) -> None:
    # a large queue (eager_limit 0): my tickets' clocks are not evaluated when the sync lands
    feed = Feed()
    days = dt.timedelta(days=3)
    feed.ticket(11, created=T0 - days, priority="P1", severity="blocking", assignee=1)
    model, notifier, shown = _notified(cache, clock, feed, view=QueueView.PENDING, eager_limit=0)
    feed.ticket(11, created=T0 - days, priority="P1", severity="major", assignee=1)
    load(cache, feed)
    model.refresh_tickets([11])  # breached for days, and still: no news
    assert notifier.looked
    assert model.watch(1)[11].states[0] is ClockStatus.BREACHED
    assert shown == []
