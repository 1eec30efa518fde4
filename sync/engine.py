"""The sync loop: push the outbox, then pull the change feed, whenever it is due.

One :class:`SyncEngine` per open cache.  A *pass* (:meth:`SyncEngine.sync_once`)
pushes every pending command in outbox order (batches; each command carries its
mutation id, so a retry is harmless), then sends the requests that waited for the
server (:mod:`sync.deferred`, each under its key), then pulls the feed from the stored
cursor until ``has_more`` is false, each page stored by
:meth:`sync.store.Store.apply_page` in one transaction.

Passes run one at a time, on start, on a timer, on a "changes available" notice
(the server's Server-Sent Events, or :meth:`SyncEngine.notify`), on "sync now"
and when connectivity returns; triggers that arrive during a pass coalesce into
one more pass.  After a failure the next try is scheduled with exponential
backoff and full jitter; but while the server cannot be reached at all, a cheap
probe (one small request, never retried) looks for it every few seconds, with
jitter, and a pass follows as soon as it answers.  A dropped event stream is
news: a probe runs at once.

What the console shows is a :class:`SyncStatus` — state, last successful sync,
pending/conflict/rejected counts, initial-sync progress, the server clock
offset — published to plain callbacks (:meth:`SyncEngine.subscribe`) and to
async iterators (:meth:`SyncEngine.statuses`).  No Qt here.

An expired or revoked token moves the engine to ``auth_required``: the token is
forgotten (keyring and memory), the outbox is left exactly as it was, and the
next :meth:`SyncEngine.login` resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import random as _random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, ParamSpec, TypeVar

import httpx

from i18n import N_, gettext
from protocol import MAX_BATCH, MAX_FEED_LIMIT, ChangePage
from sync.client import (
    ApiClient,
    ApiError,
    AuthRequired,
    EventsUnavailable,
    MalformedResponse,
    RequestRefused,
    RequestTooLarge,
    RetryPolicy,
    ServerBusy,
    ServerEvent,
    Sleep,
    TlsError,
    Unreachable,
)
from sync.collector import collector_paused
from sync.credentials import Credentials, SaveOutcome
from sync.deferred import send
from sync.pull import MalformedPageError, PageResult
from sync.store import Store

__all__ = [
    "CHANGE_EVENTS",
    "InitialSyncProgress",
    "LogoutOutcome",
    "SyncEngine",
    "SyncReport",
    "SyncState",
    "SyncStatus",
]

log = logging.getLogger(__name__)

_P = ParamSpec("_P")
_T = TypeVar("_T")

#: SSE event names that mean "new changes are waiting in the feed".
CHANGE_EVENTS: Final = frozenset({"changes", "change", "message"})
#: Most push rounds in one pass (a guard against a server that answers nothing new).
_MAX_PUSH_ROUNDS: Final = 10_000
#: tickets asked for at the end of a pull, at most (the rest at the next pull)
_MAX_ASKED: Final = 50


async def _cancel(fetching: asyncio.Future[Any] | None) -> None:
    """Drop a page still on its way (its failure, if any, with it)."""
    if fetching is not None:
        fetching.cancel()
        await asyncio.gather(fetching, return_exceptions=True)


class SyncState(StrEnum):
    OFFLINE = "offline"
    CONNECTING = "connecting"
    SYNCING = "syncing"
    ONLINE = "online"  # idle, up to date as of last_sync_at
    AUTH_REQUIRED = "auth_required"
    ERROR = "error"


_LABELS: Final = {
    SyncState.OFFLINE: N_("Offline"),
    SyncState.CONNECTING: N_("Connecting…"),
    SyncState.SYNCING: N_("Synchronizing…"),
    SyncState.ONLINE: N_("Up to date"),
    SyncState.AUTH_REQUIRED: N_("Sign-in required"),
    SyncState.ERROR: N_("Synchronization problem"),
}
_SIGN_IN = N_("Sign in to synchronize your changes.")
_UNEXPECTED = N_("Synchronization failed unexpectedly; it will be retried.")
_NOT_REVOKED = N_(
    "You are signed out on this computer, but the server could not be told: "
    "your session there ends when it expires."
)
_WRONG_USER = N_("This local cache belongs to another user.")


@dataclass(frozen=True, slots=True)
class InitialSyncProgress:
    """How far the first full download is (``estimate`` is an upper bound from the server)."""

    pages: int = 0
    changes: int = 0
    tickets: int = 0
    estimate: int = 0  # changes read + the server's estimate of those still to read

    @property
    def fraction(self) -> float:
        """0.0 … 1.0, for a progress bar."""
        if self.estimate <= 0:
            return 0.0
        return min(1.0, self.changes / self.estimate)


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """Everything the status bar shows; a new value is published on every change."""

    state: SyncState
    last_sync_at: dt.datetime | None = None
    pending: int = 0
    conflicts: int = 0
    rejected: int = 0
    progress: InitialSyncProgress | None = None  # only during the initial sync
    error: str | None = None  # what went wrong, translated, when state says so
    retry_at: dt.datetime | None = None  # when the engine will try again by itself
    clock_offset: dt.timedelta = dt.timedelta()  # server clock minus ours

    @property
    def label(self) -> str:
        return gettext(_LABELS[self.state])


@dataclass(slots=True)
class SyncReport:
    """What one pass did (for logs and tests)."""

    pushed: int = 0
    applied: int = 0
    conflicts: int = 0
    rejected: int = 0
    #: requests that waited for the server (sync.deferred), done by it now
    calls: int = 0
    pages: int = 0
    changes: int = 0
    ok: bool = False


@dataclass(frozen=True, slots=True)
class LogoutOutcome:
    revoked: bool  # False: the server could not be reached; the token was forgotten here

    @property
    def notice(self) -> str | None:
        return None if self.revoked else gettext(_NOT_REVOKED)


StatusCallback = Callable[[SyncStatus], None]
EventCallback = Callable[[ServerEvent], None]


class SyncEngine:
    """The sync loop of one cache (one server, one user).

    ``timer`` is the pause between passes (``asyncio.sleep``; tests pass a fake
    they release by hand); ``random`` drives the jitter; ``offload`` reads the
    feed's pages and runs the cache's writes in a worker thread so a big page
    never freezes the UI.
    """

    def __init__(
        self,
        store: Store,
        client: ApiClient,
        *,
        credentials: Credentials | None = None,
        username: str | None = None,
        interval: float = 60.0,
        probe: float = 3.0,
        page_size: int = MAX_FEED_LIMIT,
        batch_size: int = MAX_BATCH,
        backoff: RetryPolicy | None = None,
        random: Callable[[], float] = _random.random,
        timer: Sleep = asyncio.sleep,
        live: bool = True,
        offload: bool = True,
    ) -> None:
        self.store = store
        self.client = client
        self.credentials = credentials
        self.username = username
        self.interval = interval
        #: mean seconds between probes while the server cannot be reached: a refused
        #: connection costs a server nothing, and one that is back is found within
        #: 1.5 times this, its consoles spread over the interval by the jitter
        self.probe = probe
        self.page_size = max(1, min(page_size, MAX_FEED_LIMIT))
        self.batch_size = max(1, min(batch_size, MAX_BATCH))
        self.backoff = backoff or RetryPolicy(base=2.0, cap=min(300.0, max(interval, 2.0)))
        self._random = random
        self._timer = timer
        self._live = live
        self._offload = offload

        self._status = SyncStatus(SyncState.OFFLINE, last_sync_at=store.cache.last_sync_at())
        self._callbacks: list[StatusCallback] = []
        self._queues: list[asyncio.Queue[SyncStatus]] = []
        self._event_callbacks: list[EventCallback] = []
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._signed_in = asyncio.Event()
        self._network = asyncio.Event()
        self._network.set()  # assume up until the system says otherwise
        self._forced = False
        self._failures = 0
        self._retry_delay: float | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._connected = False
        self._unreachable = False  # the server did not answer: probe before a pass
        self._probe_first = False  # the event stream dropped: is the server still there?
        #: the server answered last time it was asked: the event stream may connect
        #: (at start too, so that its first notice comes during the first pass)
        self._reachable = asyncio.Event()
        self._reachable.set()

    # -- observing ---------------------------------------------------------------------

    @property
    def status(self) -> SyncStatus:
        return self._status

    def subscribe(self, callback: StatusCallback) -> Callable[[], None]:
        """Call ``callback`` with every new status (now, too); returns the unsubscriber."""
        self._callbacks.append(callback)
        self._call(callback, self._status)
        return lambda: self._callbacks.remove(callback) if callback in self._callbacks else None

    async def statuses(self) -> AsyncIterator[SyncStatus]:
        """The current status, then every change, in order, none skipped."""
        queue: asyncio.Queue[SyncStatus] = asyncio.Queue()
        self._queues.append(queue)
        try:
            yield self._status
            while True:
                yield await queue.get()
        finally:
            self._queues.remove(queue)

    def on_event(self, callback: EventCallback) -> Callable[[], None]:
        """Every live notification from the server (announcements, changes…)."""
        self._event_callbacks.append(callback)
        return lambda: (
            self._event_callbacks.remove(callback) if callback in self._event_callbacks else None
        )

    def server_now(self) -> dt.datetime:
        """Our clock corrected to the server's: the "now" of SLA countdowns."""
        return self.store.cache.clock() + self._status.clock_offset

    @staticmethod
    def _call(callback: Callable[[Any], None], value: Any) -> None:
        try:
            callback(value)
        except Exception:  # a broken listener must not stop synchronization
            log.exception("sync status listener failed")

    def _set(self, **changes: Any) -> None:
        new = dataclasses.replace(self._status, **changes)
        if new == self._status:
            return
        self._status = new
        for callback in list(self._callbacks):
            self._call(callback, new)
        for queue in self._queues:
            queue.put_nowait(new)

    def refresh_counts(self) -> None:
        """Re-read the pending/conflict/rejected counts (after the console queued a command)."""
        self._set(
            pending=self.store.pending_count(),
            conflicts=self.store.conflict_count(),
            rejected=self.store.refusal_count(),
        )

    # -- triggers ---------------------------------------------------------------------------

    def notify(self) -> None:
        """The server said changes are waiting: sync soon (coalesced with any other trigger)."""
        self._wake_up()

    def sync_now(self) -> None:
        """The user asked: sync at once, even if the system thinks we are offline."""
        self._forced = True
        self._wake_up()

    def commands_queued(self) -> None:
        """The console queued commands: show the new counts and push them soon."""
        self.refresh_counts()
        self._wake_up()

    def set_online(self, online: bool) -> None:
        """What the operating system says about connectivity."""
        if online:
            returning = not self._network.is_set()
            self._network.set()
            if returning:
                self._failures = 0
                self._wake_up()
        else:
            self._network.clear()
            if self._status.state not in (SyncState.AUTH_REQUIRED, SyncState.OFFLINE):
                self._set(state=SyncState.OFFLINE, error=None, retry_at=None)

    def _wake_up(self) -> None:
        self._idle.clear()
        self._wake.set()

    async def wait_idle(self) -> None:
        """Until the loop has nothing left to do but wait for its timer or a trigger."""
        await self._idle.wait()

    # -- running ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the loop (a first pass at once) and, if wanted, the live notifications."""
        if self._tasks:
            return
        self._load_token()
        self.refresh_counts()
        if self.client.token is None:
            self._set(state=SyncState.AUTH_REQUIRED, error=gettext(_SIGN_IN))
        self._wake_up()
        self._tasks.append(asyncio.create_task(self._run(), name="sync-loop"))
        if self._live:
            self._tasks.append(asyncio.create_task(self._listen(), name="sync-events"))

    async def stop(self) -> None:
        """Stop the loop and the listener (a pass in progress is cancelled between writes)."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def __aenter__(self) -> SyncEngine:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _load_token(self) -> None:
        if self.client.token is None and self.credentials and self.username:
            self.client.token = self.credentials.load(self.username)
        if self.client.token is not None:
            self._signed_in.set()

    def _next_delay(self) -> float | None:
        """Seconds until the next pass by timer; None: only a trigger may start one."""
        if self.client.token is None or not self._network.is_set():
            return None
        if self._retry_delay is not None:
            return self._retry_delay
        return self.interval

    async def _run(self) -> None:
        while True:
            if not self._wake.is_set():
                await self._wait(self._next_delay())
            self._idle.clear()
            self._wake.clear()
            forced, self._forced = self._forced, False
            if self.client.token is None:
                continue
            if not self._network.is_set() and not forced:
                continue
            probe, self._probe_first = self._unreachable or self._probe_first, False
            if probe and not forced and not await self._probe():
                continue
            await self.sync_once()

    def _probe_delay(self) -> float:
        return self.probe * (0.5 + self._random())

    async def _probe(self) -> bool:
        """Whether the server answers; if not, say offline and when the next probe is."""
        try:
            await self.client.probe()
        except Unreachable as error:
            log.debug("sync: the server does not answer (%s)", error.detail)
            if isinstance(error, TlsError):
                return True  # not a question of reach: the pass says what is wrong
            self._unreachable = True
            self._reachable.clear()
            self._retry_delay = self._probe_delay()
            self._set(
                state=SyncState.OFFLINE,
                error=error.message,
                progress=None,
                retry_at=self.store.cache.clock() + dt.timedelta(seconds=self._retry_delay),
            )
            return False
        self._reachable.set()  # listening again while the pass runs
        return True

    async def _wait(self, delay: float | None) -> None:
        waiter = asyncio.ensure_future(self._wake.wait())
        if delay is None:
            self._idle.set()
            await waiter
            return
        timer = asyncio.ensure_future(self._timer(delay))
        await asyncio.sleep(0)  # let the timer start: "idle" means it is running
        if not self._wake.is_set():
            self._idle.set()
        try:
            await asyncio.wait({waiter, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waiter, timer):
                task.cancel()
            await asyncio.gather(waiter, timer, return_exceptions=True)

    async def _db(self, fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        if self._offload:
            return await asyncio.to_thread(fn, *args, **kwargs)
        return fn(*args, **kwargs)

    # -- one pass -----------------------------------------------------------------------------

    async def sync_once(self) -> SyncReport:
        """Push, then pull; the status says how it went.  Never raises an :class:`ApiError`."""
        async with self._lock:
            report = SyncReport()
            self._load_token()
            if self.client.token is None:
                self._set(state=SyncState.AUTH_REQUIRED, error=gettext(_SIGN_IN))
                return report
            self._connected = False
            start = SyncState.SYNCING if self._status.state is SyncState.ONLINE else None
            self._set(state=start or SyncState.CONNECTING, error=None, retry_at=None)
            failure: tuple[SyncState, str, float | None] | None = None
            try:
                await self._push(report)
                await self._send_deferred(report)
                await self._pull(report)
            except AuthRequired as error:
                log.info("sync: the server refused the token (%s)", error.detail)
                self._auth_lost(error.message)
                return report
            except TlsError as error:
                failure = (SyncState.ERROR, error.message, None)
            except Unreachable as error:
                log.info("sync: server unreachable (%s)", error.detail)
                failure = (SyncState.OFFLINE, error.message, None)
            except ServerBusy as error:
                failure = (SyncState.ERROR, error.message, error.retry_after)
            except (ApiError, MalformedPageError) as error:
                log.warning("sync failed: %s", error)
                failure = (SyncState.ERROR, error.message, None)
            except Exception:
                log.exception("sync failed unexpectedly")
                failure = (SyncState.ERROR, gettext(_UNEXPECTED), None)
            finally:
                self.refresh_counts()
            if self.client.token is None:  # signed out while the pass ran: that stands
                self._set(state=SyncState.AUTH_REQUIRED, progress=None, retry_at=None)
                return report
            if failure is not None:
                state, message, wait = failure
                self._failures += 1
                self._reachable.clear()
                # unreachable: probes find the server again; errors it answers back off
                self._unreachable = state is SyncState.OFFLINE
                if self._unreachable:
                    delay = self._probe_delay()
                elif wait is not None:
                    delay = wait
                else:
                    delay = self.backoff.delay(self._failures, self._random)
                self._retry_delay = delay
                self._set(
                    state=state,
                    error=message,
                    progress=None,
                    retry_at=self.store.cache.clock() + dt.timedelta(seconds=delay),
                )
                return report
            offset = self.client.clock_offset
            await self._db(self.store.cache.record_sync, offset=offset)
            self._failures = 0
            self._retry_delay = None
            self._unreachable = False
            self._reachable.set()
            report.ok = True
            self._set(
                state=SyncState.ONLINE,
                error=None,
                progress=None,
                retry_at=None,
                last_sync_at=self.store.cache.last_sync_at(),
                clock_offset=offset if offset is not None else self._status.clock_offset,
            )
            return report

    def _reached(self) -> None:
        """The server answered: connecting is over."""
        if not self._connected:
            self._connected = True
            self._set(state=SyncState.SYNCING)

    async def _push(self, report: SyncReport) -> None:
        size = self.batch_size
        for _round in range(_MAX_PUSH_ROUNDS):
            batch = await self._db(self.store.take_batch, size)
            if not batch:
                return
            ids = [command.mutation_id for command in batch]
            with self.store.sending(ids):
                try:
                    answer = await self.client.push(batch)
                except RequestTooLarge as error:
                    if len(batch) > 1:  # smaller batches until the big command goes alone
                        size = max(1, len(batch) // 2)
                        continue
                    await self._db(self.store.record_attempt, ids, error.detail)
                    raise
                except ApiError as error:
                    await self._db(self.store.record_attempt, ids, error.detail)
                    raise
                self._reached()
                await self._db(self.store.record_attempt, ids)
                summary = await self._db(self.store.record_results, answer.results)
            report.pushed += len(answer.results)
            report.applied += summary.applied
            report.conflicts += summary.conflicts
            report.rejected += summary.rejected
            self.refresh_counts()
            size = self.batch_size

    async def _send_deferred(self, report: SyncReport) -> None:
        """Send the requests that waited for the server, in order.  One it refuses is
        kept with its reason and the others go on; one that gets no answer stops the
        pass like a failed push (its key makes the next try harmless)."""
        for call in await self._db(self.store.deferred_calls):
            try:
                await send(self.client, call)
            except RequestRefused as error:
                log.info("sync: the server refused a deferred %s (%s)", call.kind, error.detail)
                await self._db(self.store.call_refused, call, error.message)
                continue
            except ApiError as error:
                await self._db(self.store.call_attempted, call, error.detail)
                raise
            self._reached()
            await self._db(self.store.call_sent, call)
            report.calls += 1

    async def _pull(self, report: SyncReport) -> None:
        cache = self.store.cache
        cursor = await self._db(cache.cursor)
        initial = await self._db(cache.last_sync_at) is None
        restarted = False
        progress = InitialSyncProgress(tickets=cache.ticket_count()) if initial else None
        fetching: asyncio.Future[httpx.Response] | None = None
        from_start = cursor is None
        try:
            while True:
                if fetching is None:
                    fetching = asyncio.ensure_future(
                        self.client.fetch_changes(cursor, self.page_size)
                    )
                try:
                    response = await fetching
                except RequestRefused as error:
                    if error.status != 410 or restarted:
                        raise
                    log.warning("sync: the server no longer knows our cursor; reading anew")
                    await self._db(cache.reset_cursor)
                    cursor, restarted, fetching, from_start = None, True, None, True
                    continue
                fetching = None
                self._reached()
                # read where the page is stored: the event loop stays free for the fetches
                page = await self._db(self._read_page, response)
                if page.has_more and page.next_cursor != cursor and self._offload:
                    # the next page travels while this one is stored (in a worker thread);
                    # it is dropped unused should storing this one fail
                    fetching = asyncio.ensure_future(
                        self.client.fetch_changes(page.next_cursor, self.page_size)
                    )
                result = await self._db(self.store.apply_page, page)
                report.pages += 1
                report.changes += len(page.changes)
                progress = self._progress(progress, page, result)
                if result.reread and not from_start:
                    # the user joined a team: its tickets' past lies behind our cursor (a
                    # read from the start already brings all they see now: not again)
                    log.info("sync: access to a new team; reading the feed from the start")
                    await self._db(cache.reset_cursor)
                    await _cancel(fetching)
                    cursor, fetching, from_start = None, None, True
                    continue
                if not page.has_more:
                    await self._ask_for_parked()
                    return
                if page.next_cursor == cursor:
                    raise MalformedResponse("the change feed did not move past its cursor")
                cursor = page.next_cursor
        finally:
            await _cancel(fetching)

    async def _ask_for_parked(self) -> None:
        """Ask the server for the tickets that rows came for but that the feed, read to
        its end, did not bring: the rows are kept until the ticket is stored, or until
        the server says it is not ours to see."""
        for ticket_id in sorted(await self._db(self.store.parked_tickets))[:_MAX_ASKED]:
            try:
                ticket = await self.client.ticket(ticket_id)
            except RequestRefused as error:
                if error.status not in (403, 404):
                    raise
                await self._db(self.store.discard_parked, ticket_id)
            else:
                await self._db(self.store.store_ticket, ticket)

    def _read_page(self, response: httpx.Response) -> ChangePage:
        with collector_paused():  # thousands of objects, no cycle (see the store's pages)
            return self.client.read_changes(response)

    def _progress(
        self, progress: InitialSyncProgress | None, page: ChangePage, result: PageResult
    ) -> InitialSyncProgress | None:
        """The initial sync's progress after ``page`` (published); None after the first sync."""
        if progress is None:
            return None
        done = progress.changes + len(page.changes)
        progress = InitialSyncProgress(
            pages=progress.pages + 1,
            changes=done,
            tickets=progress.tickets + result.upserted.get("ticket", 0),
            estimate=done + page.estimate,
        )
        self._set(progress=progress)
        return progress

    # -- credentials ----------------------------------------------------------------------------

    def _auth_lost(self, message: str) -> None:
        """The token was refused: forget it; keep every queued command."""
        if self.credentials is not None and self.username is not None:
            self.credentials.delete(self.username)
        self.client.token = None
        self._signed_in.clear()
        self._retry_delay = None
        self._set(state=SyncState.AUTH_REQUIRED, error=message, progress=None, retry_at=None)

    async def login(self, password: str, *, username: str | None = None) -> SaveOutcome:
        """Sign in (the cache's user), keep the token in the keyring, and sync.

        Raises the client's errors (:class:`~sync.client.InvalidCredentials`,
        :class:`~sync.client.Unreachable`, …) for the login dialog to show.
        """
        name = username or self.username
        if name is None:
            raise ValueError("no user name to sign in with")
        if self.username is not None and name != self.username:
            raise ValueError(gettext(_WRONG_USER))
        token = await self.client.login(name, password)
        self.username = name
        if self.credentials is not None:
            outcome = self.credentials.save(name, token.access_token)
        else:
            outcome = SaveOutcome(remembered=False)
        if self.store.user_id is None:
            with contextlib.suppress(ApiError):
                self.store.user_id = (await self.client.me()).id
        self._signed_in.set()
        self._failures = 0
        self._retry_delay = None
        self._unreachable = False  # it just answered
        self._set(state=SyncState.CONNECTING, error=None)
        self.sync_now()
        return outcome

    async def logout(self) -> LogoutOutcome:
        """Revoke the token on the server (if it can be reached) and forget it here.

        The outbox stays in the cache: it is sent after the next sign-in.
        """
        revoked = True
        try:
            await self.client.logout()
        except ApiError as error:
            log.info("logout: the token could not be revoked (%s)", error.detail)
            revoked = False
        self._auth_lost(gettext(_SIGN_IN))
        return LogoutOutcome(revoked)

    # -- live notifications ------------------------------------------------------------------

    def _dispatch(self, event: ServerEvent) -> None:
        for callback in list(self._event_callbacks):
            self._call(callback, event)
        if event.event in CHANGE_EVENTS:
            self.notify()

    def _stream_lost(self) -> None:
        """The event stream dropped: the server may be gone, which the user must know
        now, not at the next timer's pass: a probe runs at once."""
        self._reachable.clear()
        if self._status.state is not SyncState.AUTH_REQUIRED:
            self._probe_first = True
            self._wake_up()

    async def _listen(self) -> None:
        """Follow ``/api/v1/events`` while signed in, online and in touch with the server;
        a dropped stream is reported at once, and followed again once the server
        answers (with backoff when it keeps dropping while the server answers)."""
        failures = 0
        last_id: str | None = None
        while True:
            await self._signed_in.wait()
            await self._network.wait()
            await self._reachable.wait()
            try:
                async for event in self.client.events(last_event_id=last_id):
                    failures = 0
                    last_id = event.id or last_id
                    self._dispatch(event)
            except EventsUnavailable:
                log.info("sync: the server has no live notifications; relying on the timer")
                return
            except AuthRequired as error:
                self._auth_lost(error.message)
                continue
            except ApiError as error:
                log.info("sync: live notifications interrupted (%s)", error.detail)
            failures += 1
            self._stream_lost()
            if failures > 1:
                await self._timer(max(1.0, self.backoff.delay(failures - 1, self._random)))
