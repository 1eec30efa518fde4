"""The console around the queue: sign-in, sync status, conflicts, settings, errors, alerts."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import qasync  # type: ignore[import-untyped]
from keyring.backends import fail
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableView,
    QWidget,
)
from pytestqt.qtbot import QtBot

import i18n
import sync.cache
from desktop.app import Console
from desktop.demo_data import seed_demo
from desktop.models.queue import Column, QueueModel, QueueView
from desktop.operations import Operations
from desktop.qt_language import use_language
from desktop.views.errors import ErrorReporter
from desktop.views.main_window import MainWindow
from desktop.views.notifications import Alert, Level, Seen, SlaNotifier, decide
from desktop.views.settings import (
    Preferences,
    SettingsDialog,
    open_settings,
    restore_layout,
    save_layout,
)
from desktop.views.sign_in import SignInDialog, SignInRequest
from desktop.views.sync_panel import ConflictsPanel
from desktop.views.widgets import FittingSplitter
from protocol import ConflictResult, Status
from sla.clock import ClockStatus
from sync.cache import Cache
from sync.client import ApiClient, RetryPolicy
from sync.engine import InitialSyncProgress, SyncEngine, SyncState, SyncStatus
from sync.store import Store
from tests.desktop.conftest import T0, FakeClock, Feed, load
from tests.sync.live_server import PASSWORD, LiveServer
from tests.sync.test_credentials import LockedKeyring, MemoryKeyring


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    i18n.set_language("en")
    yield
    i18n.set_language("en")


# -- sign-in dialog -----------------------------------------------------------------------


def test_sign_in_dialog_checks_what_was_typed(qtbot: QtBot) -> None:
    dialog = SignInDialog()
    qtbot.addWidget(dialog)
    sent: list[SignInRequest] = []
    dialog.submitted.connect(sent.append)

    dialog.submit()
    assert not sent
    assert "address" in dialog.error_label.text()
    dialog.server_edit.setText("http://helpdesk.example.com")
    dialog.submit()
    assert not sent
    assert "https://" in dialog.error_label.text()
    dialog.server_edit.setText("https://helpdesk.example.com/")
    dialog.submit()
    assert not sent
    assert dialog.error_label.text() == "Enter your user name."
    QTest.keyClicks(dialog.username_edit, "alice")
    dialog.submit()
    assert not sent
    assert dialog.error_label.text() == "Enter your password."
    QTest.keyClicks(dialog.password_edit, "secret")
    dialog.remember_box.setChecked(False)
    dialog.submit()
    assert sent == [SignInRequest("https://helpdesk.example.com", "alice", "secret", False)]
    assert not dialog.buttons.isEnabled()  # busy until told how it went
    dialog.fail("Wrong user name or password.")
    assert dialog.buttons.isEnabled()
    assert dialog.error_label.text().startswith("Wrong")


def test_remember_me_is_off_and_says_why_without_a_usable_keyring(
    qtbot: QtBot, tmp_path: Path
) -> None:
    no_store = Console(
        open_settings(str(tmp_path / "settings.ini")),
        keyring_backend=fail.Keyring(),  # type: ignore[no-untyped-call]
    )
    dialog = no_store.show_sign_in()
    qtbot.addWidget(dialog)
    qtbot.waitUntil(dialog.windowHandle().isExposed)
    box = dialog.remember_box
    assert not box.isChecked()
    assert not box.isEnabled()
    reason = dialog.findChild(QLabel, "remember-unavailable")
    assert reason is not None
    assert reason.isVisible()
    assert reason.text().startswith("No secure password store is available on this computer")
    assert reason.height() >= reason.heightForWidth(reason.width())  # shown whole
    # with a keyring, ticked as the user left it, and nothing to explain
    keyring_console = Console(
        open_settings(str(tmp_path / "other.ini")), keyring_backend=MemoryKeyring()
    )
    usable = keyring_console.show_sign_in()
    qtbot.addWidget(usable)
    assert usable.remember_box.isChecked()
    assert usable.remember_box.isEnabled()
    hidden = usable.findChild(QLabel, "remember-unavailable")
    assert hidden is not None
    assert not hidden.isVisible()


# -- status bar ------------------------------------------------------------------------------


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


@pytest.fixture
def window(qtbot: QtBot, cache: Cache, clock: FakeClock) -> MainWindow:
    seed_demo(cache, now=T0, count=60)
    main = MainWindow(cache, me=1, clock=clock)
    qtbot.addWidget(main)
    main.show()
    qtbot.waitUntil(main.windowHandle().isExposed)
    return main


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


# -- conflicts ------------------------------------------------------------------------------


def button(parent: QWidget, name: str) -> QPushButton:
    found = parent.findChild(QPushButton, name)
    assert found is not None
    return found


def _conflict(cache: Cache, clock: FakeClock) -> tuple[Store, int]:
    """Alice (user 1) set a status offline while Bob (user 2) took the ticket."""
    feed = Feed()
    feed.ticket(7, created=T0 - dt.timedelta(hours=1), assignee=1, subject="Printer on fire")
    store = load(cache, feed)
    mutation = store.set_status(7, Status.PENDING)
    server = cache.server_ticket(7)
    assert server is not None
    moved = server.model_copy(update={"assignee_id": 2, "version": server.version + 1})
    store.record_results(
        [ConflictResult(mutation_id=mutation, ticket_id=7, fields=["assignee_id"], ticket=moved)]
    )
    return store, 7


def test_conflicts_panel_shows_both_sides_and_resolves(
    qtbot: QtBot, cache: Cache, clock: FakeClock
) -> None:
    store, ticket_id = _conflict(cache, clock)
    panel = ConflictsPanel(Operations(store))
    qtbot.addWidget(panel)
    rows = panel.conflict_rows()
    assert len(rows) == 1
    text = panel.findChildren(type(panel.empty), "conflict-text")[0].text()
    assert text == (
        "Reassigned to Bob Lefèvre while you were offline: your status change was not applied"
    )
    button(rows[0], "reapply").click()
    assert store.conflict_count() == 0
    assert panel.conflict_rows() == []
    assert panel.empty.isVisible() or not panel.isVisible()
    again = store.pending_batch()
    assert [c.type for c in again] == ["set_status"]
    server = cache.server_ticket(ticket_id)
    assert server is not None
    assert server.assignee_id == 2
    assert again[0].base_version == server.version  # on top of the server's new version


def test_discarding_a_conflict_keeps_the_server_version(
    qtbot: QtBot, cache: Cache, clock: FakeClock
) -> None:
    store, ticket_id = _conflict(cache, clock)
    panel = ConflictsPanel(Operations(store))
    qtbot.addWidget(panel)
    button(panel.conflict_rows()[0], "discard").click()
    assert store.conflict_count() == 0
    assert store.pending_batch() == []
    shown = cache.ticket(ticket_id)
    assert shown is not None
    assert shown.assignee_id == 2
    assert shown.status == "new"


# -- settings ------------------------------------------------------------------------------


def test_settings_persist_and_french_relabels_the_window(
    qtbot: QtBot, tmp_path: Path, window: MainWindow
) -> None:
    path = str(tmp_path / "settings.ini")
    settings = open_settings(path)
    assert Preferences.load(settings) == Preferences()
    Preferences(language="fr", notifications=False, sla_seconds=False).save(settings)
    loaded = Preferences.load(open_settings(path))
    assert loaded == Preferences(language="fr", notifications=False, sla_seconds=False)

    console = Console(open_settings(path))
    console.window = window
    console.apply_preferences(loaded)
    assert window.file_menu.title() == "&Fichier"
    assert window.sync_status.state_label.text() == "Hors ligne"
    assert window.model.headerData(Column.STATUS, Qt.Orientation.Horizontal) == "Statut"
    console.apply_preferences(Preferences(language="en"))
    assert window.file_menu.title() == "&File"


def _qt_texts(widget: QWidget) -> list[str]:
    """The texts Qt itself gives: a text field's context menu and a standard button."""
    field = QLineEdit(widget)
    menu = field.createStandardContextMenu()
    assert menu is not None
    box = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, widget)
    close = box.button(QDialogButtonBox.StandardButton.Close)
    assert close is not None
    # "Co&pier\tCtrl+C": the words, not the accelerator nor the shortcut
    texts = [action.text().split("\t")[0].replace("&", "") for action in menu.actions()]
    return [*texts, close.text().replace("&", "")]


