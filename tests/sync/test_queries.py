"""The read API: what the console's tables read of the cache, as plain Python values."""

from __future__ import annotations

import datetime as dt
import sys
import threading

from protocol import Status
from sla.history import HistoryRow
from sync.cache import Cache
from sync.queries import TICKET_COLUMNS, Directory, OpenTicketRow, TicketColumns
from sync.store import Store

from .conftest import T0, comment, history, page, ticket

_ORGANISATION = {"id": 1, "name": "Banque Mirabeau", "plan": "enterprise"}


def _user(user_id: int, name: str, *team_ids: int) -> dict[str, object]:
    return {
        "id": user_id,
        "username": name.lower(),
        "display_name": name,
        "email": f"{name.lower()}@example.com",
        "role": "agent",
        "active": True,
        "team_ids": list(team_ids),
    }


def _fill(store: Store) -> None:
    store.apply_page(
        page(
            ("organisation", 1, _ORGANISATION),
            ("user", 42, _user(42, "Alice", 1, 2)),
            ("user", 7, _user(7, "Bob", 1)),
            ("ticket", 3, ticket(3, 2, priority="P1", team_id=2, assignee_id=7)),
            ("ticket", 1, ticket(1, 1)),
            ("ticket", 2, ticket(2, 1, status="resolved")),
            ("history", 10, history(10, 1, 1, "created", after="{}")),
            ("history", 11, history(11, 3, 1, "created", after="{}")),
            ("history", 12, history(12, 3, 2, "priority", before="P3", after="P1")),
            ("history", 13, history(13, 3, 2, "tags", after="vip")),
            ("comment", 20, comment(20, 1, "Hello")),
        )
    )


def test_the_queue_reads_every_ticket_in_columns_by_id(store: Store, cache: Cache) -> None:
    _fill(store)
    with cache.snapshot() as snapshot:
        columns = snapshot.ticket_columns()
    assert isinstance(columns, TicketColumns)
    assert len(columns) == 3
    assert columns.ids == [1, 2, 3]
    assert columns.statuses == ["open", "resolved", "open"]
    assert columns.priorities == ["P3", "P3", "P1"]
    assert columns.assignee_ids == [None, None, 7]
    assert columns.team_ids == [1, 1, 2]
    assert columns.versions == [1, 1, 2]
    assert columns.tracking_numbers[2] == "INC-2026-000003"
    # instants as the cache keeps them: text that sorts as time, parsed when shown
    assert dt.datetime.fromisoformat(columns.created_at[0]) == T0
    # one string a code, however many tickets carry it
    assert columns.statuses[0] is columns.statuses[2] is sys.intern("open")
    assert len(TICKET_COLUMNS) == len(TicketColumns.__dataclass_fields__)


def test_some_tickets_are_read_again_in_id_order_those_gone_left_out(
    store: Store, cache: Cache
) -> None:
    _fill(store)
    with cache.snapshot() as snapshot:
        columns = snapshot.ticket_columns([3, 99, 1, 3])
        none = snapshot.ticket_columns([])
    assert columns.ids == [1, 3]
    assert len(none) == 0
    assert none.ids == []


def test_many_tickets_are_read_in_chunks(store: Store, cache: Cache) -> None:
    store.apply_page(page(*[("ticket", i, ticket(i)) for i in range(1, 1202)]))
    with cache.snapshot() as snapshot:
        assert len(snapshot.ticket_columns()) == 1201
        assert snapshot.ticket_columns(range(1200, 0, -1)).ids == list(range(1, 1201))
        assert len(snapshot.open_tickets(ticket_ids=range(1, 1300))) == 1201


def test_pending_work_and_marks_tell_what_changed_since_a_read(store: Store, cache: Cache) -> None:
    _fill(store)
    with cache.snapshot() as snapshot:
        assert snapshot.pending_ticket_ids() == set()
        history_mark, comment_mark = snapshot.history_mark(), snapshot.comment_mark()
        sla_mark = history_mark
    store.set_status(1, Status.PENDING)  # an SLA entry, optimistic
    store.add_comment(2, "Thanks", public=False)  # a comment, no SLA entry (private)
    store.add_tag(3, "printer")  # a history entry the SLA ignores
    with cache.snapshot() as snapshot:
        assert snapshot.pending_ticket_ids() == {1, 2, 3}
        assert snapshot.tickets_with_history_after(history_mark) == {1, 3}
        assert snapshot.tickets_with_sla_history_after(sla_mark) == {1}
        assert snapshot.tickets_with_comments_after(comment_mark) == {2}
        assert snapshot.history_mark() > history_mark
        assert snapshot.comment_mark() > comment_mark
        assert snapshot.ticket_count() == 3
    assert cache.history_since(history_mark) == ({1, 3}, cache.history_mark())


