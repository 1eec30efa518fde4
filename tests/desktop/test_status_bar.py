"""The status bar: the sync engine's state and progress, the next try, the pending
changes, and an offline reply counted until the server has it."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from desktop.models.queue import Column, QueueView
from desktop.views.main_window import MainWindow
from protocol import Status
from sync.engine import InitialSyncProgress, SyncEngine, SyncState, SyncStatus
from tests.desktop.conftest import T0, FakeClock
from tests.desktop.live_console import alice_signed_in, until_status
from tests.sync.live_server import LiveServer
from tests.sync.test_credentials import MemoryKeyring


class FakeEngine:
    """What the window needs of a sync engine: a status to subscribe to, sync_now."""

    def __init__(self) -> None:
        self.status = SyncStatus(SyncState.OFFLINE)
        self.callbacks: list[Callable[[SyncStatus], None]] = []
        self.sync_requests = 0

    def subscribe(self, callback: Callable[[SyncStatus], None]) -> Callable[[], None]:
        self.callbacks.append(callback)
        callback(self.status)
        return lambda: self.callbacks.remove(callback)

    def publish(self, **changes: Any) -> None:
        self.status = SyncStatus(**{**_fields(self.status), **changes})
        for callback in list(self.callbacks):
            callback(self.status)

    def sync_now(self) -> None:
        self.sync_requests += 1

    def commands_queued(self) -> None:
        pass

    def refresh_counts(self) -> None:
        pass


def _fields(status: SyncStatus) -> dict[str, Any]:
    return {name: getattr(status, name) for name in SyncStatus.__slots__}


def test_status_bar_follows_the_engine(qtbot: QtBot, window: MainWindow) -> None:
    engine = FakeEngine()
    window.attach_engine(cast(SyncEngine, engine))
    widgets = window.sync_status
    assert widgets.state_label.text() == "Offline"

    engine.publish(
        state=SyncState.SYNCING,
        progress=InitialSyncProgress(pages=2, changes=1000, tickets=400, estimate=4000),
    )
    assert widgets.state_label.text() == "Syncing…"
    assert widgets.progress.isVisible()
    assert widgets.progress.value() == 250
    assert widgets.progress.format() == "400 of about 4,000 tickets"
    assert widgets.progress.toolTip() == "Initial synchronization: 2 pages read"

    synced = dt.datetime(2026, 3, 4, 9, 30, tzinfo=dt.UTC)
    engine.publish(state=SyncState.ONLINE, progress=None, last_sync_at=synced, pending=3)
    assert widgets.state_label.text() == "Online"
    assert not widgets.progress.isVisible()
    assert widgets.last_sync_label.text() == "Last sync: 3/4/26, 10:30\u202fAM"
    assert window.pending_label.text() == "3 pending changes"
    assert not widgets.conflicts_button.isVisible()

    engine.publish(conflicts=1, rejected=2)
    assert widgets.conflicts_button.isVisible()
    assert widgets.conflicts_button.text() == "1 conflict"
    assert widgets.rejected_button.text() == "2 refused changes"

    window.sync_action.trigger()  # F5
    widgets.sync_button.click()
    assert engine.sync_requests == 2

    engine.publish(state=SyncState.AUTH_REQUIRED, error="Your session has expired.")
    assert widgets.state_label.text() == "Sign-in required"
    assert "expired" in widgets.state_label.toolTip()
    assert window.sign_in_action.isEnabled()
    assert not window.sign_out_action.isEnabled()
    with qtbot.waitSignal(window.signInRequested):
        QTest.mouseClick(widgets.state_label, Qt.MouseButton.LeftButton)

    # a status is not a change set: counts moving or a pass ending read no ticket again
    # (what a sync changed comes through the change bus, said by the store)
    with qtbot.assertNotEmitted(window.model.countsChanged, wait=100):
        engine.publish(pending=0, last_sync_at=synced + dt.timedelta(minutes=5))


def test_the_status_bar_says_when_the_next_try_is(
    qtbot: QtBot, window: MainWindow, clock: FakeClock
) -> None:
    engine = FakeEngine()
    window.attach_engine(cast(SyncEngine, engine))
    widgets = window.sync_status
    engine.publish(
        state=SyncState.OFFLINE,
        error="The server cannot be reached.",
        retry_at=clock() + dt.timedelta(seconds=3.4),
    )
    assert widgets.state_label.text() == "Offline"
    assert widgets.retry_label.isVisible()  # in the bar itself, not only in a tooltip
    assert widgets.retry_label.text() == "Next try in 4 s"
    clock.advance(seconds=2)
    qtbot.waitUntil(lambda: widgets.retry_label.text() == "Next try in 2 s", timeout=3000)
    clock.advance(seconds=2)
    qtbot.waitUntil(lambda: widgets.retry_label.text() == "Trying again…", timeout=3000)
    # a long wait (a busy server) says at what time, in the language's own format
    engine.publish(state=SyncState.ERROR, retry_at=T0 + dt.timedelta(minutes=10))
    assert widgets.retry_label.text() == "Next try at 10:10\u202fAM"
    engine.publish(state=SyncState.ONLINE, error=None, retry_at=None)
    assert not widgets.retry_label.isVisible()


def test_pending_dialog_lists_the_queued_commands(window: MainWindow) -> None:
    ticket = window.model.row_at(0).ticket
    before = window.store.pending_count()  # the demo queues a few changes of its own
    window.operations.local(lambda store: store.set_status(ticket.id, Status.PENDING))
    # the status bar follows the outbox through the change bus: nobody tells it
    assert window.pending_label.text() == f"{before + 1} pending changes"
    dialog = window.show_pending()
    window.operations.local(lambda store: store.add_comment(ticket.id, "We are on it", public=True))
    assert window.pending_label.text() == f"{before + 2} pending changes"
    lines = [dialog.list.item(i).text() for i in range(dialog.list.count())]
    assert len(lines) == before + 2  # the open dialog too
    assert lines[-2:] == [
        f"{ticket.tracking_number}: status to Pending",
        f"{ticket.tracking_number}: reply “We are on it”",
    ]
    dialog.close()


# -- end to end, with the real server --------------------------------------------------------------


def test_reply_offline_then_sync_when_the_server_is_back(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop, tmp_path: Path, live: LiveServer
) -> None:
    ticket = live.open_ticket("Printer on fire", assignee_id=live.ids["alice"])
    console = alice_signed_in(qtbot, loop, tmp_path, live, MemoryKeyring())
    session = console.session
    assert session is not None
    window = session.window
    engine = session.engine
    loop.run_until_complete(
        until_status(engine, lambda s: s.state is SyncState.ONLINE and s.last_sync_at is not None)
    )
    window.reload()
    window.show_view(QueueView.MY_TICKETS)
    position = window.model.position_of(ticket["id"])
    assert position is not None
    window.table.setCurrentIndex(window.model.index(position, Column.TRACKING))
    assert window.workspace.ticket_id == ticket["id"]

    live.stop()
    window.workspace.reply.start(public=True)
    window.workspace.reply.editor.setPlainText("A technician is on the way")
    assert window.workspace.send()
    assert window.pending_label.text() == "1 pending change"
    loop.run_until_complete(until_status(engine, lambda s: s.state is SyncState.OFFLINE))
    assert window.pending_label.text() == "1 pending change"
    assert window.connection_label.text() == "Offline"
    reply = session.cache.comments(ticket["id"])[-1]
    assert reply.body == "A technician is on the way"
    assert reply.pending

    live.start()
    window.sync_action.trigger()
    loop.run_until_complete(
        until_status(engine, lambda s: s.state is SyncState.ONLINE and s.pending == 0)
    )
    assert window.pending_label.text() == "0 pending changes"
    assert window.connection_label.text() == "Online"
    synced = session.cache.comments(ticket["id"])[-1]
    assert synced.body == "A technician is on the way"
    assert synced.server_id is not None
    server = live.call("GET", f"/tickets/{ticket['id']}", "alice")
    assert [c["body"] for c in server["comments"]] == ["A technician is on the way"]
    loop.run_until_complete(console.close())
