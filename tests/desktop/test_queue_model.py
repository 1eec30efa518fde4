"""The queue model: a correct Qt model, live SLA cells, sorting, ticking, re-sorting."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

import pytest
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QFont
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

import desktop.models.queue.wakeups as wakeups_module
import i18n
from desktop.demo_data import DEMO_AGENT_ID, seed_demo, seed_demo_until
from desktop.models.queue import (
    CELL_ROLE,
    OFF_SCREEN_STEP,
    ORDER_WAIT,
    SLA_COLUMNS,
    Column,
    QueueModel,
    QueueRow,
    QueueView,
)
from desktop.models.queue.clocks import Clocks
from desktop.models.sla_cells import MINUTES_GRID, clock_sort_key, ticket_sort_key
from i18n import _
from sla.clock import ClockStatus, Status
from sla.policy import Priority, Severity
from sync.cache import Cache
from sync.store import Store
from tests.desktop.conftest import T0, FakeClock, Feed, load

MIN = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)
MONDAY_9 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)  # 09:00 in Paris
TUESDAY_10 = dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC)


def ids(model: QueueModel) -> list[int]:
    return model.ticket_ids()


def text(model: QueueModel, ticket_id: int, column: Column, role: int = 0) -> object:
    position = model.position_of(ticket_id)
    assert position is not None
    return model.data(model.index(position, column), role)


@pytest.fixture
def queue(cache: Cache, feed: Feed, clock: FakeClock) -> QueueModel:
    """Five tickets, one of each kind of SLA situation, at Wednesday 10:00."""
    # 1: P3, answered 10 minutes after creation, resolution clock far from due
    feed.ticket(
        1,
        created=T0 - HOUR,
        history=((T0 - 50 * MIN, "status", "open"), (T0 - 50 * MIN, "responded", "reply")),
        status="open",
        assignee=1,
    )
    # 2: P1 blocking, 30 min old, no answer: first response due in 30 min (at risk)
    feed.ticket(2, created=T0 - 30 * MIN, priority="P1", severity="blocking", assignee=1)
    # 3: P2 major since Monday 09:00, never answered: 15 business hours overdue
    feed.ticket(3, created=MONDAY_9, priority="P2", severity="major")
    # 4: waiting on the customer since Tuesday
    feed.ticket(
        4,
        created=TUESDAY_10,
        status="pending",
        history=(
            (TUESDAY_10 + 10 * MIN, "status", "open"),
            (TUESDAY_10 + 10 * MIN, "responded", "reply"),
            (TUESDAY_10 + 3 * HOUR, "status", "pending"),
        ),
    )
    # 5: resolved in time on Tuesday
    feed.ticket(
        5,
        created=TUESDAY_10,
        status="resolved",
        organisation=2,
        history=(
            (TUESDAY_10 + 10 * MIN, "status", "open"),
            (TUESDAY_10 + 10 * MIN, "responded", "reply"),
            (TUESDAY_10 + HOUR, "status", "resolved"),
        ),
    )
    load(cache, feed)
    model = QueueModel(cache, me=1, clock=clock)
    return model


def test_the_queue_model_is_a_correct_qt_model(
    qtmodeltester: ModelTester, cache: Cache, clock: FakeClock
) -> None:
    seed_demo(cache, now=T0, count=60)
    model = QueueModel(cache, me=1, clock=clock)
    qtmodeltester.check(model, force_py=True)  # type: ignore[no-untyped-call]
    model.sort(Column.PRIORITY, Qt.SortOrder.DescendingOrder)
    model.set_view(QueueView.BREACHED)
    model.set_visible_rows(0, 10)
    model.tick(T0 + dt.timedelta(hours=3))
    qtmodeltester.check(model, force_py=True)  # type: ignore[no-untyped-call]


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


def test_sla_cells_say_where_each_clock_stands(queue: QueueModel) -> None:
    assert text(queue, 2, Column.RESPONSE_SLA) == "30 min 00 s"
    assert text(queue, 3, Column.RESPONSE_SLA) == "Overdue 15 h 00 min"
    assert text(queue, 4, Column.RESOLUTION_SLA) == "Pending customer"
    assert text(queue, 5, Column.RESOLUTION_SLA) == "Met"
    at_risk = text(queue, 2, Column.RESPONSE_SLA, Qt.ItemDataRole.BackgroundRole)
    breached = text(queue, 3, Column.RESPONSE_SLA, Qt.ItemDataRole.BackgroundRole)
    assert isinstance(at_risk, QBrush)
    assert isinstance(breached, QBrush)
    assert at_risk.color() != breached.color()
    assert text(queue, 1, Column.RESOLUTION_SLA, Qt.ItemDataRole.BackgroundRole) is None
    tooltip = text(queue, 2, Column.RESPONSE_SLA, Qt.ItemDataRole.ToolTipRole)
    assert isinstance(tooltip, str)
    assert "Due: Mar 4, 2026, 10:30:00\u202fAM" in tooltip  # wall clock, Paris


def test_a_countdown_shows_business_time_to_the_second(queue: QueueModel) -> None:
    queue.tick(T0 + dt.timedelta(minutes=12, seconds=51))
    assert text(queue, 2, Column.RESPONSE_SLA) == "17 min 09 s"
    queue.tick(T0 + dt.timedelta(minutes=31, seconds=1))
    assert text(queue, 2, Column.RESPONSE_SLA) == "Overdue 1 min 01 s"


def test_ticking_shows_what_a_queue_opened_at_that_instant_shows(
    queue: QueueModel, cache: Cache, clock: FakeClock
) -> None:
    # each second the clocks on screen move on from the last tick's, not from a replay
    # of their histories: across seconds, a breach, the evening close and the night
    queue.set_visible_rows(0, queue.rowCount() - 1)
    tooltip = Qt.ItemDataRole.ToolTipRole
    for later in (
        dt.timedelta(seconds=1),
        dt.timedelta(seconds=2),
        dt.timedelta(minutes=31),
        dt.timedelta(hours=7, minutes=59, seconds=59),
        dt.timedelta(hours=8, seconds=1),
        dt.timedelta(hours=23, minutes=30),
    ):
        clock.now = T0 + later
        queue.tick()
        fresh = QueueModel(cache, me=1, clock=clock)
        assert shown(queue) == shown(fresh)
        assert [queue.index(r, Column.RESOLUTION_SLA).data(tooltip) for r in range(5)] == [
            fresh.index(r, Column.RESOLUTION_SLA).data(tooltip) for r in range(5)
        ]


def test_outside_business_hours_the_cell_says_when_the_clock_resumes(queue: QueueModel) -> None:
    friday_evening = dt.datetime(2026, 3, 6, 19, 0, tzinfo=dt.UTC)  # 20:00 in Paris
    queue.tick(friday_evening)
    assert text(queue, 1, Column.RESOLUTION_SLA) == "Resumes Mon 9:00\u202fAM"
    i18n.set_language("fr")
    assert text(queue, 1, Column.RESOLUTION_SLA) == "Reprise lun. 09:00"


def test_tickets_with_unsynced_changes_are_marked_provisional(
    queue: QueueModel, cache: Cache
) -> None:
    Store(cache, user_id=1).add_comment(2, "On it.", public=True)
    queue.reload()
    # the public reply stopped the first-response clock, provisionally
    assert text(queue, 2, Column.RESPONSE_SLA) == "~ Met"
    font = text(queue, 2, Column.RESPONSE_SLA, Qt.ItemDataRole.FontRole)
    assert isinstance(font, QFont)
    assert font.italic()
    tooltip = text(queue, 2, Column.RESPONSE_SLA, Qt.ItemDataRole.ToolTipRole)
    assert isinstance(tooltip, str)
    assert "Provisional" in tooltip
    assert not str(text(queue, 1, Column.RESPONSE_SLA)).startswith("~")


def test_a_tick_repaints_only_the_visible_rows_sla_cells(
    qtbot: QtBot, cache: Cache, clock: FakeClock
) -> None:
    seed_demo(cache, now=T0, count=80)
    model = QueueModel(cache, me=1, clock=clock)
    model.set_view(QueueView.ALL)
    assert model.rowCount() == cache.ticket_count() > 44
    changed: list[tuple[int, int, int, int]] = []
    model.dataChanged.connect(
        lambda top, bottom, _roles: changed.append(
            (top.row(), bottom.row(), top.column(), bottom.column())
        )
    )
    model.set_visible_rows(20, 44)
    model.tick(T0 + dt.timedelta(seconds=1))
    # the SLA cells of the visible rows whose clocks run, and those only
    assert changed
    assert all(
        20 <= top <= bottom <= 44 and left == right and left in SLA_COLUMNS
        for top, bottom, left, right in changed
    )
    repainted = {row for top, bottom, *_ in changed for row in range(top, bottom + 1)}
    for row in range(20, 45):
        clocks = model.row_at(row).sla
        assert clocks is not None
        running = any(clock.running for clock in (clocks.response, clocks.resolution))
        assert (row in repainted) == running, row
    assert repainted != set(range(20, 45))  # the demo has stopped clocks on screen too
    changed.clear()
    model.set_visible_rows(0, -1)  # nothing shown: nothing repainted
    model.tick(T0 + dt.timedelta(seconds=2))
    assert changed == []


def test_a_tick_repaints_a_painted_cell_only_when_what_it_shows_changes(
    cache: Cache, feed: Feed, clock: FakeClock
) -> None:
    # 10: long overdue (its first response: "Overdue 9 h 00 min", minute by minute);
    # 11: first response due in 50 min, counting down to the second
    feed.ticket(10, created=TUESDAY_10, priority="P1", severity="blocking")
    feed.ticket(11, created=T0 - 10 * MIN, priority="P1", severity="blocking")
    load(cache, feed)
    model = QueueModel(cache, me=1, clock=clock)
    assert ids(model) == [10, 11]
    model.set_visible_rows(0, 1)
    changed: list[tuple[int, int]] = []
    model.dataChanged.connect(
        lambda top, bottom, _roles: changed.extend(
            (row, top.column()) for row in range(top.row(), bottom.row() + 1)
        )
    )

    def paint() -> dict[tuple[int, int], str]:  # as the view's delegate does
        return {
            (row, column): model.data(model.index(row, column), CELL_ROLE).text
            for row in (0, 1)
            for column in SLA_COLUMNS
        }

    shown = paint()
    assert shown[(0, Column.RESPONSE_SLA)].startswith(_("Overdue {duration}").split("{")[0])
    model.tick(T0 + dt.timedelta(seconds=1))
    # the countdowns moved a second; the overdue cell still says the same
    assert (1, Column.RESPONSE_SLA) in changed
    assert (0, Column.RESPONSE_SLA) not in changed
    now = paint()
    assert now[(0, Column.RESPONSE_SLA)] == shown[(0, Column.RESPONSE_SLA)]
    assert now[(1, Column.RESPONSE_SLA)] != shown[(1, Column.RESPONSE_SLA)]
    changed.clear()
    model.tick(T0 + dt.timedelta(minutes=1))  # a minute more overdue: repainted
    assert (0, Column.RESPONSE_SLA) in changed
    assert paint()[(0, Column.RESPONSE_SLA)] != shown[(0, Column.RESPONSE_SLA)]


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


def test_views_filter_the_queue(queue: QueueModel) -> None:
    counts = queue.counts()
    assert counts[QueueView.MY_TICKETS] == 2
    assert counts[QueueView.UNASSIGNED] == 2  # 3 and 4 (5 is resolved)
    assert counts[QueueView.BREACHED] == 1
    assert counts[QueueView.AT_RISK] == 1
    assert counts[QueueView.PENDING] == 1
    queue.set_view(QueueView.MY_TICKETS)
    assert ids(queue) == [2, 1]
    queue.set_search([1, 3])
    assert ids(queue) == [1]
    queue.set_search(None)
    queue.set_view(QueueView.BREACHED)
    assert ids(queue) == [3]


def test_headers_and_labels_follow_the_language(queue: QueueModel) -> None:
    i18n.set_language("fr")
    queue.retranslate()
    header = queue.headerData(Column.PRIORITY, Qt.Orientation.Horizontal)
    assert header == "Priorité"
    assert text(queue, 2, Column.PRIORITY) == "P1 Critique"
    assert text(queue, 4, Column.RESOLUTION_SLA) == "En attente du client"


def test_invalid_indexes_have_no_data(queue: QueueModel) -> None:
    assert queue.data(QModelIndex()) is None
    assert queue.rowCount(queue.index(0, 0)) == 0
    assert queue.headerData(99, Qt.Orientation.Horizontal) is None


def test_a_large_queue_shows_its_view_first_and_evaluates_the_others_after(
    qtbot: QtBot, qtmodeltester: ModelTester, cache: Cache, clock: FakeClock
) -> None:
    seed_demo(cache, now=T0, count=60)
    eager = QueueModel(cache, me=1, clock=clock, view=QueueView.MY_TICKETS)
    lazy = QueueModel(cache, me=1, clock=clock, view=QueueView.MY_TICKETS, eager_limit=10)
    # the queue on screen is complete and in order at once…
    assert lazy.ticket_ids() == eager.ticket_ids()
    assert lazy.rowCount() > 0
    assert [lazy.index(r, Column.RESPONSE_SLA).data() for r in range(lazy.rowCount())] == [
        eager.index(r, Column.RESPONSE_SLA).data() for r in range(eager.rowCount())
    ]
    # …while the views that depend on every clock are counted once they are known
    assert not lazy.fully_evaluated
    assert lazy.known_counts()[QueueView.BREACHED] is None
    qtbot.waitUntil(lambda: lazy.fully_evaluated)  # the background evaluation, between events
    assert lazy.known_counts() == eager.counts()  # every count known now
    lazy.set_view(QueueView.BREACHED)
    eager.set_view(QueueView.BREACHED)
    assert lazy.ticket_ids() == eager.ticket_ids()
    qtmodeltester.check(lazy, force_py=True)  # type: ignore[no-untyped-call]


def test_a_view_needing_every_clock_evaluates_them_at_once(cache: Cache, clock: FakeClock) -> None:
    seed_demo(cache, now=T0, count=60)
    eager = QueueModel(cache, me=1, clock=clock, view=QueueView.AT_RISK)
    lazy = QueueModel(cache, me=1, clock=clock, view=QueueView.MY_TICKETS, eager_limit=10)
    lazy.set_view(QueueView.AT_RISK)
    assert lazy.ticket_ids() == eager.ticket_ids()
    assert lazy.counts() == eager.counts()
    assert lazy.fully_evaluated


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


def shown(model: QueueModel) -> list[list[object]]:
    return [[model.index(r, c).data() for c in Column] for r in range(model.rowCount())]


def test_a_changed_ticket_refreshes_its_row_not_the_queue(
    queue: QueueModel, cache: Cache, clock: FakeClock
) -> None:
    resets: list[bool] = []
    queue.modelReset.connect(lambda: resets.append(True))
    queue.set_visible_rows(0, 4)
    Store(cache, user_id=1).set_status(2, Status.PENDING)  # an agent's change, not synced
    queue.refresh_tickets([2])
    assert resets == []
    assert text(queue, 2, Column.STATUS) == "Pending"
    assert text(queue, 2, Column.RESOLUTION_SLA) == "~ Pending customer"
    assert text(queue, 1, Column.STATUS) == "Open"
    assert queue.counts()[QueueView.PENDING] == 2
    # the queue shows what reading the whole cache again would
    fresh = QueueModel(cache, me=1, clock=clock)
    assert shown(queue) == shown(fresh)
    assert queue.counts() == fresh.counts()


def test_after_a_sync_only_the_touched_tickets_are_read_again(
    queue: QueueModel, cache: Cache, clock: FakeClock
) -> None:
    resets: list[bool] = []
    queue.modelReset.connect(lambda: resets.append(True))
    assert queue.refresh_changed() == 0
    page = Feed()  # ticket 3 answered and set pending on the server
    page.ticket(
        3,
        created=MONDAY_9,
        priority="P2",
        severity="major",
        status="pending",
        history=((T0 - MIN, "responded", "reply"), (T0 - MIN, "status", "pending")),
    )
    Store(cache, user_id=1).apply_page(page.page())
    assert queue.refresh_changed() == 1
    assert resets == []
    assert text(queue, 3, Column.RESPONSE_SLA) == "Missed"
    assert text(queue, 3, Column.STATUS) == "Pending"
    fresh = QueueModel(cache, me=1, clock=clock)
    assert shown(queue) == shown(fresh)
    assert queue.counts() == fresh.counts()
    # a new ticket: the queue reads everything again
    page = Feed()
    page.ticket(6, created=T0 - MIN, priority="P1", severity="blocking")
    Store(cache, user_id=1).apply_page(page.page())
    queue.refresh_changed()
    assert resets == [True]
    assert 6 in queue.ticket_ids()


def test_the_counts_follow_each_sync_without_a_recount(
    cache: Cache, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_demo(cache, now=T0, count=120)
    model = QueueModel(cache, me=DEMO_AGENT_ID, clock=clock, view=QueueView.PENDING)
    assert model.counts()[QueueView.MY_TICKETS] > 0  # counted once, kept from now on
    passes: list[QueueView] = []  # views counted over every ticket again
    ordering = model.state.ordering
    view_slots = ordering.view_slots

    def counted(view: QueueView, among: Iterable[int] | None = None) -> list[int]:
        if among is None:
            passes.append(view)
        return view_slots(view, among)

    monkeypatch.setattr(ordering, "view_slots", counted)
    store = Store(cache, user_id=DEMO_AGENT_ID)
    open_ids = [t.id for t in cache.tickets() if t.status in ("new", "open")]
    unassigned = next(t.id for t in cache.tickets() if t.assignee_id is None)
    steps: list[Callable[[], object]] = [
        lambda: store.assign(unassigned, DEMO_AGENT_ID),  # into my tickets, out of unassigned
        lambda: store.set_status(open_ids[0], Status.PENDING),
        lambda: store.set_status(open_ids[1], Status.RESOLVED),  # out of the open views
        lambda: store.assign(unassigned, None),
        lambda: store.set_priority(open_ids[2], Priority.P1),  # recently updated, now
    ]
    for step in steps:
        clock.advance(minutes=7)
        step()
        model.refresh_changed()
        model.tick()  # the other clocks to now, as the fresh queue has them
        counts = model.counts()
        assert passes in ([], [QueueView.PENDING])  # (the view shown, selected again)
        passes.clear()
        assert counts == QueueModel(cache, me=DEMO_AGENT_ID, clock=clock).counts()
    assert model.counts()[QueueView.RECENT] >= 1


def test_the_demo_fills_a_cache_to_the_number_asked(cache: Cache) -> None:
    # the agent's cache keeps their teams' tickets only: a benchmark asking for 300
    # cached tickets gets them, not the two thirds of 300 a sync would keep
    seed_demo_until(cache, 300)
    assert 300 <= cache.ticket_count() < 330


def test_a_queue_evaluated_in_columns_keeps_each_tickets_own_facts(
    cache: Cache, clock: FakeClock
) -> None:
    # the queue evaluates many tickets at once, in columns (sla.clock.QueueSla), and
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


def minutes_only_queue(
    cache: Cache, feed: Feed, clock: FakeClock, created: dt.datetime = T0 - HOUR
) -> QueueModel:
    """One ticket on screen, answered 10 minutes after ``created``: its resolution,
    due in days, shows minutes ("27 h 05 min"), which turn at ``created``'s second."""
    answered = ((created + 10 * MIN, "status", "open"), (created + 10 * MIN, "responded", "r"))
    feed.ticket(1, created=created, history=answered, status="open", assignee=1)
    load(cache, feed)
    model = QueueModel(cache, me=1, clock=clock)
    model.set_visible_rows(0, 0)
    return model


