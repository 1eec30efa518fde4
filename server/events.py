"""Live events: how committed changes reach the consoles connected to this process.

The stream itself (``GET /api/v1/events``) is :mod:`server.event_stream`; this
module tells it what to send.  A stream lasts as long as its token: every
``recheck`` seconds, whatever the traffic, one query checks the tokens of every
stream of the process, and those signed out, expired or of a disabled account
end.  A server that stops ends every stream at once (:meth:`EventHub.close`), so
consoles reconnect elsewhere.

How events travel: every transaction that publishes change-feed rows is seen by
session hooks installed here.  Within one process, after COMMIT, the hooks hand
the event to every :class:`EventHub` of the same database (an asyncio
broadcaster; writers run in worker threads).  On PostgreSQL the transaction also
runs ``pg_notify`` just before COMMIT: PostgreSQL delivers a notification only
when (and if) its transaction commits, in commit order, so other server
processes, each LISTENing on the channel with an async psycopg connection,
learn of it; a process ignores its own notifications (it delivered them
locally already).  After (re)connecting, a listener reports the current high
mark, so a notification lost while it was disconnected costs only latency.

A slow client never holds memory: a subscription keeps only the highest
sequence and the latest version of each announcement not yet sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import threading
import uuid
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Connection, Engine, event, select, true
from sqlalchemy.orm import Session, SessionTransaction, UOWTransaction, sessionmaker
from starlette.concurrency import run_in_threadpool

from protocol import AnnouncementOut
from server.changes import high_water
from server.db import make_sessionmaker, read_only, transaction
from server.models import Announcement, AuthToken, ChangeLog, User

log = logging.getLogger(__name__)

#: This process, as the origin of the notifications it sends.
ORIGIN: Final = uuid.uuid4().hex
CHANNEL_PREFIX: Final = "offimizer_events"
DEFAULT_HEARTBEAT: Final = 15.0
#: Seconds between checks of the streams' tokens (a revoked one ends within this).
DEFAULT_RECHECK: Final = 2.0
#: Tokens checked by one query at most.
_TOKENS_A_QUERY: Final = 500
#: Announcement ids carried by one notification at most (the payload stays small).
MAX_NOTIFIED_ANNOUNCEMENTS: Final = 50
_PENDING: Final = "offimizer.live_events"


@dataclass
class Batch:
    """What one committed transaction tells live consoles.

    ``scopes`` are the team ids of its feed rows (``None``: visible to all).
    """

    seq: int = 0
    scopes: set[int | None] = field(default_factory=set)
    announcements: dict[int, dict[str, Any] | None] = field(default_factory=dict)

    def payload(self) -> str:
        ids = list(self.announcements)[:MAX_NOTIFIED_ANNOUNCEMENTS]
        return json.dumps(
            {"origin": ORIGIN, "seq": self.seq, "teams": sorted(self.scopes, key=str), "ann": ids}
        )


def engine_key(bind: Engine | Connection) -> str:
    """The database ``bind`` is on (an engine, or a session's connection of one)."""
    return bind.engine.url.render_as_string(hide_password=True)


def announcement_out(row: Announcement) -> AnnouncementOut:
    return AnnouncementOut.model_validate(row, from_attributes=True)


# -- hooks on every session: collect, notify, deliver ---------------------------

_channels: dict[str, str] = {}
_hubs: dict[str, weakref.WeakSet[EventHub]] = {}
_hubs_lock = threading.Lock()


def channel_for_schema(schema: str | None) -> str:
    """One channel a schema: tests (and tenants) in other schemas stay apart."""
    if not schema or schema == "public":
        return CHANNEL_PREFIX
    safe = "".join(c if c.isalnum() or c == "_" else "_" for c in schema.lower())
    return f"{CHANNEL_PREFIX}_{safe}"[:63]


def _channel(session: Session) -> str:
    key = engine_key(session.get_bind())
    channel = _channels.get(key)
    if channel is None:
        schema = session.connection().exec_driver_sql("SELECT current_schema()").scalar()
        channel = _channels[key] = channel_for_schema(schema)
    return channel


@event.listens_for(Session, "after_flush")
def _collect(session: Session, _context: UOWTransaction) -> None:
    for row in session.new:
        if isinstance(row, ChangeLog):
            batch: Batch = session.info.setdefault(_PENDING, Batch())
            batch.seq = max(batch.seq, row.seq)
            batch.scopes.add(row.team_id)
            if row.entity == "announcement":
                batch.announcements[row.entity_id] = row.data


@event.listens_for(Session, "before_commit")
def _notify(session: Session) -> None:
    batch: Batch | None = session.info.get(_PENDING)
    if batch is None or session.get_bind().dialect.name != "postgresql":
        return
    # delivered by PostgreSQL when this transaction commits, never if it rolls back
    session.connection().exec_driver_sql(
        "SELECT pg_notify(%(channel)s, %(payload)s)",
        {"channel": _channel(session), "payload": batch.payload()},
    )


@event.listens_for(Session, "after_commit")
def _deliver(session: Session) -> None:
    batch: Batch | None = session.info.pop(_PENDING, None)
    if batch is None:
        return
    key = engine_key(session.get_bind())
    with _hubs_lock:
        hubs = list(_hubs.get(key, ()))
    for hub in hubs:
        hub.deliver_threadsafe(batch)


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, _previous: SessionTransaction) -> None:
    session.info.pop(_PENDING, None)


