"""Moving tickets to another agent or team, and taking such a move back.

A reassignment is one command a ticket (``assign`` within its team,
``set_team`` across teams), queued and shown at once like every command, all in
one transaction.  Undoing it withdraws the commands still waiting in the outbox
(never sent) and answers those the server already applied with the inverse
commands, compare-and-set against the version the move produced.  A ticket
moved again since (by anyone) is left alone: an undo never overwrites someone
else's later change.

:class:`sync.store.Store` runs these in its write transactions
(:meth:`~sync.store.Store.reassign`, :meth:`~sync.store.Store.undo`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, delete, select

from sync import schema
from sync.changes import Changes
from sync.outbox import apply_optimistically, chunks, enqueue, make_command, rebase

__all__ = ["Move", "Reassignment", "UndoOutcome", "reassign", "undo"]


@dataclass(frozen=True, slots=True)
class Move:
    """One ticket's move, and the command that made it."""

    ticket_id: int
    from_team: int
    from_agent: int | None
    to_team: int
    to_agent: int | None
    mutation_id: UUID


@dataclass(frozen=True, slots=True)
class Reassignment:
    """Tickets moved to ``team_id`` (and ``agent_id``, or nobody)."""

    team_id: int
    agent_id: int | None
    moves: tuple[Move, ...]
    #: tickets left alone: already there, or not cached any more
    skipped: int = 0


@dataclass(frozen=True, slots=True)
class UndoOutcome:
    withdrawn: int = 0  # still queued: taken out of the outbox, never sent
    reverted: int = 0  # already applied: the inverse command is queued
    unchanged: int = 0  # moved again since, or refused by the server: left as it is
    #: on their way to the server right now: to undo again once it has answered
    deferred: tuple[Move, ...] = ()


def reassign(
    connection: Connection,
    ticket_ids: Iterable[int],
    team_id: int,
    agent_id: int | None,
    *,
    now: dt.datetime,
    new_id: Callable[[], UUID],
    author_id: int | None,
) -> tuple[Reassignment, Changes]:
    """Queue and show one command a ticket of ``ticket_ids`` (in that order) not
    already with ``agent_id`` in ``team_id``."""
    wanted = list(dict.fromkeys(ticket_ids))
    t = schema.tickets.c
    current: dict[int, tuple[int, int | None, int]] = {}
    for chunk in chunks(wanted):
        for ticket_id, team, assignee, version in connection.execute(
            select(t.id, t.team_id, t.assignee_id, t.version).where(t.id.in_(chunk))
        ):
            current[ticket_id] = (team, assignee, version)
    moves: list[Move] = []
    for ticket_id in wanted:
        found = current.get(ticket_id)
        if found is None:
            continue
        team, assignee, version = found
        if team == team_id and assignee == agent_id:
            continue
        fields: dict[str, Any] = {"assignee_id": agent_id}
        if team == team_id:
            kind = "assign"
        else:
            kind, fields["team_id"] = "set_team", team_id
        command = make_command(kind, ticket_id, version, mutation_id=new_id(), **fields)
        enqueue(connection, command, now)
        apply_optimistically(connection, command, now, author_id)
        moves.append(Move(ticket_id, team, assignee, team_id, agent_id, command.mutation_id))
    done = Reassignment(team_id, agent_id, tuple(moves), skipped=len(wanted) - len(moves))
    return done, Changes.of_tickets((move.ticket_id for move in moves), outbox=bool(moves))


def undo(
    connection: Connection,
    moves: Sequence[Move],
    *,
    in_flight: Callable[[UUID], bool],
    now: dt.datetime,
    new_id: Callable[[], UUID],
    author_id: int | None,
) -> tuple[UndoOutcome, Changes]:
    """Take back ``moves``: withdraw what is still queued, revert what was applied.

    ``in_flight`` says whether a command is on its way to the server (see
    :meth:`sync.store.Store.withdrawing`): such a move waits for the answer.
    """
    o, t = schema.outbox.c, schema.tickets.c
    withdrawn = reverted = unchanged = 0
    deferred: list[Move] = []
    withdraw: list[int] = []
    reverted_tickets: list[int] = []
    for move in moves:
        queued = connection.execute(
            select(o.seq, o.state, o.applied_version, o.attempts).where(
                o.mutation_id == str(move.mutation_id)
            )
        ).first()
        current = connection.execute(
            select(t.team_id, t.assignee_id, t.version).where(t.id == move.ticket_id)
        ).first()
        if current is None or (current.team_id, current.assignee_id) != (
            move.to_team,
            move.to_agent,
        ):
            unchanged += 1
            continue
        later = (
            queued is not None
            and connection.execute(
                select(o.seq).where(
                    o.ticket_id == move.ticket_id,
                    o.seq > queued.seq,
                    o.type.in_(("assign", "set_team")),
                )
            ).first()
            is not None
        )
        if later:
            unchanged += 1
            continue
        if queued is not None and queued.state == "pending":
            if in_flight(move.mutation_id) or queued.attempts:
                # the server may be applying it, or may have (a push that got no
                # answer): neither withdrawn (it would stand all the same) nor
                # reverted (against which version?) until the server has answered
                deferred.append(move)
                continue
            connection.execute(delete(schema.outbox).where(o.seq == queued.seq))
            withdraw.append(move.ticket_id)
            withdrawn += 1
            continue
        base = current.version
        if queued is not None and queued.applied_version is not None:
            base = max(base, queued.applied_version)
        fields: dict[str, Any]
        if move.from_team == move.to_team:
            kind, fields = "assign", {"assignee_id": move.from_agent}
        else:
            kind = "set_team"
            fields = {"team_id": move.from_team, "assignee_id": move.from_agent}
        command = make_command(kind, move.ticket_id, base, mutation_id=new_id(), **fields)
        enqueue(connection, command, now)
        apply_optimistically(connection, command, now, author_id)
        reverted_tickets.append(move.ticket_id)
        reverted += 1
    if withdraw:
        rebase(connection, withdraw, author_id)
    outcome = UndoOutcome(withdrawn, reverted, unchanged, tuple(deferred))
    touched = [*withdraw, *reverted_tickets]
    return outcome, Changes.of_tickets(touched, outbox=bool(touched))