def test_a_queue_showing_minutes_only_ticks_when_they_change(
    cache: Cache, feed: Feed, clock: FakeClock
) -> None:
    # answered, its resolution due in days: "27 h 05 min" changes once a minute
    model = minutes_only_queue(cache, feed, clock)
    clock.now = T0 + 17 * dt.timedelta(seconds=1)
    model.tick()
    resolution = model.row_at(0).sla.resolution  # type: ignore[union-attr]
    assert resolution.remaining > 10 * HOUR
    following = model.next_tick()
    assert following is not None
    assert following == resolution.next_change(clock.now, MIN)
    assert following - clock.now > 30 * dt.timedelta(seconds=1)
    shown = model.index(0, Column.RESOLUTION_SLA).data()
    model.tick(following - dt.timedelta(milliseconds=1))
    assert model.index(0, Column.RESOLUTION_SLA).data() == shown
    model.tick(following)
    assert model.index(0, Column.RESOLUTION_SLA).data() != shown


def test_recently_updated_counts_the_last_24_hours_as_time_passes(
    queue: QueueModel, clock: FakeClock
) -> None:
    queue.set_view(QueueView.ALL)
    updated = [queue.row_at(row).ticket.updated_at for row in range(queue.rowCount())]
    seen = set()
    for later in (0, 1, 20, 23, 25, 30, 50, 80):
        clock.now = T0 + later * HOUR
        queue.tick()
        expected = sum(when >= clock.now - 24 * HOUR for when in updated)
        assert queue.counts()[QueueView.RECENT] == expected
        seen.add(expected)
    assert len(seen) > 2  # the count did fall as tickets aged out


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


