"""The team lead's console: reassignment (drag and drop, shortcut, undo), the workload panel
and its breach forecast, presence on a ticket, announcements; and what agents do not get."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import qasync  # type: ignore[import-untyped]
from PySide6.QtCore import QEvent, QItemSelectionModel, QPoint, QPointF, Qt
from PySide6.QtGui import QDrag, QDragEnterEvent, QDragMoveEvent, QDropEvent, QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractItemView, QApplication, QTableView
from pytestqt.qtbot import QtBot

import i18n
from desktop.app import Console
from desktop.demo_data import seed_demo
from desktop.models.forecast import FORECAST_HORIZON, load_open_tickets, preview_move, snapshot
from desktop.models.queue import Column, QueueState, QueueView
from desktop.models.sla_cells import SlaRules, events_from_history
from desktop.models.workload import Target, WorkloadColumn, WorkloadModel
from desktop.views.announcements_editor import AnnouncementForm
from desktop.views.main_window import MainWindow
from desktop.views.presence import presence_text
from desktop.views.reassign import ReassignDialog
from desktop.views.settings import open_settings
from desktop.views.sync_panel import describe_command
from desktop.views.workload import WorkloadPanel, ticket_ids_from_mime, tickets_mime
from protocol import (
    AppliedResult,
    AssignCommand,
    PresenceEntry,
    RejectedResult,
    RejectReason,
    SetTeamCommand,
)
from sla.calendar import from_us, to_us
from sla.clock import ClockStatus, Status, evaluate
from sla.history import HistoryRow
from sla.policy import Priority
from sync.cache import Cache
from sync.client import ApiClient, RetryPolicy
from sync.engine import SyncEngine, SyncState, SyncStatus
from sync.store import Store
from tests.clock import FakeClock
from tests.desktop.conftest import T0, Feed
from tests.sync.live_server import PASSWORD, LiveServer
from tests.sync.test_credentials import MemoryKeyring

LEAD = 3


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    i18n.set_language("en")
    yield
    i18n.set_language("en")


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


# -- the forecast on a hand-made case ---------------------------------------------------------

#: T0 is Wednesday 4 March 2026, 10:00 in Paris (calendar open 09:00-18:00).
_HAND_MADE: dict[int, dict[str, Any]] = {
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


def _hand_made(cache: Cache, feed: Feed) -> Store:
    _lead_feed(feed)
    for ticket_id, spec in _HAND_MADE.items():
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


def _queue(cache: Cache, clock: FakeClock, me: int = LEAD, **options: int) -> QueueState:
    """The queue's tickets and clocks, as the console's queue reads them: what the
    workload counts on."""
    queue = QueueState(cache, me=me, clock=clock, **options)
    queue.reload()
    return queue


def _model(
    cache: Cache, clock: FakeClock, me: int = LEAD, queue: QueueState | None = None
) -> WorkloadModel:
    if queue is None:
        queue = _queue(cache, clock, me)
    model = WorkloadModel(cache, me=me, now=clock, queue=queue)
    model.reload()
    return model


def _open_ids(cache: Cache, team_ids: list[int]) -> list[int]:
    with cache.snapshot() as reading:
        return reading.open_ticket_ids(team_ids)


def _events(cache: Cache, ticket_id: int) -> list[Any]:
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


def test_the_forecast_matches_sla_on_a_hand_made_case(cache: Cache, feed: Feed) -> None:
    clock = FakeClock(T0)
    _hand_made(cache, feed)
    model = _model(cache, clock)
    rules = SlaRules.defaults()
    calendar = rules.calendar
    # "if nothing moves": the clocks evaluated 4 business hours from now, with sla itself
    horizon = from_us(
        calendar.locate_us(
            calendar.position_us(to_us(T0)) + FORECAST_HORIZON // dt.timedelta(microseconds=1)
        ),
        calendar.zone,
    )
    assert horizon == dt.datetime(2026, 3, 4, 13, 0, tzinfo=dt.UTC)  # 14:00 in Paris
    expected: Counter[int | None] = Counter()
    for ticket_id, spec in _HAND_MADE.items():
        if spec.get("status") == "resolved":
            continue
        events = _events(cache, ticket_id)
        now = evaluate(events, rules.policy, calendar, T0)
        later = evaluate(events, rules.policy, calendar, horizon)
        breached_now = ClockStatus.BREACHED in (now.response.state, now.resolution.state)
        breached_later = ClockStatus.BREACHED in (later.response.state, later.resolution.state)
        if breached_later and not breached_now:
            expected[spec.get("assignee")] += 1
    # by hand: 101 (30 min left), 103 (1 h left) and 104 (0 left); not 105 (breached
    # already), 102 (9 h left) nor 106 (paused while pending)
    assert expected == Counter({1: 1, 2: 1, None: 1})
    forecast = {row.agent_id: row.forecast for row in model.rows if row.team_id == 1}
    assert forecast == {1: 1, 2: 1, None: 1}
    breached = {row.agent_id: row.breached for row in model.rows if row.team_id == 1}
    assert breached == {1: 0, 2: 0, None: 1}
    pending = {row.agent_id: row.pending for row in model.rows if row.team_id == 1}
    assert pending == {1: 1, 2: 0, None: 0}

    # time passes (30 min): 101's first response is breached now, no longer a forecast
    clock.advance(minutes=31)
    model.tick()
    camille = model.find(1, 1)
    assert camille is not None
    assert camille.breached == 1
    assert camille.forecast == 0


def test_the_reassignment_preview_says_what_happens_to_sla(cache: Cache, feed: Feed) -> None:
    _hand_made(cache, feed)
    preview = preview_move(cache, [101, 102, 103, 105], SlaRules.defaults(), T0)
    assert (preview.count, preview.breached, preview.soon, preview.forecast) == (4, 1, 1, 2)
    assert preview.text() == (
        "4 tickets, 1 already breached, 1 will breach within the hour, "
        "1 more within 4 business hours"
    )
    calm = preview_move(cache, [102], SlaRules.defaults(), T0)
    assert calm.text() == "1 ticket, none at risk of breaching soon"


# -- the workload panel against a direct count -----------------------------------------------------


def test_workload_numbers_equal_a_direct_count_from_the_cache(cache: Cache) -> None:
    clock = FakeClock(T0)
    seed_demo(cache, now=T0, count=300)
    carol = next(user for user in cache.users() if user.username == "carol")
    model = _model(cache, clock, me=carol.id)
    rules = SlaRules.defaults()
    direct: dict[tuple[int, int | None], Counter[str]] = {}
    for ticket in cache.tickets():
        if ticket.team_id not in carol.team_ids or ticket.status in ("resolved", "closed"):
            continue
        sla = evaluate(_events(cache, ticket.id), rules.policy, rules.calendar, T0)
        states = (sla.response.state, sla.resolution.state)
        count = direct.setdefault((ticket.team_id, ticket.assignee_id), Counter())
        count["open"] += 1
        breached = ClockStatus.BREACHED in states
        count["breached"] += breached
        count["at_risk"] += not breached and ClockStatus.AT_RISK in states
        count["pending"] += ticket.status == "pending"
    shown = {
        (row.team_id, row.agent_id): Counter(
            open=row.open, breached=row.breached, at_risk=row.at_risk, pending=row.pending
        )
        for row in model.rows
        if row.open
    }
    assert shown == {key: +value for key, value in direct.items()}
    assert sum(row.open for row in model.rows) > 50  # the demo is not empty
    teams = {row.team_id for row in model.rows}
    assert teams == set(carol.team_ids)
    # two hours later, a tick (no history replayed) counts what a fresh evaluation counts
    clock.advance(hours=2)
    model.tick()
    ticked = {(r.team_id, r.agent_id): (r.at_risk, r.breached, r.forecast) for r in model.rows}
    fresh = _model(cache, clock, me=carol.id)
    assert ticked == {
        (r.team_id, r.agent_id): (r.at_risk, r.breached, r.forecast) for r in fresh.rows
    }
    # the table shows the same figures
    for position in range(model.rowCount()):
        row = model.row_at(position)
        text = model.index(position, WorkloadColumn.BREACHED).data()
        assert text == str(row.breached)


def _figures(rows: list[Any]) -> dict[tuple[int, int | None], tuple[int, ...]]:
    """Each row's numbers, and its tickets, by (team, agent)."""
    return {
        (r.team_id, r.agent_id): (
            r.open, r.at_risk, r.breached, r.pending, r.forecast, *r.ticket_ids
        )
        for r in rows
    }  # fmt: skip