def test_an_empty_cache_reads_as_empty(cache: Cache) -> None:
    with cache.snapshot() as snapshot:
        assert len(snapshot.ticket_columns()) == 0
        assert (snapshot.history_mark(), snapshot.comment_mark()) == (0, 0)
        assert snapshot.directory(42) == Directory({}, {}, None)
        assert snapshot.open_tickets() == []
        assert snapshot.sla_history([]) == {}


def test_the_directory_names_organisations_users_and_my_teams(store: Store, cache: Cache) -> None:
    _fill(store)
    with cache.snapshot() as snapshot:
        mine = snapshot.directory(42)
        nobody = snapshot.directory(None)
    assert mine.organisations == {1: ("Banque Mirabeau", "enterprise")}
    assert mine.user_names == {7: "Bob", 42: "Alice"}
    assert mine.my_team_ids == {1, 2}
    assert nobody.my_team_ids is None
    assert nobody.user_names == mine.user_names


def test_sla_histories_hold_only_what_the_clocks_replay_in_order(
    store: Store, cache: Cache
) -> None:
    _fill(store)
    created = HistoryRow(T0, "created", "{}")
    raised = HistoryRow(T0, "priority", "P1")
    expected = {1: [created], 2: [], 3: [created, raised]}
    with cache.snapshot() as snapshot:
        assert snapshot.sla_history([1, 2, 3]) == expected
    assert cache.sla_history([1, 2, 3]) == expected  # on the connection kept for it
    assert cache.sla_history([3]) == {3: [created, raised]}


def test_a_thread_of_its_own_reads_sla_histories_too(store: Store, cache: Cache) -> None:
    _fill(store)
    assert cache.sla_history([1])  # the kept connection belongs to this thread
    found: list[dict[int, list[HistoryRow]]] = []
    worker = threading.Thread(target=lambda: found.append(cache.sla_history([3])))
    worker.start()
    worker.join()
    assert [len(rows) for rows in found[0].values()] == [2]


def test_open_tickets_are_those_not_resolved_or_closed(store: Store, cache: Cache) -> None:
    _fill(store)
    store.apply_page(page(("ticket", 4, ticket(4, organisation_id=99, status="closed"))))
    store.apply_page(page(("ticket", 5, ticket(5, organisation_id=99, team_id=2))))
    with cache.snapshot() as snapshot:
        every = snapshot.open_tickets()
        second_team = snapshot.open_tickets(team_ids=[2])
        some = snapshot.open_tickets(ticket_ids=[5, 2, 1])
        ids = snapshot.open_ticket_ids([1, 2])
    assert [row.id for row in every] == [1, 3, 5] == ids
    assert [row.id for row in second_team] == [3, 5]
    assert [row.id for row in some] == [1, 5]
    three = every[1]
    assert three == OpenTicketRow(3, 2, 7, "open", 2, T0, "P1", "minor", "enterprise")
    assert three.created_at.tzinfo is not None
    assert every[2].plan == ""  # its organisation is not cached


def test_a_snapshot_does_not_see_a_write_made_while_it_is_open(store: Store, cache: Cache) -> None:
    _fill(store)
    with cache.snapshot() as snapshot:
        before = snapshot.ticket_columns().statuses
        writer = threading.Thread(target=store.set_status, args=(1, Status.PENDING))
        writer.start()
        writer.join()  # WAL: the writer does not wait for the reader
        assert snapshot.ticket_columns().statuses == before
        assert snapshot.pending_ticket_ids() == set()
    shown = cache.ticket(1)
    assert shown is not None
    assert shown.status == "pending"


def test_the_reads_made_alone_read_through_the_same_api(store: Store, cache: Cache) -> None:
    _fill(store)
    store.add_comment(1, "Looking", public=True)
    with cache.snapshot() as snapshot:
        assert snapshot.ticket(1) == cache.ticket(1)
        assert snapshot.tickets([3, 1]) == cache.tickets([3, 1])
        assert snapshot.comments(1) == cache.comments(1)
        assert snapshot.history(3) == cache.history(3)
        assert snapshot.search("hello") == cache.search("hello") == [1]
        assert snapshot.users() == cache.users()
        assert snapshot.cursor() == cache.cursor()
    assert [c.body for c in cache.comments(1)] == ["Hello", "Looking"]
