"""Preferences (QSettings) and the settings dialog; window layout saved and restored.

Organisation "OFFIMIZER", application "Offimizer Console".  Language: English,
Français or the system's (applied at once); desktop notifications on/off; SLA
countdowns with or without seconds.  The window geometry, its splitters and the
queue's columns are saved on close and restored at start.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QMainWindow,
    QSplitter,
    QStyle,
    QTableView,
    QVBoxLayout,
    QWidget,
)

import i18n
from desktop.models.queue import Column
from desktop.qt_language import use_language
from desktop.views.queue_table import QueueTable
from i18n import _

__all__ = [
    "APPLICATION",
    "ORGANISATION",
    "Preferences",
    "SettingsDialog",
    "open_settings",
    "restore_layout",
    "save_layout",
]

ORGANISATION: Final = "OFFIMIZER"
APPLICATION: Final = "Offimizer Console"
SYSTEM: Final = ""  # the language code meaning "follow the system"


def open_settings(path: str | None = None) -> QSettings:
    """The console's settings: the platform's place, or an ini file at ``path`` (tests)."""
    if path is not None:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings(ORGANISATION, APPLICATION)


def _bool(value: object, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("1", "true", "yes", "on")


@dataclass(slots=True)
class Preferences:
    language: str = SYSTEM
    notifications: bool = True
    sla_seconds: bool = True

    @classmethod
    def load(cls, settings: QSettings) -> Preferences:
        language = str(settings.value("ui/language", SYSTEM) or SYSTEM)
        if language not in i18n.LANGUAGES:
            language = SYSTEM  # a hand-edited or stale value: follow the system
        return cls(
            language=language,
            notifications=_bool(settings.value("ui/notifications"), True),
            sla_seconds=_bool(settings.value("ui/sla_seconds"), True),
        )

    def save(self, settings: QSettings) -> None:
        settings.setValue("ui/language", self.language)
        settings.setValue("ui/notifications", self.notifications)
        settings.setValue("ui/sla_seconds", self.sla_seconds)
        settings.sync()

    def apply_language(self) -> str:
        return use_language(self.language or None)


class SettingsDialog(QDialog):
    def __init__(self, preferences: Preferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settings")
        self.setWindowTitle(_("Settings"))
        self.setMinimumWidth(420)
        self.language_box = QComboBox()
        self.language_box.setObjectName("language")
        self.language_box.addItem(_("System language"), SYSTEM)
        for code, name in i18n.LANGUAGES.items():
            self.language_box.addItem(name, code)
        self.language_box.setCurrentIndex(max(0, self.language_box.findData(preferences.language)))
        self.language_box.setAccessibleName(_("Language"))
        # a check box's text never wraps: short, and the explanation below it wraps
        self.notifications_box = QCheckBox(_("Desktop &notifications"))
        self.notifications_box.setObjectName("notifications")
        self.notifications_box.setChecked(preferences.notifications)
        self.seconds_box = QCheckBox(_("Show &seconds in SLA countdowns"))
        self.seconds_box.setObjectName("sla-seconds")
        self.seconds_box.setChecked(preferences.sla_seconds)
        note = QLabel(
            _(
                "A notice when a ticket assigned to me becomes at risk or breached, "
                "during business hours only."
            )
        )
        note.setObjectName("notifications-note")
        note.setWordWrap(True)
        note.setIndent(
            self.notifications_box.style().pixelMetric(QStyle.PixelMetric.PM_IndicatorWidth) + 4
        )
        form = QFormLayout()
        form.addRow(_("&Language:"), self.language_box)
        form.addRow(self.notifications_box)
        form.addRow(note)
        form.addRow(self.seconds_box)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText(_("OK"))
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(_("Cancel"))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def preferences(self) -> Preferences:
        return Preferences(
            language=str(self.language_box.currentData() or SYSTEM),
            notifications=self.notifications_box.isChecked(),
            sla_seconds=self.seconds_box.isChecked(),
        )


def _splitters(window: QMainWindow) -> dict[str, QSplitter]:
    return {s.objectName(): s for s in window.findChildren(QSplitter) if s.objectName()}


def save_layout(window: QMainWindow, settings: QSettings) -> None:
    """The window's geometry and state, its named splitters, the queue's columns."""
    settings.setValue("window/geometry", window.saveGeometry())
    settings.setValue("window/state", window.saveState())
    for name, splitter in _splitters(window).items():
        settings.setValue(f"splitters/{name}", splitter.saveState())
    table = window.findChild(QTableView, "queue")
    if table is not None:
        settings.setValue("queue/header", table.horizontalHeader().saveState())
    if isinstance(table, QueueTable):  # what the user chose, apart from what fitting did
        choices = {
            "widths": {str(int(c)): w for c, w in table.user_widths.items()},
            "hidden": sorted(int(c) for c in table.user_hidden),
        }
        settings.setValue("queue/user_columns", json.dumps(choices))
    panels = getattr(window, "panels", None)  # the panels beside the queue, shown or not
    if panels is not None:
        for key, shown in panels().items():
            settings.setValue(f"panels/{key}", shown)
    settings.sync()


def _bytes(value: object) -> QByteArray | None:
    if isinstance(value, QByteArray) and not value.isEmpty():
        return value
    if isinstance(value, bytes | bytearray) and value:
        return QByteArray(bytes(value))
    return None


def restore_layout(window: QMainWindow, settings: QSettings) -> bool:
    """Restore what :func:`save_layout` saved; False when there was nothing (first start)."""
    geometry = _bytes(settings.value("window/geometry"))
    if geometry is None:
        return False
    window.restoreGeometry(geometry)
    state = _bytes(settings.value("window/state"))
    if state is not None:
        window.restoreState(state)
    for name, splitter in _splitters(window).items():
        saved = _bytes(settings.value(f"splitters/{name}"))
        if saved is not None:
            splitter.restoreState(saved)
    set_panels = getattr(window, "set_panels", None)
    if set_panels is not None:
        settings.beginGroup("panels")
        set_panels({key: _bool(settings.value(key), True) for key in settings.childKeys()})
        settings.endGroup()
    table = window.findChild(QTableView, "queue")
    header = _bytes(settings.value("queue/header"))
    if table is None or header is None:
        return True
    # the saved header brings the columns' order back; their widths and what is shown
    # are fitted again, except what the user chose
    if table.horizontalHeader().restoreState(header) and isinstance(table, QueueTable):
        widths, hidden = _user_columns(settings.value("queue/user_columns"))
        table.user_widths = widths
        table.user_hidden = hidden
        table.fit_columns()
    return True


def _user_columns(value: object) -> tuple[dict[Column, int], set[Column]]:
    """The columns the user resized (their widths) and hid, as saved; nothing when the
    value is missing or unreadable."""
    known = {int(c) for c in Column}
    try:
        saved = json.loads(str(value)) if value else {}
        widths = {int(c): int(w) for c, w in dict(saved.get("widths", {})).items()}
        hidden = {int(c) for c in saved.get("hidden", [])}
    except (TypeError, ValueError, AttributeError):
        return {}, set()
    return (
        {Column(c): w for c, w in widths.items() if c in known and w > 0},
        {Column(c) for c in hidden if c in known},
    )
