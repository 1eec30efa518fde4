"""Fixtures of the sync tests: a clock the test moves, server rows, a fresh cache, the
real server on a loopback port and a console's cache beside it."""

from __future__ import annotations

import datetime as dt
import itertools
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from protocol import ChangePage
from protocol.pages import PageBuilder
from sync.cache import Cache
from sync.store import Store
from tests.clock import T0 as T0
from tests.clock import FakeClock as FakeClock
from tests.sync.live_server import LiveServer


def _clock(when: dt.datetime) -> dict[str, Any]:
    return {
        "state": "running",
        "target_seconds": 3600,
        "elapsed_seconds": 0,
        "remaining_seconds": 3600,
        "due": (when + dt.timedelta(hours=1)).isoformat(),
    }


def ticket(ticket_id: int, version: int = 1, **fields: Any) -> dict[str, Any]:
    """A ticket as the server sends it on the wire."""
    when = fields.pop("at", T0)
    row: dict[str, Any] = {
        "id": ticket_id,
        "tracking_number": f"INC-2026-{ticket_id:06d}",
        "subject": f"Ticket {ticket_id}",
        "description": "",
        "requester_name": "Alice Martin",
        "requester_email": "alice@example.com",
        "organisation_id": 1,
        "priority": "P3",
        "severity": "minor",
        "status": "open",
        "team_id": 1,
        "assignee_id": None,
        "tags": [],
        "version": version,
        "created_at": T0.isoformat(),
        "updated_at": when.isoformat(),
        "sla": {
            "as_of": when.isoformat(),
            "plan": "enterprise",
            "response": _clock(when),
            "resolution": _clock(when),
        },
    }
    row.update(fields)
    return row


def comment(comment_id: int, ticket_id: int, body: str, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": comment_id,
        "ticket_id": ticket_id,
        "author_id": 7,
        "body": body,
        "public": True,
        "created_at": T0.isoformat(),
    }
    row.update(fields)
    return row


def history(
    entry_id: int, ticket_id: int, version: int, field: str = "status", **fields: Any
) -> dict[str, Any]:
    """A history entry as the server sends it: every version of a ticket has one."""
    row: dict[str, Any] = {
        "id": entry_id,
        "ticket_id": ticket_id,
        "version": version,
        "actor_id": 7,
        "at": T0.isoformat(),
        "field": field,
        "before": None,
        "after": None,
    }
    row.update(fields)
    return row


def me(*team_ids: int, role: str = "agent") -> dict[str, Any]:
    """The signed-in user's record (id 42, as the ``store`` fixture's) on the wire."""
    return {
        "id": 42,
        "username": "alice",
        "display_name": "Alice",
        "email": "alice@example.com",
        "role": role,
        "active": True,
        "team_ids": list(team_ids),
    }


#: one numbering for every page of a test run: each page's cursors follow the last one's
_numbers = itertools.count(1)


def page(*changes: tuple[str, int, dict[str, Any] | None], has_more: bool = False) -> ChangePage:
    """A page of the change feed: (entity, id, data or None for a tombstone)."""
    builder = PageBuilder(numbers=_numbers)
    for entity, entity_id, data in changes:
        builder.add(entity, entity_id, data)
    return builder.page(has_more=has_more)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cache_file(tmp_path: Path) -> Path:
    return tmp_path / "data" / "caches" / "cache.sqlite3"


@pytest.fixture
def cache(cache_file: Path, clock: FakeClock) -> Iterator[Cache]:
    with Cache.open(cache_file, clock=clock) as opened:
        yield opened


@pytest.fixture
def store(cache: Cache) -> Store:
    return Store(cache, user_id=42)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    """The reference server on a loopback port, for the end-to-end tests."""
    with LiveServer.create(tmp_path).serving() as server:
        yield server


@pytest.fixture
def console_store(tmp_path: Path) -> Iterator[Store]:
    """The cache of a console of the live server (whose user the first pull says)."""
    with Cache.open(tmp_path / "console" / "cache.sqlite3") as cache:
        yield Store(cache)


def garble_every_other_page(cache_file: Path, pages_query: str) -> list[int]:
    """Overwrite part of every other SQLite page that ``pages_query`` (on ``dbstat``)
    lists, as a failing disk would; the pages it listed."""
    reader = sqlite3.connect(cache_file)
    try:
        pages = [pageno for (pageno,) in reader.execute(pages_query)]
    finally:
        reader.close()
    data = bytearray(cache_file.read_bytes())
    for pageno in pages[::2]:
        offset = (pageno - 1) * 4096
        data[offset + 100 : offset + 400] = b"\xff" * 300
    cache_file.write_bytes(bytes(data))
    return pages