def test_clocks_off_screen_change_state_together_the_rows_on_screen_at_once(
    cache: Cache, feed: Feed, clock: FakeClock
) -> None:
    # 10: on screen, first response due at T0 + 10 min; 11: below it, due at T0 + 11 min
    feed.ticket(10, created=T0 - 50 * MIN, priority="P1", severity="blocking")
    feed.ticket(11, created=T0 - 49 * MIN, priority="P1", severity="blocking")
    load(cache, feed)
    model = QueueModel(cache, me=1, clock=clock)
    assert ids(model) == [10, 11]
    model.set_visible_rows(0, 0)
    moved: list[dict[int, tuple[ClockStatus | None, ...]] | None] = []
    model.clocksMoved.connect(moved.append)
    second = dt.timedelta(seconds=1)
    model.tick(T0 + 9 * MIN + 45 * second)  # the clocks off screen are brought up to date
    assert model.counts()[QueueView.BREACHED] == 0
    model.tick(T0 + 10 * MIN + second)
    # the ticket on screen breached: said at once (its cells, the counts)
    assert model.counts()[QueueView.BREACHED] == 1
    # with the states its clocks had: the notifier's first look may come after
    assert moved[-1] == {10: (ClockStatus.AT_RISK, ClockStatus.RUNNING)}
    model.tick(T0 + 10 * MIN + 31 * second)
    breach = T0 + 11 * MIN
    step = T0 + 11 * MIN + 30 * second  # the next step, on its grid
    assert step.timestamp() % OFF_SCREEN_STEP.total_seconds() == 0
    at = breach + second
    while at < step:  # the one off screen breached too, but waits for the step
        model.tick(at)
        assert model.counts()[QueueView.BREACHED] == 1
        following = model.next_tick()
        assert following is not None
        assert following <= step
        at = following
    model.tick(step)
    assert model.counts()[QueueView.BREACHED] == 2
    assert moved[-1] == {11: (ClockStatus.AT_RISK, ClockStatus.RUNNING)}