# -- the broadcaster ------------------------------------------------------------


class Subscription:
    """One connected console: what it has not been sent yet, coalesced.

    ``digest`` is its token's (:func:`~server.security.token_digest`); the stream
    ends once :attr:`ended` is set.
    """

    def __init__(self, teams: frozenset[int] | None, digest: str = "") -> None:
        self.teams = teams
        self.digest = digest
        self.ended = False
        self.sent_seq = 0
        self._seq = 0
        self._announcements: dict[int, dict[str, Any]] = {}
        self._ready = asyncio.Event()

    def sees(self, scopes: Iterable[int | None]) -> bool:
        if self.teams is None:
            return True
        return any(scope is None or scope in self.teams for scope in scopes)

    def end(self) -> None:
        self.ended = True
        self._ready.set()

    def offer(self, batch: Batch) -> None:
        if batch.seq > max(self._seq, self.sent_seq) and self.sees(batch.scopes):
            self._seq = batch.seq
            self._ready.set()
        for key, data in batch.announcements.items():
            if data is not None:
                self._announcements[key] = data
                self._ready.set()

    async def next(self, timeout: float) -> tuple[int | None, list[dict[str, Any]]] | None:
        """What to send now, or ``None`` after ``timeout`` seconds of nothing (or once
        ended)."""
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            return None
        if self.ended:
            return None
        self._ready.clear()
        seq = self._seq if self._seq > self.sent_seq else None
        if seq is not None:
            self.sent_seq = seq
        announcements = list(self._announcements.values())
        self._announcements.clear()
        return seq, announcements