def test_a_sync_moves_tickets_between_rows_that_stay_selected(qtbot: QtBot, cache: Cache) -> None:
    clock = FakeClock(T0)
    seed_demo(cache, now=T0, count=300)
    users = {user.username: user for user in cache.users()}
    carol, eva = users["carol"], users["eva"]  # eva is in none of carol's teams
    queue = _queue(cache, clock, carol.id)
    model = _model(cache, clock, me=carol.id, queue=queue)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    resets: list[bool] = []
    model.modelReset.connect(lambda: resets.append(True))
    store = Store(cache, user_id=carol.id)
    ticket = next(
        t
        for t in cache.tickets()
        if t.team_id in carol.team_ids and t.assignee_id is not None and t.status in ("new", "open")
    )

    clock.advance(minutes=20)  # a ticket handed to someone outside the team: their row
    store.assign(ticket.id, eva.id)
    assert queue.refresh_changed() == 1  # the queue reads it again: the workload follows
    assert model.refresh_changed() == 0  # (nothing left to follow)
    assert _figures(model.rows) == _figures(_model(cache, clock, me=carol.id).rows)
    assert (ticket.team_id, eva.id) in _figures(model.rows)
    clock.advance(minutes=20)  # and back in the team: that row goes
    store.assign(ticket.id, None)
    assert queue.refresh_changed() == 1
    assert (ticket.team_id, eva.id) not in _figures(model.rows)
    assert _figures(model.rows) == _figures(_model(cache, clock, me=carol.id).rows)

    resets.clear()
    chosen = next(  # another agent of the team, whose row the lead selected
        row
        for row in model.rows
        if row.team_id == ticket.team_id and row.agent_id not in (None, ticket.assignee_id)
    )
    view.selectRow(model.rows.index(chosen))
    clock.advance(minutes=20)  # an ordinary sync: the rows stay, the selection with them
    store.set_priority(ticket.id, Priority.P1)
    store.assign(ticket.id, chosen.agent_id)
    assert queue.refresh_changed() == 1
    assert resets == []
    assert _figures(model.rows) == _figures(_model(cache, clock, me=carol.id).rows)
    assert ticket.id in chosen.ticket_ids
    selected = [model.row_at(index.row()) for index in view.selectionModel().selectedRows()]
    assert len(selected) == 1
    assert selected[0] is chosen


