"""Commands, the outbox, rebases and the server's answers."""

from __future__ import annotations

import datetime as dt
from uuid import UUID

import pytest
from pydantic import ValidationError

from protocol import (
    AppliedResult,
    ChangePage,
    ConflictResult,
    Priority,
    RejectedResult,
    RejectReason,
    Severity,
    Status,
    TicketOut,
)
from sync.cache import Cache
from sync.queries import TicketView
from sync.store import Resolution, Store, UnknownTicketError

from .conftest import FakeClock, comment, history, me, page, ticket


@pytest.fixture
def synced(store: Store) -> Store:
    store.apply_page(page(*[("ticket", i, ticket(i, 5)) for i in (1, 2, 3)]))
    return store


def view(store: Store, ticket_id: int = 1) -> TicketView:
    found = store.cache.ticket(ticket_id)
    assert found is not None
    return found


def test_every_command_shows_at_once_and_is_queued(synced: Store, clock: FakeClock) -> None:
    synced.assign(1, 9)
    synced.set_status(1, Status.PENDING)
    synced.set_priority(1, Priority.P1)
    synced.set_severity(1, Severity.BLOCKING)
    synced.add_tag(1, "VIP")
    synced.add_comment(1, "On it", public=True)
    synced.acknowledge(2)
    synced.remove_tag(1, "vip")
    synced.add_tag(1, "printer")
    one = view(synced)
    assert (one.assignee_id, one.status, one.priority, one.severity, one.tags) == (
        9,
        "pending",
        "P1",
        "blocking",
        ("printer",),
    )
    assert one.pending
    assert view(synced, 2).pending
    assert not view(synced, 3).pending
    assert [(c.body, c.pending, c.author_id) for c in synced.cache.comments(1)] == [
        ("On it", True, 42)
    ]
    queued = synced.queued()
    assert [c.type for c in queued] == [
        "assign",
        "set_status",
        "set_priority",
        "set_severity",
        "add_tag",
        "add_comment",
        "acknowledge",
        "remove_tag",
        "add_tag",
    ]
    assert {c.base_version for c in queued} == {5}
    assert len({c.mutation_id for c in queued}) == 9
    assert synced.pending_ticket_ids() == {1, 2}
    assert "responded" in [h.field for h in synced.cache.history(2)]


def test_an_invalid_command_changes_nothing(synced: Store) -> None:
    with pytest.raises(ValidationError):
        synced.add_tag(1, "no spaces allowed")
    with pytest.raises(ValidationError):
        synced.add_comment(1, "   ", public=True)
    with pytest.raises(UnknownTicketError):
        synced.assign(99, 1)
    assert synced.queued() == []
    assert not view(synced).pending


def test_command_and_optimistic_change_are_one_transaction(
    synced: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*args: object) -> bool:
        raise RuntimeError("power cut")

    monkeypatch.setattr("sync.store.apply_optimistically", crash)
    with pytest.raises(RuntimeError):
        synced.set_status(1, Status.RESOLVED)
    assert synced.queued() == []  # the enqueue was rolled back with it


def test_pending_batch_is_in_order_and_bounded(synced: Store) -> None:
    ids = [synced.add_comment(1, f"note {i}", public=False) for i in range(5)]
    assert [c.mutation_id for c in synced.pending_batch(3)] == ids[:3]
    synced.record_attempt(ids[:3], "timeout")
    assert [c.mutation_id for c in synced.pending_batch()] == ids


def test_pull_rebases_pending_work_on_top_of_server_state(synced: Store) -> None:
    synced.set_status(1, Status.PENDING)
    synced.add_comment(1, "Waiting for the customer", public=True)
    # someone else changed the subject and priority meanwhile
    synced.apply_page(page(("ticket", 1, ticket(1, 6, subject="New subject", priority="P2"))))
    one = view(synced)
    assert (one.subject, one.priority, one.status, one.version) == (
        "New subject",
        "P2",
        "pending",
        6,
    )
    assert [c.body for c in synced.cache.comments(1)] == ["Waiting for the customer"]
    server = synced.cache.server_ticket(1)
    assert server is not None
    assert server.status == Status.OPEN


def _pending_and_answered(reply: str) -> ChangePage:
    """The feed once ticket 1 was set pending (version 6), then answered with ``reply``
    (version 7, comment 50)."""
    return page(
        ("ticket", 1, ticket(1, 7, status="pending")),
        ("history", 60, history(60, 1, 6, "status", after="pending")),
        ("history", 61, history(61, 1, 7, "reply", after="50")),
        ("comment", 50, comment(50, 1, reply)),
    )


