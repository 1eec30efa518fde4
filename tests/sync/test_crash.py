"""Crash safety: a console killed with SIGKILL at random points, again and again.

``crash_worker`` applies commands and syncs against the real server on a
loopback port, printing each command the moment the user would see it (its
transaction committed).  Every round restarts it on the same cache and kills it
at a point drawn from a seeded random generator — counted in lines it printed,
in SQL statements it issued (so inside a transaction) or in HTTP responses it
received (the server committed, the client not yet) — never by wall-clock time.
After the last round a clean sync must leave: every acknowledged command on the
server exactly once, nothing duplicated, the outbox empty, the cache equal to
the server, and a sound SQLite file.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from server.models import AppliedMutation, Comment
from sync.cache import Cache
from sync.client import ApiClient
from sync.engine import SyncEngine
from sync.store import Store

from .live_server import LiveServer

ROOT = Path(__file__).resolve().parents[2]
SEED = 20260302
ROUNDS = 18
COMMANDS_PER_ROUND = 30
#: a round that has not ended by then is a hang, not a slow machine
ROUND_WATCHDOG_SECONDS = 60.0


@dataclass(frozen=True)
class Ack:
    mutation_id: str
    kind: str
    ticket_id: int
    detail: str


@dataclass
class Round:
    mode: str
    limit: int
    acks: list[Ack] = field(default_factory=list)
    lines: int = 0
    killed: bool = False
    finished: bool = False


def _sync(cache_file: Path, url: str, token: str, user_id: int) -> tuple[Cache, Store]:
    """A clean (uninterrupted) sync in this process; the cache is left open."""
    cache = Cache.open(cache_file)
    store = Store(cache, user_id=user_id)

    async def run() -> None:
        async with ApiClient(url, token=token) as client:
            engine = SyncEngine(store, client, live=False, offload=False)
            for _attempt in range(3):
                report = await engine.sync_once()
                assert report.ok, engine.status.error
                if not store.queued():
                    return

    asyncio.run(run())
    return cache, store


def _run_round(number: int, rng: random.Random, config: dict[str, Any], token: str) -> Round:
    mode = rng.choice(("lines", "lines", "sql", "http"))
    limit = {
        "lines": lambda: rng.randint(1, 70),
        "sql": lambda: rng.randint(5, 900),
        "http": lambda: rng.randint(1, 14),
    }[mode]()
    this = Round(mode, limit)
    config = {
        **config,
        "seed": rng.randrange(2**32),
        "tag": f"round{number}",
        "die_at": [mode, limit] if mode != "lines" else None,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.sync.crash_worker", json.dumps(config)],
        cwd=ROOT,
        env={**os.environ, "OFFIMIZER_TOKEN": token},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(ROUND_WATCHDOG_SECONDS, process.kill)
    watchdog.start()
    try:
        assert process.stdout is not None
        for line in process.stdout:  # to EOF: what was printed before the kill counts too
            this.lines += 1
            words = line.split()
            if words[0] == "ack":
                this.acks.append(Ack(words[1], words[2], int(words[3]), words[4]))
            elif words[0] == "done":
                this.finished = True
            if mode == "lines" and this.lines == limit:
                process.send_signal(signal.SIGKILL)
        _out, errors = process.communicate()
    finally:
        watchdog.cancel()
    this.killed = process.returncode == -signal.SIGKILL
    assert this.killed or (process.returncode == 0 and this.finished), errors
    return this


@pytest.mark.slow
def test_nothing_acknowledged_is_lost_or_duplicated_across_sigkills(
    live: LiveServer, tmp_path: Path
) -> None:
    tickets = [live.open_ticket(f"Crash test ticket {n}")["id"] for n in range(3)]
    token = live.token("alice")
    user_id = live.ids["alice"]
    cache_file = tmp_path / "console" / "cache.sqlite3"
    cache, _store = _sync(cache_file, live.url, token, user_id)  # the tickets, cached
    cache.close()

    rng = random.Random(SEED)
    base = {
        "cache": str(cache_file),
        "url": live.url,
        "user_id": user_id,
        "tickets": tickets,
        "commands": COMMANDS_PER_ROUND,
        "batch": 7,  # several pushes a sync: more places to be killed in between
    }
    rounds = [_run_round(number, rng, base, token) for number in range(ROUNDS)]
    acks = [ack for r in rounds for ack in r.acks]
    # the rounds really were cut short, in every way, with work acknowledged
    assert sum(r.killed for r in rounds) >= ROUNDS - 3
    assert {r.mode for r in rounds if r.killed} == {"lines", "sql", "http"}
    assert len(acks) >= ROUNDS
    assert len({a.mutation_id for a in acks}) == len(acks)

    cache, store = _sync(cache_file, live.url, token, user_id)
    try:
        assert cache.notice is None  # never found unreadable: no rebuild hid anything
        assert store.queued() == []
        assert store.pending_count() == 0

        # every acknowledged command reached the server, once (mutation ids are its key)
        with live.engine.connect() as connection:
            answers = {
                row.mutation_id: row.result["status"]
                for row in connection.execute(select(AppliedMutation))
            }
            bodies = Counter(
                connection.execute(
                    select(Comment.body).where(Comment.ticket_id.in_(tickets))
                ).scalars()
            )
        missing = [a for a in acks if a.mutation_id not in answers]
        assert missing == []
        # a comment never clashes: each acknowledged one is there exactly once
        comment_acks = [a for a in acks if a.kind == "add_comment"]
        assert comment_acks
        assert {a.detail: bodies[a.detail] for a in comment_acks} == {
            a.detail: 1 for a in comment_acks
        }
        assert [body for body, count in bodies.items() if count > 1] == []
        # a status change the server refused as a conflict is kept for the user, not dropped
        recorded = {str(c.command.mutation_id) for c in store.conflicts(unresolved_only=False)}
        for ack in acks:
            if answers[ack.mutation_id] == "conflict":
                assert ack.mutation_id in recorded
            else:
                assert answers[ack.mutation_id] == "applied"

        # the cache shows exactly the server's state for those tickets
        for ticket_id in tickets:
            on_server = live.call("GET", f"/tickets/{ticket_id}", username="alice")
            cached = cache.ticket(ticket_id)
            assert cached is not None
            assert not cached.pending
            assert (cached.status, cached.version, cached.updated_at) == (
                on_server["status"],
                on_server["version"],
                dt.datetime.fromisoformat(on_server["updated_at"]),
            )
            assert [(c.server_id, c.body) for c in cache.comments(ticket_id)] == [
                (c["id"], c["body"]) for c in on_server["comments"]
            ]
            assert [(h.server_id, h.field, h.after) for h in cache.history(ticket_id)] == [
                (h["id"], h["field"], h["after"]) for h in on_server["history"]
            ]
        # and full-text search finds what was written between the kills
        last = comment_acks[-1]
        assert cache.search(last.detail, prefix=False) == [last.ticket_id]
    finally:
        cache.close()

    with sqlite3.connect(cache_file) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        # FTS5's own check: the index agrees with the rows it was built from
        connection.execute("INSERT INTO ticket_search (ticket_search) VALUES ('integrity-check')")
