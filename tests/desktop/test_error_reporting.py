"""What the user is told when something breaks, and what is kept: an exception in a
slot, a cache found unsound, a cache that cannot be rebuilt."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMessageBox, QPushButton
from pytestqt.qtbot import QtBot

import sync.cache
from desktop.views.errors import ErrorReporter
from desktop.views.main_window import MainWindow
from protocol import Status
from sync.store import Store
from tests.desktop.live_console import alice_signed_in, make_console, until_status
from tests.sync.live_server import LiveServer
from tests.sync.test_credentials import MemoryKeyring


@pytest.mark.qt_no_exception_capture
def test_an_exception_in_a_slot_shows_a_dialog_and_keeps_the_outbox(
    qtbot: QtBot, window: MainWindow
) -> None:
    ticket = window.model.row_at(0).ticket
    window.store.set_status(ticket.id, Status.PENDING)
    before = window.store.queued()
    reporter = ErrorReporter(lambda: window)
    reporter.install()
    try:
        button = QPushButton("boom")
        qtbot.addWidget(button)

        def broken() -> None:
            raise RuntimeError("the printer caught fire")

        button.clicked.connect(broken)
        with qtbot.waitSignal(reporter.reported):
            button.click()
    finally:
        reporter.uninstall()
    assert len(reporter.dialogs) == 1
    dialog = reporter.dialogs[0]
    assert "the printer caught fire" in dialog.message_label.text()
    dialog.copy_button.click()
    assert "RuntimeError: the printer caught fire" in QGuiApplication.clipboard().text()
    assert window.store.queued() == before
    assert window.isVisible()
    dialog.close()


# -- end to end, with the real server --------------------------------------------------------------


def test_a_cache_found_unsound_after_the_window_opened_is_rebuilt_and_the_user_told(
    qtbot: QtBot,
    loop: asyncio.AbstractEventLoop,
    tmp_path: Path,
    live: LiveServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backend = MemoryKeyring()
    ticket = live.open_ticket("Printer on fire", assignee_id=live.ids["alice"])
    first = alice_signed_in(qtbot, loop, tmp_path, live, backend)
    session = first.session
    assert session is not None
    loop.run_until_complete(until_status(session.engine, lambda s: s.last_sync_at is not None))
    live.stop()  # an offline reply, then the console closes with it unsent
    Store(session.cache, user_id=live.ids["alice"]).add_comment(
        ticket["id"], "On my way", public=True
    )
    loop.run_until_complete(first.close())

    # the next start opens the window from the cache at once; the check running
    # meanwhile finds the file unsound
    checked: list[Path] = []

    def unsound(path: Path) -> str:
        checked.append(path)
        return "quick_check: a bad page"

    monkeypatch.setattr(sync.cache, "_check", unsound)
    second = make_console(tmp_path, backend)
    assert loop.run_until_complete(second.start())
    assert second.session is not None
    assert second.window is not None
    qtbot.addWidget(second.window)
    assert checked  # checked once the window was up, not before opening
    notice = second.session.cache.notice
    assert notice is not None
    assert notice.requeued == 1  # the reply kept, queued again
    box = second.window.findChild(QMessageBox, "cache-notice")
    assert box is not None
    assert box.isVisible()
    assert box.text().startswith("The local cache could not be read.")
    assert second.window.pending_label.text() == "1 pending change"
    loop.run_until_complete(second.close())


def test_a_cache_that_cannot_even_be_rebuilt_is_said_and_not_synced(
    qtbot: QtBot,
    loop: asyncio.AbstractEventLoop,
    tmp_path: Path,
    live: LiveServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backend = MemoryKeyring()
    first = alice_signed_in(qtbot, loop, tmp_path, live, backend)
    loop.run_until_complete(first.close())

    def refuse(self: Path, target: Path) -> Path:
        raise PermissionError("read-only folder")

    monkeypatch.setattr(sync.cache, "_check", lambda path: "quick_check: a bad page")
    monkeypatch.setattr(Path, "rename", refuse)  # the bad file cannot be set aside
    second = make_console(tmp_path, backend)
    assert loop.run_until_complete(second.start())
    assert second.session is not None
    assert second.window is not None
    qtbot.addWidget(second.window)
    box = second.window.findChild(QMessageBox, "cache-unusable")
    assert box is not None
    assert box.isVisible()
    assert "could not be rebuilt" in box.text()
    assert not second.session.engine._tasks  # never started: nothing synced into it
    loop.run_until_complete(second.close())