def test_french_also_translates_qts_own_menus_and_buttons(
    tmp_path: Path, window: MainWindow
) -> None:
    console = Console(open_settings(str(tmp_path / "settings.ini")))
    console.window = window
    console.apply_preferences(Preferences(language="fr"))
    french = _qt_texts(window)
    assert {"Copier", "Coller", "Fermer"} <= set(french)
    assert "Copy" not in french
    assert "Select All" not in french
    console.apply_preferences(Preferences(language="en"))
    assert {"Copy", "Paste", "Select All", "Close"} <= set(_qt_texts(window))


def test_the_settings_dialog_shows_every_option_whole(qtbot: QtBot) -> None:
    for language in ("en", "fr"):
        use_language(language)
        dialog = SettingsDialog(Preferences())
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitUntil(dialog.windowHandle().isExposed)
        for box in dialog.findChildren(QCheckBox):
            assert box.width() >= box.sizeHint().width(), (language, box.text())
        note = dialog.findChild(QLabel, "notifications-note")
        assert note is not None
        assert note.height() >= note.heightForWidth(note.width())


def _drag_column_edge(table: QWidget, column: Column, dx: int) -> None:
    """The user drags the right edge of ``column``'s header by ``dx`` pixels."""
    assert isinstance(table, QTableView)
    header = table.horizontalHeader()
    x = header.sectionViewportPosition(column) + header.sectionSize(column) - 1
    y = header.height() // 2
    viewport = header.viewport()
    QTest.mousePress(
        viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(x, y)
    )
    QTest.mouseMove(viewport, QPoint(x + dx // 2, y))
    QTest.mouseMove(viewport, QPoint(x + dx, y))
    QTest.mouseRelease(
        viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(x + dx, y)
    )


def test_window_layout_is_restored(qtbot: QtBot, tmp_path: Path, window: MainWindow) -> None:
    settings = open_settings(str(tmp_path / "layout.ini"))
    window.resize(1100, 560)  # within the offscreen screen, which restoreGeometry respects
    QApplication.processEvents()
    header = window.table.horizontalHeader()
    before = header.sectionSize(Column.TRACKING)
    _drag_column_edge(window.table, Column.TRACKING, 40)
    assert header.sectionSize(Column.TRACKING) == before + 40
    save_layout(window, settings)
    other = MainWindow(window.cache, me=1)
    qtbot.addWidget(other)
    assert restore_layout(other, open_settings(str(tmp_path / "layout.ini")))
    assert other.size().height() == 560
    assert other.table.horizontalHeader().sectionSize(Column.TRACKING) == before + 40
    assert other.table.user_widths == {Column.TRACKING: before + 40}
    splitter = other.centralWidget()
    assert isinstance(splitter, FittingSplitter)
    assert splitter.user_split  # the saved split


def test_columns_are_fitted_again_on_later_starts_but_the_users_own_stay(
    qtbot: QtBot, tmp_path: Path, window: MainWindow
) -> None:
    """A saved header is no user's choice: only a column the user resized or hid stays so."""
    window.show_view(QueueView.ALL)
    window.resize(1400, 720)
    QApplication.processEvents()
    dropped = set(window.table.hidden_columns)
    assert dropped  # the workspace beside the queue leaves no room for every column
    save_layout(window, open_settings(str(tmp_path / "first.ini")))
    window.panel_actions["workspace"].setChecked(False)  # Ctrl+F9: room for the queue
    QApplication.processEvents()
    first_run = window.table.horizontalHeader()
    came_back = dropped - window.table.hidden_columns
    assert came_back  # on the first run, the columns come back

    def later_start(name: str) -> MainWindow:
        other = MainWindow(window.cache, me=1)
        qtbot.addWidget(other)
        other.show()
        qtbot.waitUntil(other.windowHandle().isExposed)
        assert restore_layout(other, open_settings(str(tmp_path / name)))
        other.resize(1400, 720)  # as saved (the offscreen screen is smaller)
        other.show_view(QueueView.ALL)
        QApplication.processEvents()
        return other

    second = later_start("first.ini")
    second.panel_actions["workspace"].setChecked(False)
    QApplication.processEvents()
    header = second.table.horizontalHeader()
    assert second.table.hidden_columns == window.table.hidden_columns  # and on later ones
    for column in Column:
        assert header.isSectionHidden(column) == first_run.isSectionHidden(column), column
        assert header.sectionSize(column) == first_run.sectionSize(column), column

    # the user hides the assignee and widens the priority: those stay so
    second.panel_actions["workspace"].setChecked(True)
    QApplication.processEvents()
    menu = second.table.column_menu()
    [assignee] = [a for a in menu.actions() if a.text() == "Assignee"]
    assert assignee.isCheckable()
    assert assignee.isChecked()
    assignee.trigger()
    assert header.isSectionHidden(Column.ASSIGNEE)
    wide = header.sectionSize(Column.PRIORITY) + 30
    _drag_column_edge(second.table, Column.PRIORITY, 30)
    assert header.sectionSize(Column.PRIORITY) == wide
    save_layout(second, open_settings(str(tmp_path / "second.ini")))

    third = later_start("second.ini")
    third.panel_actions["workspace"].setChecked(False)
    QApplication.processEvents()
    header = third.table.horizontalHeader()
    assert header.isSectionHidden(Column.ASSIGNEE)
    assert header.sectionSize(Column.PRIORITY) == wide
    for column in came_back - {Column.ASSIGNEE}:
        assert not header.isSectionHidden(column), column
    [assignee] = [a for a in third.table.column_menu().actions() if a.text() == "Assignee"]
    assignee.trigger()  # shown again: fitted like the others
    assert not header.isSectionHidden(Column.ASSIGNEE)


# -- errors ------------------------------------------------------------------------------


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


# -- notifications --------------------------------------------------------------------------


def test_notify_only_worsening_states_of_my_tickets_during_business_hours() -> None:
    seen = {
        1: Seen("INC-1", "Printer", Level.AT_RISK),
        2: Seen("INC-2", "VPN", Level.BREACHED),
        3: Seen("INC-3", "Mail", Level.FINE),
        4: Seen("INC-4", "New one", Level.BREACHED),
    }
    before = {1: Level.FINE, 2: Level.AT_RISK, 3: Level.AT_RISK}
    alerts = decide(before, seen, enabled=True, calendar_open=True)
    assert [(a.tracking_number, a.level) for a in alerts] == [
        ("INC-2", Level.BREACHED),
        ("INC-1", Level.AT_RISK),
    ]  # not the improving INC-3, not INC-4 seen for the first time
    assert alerts[0].title == "SLA breached: INC-2"
    assert decide(before, seen, enabled=False, calendar_open=True) == []
    assert decide(before, seen, enabled=True, calendar_open=False) == []
    after = {ticket_id: s.level for ticket_id, s in seen.items()}
    assert decide(after, seen, enabled=True, calendar_open=True) == []  # once only


def _notified(
    cache: Cache, clock: FakeClock, feed: Feed, **options: Any
) -> tuple[QueueModel, SlaNotifier, list[list[Alert]]]:
    """The feed's tickets in the cache, a queue over them (``options``) and a notifier
    that keeps what it shows."""
    load(cache, feed)
    model = QueueModel(cache, me=1, clock=clock, **options)
    shown: list[list[Alert]] = []
    return model, SlaNotifier(model, 1, show=shown.append), shown


def test_my_ticket_breaching_off_screen_is_notified_once_others_never(
    qtbot: QtBot, cache: Cache, clock: FakeClock
) -> None:
    # 11 is mine, 12 is Bob's: both P1 blocking, their first responses due at T0 + 10 min
    feed = Feed()
    minute = dt.timedelta(minutes=1)
    feed.ticket(11, created=T0 - 50 * minute, priority="P1", severity="blocking", assignee=1)
    feed.ticket(12, created=T0 - 50 * minute, priority="P1", severity="blocking", assignee=2)
    model, notifier, shown = _notified(cache, clock, feed)
    assert not notifier.looked  # its first look comes once the window is painted
    qtbot.waitUntil(lambda: notifier.looked)
    assert shown == []
    assert notifier.sent == []  # no old news at start
    watched: list[dict[int, object]] = []
    model.clocksMoved.connect(watched.append)
    model.tick(T0 + 11 * minute)  # nothing on screen: the clocks change state together
    assert [list(moved) for moved in watched] == [[11, 12]]  # these two, not every ticket
    assert [(a.ticket_id, a.level) for batch in shown for a in batch] == [(11, Level.BREACHED)]
    assert shown[0][0].title == "SLA breached: INC-2026-000011"
    model.tick(T0 + 20 * minute)
    assert len(shown) == 1
    assert notifier.sent == shown[0]  # once only
    # 11 handed to Bob and back, still breached: not news again
    feed.ticket(11, created=T0 - 50 * minute, priority="P1", severity="blocking", assignee=2)
    load(cache, feed)
    model.refresh_tickets([11])
    assert model.watch(1) == {}
    feed.ticket(11, created=T0 - 50 * minute, priority="P1", severity="blocking", assignee=1)
    load(cache, feed)
    model.refresh_tickets([11])
    assert list(model.watch(1)) == [11]
    assert len(shown) == 1


def test_my_ticket_breaching_before_the_first_look_is_notified(
    cache: Cache, clock: FakeClock
) -> None:
    feed = Feed()
    minute = dt.timedelta(minutes=1)
    feed.ticket(11, created=T0 - 50 * minute, priority="P1", severity="blocking", assignee=1)
    feed.ticket(12, created=T0 - 50 * minute, priority="P4", severity="minor", assignee=1)
    model, notifier, shown = _notified(cache, clock, feed)
    model.tick(T0 + 11 * minute)  # within the first moments, before the window is painted
    assert notifier.looked
    # 11 breached: news, though the first look came after; 12 did not move
    assert [(a.ticket_id, a.level) for batch in shown for a in batch] == [(11, Level.BREACHED)]


def test_a_sync_before_the_first_look_raises_no_old_breach(cache: Cache, clock: FakeClock) -> None:
    # a large queue (eager_limit 0): my tickets' clocks are not evaluated when the sync lands
    feed = Feed()
    days = dt.timedelta(days=3)
    feed.ticket(11, created=T0 - days, priority="P1", severity="blocking", assignee=1)
    model, notifier, shown = _notified(cache, clock, feed, view=QueueView.PENDING, eager_limit=0)
    feed.ticket(11, created=T0 - days, priority="P1", severity="major", assignee=1)
    load(cache, feed)
    model.refresh_tickets([11])  # breached for days, and still: no news
    assert notifier.looked
    assert model.watch(1)[11].states[0] is ClockStatus.BREACHED
    assert shown == []


# -- end to end, with the real server ---------------------------------------------------------


@pytest.fixture
def loop(qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    event_loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(event_loop)
    yield event_loop
    event_loop.run_until_complete(event_loop.shutdown_asyncgens())
    event_loop.close()
    asyncio.set_event_loop(None)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer.create(tmp_path)
    server.start()
    yield server
    server.close()


def _console(tmp_path: Path, backend: MemoryKeyring) -> Console:
    return Console(
        open_settings(str(tmp_path / "settings.ini")),
        keyring_backend=backend,
        data_dir=tmp_path / "data",
        client_factory=lambda url: ApiClient(url, retry=RetryPolicy(attempts=1)),
        engine_options={"live": False, "offload": False, "interval": 3600.0},
    )


def _alice_signed_in(
    qtbot: QtBot,
    loop: asyncio.AbstractEventLoop,
    tmp_path: Path,
    live: LiveServer,
    backend: MemoryKeyring,
) -> Console:
    """A console signed in as alice ("remember me"), its window shown."""
    console = _console(tmp_path, backend)
    request = SignInRequest(live.url, "alice", PASSWORD, True)
    assert loop.run_until_complete(console.sign_in(request)) is None
    assert console.session is not None
    assert console.window is not None
    qtbot.addWidget(console.window)
    return console


async def _until(engine: SyncEngine, ready: Callable[[SyncStatus], bool]) -> SyncStatus:
    async with asyncio.timeout(30):
        async for status in engine.statuses():
            if ready(status):
                return status
    raise AssertionError("unreachable")  # pragma: no cover


def test_remember_me_skips_the_sign_in_next_time(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop, tmp_path: Path, live: LiveServer
) -> None:
    backend = MemoryKeyring()
    first = _console(tmp_path, backend)
    request = SignInRequest(live.url, "alice", PASSWORD, True)
    assert loop.run_until_complete(first.sign_in(request)) is None
    assert backend.get_password(f"offimizer-console:{live.url}", "alice")
    loop.run_until_complete(first.close())
    assert first.window is not None
    qtbot.addWidget(first.window)

    second = _console(tmp_path, backend)
    assert loop.run_until_complete(second.start())
    assert second.sign_in_dialog is None
    assert second.session is not None
    assert second.session.engine.client.token is not None
    loop.run_until_complete(second.close())
    assert second.window is not None
    qtbot.addWidget(second.window)

    third = _console(tmp_path, backend)
    wrong = SignInRequest(live.url, "alice", "not the password", False)
    problem = loop.run_until_complete(third.sign_in(wrong))
    assert problem
    assert third.session is None
    forget = SignInRequest(live.url, "alice", PASSWORD, False)
    assert loop.run_until_complete(third.sign_in(forget)) is None
    assert backend.get_password(f"offimizer-console:{live.url}", "alice") is None
    loop.run_until_complete(third.close())
    assert third.window is not None
    qtbot.addWidget(third.window)


def test_a_keyring_that_refuses_the_token_is_said_not_pretended(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop, tmp_path: Path, live: LiveServer
) -> None:
    backend = LockedKeyring()
    console = _console(tmp_path, backend)
    request = SignInRequest(live.url, "alice", PASSWORD, True)
    assert loop.run_until_complete(console.sign_in(request)) is None
    assert console.window is not None
    qtbot.addWidget(console.window)
    assert (
        console.window.statusBar()
        .currentMessage()
        .startswith("No secure password store is available on this computer")
    )
    saved = console.saved_account()
    assert saved is not None
    assert saved[3] is False  # not remembered: asked next time
    loop.run_until_complete(console.close())


def test_a_cache_found_unsound_after_the_window_opened_is_rebuilt_and_the_user_told(
    qtbot: QtBot,
    loop: asyncio.AbstractEventLoop,
    tmp_path: Path,
    live: LiveServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backend = MemoryKeyring()
    ticket = live.open_ticket("Printer on fire", assignee_id=live.ids["alice"])
    first = _alice_signed_in(qtbot, loop, tmp_path, live, backend)
    session = first.session
    assert session is not None
    loop.run_until_complete(_until(session.engine, lambda s: s.last_sync_at is not None))
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
    second = _console(tmp_path, backend)
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
    first = _alice_signed_in(qtbot, loop, tmp_path, live, backend)
    loop.run_until_complete(first.close())

    def refuse(self: Path, target: Path) -> Path:
        raise PermissionError("read-only folder")

    monkeypatch.setattr(sync.cache, "_check", lambda path: "quick_check: a bad page")
    monkeypatch.setattr(Path, "rename", refuse)  # the bad file cannot be set aside
    second = _console(tmp_path, backend)
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


def test_reply_offline_then_sync_when_the_server_is_back(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop, tmp_path: Path, live: LiveServer
) -> None:
    ticket = live.open_ticket("Printer on fire", assignee_id=live.ids["alice"])
    console = _alice_signed_in(qtbot, loop, tmp_path, live, MemoryKeyring())
    session = console.session
    assert session is not None
    window = session.window
    engine = session.engine
    loop.run_until_complete(
        _until(engine, lambda s: s.state is SyncState.ONLINE and s.last_sync_at is not None)
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
    loop.run_until_complete(_until(engine, lambda s: s.state is SyncState.OFFLINE))
    assert window.pending_label.text() == "1 pending change"
    assert window.connection_label.text() == "Offline"
    reply = session.cache.comments(ticket["id"])[-1]
    assert reply.body == "A technician is on the way"
    assert reply.pending

    live.start()
    window.sync_action.trigger()
    loop.run_until_complete(
        _until(engine, lambda s: s.state is SyncState.ONLINE and s.pending == 0)
    )
    assert window.pending_label.text() == "0 pending changes"
    assert window.connection_label.text() == "Online"
    synced = session.cache.comments(ticket["id"])[-1]
    assert synced.body == "A technician is on the way"
    assert synced.server_id is not None
    server = live.call("GET", f"/tickets/{ticket['id']}", "alice")
    assert [c["body"] for c in server["comments"]] == ["A technician is on the way"]
    loop.run_until_complete(console.close())
