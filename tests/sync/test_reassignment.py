"""Reassigning tickets through the store, and taking a reassignment back."""

from __future__ import annotations

from uuid import UUID

import pytest

from protocol import AppliedResult, AssignCommand, RejectedResult, RejectReason, SetTeamCommand
from sync.changes import Changes
from sync.reassignment import Move
from sync.store import Store

from .conftest import page, ticket

CAMILLE, BOB = 1, 2


@pytest.fixture
def store(store: Store) -> Store:
    """Tickets 101 and 102 with Camille, 103 with Bob, all in team 1."""
    store.apply_page(
        page(
            ("ticket", 101, ticket(101, 3, assignee_id=CAMILLE)),
            ("ticket", 102, ticket(102, 3, assignee_id=CAMILLE)),
            ("ticket", 103, ticket(103, 3, assignee_id=BOB)),
        )
    )
    return store


def _where(store: Store, ticket_id: int) -> tuple[int, int | None]:
    found = store.cache.ticket(ticket_id)
    assert found is not None
    return found.team_id, found.assignee_id


def test_a_reassignment_queues_one_command_a_ticket_moved(store: Store) -> None:
    published: list[Changes] = []
    store.subscribe(published.append)
    done = store.reassign([101, 102, 103, 999, 101], team_id=1, agent_id=BOB)
    assert [move.ticket_id for move in done.moves] == [101, 102]
    assert done.skipped == 2  # 103 is Bob's already; 999 is not cached
    assert (done.team_id, done.agent_id) == (1, BOB)
    assert done.moves[0] == Move(101, 1, CAMILLE, 1, BOB, done.moves[0].mutation_id)
    queued = store.pending_batch()
    assert [type(command) for command in queued] == [AssignCommand, AssignCommand]
    assert [command.mutation_id for command in queued] == [m.mutation_id for m in done.moves]
    assert {command.base_version for command in queued} == {3}
    assert _where(store, 101) == _where(store, 102) == (1, BOB)  # shown at once
    assert published == [Changes.of_tickets({101, 102}, outbox=True)]  # one write, one set


def test_a_move_to_another_team_is_a_set_team_command(store: Store) -> None:
    done = store.reassign([101], team_id=2, agent_id=None)
    [command] = store.pending_batch()
    assert isinstance(command, SetTeamCommand)
    assert (command.team_id, command.assignee_id) == (2, None)
    assert _where(store, 101) == (2, None)
    store.undo(done.moves)
    assert _where(store, 101) == (1, CAMILLE)


def test_nothing_to_move_changes_nothing(store: Store) -> None:
    published: list[Changes] = []
    store.subscribe(published.append)
    done = store.reassign([103], team_id=1, agent_id=BOB)
    assert done.moves == ()
    assert done.skipped == 1
    assert store.queued() == []
    assert published == []


def test_undo_withdraws_queued_moves_and_reverts_applied_ones(store: Store) -> None:
    done = store.reassign([101, 102], team_id=1, agent_id=BOB)
    published: list[Changes] = []
    store.subscribe(published.append)

    # still queued: withdrawn, nothing is ever sent
    outcome = store.undo(done.moves)
    assert (outcome.withdrawn, outcome.reverted, outcome.unchanged) == (2, 0, 0)
    assert store.pending_batch() == []
    assert _where(store, 101) == _where(store, 102) == (1, CAMILLE)
    assert published == [Changes.of_tickets({101, 102}, outbox=True)]

    # applied by the server (not pulled yet): the inverse, against the version it made
    again = store.reassign([101], team_id=1, agent_id=BOB)
    store.record_results(
        [AppliedResult(mutation_id=again.moves[0].mutation_id, ticket_id=101, version=4)]
    )
    outcome = store.undo(again.moves)
    assert (outcome.withdrawn, outcome.reverted) == (0, 1)
    [inverse] = store.pending_batch()
    assert isinstance(inverse, AssignCommand)
    assert (inverse.assignee_id, inverse.base_version) == (CAMILLE, 4)
    assert _where(store, 101) == (1, CAMILLE)


def test_undo_waits_for_the_answer_to_a_move_on_its_way(store: Store) -> None:
    done = store.reassign([101], team_id=1, agent_id=BOB)
    [sent] = store.take_batch()
    with store.sending([sent.mutation_id]):
        outcome = store.undo(done.moves)
        assert outcome.deferred == done.moves
        assert outcome.withdrawn == 0
        assert _where(store, 101) == (1, BOB)
        store.record_results(
            [AppliedResult(mutation_id=sent.mutation_id, ticket_id=101, version=4)]
        )
    # answered: undone with the inverse against the version the move made
    outcome = store.undo(outcome.deferred)
    assert outcome.reverted == 1
    assert outcome.deferred == ()
    [inverse] = store.pending_batch()
    assert isinstance(inverse, AssignCommand)
    assert inverse.base_version == 4


def test_undo_waits_on_a_move_sent_without_an_answer(store: Store) -> None:
    done = store.reassign([101], team_id=1, agent_id=BOB)
    # sent, but the connection dropped before the answer: the server may have applied it
    store.record_attempt([done.moves[0].mutation_id], "connection reset")
    outcome = store.undo(done.moves)
    assert outcome.deferred == done.moves
    assert outcome.withdrawn == 0
    assert [c.mutation_id for c in store.pending_batch()] == [done.moves[0].mutation_id]


def test_undo_leaves_alone_a_ticket_moved_again_since(store: Store) -> None:
    done = store.reassign([101], team_id=1, agent_id=BOB)
    store.assign(101, None)  # someone (the lead, here) moved it again
    published: list[Changes] = []
    store.subscribe(published.append)
    outcome = store.undo(done.moves)
    assert (outcome.withdrawn, outcome.reverted, outcome.unchanged) == (0, 0, 1)
    assert _where(store, 101) == (1, None)
    assert published == []  # nothing changed


def test_undo_leaves_a_refused_move_as_the_server_left_it(store: Store) -> None:
    done = store.reassign([101], team_id=1, agent_id=BOB)
    store.record_results(
        [
            RejectedResult(
                mutation_id=done.moves[0].mutation_id,
                ticket_id=101,
                reason=RejectReason.INVALID_ASSIGNEE,
                message="Bob is away.",
            )
        ]
    )
    outcome = store.undo(done.moves)
    assert outcome.unchanged == 1
    assert store.queued() == []
    assert _where(store, 101) == (1, CAMILLE)


@pytest.fixture
def numbered(store: Store) -> Store:
    """The same cache through a store whose mutation ids count up from 1."""
    numbers = iter(range(1, 100))
    return Store(store.cache, user_id=store.user_id, new_id=lambda: UUID(int=next(numbers)))


def test_new_commands_take_the_stores_mutation_ids(numbered: Store) -> None:
    done = numbered.reassign([101], team_id=1, agent_id=BOB)
    numbered.record_results(
        [AppliedResult(mutation_id=done.moves[0].mutation_id, ticket_id=101, version=4)]
    )
    numbered.undo(done.moves)
    assert [c.mutation_id for c in numbered.queued()] == [UUID(int=1), UUID(int=2)]