def test_a_large_workload_loads_in_slices_and_takes_a_sync_after(
    qtbot: QtBot, cache: Cache
) -> None:
    clock = FakeClock(T0)
    seed_demo(cache, now=T0, count=300)
    carol = next(user for user in cache.users() if user.username == "carol")
    queue = _queue(cache, clock, carol.id, eager_limit=0)  # a large queue: clocks evaluated lazily
    model = WorkloadModel(cache, me=carol.id, now=clock, queue=queue, slice_size=40)
    panel = WorkloadPanel(model)
    qtbot.addWidget(panel)
    seen: list[tuple[int, int] | None] = []
    model.loadProgress.connect(lambda: seen.append(model.loading))
    model.reload()  # returns at once: the window goes on between the slices
    total = len(_open_ids(cache, carol.team_ids))
    assert total > 3 * 40
    assert model.loading == (0, total)
    assert model.rowCount() == 0
    assert panel.hint.text() == f"Counting the open tickets of your teams… 0 of {total}"
    with qtbot.waitSignal(model.loadProgress):
        pass  # the first slice
    assert model.loading == (40, total)
    open_ids = _open_ids(cache, carol.team_ids)
    clock.advance(minutes=10)
    store = Store(cache, user_id=carol.id)
    store.set_status(open_ids[0], Status.RESOLVED)  # evaluated already; resolved by a sync
    assert queue.refresh_changed() == 1
    assert model.refresh_changed() == 0  # taken once the load is done
    store.set_team(open_ids[-1], 3)  # not evaluated yet; moved to a team carol does not lead
    queue.refresh_changed()
    qtbot.waitUntil(lambda: model.loading is None)
    done = [progress[0] for progress in seen if progress is not None]
    assert len(done) >= 3
    assert done == sorted(done)
    assert seen[-1] is None
    listed = {ticket_id for row in model.rows for ticket_id in row.ticket_ids}
    assert open_ids[0] not in listed
    assert open_ids[-1] not in listed
    assert _figures(model.rows) == _figures(_model(cache, clock, me=carol.id).rows)
    assert panel.hint.text().startswith("Open tickets per agent")


def test_a_workload_load_asked_again_starts_over(qtbot: QtBot, cache: Cache) -> None:
    clock = FakeClock(T0)
    seed_demo(cache, now=T0, count=300)
    carol = next(user for user in cache.users() if user.username == "carol")
    queue = _queue(cache, clock, carol.id, eager_limit=0)
    model = WorkloadModel(cache, me=carol.id, now=clock, queue=queue, slice_size=40)
    model.reload()
    with qtbot.waitSignal(model.loadProgress):
        pass  # a slice in
    model.reload()  # the teams changed, say: from the start (the clocks known stay known)
    assert model.loading == (40, len(_open_ids(cache, carol.team_ids)))
    qtbot.waitUntil(lambda: model.loading is None)
    assert _figures(model.rows) == _figures(_model(cache, clock, me=carol.id).rows)
    assert sum(row.open for row in model.rows) > 0


def test_after_a_sync_the_workload_reads_only_what_changed(cache: Cache) -> None:
    clock = FakeClock(T0)
    seed_demo(cache, now=T0, count=300)
    carol = next(user for user in cache.users() if user.username == "carol")
    queue = _queue(cache, clock, carol.id)
    model = _model(cache, clock, me=carol.id, queue=queue)
    store = Store(cache, user_id=carol.id)
    mine = [
        t
        for t in cache.tickets()
        if t.team_id in carol.team_ids and t.status not in ("resolved", "closed")
    ]
    assigned = next(t for t in mine if t.assignee_id is not None)
    working = [t for t in mine if t.status in ("new", "open") and t.id != assigned.id]
    lower = next(t for t in working[2:] if t.priority != "P1")
    clock.advance(hours=1)
    store.assign(assigned.id, None)  # to the team's unassigned tickets
    store.set_status(working[0].id, Status.RESOLVED)  # leaves the open tickets
    store.set_status(working[1].id, Status.PENDING)  # its resolution clock pauses
    store.set_priority(lower.id, Priority.P1)  # tighter targets: maybe breached now
    clock.advance(minutes=30)

    assert queue.refresh_changed() == 4  # four tickets read again, not the team's all
    assert _figures(model.rows) == _figures(_model(cache, clock, me=carol.id).rows)
    clock.advance(hours=3)  # and the clocks go on from there
    model.tick()
    assert _figures(model.rows) == _figures(_model(cache, clock, me=carol.id).rows)
    assert model.refresh_changed() == 0


def test_the_workload_follows_the_queue_whichever_hears_of_a_change_first(
    cache: Cache,
) -> None:
    clock = FakeClock(T0)
    seed_demo(cache, now=T0, count=300)
    carol = next(user for user in cache.users() if user.username == "carol")
    queue = _queue(cache, clock, carol.id)
    model = _model(cache, clock, me=carol.id, queue=queue)
    ticket = next(
        t
        for t in cache.tickets()
        if t.team_id in carol.team_ids and t.assignee_id is not None and t.status == "open"
    )
    clock.advance(minutes=5)
    Store(cache, user_id=carol.id).assign(ticket.id, None)
    assert model.refresh_changed() == 0  # the panel first: the queue has not read it yet
    assert queue.refresh_changed() == 1  # the queue reads it, and the workload follows
    unassigned = model.find(ticket.team_id, None)
    assert unassigned is not None
    assert ticket.id in unassigned.ticket_ids
    assert _figures(model.rows) == _figures(_model(cache, clock, me=carol.id).rows)
    queue.reload()  # read whole (a cache rebuilt, say): the workload is placed again
    assert _figures(model.rows) == _figures(_model(cache, clock, me=carol.id).rows)


