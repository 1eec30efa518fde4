"""The console's local cache: one SQLite database per (server, user), under Alembic.

Opening a cache (:meth:`Cache.open`) creates the file with mode 0600 in the user
data directory, switches it to WAL with foreign keys on, checks it
(``PRAGMA quick_check``) and brings its schema to the newest revision.  A cache
that cannot be read is never silently thrown away: its outbox (the user's unsent
work) is exported to a JSON file beside it *first*, the bad file is moved aside,
a fresh cache is created, the salvaged commands are queued again, and
:attr:`Cache.notice` says so in words the UI can show.

This module owns the file: where it lives, its engine and transactions, its
schema's migrations, its integrity and its rebuilding (what is salvaged then:
:mod:`sync.salvage`).  Server rows become cache rows in :mod:`sync.rows`.  The
reads of tickets, directory, documents and sync state are in :mod:`sync.queries`
(the :class:`Cache` methods that read are a snapshot of one read each); the
outbox, conflicts and refusals are read and written through :mod:`sync.store`,
which owns them, with :mod:`sync.outbox` and :mod:`sync.pull`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from platformdirs import user_data_dir
from sqlalchemy import Connection, Engine, delete, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from i18n import N_, gettext, ngettext
from protocol import OrganisationOut, SlaConfigOut, TeamOut, TicketOut, UserOut
from sla.history import HistoryRow
from storage.sqlite import sqlite_engine
from sync import schema
from sync.queries import CommentView, HistoryView, Snapshot, TicketView, read_sla_history
from sync.rows import announcement_row, article_row, compact_json, upsert
from sync.salvage import (
    requeue,
    requeue_call,
    salvage_calls,
    salvage_outbox,
    set_aside,
    write_private_json,
)

__all__ = [
    "APP_NAME",
    "Cache",
    "CacheNotice",
    "Clock",
    "cache_path",
    "normalize_server_url",
    "upgrade",
    "utc_now",
]

APP_NAME: Final = "offimizer-console"
MIGRATIONS: Final = Path(__file__).resolve().parent / "migrations"
HEAD: Final = "head"

#: Returns the current instant, aware (UTC).  Injected everywhere, so tests own time.
Clock = Callable[[], dt.datetime]


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


def _make_engine(path: Path) -> Engine:
    return sqlite_engine(
        f"sqlite:///{path}",
        # transactions read unless marked as writers (``execution_options(immediate=True)``)
        immediate_if="immediate",
        # FULL: a commit the user was told about survives a power cut, not only a crash
        synchronous="FULL",
        # compact JSON (no spaces, accents as they are): every ticket keeps its server row
        json_serializer=compact_json,
    )


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
SCHEMA_REVISION: Final = "0005"


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
        self._rebuilding = threading.Lock()
        #: why a file found unsound could not be rebuilt (every write then fails so)
        self._rebuild_failure: BaseException | None = None
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
        then is rebuilt as it would have been at open: see :meth:`rebuild_if_unsound`.
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
        (:meth:`rebuild_if_unsound` does): a thread may wait, the thread that reads rebuilds."""
        checking = self._checking
        if checking is not None:
            checking.result()

    def rebuild_if_unsound(self) -> CacheNotice | None:
        """Wait for the integrity check started by ``open(check_later=True)``; a file
        found unsound is rebuilt in place, as :meth:`open` would have done (the
        user's unsent commands salvaged, the bad file set aside), and the notice
        returned, then kept in :attr:`notice`.  Whoever read the cache before
        reads it again.  At once when there is nothing to wait for.
        """
        with self._rebuilding:
            if self._rebuild_failure is not None:  # a rebuild that failed is not tried again
                raise self._rebuild_failure
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
                    self._rebuild_failure = error
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
        rows, unreadable = salvage_outbox(path)
        calls, unreadable_calls = salvage_calls(path)  # requests waiting for the server
        waiting = [call for call in calls if call.get("refused_at") is None]
        export_path = path.with_name(f"{path.name}.outbox-{stamp}.json")
        write_private_json(
            export_path,
            {
                "exported_at": now.isoformat(),
                "cache": str(path),
                "problem": problem,
                "unreadable_rows": unreadable + unreadable_calls,
                "commands": rows,
                "calls": calls,
            },
        )
        # 2. the bad file (and its WAL) moved aside, never deleted
        moved_to = set_aside(path, stamp)
        # 3. a fresh cache, with the salvaged commands queued again (mutation ids
        #    make a second delivery of one the server already had harmless)
        engine = cls._open_sound(path)
        requeued = 0
        try:
            with engine.connect() as connection:
                connection.execution_options(immediate=True)
                with connection.begin():
                    for row in rows:
                        requeued += requeue(connection, row, now)
                    for call in waiting:
                        requeued += requeue_call(connection, call, now)
        finally:
            engine.dispose()
        return CacheNotice(
            problem,
            moved_to,
            export_path,
            len(rows) + len(waiting),
            requeued,
            unreadable + unreadable_calls,
        )

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
            self.rebuild_if_unsound()
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
            self._reader = self.engine.raw_connection()  # set up as every connection
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

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        """One consistent view of the cache for several reads (see :mod:`sync.queries`)."""
        with self.read() as connection:
            yield Snapshot(connection)

    # -- reads made alone: a snapshot each ---------------------------------------------

    def ticket(self, ticket_id: int) -> TicketView | None:
        with self.snapshot() as snapshot:
            return snapshot.ticket(ticket_id)

    def tickets(self, ticket_ids: Iterable[int] | None = None) -> list[TicketView]:
        """Tickets (all of them, or those of ``ticket_ids``) in the order given, else by id."""
        with self.snapshot() as snapshot:
            return snapshot.tickets(ticket_ids)

    def history_since(self, mark: int) -> tuple[set[int], int]:
        """The tickets with history rows written after ``mark`` (a pull, a rebase, an
        optimistic command all write some), and the mark to ask from next time."""
        with self.snapshot() as snapshot:
            changed = snapshot.tickets_with_history_after(mark)
            latest = snapshot.history_mark()
        return changed, max(mark, latest)

    def history_mark(self) -> int:
        """The mark of the history as it stands (to pass to :meth:`history_since` later)."""
        with self.snapshot() as snapshot:
            return snapshot.history_mark()

    def ticket_count(self) -> int:
        with self.snapshot() as snapshot:
            return snapshot.ticket_count()

    def server_ticket(self, ticket_id: int) -> TicketOut | None:
        """The ticket exactly as the server last sent it (no pending work)."""
        with self.snapshot() as snapshot:
            return snapshot.server_ticket(ticket_id)

    def comments(self, ticket_id: int) -> list[CommentView]:
        with self.snapshot() as snapshot:
            return snapshot.comments(ticket_id)

    def history(self, ticket_id: int) -> list[HistoryView]:
        with self.snapshot() as snapshot:
            return snapshot.history(ticket_id)

    def sla_history(self, ticket_ids: Sequence[int]) -> dict[int, list[HistoryRow]]:
        """The SLA entries of these tickets' histories (see
        :func:`sync.queries.read_sla_history`), on the connection :meth:`quick_read`
        keeps: the queue asks again and again for a few tickets' histories."""
        with self.quick_read() as driver:
            return read_sla_history(driver, ticket_ids)

    def search(self, user_text: str, *, limit: int = 200, prefix: bool = True) -> list[int]:
        """Ids of the tickets whose subject, description or comments match, best first."""
        with self.snapshot() as snapshot:
            return snapshot.search(user_text, limit=limit, prefix=prefix)

    def users(self) -> list[UserOut]:
        with self.snapshot() as snapshot:
            return snapshot.users()

    def teams(self) -> list[TeamOut]:
        with self.snapshot() as snapshot:
            return snapshot.teams()

    def organisations(self) -> list[OrganisationOut]:
        with self.snapshot() as snapshot:
            return snapshot.organisations()

    def sla_config(self) -> SlaConfigOut | None:
        with self.snapshot() as snapshot:
            return snapshot.sla_config()

    def announcements(self, *, active_at: dt.datetime | None = None) -> list[dict[str, Any]]:
        """Announcements as the server sent them; with ``active_at``, only those in force then."""
        with self.snapshot() as snapshot:
            return snapshot.announcements(active_at=active_at)

    def next_announcement_change(self, after: dt.datetime) -> dt.datetime | None:
        """The first instant after ``after`` when an announcement starts or ends (its
        expected end), None when none is to come."""
        with self.snapshot() as snapshot:
            return snapshot.next_announcement_change(after)

    def articles(self) -> list[dict[str, Any]]:
        with self.snapshot() as snapshot:
            return snapshot.articles()

    def cursor(self) -> str | None:
        with self.snapshot() as snapshot:
            return snapshot.cursor()

    def last_sync_at(self) -> dt.datetime | None:
        with self.snapshot() as snapshot:
            return snapshot.last_sync_at()

    def clock_offset(self) -> dt.timedelta:
        """Server clock minus ours, as last measured."""
        with self.snapshot() as snapshot:
            return snapshot.clock_offset()

    def server_now(self) -> dt.datetime:
        """Our clock corrected to the server's: what SLA countdowns are computed against."""
        return self.clock() + self.clock_offset()

    # -- writes outside commands and pulls (reference documents, sync state) -----------

    def put_sla_config(self, config: SlaConfigOut) -> None:
        rows = [
            {"kind": "policy", "document": config.policy, "updated_at": config.updated_at},
            {"kind": "calendar", "document": config.calendar, "updated_at": config.updated_at},
        ]
        with self.write() as connection:
            upsert(connection, schema.sla_documents, rows, key="kind")

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

    def put_articles(self, items: Iterable[dict[str, Any]]) -> None:
        """Store knowledge-base articles (``id``, ``title``, ``body``, ``tags``, ``updated_at``)."""
        rows = [article_row(item) for item in items]
        with self.write() as connection:
            upsert(connection, schema.articles, rows)

    def reset_cursor(self) -> None:
        """Forget the feed cursor (the server no longer knows it): the next pull starts over.

        Cached rows and the outbox are kept; a full pull upserts every row again.
        """
        with self.write() as connection:
            connection.execute(schema.sync_state.update().values(cursor=None))

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
