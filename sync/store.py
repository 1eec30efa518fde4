"""The store the console and the sync loop talk to: commands in, pages in, results in.

- The console changes tickets only through named commands (:meth:`Store.assign`,
  :meth:`Store.set_status`, …): each is applied to the cache AND appended to the
  outbox in one transaction, so the UI shows it at once and a crash cannot
  separate the two.
  A reassignment (:meth:`Store.reassign`) is one command a ticket, and
  :meth:`Store.undo` takes one back (:mod:`sync.reassignment`).
- A pull hands every page of the change feed to :meth:`Store.apply_page`: one
  transaction upserts the page (bulk upserts), moves the cursor, drops the
  commands the server state now includes, and rebases the touched tickets
  (:mod:`sync.pull`).
- A push takes :meth:`Store.take_batch`, sends it, and hands the answers to
  :meth:`Store.record_results`: applied, conflict (kept with both sides for the
  user, or re-applied automatically when nothing can clash) or rejected (undone,
  with the reason kept).  Nothing is dropped silently.

Every write says what it changed (:class:`sync.changes.Changes`) to the
callbacks given to :meth:`Store.subscribe`, once it is committed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import Connection, bindparam, delete, func, select, update

from i18n import N_, gettext
from protocol import (
    MAX_BATCH,
    AppliedResult,
    ChangePage,
    Command,
    CommandResult,
    ConflictResult,
    Priority,
    RejectedResult,
    RejectReason,
    Severity,
    Status,
    TicketDetailOut,
    TicketOut,
)
from sync import deferred, pull, reassignment, schema
from sync.cache import Cache
from sync.changes import Changes
from sync.collector import collector_paused
from sync.deferred import DeferredCall
from sync.outbox import (
    NON_CLASHING,
    apply_optimistically,
    chunks,
    drop_acknowledged,
    enqueue,
    make_command,
    parse_command,
    rebase,
    with_new_base,
)
from sync.pull import AccessWatch, PageResult
from sync.reassignment import Move, Reassignment, UndoOutcome
from sync.rows import ticket_row, upsert

__all__ = [
    "ChangesCallback",
    "ConflictView",
    "RejectedView",
    "Resolution",
    "ResultSummary",
    "Store",
    "UnknownTicketError",
]

log = logging.getLogger(__name__)

_UNKNOWN_TICKET = N_("This ticket is not in the local cache any more.")
_CONFLICT_SUMMARY = N_(
    "Your change to {ticket} was not applied: {fields} changed on the server in the meantime."
)


class UnknownTicketError(LookupError):
    """A command for a ticket the cache does not hold."""

    def __init__(self, ticket_id: int) -> None:
        super().__init__(f"ticket {ticket_id} is not cached")
        self.ticket_id = ticket_id

    @property
    def message(self) -> str:
        return gettext(_UNKNOWN_TICKET)


class Resolution(StrEnum):
    REAPPLY = "reapplied"  # the user's change, sent again on top of the new version
    DISCARD = "discarded"  # the user keeps the server's version
    AUTOMATIC = "reapplied_automatically"  # a non-clashing change, sent again by itself


@dataclass(frozen=True, slots=True)
class ConflictView:
    """Both sides of a conflict: the server's ticket now, and the change that was not applied."""

    id: int
    ticket_id: int
    command: Command
    server_ticket: TicketOut
    fields: tuple[str, ...]
    detected_at: dt.datetime
    resolution: Resolution | None
    replacement_mutation_id: UUID | None

    @property
    def summary(self) -> str:
        return gettext(_CONFLICT_SUMMARY).format(
            ticket=self.server_ticket.tracking_number, fields=", ".join(self.fields)
        )


@dataclass(frozen=True, slots=True)
class RejectedView:
    id: int
    ticket_id: int
    command: Command
    reason: RejectReason
    message: str  # the server's explanation, in the user's language
    rejected_at: dt.datetime


@dataclass(slots=True)
class ResultSummary:
    applied: int = 0
    conflicts: int = 0
    auto_reapplied: int = 0
    rejected: int = 0
    #: answers to mutation ids no longer queued (a duplicate delivery): ignored
    unknown: int = 0
    #: what recording the answers changed, as published to the store's subscribers
    changes: Changes = field(default_factory=Changes)