class EventHub:
    """Broadcasts committed changes to the subscriptions of this process.

    On PostgreSQL it also listens to the other processes.  That listener, and the
    watcher of the subscriptions' tokens, start with the first subscription and
    stop with the last.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        listen: bool | None = None,
        heartbeat: float = DEFAULT_HEARTBEAT,
        recheck: float = DEFAULT_RECHECK,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.engine = engine
        #: Seconds between keep-alive comments (read when a stream starts).
        self.heartbeat = heartbeat
        #: Seconds between checks of the subscriptions' tokens.
        self.recheck = recheck
        self.clock = clock
        self.factory: sessionmaker[Session] = make_sessionmaker(engine)
        self._reader = read_only(engine)
        self.listen = engine.dialect.name == "postgresql" if listen is None else listen
        #: Set by :meth:`close`: the server is stopping, no stream stays or starts.
        self.closed = False
        self._subscriptions: set[Subscription] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listener: asyncio.Task[None] | None = None
        self._listening: asyncio.Event | None = None
        self._watcher: asyncio.Task[None] | None = None
        #: Set whenever a listener is connected and LISTENing (for tests and health).
        self.listening = threading.Event()
        with _hubs_lock:
            _hubs.setdefault(engine_key(engine), weakref.WeakSet()).add(self)

    # -- subscriptions (on the event loop) --

    async def subscribe(
        self, teams: frozenset[int] | None, digest: str = "", timeout: float = 10.0
    ) -> Subscription:
        """A new subscription; on PostgreSQL, returns once LISTEN is in force.

        With a token ``digest``, the subscription ends once that token is no longer
        valid; it is ended from the start when the hub is closed.
        """
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop = loop
            self._listener = None
            self._watcher = None
        subscription = Subscription(teams, digest)
        if self.closed:
            subscription.end()
            return subscription
        self._subscriptions.add(subscription)
        if self._watcher is None or self._watcher.done():
            self._watcher = loop.create_task(self._watch())
        if self.listen:
            if self._listener is None or self._listener.done() or self._listening is None:
                # a fresh readiness flag: a listener being cancelled must not vouch for it
                self._listening = asyncio.Event()
                self._listener = loop.create_task(self._listen(self._listening))
            ready = self._listening
            try:
                await asyncio.wait_for(ready.wait(), timeout)
            except TimeoutError:
                log.warning("live events: not listening to other server processes yet")
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)
        if self._subscriptions:
            return
        if self._listener is not None:
            self._listener.cancel()
            self._listener = None
            self._listening = None
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None

    def close(self) -> None:
        """End every stream now, and any that would start: the server is stopping.

        Call it on the hub's event loop.
        """
        self.closed = True
        for subscription in list(self._subscriptions):
            subscription.end()

    def close_threadsafe(self) -> None:
        """:meth:`close`, from any thread (or a signal handler)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            self.closed = True
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nothing to end
            loop.call_soon_threadsafe(self.close)

    # -- tokens --

    def valid_digests(self, digests: Iterable[str]) -> set[str]:
        """Which of these token digests are still valid: not signed out, not expired,
        of an active account."""
        wanted = sorted(set(digests))
        valid: set[str] = set()
        now = self.clock()
        with self._reader.connect() as connection, connection.begin():
            for start in range(0, len(wanted), _TOKENS_A_QUERY):
                chunk = wanted[start : start + _TOKENS_A_QUERY]
                valid.update(
                    connection.scalars(
                        select(AuthToken.token_hash)
                        .join(User, User.id == AuthToken.user_id)
                        .where(
                            AuthToken.token_hash.in_(chunk),
                            AuthToken.revoked_at.is_(None),
                            AuthToken.expires_at > now,
                            User.active == true(),
                        )
                    )
                )
        return valid

    async def _watch(self) -> None:
        """Every :attr:`recheck` seconds, end the subscriptions whose token is no
        longer valid (one query for all of them, whatever their traffic)."""
        while True:
            await asyncio.sleep(self.recheck)
            watched = [s for s in self._subscriptions if s.digest and not s.ended]
            if not watched:
                continue
            try:
                valid = await run_in_threadpool(self.valid_digests, [s.digest for s in watched])
            except Exception:  # the database is gone: consoles reconnect and are told
                log.warning("live events: could not check the streams' tokens", exc_info=True)
                valid = set()
            for subscription in watched:
                if subscription.digest not in valid:
                    subscription.end()

    def deliver(self, batch: Batch) -> None:
        for subscription in list(self._subscriptions):
            subscription.offer(batch)

    def deliver_threadsafe(self, batch: Batch) -> None:
        loop = self._loop
        if loop is None or not self._subscriptions:
            return
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody listens any more
            loop.call_soon_threadsafe(self.deliver, batch)

    def high_mark(self) -> int:
        with transaction(self.factory) as session:
            return session.scalar(high_water()) or 0

    # -- PostgreSQL LISTEN --

    def _conninfo(self) -> str:
        return self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)

    async def _listen(self, ready: asyncio.Event) -> None:
        import psycopg

        delay = 0.5
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo(), autocommit=True
                ) as connection:
                    cursor = await connection.execute("SELECT current_schema()")
                    row = await cursor.fetchone()
                    channel = channel_for_schema(None if row is None else row[0])
                    await connection.execute(f'LISTEN "{channel}"')
                    # whatever was missed while not listening: the current high mark
                    seq = await run_in_threadpool(self.high_mark)
                    self.deliver(Batch(seq=seq, scopes={None}))
                    ready.set()
                    self.listening.set()
                    delay = 0.5
                    async for notification in connection.notifies():
                        await self._received(notification.payload)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning(
                    "live events: lost the PostgreSQL listener, reconnecting", exc_info=True
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
            finally:
                ready.clear()
                if ready is self._listening:
                    self.listening.clear()

    async def _received(self, payload: str) -> None:
        try:
            message = json.loads(payload)
            if message.get("origin") == ORIGIN:
                return  # delivered in this process already, after its commit
            batch = Batch(
                seq=int(message.get("seq", 0)),
                scopes={None if team is None else int(team) for team in message.get("teams", [])},
            )
            ids = [int(key) for key in message.get("ann", [])]
        except (ValueError, TypeError, AttributeError):
            log.warning("live events: ignored a malformed notification %r", payload[:200])
            return
        if ids:
            batch.announcements = await run_in_threadpool(self._load_announcements, ids)
        self.deliver(batch)

    def _load_announcements(self, ids: list[int]) -> dict[int, dict[str, Any] | None]:
        with transaction(self.factory) as session:
            rows = session.scalars(select(Announcement).where(Announcement.id.in_(ids)))
            return {row.id: announcement_out(row).model_dump(mode="json") for row in rows}
