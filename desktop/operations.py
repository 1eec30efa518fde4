"""The operations layer: the one way widgets change data or ask the server for anything.

Two kinds of operation (after Anki's ``CollectionOp`` and ``QueryOp``):

- A **local operation** (:meth:`Operations.local`) runs commands of the
  :class:`~sync.store.Store`: each is queued in the outbox and shown at once, and
  what it changed reaches every panel through the change bus
  (:class:`~desktop.models.bus.ChangeBus`, subscribed to the store), in one change
  set for the whole operation.  When it queued commands, the sync engine is told,
  so they are counted and pushed soon.  Nothing else is left for the caller to do.
- An **online operation** (:meth:`Operations.online`) makes one call to the server
  and answers an :class:`Outcome`, never an exception: done (with the server's
  answer), or why not, in the user's language, sorted three ways
  (:class:`Trouble`): *offline* (the server cannot be reached, or there is no
  session), *refused* (the server said no, in its own words) or *failed* (the
  server or the console went wrong; an unexpected error is also reported as one).
  A call the server can take later (:class:`~sync.deferred.DeferredCall`, such as
  publishing an announcement) is kept instead when offline, and sent by the sync
  engine once the server answers (:attr:`Outcome.queued`).

Widgets start their asynchronous work with :meth:`Operations.start`, which keeps
each task until it is done, cancels a widget's tasks when it goes, and reports an
error no one caught rather than lose it.

This is also the widgets' one door to the sync engine, its client and the cache
(the ``views-no-engine`` import contract): the types they show (the engine's
status, the cache they read through) are named here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, Generic, TypeVar

from PySide6.QtCore import QObject

from desktop.models.bus import ChangeBus
from i18n import N_, gettext
from protocol import AnnouncementIn, AnnouncementOut
from sync.cache import Cache, CacheNotice, normalize_server_url, utc_now
from sync.changes import Changes
from sync.client import (
    ApiClient,
    ApiError,
    AuthRequired,
    MalformedResponse,
    RequestRefused,
    ServerBusy,
    TlsError,
    Unreachable,
    is_loopback,
)
from sync.deferred import DeferredCall
from sync.engine import InitialSyncProgress, SyncEngine, SyncState, SyncStatus
from sync.store import Store

__all__ = [
    "Cache",
    "CacheNotice",
    "InitialSyncProgress",
    "Operations",
    "Outcome",
    "SyncEngine",
    "SyncState",
    "SyncStatus",
    "Trouble",
    "attempt",
    "is_loopback",
    "normalize_server_url",
    "utc_now",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

_NOT_CONNECTED: Final = N_("Not connected to a server: this needs one. Sign in and try again.")
_OFFLINE: Final = N_("The server cannot be reached. Try again once you are connected.")
_QUEUED: Final = N_("The server cannot be reached: this is kept and sent as soon as it can be.")
_SERVER_ERROR: Final = N_("The server had a problem (HTTP {status}). Try again in a moment.")
_BUSY: Final = N_("The server is busy. Try again in {seconds} seconds.")
_UNEXPECTED: Final = N_("Something went wrong in the console; the details are in its log.")


class Trouble(StrEnum):
    """Why an online operation was not done."""

    OFFLINE = "offline"  # the server could not be reached (or there is no session)
    REFUSED = "refused"  # the server said no
    FAILED = "failed"  # the server, or the console, went wrong


def _silent() -> str:
    return ""


@dataclass(frozen=True, slots=True)
class Outcome(Generic[_T]):
    """How an online operation went: its answer, or why there is none."""

    value: _T | None = None
    trouble: Trouble | None = None
    #: not done now, but kept: it is sent as soon as the server can be reached
    queued: bool = False
    #: says :attr:`message`, in the language of the moment it is asked
    describe: Callable[[], str] = _silent

    @property
    def message(self) -> str:
        """What to tell the user, in their language ("" when done)."""
        return self.describe()

    @property
    def done(self) -> bool:
        return self.trouble is None and not self.queued


def _said(msgid: str, **params: object) -> Callable[[], str]:
    return lambda: gettext(msgid).format(**params)


def _report(error: BaseException, what: str) -> None:
    """An error nobody expected: logged with its traceback and shown (the console's
    error reporter is the running loop's exception handler)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        log.error("%s", what, exc_info=error)
        return
    loop.call_exception_handler({"message": what, "exception": error})


def _failure(error: ApiError) -> Outcome[Any]:
    """The one treatment of what the client raises."""
    if isinstance(error, AuthRequired | RequestRefused):
        return Outcome(trouble=Trouble.REFUSED, describe=lambda: error.message)
    if isinstance(error, TlsError | MalformedResponse):  # (TLS: not offline, never bypassed)
        return Outcome(trouble=Trouble.FAILED, describe=lambda: error.message)
    if isinstance(error, Unreachable):
        return Outcome(trouble=Trouble.OFFLINE, describe=_said(_OFFLINE))
    if isinstance(error, ServerBusy):
        seconds = round(error.retry_after or 0)
        return Outcome(trouble=Trouble.FAILED, describe=_said(_BUSY, seconds=seconds))
    return Outcome(trouble=Trouble.FAILED, describe=_said(_SERVER_ERROR, status=error.status))


async def attempt(call: Callable[[], Awaitable[_T]]) -> Outcome[_T]:
    """Run ``call`` with the one treatment of offline, refused and failed (cancelling
    is not a failure: it goes through)."""
    try:
        value = await call()
    except ApiError as error:
        log.info("online operation not done: %s", error.detail)
        return _failure(error)
    except Exception as error:
        _report(error, "an online operation failed unexpectedly")
        return Outcome(trouble=Trouble.FAILED, describe=_said(_UNEXPECTED))
    return Outcome(value=value)


class Operations(QObject):
    """Local and online operations over one store (the window's), its change bus, and
    the sync engine once attached."""

    def __init__(
        self, store: Store, *, bus: ChangeBus | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.store = store
        self.bus = bus or ChangeBus(store, parent=self)
        self.engine: SyncEngine | None = None
        #: the change sets a local operation's writes published (see local)
        self._watched: list[Changes] | None = None
        self._thread = threading.get_ident()
        self._unsubscribe = store.subscribe(self._watch)
        self.destroyed.connect(lambda _obj=None, off=self._unsubscribe: off())
        #: the tasks under way, by owner (id of the widget that started them)
        self._tasks: dict[int, set[asyncio.Task[Any]]] = {}

    @property
    def cache(self) -> Cache:
        """The cache, to read (its writes are the store's, through operations)."""
        return self.store.cache

    # -- the session -----------------------------------------------------------------------

    def attach_engine(self, engine: SyncEngine) -> None:
        self.engine = engine
        self.bus.attach_engine(engine)

    def detach_engine(self) -> None:
        self.bus.detach_engine()
        self.engine = None

    @property
    def client(self) -> ApiClient | None:
        """The session's client (None without a session)."""
        return None if self.engine is None else self.engine.client

    @property
    def connected(self) -> bool:
        """Whether there is a session to ask the server through (reachable or not)."""
        return self.engine is not None

    def sync_now(self) -> bool:
        """Synchronize now; False without a session."""
        if self.engine is None:
            return False
        self.engine.sync_now()
        return True

    def close(self) -> None:
        """The window goes: no task outlives it, and nothing listens any more."""
        for owner in list(self._tasks):
            self._cancel(owner)
        self._unsubscribe()
        self.bus.close()

    # -- local operations -------------------------------------------------------------------

    def local(self, command: Callable[[Store], _T]) -> _T:
        """Run ``command`` on the store, and return what it returns.

        What it changed is emitted by the bus once, at its end; commands it queued are
        pushed soon.  The store's errors (an unknown ticket, a value a command does not
        take) reach the caller; what the command wrote before one stands, and shows."""
        watched: list[Changes] = []
        outer, self._watched = self._watched, watched
        try:
            with self.bus.holding():
                return command(self.store)
        finally:
            self._watched = outer
            if outer is not None:  # (an operation within another: the outer one tells)
                outer.extend(watched)
            elif any(changes.outbox for changes in watched):
                self.commands_queued()

    def _watch(self, changes: Changes) -> None:
        # the writes of a local operation, on this thread (the engine's, on its own, are not)
        if self._watched is not None and threading.get_ident() == self._thread:
            self._watched.append(changes)

    def commands_queued(self) -> None:
        """Commands were queued: the engine counts them and pushes them soon."""
        if self.engine is not None:
            self.engine.commands_queued()

    def refresh_counts(self) -> None:
        """The outbox, conflicts or refusals changed: the engine's counts follow."""
        if self.engine is not None:
            self.engine.refresh_counts()

    # -- online operations -------------------------------------------------------------------

    async def online(
        self,
        call: Callable[[ApiClient], Awaitable[_T]],
        *,
        pull: bool = False,
    ) -> Outcome[_T]:
        """Make ``call`` through the session's client (see :class:`Outcome`).

        ``pull``: the call changes what the change feed brings (an announcement, say),
        so a sync follows at once and this console shows it too."""
        client = self.client
        if client is None:
            return Outcome(trouble=Trouble.OFFLINE, describe=_said(_NOT_CONNECTED))
        outcome = await attempt(lambda: call(client))
        if pull and outcome.done:
            self.sync_now()
        return outcome

    async def online_or_later(
        self, call: DeferredCall, request: Callable[[ApiClient], Awaitable[_T]]
    ) -> Outcome[_T]:
        """Make ``request`` (``call``, as the client makes it) now; when the server cannot
        be reached, keep ``call`` instead for the sync engine to send once it can be
        (:attr:`Outcome.queued`).  Now or later, the request carries the call's key, so
        the server does it once however often it is sent (a try that got no answer may
        have reached it)."""
        engine = self.engine
        known_offline = engine is not None and engine.status.state is SyncState.OFFLINE
        if not known_offline:  # (else not worth the user's wait for the retries)
            outcome = await self.online(request, pull=True)
            if outcome.trouble is not Trouble.OFFLINE:
                return outcome
        self.local(lambda store: store.defer(call))
        return Outcome(queued=True, describe=_said(_QUEUED))

    async def publish_announcement(self, body: AnnouncementIn) -> Outcome[AnnouncementOut]:
        """Publish ``body`` now, or as soon as the server can be reached."""
        call = DeferredCall.create_announcement(body)
        keyed = call.announcement()
        return await self.online_or_later(call, lambda client: client.create_announcement(keyed))

    # -- tasks --------------------------------------------------------------------------------

    def start(self, job: Coroutine[Any, Any, Any], *, owner: QObject) -> asyncio.Task[Any] | None:
        """Run ``job`` in a task kept until it is done, and cancelled when ``owner`` goes
        (or :meth:`cancel`); None when no loop runs (``job`` is closed, unrun)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            job.close()
            return None
        key = id(owner)
        if key not in self._tasks:
            self._tasks[key] = set()
            owner.destroyed.connect(lambda _obj=None: self._forget(key))
        task = loop.create_task(job)
        self._tasks[key].add(task)
        task.add_done_callback(lambda done: self._finished(key, done))
        return task

    def _finished(self, key: int, task: asyncio.Task[Any]) -> None:
        running = self._tasks.get(key)
        if running is not None:
            running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            assert error is not None
            task.get_loop().call_exception_handler(
                {"message": "a task of the console failed", "exception": error, "task": task}
            )

    async def wait(self, owner: QObject) -> None:
        """Until none of ``owner``'s tasks is under way, those started meanwhile included
        (their errors were reported when they ended)."""
        while running := self._tasks.get(id(owner)):
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*running, return_exceptions=True)

    def cancel(self, owner: QObject) -> None:
        """Cancel ``owner``'s tasks (what they would show has nowhere to go)."""
        self._cancel(id(owner))

    def _cancel(self, key: int) -> None:
        for task in list(self._tasks.get(key, ())):
            task.cancel()

    def _forget(self, key: int) -> None:
        """The owner is gone: its tasks are cancelled, and its id free for another."""
        self._cancel(key)
        self._tasks.pop(key, None)
