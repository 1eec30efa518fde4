"""The console's local cache: one SQLite database per (server, user), under Alembic.

Opening a cache (:meth:`Cache.open`) creates the file with mode 0600 in the user
data directory, switches it to WAL with foreign keys on, checks it
(``PRAGMA quick_check``) and brings its schema to the newest revision.  A cache
that cannot be read is never silently thrown away: its outbox (the user's unsent
work) is exported to a JSON file beside it *first*, the bad file is moved aside,
a fresh cache is created, the salvaged commands are queued again, and
:attr:`Cache.notice` says so in words the UI can show.

This module owns storage: engines, transactions, the bulk upserts of server
rows (``INSERT … ON CONFLICT DO UPDATE``, one ``executemany`` a table), full-text
search and the reads the console shows.  Commands and rebases live in :mod:`sync.outbox`,
the pull/push entry points in :mod:`sync.store`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import gc
import hashlib
import json
import operator
import os
import re
import sqlite3
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from platformdirs import user_data_dir
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import to_json
from sqlalchemy import (
    JSON,
    Connection,
    Dialect,
    Engine,
    Row,
    and_,
    create_engine,
    delete,
    event,
    func,
    select,
    text,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from i18n import N_, gettext, ngettext
from protocol import (
    Command,
    CommentOut,
    HistoryEntryOut,
    OrganisationOut,
    SlaConfigOut,
    TeamOut,
    TicketOut,
    UserOut,
)
from sync import schema

__all__ = [
    "APP_NAME",
    "Cache",
    "CacheNotice",
    "Clock",
    "CommentView",
    "HistoryView",
    "TicketView",
    "cache_path",
    "collector_paused",
    "search_query",
    "upgrade",
    "upsert",
    "upsert_tickets",
    "utc_now",
]

APP_NAME: Final = "offimizer-console"
MIGRATIONS: Final = Path(__file__).resolve().parent / "migrations"
HEAD: Final = "head"

#: Returns the current instant, aware (UTC).  Injected everywhere, so tests own time.
Clock = Callable[[], dt.datetime]

_M = TypeVar("_M", bound=BaseModel)

_COMMAND: TypeAdapter[Command] = TypeAdapter(Command)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _stamp(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")


# -- where caches live ------------------------------------------------------------


def normalize_server_url(url: str) -> str:
    """``url`` in one spelling: lower-case scheme and host, no default port, no trailing slash."""
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.hostname:
        raise ValueError(f"not a server URL: {url!r}")
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    default = {"http": 80, "https": 443}.get(scheme)
    netloc = host if port is None or port == default else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def cache_path(server_url: str, username: str, *, data_dir: Path | None = None) -> Path:
    """The cache file of ``username`` on ``server_url``: readable name, collision-free hash."""
    base = data_dir if data_dir is not None else Path(user_data_dir(APP_NAME, appauthor=False))
    server = normalize_server_url(server_url)
    digest = hashlib.sha256(f"{server}\n{username}".encode()).hexdigest()[:16]
    host = urlsplit(server).hostname or "server"
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{host}-{username}")[:60]
    return base / "caches" / f"{readable}-{digest}.sqlite3"


# -- engines and migrations -----------------------------------------------------------


def _compact_json(value: Any) -> str:
    """JSON without spaces, accents as they are (pydantic-core's encoder: a quarter of the
    standard library's time, which counts when a sync stores 100,000 server rows)."""
    return to_json(value).decode()


def _make_engine(path: Path) -> Engine:
    engine = create_engine(
        f"sqlite:///{path}",
        connect_args={"timeout": 30},
        # compact JSON (no spaces, accents as they are): every ticket keeps its server row
        json_serializer=_compact_json,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # transactions are begun by us, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit the user was told about survives a power cut, not only a crash
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # writers take the write lock up front instead of failing when a read upgrades
        immediate = connection.get_execution_options().get("immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    return config


def upgrade(engine: Engine, revision: str = HEAD) -> None:
    """Bring the cache behind ``engine`` to ``revision``, in one transaction."""
    config = alembic_config()
    with engine.connect() as connection:
        connection.execution_options(immediate=True)
        with connection.begin():
            config.attributes["connection"] = connection
            command.upgrade(config, revision)


#: The revision the migrations bring a cache to: alembic's head (a test checks the two
#: agree), known without loading the migration scripts.
SCHEMA_REVISION: Final = "0004"


@functools.cache
def head_revision() -> str | None:
    """The revision the migrations bring a cache to, as alembic finds it."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _private_file(path: Path) -> None:
    """Create ``path`` (and its folder) readable by its owner only; tighten an existing one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    path.chmod(0o600)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.chmod(0o600)


# -- a cache that cannot be read ------------------------------------------------------

_UNREADABLE = N_(
    "The local cache could not be read. It was set aside and will be rebuilt from the server."
)


@dataclass(frozen=True, slots=True)
class CacheNotice:
    """What happened to an unreadable cache; :attr:`message` is translated when shown."""

    problem: str  # the technical cause, for logs and bug reports
    moved_to: Path
    export_path: Path
    salvaged: int  # outbox rows read back and written to the export file
    requeued: int  # of those, commands queued again in the fresh cache
    unreadable: int  # outbox rows seen but impossible to read

    @property
    def message(self) -> str:
        parts = [gettext(_UNREADABLE)]
        if self.salvaged:
            parts.append(
                ngettext(
                    "{count} unsent change was saved to {path} and will be sent when you "
                    "are online.",
                    "{count} unsent changes were saved to {path} and will be sent when you "
                    "are online.",
                    self.salvaged,
                ).format(count=self.salvaged, path=self.export_path)
            )
        if self.unreadable:
            parts.append(
                ngettext(
                    "{count} unsent change could not be read back; see {path}.",
                    "{count} unsent changes could not be read back; see {path}.",
                    self.unreadable,
                ).format(count=self.unreadable, path=self.moved_to)
            )
        return " ".join(parts)


def _check(path: Path) -> str | None:
    """Why the file at ``path`` is not a sound SQLite database, or None when it is."""
    try:
        connection = sqlite3.connect(f"file:{path}?mode=rw", uri=True)
        try:
            rows = connection.execute("PRAGMA quick_check").fetchall()
        finally:
            connection.close()
    except sqlite3.Error as error:
        return f"{type(error).__name__}: {error}"
    if rows != [("ok",)]:
        return "quick_check: " + "; ".join(str(row[0]) for row in rows[:10])
    return None


class _Unsound(Exception):
    """The integrity check found the file unsound (its message says why)."""


#: Runs the integrity checks of caches opened with ``check_later`` (SQLite releases
#: the GIL while it reads the file: the check takes another core).
_CHECKS: Final = ThreadPoolExecutor(1, thread_name_prefix="cache-check")


def _salvage_outbox(path: Path) -> tuple[list[dict[str, Any]], int]:
    """Every outbox row that can still be read from ``path`` (in order), and how many cannot."""
    try:
        connection = sqlite3.connect(f"file:{path}?mode=rw", uri=True)
    except sqlite3.Error:
        return [], 0
    found: list[dict[str, Any]] = []
    failed = 0
    try:
        seqs: list[int] = []
        complete = True
        try:
            for (seq,) in connection.execute("SELECT seq FROM outbox ORDER BY seq"):
                seqs.append(int(seq))
        except sqlite3.Error:
            complete = False
        if not complete:
            # the table scan broke part way: probe every sequence number up to the highest
            try:
                top = connection.execute("SELECT max(seq) FROM outbox").fetchone()[0]
                seqs = list(range(1, int(top or 0) + 1))
            except sqlite3.Error:
                pass
        for seq in seqs:
            try:
                cursor = connection.execute("SELECT * FROM outbox WHERE seq = ?", (seq,))
                row = cursor.fetchone()
                names = [column[0] for column in cursor.description]
            except sqlite3.Error:
                failed += 1
                continue
            if row is not None:
                found.append(dict(zip(names, row, strict=True)))
    finally:
        connection.close()
    for row in found:
        payload = row.get("payload")
        if isinstance(payload, str):
            with contextlib.suppress(ValueError):
                row["payload"] = json.loads(payload)
    return found, failed


def _write_private_json(path: Path, document: Any) -> None:
    data = json.dumps(document, indent=2, ensure_ascii=False, default=str).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _set_aside(path: Path, stamp: str) -> Path:
    moved = path.with_name(f"{path.name}.corrupt-{stamp}")
    path.rename(moved)
    for suffix in ("-wal", "-shm", "-journal"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            # keeps SQLite's pairing, so the moved file can still be opened for forensics
            side.rename(moved.with_name(moved.name + suffix))
    return moved


# -- reads ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TicketView:
    """A ticket as the agent sees it: server state with their pending work re-applied."""

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


# -- server rows -> table rows (shared by pulls, conflicts and rebases) ------------------


def ticket_row(ticket: TicketOut, raw: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "tracking_number": ticket.tracking_number,
        "subject": ticket.subject,
        "description": ticket.description,
        "requester_name": ticket.requester_name,
        "requester_email": ticket.requester_email,
        "organisation_id": ticket.organisation_id,
        "priority": ticket.priority.value,
        "severity": ticket.severity.value,
        "status": ticket.status.value,
        "team_id": ticket.team_id,
        "assignee_id": ticket.assignee_id,
        "tags": list(ticket.tags),
        "version": ticket.version,
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "server_row": raw if raw is not None else ticket.model_dump(mode="json"),
    }


def comment_row(comment: CommentOut) -> dict[str, Any]:
    return {
        "server_id": comment.id,
        "ticket_id": comment.ticket_id,
        "author_id": comment.author_id,
        "body": comment.body,
        "public": comment.public,
        "created_at": comment.created_at,
        "mutation_id": None,
    }


def history_row(entry: HistoryEntryOut) -> dict[str, Any]:
    return {
        "server_id": entry.id,
        "ticket_id": entry.ticket_id,
        "version": entry.version,
        "actor_id": entry.actor_id,
        "at": entry.at,
        "field": entry.field,
        "before": entry.before,
        "after": entry.after,
        "mutation_id": None,
    }


def user_row(user: UserOut, raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "email": user.email,
        "role": user.role.value,
        "active": user.active,
        "team_ids": list(user.team_ids),
        "server_row": raw,
    }


def team_row(team: TeamOut, raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": team.id,
        "name": team.name,
        "member_ids": list(team.member_ids),
        "server_row": raw,
    }


def organisation_row(organisation: OrganisationOut, raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": organisation.id,
        "name": organisation.name,
        "plan": organisation.plan.value,
        "server_row": raw,
    }


def announcement_row(item: dict[str, Any]) -> dict[str, Any]:
    """A cache row for an announcement; one ended early stops at ``ended_at``."""
    ends_at = _instant(item.get("ends_at"))
    ended_at = _instant(item.get("ended_at"))
    if ended_at is not None and (ends_at is None or ended_at < ends_at):
        ends_at = ended_at
    return {
        "id": int(item["id"]),
        "title": str(item["title"]),
        "body": str(item.get("body", "")),
        "starts_at": _instant(item.get("starts_at")),
        "ends_at": ends_at,
        "server_row": item,
    }


def article_row(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": int(item["id"]),
        "title": str(item["title"]),
        "body": str(item.get("body", "")),
        "tags": [str(tag) for tag in item.get("tags", [])],
        "updated_at": _instant(item.get("updated_at")),
        "server_row": item,
    }


@dataclass(frozen=True, slots=True)
class _UpsertPlan:
    """``INSERT … ON CONFLICT DO UPDATE`` of some columns, and how to bind their values."""

    sql: str
    #: a row's values, in the statement's order
    values: Callable[[dict[str, Any]], Sequence[Any]]
    #: (position, bind processor) of the values that need one (JSON text, UTC instants…)
    processed: tuple[tuple[int, Callable[[Any], Any]], ...]

    def parameters(self, rows: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
        values, processed = self.values, self.processed
        parameters: list[tuple[Any, ...]] = []
        for row in rows:
            bound = list(values(row))
            for position, process in processed:
                bound[position] = process(bound[position])
            parameters.append(tuple(bound))
        return parameters


@functools.lru_cache(maxsize=64)
def _upsert_plan(
    dialect: Dialect, table_name: str, columns: tuple[str, ...], key: tuple[str, ...]
) -> _UpsertPlan:
    table = schema.metadata.tables[table_name]
    quote = dialect.identifier_preparer.quote
    updated = [name for name in columns if name not in key]
    action = (
        "DO UPDATE SET " + ", ".join(f"{quote(n)} = excluded.{quote(n)}" for n in updated)
        if updated
        else "DO NOTHING"
    )
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in columns)})"
        f" VALUES ({', '.join('?' for _ in columns)})"
        f" ON CONFLICT ({', '.join(quote(n) for n in key)}) {action}"
    )
    getter = operator.itemgetter(*columns)
    values = getter if len(columns) > 1 else (lambda row: (getter(row),))
    processed = tuple(
        (position, process)
        for position, name in enumerate(columns)
        if (process := _bind_processor(table.c[name].type, dialect)) is not None
    )
    return _UpsertPlan(sql, values, processed)


def _json_text(value: Any) -> str | None:
    return None if value is None else _compact_json(value)


def _bind_processor(type_: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    """The column type's own conversion; for our instants and JSON, the very function
    (not wrapped in SQLAlchemy's layers: it runs for every value of a page)."""
    if isinstance(type_, schema.UTCDateTime):
        return schema.utc_text
    if isinstance(type_, JSON) and type_.none_as_null and dialect.name == "sqlite":
        return _json_text
    processor: Callable[[Any], Any] | None = type_.bind_processor(dialect)
    return processor


def upsert(
    connection: Connection,
    table: Any,
    rows: Sequence[dict[str, Any]],
    key: str | tuple[str, ...] = "id",
) -> None:
    """Insert ``rows`` into ``table``, replacing the ones whose ``key`` exists: one statement.

    ``INSERT … ON CONFLICT (key) DO UPDATE``, written once per table and columns; the
    values go through the column types' own bind processors (the ones Core would use)
    straight to the driver's ``executemany``: Core's per-row parameter handling cost
    more than SQLite's own work on a page of the feed.
    """
    if not rows:
        return
    keys = (key,) if isinstance(key, str) else key
    plan = _upsert_plan(connection.dialect, table.name, tuple(rows[0]), keys)
    connection.exec_driver_sql(plan.sql, plan.parameters(rows))


_EXISTING_TICKETS: Final = "SELECT id FROM tickets WHERE id IN (SELECT value FROM json_each(?))"
_INDEX_TICKETS: Final = (
    f"INSERT INTO {schema.FTS_TABLE} (rowid, subject, description, comments)"
    " SELECT t.id, t.subject, t.description,"
    " coalesce((SELECT group_concat(body, ' ') FROM comments WHERE ticket_id = t.id), '')"
    " FROM tickets AS t WHERE t.id IN (SELECT value FROM json_each(?))"
)


def upsert_tickets(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """:func:`upsert` of ticket rows, the full-text rows of the new ones written in one
    statement rather than by the insert trigger a row (half the cost: migration 0003).

    The trigger is deferred only between two writes of this transaction, so whatever
    happens, a commit never leaves it deferred.
    """
    if not rows:
        return
    ids = [row["id"] for row in rows]
    existing = set(connection.exec_driver_sql(_EXISTING_TICKETS, (_compact_json(ids),)).scalars())
    new = [ticket_id for ticket_id in ids if ticket_id not in existing]
    deferred = bool(new) and (
        connection.exec_driver_sql("UPDATE sync_state SET search_deferred = 1").rowcount == 1
    )
    try:
        upsert(connection, schema.tickets, rows)
    finally:
        if deferred:
            connection.exec_driver_sql("UPDATE sync_state SET search_deferred = 0")
    if deferred:
        connection.exec_driver_sql(_INDEX_TICKETS, (_compact_json(new),))


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector while many objects are made at once: a page of
    the feed validated and stored, the console's queue read or its clocks evaluated.

    A page makes some 20,000 objects (models, rows, parameters), no reference cycle,
    and keeps them until it is stored: enough to set off a full collection every page
    or two, each walking every object of the process (measured: a seventh of the
    initial sync's time).  Reference counting still frees them all; a cycle made
    meanwhile (by anyone: the collector is the process's) waits for the next
    collection.  Leaves a collector paused by someone else paused.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


# -- the cache ------------------------------------------------------------------------


class Cache:
    """One open cache file.  Use :meth:`open`; close it (or use ``with``) when done."""

    def __init__(
        self,
        path: Path,
        engine: Engine,
        clock: Clock,
        notice: CacheNotice | None,
        checking: Future[str | None] | None = None,
    ):
        self.path = path
        self.engine = engine
        self.clock = clock
        #: set when the file found at open was unreadable and had to be rebuilt
        self.notice = notice
        #: the integrity check still running (see :meth:`open`'s ``check_later``)
        self._checking = checking
        self._settling = threading.Lock()
        #: why a file found unsound could not be rebuilt (every write then fails so)
        self._unsettled: BaseException | None = None
        #: the connection :meth:`quick_read` keeps, and the thread it belongs to
        self._reader: Any = None
        self._reader_thread = 0

    # -- opening ------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, *, clock: Clock = utc_now, check_later: bool = False) -> Cache:
        """Open (or create) the cache at ``path``, rebuilding it if it cannot be read.

        Whether the file is sound is checked (SQLite's ``quick_check``) before it
        opens, which reads the whole file: about 0.4 s for 100,000 tickets, more
        from a cold disk.  ``check_later`` runs that check on a thread of its own
        instead, so the cache can be read at once; nothing is written to it until
        the check is done (:meth:`write` waits for it), and a file found unsound
        then is rebuilt as it would have been at open: see :meth:`settle`.
        """
        problem: str | None = None
        exists = path.exists() and path.stat().st_size > 0
        if exists and check_later:
            checking = _CHECKS.submit(_check, path)

            def sound_before_migrating() -> None:
                found = checking.result()  # a migration writes: the file must be sound
                if found is not None:
                    raise _Unsound(found)

            try:
                engine = cls._open_sound(path, before_migrating=sound_before_migrating)
                return cls(path, engine, clock, None, checking)
            except _Unsound as unsound:
                problem = str(unsound)
            except (SQLAlchemyError, sqlite3.Error) as error:
                checking.result()  # the file is left alone before it is set aside
                problem = f"{type(error).__name__}: {error}"
        elif exists:
            problem = _check(path)
        if problem is None:
            try:
                return cls(path, cls._open_sound(path), clock, None)
            except (SQLAlchemyError, sqlite3.Error) as error:
                problem = f"{type(error).__name__}: {error}"
        notice = cls._rebuild(path, problem, clock)
        cache = cls(path, cls._open_sound(path), clock, notice)
        return cache

    @property
    def checked(self) -> bool:
        """Whether the file is known sound (or rebuilt): the integrity check is over."""
        return self._checking is None

    def wait_checked(self) -> None:
        """Block until the integrity check is over, without acting on what it found
        (:meth:`settle` does): a thread may wait, the thread that reads rebuilds."""
        checking = self._checking
        if checking is not None:
            checking.result()

    def settle(self) -> CacheNotice | None:
        """Wait for the integrity check started by ``open(check_later=True)``; a file
        found unsound is rebuilt in place, as :meth:`open` would have done (the
        user's unsent commands salvaged, the bad file set aside), and the notice
        returned, then kept in :attr:`notice`.  Whoever read the cache before
        reads it again.  At once when there is nothing to wait for.
        """
        with self._settling:
            if self._unsettled is not None:  # a rebuild that failed is not tried again
                raise self._unsettled
            checking = self._checking
            if checking is None:
                return self.notice
            problem = checking.result()
            if problem is not None:
                self._drop_reader()
                self.engine.dispose()
                try:
                    self.notice = self._rebuild(self.path, problem, self.clock)
                    self.engine = self._open_sound(self.path)
                except BaseException as error:  # the file could not be set aside, say
                    self._unsettled = error
                    raise
            self._checking = None
            return self.notice

    @staticmethod
    def _open_sound(path: Path, *, before_migrating: Callable[[], None] | None = None) -> Engine:
        _private_file(path)
        engine = _make_engine(path)
        try:
            # a cache already at the schema's revision opens without alembic loading
            # (compiling) its migration scripts: a quarter of a second
            if current_revision(engine) != SCHEMA_REVISION:
                if before_migrating is not None:
                    before_migrating()
                upgrade(engine)
            with engine.connect() as connection:
                state = select(schema.sync_state.c.id).where(schema.sync_state.c.id == 1)
                if connection.execute(state).first() is None:
                    connection.execute(
                        sqlite_insert(schema.sync_state).values(id=1).on_conflict_do_nothing()
                    )
                    connection.commit()
        except BaseException:
            engine.dispose()
            raise
        return engine

    @classmethod
    def _rebuild(cls, path: Path, problem: str, clock: Clock) -> CacheNotice:
        now = clock()
        stamp = _stamp(now)
        # 1. the user's unsent work, first, before anything touches the file
        rows, unreadable = _salvage_outbox(path)
        export_path = path.with_name(f"{path.name}.outbox-{stamp}.json")
        _write_private_json(
            export_path,
            {
                "exported_at": now.isoformat(),
                "cache": str(path),
                "problem": problem,
                "unreadable_rows": unreadable,
                "commands": rows,
            },
        )
        # 2. the bad file (and its WAL) moved aside, never deleted
        moved_to = _set_aside(path, stamp)
        # 3. a fresh cache, with the salvaged commands queued again (mutation ids
        #    make a second delivery of one the server already had harmless)
        engine = cls._open_sound(path)
        requeued = 0
        try:
            with engine.connect() as connection:
                connection.execution_options(immediate=True)
                with connection.begin():
                    for row in rows:
                        requeued += _requeue(connection, row, now)
        finally:
            engine.dispose()
        return CacheNotice(problem, moved_to, export_path, len(rows), requeued, unreadable)

    def close(self) -> None:
        if self._checking is not None:
            self._checking.result()  # the check reads the file: done before it is let go
        self._drop_reader()
        self.engine.dispose()

    def _drop_reader(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()  # back to the pool, which the caller disposes of

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- transactions ---------------------------------------------------------------

    @contextlib.contextmanager
    def write(self, *, durable: bool = True) -> Iterator[Connection]:
        """One write transaction (BEGIN IMMEDIATE): committed on success, rolled back on error.

        ``durable=False`` commits without waiting for the disk (``synchronous=NORMAL``):
        a power cut may then lose this transaction, whole and with any that followed
        it without waiting either, never the cache's consistency nor a durable commit
        made after it.  For what the server can send again (a page of the feed with its
        cursor), never for the user's own work.
        """
        if self._checking is not None:  # never a write into a file not known sound
            self.settle()
        with self.engine.connect() as connection:
            if not durable:
                _pragma(connection, "synchronous=NORMAL")
            try:
                connection.execution_options(immediate=True)
                with connection.begin():
                    yield connection
            finally:
                if not durable:
                    _pragma(connection, "synchronous=FULL")

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A consistent snapshot for reading (WAL: never blocks the writer)."""
        with self.engine.connect() as connection, connection.begin():
            yield connection

    @contextlib.contextmanager
    def quick_read(self) -> Iterator[sqlite3.Connection]:
        """:meth:`read`, through the SQLite driver alone, on a connection kept for it:
        for small reads made again and again (the queue reads the histories of the
        clocks that change state, every few seconds).  SQLAlchemy's pool, events
        and transaction objects cost several times the read itself when they have
        not run for a while.  Another thread than the first to ask goes through
        :meth:`read`."""
        if self._reader is None:
            self._reader = self.engine.raw_connection()  # set up by _on_connect
            self._reader_thread = threading.get_ident()
        elif self._reader_thread != threading.get_ident():
            with self.read() as connection:
                theirs = connection.connection.driver_connection
                assert isinstance(theirs, sqlite3.Connection)
                yield theirs
            return
        ours = self._reader.driver_connection
        assert isinstance(ours, sqlite3.Connection)
        ours.execute("BEGIN")  # one snapshot for the whole read
        try:
            yield ours
        finally:
            ours.execute("COMMIT")  # nothing written: the snapshot ends

    # -- tickets and their satellites -------------------------------------------------

    def ticket(self, ticket_id: int) -> TicketView | None:
        with self.read() as connection:
            row = connection.execute(
                select(schema.tickets, _pending_flag()).where(schema.tickets.c.id == ticket_id)
            ).first()
        return None if row is None else _ticket_view(row)

    def tickets(self, ticket_ids: Iterable[int] | None = None) -> list[TicketView]:
        """Tickets (all of them, or those of ``ticket_ids``) in the order given, else by id."""
        query = select(schema.tickets, _pending_flag())
        if ticket_ids is None:
            with self.read() as connection:
                rows = connection.execute(query.order_by(schema.tickets.c.id)).all()
            return [_ticket_view(row) for row in rows]
        wanted = list(ticket_ids)
        found: dict[int, TicketView] = {}
        with self.read() as connection:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                for row in connection.execute(query.where(schema.tickets.c.id.in_(chunk))):
                    view = _ticket_view(row)
                    found[view.id] = view
        return [found[i] for i in wanted if i in found]

    def history_since(self, mark: int) -> tuple[set[int], int]:
        """The tickets with history rows written after ``mark`` (a pull, a rebase, an
        optimistic command all write some), and the mark to ask from next time."""
        with self.read() as connection:
            changed = set(
                connection.exec_driver_sql(
                    "SELECT DISTINCT ticket_id FROM ticket_history WHERE local_id > ?", (mark,)
                ).scalars()
            )
            latest = self._history_mark(connection)
        return changed, max(mark, latest)

    def history_mark(self) -> int:
        """The mark of the history as it stands (to pass to :meth:`history_since` later)."""
        with self.read() as connection:
            return self._history_mark(connection)

    @staticmethod
    def _history_mark(connection: Connection) -> int:
        latest = connection.exec_driver_sql("SELECT max(local_id) FROM ticket_history").scalar()
        return int(latest or 0)

    def ticket_count(self) -> int:
        with self.read() as connection:
            return int(connection.execute(text("SELECT count(*) FROM tickets")).scalar_one())

    def server_ticket(self, ticket_id: int) -> TicketOut | None:
        """The ticket exactly as the server last sent it (no pending work)."""
        with self.read() as connection:
            raw = connection.execute(
                select(schema.tickets.c.server_row).where(schema.tickets.c.id == ticket_id)
            ).scalar_one_or_none()
        return None if raw is None else TicketOut.model_validate(raw)

    def comments(self, ticket_id: int) -> list[CommentView]:
        c = schema.comments.c
        with self.read() as connection:
            rows = connection.execute(
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
        with self.read() as connection:
            rows = connection.execute(
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

    def search(self, user_text: str, *, limit: int = 200, prefix: bool = True) -> list[int]:
        """Ids of the tickets whose subject, description or comments match, best first."""
        query = search_query(user_text, prefix=prefix)
        if query is None:
            return []
        with self.read() as connection:
            rows = connection.execute(
                text(
                    f"SELECT rowid FROM {schema.FTS_TABLE} WHERE {schema.FTS_TABLE} MATCH :q "
                    f"ORDER BY bm25({schema.FTS_TABLE}, 10.0, 3.0, 1.0), rowid LIMIT :n"
                ),
                {"q": query, "n": limit},
            ).all()
        return [int(row[0]) for row in rows]

    # -- directory and reference documents -------------------------------------------

    def users(self) -> list[UserOut]:
        return self._documents(schema.users, UserOut)

    def teams(self) -> list[TeamOut]:
        return self._documents(schema.teams, TeamOut)

    def organisations(self) -> list[OrganisationOut]:
        return self._documents(schema.organisations, OrganisationOut)

    def _documents(self, table: Any, model: type[_M]) -> list[_M]:
        with self.read() as connection:
            rows = connection.execute(select(table.c.server_row).order_by(table.c.id)).all()
        return [model.model_validate(row.server_row) for row in rows]

    def sla_config(self) -> SlaConfigOut | None:
        with self.read() as connection:
            rows = {r.kind: r for r in connection.execute(select(schema.sla_documents)).all()}
        if "policy" not in rows or "calendar" not in rows:
            return None
        return SlaConfigOut(
            policy=rows["policy"].document,
            calendar=rows["calendar"].document,
            updated_at=max(rows["policy"].updated_at, rows["calendar"].updated_at),
        )

    def put_sla_config(self, config: SlaConfigOut) -> None:
        rows = [
            {"kind": "policy", "document": config.policy, "updated_at": config.updated_at},
            {"kind": "calendar", "document": config.calendar, "updated_at": config.updated_at},
        ]
        with self.write() as connection:
            upsert(connection, schema.sla_documents, rows, key="kind")

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
        with self.read() as connection:
            return [dict(r.server_row) for r in connection.execute(query)]

    def next_announcement_change(self, after: dt.datetime) -> dt.datetime | None:
        """The first instant after ``after`` when an announcement starts or ends (its
        expected end), None when none is to come."""
        a = schema.announcements.c
        with self.read() as connection:
            found = [
                connection.execute(select(func.min(column)).where(column > after)).scalar()
                for column in (a.starts_at, a.ends_at)
            ]
        return min((instant for instant in found if instant is not None), default=None)

    def put_announcements(self, items: Iterable[dict[str, Any]], *, replace: bool = True) -> None:
        """Store announcements (``id``, ``title``, ``body``, ``starts_at``, ``ends_at``)."""
        rows = [announcement_row(item) for item in items]
        with self.write() as connection:
            if replace:
                connection.execute(
                    delete(schema.announcements).where(
                        schema.announcements.c.id.not_in([r["id"] for r in rows])
                    )
                )
            upsert(connection, schema.announcements, rows)

    def articles(self) -> list[dict[str, Any]]:
        with self.read() as connection:
            rows = connection.execute(
                select(schema.articles.c.server_row).order_by(schema.articles.c.title)
            ).all()
        return [dict(r.server_row) for r in rows]

    def put_articles(self, items: Iterable[dict[str, Any]]) -> None:
        """Store knowledge-base articles (``id``, ``title``, ``body``, ``tags``, ``updated_at``)."""
        rows = [article_row(item) for item in items]
        with self.write() as connection:
            upsert(connection, schema.articles, rows)

    # -- sync state -----------------------------------------------------------------

    def cursor(self) -> str | None:
        with self.read() as connection:
            cursor: str | None = connection.execute(select(schema.sync_state.c.cursor)).scalar_one()
        return cursor

    def reset_cursor(self) -> None:
        """Forget the feed cursor (the server no longer knows it): the next pull starts over.

        Cached rows and the outbox are kept; a full pull upserts every row again.
        """
        with self.write() as connection:
            connection.execute(schema.sync_state.update().values(cursor=None))

    def last_sync_at(self) -> dt.datetime | None:
        with self.read() as connection:
            when: dt.datetime | None = connection.execute(
                select(schema.sync_state.c.last_sync_at)
            ).scalar_one()
        return when

    def clock_offset(self) -> dt.timedelta:
        """Server clock minus ours, as last measured."""
        with self.read() as connection:
            seconds = connection.execute(
                select(schema.sync_state.c.clock_offset_seconds)
            ).scalar_one()
        return dt.timedelta(seconds=float(seconds))

    def server_now(self) -> dt.datetime:
        """Our clock corrected to the server's: what SLA countdowns are computed against."""
        return self.clock() + self.clock_offset()

    def record_sync(self, *, offset: dt.timedelta | None = None) -> None:
        """A sync finished: remember when (our clock) and the server clock offset measured."""
        values: dict[str, Any] = {"last_sync_at": self.clock()}
        if offset is not None:
            values["clock_offset_seconds"] = offset.total_seconds()
        with self.write() as connection:
            connection.execute(schema.sync_state.update().values(**values))


def _pragma(connection: Connection, setting: str) -> None:
    """``PRAGMA setting`` outside any transaction (Core would begin one first)."""
    cursor = connection.connection.cursor()
    try:
        cursor.execute(f"PRAGMA {setting}")
    finally:
        cursor.close()


def _instant(value: Any) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def _requeue(connection: Connection, row: dict[str, Any], now: dt.datetime) -> int:
    """Queue a salvaged outbox row again if it is a well-formed command; 1 if it was."""
    try:
        cmd = _COMMAND.validate_python(row.get("payload"))
    except ValidationError:
        return 0
    created = now
    with contextlib.suppress(TypeError, ValueError):
        created = _instant(row.get("created_at")) or now
    result = connection.execute(
        sqlite_insert(schema.outbox)
        .values(
            mutation_id=str(cmd.mutation_id),
            ticket_id=cmd.ticket_id,
            type=cmd.type,
            base_version=cmd.base_version,
            payload=cmd.model_dump(mode="json"),
            created_at=created,
            state="pending",
        )
        .on_conflict_do_nothing()
    )
    return int(result.rowcount)
