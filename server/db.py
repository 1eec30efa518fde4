"""Database plumbing: engine, sessions, the declarative base, UTC timestamps.

SQLite (the default) gets foreign keys, WAL and a busy timeout, and every
transaction starts with ``BEGIN IMMEDIATE``: writers are serialized up front
instead of failing when a reader upgrades (transactions that only read use
:func:`read_only` and a plain ``BEGIN``).  PostgreSQL runs at READ COMMITTED;
writers lock the rows they change and, last, the change-feed counter
(:mod:`server.changes`).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, TypeVar

from sqlalchemy import DateTime, Engine, MetaData, Table, create_engine
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from storage.sqlite import sqlite_engine

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


#: Execution option of the engines :func:`read_only` gives.
READ_ONLY: Final = "offimizer_read_only"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """An aware datetime, stored in UTC (SQLite keeps no offset: it comes back as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: attach a time zone")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def private_folder(folder: Path, *, tighten: bool = False) -> None:
    """Create ``folder`` and its missing parents accessible to their owner only (0700);
    with ``tighten``, an existing ``folder`` is made so too."""
    missing = [path for path in (folder, *folder.parents) if not path.exists()]
    for path in reversed(missing):
        path.mkdir(mode=0o700, exist_ok=True)
        path.chmod(0o700)  # whatever the umask
    if tighten:
        folder.chmod(0o700)


def private_database(path: Path) -> None:
    """Create the SQLite file ``path`` readable by its owner only (0600), its folder
    too if missing (0700); tighten an existing file and its ``-wal``/``-shm`` files.

    SQLite gives the ``-wal`` and ``-shm`` files it creates the database file's mode.
    """
    private_folder(path.parent)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    path.chmod(0o600)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.chmod(0o600)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``, configured for this server's transaction discipline."""
    if url.startswith("sqlite"):
        # transactions marked read_only() begin deferred: readers never wait for the writer
        return sqlite_engine(url, immediate_unless=READ_ONLY, **kwargs)
    return create_engine(url, pool_pre_ping=True, **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def read_only(engine: Engine) -> Engine:
    """``engine`` for transactions that only read.

    On SQLite they start with a plain (deferred) ``BEGIN``: in WAL mode readers
    then read their snapshot alongside the writer instead of queueing for the
    write lock.  Writing through it is a bug (it could fail with "database is
    locked").  On PostgreSQL it is the engine as it is.
    """
    return engine.execution_options(**{READ_ONLY: True})


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on error."""
    with factory() as session, session.begin():
        yield session


def upsert_insert(session: Session, table: type[Base] | Table) -> postgresql.Insert | sqlite.Insert:
    """An ``INSERT`` into ``table`` that takes ``ON CONFLICT`` clauses (PostgreSQL or SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


_M = TypeVar("_M", bound=Base)


def locked(session: Session, model: type[_M], row_id: int) -> _M | None:
    """The row ``row_id`` of ``model``, locked for update and read afresh (None: no such row)."""
    return session.get(model, row_id, with_for_update=True, populate_existing=True)
