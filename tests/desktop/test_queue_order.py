"""The queue's order: the next SLA due by default, every column sortable, and sorted
again as clocks breach, without moving the rows on screen under the user's eyes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from PySide6.QtCore import QPersistentModelIndex, Qt

from desktop.demo_data import DEMO_AGENT_ID, seed_demo, seed_demo_until
from desktop.models.queue import (
    OFF_SCREEN_STEP,
    ORDER_WAIT,
    Column,
    QueueModel,
    QueueRow,
    QueueView,
)
from desktop.models.sla_cells import clock_sort_key, ticket_sort_key
from i18n import _
from sla.events import Status
from sla.policy import Priority, Severity
from sync.cache import Cache
from tests.desktop.conftest import MIN, T0, FakeClock, Feed, load
from tests.desktop.queue_readings import ids, text


def test_default_order_is_the_next_sla_due(queue: QueueModel) -> None:
    # overdue first, then running clocks by due time, then paused, then stopped
    assert queue.sort_column == -1
    assert ids(queue) == [3, 2, 1, 4, 5]


def test_sorting_by_priority_and_back_to_sla(queue: QueueModel) -> None:
    queue.sort(Column.PRIORITY, Qt.SortOrder.AscendingOrder)
    assert ids(queue) == [2, 3, 1, 4, 5]
    queue.sort(Column.PRIORITY, Qt.SortOrder.DescendingOrder)
    assert ids(queue) == [5, 4, 1, 3, 2]
    queue.sort(Column.RESPONSE_SLA, Qt.SortOrder.AscendingOrder)
    assert ids(queue)[:2] == [3, 2]  # overdue, then the one due in 30 minutes
    queue.sort(-1)
    assert ids(queue) == [3, 2, 1, 4, 5]


def test_every_column_sorts_by_what_it_shows(cache: Cache, clock: FakeClock) -> None:
    seed_demo(cache, now=T0, count=80)
    model = QueueModel(cache, me=1, clock=clock)
    rows = [model.row_at(r) for r in range(model.rowCount())]
    # the default order: the next SLA due (ties by ticket id)
    expected = sorted(rows, key=lambda row: (ticket_sort_key(row.sla), row.ticket.id))
    assert model.ticket_ids() == [row.ticket.id for row in expected]
    texts: dict[Column, Callable[[QueueRow], object]] = {
        Column.TRACKING: lambda row: row.ticket.tracking_number,
        Column.SUBJECT: lambda row: row.ticket.subject.casefold(),
        Column.ORGANISATION: lambda row: row.organisation.casefold(),
        Column.PRIORITY: lambda row: Priority(row.ticket.priority).rank,
        Column.SEVERITY: lambda row: Severity(row.ticket.severity).rank,
        Column.STATUS: lambda row: list(Status).index(Status(row.ticket.status)),
        Column.ASSIGNEE: lambda row: (row.assignee or "").casefold(),
        Column.RESPONSE_SLA: lambda row: clock_sort_key(row.clock(Column.RESPONSE_SLA)),
        Column.RESOLUTION_SLA: lambda row: clock_sort_key(row.clock(Column.RESOLUTION_SLA)),
        Column.UPDATED: lambda row: row.ticket.updated_at,
    }
    for column, value in texts.items():
        for order in (Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder):
            model.sort(column, order)
            shown = [value(model.row_at(r)) for r in range(model.rowCount())]
            descending = order == Qt.SortOrder.DescendingOrder
            assert shown == sorted(shown, reverse=descending), (column, order)  # type: ignore[type-var]
    # a selection of the queue sorts the same way
    model.sort(Column.SUBJECT)
    model.set_view(QueueView.MY_TICKETS)
    subjects = [model.row_at(r).ticket.subject.casefold() for r in range(model.rowCount())]
    assert subjects == sorted(subjects)


def test_a_queue_evaluated_in_columns_keeps_each_tickets_own_facts(
    cache: Cache, clock: FakeClock
) -> None:
    # the queue evaluates many tickets at once, in columns (sla.queue.QueueSla), and
    # keeps their states, order and next change; a row's own clocks are evaluated
    # one by one: the two agree, and keep agreeing as time passes (every state
    # change woken up in time: at risk, breached, the evening close, the morning)
    seed_demo_until(cache, 600, now=T0)
    model = QueueModel(cache, me=DEMO_AGENT_ID, clock=clock)
    model.set_view(QueueView.ALL)
    for later in (0, 7, 95, 9 * 60, 23 * 60 + 30):
        clock.now = T0 + later * MIN
        model.tick()
        assert model.fully_evaluated
        assert model.rowCount() >= 600
        keys = []
        for position in range(model.rowCount()):
            row = model.row_at(position)
            assert row.sla is not None
            assert row.problem is None
            assert row.states == (row.sla.response.state, row.sla.resolution.state)
            keys.append((ticket_sort_key(row.sla), row.ticket.id))
        assert keys == sorted(keys)  # by the next SLA due (ties by ticket)


@pytest.mark.parametrize("column", [-1, Column.PRIORITY, Column.RESOLUTION_SLA])
def test_a_kept_order_mended_as_clocks_move_is_the_order_sorted_afresh(
    cache: Cache, clock: FakeClock, column: int
) -> None:
    # a large queue keeps each column's order and mends it when clocks breach
    # (a few tickets taken out and put back): the same order as sorting anew
    seed_demo_until(cache, 600, now=T0)
    model = QueueModel(cache, me=DEMO_AGENT_ID, clock=clock)
    model.set_view(QueueView.ALL)
    model.sort(column)
    for later in (3, 11, 40, 95, 200, 9 * 60, 24 * 60):
        clock.now = T0 + later * MIN
        model.set_visible_rows(0, model.rowCount() - 1)  # every row seen: no waiting
        model.tick()
        fresh = QueueModel(cache, me=DEMO_AGENT_ID, clock=clock)
        fresh.set_view(QueueView.ALL)
        fresh.sort(column)
        assert model.ticket_ids() == fresh.ticket_ids()


def _overdue_and_due_soon(
    cache: Cache, feed: Feed, clock: FakeClock, overdue: int
) -> tuple[QueueModel, list[object]]:
    """``overdue``: a P4 long overdue; 11: a P1 whose first response is due at T0 +
    10 min.  The queue over them, and the layout changes it makes."""
    feed.ticket(overdue, created=dt.datetime(2026, 2, 25, 8, 0, tzinfo=dt.UTC), priority="P4")
    feed.ticket(11, created=T0 - 50 * MIN, priority="P1", severity="blocking")
    load(cache, feed)
    model = QueueModel(cache, me=1, clock=clock)
    layouts: list[object] = []
    model.layoutChanged.connect(lambda *_args: layouts.append(True))
    return model, layouts


def test_the_queue_resorts_when_a_clock_breaches(
    cache: Cache, feed: Feed, clock: FakeClock
) -> None:
    model, layouts = _overdue_and_due_soon(cache, feed, clock, 10)
    assert ids(model) == [10, 11]
    assert model.counts()[QueueView.BREACHED] == 1
    selected = QPersistentModelIndex(model.index(1, Column.SUBJECT))
    model.tick(T0 + 9 * MIN)
    assert ids(model) == [10, 11]
    assert layouts == []
    assert model.counts()[QueueView.AT_RISK] == 1
    model.tick(T0 + 11 * MIN)
    # breached P1 goes before breached P4; the selection follows the ticket
    assert ids(model) == [11, 10]
    assert layouts
    assert selected.row() == 0
    assert model.counts()[QueueView.BREACHED] == 2
    assert model.counts()[QueueView.AT_RISK] == 0


@pytest.mark.parametrize("then", ["waits", "scrolls"])
def test_a_breach_below_the_rows_on_screen_reorders_them_later_in_one_go(
    cache: Cache, feed: Feed, clock: FakeClock, then: str
) -> None:
    # 10: a P1 and 20: a P4, long overdue; 11: a P1 whose first response is due in 10 min
    long_ago = dt.datetime(2026, 2, 25, 8, 0, tzinfo=dt.UTC)
    feed.ticket(10, created=long_ago, priority="P1")
    feed.ticket(20, created=long_ago, priority="P4")
    feed.ticket(11, created=T0 - 50 * MIN, priority="P1", severity="blocking")
    load(cache, feed)
    model = QueueModel(cache, me=1, clock=clock)
    assert ids(model) == [10, 20, 11]
    model.set_visible_rows(0, 0)  # the screen shows the first row only
    layouts: list[object] = []
    model.layoutChanged.connect(lambda *_args: layouts.append(True))
    breach = T0 + 11 * MIN
    model.tick(breach)
    # 11 breached: it belongs before 20, but the row on screen is still 10's
    assert model.counts()[QueueView.BREACHED] == 3
    assert ids(model) == [10, 20, 11]
    assert layouts == []
    woken = model.next_tick()
    assert woken is not None
    assert woken <= breach + ORDER_WAIT
    if then == "waits":
        model.tick(breach + ORDER_WAIT / 2)
        assert ids(model) == [10, 20, 11]
        model.tick(breach + ORDER_WAIT)
    else:
        model.set_visible_rows(1, 2)  # the other rows come into view: in their order
    assert ids(model) == [10, 11, 20]
    assert len(layouts) == 1


def test_a_row_on_screen_turns_red_at_its_second_and_moves_at_the_next_step(
    cache: Cache, feed: Feed, clock: FakeClock
) -> None:
    model, layouts = _overdue_and_due_soon(cache, feed, clock, 20)
    model.set_visible_rows(0, 1)
    second = dt.timedelta(seconds=1)
    model.tick(T0 + 9 * MIN + 50 * second)
    assert ids(model) == [20, 11]
    model.tick(T0 + 10 * MIN + second)
    # breached: its cell and the counts say so at once; the row stays where it is
    overdue = _("Overdue {duration}").split("{")[0]
    assert str(text(model, 11, Column.RESPONSE_SLA)).startswith(overdue)
    assert model.counts()[QueueView.BREACHED] == 2
    assert ids(model) == [20, 11]
    assert layouts == []
    step = model.next_tick()
    assert step is not None
    assert step <= T0 + 10 * MIN + OFF_SCREEN_STEP
    model.tick(T0 + 10 * MIN + 15 * second)
    assert ids(model) == [20, 11]
    model.tick(T0 + 10 * MIN + 30 * second)  # the step: the breached P1 before the P4
    assert ids(model) == [11, 20]
    assert len(layouts) == 1