def test_minutes_are_shown_again_on_a_grid_seconds_and_states_at_their_instant(
    cache: Cache, feed: Feed, clock: FakeClock
) -> None:
    # answered, its resolution due in days: "27 h 05 min"; its minutes turn at :17 s
    model = minutes_only_queue(cache, feed, clock, T0 - HOUR + 17 * dt.timedelta(seconds=1))
    model.tick(T0)
    resolution = model.row_at(0).sla.resolution  # type: ignore[union-attr]
    assert resolution.remaining > 10 * HOUR
    shown = model.data(model.index(0, Column.RESOLUTION_SLA), CELL_ROLE).text  # painted
    turns = resolution.next_change(T0, MIN)
    assert turns is not None
    assert turns.second == 17
    following = model.next_tick()
    # not at the minute's own second: at the next instant of the grid, with the others
    assert following is not None
    assert turns < following < turns + MINUTES_GRID
    assert following.timestamp() % MINUTES_GRID.total_seconds() == 0
    changed: list[int] = []
    model.dataChanged.connect(lambda top, _bottom, _roles: changed.append(top.row()))
    model.tick(following - dt.timedelta(milliseconds=1))
    assert changed == []
    model.tick(following)
    assert changed == [0]
    assert model.data(model.index(0, Column.RESOLUTION_SLA), CELL_ROLE).text != shown


