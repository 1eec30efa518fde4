"""The queue's tick: what it repaints and when it wakes next (the visible rows only, a
cell only when its text changes, minutes on a grid, clocks off screen in steps and slices)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

import desktop.models.queue.wakeups as wakeups_module
from desktop.demo_data import seed_demo
from desktop.models.queue import (
    CELL_ROLE,
    OFF_SCREEN_STEP,
    SLA_COLUMNS,
    Column,
    QueueModel,
    QueueView,
)
from desktop.models.queue.clocks import Clocks
from desktop.models.sla_cells import MINUTES_GRID
from i18n import _
from sla.clock import ClockStatus
from sync.cache import Cache
from tests.desktop.conftest import HOUR, MIN, T0, TUESDAY_10, FakeClock, Feed, load
from tests.desktop.queue_readings import ids, shown


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
