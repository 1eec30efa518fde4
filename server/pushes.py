"""Pushes: a console's commands run exactly once each, in one transaction.

A mutation id is recorded with the answer it got; a command sent again is
answered the same way without running again.  The transaction locks its tickets
first, in id order, and PostgreSQL's cancellations (deadlocks, serialization
failures) run it again after a pause.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections.abc import Callable, Collection, Sequence
from typing import Final

from pydantic import TypeAdapter
from sqlalchemy import Table, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from i18n import N_, _
from protocol import AppliedResult, Command, CommandResult, RejectReason
from server import changes as feed
from server.commands import apply_command, rejected
from server.dates import Clock
from server.db import Base, transaction, upsert_insert
from server.errors import ServiceError
from server.models import AppliedMutation, Organisation, SlaConfig, Ticket, User

log = logging.getLogger(__name__)

_RESULTS: Final = TypeAdapter[CommandResult](CommandResult)
_APPLIED: Final[Table] = Base.metadata.tables[AppliedMutation.__tablename__]


def _stored(row: AppliedMutation) -> CommandResult:
    return _RESULTS.validate_python(row.result)


def _answer_again(existing: AppliedMutation, user_id: int, command: Command) -> CommandResult:
    """The answer to a mutation id already recorded: its stored one, if it is the user's."""
    if existing.user_id != user_id:
        return rejected(command, RejectReason.MUTATION_REUSED)
    return _stored(existing)


def execute(
    factory: sessionmaker[Session], user_id: int, command: Command, clock: Clock
) -> CommandResult:
    """Run one command, exactly once per mutation id: a push of one (:func:`execute_batch`)."""
    return execute_batch(factory, user_id, [command], clock)[0]


def _own_version(own: dict[int, set[int]], result: CommandResult) -> None:
    """Note the ticket version an applied command of the batch produced."""
    if isinstance(result, AppliedResult):
        own.setdefault(result.ticket_id, set()).add(result.version)


def _record_mutation(
    session: Session, key: str, user_id: int, ticket_id: int, now: dt.datetime
) -> bool:
    """Insert the mutation id (empty answer); False when it is already recorded.

    ``ON CONFLICT DO NOTHING``: on PostgreSQL a concurrent re-send waits on the
    unique key until the first transaction ends, then inserts nothing, with no
    error to roll back (the batch's transaction goes on).
    """
    statement = upsert_insert(session, _APPLIED).values(
        mutation_id=key, user_id=user_id, ticket_id=ticket_id, result={}, created_at=now
    )
    inserted = (
        session.connection()
        .execute(
            statement.on_conflict_do_nothing(index_elements=["mutation_id"]).returning(
                _APPLIED.c.mutation_id
            )
        )
        .scalar_one_or_none()
    )
    return inserted is not None


def _lock_tickets(session: Session, ticket_ids: Collection[int]) -> dt.datetime | None:
    """Lock ``ticket_ids`` for the transaction, in id order; the time of their latest change.

    In id order, two pushes that touch the same tickets wait for each other in
    line, never in a circle: they cannot deadlock on them.
    """
    rows = session.execute(
        select(Ticket.updated_at)
        .where(Ticket.id.in_(sorted(set(ticket_ids))))
        .order_by(Ticket.id)
        .with_for_update()
    )
    return max((updated_at for (updated_at,) in rows), default=None)


def _execute_together(
    factory: sessionmaker[Session], user_id: int, commands: Sequence[Command], clock: Clock
) -> list[CommandResult]:
    with transaction(factory) as session:
        latest = _lock_tickets(session, {command.ticket_id for command in commands})
        # read once the tickets are ours, and never before their last change: a push that
        # waited for them is stamped after the one it waited for
        now = clock()
        if latest is not None and now < latest:
            now = latest
        user = session.get(User, user_id)
        assert user is not None
        changes = feed.ChangeSet()
        # what every command reads again, held for the batch (the session's identity
        # map holds objects weakly: unheld, each would be loaded again a command)
        held = [
            session.get(SlaConfig, 1),
            *session.scalars(
                select(Organisation).where(
                    Organisation.id.in_(
                        select(Ticket.organisation_id).where(
                            Ticket.id.in_({command.ticket_id for command in commands})
                        )
                    )
                )
            ),
        ]
        own: dict[int, set[int]] = {}
        results: list[CommandResult] = []
        for command in commands:
            key = str(command.mutation_id)
            result: CommandResult
            if _record_mutation(session, key, user_id, command.ticket_id, now):
                result = apply_command(
                    session,
                    changes,
                    user,
                    command,
                    now,
                    own_versions=own.get(command.ticket_id, ()),
                )
                session.connection().execute(
                    update(_APPLIED)
                    .where(_APPLIED.c.mutation_id == key)
                    .values(result=result.model_dump(mode="json"))
                )
            else:
                existing = session.scalars(
                    select(AppliedMutation)
                    .where(AppliedMutation.mutation_id == key)
                    .execution_options(populate_existing=True)
                ).one()
                result = _answer_again(existing, user_id, command)
            _own_version(own, result)
            results.append(result)
        changes.publish(session, now)  # the feed counter is locked only now, until commit
        del held
    return results


#: SQLSTATEs of a transaction PostgreSQL gave up to let others go on: run it again
_TRANSIENT: Final = frozenset({"40001", "40P01"})  # serialization failure, deadlock
#: runs of a push, at most, before it is answered 503
PUSH_ATTEMPTS: Final = 5
#: the first pause between two runs, in seconds (doubled each time; full jitter)
_FIRST_PAUSE: Final = 0.02
_BUSY = N_("The server is busy with other changes to these tickets; try again in a moment.")
#: how a push waits before it runs again (tests replace it)
pause: Callable[[float], None] = time.sleep


def _transient(error: DBAPIError) -> bool:
    return getattr(error.orig, "sqlstate", None) in _TRANSIENT


def execute_batch(
    factory: sessionmaker[Session],
    user_id: int,
    commands: Sequence[Command],
    clock: Clock,
    *,
    jitter: Callable[[], float] = random.random,
) -> list[CommandResult]:
    """Run a push's commands in order, exactly once per mutation id, and answer each.

    They share one transaction (one commit, one lock of the feed counter, one
    set of feed rows) but each is applied, refused or found in conflict on its
    own: a refused command writes nothing, and a failure rolls back the whole
    batch, which the client re-sends (its mutation ids make that harmless).
    Earlier commands of the batch are the author's own changes, never a clash
    for the later ones (see :func:`server.commands._clashes`).

    The push first locks its tickets in id order, then its mutation ids, and the
    feed counter last, as every writer does: pushes do not deadlock one another.
    Its time is read once its tickets are locked (see :func:`_execute_together`),
    so a ticket's history never goes back in time as its versions go up.  Should
    PostgreSQL still cancel it (a deadlock with another kind of writer, a
    serialization failure), it runs again after a jittered pause, up to
    :data:`PUSH_ATTEMPTS` times in all; then the answer is 503 with Retry-After.
    """
    for attempt in range(PUSH_ATTEMPTS):
        try:
            return _execute_together(factory, user_id, commands, clock)
        except DBAPIError as error:
            if not _transient(error):
                raise
            log.info("push cancelled by the database (%s), attempt %d", error.orig, attempt + 1)
            if attempt + 1 < PUSH_ATTEMPTS:
                pause(jitter() * _FIRST_PAUSE * 2**attempt)
    raise ServiceError(503, "busy", _(_BUSY), headers={"Retry-After": "1"})
