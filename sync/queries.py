"""The reads of the local cache the console shows, returning plain Python values.

A :class:`Snapshot` is one consistent view of the cache (a read transaction:
in WAL mode it never blocks the writer); open one with
:meth:`sync.cache.Cache.snapshot` for reads that must agree with each other (a
queue's tickets and the marks to ask for changes from, say).  Its results are
dataclasses, named tuples, lists, sets and dicts: no Qt and no SQLAlchemy row
leaves this module, so the console never sees how the cache is stored.
:class:`~sync.cache.Cache` keeps thin methods for the reads made alone
(``cache.ticket(7)``), each a snapshot of one.  The outbox, conflicts and
refusals are read through :class:`sync.store.Store`, which owns them.

The bulk reads (:meth:`Snapshot.ticket_columns`, :meth:`Snapshot.sla_history`,
:meth:`Snapshot.open_tickets`) go through the SQLite driver itself and return
columns or tuples: the console reads 100,000 tickets at start, and a result
row object a ticket would cost more than SQLite's own work.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple, TypeVar

from pydantic import BaseModel
from sqlalchemy import Connection, Row, and_, func, select, text

from protocol import OrganisationOut, SlaConfigOut, TeamOut, TicketOut, UserOut
from sla.events import Status
from sla.history import SLA_FIELDS, HistoryRow
from sync import schema

__all__ = [
    "TICKET_COLUMNS",
    "CommentView",
    "Directory",
    "HistoryView",
    "OpenTicketRow",
    "Snapshot",
    "TicketColumns",
    "TicketView",
    "read_sla_history",
    "search_query",
]

_M = TypeVar("_M", bound=BaseModel)

#: Ticket ids per ``IN (…)`` query.
_CHUNK: Final = 500
#: Statuses of tickets no longer open.
_DONE: Final = tuple(status.value for status in Status if status.is_done)


# -- what reads return ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TicketView:
    """A ticket as the agent sees it: server state with their pending work re-applied.

    Not :class:`protocol.TicketOut`, which is what the server last said: this
    view includes the agent's queued commands (hence :attr:`pending`), and
    carries no SLA, which the console derives from the history as of now rather
    than reading the server's figures of an earlier instant.  Codes stay plain
    text, as cached.
    """

    id: int
    tracking_number: str
    subject: str
    description: str
    requester_name: str
    requester_email: str
    organisation_id: int
    priority: str
    severity: str
    status: str
    team_id: int
    assignee_id: int | None
    tags: tuple[str, ...]
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    #: commands of this ticket not yet seen in a pull: its SLA is provisional
    pending: bool


@dataclass(frozen=True, slots=True)
class CommentView:
    server_id: int | None  # None while the comment waits in the outbox
    ticket_id: int
    author_id: int | None
    body: str
    public: bool
    created_at: dt.datetime
    mutation_id: str | None

    @property
    def pending(self) -> bool:
        return self.server_id is None


@dataclass(frozen=True, slots=True)
class HistoryView:
    server_id: int | None
    ticket_id: int
    version: int | None
    actor_id: int | None
    at: dt.datetime
    field: str
    before: str | None
    after: str | None


#: The ticket fields a queue shows, in the order of :class:`TicketColumns`.
TICKET_COLUMNS: Final = (
    "id",
    "tracking_number",
    "subject",
    "organisation_id",
    "priority",
    "severity",
    "status",
    "team_id",
    "assignee_id",
    "created_at",
    "updated_at",
    "version",
)
_TICKET_COLUMNS_SQL: Final = ", ".join(TICKET_COLUMNS)


@dataclass(frozen=True, slots=True)
class TicketColumns:
    """Some tickets' queue fields, one list a field and one entry a ticket, by ticket id.

    Codes (priority, severity, status) are interned: 100,000 tickets share a few
    strings.  Instants are the cache's ISO 8601 text in UTC, which sorts as the
    instants do; parse one (:meth:`datetime.datetime.fromisoformat`) when it is
    needed rather than all of them at start.
    """

    ids: list[int]
    tracking_numbers: list[str]
    subjects: list[str]
    organisation_ids: list[int]
    priorities: list[str]
    severities: list[str]
    statuses: list[str]
    team_ids: list[int]
    assignee_ids: list[int | None]
    created_at: list[str]
    updated_at: list[str]
    versions: list[int]

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[Any, ...]]) -> TicketColumns:
        """The columns of rows read in :data:`TICKET_COLUMNS` order."""
        if not rows:
            return cls([], [], [], [], [], [], [], [], [], [], [], [])
        (
            ids,
            tracking,
            subject,
            organisation,
            priority,
            severity,
            status,
            team,
            assignee,
            created,
            updated,
            version,
        ) = zip(*rows, strict=True)
        intern = sys.intern
        return cls(
            list(ids),
            list(tracking),
            list(subject),
            list(organisation),
            [intern(code) for code in priority],
            [intern(code) for code in severity],
            [intern(code) for code in status],
            list(team),
            list(assignee),
            list(created),
            list(updated),
            list(version),
        )


@dataclass(frozen=True, slots=True)
class Directory:
    """The names a queue shows beside ticket fields."""

    #: organisation id -> (name, plan), both interned
    organisations: dict[int, tuple[str, str]]
    #: user id -> display name
    user_names: dict[int, str]
    #: the teams of the user asked about; None when the cache holds no record of them
    my_team_ids: set[int] | None


class OpenTicketRow(NamedTuple):
    """What the SLA and the workload need of an open ticket (not resolved or closed)."""

    id: int
    team_id: int
    assignee_id: int | None
    status: str
    version: int
    created_at: dt.datetime
    priority: str
    severity: str
    plan: str  # "" when the ticket's organisation is not cached


# -- full-text search -------------------------------------------------------------------

_QUOTE_TERMS = re.compile(r"\S+")


def search_query(user_text: str, *, prefix: bool = True) -> str | None:
    """An FTS5 query for what a person typed: every word must match, quoted (no syntax).

    With ``prefix`` the last word matches as a prefix while it is being typed
    (not once the user typed a space after it).  None when nothing is searchable.
    """
    # control and format characters (NUL ends an FTS5 string early) separate words
    cleaned = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in user_text)
    words = [w for w in _QUOTE_TERMS.findall(cleaned) if any(c.isalnum() for c in w)]
    if not words:
        return None
    quoted = ['"' + word.replace('"', '""') + '"' for word in words]
    if prefix and not cleaned[-1:].isspace():
        quoted[-1] += "*"
    return " ".join(quoted)


# -- bulk reads through the driver ------------------------------------------------------

_SLA_FIELDS_SQL: Final = ", ".join(f"'{name}'" for name in SLA_FIELDS)


def read_sla_history(
    driver: sqlite3.Connection, ticket_ids: Sequence[int]
) -> dict[int, list[HistoryRow]]:
    """The SLA entries of these tickets' cached histories (a list for each id, maybe
    empty), in history order, read on ``driver`` (in a transaction already begun).

    Plain tuples through the SQLite driver: the queue reads the histories of up
    to 100,000 tickets this way.
    """
    found: dict[int, list[HistoryRow]] = {ticket_id: [] for ticket_id in ticket_ids}
    parse = dt.datetime.fromisoformat  # the cache's text is UTC: aware as read
    for start in range(0, len(ticket_ids), _CHUNK):
        chunk = list(ticket_ids[start : start + _CHUNK])
        marks = ", ".join("?" * len(chunk))
        for ticket_id, at, name, after in driver.execute(
            "SELECT ticket_id, at, field, after FROM ticket_history "
            f"WHERE ticket_id IN ({marks}) AND field IN ({_SLA_FIELDS_SQL}) "
            "ORDER BY ticket_id, at, server_id IS NULL, server_id, local_id",
            chunk,
        ).fetchall():
            found[ticket_id].append(HistoryRow(parse(at), name, after))
    return found


def _ticket_view(row: Row[Any]) -> TicketView:
    t = row._mapping
    return TicketView(
        id=t["id"],
        tracking_number=t["tracking_number"],
        subject=t["subject"],
        description=t["description"],
        requester_name=t["requester_name"],
        requester_email=t["requester_email"],
        organisation_id=t["organisation_id"],
        priority=t["priority"],
        severity=t["severity"],
        status=t["status"],
        team_id=t["team_id"],
        assignee_id=t["assignee_id"],
        tags=tuple(t["tags"]),
        version=t["version"],
        created_at=t["created_at"],
        updated_at=t["updated_at"],
        pending=bool(t["pending"]),
    )


def _pending_flag() -> Any:
    return (
        select(schema.outbox.c.seq)
        .where(schema.outbox.c.ticket_id == schema.tickets.c.id)
        .exists()
        .label("pending")
    )


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    """``ids`` without repeats, sorted, in lists short enough for one ``IN (…)``."""
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]


# -- the snapshot -----------------------------------------------------------------------


class Snapshot:
    """One consistent view of the cache: every read made through it sees the same state.

    Made by :meth:`sync.cache.Cache.snapshot`; valid inside its ``with`` block only.
    """

    __slots__ = ("_connection", "_driver")

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        driver = connection.connection.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        #: the SQLite connection under SQLAlchemy's (inside its transaction), for
        #: bulk reads of plain tuples
        self._driver = driver

    # -- tickets ----------------------------------------------------------------------

    def ticket(self, ticket_id: int) -> TicketView | None:
        row = self._connection.execute(
            select(schema.tickets, _pending_flag()).where(schema.tickets.c.id == ticket_id)
        ).first()
        return None if row is None else _ticket_view(row)

    def tickets(self, ticket_ids: Iterable[int] | None = None) -> list[TicketView]:
        """Tickets (all of them, or those of ``ticket_ids``) in the order given, else by id."""
        query = select(schema.tickets, _pending_flag())
        if ticket_ids is None:
            rows = self._connection.execute(query.order_by(schema.tickets.c.id)).all()
            return [_ticket_view(row) for row in rows]
        wanted = list(ticket_ids)
        found: dict[int, TicketView] = {}
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            for row in self._connection.execute(query.where(schema.tickets.c.id.in_(chunk))):
                view = _ticket_view(row)
                found[view.id] = view
        return [found[i] for i in wanted if i in found]

    def server_ticket(self, ticket_id: int) -> TicketOut | None:
        """The ticket exactly as the server last sent it (no pending work)."""
        raw = self._connection.execute(
            select(schema.tickets.c.server_row).where(schema.tickets.c.id == ticket_id)
        ).scalar_one_or_none()
        return None if raw is None else TicketOut.model_validate(raw)

    def ticket_count(self) -> int:
        return int(self._driver.execute("SELECT count(*) FROM tickets").fetchone()[0])

    def ticket_columns(self, ticket_ids: Iterable[int] | None = None) -> TicketColumns:
        """The queue's fields of every ticket, or of those of ``ticket_ids`` still cached."""
        if ticket_ids is None:
            rows = self._driver.execute(
                f"SELECT {_TICKET_COLUMNS_SQL} FROM tickets ORDER BY id"
            ).fetchall()
            return TicketColumns.from_rows(rows)
        rows = []
        for chunk in _chunks(ticket_ids):
            marks = ", ".join("?" * len(chunk))
            rows.extend(
                self._driver.execute(
                    f"SELECT {_TICKET_COLUMNS_SQL} FROM tickets WHERE id IN ({marks}) ORDER BY id",
                    chunk,
                ).fetchall()
            )
        return TicketColumns.from_rows(rows)

    def pending_ticket_ids(self) -> set[int]:
        """The tickets with commands in the outbox (their SLA is provisional)."""
        return {
            ticket_id
            for (ticket_id,) in self._driver.execute(
                "SELECT DISTINCT ticket_id FROM outbox WHERE ticket_id IS NOT NULL"
            )
        }

    def open_ticket_ids(self, team_ids: Iterable[int]) -> list[int]:
        """The ids of the open tickets (not resolved or closed) of these teams, in order."""
        t = schema.tickets.c
        query = (
            select(t.id).where(t.team_id.in_(list(team_ids)), t.status.not_in(_DONE)).order_by(t.id)
        )
        return list(self._connection.execute(query).scalars())

    def open_tickets(
        self, *, team_ids: Iterable[int] | None = None, ticket_ids: Iterable[int] | None = None
    ) -> list[OpenTicketRow]:
        """The open tickets of ``team_ids`` (None: of every team) or, when given, of
        ``ticket_ids``, by id."""
        done = ", ".join("?" * len(_DONE))
        query = (
            "SELECT t.id, t.team_id, t.assignee_id, t.status, t.version, t.created_at,"
            " t.priority, t.severity, coalesce(o.plan, '')"
            " FROM tickets AS t LEFT JOIN organisations AS o ON o.id = t.organisation_id"
            f" WHERE t.status NOT IN ({done})"
        )
        rows: list[tuple[Any, ...]] = []
        if ticket_ids is not None:
            for chunk in _chunks(ticket_ids):
                marks = ", ".join("?" * len(chunk))
                rows.extend(
                    self._driver.execute(
                        f"{query} AND t.id IN ({marks})", (*_DONE, *chunk)
                    ).fetchall()
                )
        elif team_ids is not None:
            teams = list(team_ids)
            marks = ", ".join("?" * len(teams))
            rows = self._driver.execute(
                f"{query} AND t.team_id IN ({marks})", (*_DONE, *teams)
            ).fetchall()
        else:
            rows = self._driver.execute(query, _DONE).fetchall()
        parse = dt.datetime.fromisoformat  # the cache's text is UTC: aware as read
        found = [
            OpenTicketRow(i, team, assignee, status, version, parse(created), *rest)
            for i, team, assignee, status, version, created, *rest in rows
        ]
        found.sort(key=lambda row: row.id)
        return found

    # -- what changed since a mark --------------------------------------------------------

    def history_mark(self) -> int:
        """The highest local id of the history: rows written later have higher ones."""
        return self._max_local_id("ticket_history")

    def comment_mark(self) -> int:
        """The highest local id of the comments: rows written later have higher ones."""
        return self._max_local_id("comments")

    def _max_local_id(self, table: str) -> int:
        found = self._driver.execute(f"SELECT max(local_id) FROM {table}").fetchone()[0]
        return int(found or 0)

    def tickets_with_history_after(self, mark: int) -> set[int]:
        """The tickets with history rows written after ``mark`` (a pull, a rebase and an
        optimistic command all write some)."""
        return {
            ticket_id
            for (ticket_id,) in self._driver.execute(
                "SELECT DISTINCT ticket_id FROM ticket_history WHERE local_id > ?", (mark,)
            )
        }

    def tickets_with_sla_history_after(self, mark: int) -> set[int]:
        """The tickets with SLA history entries written after ``mark``: those whose
        clocks may have changed since."""
        return {
            ticket_id
            for (ticket_id,) in self._driver.execute(
                "SELECT DISTINCT ticket_id FROM ticket_history "
                f"WHERE local_id > ? AND field IN ({_SLA_FIELDS_SQL})",
                (mark,),
            )
        }

    def tickets_with_comments_after(self, mark: int) -> set[int]:
        """The tickets with comments written after ``mark``."""
        return {
            ticket_id
            for (ticket_id,) in self._driver.execute(
                "SELECT DISTINCT ticket_id FROM comments WHERE local_id > ?", (mark,)
            )
        }

    # -- a ticket's satellites -------------------------------------------------------------

    def comments(self, ticket_id: int) -> list[CommentView]:
        c = schema.comments.c
        rows = self._connection.execute(
            select(schema.comments)
            .where(c.ticket_id == ticket_id)
            .order_by(c.created_at, c.server_id.is_(None), c.server_id, c.local_id)
        ).all()
        return [
            CommentView(
                r.server_id, r.ticket_id, r.author_id, r.body, r.public, r.created_at, r.mutation_id
            )
            for r in rows
        ]

    def history(self, ticket_id: int) -> list[HistoryView]:
        h = schema.ticket_history.c
        rows = self._connection.execute(
            select(schema.ticket_history)
            .where(h.ticket_id == ticket_id)
            .order_by(h.at, h.server_id.is_(None), h.server_id, h.local_id)
        ).all()
        return [
            HistoryView(
                r.server_id, r.ticket_id, r.version, r.actor_id, r.at, r.field, r.before, r.after
            )
            for r in rows
        ]

    def sla_history(self, ticket_ids: Sequence[int]) -> dict[int, list[HistoryRow]]:
        """:func:`read_sla_history` in this snapshot."""
        return read_sla_history(self._driver, ticket_ids)

    def search(self, user_text: str, *, limit: int = 200, prefix: bool = True) -> list[int]:
        """Ids of the tickets whose subject, description or comments match, best first."""
        query = search_query(user_text, prefix=prefix)
        if query is None:
            return []
        rows = self._connection.execute(
            text(
                f"SELECT rowid FROM {schema.FTS_TABLE} WHERE {schema.FTS_TABLE} MATCH :q "
                f"ORDER BY bm25({schema.FTS_TABLE}, 10.0, 3.0, 1.0), rowid LIMIT :n"
            ),
            {"q": query, "n": limit},
        ).all()
        return [int(row[0]) for row in rows]

    # -- directory and reference documents ---------------------------------------------------

    def users(self) -> list[UserOut]:
        return self._documents(schema.users, UserOut)

    def teams(self) -> list[TeamOut]:
        return self._documents(schema.teams, TeamOut)

    def organisations(self) -> list[OrganisationOut]:
        return self._documents(schema.organisations, OrganisationOut)

    def _documents(self, table: Any, model: type[_M]) -> list[_M]:
        rows = self._connection.execute(select(table.c.server_row).order_by(table.c.id)).all()
        return [model.model_validate(row.server_row) for row in rows]

    def directory(self, me: int | None) -> Directory:
        """Organisations' names and plans, users' names, and the teams of user ``me``."""
        intern = sys.intern
        organisations = {
            organisation_id: (intern(name), intern(plan))
            for organisation_id, name, plan in self._driver.execute(
                "SELECT id, name, plan FROM organisations"
            )
        }
        users: dict[int, str] = {}
        teams: set[int] | None = None
        for user_id, display_name, team_ids in self._driver.execute(
            "SELECT id, display_name, team_ids FROM users"
        ):
            users[user_id] = display_name
            if user_id == me:
                found = json.loads(team_ids) if isinstance(team_ids, str) else team_ids
                teams = {int(team) for team in found or ()}
        return Directory(organisations, users, teams)

    def sla_config(self) -> SlaConfigOut | None:
        rows = {r.kind: r for r in self._connection.execute(select(schema.sla_documents)).all()}
        if "policy" not in rows or "calendar" not in rows:
            return None
        return SlaConfigOut(
            policy=rows["policy"].document,
            calendar=rows["calendar"].document,
            updated_at=max(rows["policy"].updated_at, rows["calendar"].updated_at),
        )

    def announcements(self, *, active_at: dt.datetime | None = None) -> list[dict[str, Any]]:
        """Announcements as the server sent them; with ``active_at``, only those in force then."""
        a = schema.announcements.c
        query = select(schema.announcements).order_by(a.starts_at.desc(), a.id)
        if active_at is not None:
            query = query.where(
                and_(
                    (a.starts_at.is_(None)) | (a.starts_at <= active_at),
                    (a.ends_at.is_(None)) | (a.ends_at > active_at),
                )
            )
        return [dict(r.server_row) for r in self._connection.execute(query)]

    def next_announcement_change(self, after: dt.datetime) -> dt.datetime | None:
        """The first instant after ``after`` when an announcement starts or ends (its
        expected end), None when none is to come."""
        a = schema.announcements.c
        found = [
            self._connection.execute(select(func.min(column)).where(column > after)).scalar()
            for column in (a.starts_at, a.ends_at)
        ]
        return min((instant for instant in found if instant is not None), default=None)

    def articles(self) -> list[dict[str, Any]]:
        rows = self._connection.execute(
            select(schema.articles.c.server_row).order_by(schema.articles.c.title)
        ).all()
        return [dict(r.server_row) for r in rows]

    # -- sync state ----------------------------------------------------------------------

    def cursor(self) -> str | None:
        cursor: str | None = self._connection.execute(
            select(schema.sync_state.c.cursor)
        ).scalar_one()
        return cursor

    def last_sync_at(self) -> dt.datetime | None:
        when: dt.datetime | None = self._connection.execute(
            select(schema.sync_state.c.last_sync_at)
        ).scalar_one()
        return when

    def clock_offset(self) -> dt.timedelta:
        """Server clock minus ours, as last measured."""
        seconds = self._connection.execute(
            select(schema.sync_state.c.clock_offset_seconds)
        ).scalar_one()
        return dt.timedelta(seconds=float(seconds))
