"""Requests that wait for the server: kept in the cache until it has answered them.

What a user does to tickets offline is a command in the outbox (:mod:`sync.outbox`).
A few other requests may wait for the server too, publishing an announcement typed
while it could not be reached for one: rather than refuse them, the console keeps
them here, in the order they were made, each with an idempotency key that the
request itself carries (its ``mutation_id``).  The sync engine sends them after the
outbox: one sent again because its answer was lost is answered by the server with
what it did the first time, and not done twice.  One the server refuses is never
sent again; it stays, with the server's reason, until the user has read it.

:class:`sync.store.Store` owns the table and says what changed
(:meth:`~sync.store.Store.defer` and the methods after it); the functions here
work on the connection it gives them.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection, delete, func, insert, select, update

from protocol import AnnouncementIn
from sync import schema

if TYPE_CHECKING:  # (the cache salvages calls, and the client needs the cache)
    from sync.client import ApiClient

__all__ = [
    "CallKind",
    "DeferredCall",
    "attempted",
    "count",
    "dismiss",
    "keep",
    "read",
    "refuse",
    "send",
    "sent",
]

log = logging.getLogger(__name__)


class CallKind(StrEnum):
    """The requests that may wait for the server."""

    CREATE_ANNOUNCEMENT = "create_announcement"


@dataclass(frozen=True, slots=True)
class DeferredCall:
    """One request, with the key that makes sending it again harmless."""

    kind: CallKind
    key: UUID
    #: the request's body as sent on the wire, its key included
    payload: dict[str, Any]
    #: its place in the queue (None until kept)
    seq: int | None = None
    created_at: dt.datetime | None = None
    attempts: int = 0
    last_error: str | None = None
    #: why the server refused it, in the user's language (None while it waits)
    refusal: str | None = None

    @classmethod
    def create_announcement(cls, body: AnnouncementIn, *, key: UUID | None = None) -> DeferredCall:
        """Publishing ``body``, under ``key`` (its own ``mutation_id``, or a new one)."""
        key = key or body.mutation_id or uuid4()
        keyed = body.model_copy(update={"mutation_id": key})
        return cls(CallKind.CREATE_ANNOUNCEMENT, key, keyed.model_dump(mode="json"))

    def announcement(self) -> AnnouncementIn:
        """The announcement a :attr:`CallKind.CREATE_ANNOUNCEMENT` publishes."""
        return AnnouncementIn.model_validate(self.payload)


async def send(client: ApiClient, call: DeferredCall) -> BaseModel:
    """Make the request; the server's answer, or the client's :class:`~sync.client.ApiError`."""
    if call.kind is CallKind.CREATE_ANNOUNCEMENT:
        return await client.create_announcement(call.announcement())
    raise ValueError(f"no request of kind {call.kind!r}")  # pragma: no cover - closed enum


# -- the table, on the store's connection ----------------------------------------------


def keep(connection: Connection, call: DeferredCall, now: dt.datetime) -> DeferredCall:
    """Queue ``call`` after the others; the call as kept."""
    result = connection.execute(
        insert(schema.deferred_calls).values(
            key=str(call.key), kind=call.kind.value, payload=call.payload, created_at=now
        )
    )
    primary = result.inserted_primary_key
    assert primary is not None
    return DeferredCall(call.kind, call.key, call.payload, seq=int(primary[0]), created_at=now)


def read(connection: Connection, *, refused: bool = False) -> list[DeferredCall]:
    """The calls waiting to be sent (or, with ``refused``, those the server refused), in
    order.  A row this version cannot read (a kind it does not know, a damaged payload)
    is left where it is, for a version that can."""
    d = schema.deferred_calls.c
    query = select(schema.deferred_calls).order_by(d.seq)
    query = query.where(d.refused_at.is_not(None) if refused else d.refused_at.is_(None))
    calls: list[DeferredCall] = []
    for row in connection.execute(query):
        try:
            call = DeferredCall(
                CallKind(row.kind),
                UUID(row.key),
                dict(row.payload),
                seq=row.seq,
                created_at=row.created_at,
                attempts=row.attempts,
                last_error=row.last_error,
                refusal=row.refusal,
            )
            if call.kind is CallKind.CREATE_ANNOUNCEMENT:
                call.announcement()  # a payload that is not one would fail every pass
        except (ValueError, TypeError, ValidationError) as error:
            log.warning("deferred call %s cannot be read, left as is: %s", row.seq, error)
            continue
        calls.append(call)
    return calls


def count(connection: Connection, *, refused: bool = False) -> int:
    d = schema.deferred_calls.c
    where = d.refused_at.is_not(None) if refused else d.refused_at.is_(None)
    return int(connection.execute(select(func.count()).where(where)).scalar_one())


def sent(connection: Connection, call: DeferredCall) -> bool:
    """The server has done it: it leaves the queue.  False when it was not queued."""
    d = schema.deferred_calls.c
    return bool(connection.execute(delete(schema.deferred_calls).where(d.seq == call.seq)).rowcount)


def attempted(
    connection: Connection, call: DeferredCall, error: str | None, now: dt.datetime
) -> bool:
    """Count a try that did not get an answer (``error`` says why, for the log)."""
    d = schema.deferred_calls.c
    return bool(
        connection.execute(
            update(schema.deferred_calls)
            .where(d.seq == call.seq)
            .values(attempts=d.attempts + 1, last_attempt_at=now, last_error=error)
        ).rowcount
    )


def refuse(connection: Connection, call: DeferredCall, reason: str, now: dt.datetime) -> bool:
    """The server said no: kept with ``reason`` for the user, never sent again."""
    d = schema.deferred_calls.c
    return bool(
        connection.execute(
            update(schema.deferred_calls)
            .where(d.seq == call.seq, d.refused_at.is_(None))
            .values(refused_at=now, refusal=reason, attempts=d.attempts + 1, last_attempt_at=now)
        ).rowcount
    )


def dismiss(connection: Connection, call: DeferredCall) -> bool:
    """The user has read why a call was refused: it goes."""
    d = schema.deferred_calls.c
    return bool(
        connection.execute(
            delete(schema.deferred_calls).where(d.seq == call.seq, d.refused_at.is_not(None))
        ).rowcount
    )
