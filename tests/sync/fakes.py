"""Test doubles for the network half: a scripted in-memory server behind
``httpx.MockTransport``, a sleep that records instead of waiting, a timer the
test releases by hand."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import json
from collections.abc import AsyncIterator, Callable
from typing import Any
from uuid import UUID

import httpx

from sync.engine import SyncState, SyncStatus

from .conftest import T0, comment, history, me, ticket

Fault = Callable[[httpx.Request], httpx.Response]


def http_date(when: dt.datetime) -> str:
    return email.utils.format_datetime(when.astimezone(dt.UTC), usegmt=True)


class RecordingSleep:
    """``asyncio.sleep`` that only remembers how long it was asked to wait."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


class ManualTimer:
    """The engine's timer: each pause lasts until the test calls :meth:`fire`."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self._waiters: list[asyncio.Future[None]] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        await waiter

    def fire(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


class FakeServer:
    """Just enough of the OFFIMIZER API to drive the client and the engine.

    Commands really change its tickets (compare-and-set on assign/set_status,
    exactly once per mutation id) and every change goes to its feed, so a pull
    after a push shows the pushed state.  ``faults`` are consumed one per
    request, before anything else (None: no fault for that request).
    """

    def __init__(self, token: str = "secret-token") -> None:
        self.token: str | None = token
        self.now = T0 + dt.timedelta(seconds=5)  # the server's clock: 5 s ahead
        self.tickets: dict[int, dict[str, Any]] = {}
        self.log: list[tuple[str, int, dict[str, Any] | None]] = []
        self.answers: dict[str, dict[str, Any]] = {}
        self.executions: list[str] = []  # mutation ids actually applied
        self.requests: list[httpx.Request] = []
        self.faults: list[Fault | None] = []
        self.next_comment = 1000
        self.next_entry = 5000
        self.events: list[bytes] = []  # SSE bodies, one per /events request
        self.revoked: list[str] = []

    # -- data --------------------------------------------------------------------------

    def add_ticket(self, ticket_id: int, **fields: Any) -> None:
        row = ticket(ticket_id, 1, **fields)
        self.tickets[ticket_id] = row
        # (its "created" entry is left out: tests count a new ticket as one change)
        self.log.append(("ticket", ticket_id, dict(row)))

    def change_ticket(self, ticket_id: int, **fields: Any) -> None:
        """A new version of the ticket: its row, then its history entry (as the server)."""
        row = self.tickets[ticket_id]
        row.update(fields)
        row["version"] += 1
        self.log.append(("ticket", ticket_id, dict(row)))
        self._entry(ticket_id, row["version"], next(iter(fields), "tag_added"))

    def _entry(self, ticket_id: int, version: int, field: str) -> None:
        self.next_entry += 1
        self.log.append(
            ("history", self.next_entry, history(self.next_entry, ticket_id, version, field))
        )

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]

    # -- HTTP --------------------------------------------------------------------------

    def _json(self, status: int, body: Any, **headers: str) -> httpx.Response:
        return httpx.Response(status, json=body, headers={"Date": http_date(self.now), **headers})

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.faults:
            fault = self.faults.pop(0)
            if fault is not None:
                return fault(request)
        path = request.url.path.removeprefix("/api/v1")
        if path == "/auth/token":
            body = json.loads(request.content)
            if body["password"] != "right":
                return self._json(401, {"code": "invalid_credentials", "message": "Wrong."})
            self.token = f"token-{len(self.requests)}"
            expires = (self.now + dt.timedelta(hours=12)).isoformat()
            return self._json(200, {"access_token": self.token, "expires_at": expires})
        if request.headers.get("Authorization") != f"Bearer {self.token}" or not self.token:
            return self._json(401, {"code": "invalid_token", "message": "Sign in again."})
        if path == "/auth/logout":
            self.revoked.append(self.token)
            self.token = None
            return httpx.Response(204, headers={"Date": http_date(self.now)})
        if path == "/me":
            return self._json(200, me(1))
        if path == "/changes":
            return self._changes(request)
        if path == "/commands":
            return self._commands(json.loads(request.content)["commands"])
        if path.startswith("/tickets/"):
            return self._ticket(int(path.removeprefix("/tickets/")))
        if path == "/events":
            body = self.events.pop(0) if self.events else b""
            return httpx.Response(200, content=body, headers={"Content-Type": "text/event-stream"})
        return self._json(404, {"code": "http_404", "message": "Not found."})

    def _ticket(self, ticket_id: int) -> httpx.Response:
        row = self.tickets.get(ticket_id)
        if row is None:
            return self._json(404, {"code": "not_found", "message": "Not found."})
        children = {
            entity: [data for kind, _id, data in self.log if kind == entity and data is not None]
            for entity in ("comment", "history")
        }
        detail = {
            **row,
            "comments": [c for c in children["comment"] if c["ticket_id"] == ticket_id],
            "history": [h for h in children["history"] if h["ticket_id"] == ticket_id],
        }
        return self._json(200, detail)

    def _changes(self, request: httpx.Request) -> httpx.Response:
        cursor = int(request.url.params.get("cursor", "0"))
        limit = int(request.url.params["limit"])
        if cursor > len(self.log):
            return self._json(410, {"code": "invalid_cursor", "message": "Unknown cursor."})
        rows = self.log[cursor : cursor + limit]
        next_seq = cursor + len(rows)
        changes = [
            {
                "seq": cursor + i + 1,
                "cursor": str(cursor + i + 1),
                "entity": entity,
                "id": entity_id,
                "op": "upsert" if data is not None else "delete",
                "data": data,
            }
            for i, (entity, entity_id, data) in enumerate(rows)
        ]
        body = {
            "changes": changes,
            "next_cursor": str(next_seq),
            "has_more": next_seq < len(self.log),
            "estimate": len(self.log) - next_seq,
        }
        return self._json(200, body)

    def _commands(self, commands: list[dict[str, Any]]) -> httpx.Response:
        results = []
        for command in commands:
            key = command["mutation_id"]
            if key not in self.answers:
                self.answers[key] = self._apply(command)
            results.append(self.answers[key])
        return self._json(200, {"results": results})

    def _apply(self, command: dict[str, Any]) -> dict[str, Any]:
        key = command["mutation_id"]
        UUID(key)
        row = self.tickets.get(command["ticket_id"])
        if row is None:
            return {
                "status": "rejected",
                "mutation_id": key,
                "ticket_id": command["ticket_id"],
                "reason": "not_found",
                "message": "No such ticket.",
            }
        kind = command["type"]
        if kind in ("assign", "set_status") and command["base_version"] != row["version"]:
            field = "assignee_id" if kind == "assign" else "status"
            return {
                "status": "conflict",
                "mutation_id": key,
                "ticket_id": row["id"],
                "fields": [field],
                "ticket": dict(row),
            }
        self.executions.append(key)
        if kind == "assign":
            self.change_ticket(row["id"], assignee_id=command["assignee_id"])
        elif kind == "set_status":
            self.change_ticket(row["id"], status=command["status"])
        elif kind == "add_comment":
            self.next_comment += 1
            self.change_ticket(row["id"])
            data = comment(self.next_comment, row["id"], command["body"], author_id=42)
            self.log.append(("comment", self.next_comment, data))
        else:
            self.change_ticket(row["id"])
        return {
            "status": "applied",
            "mutation_id": key,
            "ticket_id": row["id"],
            "version": row["version"],
        }


async def until(
    statuses: AsyncIterator[SyncStatus],
    predicate: Callable[[SyncStatus], bool],
    seen: list[SyncStatus] | None = None,
) -> SyncStatus:
    """The first status (from ``statuses``) satisfying ``predicate``; a hang guard of 10 s."""

    async def scan() -> SyncStatus:
        async for status in statuses:
            if seen is not None:
                seen.append(status)
            if predicate(status):
                return status
        raise AssertionError("the status stream ended")

    return await asyncio.wait_for(scan(), 10)


def state_is(state: SyncState) -> Callable[[SyncStatus], bool]:
    return lambda status: status.state is state


def retry_moved_from(retry_at: dt.datetime | None) -> Callable[[SyncStatus], bool]:
    """True of a status whose next try is no longer at ``retry_at``."""
    return lambda status: status.retry_at != retry_at