def test_applied_commands_leave_the_outbox_once_the_pull_shows_them(synced: Store) -> None:
    status = synced.set_status(1, Status.PENDING)
    note = synced.add_comment(1, "Called back", public=True)
    summary = synced.record_results(
        [
            AppliedResult(mutation_id=status, ticket_id=1, version=6),
            AppliedResult(mutation_id=note, ticket_id=1, version=7),
        ]
    )
    assert summary.applied == 2
    assert synced.pending_batch() == []  # not sent again
    assert view(synced).status == "pending"  # still shown until the pull
    assert [c.pending for c in synced.cache.comments(1)] == [True]
    assert synced.pending_count() == 0
    assert synced.has_pending(1)

    synced.apply_page(_pending_and_answered("Called back"))
    assert synced.queued() == []
    assert not view(synced).pending
    assert [(c.body, c.server_id) for c in synced.cache.comments(1)] == [("Called back", 50)]


def test_a_pull_older_than_the_answer_keeps_the_work_shown(synced: Store) -> None:
    mutation = synced.set_status(1, Status.RESOLVED)
    synced.record_results([AppliedResult(mutation_id=mutation, ticket_id=1, version=8)])
    synced.apply_page(page(("ticket", 1, ticket(1, 6))))
    assert view(synced).status == "resolved"
    assert len(synced.queued()) == 1


def _conflict(store: Store, mutation: UUID, version: int = 9, **server: object) -> ConflictResult:
    return ConflictResult(
        mutation_id=mutation,
        ticket_id=1,
        fields=list(server),
        ticket=TicketOut.model_validate(ticket(1, version, **server)),
    )


def test_a_conflict_keeps_both_sides_and_undoes_the_change(synced: Store) -> None:
    mutation = synced.set_status(1, Status.RESOLVED)
    other = synced.add_comment(1, "Done", public=True)
    summary = synced.record_results([_conflict(synced, mutation, assignee_id=13)])
    assert summary.conflicts == 1
    assert summary.auto_reapplied == 0
    [conflict] = synced.conflicts()
    assert conflict.command.mutation_id == mutation
    assert conflict.server_ticket.assignee_id == 13
    assert conflict.fields == ("assignee_id",)
    assert "INC-2026-000001" in conflict.summary
    one = view(synced)
    assert (one.status, one.assignee_id, one.version) == ("open", 13, 9)  # server's, plus…
    assert [c.body for c in synced.cache.comments(1)] == ["Done"]  # …my other pending work
    assert [c.mutation_id for c in synced.queued()] == [other]
    assert synced.conflict_count() == 1


def test_a_reply_applied_beside_a_conflict_stays_on_screen_until_the_feed_brings_it(
    synced: Store,
) -> None:
    # offline: a reply, then "resolved"; a lead set the ticket pending meanwhile
    reply = synced.add_comment(1, "Fixed on our side", public=True)
    status = synced.set_status(1, Status.RESOLVED)
    synced.record_results(
        [
            AppliedResult(mutation_id=reply, ticket_id=1, version=7),
            # the conflict carries the ticket as the reply left it: version 7
            _conflict(synced, status, version=7, status="pending"),
        ]
    )
    # the network drops before the pull: the reply is still on its writer's screen
    assert [c.body for c in synced.cache.comments(1)] == ["Fixed on our side"]
    assert view(synced).status == "pending"
    synced.apply_page(_pending_and_answered("Fixed on our side"))
    assert [(c.body, c.pending) for c in synced.cache.comments(1)] == [("Fixed on our side", False)]
    assert synced.queued() == []


def test_reapplying_a_conflict_sends_it_again_on_the_new_version(synced: Store) -> None:
    mutation = synced.set_status(1, Status.RESOLVED)
    synced.record_results([_conflict(synced, mutation, assignee_id=13)])
    [conflict] = synced.conflicts()
    again = synced.resolve_conflict(conflict.id, Resolution.REAPPLY)
    assert again is not None
    assert again != mutation
    [command] = synced.pending_batch()
    assert (command.mutation_id, command.base_version) == (again, 9)
    assert view(synced).status == "resolved"
    assert synced.conflicts() == []
    [resolved] = synced.conflicts(unresolved_only=False)
    assert resolved.resolution is Resolution.REAPPLY
    with pytest.raises(ValueError, match="already resolved"):
        synced.resolve_conflict(conflict.id, Resolution.DISCARD)


def test_discarding_a_conflict_keeps_the_server_version(synced: Store) -> None:
    mutation = synced.assign(1, 42)
    synced.record_results([_conflict(synced, mutation, assignee_id=13)])
    [conflict] = synced.conflicts()
    assert synced.resolve_conflict(conflict.id, Resolution.DISCARD) is None
    assert synced.queued() == []
    assert view(synced).assignee_id == 13
    assert synced.conflict_count() == 0


def test_non_clashing_changes_are_reapplied_automatically(synced: Store) -> None:
    mutation = synced.set_priority(1, Priority.P1)
    summary = synced.record_results([_conflict(synced, mutation, priority="P4")])
    assert summary.auto_reapplied == 1
    [command] = synced.pending_batch()
    assert command.type == "set_priority"
    assert command.base_version == 9
    assert command.mutation_id != mutation
    assert view(synced).priority == "P1"
    assert synced.conflicts() == []  # nothing for the user to decide…
    [record] = synced.conflicts(unresolved_only=False)  # …but it is on record
    assert record.resolution is Resolution.AUTOMATIC
    assert record.replacement_mutation_id == command.mutation_id


