"""The console's one change bus: what each write to the cache changed, on the Qt thread.

Every write of :class:`sync.store.Store` says what it changed (a
:class:`sync.changes.Changes`: tickets, the outbox, the directory, announcements,
articles, conflicts, refusals) to its subscribers, on the thread that wrote.
:class:`ChangeBus` is the console's one subscriber: it hands each change set over
to the Qt thread and emits it as :attr:`ChangeBus.changed`, and every model and
widget that shows cached data refreshes what the set concerns, and only that
(a stored page touching ticket 7 reads ticket 7 again, not the queue).  It also
re-emits the sync engine's status (:attr:`ChangeBus.statusChanged`).

- A write on the Qt thread (a command the user gave) is emitted at once, so what
  the user did shows before control returns to them; the writes of one operation
  are emitted together (:meth:`ChangeBus.holding`).
- Writes on the sync engine's worker thread (pages of the feed, answers to a push)
  are merged and emitted once none has come for :data:`SETTLE_MS`: a sync of many
  pages refreshes the window once, not once a page.  Nothing is lost: what arrives
  while a set waits is merged into it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Final

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from sync.changes import Changes
from sync.engine import SyncEngine, SyncState, SyncStatus
from sync.store import Store

__all__ = ["SETTLE_MS", "ChangeBus", "SyncState", "SyncStatus"]

#: How long the bus waits, after a change set from the sync engine's thread, for more
#: before it emits them together.
SETTLE_MS: Final = 250


class ChangeBus(QObject):
    """Re-emits what :class:`Store` writes changed, and the sync engine's status, on the
    thread the bus lives in (the Qt thread)."""

    #: a :class:`Changes` (never empty)
    changed = Signal(object)
    #: a :class:`SyncStatus`
    statusChanged = Signal(object)
    #: (internal) change sets arrived from another thread: handled on the bus's
    _arrived = Signal()
    #: (internal) a status from another thread
    _status_arrived = Signal(object)

    def __init__(self, store: Store, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self._thread = threading.get_ident()
        self._lock = threading.Lock()
        #: what arrived and is not emitted yet (merged), guarded by the lock
        self._waiting = Changes()
        self._holds = 0
        self._closed = False
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self.flush)
        # queued: the slot runs on the bus's thread, whichever thread emitted
        self._arrived.connect(self._settle.start, Qt.ConnectionType.QueuedConnection)
        self._status_arrived.connect(self._emit_status, Qt.ConnectionType.QueuedConnection)
        self._status: SyncStatus | None = None
        self._unsubscribe_engine: Callable[[], None] | None = None
        self._unsubscribe_store = store.subscribe(self.publish)
        # a bus deleted without close() (its window gone) must not be called by the store
        self.destroyed.connect(lambda _obj=None, off=self._unsubscribe_store: off())

    # -- change sets ---------------------------------------------------------------------

    def publish(self, changes: Changes) -> None:
        """Emit ``changes`` (from any thread; see the module's description)."""
        if not changes or self._closed:
            return
        with self._lock:
            self._waiting = self._waiting | changes
        if threading.get_ident() != self._thread:
            self._arrived.emit()
        elif not self._holds:
            self.flush()

    @property
    def waiting(self) -> bool:
        """Whether change sets wait to be emitted (from another thread, or held)."""
        with self._lock:
            return bool(self._waiting)

    def flush(self) -> None:
        """Emit now what is waiting, if anything (on the bus's thread)."""
        if self._holds or self._closed:
            return
        self._settle.stop()
        with self._lock:
            changes, self._waiting = self._waiting, Changes()
        if changes:
            self.changed.emit(changes)

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        """Within the block, the change sets published are kept, and emitted together
        at its end (the writes of one operation refresh the window once)."""
        self._holds += 1
        try:
            yield
        finally:
            self._holds -= 1
            if not self._holds:
                self.flush()

    # -- the sync engine's status -----------------------------------------------------------

    @property
    def status(self) -> SyncStatus | None:
        """The engine's last status (None without an engine)."""
        return self._status

    def attach_engine(self, engine: SyncEngine) -> None:
        """Follow ``engine``'s status (it is emitted at once)."""
        self.detach_engine()
        self._unsubscribe_engine = engine.subscribe(self._status_received)

    def detach_engine(self) -> None:
        if self._unsubscribe_engine is not None:
            self._unsubscribe_engine()
        self._unsubscribe_engine = None
        self._status = None

    def _status_received(self, status: SyncStatus) -> None:
        if self._closed:
            return
        if threading.get_ident() == self._thread:
            self._emit_status(status)
        else:
            self._status_arrived.emit(status)

    def _emit_status(self, status: SyncStatus) -> None:
        self._status = status
        self.statusChanged.emit(status)

    # -- end ------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop listening to the store and the engine (the window closes)."""
        self._closed = True
        self._settle.stop()
        self._unsubscribe_store()
        self.detach_engine()
