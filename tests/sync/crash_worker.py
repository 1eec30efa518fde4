"""A console that works and syncs until it is killed: the subject of ``test_crash.py``.

Run as ``python -m tests.sync.crash_worker CONFIG_JSON`` from the repository root,
with the bearer token in ``OFFIMIZER_TOKEN``.  It opens the cache, then applies
random commands (comments with unique text, status changes) to the given
tickets, syncing every few commands against the server.  Each command's line
``ack <mutation id> <kind> <ticket> <detail>`` is printed (and flushed) only
once :class:`~sync.store.Store` has returned, i.e. once the command's
transaction is committed: exactly what the user would have seen on screen.
Other lines (``sync``, ``http``, ``synced``) mark progress through a sync, so a
test killing the process after *k* lines lands anywhere in the cycle.

``die_at`` makes the process SIGKILL itself, deterministically: ``["sql", n]``
just before the cache's *n*-th SQL statement since start (inside a transaction),
``["http", n]`` right after the *n*-th response arrived (the server committed,
the client has not recorded the answer yet).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event

from protocol import Status
from sync.cache import Cache
from sync.client import ApiClient
from sync.engine import SyncEngine
from sync.store import Store

STATUSES = (Status.OPEN, Status.PENDING, Status.RESOLVED)


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class Countdown:
    """Kills the process when the event it counts reaches ``limit`` (never when None)."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.seen = 0

    def tick(self) -> None:
        self.seen += 1
        if self.limit is not None and self.seen >= self.limit:
            die()


class TracingTransport(httpx.AsyncHTTPTransport):
    """Says when a response arrived (the server has committed by then)."""

    def __init__(self, countdown: Countdown) -> None:
        super().__init__()
        self.countdown = countdown

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        await response.aread()
        say(f"http {request.method} {request.url.path} {response.status_code}")
        self.countdown.tick()
        return response


async def work(config: dict[str, Any]) -> None:
    rng = random.Random(config["seed"])
    die_at: list[Any] = config.get("die_at") or [None, None]
    sql = Countdown(die_at[1] if die_at[0] == "sql" else None)
    http = Countdown(die_at[1] if die_at[0] == "http" else None)

    cache = Cache.open(Path(config["cache"]))
    event.listen(cache.engine, "before_cursor_execute", lambda *_args: sql.tick())
    store = Store(cache, user_id=config["user_id"])
    client = ApiClient(
        config["url"], token=os.environ["OFFIMIZER_TOKEN"], transport=TracingTransport(http)
    )
    engine = SyncEngine(store, client, live=False, offload=False, batch_size=config["batch"])
    tickets: list[int] = config["tickets"]
    tag = config["tag"]
    say("ready")
    for number in range(config["commands"]):
        ticket_id = rng.choice(tickets)
        if rng.random() < 0.7:
            body = f"{tag}-{number}"
            mutation_id = store.add_comment(ticket_id, body, public=rng.random() < 0.5)
            say(f"ack {mutation_id} add_comment {ticket_id} {body}")
        else:
            status = rng.choice(STATUSES)
            mutation_id = store.set_status(ticket_id, status)
            say(f"ack {mutation_id} set_status {ticket_id} {status.value}")
        if rng.random() < 0.35:
            say("sync")
            report = await engine.sync_once()
            say(f"synced {report.ok} pushed={report.pushed} changes={report.changes}")
    await client.aclose()
    cache.close()
    say("done")


def main() -> None:
    asyncio.run(work(json.loads(sys.argv[1])))


if __name__ == "__main__":
    main()