def test_a_cell_a_tick_changed_asks_no_tick_before_it_changes_again(
    cache: Cache, feed: Feed, clock: FakeClock
) -> None:
    # "27 h 05 min": the tick that changes it knows its next change (a minute on),
    # before any paint; the next tick is not a second later
    model = minutes_only_queue(cache, feed, clock)
    changed: list[tuple[int, int]] = []
    model.dataChanged.connect(
        lambda top, _bottom, _roles: changed.append((top.row(), top.column()))
    )
    at = T0 + dt.timedelta(seconds=5)
    model.tick(at)  # the cells never painted yet: said once
    for _minute in range(3):
        changed.clear()
        following = model.next_tick()
        assert following is not None
        assert following - at >= MIN - dt.timedelta(seconds=5)
        at = following
        model.tick(at)
        assert changed == [(0, Column.RESOLUTION_SLA)]  # the minute turned: it alone


@pytest.mark.parametrize("view", [QueueView.AT_RISK, QueueView.BREACHED])
def test_tickets_enter_and_leave_a_clock_view_one_by_one_the_selection_stays(
    cache: Cache, feed: Feed, clock: FakeClock, view: QueueView
) -> None:
    # first responses due every two minutes from T0 + 2 min: at risk, then breached, in turn
    for number in range(10, 20):
        created = T0 - HOUR + 2 * (number - 9) * MIN
        feed.ticket(number, created=created, priority="P1", severity="blocking")
    feed.ticket(30, created=dt.datetime(2026, 2, 25, 8, 0, tzinfo=dt.UTC), priority="P4")
    load(cache, feed)
    model = QueueModel(cache, me=1, clock=clock, view=view)
    model.set_visible_rows(0, 20)
    resets: list[object] = []
    model.modelReset.connect(lambda: resets.append(True))
    came_and_went: list[object] = []
    model.rowsInserted.connect(lambda *_args: came_and_went.append(True))
    model.rowsRemoved.connect(lambda *_args: came_and_went.append(True))
    seen = set()
    for minutes in range(0, 24, 3):
        at = T0 + minutes * MIN + dt.timedelta(seconds=1)
        held = ids(model)[-1] if model.rowCount() else None
        selected = QPersistentModelIndex(model.index(model.rowCount() - 1, Column.SUBJECT))
        model.tick(at)
        fresh = QueueModel(cache, me=1, clock=FakeClock(at), view=view)
        assert ids(model) == ids(fresh), minutes  # as a queue opened at that instant
        if held is not None and held in ids(model):
            assert selected.isValid()
            assert model.ticket_ids()[selected.row()] == held
        seen.add(tuple(ids(model)))
    assert resets == []  # never the whole view again
    assert came_and_went
    assert len(seen) > 3


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


