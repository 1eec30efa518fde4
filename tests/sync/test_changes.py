"""Every write of the store says what it changed, to whoever subscribed."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from protocol import (
    AppliedResult,
    ConflictResult,
    Priority,
    RejectedResult,
    RejectReason,
    Severity,
    Status,
    TicketDetailOut,
    TicketOut,
)
from sync.changes import Changes
from sync.store import Resolution, Store, UnknownTicketError

from .conftest import T0, comment, history, me, page, ticket

_ANNOUNCEMENT = {
    "id": 4,
    "title": "Outage",
    "body": "",
    "starts_at": T0.isoformat(),
    "ends_at": None,
    "ended_at": None,
    "created_by_id": 7,
    "created_at": T0.isoformat(),
    "updated_at": T0.isoformat(),
    "version": 1,
}
_ARTICLE = {
    "id": 8,
    "title": "Printers",
    "body": "",
    "tags": [],
    "created_by_id": 7,
    "updated_by_id": None,
    "created_at": T0.isoformat(),
    "updated_at": T0.isoformat(),
    "version": 1,
}


class Recorder:
    """Every change set published, and the thread it came on."""

    def __init__(self, store: Store) -> None:
        self.seen: list[Changes] = []
        self.threads: list[str] = []
        self.unsubscribe = store.subscribe(self)

    def __call__(self, changes: Changes) -> None:
        self.seen.append(changes)
        self.threads.append(threading.current_thread().name)

    def take(self) -> list[Changes]:
        seen, self.seen = self.seen, []
        return seen


@pytest.fixture
def synced(store: Store) -> Store:
    store.apply_page(page(*[("ticket", i, ticket(i, 5)) for i in (1, 2, 3)]))
    return store


@pytest.fixture
def heard(synced: Store) -> Iterator[Recorder]:
    recorder = Recorder(synced)
    yield recorder
    recorder.unsubscribe()


def test_change_sets_merge_and_say_whether_anything_changed() -> None:
    assert not Changes()
    one = Changes.of_tickets([1, 2], outbox=True)
    other = Changes(tickets=frozenset({3}), directory=True)
    merged = one | other
    assert merged == Changes(tickets=frozenset({1, 2, 3}), outbox=True, directory=True)
    assert merged.touches(3)
    assert not merged.touches(4)
    assert (Changes() | Changes(articles=True)).articles
    everything = Changes.everything()
    assert everything.touches(123456)
    assert everything.rejections
    assert everything.announcements
    assert Changes(conflicts=True)
    assert Changes(all_tickets=True)


def test_each_command_names_its_ticket_and_the_outbox(synced: Store, heard: Recorder) -> None:
    expected = Changes.of_tickets({2}, outbox=True)
    synced.assign(2, 7)
    synced.set_team(2, 1)
    synced.set_status(2, Status.PENDING)
    synced.set_priority(2, Priority.P1)
    synced.set_severity(2, Severity.MAJOR)
    synced.add_comment(2, "On it", public=True)
    synced.acknowledge(2)
    synced.add_tag(2, "vip")
    synced.remove_tag(2, "vip")
    assert heard.take() == [expected] * 9


def test_a_command_that_fails_publishes_nothing(synced: Store, heard: Recorder) -> None:
    with pytest.raises(UnknownTicketError):
        synced.assign(99, 7)
    assert heard.take() == []


def test_a_page_names_the_tickets_it_touched_and_the_kinds_of_rows(
    synced: Store, heard: Recorder
) -> None:
    result = synced.apply_page(
        page(
            ("ticket", 1, ticket(1, 6, subject="New")),
            ("comment", 50, comment(50, 2, "A reply")),
            ("history", 60, history(60, 3, 6)),
            ("comment", 51, comment(51, 77, "for a ticket not held yet")),
            ("organisation", 1, {"id": 1, "name": "Banque Mirabeau", "plan": "enterprise"}),
            ("announcement", 4, _ANNOUNCEMENT),
        )
    )
    assert result.changes == Changes(
        tickets=frozenset({1, 2, 3}), directory=True, announcements=True
    )
    assert heard.take() == [result.changes]
    articles = synced.apply_page(page(("article", 8, _ARTICLE)))
    assert articles.changes == Changes(articles=True)


def test_deleted_comments_name_their_ticket(synced: Store, heard: Recorder) -> None:
    synced.apply_page(page(("comment", 50, comment(50, 2, "Oops"))))
    gone = synced.apply_page(page(("comment", 50, None), ("ticket", 3, None)))
    assert gone.changes.tickets == {2, 3}
    assert synced.cache.comments(2) == []


def test_a_page_that_rebases_or_acknowledges_says_so(synced: Store, heard: Recorder) -> None:
    mutation = synced.set_status(1, Status.PENDING)
    synced.record_results([AppliedResult(mutation_id=mutation, ticket_id=1, version=6)])
    heard.take()
    result = synced.apply_page(
        page(
            ("ticket", 1, ticket(1, 6, status="pending")),
            ("history", 60, history(60, 1, 6, after="pending")),
        )
    )
    assert result.acknowledged == 1
    assert result.changes == Changes.of_tickets({1}, outbox=True)


def test_tickets_dropped_out_of_sight_are_named(store: Store) -> None:
    store.apply_page(
        page(
            ("user", 42, me(1, 2)),
            ("ticket", 1, ticket(1)),
            ("ticket", 2, ticket(2, team_id=2)),
        )
    )
    recorder = Recorder(store)
    result = store.apply_page(page(("user", 42, me(1))))
    assert result.out_of_sight == 1
    assert result.changes == Changes(tickets=frozenset({2}), directory=True)
    assert recorder.take() == [result.changes]


def test_a_malformed_page_publishes_nothing(synced: Store, heard: Recorder) -> None:
    with pytest.raises(ValueError, match="validation"):
        synced.apply_page(page(("ticket", 9, {"id": 9})))
    assert heard.take() == []


def test_answers_to_a_push_say_what_they_changed(synced: Store, heard: Recorder) -> None:
    applied = synced.set_status(1, Status.PENDING)
    clashing = synced.assign(2, 7)
    refused = synced.assign(3, 77)
    heard.take()
    summary = synced.record_results(
        [
            AppliedResult(mutation_id=applied, ticket_id=1, version=6),
            ConflictResult(
                mutation_id=clashing,
                ticket_id=2,
                fields=["assignee_id"],
                ticket=TicketOut.model_validate(ticket(2, 9, assignee_id=13)),
            ),
            RejectedResult(
                mutation_id=refused,
                ticket_id=3,
                reason=RejectReason.INVALID_ASSIGNEE,
                message="Agent 77 is not in this team.",
            ),
        ]
    )
    # the applied one is shown already: its ticket does not change until the pull
    assert summary.changes == Changes(
        tickets=frozenset({2, 3}), outbox=True, conflicts=True, rejections=True
    )
    assert heard.take() == [summary.changes]
    again = synced.record_results([AppliedResult(mutation_id=applied, ticket_id=1, version=6)])
    assert not again.changes.tickets
    assert again.changes.outbox  # known: marked applied again


def test_a_delivery_attempt_changes_the_outbox(synced: Store, heard: Recorder) -> None:
    mutation = synced.acknowledge(1)
    heard.take()
    synced.record_attempt([mutation], "timeout")
    synced.record_attempt([])  # nothing counted: nothing published
    assert heard.take() == [Changes(outbox=True)]


def test_resolving_conflicts_and_dismissing_refusals(synced: Store, heard: Recorder) -> None:
    first = synced.assign(1, 7)
    second = synced.assign(2, 7)
    refused = synced.assign(3, 77)
    synced.record_results(
        [
            ConflictResult(
                mutation_id=mutation,
                ticket_id=ticket_id,
                fields=["assignee_id"],
                ticket=TicketOut.model_validate(ticket(ticket_id, 9, assignee_id=13)),
            )
            for mutation, ticket_id in ((first, 1), (second, 2))
        ]
        + [
            RejectedResult(
                mutation_id=refused,
                ticket_id=3,
                reason=RejectReason.INVALID_ASSIGNEE,
                message="no",
            )
        ]
    )
    heard.take()
    one, two = synced.conflicts()
    synced.resolve_conflict(one.id, Resolution.REAPPLY)
    synced.resolve_conflict(two.id, Resolution.DISCARD)
    [rejected] = synced.rejected()
    synced.dismiss_rejected(rejected.id)
    synced.dismiss_rejected(rejected.id)  # already dismissed: nothing changes
    assert heard.take() == [
        Changes(tickets=frozenset({one.ticket_id}), outbox=True, conflicts=True),
        Changes(conflicts=True),
        Changes(rejections=True),
    ]


def test_a_ticket_stored_whole_names_itself(synced: Store, heard: Recorder) -> None:
    synced.apply_page(page(("comment", 70, comment(70, 9, "came first"))))
    assert synced.parked_tickets() == {9}
    heard.take()
    whole = TicketDetailOut.model_validate(
        ticket(9) | {"comments": [comment(70, 9, "came first")], "history": []}
    )
    assert synced.store_ticket(whole) == Changes.of_tickets({9})
    assert heard.take() == [Changes.of_tickets({9})]
    synced.apply_page(page(("comment", 71, comment(71, 10, "never ours"))))
    heard.take()
    assert not synced.discard_parked(10)  # nothing shown changes
    assert synced.parked_tickets() == set()
    assert heard.take() == []


def test_pages_stored_on_a_worker_thread_are_published_on_it(
    synced: Store, heard: Recorder
) -> None:
    worker = threading.Thread(
        target=synced.apply_page, args=(page(("ticket", 1, ticket(1, 6))),), name="sync-pages"
    )
    worker.start()
    worker.join()
    assert heard.threads == ["sync-pages"]


def test_a_failing_subscriber_neither_undoes_the_write_nor_silences_the_others(
    synced: Store, heard: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(changes: Changes) -> None:
        raise RuntimeError("a widget already deleted")

    unsubscribe = synced.subscribe(broken)
    later = Recorder(synced)
    synced.acknowledge(1)
    shown = synced.cache.ticket(1)
    assert shown is not None
    assert shown.pending
    assert len(heard.take()) == len(later.take()) == 1
    assert "failed" in caplog.text
    unsubscribe()
    later.unsubscribe()
    unsubscribe()  # twice: harmless
    synced.acknowledge(2)
    assert len(heard.take()) == 1
    assert later.take() == []