def test_thresholds_hold_whenever_they_are_computed(cache: Cache) -> None:
    """What lets a sync evaluate only the tickets it changed: the positions from which
    a ticket is at risk, breached, forecast, are the same from a later evaluation."""
    seed_demo(cache, now=T0, count=120)
    tickets = load_open_tickets(cache)
    rules = SlaRules.defaults()
    before = snapshot(tickets, rules, T0)
    later = snapshot(tickets[::3], rules, T0 + dt.timedelta(hours=5))  # histories unchanged
    assert later.position_us > before.position_us
    earlier = dict(zip(before.ids, before.thresholds(), strict=True))
    found = dict(zip(later.ids, later.thresholds(), strict=True))
    assert found == {ticket_id: earlier[ticket_id] for ticket_id in later.ids}
    assert len({at_risk for at_risk, _b, _f in found.values()}) > 10  # not all "never"


def test_the_ticking_counts_equal_each_tickets_flags(cache: Cache) -> None:
    """A tick counts by binary search in thresholds; each ticket's flags say the same."""
    clock = FakeClock(T0)
    seed_demo(cache, now=T0, count=300)
    carol = next(user for user in cache.users() if user.username == "carol")
    model = _model(cache, clock, me=carol.id)
    shot = snapshot(load_open_tickets(cache, team_ids=carol.team_ids), SlaRules.defaults(), T0)
    seen = set()
    for _step in range(40):  # ten business hours and more, in uneven steps
        clock.advance(minutes=23)
        model.tick()
        flags = dict(zip(shot.ids, shot.flags(clock()), strict=True))
        for row in model.rows:
            mine = [flags[i] for i in row.ticket_ids]
            expected = (
                sum(f.at_risk for f in mine),
                sum(f.breached for f in mine),
                sum(f.forecast for f in mine),
            )
            assert (row.at_risk, row.breached, row.forecast) == expected
            seen.add(expected)
    assert len(seen) > 5  # the figures did move


def test_workload_model_passes_the_model_tester(qtmodeltester: Any, cache: Cache) -> None:
    seed_demo(cache, now=T0, count=120)
    model = _model(cache, FakeClock(T0), me=3)
    assert model.rowCount() > 3
    qtmodeltester.check(model, force_py=True)
    model.sort(WorkloadColumn.BREACHED, Qt.SortOrder.DescendingOrder)
    values = [model.row_at(i).breached for i in range(model.rowCount())]
    assert values == sorted(values, reverse=True)
    qtmodeltester.check(model, force_py=True)


def test_the_workload_table_is_sortable_by_any_column(qtbot: QtBot, cache: Cache) -> None:
    seed_demo(cache, now=T0, count=120)
    window = MainWindow(cache, me=3, clock=FakeClock(T0))
    qtbot.addWidget(window)
    window.show()
    window.show_workload()
    panel = window.team.panel
    assert window.team.dock.isVisible()
    assert panel.isVisible()
    panel.table.sortByColumn(WorkloadColumn.OPEN, Qt.SortOrder.DescendingOrder)
    opened = [window.team.workload.row_at(i).open for i in range(panel.model.rowCount())]
    assert opened == sorted(opened, reverse=True)


# -- reassignment and undo (cache only) ------------------------------------------------------------


def test_undo_withdraws_queued_moves_and_reverts_applied_ones(cache: Cache, feed: Feed) -> None:
    store = _hand_made(cache, feed)
    done = store.reassign([101, 102, 103], 1, 2)  # to Bob Lefèvre
    assert len(done.moves) == 2
    assert done.skipped == 1  # 103 is Bob's already
    assert {cache.ticket(i).assignee_id for i in (101, 102)} == {2}  # type: ignore[union-attr]
    assert len(store.pending_batch()) == 2

    # still queued: withdrawn, nothing is ever sent
    outcome = store.undo(done.moves)
    assert (outcome.withdrawn, outcome.reverted, outcome.unchanged) == (2, 0, 0)
    assert store.pending_batch() == []
    assert cache.ticket(101).assignee_id == 1  # type: ignore[union-attr]

    # applied by the server (not pulled yet): the inverse, against the version it made
    again = store.reassign([101], 1, 2)
    version = cache.ticket(101).version  # type: ignore[union-attr]
    store.record_results(
        [AppliedResult(mutation_id=again.moves[0].mutation_id, ticket_id=101, version=version + 1)]
    )
    outcome = store.undo(again.moves)
    assert (outcome.withdrawn, outcome.reverted) == (0, 1)
    inverse = store.pending_batch()
    assert len(inverse) == 1
    assert isinstance(inverse[0], AssignCommand)
    assert inverse[0].assignee_id == 1
    assert inverse[0].base_version == version + 1
    assert cache.ticket(101).assignee_id == 1  # type: ignore[union-attr]


