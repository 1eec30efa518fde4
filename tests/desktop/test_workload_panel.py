"""The team lead's workload panel: its figures against a direct count, following syncs
and the queue, loading in slices, as a Qt model and as a sortable table."""

from __future__ import annotations

from collections import Counter
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableView
from pytestqt.qtbot import QtBot

from desktop.demo_data import seed_demo
from desktop.models.sla_cells import SlaRules
from desktop.models.workload import WorkloadColumn, WorkloadModel
from desktop.views.main_window import MainWindow
from desktop.views.workload import WorkloadPanel
from sla.clock import ClockStatus, evaluate
from sla.events import Status
from sla.policy import Priority
from sync.cache import Cache
from sync.store import Store
from tests.clock import FakeClock
from tests.desktop.conftest import T0
from tests.desktop.team_lead_cache import queue_state, ticket_events, workload_model


def _open_ids(cache: Cache, team_ids: list[int]) -> list[int]:
    with cache.snapshot() as reading:
        return reading.open_ticket_ids(team_ids)


def _figures(rows: list[Any]) -> dict[tuple[int, int | None], tuple[int, ...]]:
    """Each row's numbers, and its tickets, by (team, agent)."""
    return {
        (r.team_id, r.agent_id): (
            r.open, r.at_risk, r.breached, r.pending, r.forecast, *r.ticket_ids
        )
        for r in rows
    }  # fmt: skip


def test_workload_numbers_equal_a_direct_count_from_the_cache(cache: Cache) -> None:
    clock = FakeClock(T0)
    seed_demo(cache, now=T0, count=300)
    carol = next(user for user in cache.users() if user.username == "carol")
    model = workload_model(cache, clock, me=carol.id)
    rules = SlaRules.defaults()
    direct: dict[tuple[int, int | None], Counter[str]] = {}
    for ticket in cache.tickets():
        if ticket.team_id not in carol.team_ids or ticket.status in ("resolved", "closed"):
            continue
        sla = evaluate(ticket_events(cache, ticket.id), rules.policy, rules.calendar, T0)
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
    fresh = workload_model(cache, clock, me=carol.id)
    assert ticked == {
        (r.team_id, r.agent_id): (r.at_risk, r.breached, r.forecast) for r in fresh.rows
    }
    # the table shows the same figures
    for position in range(model.rowCount()):
        row = model.row_at(position)
        text = model.index(position, WorkloadColumn.BREACHED).data()
        assert text == str(row.breached)


def test_a_sync_moves_tickets_between_rows_that_stay_selected(qtbot: QtBot, cache: Cache) -> None:
    clock = FakeClock(T0)
    seed_demo(cache, now=T0, count=300)
    users = {user.username: user for user in cache.users()}
    carol, eva = users["carol"], users["eva"]  # eva is in none of carol's teams
    queue = queue_state(cache, clock, carol.id)
    model = workload_model(cache, clock, me=carol.id, queue=queue)
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
    assert _figures(model.rows) == _figures(workload_model(cache, clock, me=carol.id).rows)
    assert (ticket.team_id, eva.id) in _figures(model.rows)
    clock.advance(minutes=20)  # and back in the team: that row goes
    store.assign(ticket.id, None)
    assert queue.refresh_changed() == 1
    assert (ticket.team_id, eva.id) not in _figures(model.rows)
    assert _figures(model.rows) == _figures(workload_model(cache, clock, me=carol.id).rows)

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
    assert _figures(model.rows) == _figures(workload_model(cache, clock, me=carol.id).rows)
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
    queue = queue_state(
        cache, clock, carol.id, eager_limit=0
    )  # a large queue: clocks evaluated lazily
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
    assert _figures(model.rows) == _figures(workload_model(cache, clock, me=carol.id).rows)
    assert panel.hint.text().startswith("Open tickets per agent")


def test_a_workload_load_asked_again_starts_over(qtbot: QtBot, cache: Cache) -> None:
    clock = FakeClock(T0)
    seed_demo(cache, now=T0, count=300)
    carol = next(user for user in cache.users() if user.username == "carol")
    queue = queue_state(cache, clock, carol.id, eager_limit=0)
    model = WorkloadModel(cache, me=carol.id, now=clock, queue=queue, slice_size=40)
    model.reload()
    with qtbot.waitSignal(model.loadProgress):
        pass  # a slice in
    model.reload()  # the teams changed, say: from the start (the clocks known stay known)
    assert model.loading == (40, len(_open_ids(cache, carol.team_ids)))
    qtbot.waitUntil(lambda: model.loading is None)
    assert _figures(model.rows) == _figures(workload_model(cache, clock, me=carol.id).rows)
    assert sum(row.open for row in model.rows) > 0


def test_after_a_sync_the_workload_reads_only_what_changed(cache: Cache) -> None:
    clock = FakeClock(T0)
    seed_demo(cache, now=T0, count=300)
    carol = next(user for user in cache.users() if user.username == "carol")
    queue = queue_state(cache, clock, carol.id)
    model = workload_model(cache, clock, me=carol.id, queue=queue)
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
    assert _figures(model.rows) == _figures(workload_model(cache, clock, me=carol.id).rows)
    clock.advance(hours=3)  # and the clocks go on from there
    model.tick()
    assert _figures(model.rows) == _figures(workload_model(cache, clock, me=carol.id).rows)
    assert model.refresh_changed() == 0


def test_the_workload_follows_the_queue_whichever_hears_of_a_change_first(
    cache: Cache,
) -> None:
    clock = FakeClock(T0)
    seed_demo(cache, now=T0, count=300)
    carol = next(user for user in cache.users() if user.username == "carol")
    queue = queue_state(cache, clock, carol.id)
    model = workload_model(cache, clock, me=carol.id, queue=queue)
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
    assert _figures(model.rows) == _figures(workload_model(cache, clock, me=carol.id).rows)
    queue.reload()  # read whole (a cache rebuilt, say): the workload is placed again
    assert _figures(model.rows) == _figures(workload_model(cache, clock, me=carol.id).rows)


def test_workload_model_passes_the_model_tester(qtmodeltester: Any, cache: Cache) -> None:
    seed_demo(cache, now=T0, count=120)
    model = workload_model(cache, FakeClock(T0), me=3)
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
