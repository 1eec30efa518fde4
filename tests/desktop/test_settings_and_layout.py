"""Settings and layout: preferences kept and applied (French down to Qt's own texts), the
settings dialog shown whole, the window's layout and its columns restored."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QTableView,
    QWidget,
)
from pytestqt.qtbot import QtBot

from desktop.app import Console
from desktop.models.queue import Column, QueueView
from desktop.qt_language import use_language
from desktop.views.main_window import MainWindow
from desktop.views.settings import (
    Preferences,
    SettingsDialog,
    open_settings,
    restore_layout,
    save_layout,
)
from desktop.views.widgets import FittingSplitter


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