def test_undo_waits_for_the_servers_answer_to_a_move_on_its_way(
    qtbot: QtBot, cache: Cache, feed: Feed
) -> None:
    _hand_made(cache, feed)
    window = MainWindow(cache, me=LEAD, clock=FakeClock(T0))
    qtbot.addWidget(window)
    store = window.store  # the sync engine's too
    bob = Target(1, 2, "Bob Lefèvre")
    done = window.team.perform([101], bob)
    version = cache.ticket(101).version  # type: ignore[union-attr]

    # the engine has taken the move to send it: withdrawing it now would not stop the
    # server from applying it, so the undo waits
    [sent] = store.take_batch()
    with store.sending([sent.mutation_id]):
        outcome = window.team.undo_last()
        assert outcome is not None
        assert outcome.deferred == done.moves
        assert "being sent to the server" in window.statusBar().currentMessage()
        assert cache.ticket(101).assignee_id == 2  # type: ignore[union-attr]
        assert window.team.push_answered() is not None  # still on its way: waits on
        assert window.team.deferred_undo is not None
        store.record_results(
            [AppliedResult(mutation_id=sent.mutation_id, ticket_id=101, version=version + 1)]
        )
        # the server applied it: the outbox moved, and the change bus told the team
        # lead's tools, so the undo went on by itself, with the inverse against that
        # version
        assert window.team.deferred_undo is None
    assert window.team.push_answered() is None  # nothing is left waiting
    [inverse] = store.pending_batch()
    assert isinstance(inverse, AssignCommand)
    assert (inverse.assignee_id, inverse.base_version) == (1, version + 1)
    assert cache.ticket(101).assignee_id == 1
    assert "back where it was" in window.statusBar().currentMessage()


def test_undo_waits_on_a_move_sent_without_an_answer(cache: Cache, feed: Feed) -> None:
    store = _hand_made(cache, feed)
    done = store.reassign([101], 1, 2)
    # sent, but the connection dropped before the answer: the server may have applied it
    store.record_attempt([done.moves[0].mutation_id], "connection reset")
    outcome = store.undo(done.moves)
    assert outcome.deferred == done.moves
    assert outcome.withdrawn == 0
    assert [c.mutation_id for c in store.pending_batch()] == [done.moves[0].mutation_id]


def test_undo_leaves_alone_a_ticket_moved_again_since(cache: Cache, feed: Feed) -> None:
    store = _hand_made(cache, feed)
    done = store.reassign([101], 1, 2)
    store.assign(101, None)  # someone (the lead, here) moved it again
    outcome = store.undo(done.moves)
    assert (outcome.withdrawn, outcome.reverted, outcome.unchanged) == (0, 0, 1)
    assert cache.ticket(101).assignee_id is None  # type: ignore[union-attr]


def test_a_move_to_another_team_is_a_set_team_command(cache: Cache, feed: Feed) -> None:
    store = _hand_made(cache, feed)
    done = store.reassign([101], 2)  # to the Network team, nobody assigned
    queued = store.pending_batch()
    assert len(queued) == 1
    assert isinstance(queued[0], SetTeamCommand)
    assert (queued[0].team_id, queued[0].assignee_id) == (2, None)
    assert describe_command(queued[0], cache) == "INC-2026-000101: move to team Network"
    moved = cache.ticket(101)
    assert moved is not None
    assert (moved.team_id, moved.assignee_id) == (2, None)
    store.undo(done.moves)
    back = cache.ticket(101)
    assert back is not None
    assert (back.team_id, back.assignee_id) == (1, 1)


def test_the_window_reassigns_and_undoes_with_the_keyboard(
    qtbot: QtBot, cache: Cache, feed: Feed
) -> None:
    _hand_made(cache, feed)
    window = MainWindow(cache, me=LEAD, clock=FakeClock(T0))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(window.windowHandle().isExposed)
    window.show_view(QueueView.MY_TEAMS)
    assert window.table.selectionMode() is QAbstractItemView.SelectionMode.ExtendedSelection
    _select(window, [101, 102])
    _shortcut(qtbot, window, Qt.Key.Key_M)
    dialog = window.team.reassign_dialog
    assert isinstance(dialog, ReassignDialog)
    assert dialog.intro.text() == "Reassign 2 tickets to:"
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog)
    QTest.keyClicks(dialog.filter_edit, "lefe")  # accents do not matter
    assert dialog.visible_labels() == ["Bob Lefèvre · Service desk"]
    assert dialog.load_label.text() == "Bob Lefèvre now has 1 open, 0 at risk, 0 breached."
    QTest.keyClick(dialog.filter_edit, Qt.Key.Key_Return)
    assert {cache.ticket(i).assignee_id for i in (101, 102)} == {2}  # type: ignore[union-attr]
    assert window.pending_label.text() == "2 pending changes"
    _shortcut(qtbot, window, Qt.Key.Key_Z)
    assert {cache.ticket(i).assignee_id for i in (101, 102)} == {1}  # type: ignore[union-attr]
    assert window.pending_label.text() == "0 pending changes"
    assert not window.team.undo_action.isEnabled()


def _shortcut(qtbot: QtBot, window: MainWindow, key: Qt.Key) -> None:
    """Ctrl+Shift+``key`` typed in the queue of the active window."""
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    window.table.setFocus()
    modifiers = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    QTest.keyClick(window.table, key, modifiers)


def _select(window: MainWindow, ticket_ids: list[int]) -> None:
    selection = window.table.selectionModel()
    selection.clearSelection()
    for ticket_id in ticket_ids:
        position = window.model.position_of(ticket_id)
        assert position is not None, ticket_id
        selection.select(
            window.model.index(position, Column.TRACKING),
            QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
        )


