"""The queue's tickets and clocks without Qt: read lazily, counted, sorted, kept current."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from desktop.demo_data import seed_demo
from desktop.models.queue import Column, QueueState, QueueView
from desktop.models.sla_cells import ticket_sort_key
from protocol.pages import PageBuilder
from sla.clock import ClockStatus
from sla.events import Status
from sla.policy import Priority
from sync.cache import Cache
from sync.store import Store
from tests.queue.conftest import ME, T0, FakeClock, read_queue

RECENT = dt.timedelta(hours=24)


def test_a_large_queue_evaluates_each_clock_once_when_needed(demo: Cache, clock: FakeClock) -> None:
    queue = read_queue(demo, clock, eager_limit=10)
    clocks = queue.clocks
    count = len(queue.columns)
    assert clocks.unevaluated == count
    assert not clocks.fully_evaluated
    completed: list[bool] = []
    clocks.on_complete = lambda: completed.append(True)
    clocks.ensure([3, 5, 3])
    assert clocks.unevaluated == count - 2
    assert clocks.evaluated[3]
    assert clocks.evaluated[5]
    assert clocks.unevaluated_slots(4) == [0, 1, 2, 4]
    clocks.ensure_all()
    assert clocks.fully_evaluated
    assert completed == [True]
    clocks.ensure_all()  # nothing left: nothing evaluated again
    assert completed == [True]
    small = read_queue(demo, clock)  # under the eager limit: at once
    assert small.clocks.fully_evaluated
    assert [small.clocks.facts(slot) for slot in range(count)] == [
        clocks.facts(slot) for slot in range(count)
    ]


def _brute_force(queue: QueueState) -> dict[QueueView, list[int]]:
    """Each view's slots, found ticket by ticket from its whole row."""
    rows = [queue.row(slot) for slot in range(len(queue.columns))]
    teams = queue.columns.my_teams
    cutoff = queue.clocks.now - RECENT
    open_ = [row.ticket.status not in ("resolved", "closed") for row in rows]
    tests: dict[QueueView, Callable[[int], bool]] = {
        QueueView.MY_TICKETS: lambda s: open_[s] and rows[s].ticket.assignee_id == ME,
        QueueView.UNASSIGNED: lambda s: (
            open_[s]
            and rows[s].ticket.assignee_id is None
            and (teams is None or rows[s].ticket.team_id in teams)
        ),
        QueueView.MY_TEAMS: lambda s: (
            open_[s] and (teams is None or rows[s].ticket.team_id in teams)
        ),
        QueueView.AT_RISK: lambda s: ClockStatus.AT_RISK in rows[s].states,
        QueueView.BREACHED: lambda s: ClockStatus.BREACHED in rows[s].states,
        QueueView.PENDING: lambda s: rows[s].ticket.status == Status.PENDING.value,
        QueueView.RECENT: lambda s: rows[s].ticket.updated_at >= cutoff,
        QueueView.ALL: lambda s: True,
    }
    return {view: [s for s in range(len(rows)) if test(s)] for view, test in tests.items()}


def test_views_and_counts_hold_what_a_look_at_each_ticket_finds(
    demo: Cache, clock: FakeClock
) -> None:
    queue = read_queue(demo, clock)
    ordering = queue.ordering
    expected = _brute_force(queue)
    assert {view: ordering.view_slots(view) for view in QueueView} == expected
    assert ordering.known_counts() == {view: len(slots) for view, slots in expected.items()}
    assert all(expected[view] for view in QueueView)  # the demo has some of each
    # the default order is the next SLA due, ticket id breaking ties
    shown = ordering.select(QueueView.ALL, None, -1, descending=False)
    rows = [queue.row(slot) for slot in shown]
    keys = [(ticket_sort_key(row.sla), row.ticket.id) for row in rows]
    assert keys == sorted(keys)
    found = set(queue.columns.ids[:120])  # a search's results
    mine = ordering.select(QueueView.MY_TICKETS, found, -1, descending=True)
    assert mine == [s for s in reversed(shown) if s < 120 and s in expected[QueueView.MY_TICKETS]]
    assert mine
    by_priority = ordering.select(QueueView.ALL, None, Column.PRIORITY, descending=False)
    ranks = [Priority(queue.columns.priority[slot]).rank for slot in by_priority]
    assert ranks == sorted(ranks)