#: Called with what a write changed (see :meth:`Store.subscribe`).
ChangesCallback = Callable[[Changes], None]


class Store:
    """Commands, pulls and push results over one :class:`~sync.cache.Cache`."""

    def __init__(
        self,
        cache: Cache,
        *,
        user_id: int | None = None,
        new_id: Callable[[], UUID] = uuid4,
    ) -> None:
        self.cache = cache
        #: the signed-in agent: author of their pending comments and history entries
        self.user_id = user_id
        self._new_id = new_id
        #: whether the user's own record came with the feed since its end was last reached
        self._access = AccessWatch()
        #: called with every change set, after its commit (see :meth:`subscribe`)
        self._subscribers: tuple[ChangesCallback, ...] = ()
        #: mutation ids of the batch on its way to the server (see :meth:`sending`)
        self._in_flight: set[UUID] = set()
        #: held while a batch is read and marked, or while commands are withdrawn
        self._outbox_lock = threading.Lock()

    @property
    def clock(self) -> Callable[[], dt.datetime]:
        return self.cache.clock

    # -- what changed ------------------------------------------------------------------

    def subscribe(self, callback: ChangesCallback) -> Callable[[], None]:
        """Call ``callback`` with what each write changed, once it is committed; returns
        the unsubscriber.  Writes that change nothing shown are not published.

        ``callback`` runs on the thread that wrote: the sync engine stores pages and
        push results on a worker thread, so a callback that touches a user interface
        must hand the change set over to the interface's thread.  A callback that
        raises is logged; the others are still called, and the write stands.
        """
        self._subscribers = (*self._subscribers, callback)

        def unsubscribe() -> None:
            self._subscribers = tuple(other for other in self._subscribers if other != callback)

        return unsubscribe

    def _publish(self, changes: Changes) -> None:
        if not changes:
            return
        for callback in self._subscribers:
            try:
                callback(changes)
            except Exception:  # a broken listener must not undo nor stop the others
                log.exception("a listener to the cache's changes failed")

    # -- commands ---------------------------------------------------------------------

    def assign(self, ticket_id: int, assignee_id: int | None) -> UUID:
        return self.execute("assign", ticket_id, assignee_id=assignee_id)

    def set_team(self, ticket_id: int, team_id: int, assignee_id: int | None = None) -> UUID:
        """Move the ticket to ``team_id``; its assignee becomes ``assignee_id`` or nobody."""
        return self.execute("set_team", ticket_id, team_id=team_id, assignee_id=assignee_id)

    def set_status(self, ticket_id: int, status: Status) -> UUID:
        return self.execute("set_status", ticket_id, status=status)

    def set_priority(self, ticket_id: int, priority: Priority) -> UUID:
        return self.execute("set_priority", ticket_id, priority=priority)

    def set_severity(self, ticket_id: int, severity: Severity) -> UUID:
        return self.execute("set_severity", ticket_id, severity=severity)

    def add_comment(self, ticket_id: int, body: str, *, public: bool) -> UUID:
        return self.execute("add_comment", ticket_id, body=body, public=public)

    def acknowledge(self, ticket_id: int) -> UUID:
        return self.execute("acknowledge", ticket_id)

    def add_tag(self, ticket_id: int, tag: str) -> UUID:
        return self.execute("add_tag", ticket_id, tag=tag)

    def remove_tag(self, ticket_id: int, tag: str) -> UUID:
        return self.execute("remove_tag", ticket_id, tag=tag)

    def execute(self, kind: str, ticket_id: int, **fields: Any) -> UUID:
        """Queue command ``kind`` against the version the agent sees, and show it at once.

        Raises :class:`UnknownTicketError` for a ticket not cached and
        ``pydantic.ValidationError`` for a bad value (nothing is queued then).
        """
        now = self.clock()
        with self.cache.write() as connection:
            version = connection.execute(
                select(schema.tickets.c.version).where(schema.tickets.c.id == ticket_id)
            ).scalar_one_or_none()
            if version is None:
                raise UnknownTicketError(ticket_id)
            command = make_command(kind, ticket_id, version, mutation_id=self._new_id(), **fields)
            enqueue(connection, command, now)
            apply_optimistically(connection, command, now, self.user_id)
        self._publish(Changes.of_tickets({ticket_id}, outbox=True))
        return command.mutation_id

    def reassign(
        self, ticket_ids: Iterable[int], team_id: int, agent_id: int | None = None
    ) -> Reassignment:
        """Move these tickets to ``agent_id`` of ``team_id`` (None: to the team, nobody
        assigned), one command a ticket (``assign`` within its team, ``set_team``
        across), queued and shown at once, in one transaction.  Tickets already
        there, or no longer cached, are skipped."""
        with self.cache.write() as connection:
            done, changes = reassignment.reassign(
                connection,
                ticket_ids,
                team_id,
                agent_id,
                now=self.clock(),
                new_id=self._new_id,
                author_id=self.user_id,
            )
        self._publish(changes)
        return done

    def undo(self, moves: Iterable[Move]) -> UndoOutcome:
        """Take back these moves of a :meth:`reassign`: the commands still queued are
        withdrawn (never sent), those the server applied answered by their inverse.

        A move whose command is on its way to the server waits for the answer
        (:attr:`UndoOutcome.deferred`: undo those again once the push is over); a
        ticket moved again since, by anyone, is left alone.
        """
        with self.withdrawing() as in_flight, self.cache.write() as connection:
            outcome, changes = reassignment.undo(
                connection,
                list(moves),
                in_flight=in_flight,
                now=self.clock(),
                new_id=self._new_id,
                author_id=self.user_id,
            )
        self._publish(changes)
        return outcome

    # -- pull ---------------------------------------------------------------------------

    def apply_page(self, page: ChangePage) -> PageResult:
        """Store one page of the change feed and its cursor, in one transaction.

        Every entity is validated first; a malformed page raises
        :class:`~sync.pull.MalformedPageError` and leaves the cache and the cursor
        untouched.
        """
        with collector_paused():
            rows = pull.read_page(page)
            # not durable: a page lost to a power cut is lost with its cursor, and read again
            with self.cache.write(durable=False) as connection:
                result = pull.store_page(
                    connection, page, rows, user_id=self.user_id, access=self._access
                )
        self._publish(result.changes)
        return result

    def parked_tickets(self) -> set[int]:
        """Tickets some comments or history entries came for, but not the ticket itself."""
        with self.cache.read() as connection:
            return set(connection.execute(select(schema.parked.c.ticket_id).distinct()).scalars())

    def store_ticket(self, ticket: TicketDetailOut) -> Changes:
        """Keep a ticket the server sent whole (with its comments and history), as the
        feed would have brought it, unless the cache already holds a newer version."""
        with self.cache.write() as connection:
            changes = pull.store_ticket(connection, ticket, user_id=self.user_id)
        self._publish(changes)
        return changes

    def discard_parked(self, ticket_id: int) -> Changes:
        """The server says the ticket is not ours to see: what was kept for it goes
        (nothing shown changes: the ticket was never cached)."""
        p = schema.parked.c
        with self.cache.write() as connection:
            connection.execute(delete(schema.parked).where(p.ticket_id == ticket_id))
        return Changes()

    # -- push ---------------------------------------------------------------------------

    def pending_batch(self, limit: int = MAX_BATCH) -> list[Command]:
        """The oldest commands not yet applied by the server, in order, ready to send."""
        o = schema.outbox.c
        with self.cache.read() as connection:
            payloads = connection.execute(
                select(o.payload).where(o.state == "pending").order_by(o.seq).limit(limit)
            ).scalars()
            return [parse_command(payload) for payload in payloads]

    def take_batch(self, limit: int = MAX_BATCH) -> list[Command]:
        """:meth:`pending_batch`, to send: in flight from now until the :meth:`sending`
        block of its push ends, and so no longer withdrawn (see :meth:`withdrawing`).

        One batch is on its way at a time (the engine pushes them in turn): the batch
        taken replaces the last one, so a push cancelled before its :meth:`sending`
        block leaves nothing marked for longer than until the next push."""
        with self._outbox_lock:
            batch = self.pending_batch(limit)
            self._in_flight = {command.mutation_id for command in batch}
            return batch

    @contextlib.contextmanager
    def sending(self, mutation_ids: Iterable[UUID]) -> Iterator[None]:
        """While a batch from :meth:`take_batch` is on its way, until its answers are
        recorded: the server may be applying it, so it cannot be withdrawn."""
        ids = set(mutation_ids)
        self._in_flight |= ids
        try:
            yield
        finally:
            self._in_flight -= ids

    @contextlib.contextmanager
    def withdrawing(self) -> Iterator[Callable[[UUID], bool]]:
        """Around taking commands out of the outbox: gives the test "is this command on
        its way to the server?", which stays true until the block ends."""
        with self._outbox_lock:
            yield self._in_flight.__contains__

    def record_attempt(self, mutation_ids: Iterable[UUID], error: str | None = None) -> None:
        """Count a delivery attempt (and the error, if it failed) for these commands."""
        ids = [str(mutation_id) for mutation_id in mutation_ids]
        o = schema.outbox.c
        with self.cache.write() as connection:
            counted = connection.execute(
                update(schema.outbox)
                .where(o.mutation_id.in_(ids))
                .values(attempts=o.attempts + 1, last_attempt_at=self.clock(), last_error=error)
            ).rowcount
        self._publish(Changes(outbox=counted > 0))

    def record_results(self, results: Sequence[CommandResult]) -> ResultSummary:
        """Take the server's answers to a batch, in one transaction."""
        summary = ResultSummary()
        now = self.clock()
        o = schema.outbox.c
        # only a command leaving the outbox changes what a rebase shows: an applied one
        # stays (as "applied") until the pull that brings its effect, so the cached
        # ticket already shows it and is left alone
        to_rebase: set[int] = set()
        applied: list[dict[str, Any]] = []
        applied_tickets: set[int] = set()
        with self.cache.write() as connection:
            queued: dict[str, Any] = {}
            for chunk in chunks(str(answer.mutation_id) for answer in results):
                for found in connection.execute(
                    select(schema.outbox).where(o.mutation_id.in_(chunk))
                ):
                    queued[found.mutation_id] = found
            for answer in results:
                row = queued.get(str(answer.mutation_id))
                if row is None:
                    summary.unknown += 1
                    continue
                command = parse_command(row.payload)
                if isinstance(answer, AppliedResult):
                    summary.applied += 1
                    applied.append({"seq_": row.seq, "version_": answer.version})
                    applied_tickets.add(row.ticket_id)
                elif isinstance(answer, ConflictResult):
                    summary.conflicts += 1
                    self._store_server_ticket(connection, answer.ticket)
                    conflict: dict[str, Any] = {
                        "mutation_id": row.mutation_id,
                        "ticket_id": row.ticket_id,
                        "command": row.payload,
                        "server_ticket": answer.ticket.model_dump(mode="json"),
                        "fields": list(answer.fields),
                        "detected_at": now,
                    }
                    connection.execute(delete(schema.outbox).where(o.seq == row.seq))
                    if command.type in NON_CLASHING:
                        again = with_new_base(command, answer.ticket.version, self._new_id())
                        enqueue(connection, again, row.created_at)
                        conflict |= {
                            "resolution": Resolution.AUTOMATIC.value,
                            "resolved_at": now,
                            "replacement_mutation_id": str(again.mutation_id),
                        }
                        summary.auto_reapplied += 1
                    connection.execute(schema.conflicts.insert().values(**conflict))
                    to_rebase.add(row.ticket_id)
                elif isinstance(answer, RejectedResult):
                    summary.rejected += 1
                    connection.execute(
                        schema.rejected_commands.insert().values(
                            mutation_id=row.mutation_id,
                            ticket_id=row.ticket_id,
                            command=row.payload,
                            reason=answer.reason.value,
                            message=answer.message,
                            rejected_at=now,
                        )
                    )
                    connection.execute(delete(schema.outbox).where(o.seq == row.seq))
                    to_rebase.add(row.ticket_id)
            if applied:
                connection.execute(
                    update(schema.outbox)
                    .where(o.seq == bindparam("seq_"))
                    .values(
                        state="applied", applied_version=bindparam("version_"), last_error=None
                    ),
                    applied,
                )
            # an answer to a re-sent command may come after the pull that showed its
            # effect: dropped now, and its optimistic rows with it (a rebase)
            to_rebase.update(drop_acknowledged(connection, to_rebase | applied_tickets))
            rebase(connection, to_rebase, self.user_id)
        summary.changes = Changes(
            tickets=frozenset(to_rebase),
            outbox=summary.unknown < len(results),
            conflicts=summary.conflicts > 0,
            rejections=summary.rejected > 0,
        )
        self._publish(summary.changes)
        return summary

    @staticmethod
    def _store_server_ticket(connection: Connection, ticket: TicketOut) -> None:
        """Keep a ticket the server sent with an answer, unless the cache has a newer one."""
        cached = connection.execute(
            select(schema.tickets.c.version).where(schema.tickets.c.id == ticket.id)
        ).scalar_one_or_none()
        if cached is None or cached < ticket.version:
            upsert(connection, schema.tickets, [ticket_row(ticket)])

    # -- conflicts and rejections ------------------------------------------------------------

    def conflicts(self, *, unresolved_only: bool = True) -> list[ConflictView]:
        c = schema.conflicts.c
        query = select(schema.conflicts).order_by(c.id)
        if unresolved_only:
            query = query.where(c.resolution.is_(None))
        with self.cache.read() as connection:
            rows = connection.execute(query).all()
        return [
            ConflictView(
                id=row.id,
                ticket_id=row.ticket_id,
                command=parse_command(row.command),
                server_ticket=TicketOut.model_validate(row.server_ticket),
                fields=tuple(row.fields),
                detected_at=row.detected_at,
                resolution=None if row.resolution is None else Resolution(row.resolution),
                replacement_mutation_id=(
                    None
                    if row.replacement_mutation_id is None
                    else UUID(row.replacement_mutation_id)
                ),
            )
            for row in rows
        ]

    def resolve_conflict(self, conflict_id: int, choice: Resolution) -> UUID | None:
        """Apply the user's choice; the new command's mutation id when re-applied.

        Re-applying sends the same change again against the newest version the
        cache knows (the conflict's server ticket, or newer).
        """
        if choice is Resolution.AUTOMATIC:
            raise ValueError("automatic re-application is not a user's choice")
        now = self.clock()
        c = schema.conflicts.c
        with self.cache.write() as connection:
            row = connection.execute(select(schema.conflicts).where(c.id == conflict_id)).first()
            if row is None:
                raise LookupError(f"no conflict {conflict_id}")
            if row.resolution is not None:
                raise ValueError(f"conflict {conflict_id} is already resolved ({row.resolution})")
            replacement: UUID | None = None
            if choice is Resolution.REAPPLY:
                cached = connection.execute(
                    select(schema.tickets.c.version).where(schema.tickets.c.id == row.ticket_id)
                ).scalar_one_or_none()
                base = max(cached or 0, int(row.server_ticket["version"]))
                again = with_new_base(parse_command(row.command), base, self._new_id())
                enqueue(connection, again, now)
                apply_optimistically(connection, again, now, self.user_id)
                replacement = again.mutation_id
            connection.execute(
                update(schema.conflicts)
                .where(c.id == conflict_id)
                .values(
                    resolution=choice.value,
                    resolved_at=now,
                    replacement_mutation_id=None if replacement is None else str(replacement),
                )
            )
        reapplied = replacement is not None
        self._publish(
            Changes(
                tickets=frozenset({row.ticket_id} if reapplied else ()),
                outbox=reapplied,
                conflicts=True,
            )
        )
        return replacement

    def rejected(self, *, include_dismissed: bool = False) -> list[RejectedView]:
        r = schema.rejected_commands.c
        query = select(schema.rejected_commands).order_by(r.id)
        if not include_dismissed:
            query = query.where(r.dismissed_at.is_(None))
        with self.cache.read() as connection:
            rows = connection.execute(query).all()
        return [
            RejectedView(
                row.id,
                row.ticket_id,
                parse_command(row.command),
                RejectReason(row.reason),
                row.message,
                row.rejected_at,
            )
            for row in rows
        ]

    def dismiss_rejected(self, rejected_id: int) -> None:
        """The user has read why a change was refused."""
        r = schema.rejected_commands.c
        with self.cache.write() as connection:
            dismissed = connection.execute(
                update(schema.rejected_commands)
                .where(r.id == rejected_id, r.dismissed_at.is_(None))
                .values(dismissed_at=self.clock())
            ).rowcount
        self._publish(Changes(rejections=dismissed > 0))

    # -- requests waiting for the server (sync.deferred) ---------------------------------------
    # They count with the outbox: the user sees them among the pending changes, and
    # those the server refused among the refused ones.

    def defer(self, call: DeferredCall) -> DeferredCall:
        """Keep ``call`` to send once the server can be reached, after the commands
        queued before it; the call as kept."""
        with self.cache.write() as connection:
            kept = deferred.keep(connection, call, self.clock())
        self._publish(Changes(outbox=True))
        return kept

    def deferred_calls(self, *, refused: bool = False) -> list[DeferredCall]:
        """The calls waiting to be sent, in order (with ``refused``: those the server
        refused and the user has not dismissed)."""
        with self.cache.read() as connection:
            return deferred.read(connection, refused=refused)

    def call_sent(self, call: DeferredCall) -> None:
        """The server has done ``call``: it leaves the queue."""
        with self.cache.write() as connection:
            done = deferred.sent(connection, call)
        self._publish(Changes(outbox=done))

    def call_attempted(self, call: DeferredCall, error: str | None) -> None:
        """A try at ``call`` got no answer (``error`` says why)."""
        with self.cache.write() as connection:
            counted = deferred.attempted(connection, call, error, self.clock())
        self._publish(Changes(outbox=counted))

    def call_refused(self, call: DeferredCall, reason: str) -> None:
        """The server refused ``call`` (``reason``, in the user's language)."""
        with self.cache.write() as connection:
            refused = deferred.refuse(connection, call, reason, self.clock())
        self._publish(Changes(outbox=refused, rejections=refused))

    def dismiss_refused_call(self, call: DeferredCall) -> None:
        """The user has read why ``call`` was refused."""
        with self.cache.write() as connection:
            dismissed = deferred.dismiss(connection, call)
        self._publish(Changes(rejections=dismissed))

    def refusal_count(self) -> int:
        """Refused commands and calls the user has not dismissed."""
        r = schema.rejected_commands.c
        with self.cache.read() as connection:
            commands = connection.execute(
                select(func.count()).where(r.dismissed_at.is_(None))
            ).scalar_one()
            return int(commands) + deferred.count(connection, refused=True)

    # -- what the status bar shows ------------------------------------------------------------

    def queued(self) -> list[Command]:
        """Every command in the outbox (sent or not), oldest first."""
        with self.cache.read() as connection:
            payloads = connection.execute(
                select(schema.outbox.c.payload).order_by(schema.outbox.c.seq)
            ).scalars()
            return [parse_command(payload) for payload in payloads]

    def pending_count(self) -> int:
        """Commands not yet applied by the server, and calls waiting to be sent."""
        with self.cache.read() as connection:
            commands = connection.execute(
                select(func.count()).where(schema.outbox.c.state == "pending")
            ).scalar_one()
            return int(commands) + deferred.count(connection)

    def conflict_count(self) -> int:
        with self.cache.read() as connection:
            return int(
                connection.execute(
                    select(func.count()).where(schema.conflicts.c.resolution.is_(None))
                ).scalar_one()
            )

    def pending_ticket_ids(self) -> set[int]:
        """Tickets whose displayed state includes work the server has not confirmed yet
        (their SLA is provisional)."""
        with self.cache.read() as connection:
            return set(connection.execute(select(schema.outbox.c.ticket_id).distinct()).scalars())

    def has_pending(self, ticket_id: int) -> bool:
        with self.cache.read() as connection:
            return (
                connection.execute(
                    select(schema.outbox.c.seq).where(schema.outbox.c.ticket_id == ticket_id)
                ).first()
                is not None
            )