def _drag(
    window: MainWindow, monkeypatch: pytest.MonkeyPatch, team_id: int, agent_id: int | None
) -> list[int]:
    """Drag the queue's selection with the mouse onto an agent's workload row; the
    ticket ids the drag carried.

    A real drag runs the platform's drag loop (``QDrag.exec``), which the offscreen
    platform has not: the test stands in for it and delivers what it would, enter,
    move and drop, on the workload row.  Everything else is the console's own code,
    from the mouse press on the queue to the reassignment dialog."""
    panel = window.team.panel.table
    row = next(
        i
        for i in range(panel.model().rowCount())
        if (window.team.workload.row_at(i).team_id, window.team.workload.row_at(i).agent_id)
        == (team_id, agent_id)
    )
    where = panel.visualRect(panel.model().index(row, WorkloadColumn.AGENT)).center()
    carried: list[int] = []

    def drag_loop(drag: QDrag, *_args: object) -> Qt.DropAction:
        mime = drag.mimeData()
        carried.extend(ticket_ids_from_mime(mime))
        buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
        move_action = Qt.DropAction.MoveAction
        with warnings.catch_warnings():  # PySide flags the (only) QPoint constructors
            warnings.simplefilter("ignore", DeprecationWarning)
            enter = QDragEnterEvent(where, move_action, mime, buttons, modifiers)
            hover = QDragMoveEvent(where, move_action, mime, buttons, modifiers)
        panel.dragEnterEvent(enter)
        assert enter.isAccepted()
        panel.dragMoveEvent(hover)
        assert hover.isAccepted()
        drop = QDropEvent(QPointF(where), move_action, mime, buttons, modifiers)
        panel.dropEvent(drop)
        assert drop.isAccepted()
        return drop.dropAction()

    monkeypatch.setattr(QDrag, "exec", drag_loop)
    table = window.table
    selected = table.selectionModel().selectedRows()
    assert selected, "nothing selected to drag"
    press_at = table.visualRect(selected[0]).center()
    viewport = table.viewport()
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, press_at)
    away = press_at + QPoint(0, 4 * QApplication.startDragDistance())
    move = QMouseEvent(
        QEvent.Type.MouseMove,
        QPointF(away),
        QPointF(viewport.mapToGlobal(away)),
        Qt.MouseButton.NoButton,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(viewport, move)
    return carried


def test_the_queue_drags_its_selection(qtbot: QtBot, cache: Cache, feed: Feed) -> None:
    _hand_made(cache, feed)
    window = MainWindow(cache, me=LEAD, clock=FakeClock(T0))
    qtbot.addWidget(window)
    window.show()
    window.show_view(QueueView.MY_TEAMS)
    _select(window, [103, 101])
    assert sorted(window.team.selected_ticket_ids()) == [101, 103]
    assert ticket_ids_from_mime(tickets_mime([101, 103])) == [101, 103]


# -- agents ----------------------------------------------------------------------------------------


def test_an_agent_sees_no_reassignment_controls(qtbot: QtBot, cache: Cache, feed: Feed) -> None:
    _hand_made(cache, feed)
    window = MainWindow(cache, me=1, clock=FakeClock(T0))  # Camille, an agent
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(window.windowHandle().isExposed)
    team = window.team
    titles = [action.text() for action in window.menuBar().actions() if action.isVisible()]
    assert "T&eam" not in titles
    assert "&Ticket" in titles
    for action in (team.reassign_action, team.undo_action, team.workload_action):
        assert not action.isVisible()
        assert not action.isEnabled()
    assert window.table.selectionMode() is QAbstractItemView.SelectionMode.SingleSelection
    window.show_workload()
    assert not team.dock.isVisible()
    window.show_view(QueueView.MY_TEAMS)
    _select(window, [101])
    _shortcut(qtbot, window, Qt.Key.Key_M)
    assert team.reassign_dialog is None
    assert team.reassign_selected() is None
    assert window.store.pending_count() == 0


# -- end to end, with the real server --------------------------------------------------------------


@pytest.fixture
def loop(qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    event_loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(event_loop)
    yield event_loop
    event_loop.run_until_complete(event_loop.shutdown_asyncgens())
    event_loop.close()
    asyncio.set_event_loop(None)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    # Qt objects left unreachable by earlier tests are collected here, on the GUI thread,
    # not by a collection that happens to run on the server's thread
    gc.collect()
    server = LiveServer.create(tmp_path)
    server.start()
    yield server
    server.close()
    gc.collect()


def _console(tmp_path: Path) -> Console:
    return Console(
        open_settings(str(tmp_path / "settings.ini")),
        keyring_backend=MemoryKeyring(),
        data_dir=tmp_path / "data",
        client_factory=lambda url: ApiClient(url, retry=RetryPolicy(attempts=1)),
        engine_options={"live": False, "offload": False, "interval": 3600.0},
    )


async def _until(
    window: MainWindow, engine: SyncEngine, ready: Callable[[SyncStatus], bool]
) -> SyncStatus:
    """Until the engine's status is ``ready`` and its pass is over (nothing in flight while
    the test drives the widgets outside the loop)."""
    async with asyncio.timeout(30):
        async for status in engine.statuses():
            if ready(status):
                await engine.wait_idle()
                await window.team.presence.wait_reported()
                return status
    raise AssertionError("unreachable")  # pragma: no cover


async def _sync_done(window: MainWindow, engine: SyncEngine) -> None:
    """Until the sync a change asked for is over."""
    await asyncio.sleep(0)
    await engine.wait_idle()
    await window.team.presence.wait_reported()


def _signed_in(
    loop: asyncio.AbstractEventLoop, qtbot: QtBot, tmp_path: Path, live: LiveServer, who: str
) -> tuple[Console, MainWindow, SyncEngine]:
    from desktop.views.sign_in import SignInRequest

    console = _console(tmp_path / who)
    request = SignInRequest(live.url, who, PASSWORD, False)
    assert loop.run_until_complete(console.sign_in(request)) is None
    session = console.session
    assert session is not None
    qtbot.addWidget(session.window)
    loop.run_until_complete(
        _until(
            session.window,
            session.engine,
            lambda s: s.state is SyncState.ONLINE and s.last_sync_at is not None,
        )
    )
    session.window.reload()
    return console, session.window, session.engine


def _assignees(live: LiveServer, tickets: list[dict[str, Any]]) -> set[int | None]:
    return {live.call("GET", f"/tickets/{t['id']}")["assignee_id"] for t in tickets}


def test_a_lead_reassigns_three_tickets_offline_then_online(
    qtbot: QtBot,
    loop: asyncio.AbstractEventLoop,
    tmp_path: Path,
    live: LiveServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alice, bob = live.ids["alice"], live.ids["bob"]
    tickets = [live.open_ticket(f"Printer {n}", assignee_id=alice) for n in range(3)]
    ids = [ticket["id"] for ticket in tickets]
    console, window, engine = _signed_in(loop, qtbot, tmp_path, live, "lead")
    assert window.team.lead
    window.show_view(QueueView.MY_TEAMS)
    window.show_workload()
    support = live.ids["support"]
    loaded = window.team.workload.find(support, alice)
    assert loaded is not None
    assert loaded.open == 3

    # offline: drag the three onto Bob in the workload panel, confirm
    live.stop()
    _select(window, ids)
    assert sorted(_drag(window, monkeypatch, support, bob)) == sorted(ids)
    dialog = window.team.reassign_dialog
    assert dialog is not None
    assert dialog.target == Target(support, bob, "bob")
    assert dialog.impact_label.text().startswith("3 tickets")
    assert dialog.load_label.text() == "bob now has 0 open, 0 at risk, 0 breached."
    dialog.ok_button.click()
    assert window.pending_label.text() == "3 pending changes"
    moved = window.team.workload.find(support, bob)
    assert moved is not None
    assert moved.open == 3  # the panel follows at once
    window.sync_action.trigger()
    loop.run_until_complete(_until(window, engine, lambda s: s.state is SyncState.OFFLINE))
    assert window.pending_label.text() == "3 pending changes"

    # online again: the server shows Bob
    live.start()
    window.sync_action.trigger()
    loop.run_until_complete(
        _until(window, engine, lambda s: s.state is SyncState.ONLINE and s.pending == 0)
    )
    assert _assignees(live, tickets) == {bob}

    # and back to Alice with the keyboard
    window.reload()
    # (the shortcut's action: waiting for the window to be active would run the Qt
    # events without the asyncio loop; test_the_window_reassigns_… types the shortcut)
    _select(window, ids)
    assert window.team.reassign_action.shortcut().toString() == "Ctrl+Shift+M"
    window.team.reassign_action.trigger()
    dialog = window.team.reassign_dialog
    assert dialog is not None
    QTest.keyClicks(dialog.filter_edit, "alice")
    assert dialog.visible_labels() == ["alice · Support"]
    dialog.ok_button.click()
    window.sync_action.trigger()
    loop.run_until_complete(
        _until(window, engine, lambda s: s.state is SyncState.ONLINE and s.pending == 0)
    )
    assert _assignees(live, tickets) == {alice}

    # just applied: undo sends the inverse commands
    assert window.team.undo_last() is not None
    window.sync_action.trigger()
    loop.run_until_complete(
        _until(window, engine, lambda s: s.state is SyncState.ONLINE and s.pending == 0)
    )
    assert _assignees(live, tickets) == {bob}
    assert window.store.conflict_count() == 0
    assert not window.store.rejected()
    loop.run_until_complete(console.close())


def test_the_server_refuses_a_crafted_reassignment_from_an_agent(
    loop: asyncio.AbstractEventLoop, live: LiveServer
) -> None:
    ticket = live.open_ticket("VPN down", assignee_id=live.ids["alice"])

    async def crafted() -> list[Any]:
        async with ApiClient(live.url, retry=RetryPolicy(attempts=1)) as client:
            await client.login("alice", PASSWORD)
            answer = await client.push(
                [
                    SetTeamCommand(
                        type="set_team",
                        mutation_id=uuid4(),
                        ticket_id=ticket["id"],
                        base_version=ticket["version"],
                        team_id=live.ids["support"],
                        assignee_id=live.ids["bob"],
                    ),
                    AssignCommand(
                        type="assign",
                        mutation_id=uuid4(),
                        ticket_id=ticket["id"],
                        base_version=ticket["version"],
                        assignee_id=live.ids["bob"],
                    ),
                ]
            )
            return list(answer.results)

    results = loop.run_until_complete(crafted())
    assert all(isinstance(r, RejectedResult) for r in results)
    assert {r.reason for r in results} == {RejectReason.FORBIDDEN}
    assert "team lead" in results[0].message
    assert all(r.message for r in results)
    assert live.call("GET", f"/tickets/{ticket['id']}")["assignee_id"] == live.ids["alice"]


def test_presence_shows_who_else_is_on_the_ticket(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop, tmp_path: Path, live: LiveServer
) -> None:
    ticket = live.open_ticket("Mail bounces", assignee_id=live.ids["alice"])
    console, window, _engine = _signed_in(loop, qtbot, tmp_path, live, "lead")
    live.call("POST", "/presence", "bob", json={"ticket_id": ticket["id"], "activity": "replying"})
    window.show_view(QueueView.MY_TEAMS)
    position = window.model.position_of(ticket["id"])
    assert position is not None
    window.table.setCurrentIndex(window.model.index(position, Column.TRACKING))
    assert window.team.presence.ticket_id == ticket["id"]
    answer = loop.run_until_complete(window.team.presence.report())
    assert answer is not None
    label = window.team.presence_label
    assert label.text() == "bob is replying to this ticket"
    assert not label.isHidden()
    # what the lead does is reported too: the server knows the lead is viewing it
    seen = live.call("GET", f"/presence?ticket_id={ticket['id']}", "bob")
    lead = next(u for u in seen["users"] if u["user_id"] == live.ids["lead"])
    assert (lead["ticket_id"], lead["activity"]) == (ticket["id"], "viewing")
    # the workload panel shows who is online
    window.show_workload()
    window.team.workload.set_presence(answer)
    support = live.ids["support"]
    bob_row = window.team.workload.find(support, live.ids["bob"])
    alice_row = window.team.workload.find(support, live.ids["alice"])
    assert bob_row is not None
    assert bob_row.online is True
    assert alice_row is not None
    assert alice_row.online is False
    # offline: quietly unknown
    live.stop()
    assert loop.run_until_complete(window.team.presence.report()) is None
    assert label.isHidden()
    window.team.workload.set_presence(None)
    row = window.team.workload.find(support, live.ids["bob"])
    assert row is not None
    assert row.online is None
    live.start()
    loop.run_until_complete(console.close())


def test_presence_text_names_the_others() -> None:
    now = T0

    def entry(user: int, name: str, activity: Any, online: bool = True) -> PresenceEntry:
        return PresenceEntry(
            user_id=user,
            display_name=name,
            last_seen_at=now,
            online=online,
            ticket_id=7,
            activity=activity,
        )

    entries = [
        entry(1, "Me", "replying"),
        entry(2, "Alice Martin", "viewing"),
        entry(3, "Bruno", "replying"),
        entry(4, "Gone", "replying", online=False),
    ]
    assert presence_text(entries, 7, me=1) == (
        "Bruno is replying to this ticket · Alice Martin is viewing this ticket"
    )
    assert presence_text(entries, 8, me=1) == ""


def test_a_lead_publishes_edits_and_ends_an_announcement(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop, tmp_path: Path, live: LiveServer
) -> None:
    console, window, engine = _signed_in(loop, qtbot, tmp_path, live, "lead")
    editor = window.team.open_announcements()
    assert editor is not None
    qtbot.addWidget(editor)
    loop.run_until_complete(editor.refresh())
    assert editor.list.count() == 0
    assert editor.empty_label.isVisible()  # says there is none, rather than a blank list
    assert editor.empty_label.text().startswith("No announcement running or scheduled")

    assert loop.run_until_complete(editor.save()) is None
    assert editor.error_label.text() == "Give the announcement a title."
    editor.form.title_edit.setText("Mail service down")
    editor.form.body_edit.setPlainText("Outgoing mail is queued; nothing is lost.")
    editor.form.start_now.setChecked(False)
    start = editor.form.start_edit.dateTime()
    editor.form.end_edit.setDateTime(start.addSecs(-60))
    assert loop.run_until_complete(editor.save()) is None
    assert editor.error_label.text() == "The expected end must come after the start."

    editor.form.start_now.setChecked(True)
    editor.form.end_edit.setDateTime(start.addSecs(7200))
    published = loop.run_until_complete(editor.save())
    loop.run_until_complete(_sync_done(window, engine))
    assert published is not None
    assert editor.error_label.isHidden()
    assert editor.list.count() == 1
    assert editor.empty_label.isHidden()
    running = live.call("GET", "/announcements", "alice")
    assert [a["title"] for a in running] == ["Mail service down"]
    # published: once this console has pulled (it asks for a pass at once), the
    # banner says it (the pull's change set reaches it through the change bus)
    assert loop.run_until_complete(engine.sync_once()).ok
    assert [item["title"] for item in window.banner.items] == ["Mail service down"]
    assert "Mail service down" in window.banner.label.text()

    editor.form.title_edit.setText("Mail service degraded")
    edited = loop.run_until_complete(editor.save())
    loop.run_until_complete(_sync_done(window, engine))
    assert edited is not None
    assert edited.id == published.id
    assert live.call("GET", f"/announcements/{published.id}")["title"] == "Mail service degraded"

    ended = loop.run_until_complete(editor.end_selected())
    loop.run_until_complete(_sync_done(window, engine))
    assert ended is not None
    assert ended.ended_at is not None
    assert live.call("GET", "/announcements", "alice") == []
    assert loop.run_until_complete(engine.sync_once()).ok
    assert window.banner.items == []
    assert window.banner.isHidden()
    editor.close()
    loop.run_until_complete(console.close())


def test_the_announcement_times_are_in_the_languages_format(qtbot: QtBot) -> None:
    form = AnnouncementForm(FakeClock(T0))
    qtbot.addWidget(form)
    shown = {}
    for language in ("fr", "en"):
        i18n.set_language(language)
        form.retranslate()
        shown[language] = form.end_edit.text()
    assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", shown["fr"])  # 04/03/2026 11:00
    assert re.fullmatch(r"\d{1,2}/\d{1,2}/\d\d \d{1,2}:\d\d\W?[AP]M", shown["en"])
    assert form.end_edit.dateTime() > form.start_edit.dateTime()


def test_an_agent_cannot_open_the_announcements_editor(
    qtbot: QtBot, cache: Cache, feed: Feed
) -> None:
    _hand_made(cache, feed)
    window = MainWindow(cache, me=2, clock=FakeClock(T0))
    qtbot.addWidget(window)
    assert window.team.open_announcements() is None
    assert not window.team.announcements_action.isVisible()
