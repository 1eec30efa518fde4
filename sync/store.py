"""The store the console and the sync loop talk to: commands in, pages in, results in.

- The console changes tickets only through named commands (:meth:`Store.assign`,
  :meth:`Store.set_status`, …): each is applied to the cache AND appended to the
  outbox in one transaction, so the UI shows it at once and a crash cannot
  separate the two.
- A pull hands every page of the change feed to :meth:`Store.apply_page`: one
  transaction upserts the page (bulk upserts), moves the cursor, drops the
  commands the server state now includes, and rebases the touched tickets.
- A push takes :meth:`Store.take_batch`, sends it, and hands the answers to
  :meth:`Store.record_results`: applied, conflict (kept with both sides for the
  user, or re-applied automatically when nothing can clash) or rejected (undone,
  with the reason kept).  Nothing is dropped silently.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, cast
from uuid import UUID, uuid4

from pydantic import ValidationError
from sqlalchemy import Connection, bindparam, delete, func, select, update

from i18n import N_, gettext
from protocol import (
    MAX_BATCH,
    AnnouncementOut,
    AppliedResult,
    ArticleOut,
    ChangePage,
    Command,
    CommandResult,
    CommentOut,
    ConflictResult,
    HistoryEntryOut,
    OrganisationOut,
    Priority,
    RejectedResult,
    RejectReason,
    Role,
    Severity,
    Status,
    TeamOut,
    TicketDetailOut,
    TicketOut,
    UserOut,
)
from sync import schema
from sync.cache import (
    Cache,
    announcement_row,
    article_row,
    collector_paused,
    comment_row,
    history_row,
    organisation_row,
    team_row,
    ticket_row,
    upsert,
    upsert_tickets,
    user_row,
)
from sync.outbox import (
    NON_CLASHING,
    apply_optimistically,
    chunks,
    enqueue,
    make_command,
    parse_command,
    rebase,
    with_new_base,
)

__all__ = [
    "ConflictView",
    "MalformedPageError",
    "PageResult",
    "RejectedView",
    "Resolution",
    "ResultSummary",
    "Store",
    "UnknownTicketError",
]

_MALFORMED = N_("The server sent data that could not be understood; nothing was changed.")
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


class MalformedPageError(ValueError):
    """A page of the change feed failed validation: it was rejected whole."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    @property
    def message(self) -> str:
        return gettext(_MALFORMED)


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
class PageResult:
    """What one page of the feed did to the cache."""

    upserted: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    #: comments or history entries of a ticket not held (yet): kept aside until it comes
    parked: int = 0
    #: queued commands the server state now includes, dropped from the outbox
    acknowledged: int = 0
    rebased_tickets: int = 0
    cursor: str = ""
    #: tickets dropped because the user no longer sees their team
    out_of_sight: int = 0
    #: the user now sees a team they did not: the feed must be read again from the start
    reread: bool = False


@dataclass(slots=True)
class ResultSummary:
    applied: int = 0
    conflicts: int = 0
    auto_reapplied: int = 0
    rejected: int = 0
    #: answers to mutation ids no longer queued (a duplicate delivery): ignored
    unknown: int = 0


@dataclass(slots=True)
class _PageRows:
    """A page's entities, validated, by kind (raw server rows kept beside the models)."""

    tickets: list[tuple[TicketOut, dict[str, Any]]] = field(default_factory=list)
    comments: list[CommentOut] = field(default_factory=list)
    history: list[HistoryEntryOut] = field(default_factory=list)
    users: list[tuple[UserOut, dict[str, Any]]] = field(default_factory=list)
    teams: list[tuple[TeamOut, dict[str, Any]]] = field(default_factory=list)
    organisations: list[tuple[OrganisationOut, dict[str, Any]]] = field(default_factory=list)
    announcements: list[dict[str, Any]] = field(default_factory=list)
    articles: list[dict[str, Any]] = field(default_factory=list)
    deletes: dict[str, list[int]] = field(default_factory=dict)

    def add(self, entity: str, entity_id: int, data: dict[str, Any]) -> None:
        found: int
        if entity == "ticket":
            ticket = TicketOut.model_validate(data)
            self.tickets.append((ticket, data))
            found = ticket.id
        elif entity == "comment":
            comment = CommentOut.model_validate(data)
            self.comments.append(comment)
            found = comment.id
        elif entity == "history":
            entry = HistoryEntryOut.model_validate(data)
            self.history.append(entry)
            found = entry.id
        elif entity == "user":
            user = UserOut.model_validate(data)
            self.users.append((user, data))
            found = user.id
        elif entity == "team":
            team = TeamOut.model_validate(data)
            self.teams.append((team, data))
            found = team.id
        elif entity == "organisation":
            organisation = OrganisationOut.model_validate(data)
            self.organisations.append((organisation, data))
            found = organisation.id
        elif entity == "announcement":
            found = AnnouncementOut.model_validate(data).id
            self.announcements.append(data)
        elif entity == "article":
            found = ArticleOut.model_validate(data).id
            self.articles.append(data)
        else:
            raise ValueError(f"unknown entity {entity!r}")
        if found != entity_id:
            raise ValueError(f"the {entity} change {entity_id} carries the id {found}")