def test_a_refresh_reads_again_what_changed_and_tells_its_readers(
    demo: Cache, clock: FakeClock
) -> None:
    queue = read_queue(demo, clock)
    told: list[int] = []
    unsubscribe = queue.subscribe(lambda: told.append(queue.edition))
    store = Store(demo, user_id=ME)
    ids = queue.columns.ids
    running = (ClockStatus.RUNNING, ClockStatus.AT_RISK, ClockStatus.OUTSIDE_HOURS)
    working = [
        ids[s]
        for s in range(len(ids))
        if queue.columns.status[s] in ("new", "open") and queue.clocks.states(s)[1] in running
    ]
    edition, generation = queue.edition, queue.generation
    paused = queue.columns.slot_of[working[0]]
    before = queue.clocks.states(paused)
    store.set_status(working[0], Status.PENDING)
    store.set_priority(working[1], Priority.P1)
    store.add_comment(working[2], "On it", public=False)  # a comment, no history entry
    changed = queue.changed_tickets()
    assert changed == set(working[:3])
    assert queue.changed_tickets() == set()  # the marks moved on
    earlier = queue.refresh_tickets(changed)
    assert earlier is not None
    assert {ids[slot] for slot in earlier} == set(working[:3])
    assert earlier[paused] == before  # the states its clocks had
    assert queue.clocks.states(paused)[1] is ClockStatus.PAUSED  # waiting on the customer
    assert queue.changes_since(edition) == set(working[:3])
    assert queue.changes_since(queue.edition) == set()
    assert told == [queue.edition]
    assert queue.generation == generation
    # the same as a queue read afresh at this instant
    fresh = read_queue(demo, clock)
    count = len(ids)
    assert [queue.clocks.facts(s) for s in range(count)] == [
        fresh.clocks.facts(s) for s in range(count)
    ]
    assert queue.ordering.known_counts() == fresh.ordering.known_counts()
    unsubscribe()
    store.set_status(working[3], Status.PENDING)
    assert queue.refresh_changed() == 1
    assert told == [queue.edition - 1]


def test_a_reader_too_far_behind_the_log_reads_everything(demo: Cache, clock: FakeClock) -> None:
    queue = read_queue(demo, clock)
    store = Store(demo, user_id=ME)
    first = queue.columns.ids[0]
    start = queue.edition
    for number in range(70):
        store.add_comment(first, f"note {number}", public=False)
        queue.refresh_changed()
    assert queue.changes_since(start) is None
    assert queue.changes_since(queue.edition - 1) == {first}
    generation = queue.generation
    queue.reload()
    assert queue.generation == generation + 1


def test_tickets_that_came_or_went_ask_for_a_reload(cache: Cache, clock: FakeClock) -> None:
    pages = PageBuilder()
    pages.add("organisation", 1, {"id": 1, "name": "Banque Mirabeau", "plan": "enterprise"})
    store = Store(cache, user_id=ME)
    store.apply_page(pages.page())
    queue = read_queue(cache, clock)
    assert len(queue.columns) == 0
    seed_demo(cache, now=T0, count=30)
    arrived = cache.tickets()
    assert queue.changed_tickets() is None
    assert queue.refresh_tickets([arrived[0].id]) is None  # a ticket it never had
    assert queue.refresh_changed() == len(arrived)  # read whole
    assert queue.columns.ids == [ticket.id for ticket in arrived]


def test_the_watched_tickets_are_mine_and_open(demo: Cache, clock: FakeClock) -> None:
    queue = read_queue(demo, clock, eager_limit=0)
    watched = queue.watch(ME)
    expected = {
        queue.columns.ids[s]
        for s in range(len(queue.columns))
        if queue.columns.assignee[s] == ME and not queue.columns.done[s]
    }
    assert set(watched) == expected
    assert expected
    slot = queue.columns.slot_of[next(iter(expected))]
    ticket_id = queue.columns.ids[slot]
    assert watched[ticket_id].states == queue.clocks.states(slot)
    assert queue.clocks.fully_evaluated is False  # only mine were evaluated
    assert queue.watch(ME, [ticket_id, -1]) == {ticket_id: watched[ticket_id]}
