"""What a cache that cannot be read leaves to save: the user's unsent commands.

:class:`sync.cache.Cache` rebuilds an unsound file in three steps, each here:
its outbox is read back row by row (:func:`salvage_outbox`) and exported beside
it (:func:`write_private_json`) before anything touches the file; the file is
moved aside, never deleted (:func:`set_aside`); and in the fresh cache every
salvaged row that is still a well-formed command is queued again
(:func:`requeue`), its mutation id making a second delivery harmless.  The
requests that waited for the server (:mod:`sync.deferred`) are saved the same way
(:func:`salvage_calls`, :func:`requeue_call`), each under its key.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
from pathlib import Path
from typing import Any
from uuid import UUID

from pydantic import ValidationError
from sqlalchemy import Connection
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from protocol import AnnouncementIn
from sync import schema
from sync.deferred import CallKind
from sync.outbox import outbox_row, parse_command
from sync.rows import instant

__all__ = [
    "requeue",
    "requeue_call",
    "salvage_calls",
    "salvage_outbox",
    "set_aside",
    "write_private_json",
]


def salvage_outbox(path: Path) -> tuple[list[dict[str, Any]], int]:
    """Every outbox row that can still be read from ``path`` (in order), and how many cannot."""
    return _salvage(path, "outbox")


def salvage_calls(path: Path) -> tuple[list[dict[str, Any]], int]:
    """Every waiting request (``deferred_calls``) still readable from ``path`` (in order),
    and how many cannot be read (none from a cache older than the table)."""
    return _salvage(path, "deferred_calls")


def _salvage(path: Path, table: str) -> tuple[list[dict[str, Any]], int]:
    """Every row of ``table`` (numbered by ``seq``) still readable from ``path``."""
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
            for (seq,) in connection.execute(f"SELECT seq FROM {table} ORDER BY seq"):
                seqs.append(int(seq))
        except sqlite3.Error:
            complete = False
        if not complete:
            # the table scan broke part way: probe every sequence number up to the highest
            try:
                top = connection.execute(f"SELECT max(seq) FROM {table}").fetchone()[0]
                seqs = list(range(1, int(top or 0) + 1))
            except sqlite3.Error:
                pass
        for seq in seqs:
            try:
                cursor = connection.execute(f"SELECT * FROM {table} WHERE seq = ?", (seq,))
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


def write_private_json(path: Path, document: Any) -> None:
    """Write ``document`` as JSON to the new file ``path``, readable by its owner only."""
    data = json.dumps(document, indent=2, ensure_ascii=False, default=str).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def set_aside(path: Path, stamp: str) -> Path:
    """Move the file at ``path`` (and its SQLite side files) aside; where it went."""
    moved = path.with_name(f"{path.name}.corrupt-{stamp}")
    path.rename(moved)
    for suffix in ("-wal", "-shm", "-journal"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            # keeps SQLite's pairing, so the moved file can still be opened for forensics
            side.rename(moved.with_name(moved.name + suffix))
    return moved


def _created_at(row: dict[str, Any], now: dt.datetime) -> dt.datetime:
    """When a salvaged row was made, as it says if it can still be read; else ``now``."""
    created = now
    with contextlib.suppress(TypeError, ValueError):
        created = instant(row.get("created_at")) or now
    return created


def requeue(connection: Connection, row: dict[str, Any], now: dt.datetime) -> int:
    """Queue a salvaged outbox row again if it is a well-formed command; 1 if it was."""
    try:
        cmd = parse_command(row.get("payload"))
    except ValidationError:
        return 0
    result = connection.execute(
        sqlite_insert(schema.outbox)
        .values(outbox_row(cmd, _created_at(row, now)))
        .on_conflict_do_nothing()
    )
    return int(result.rowcount)


def requeue_call(connection: Connection, row: dict[str, Any], now: dt.datetime) -> int:
    """Queue a salvaged request again, under its key, if it is one still waiting and
    readable; 1 if it was (one the server refused was read already: not again)."""
    if row.get("refused_at") is not None:
        return 0
    try:
        kind, key = CallKind(str(row.get("kind"))), UUID(str(row.get("key")))
        payload = row.get("payload")
        if not isinstance(payload, dict):
            return 0
        if kind is CallKind.CREATE_ANNOUNCEMENT:
            AnnouncementIn.model_validate(payload)
    except (ValueError, ValidationError):
        return 0
    created = _created_at(row, now)
    result = connection.execute(
        sqlite_insert(schema.deferred_calls)
        .values(key=str(key), kind=kind.value, payload=payload, created_at=created)
        .on_conflict_do_nothing()
    )
    return int(result.rowcount)