def _teams_seen(role: str, team_ids: Iterable[int]) -> set[int] | None:
    """The teams whose tickets a user sees (None: every team, an admin)."""
    return None if role == Role.ADMIN else set(team_ids)


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
        #: the user's own record came with the feed since its end was last reached
        self._access_changed = False
        #: mutation ids of the batch on its way to the server (see :meth:`sending`)
        self._in_flight: set[UUID] = set()
        #: held while a batch is read and marked, or while commands are withdrawn
        self._outbox_lock = threading.Lock()

    @property
    def clock(self) -> Callable[[], dt.datetime]:
        return self.cache.clock

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
        return command.mutation_id

    # -- pull ---------------------------------------------------------------------------

    def apply_page(self, page: ChangePage) -> PageResult:
        """Store one page of the change feed and its cursor, in one transaction.

        Every entity is validated first; a malformed page raises
        :class:`MalformedPageError` and leaves the cache and the cursor untouched.
        """
        with collector_paused():
            return self._apply_page(page)

    def _apply_page(self, page: ChangePage) -> PageResult:
        latest: dict[tuple[str, int], dict[str, Any] | None] = {}
        for change in page.changes:  # the feed is in commit order: the last change wins
            latest.pop((change.entity, change.id), None)
            latest[(change.entity, change.id)] = change.data if change.op == "upsert" else None
        rows = _PageRows()
        try:
            for (entity, entity_id), data in latest.items():
                if data is None:
                    rows.deletes.setdefault(entity, []).append(entity_id)
                else:
                    rows.add(entity, entity_id, data)
        except (ValidationError, ValueError) as error:
            raise MalformedPageError(str(error)) from error

        result = PageResult(cursor=page.next_cursor)
        touched = set(rows.deletes.get("ticket", []))
        touched.update(ticket.id for ticket, _raw in rows.tickets)
        touched.update(comment.ticket_id for comment in rows.comments)
        touched.update(entry.ticket_id for entry in rows.history)

        # not durable: a page lost to a power cut is lost with its cursor, and read again
        with self.cache.write(durable=False) as connection:
            with_work = self._tickets_with_work(connection, touched)
            me = next((m for m, _raw in rows.users if m.id == self.user_id), None)
            before = None if me is None else self._cached_me(connection)
            upsert_tickets(connection, [ticket_row(m, raw) for m, raw in rows.tickets])
            upsert(connection, schema.users, [user_row(m, raw) for m, raw in rows.users])
            upsert(connection, schema.teams, [team_row(m, raw) for m, raw in rows.teams])
            upsert(
                connection,
                schema.organisations,
                [organisation_row(m, raw) for m, raw in rows.organisations],
            )
            upsert(
                connection, schema.announcements, [announcement_row(a) for a in rows.announcements]
            )
            upsert(connection, schema.articles, [article_row(a) for a in rows.articles])
            stored = {ticket.id for ticket, _raw in rows.tickets}  # no need to look them up
            parents = {m.ticket_id for m in rows.comments} | {m.ticket_id for m in rows.history}
            cached = stored | self._existing_tickets(connection, parents - stored)
            # rows kept aside by an earlier page go first: this page's are newer
            early_comments, early_history = self._unpark(connection, stored)
            comments = [comment_row(m) for m in (*early_comments, *rows.comments)]
            history = [history_row(m) for m in (*early_history, *rows.history)]
            kept_comments = [row for row in comments if row["ticket_id"] in cached]
            kept_history = [row for row in history if row["ticket_id"] in cached]
            parked = [
                {
                    "entity": entity,
                    "server_id": m.id,
                    "ticket_id": m.ticket_id,
                    "data": m.model_dump(mode="json"),
                }
                for entity, models in (
                    ("comment", rows.comments),
                    ("history", rows.history),
                )
                for m in cast(list[CommentOut | HistoryEntryOut], models)
                if m.ticket_id not in cached
            ]
            upsert(connection, schema.parked, parked, key=("entity", "server_id"))
            result.parked = len(parked)
            upsert(connection, schema.comments, kept_comments, key="server_id")
            upsert(connection, schema.ticket_history, kept_history, key="server_id")
            for entity, table, key in (
                ("ticket", schema.tickets, "id"),
                ("comment", schema.comments, "server_id"),
                ("history", schema.ticket_history, "server_id"),
                ("user", schema.users, "id"),
                ("team", schema.teams, "id"),
                ("organisation", schema.organisations, "id"),
                ("announcement", schema.announcements, "id"),
                ("article", schema.articles, "id"),
            ):
                gone = rows.deletes.get(entity, [])
                if gone:
                    connection.execute(delete(table).where(table.c[key].in_(gone)))
                    result.deleted[entity] = len(gone)
                    if entity == "ticket":  # what was kept for it: it comes back whole
                        p = schema.parked.c
                        connection.execute(delete(schema.parked).where(p.ticket_id.in_(gone)))
            result.upserted = {
                "ticket": len(rows.tickets),
                "comment": len(kept_comments),
                "history": len(kept_history),
                "user": len(rows.users),
                "team": len(rows.teams),
                "organisation": len(rows.organisations),
                "announcement": len(rows.announcements),
                "article": len(rows.articles),
            }
            if me is not None:
                self._access_changed = True
                seen_before = None if before is None else _teams_seen(*before)
                if seen_before is not None:  # a team gained: its past is not in our feed
                    seen = _teams_seen(me.role, me.team_ids)
                    result.reread = seen is None or bool(seen - seen_before)
            if self._access_changed and not page.has_more:
                # at the end of the feed only: the cached record of the user is the latest
                # then (a page in the middle may hold an old one, and dropping by it would
                # lose tickets a later record shows again)
                self._access_changed = False
                # (this page's record of the user is the one just cached: not read back)
                user = (me.role, me.team_ids) if me is not None else self._cached_me(connection)
                if user is not None:
                    gone_ids = self._drop_out_of_sight(connection, _teams_seen(*user))
                    result.out_of_sight = len(gone_ids)
                    with_work |= self._tickets_with_work(connection, gone_ids)
            result.acknowledged = len(self._drop_acknowledged(connection, with_work))
            rebase(connection, with_work, self.user_id)
            result.rebased_tickets = len(with_work)
            connection.execute(update(schema.sync_state).values(cursor=page.next_cursor))
        return result

    @staticmethod
    def _unpark(
        connection: Connection, ticket_ids: set[int]
    ) -> tuple[list[CommentOut], list[HistoryEntryOut]]:
        """Take out the parked rows of ``ticket_ids`` (tickets that have just come)."""
        p = schema.parked.c
        comments: list[CommentOut] = []
        history: list[HistoryEntryOut] = []
        if not ticket_ids or connection.execute(select(p.ticket_id).limit(1)).first() is None:
            return comments, history  # nearly always: nothing is parked
        for chunk in chunks(ticket_ids):
            for entity, data in connection.execute(
                select(p.entity, p.data).where(p.ticket_id.in_(chunk))
            ):
                if entity == "comment":
                    comments.append(CommentOut.model_validate(data))
                else:
                    history.append(HistoryEntryOut.model_validate(data))
            connection.execute(delete(schema.parked).where(p.ticket_id.in_(chunk)))
        return comments, history

    def parked_tickets(self) -> set[int]:
        """Tickets some comments or history entries came for, but not the ticket itself."""
        with self.cache.read() as connection:
            return set(connection.execute(select(schema.parked.c.ticket_id).distinct()).scalars())

    def store_ticket(self, ticket: TicketDetailOut) -> None:
        """Keep a ticket the server sent whole (with its comments and history), as the
        feed would have brought it, unless the cache already holds a newer version."""
        raw = ticket.model_dump(mode="json", exclude={"comments", "history"})
        with self.cache.write() as connection:
            cached = connection.execute(
                select(schema.tickets.c.version).where(schema.tickets.c.id == ticket.id)
            ).scalar_one_or_none()
            if cached is None or cached <= ticket.version:
                upsert_tickets(connection, [ticket_row(ticket, raw)])
            self._unpark(connection, {ticket.id})
            upsert(
                connection, schema.comments, [comment_row(m) for m in ticket.comments], "server_id"
            )
            upsert(
                connection,
                schema.ticket_history,
                [history_row(m) for m in ticket.history],
                "server_id",
            )
            with_work = self._tickets_with_work(connection, {ticket.id})
            self._drop_acknowledged(connection, with_work)
            rebase(connection, with_work, self.user_id)

    def discard_parked(self, ticket_id: int) -> None:
        """The server says the ticket is not ours to see: what was kept for it goes."""
        p = schema.parked.c
        with self.cache.write() as connection:
            connection.execute(delete(schema.parked).where(p.ticket_id == ticket_id))

    def _cached_me(self, connection: Connection) -> tuple[str, list[int]] | None:
        """The role and teams of the cached record of the signed-in user, if any."""
        u = schema.users.c
        row = connection.execute(select(u.role, u.team_ids).where(u.id == self.user_id)).first()
        return None if row is None else (row.role, row.team_ids)

    @staticmethod
    def _drop_out_of_sight(connection: Connection, seen: set[int] | None) -> set[int]:
        """Drop the tickets of teams the user no longer sees (``None``: sees every team).

        The server stops sending their changes when the user leaves a team (or a
        ticket leaves it), so without this they would stay in the cache, stale,
        forever.  The team is the server's (a move still queued here is no reason).
        """
        if seen is None:
            return set()
        t = schema.tickets.c
        server_team = func.json_extract(t.server_row, "$.team_id")
        gone = set(
            connection.execute(select(t.id).where(server_team.not_in(sorted(seen)))).scalars()
        )
        for chunk in chunks(gone):
            connection.execute(delete(schema.tickets).where(t.id.in_(chunk)))
        return gone

    @staticmethod
    def _tickets_with_work(connection: Connection, ticket_ids: set[int]) -> set[int]:
        """Those of ``ticket_ids`` with queued commands (and so with local rows to rebuild)."""
        if not ticket_ids:
            return set()
        queued = set(connection.execute(select(schema.outbox.c.ticket_id).distinct()).scalars())
        return queued & ticket_ids

    @staticmethod
    def _existing_tickets(connection: Connection, ticket_ids: set[int]) -> set[int]:
        found: set[int] = set()
        for chunk in chunks(ticket_ids):
            found.update(
                connection.execute(
                    select(schema.tickets.c.id).where(schema.tickets.c.id.in_(chunk))
                ).scalars()
            )
        return found

    @staticmethod
    def _drop_acknowledged(connection: Connection, ticket_ids: Iterable[int]) -> list[int]:
        """Drop applied commands whose effect the cached server state now shows; the
        ticket of each command dropped.

        The effect is shown once the cache holds the server's history entry of the
        command's version (every version has one), not merely the ticket at that
        version: a ticket that came alone (with a conflict answer) lacks the comments
        and entries of its versions, and the command's own rows must stay on screen
        until the feed brings them (a page brings a version whole).
        """
        o, t, h = schema.outbox.c, schema.tickets.c, schema.ticket_history.c
        cached = select(t.id).where(t.id == o.ticket_id).correlate(schema.outbox).exists()
        shown = (
            select(h.local_id)
            .where(
                h.ticket_id == o.ticket_id,
                h.server_id.is_not(None),
                h.version >= o.applied_version,
            )
            .correlate(schema.outbox)
            .exists()
        )
        dropped: list[int] = []
        for chunk in chunks(ticket_ids):  # a chunk at a time, not a ticket at a time
            acknowledged = connection.execute(
                select(o.seq, o.ticket_id).where(
                    o.ticket_id.in_(chunk),
                    o.state == "applied",
                    # a ticket no longer visible (not cached): the server has them all
                    ~cached | shown,
                )
            ).all()
            if acknowledged:
                seqs = [seq for seq, _ticket_id in acknowledged]
                connection.execute(delete(schema.outbox).where(o.seq.in_(seqs)))
                dropped.extend(ticket_id for _seq, ticket_id in acknowledged)
        return dropped

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
            connection.execute(
                update(schema.outbox)
                .where(o.mutation_id.in_(ids))
                .values(attempts=o.attempts + 1, last_attempt_at=self.clock(), last_error=error)
            )

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
            to_rebase.update(self._drop_acknowledged(connection, to_rebase | applied_tickets))
            rebase(connection, to_rebase, self.user_id)
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
            connection.execute(
                update(schema.rejected_commands)
                .where(r.id == rejected_id, r.dismissed_at.is_(None))
                .values(dismissed_at=self.clock())
            )

    # -- what the status bar shows ------------------------------------------------------------

    def queued(self) -> list[Command]:
        """Every command in the outbox (sent or not), oldest first."""
        with self.cache.read() as connection:
            payloads = connection.execute(
                select(schema.outbox.c.payload).order_by(schema.outbox.c.seq)
            ).scalars()
            return [parse_command(payload) for payload in payloads]

    def pending_count(self) -> int:
        """Commands not yet applied by the server."""
        with self.cache.read() as connection:
            return int(
                connection.execute(
                    select(func.count()).where(schema.outbox.c.state == "pending")
                ).scalar_one()
            )

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
