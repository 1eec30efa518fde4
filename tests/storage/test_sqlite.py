"""SQLite engines: foreign keys, the write-ahead log, and who takes the write lock up front."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from storage.sqlite import sqlite_engine


def _begun(engine: Engine, **options: object) -> list[str]:
    """The statements that began a transaction on ``engine`` with these options."""
    statements: list[str] = []
    with engine.connect() as connection:
        raw = connection.connection.driver_connection
        assert isinstance(raw, sqlite3.Connection)
        raw.set_trace_callback(statements.append)
        connection.execution_options(**options)
        with connection.begin():
            connection.execute(text("SELECT 1"))
        raw.set_trace_callback(None)
    return [s for s in statements if s.startswith("BEGIN")]


def test_every_connection_has_foreign_keys_wal_and_a_busy_timeout(tmp_path: Path) -> None:
    engine = sqlite_engine(f"sqlite:///{tmp_path / 'a.db'}", immediate_unless="read_only")
    try:
        with engine.connect() as connection:
            pragma = connection.exec_driver_sql
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA busy_timeout").scalar() == 30_000
    finally:
        engine.dispose()


def test_synchronous_is_set_when_asked(tmp_path: Path) -> None:
    engine = sqlite_engine(
        f"sqlite:///{tmp_path / 'a.db'}", immediate_if="writer", synchronous="NORMAL"
    )
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1
    finally:
        engine.dispose()


def test_the_server_writes_unless_reading_and_the_cache_reads_unless_writing(
    tmp_path: Path,
) -> None:
    server = sqlite_engine(f"sqlite:///{tmp_path / 's.db'}", immediate_unless="read_only")
    cache = sqlite_engine(f"sqlite:///{tmp_path / 'c.db'}", immediate_if="writer")
    try:
        assert _begun(server) == ["BEGIN IMMEDIATE"]
        assert _begun(server, read_only=True) == ["BEGIN"]
        assert _begun(cache) == ["BEGIN"]
        assert _begun(cache, writer=True) == ["BEGIN IMMEDIATE"]
    finally:
        server.dispose()
        cache.dispose()


def test_the_begin_rule_is_given_once_and_settings_are_checked() -> None:
    with pytest.raises(TypeError):
        sqlite_engine("sqlite://")
    with pytest.raises(TypeError):
        sqlite_engine("sqlite://", immediate_if="a", immediate_unless="b")
    with pytest.raises(ValueError, match="synchronous"):
        sqlite_engine("sqlite://", immediate_if="a", synchronous="SOMETIMES")  # type: ignore[arg-type]  # the bad value checked