def test_a_cell_worded_in_a_tick_is_worded_again_in_another_language(
    queue: QueueModel,
) -> None:
    queue.set_visible_rows(0, 4)
    queue.tick(T0 + dt.timedelta(seconds=1))
    english = text(queue, 3, Column.RESPONSE_SLA)
    assert str(english).startswith("Overdue")
    i18n.set_language("fr")
    try:
        queue.retranslate()  # as the window does when the language changes
        assert str(text(queue, 3, Column.RESPONSE_SLA)).startswith("Retard")
    finally:
        i18n.set_language("en")
        queue.retranslate()
    assert text(queue, 3, Column.RESPONSE_SLA) == english


def test_clocks_changing_state_all_at_once_are_taken_in_slices(
    qtbot: QtBot, cache: Cache, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # at 18:00 every running clock stops for the night: each a history to read again
    monkeypatch.setattr(wakeups_module, "_WAKE_SLICE", 15)
    seed_demo(cache, now=T0, count=120)
    model = QueueModel(cache, me=1, clock=clock)
    model.set_view(QueueView.ALL)
    sizes: list[int] = []
    clocks = model.state.clocks
    evaluate = clocks.evaluate

    def counted(slots: Iterable[int], keep: dict[int, Clocks] | None = None) -> bool:
        chosen = list(slots)
        sizes.append(len(chosen))
        return evaluate(chosen, keep)

    monkeypatch.setattr(clocks, "evaluate", counted)
    evening = dt.datetime(2026, 3, 4, 17, 0, 1, tzinfo=dt.UTC)  # 18:00:01 in Paris
    model.tick(evening)
    assert sizes
    assert max(sizes) <= 15  # the tick itself took one slice
    assert model.catching_up
    qtbot.waitUntil(lambda: not model.catching_up, timeout=5000)
    assert len(sizes) > 2
    assert max(sizes) <= 15  # the rest in slices, between events
    fresh = QueueModel(cache, me=1, clock=FakeClock(evening))
    fresh.set_view(QueueView.ALL)
    assert model.counts() == fresh.counts()
    assert ids(model) == ids(fresh)