def test_a_rejected_command_is_undone_and_its_reason_kept(synced: Store, clock: FakeClock) -> None:
    mutation = synced.assign(1, 77)
    clock.advance(seconds=30)
    synced.record_results(
        [
            RejectedResult(
                mutation_id=mutation,
                ticket_id=1,
                reason=RejectReason.INVALID_ASSIGNEE,
                message="Agent 77 is not in this team.",
            )
        ]
    )
    assert view(synced).assignee_id is None
    assert not view(synced).pending
    [rejected] = synced.rejected()
    assert (rejected.reason, rejected.message) == (
        RejectReason.INVALID_ASSIGNEE,
        "Agent 77 is not in this team.",
    )
    assert rejected.command.mutation_id == mutation
    assert rejected.rejected_at == clock.now
    synced.dismiss_rejected(rejected.id)
    assert synced.rejected() == []
    assert len(synced.rejected(include_dismissed=True)) == 1


def test_answers_to_unknown_mutations_are_counted_not_applied(synced: Store) -> None:
    mutation = synced.acknowledge(1)
    synced.record_results([AppliedResult(mutation_id=mutation, ticket_id=1, version=6)])
    synced.apply_page(
        page(("ticket", 1, ticket(1, 6)), ("history", 60, history(60, 1, 6, "responded")))
    )
    again = synced.record_results([AppliedResult(mutation_id=mutation, ticket_id=1, version=6)])
    assert (again.applied, again.unknown) == (0, 1)


def test_a_ticket_that_disappears_keeps_its_pending_commands(synced: Store) -> None:
    mutation = synced.add_comment(1, "Still mine", public=False)
    synced.apply_page(page(("ticket", 1, None)))
    assert synced.cache.ticket(1) is None
    assert [c.mutation_id for c in synced.pending_batch()] == [mutation]  # the server decides


def test_pending_comments_keep_their_time_across_rebases(synced: Store, clock: FakeClock) -> None:
    synced.add_comment(1, "First", public=False)
    written = clock.now
    clock.advance(hours=1)
    synced.apply_page(page(("ticket", 1, ticket(1, 6))))
    assert [c.created_at for c in synced.cache.comments(1)] == [written]
    assert view(synced).updated_at == written


def test_pending_work_is_flagged_for_provisional_sla(synced: Store, cache: Cache) -> None:
    synced.set_severity(2, Severity.BLOCKING)
    flags = {t.id: t.pending for t in cache.tickets()}
    assert flags == {1: False, 2: True, 3: False}
    assert [t.id for t in cache.tickets([3, 2])] == [3, 2]


def test_timestamps_come_from_the_injected_clock(synced: Store, clock: FakeClock) -> None:
    clock.now = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    synced.set_status(1, Status.PENDING)
    [entry] = [h for h in synced.cache.history(1) if h.field == "status"]
    assert entry.at == clock.now
    assert (entry.before, entry.after) == ("open", "pending")


def test_leaving_a_team_drops_its_tickets_and_their_comments(store: Store) -> None:
    store.apply_page(
        page(
            ("user", 42, me(1, 2)),
            ("ticket", 1, ticket(1)),
            ("ticket", 2, ticket(2, team_id=2)),
            ("comment", 5, comment(5, 2, "printer is back")),
        )
    )
    store.add_comment(2, "will check", public=False)
    assert store.cache.ticket_count() == 2
    result = store.apply_page(page(("user", 42, me(1))))
    assert result.out_of_sight == 1
    assert not result.reread
    assert store.cache.ticket(2) is None
    assert store.cache.comments(2) == []
    assert store.cache.search("printer") == []
    assert store.cache.ticket(1) is not None
    # the queued note is answered "not found" by the server and shown as refused then
    assert [command.ticket_id for command in store.queued()] == [2]


def test_a_move_still_queued_does_not_drop_a_ticket_the_server_keeps_visible(
    store: Store,
) -> None:
    store.apply_page(page(("user", 42, me(1, 2)), ("ticket", 1, ticket(1))))
    store.set_team(1, 2)
    store.apply_page(page(("user", 42, me(1))))
    found = store.cache.ticket(1)
    assert found is not None
    assert found.team_id == 2
    assert found.pending


def test_joining_a_team_asks_for_the_feed_from_the_start(store: Store) -> None:
    assert not store.apply_page(page(("user", 42, me(1)))).reread  # first sight: no
    assert store.apply_page(page(("user", 42, me(1, 2)))).reread
    assert not store.apply_page(page(("user", 42, me(1, 2)))).reread
    assert store.apply_page(page(("user", 42, me(role="admin")))).reread
    assert not store.apply_page(page(("user", 7, me(1) | {"id": 7}))).reread
