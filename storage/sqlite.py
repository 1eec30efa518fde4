"""SQLite engines configured the one way the server and the console's cache both need.

Every connection gets foreign keys, the write-ahead log (readers never block the
writer) and a 30-second busy timeout.  Python's driver is kept from beginning
transactions by itself: the engine issues ``BEGIN`` itself, so that a writer can
take the write lock up front (``BEGIN IMMEDIATE``) instead of failing with
"database is locked" when a read inside its transaction upgrades to a write.

The server and the cache differ in which transactions are writers by default, so
each says so: the server begins every transaction immediate unless it is marked
read-only; the cache begins plain transactions unless marked as a writer.
"""

from __future__ import annotations

from typing import Any, Final, Literal, get_args

from sqlalchemy import Connection, Engine, create_engine, event

__all__ = ["BUSY_TIMEOUT_SECONDS", "Synchronous", "sqlite_engine"]

#: How long a connection waits for another's write lock before giving up.
BUSY_TIMEOUT_SECONDS: Final = 30

Synchronous = Literal["OFF", "NORMAL", "FULL", "EXTRA"]


def sqlite_engine(
    url: str,
    *,
    immediate_if: str | None = None,
    immediate_unless: str | None = None,
    synchronous: Synchronous | None = None,
    **options: Any,
) -> Engine:
    """An engine for the SQLite database at ``url``.

    Exactly one of ``immediate_if`` and ``immediate_unless`` names the execution
    option that decides how a transaction begins: ``BEGIN IMMEDIATE`` when the
    option ``immediate_if`` is set (plain ``BEGIN`` otherwise), or ``BEGIN
    IMMEDIATE`` unless the option ``immediate_unless`` is set.  ``synchronous``
    sets SQLite's ``PRAGMA synchronous`` on every connection (None: SQLite's
    default).  ``options`` go to :func:`sqlalchemy.create_engine`.
    """
    if (immediate_if is None) == (immediate_unless is None):
        raise TypeError("give exactly one of immediate_if and immediate_unless")
    if synchronous is not None and synchronous not in get_args(Synchronous):
        raise ValueError(f"not a synchronous setting: {synchronous!r}")
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_SECONDS}, **options)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # transactions are begun below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        if synchronous is not None:
            cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.close()

    option = immediate_if if immediate_if is not None else immediate_unless
    assert option is not None
    immediate_when_set = immediate_if is not None

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        marked = bool(connection.get_execution_options().get(option, False))
        immediate = marked if immediate_when_set else not marked
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
