"""Team leads and admins publish, edit and end announcements (blocking-incident notices).

The editor's requests are online operations (:mod:`desktop.operations`): listing,
editing and ending need the server.  Publishing does not: offline, the new
announcement is kept and published as soon as the server can be reached (its key
makes sure it is published once).  The banner of every console shows them from
its cache once synced (this console's at once: a sync follows every change).
What the user typed is checked first (a title, an expected end after the start);
what the server refuses is shown in its own words.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Coroutine
from typing import Any

from pydantic import ValidationError
from PySide6.QtCore import QDateTime, QLocale, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

import i18n
from desktop.operations import Operations
from i18n import _
from protocol import AnnouncementIn, AnnouncementOut

__all__ = ["AnnouncementForm", "AnnouncementsEditor"]

_ID_ROLE = int(Qt.ItemDataRole.UserRole) + 1
_ERROR_STYLE = "color: #b3261e;"


def _qt(when: dt.datetime) -> QDateTime:
    return QDateTime.fromSecsSinceEpoch(int(when.timestamp()))


def _py(value: QDateTime) -> dt.datetime:
    return dt.datetime.fromtimestamp(value.toSecsSinceEpoch(), dt.UTC)


class AnnouncementForm(QWidget):
    """Title, body, start and expected end of one announcement."""

    def __init__(self, now: Callable[[], dt.datetime], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._now = now
        self.title_edit = QLineEdit()
        self.title_edit.setObjectName("announcement-title")
        self.title_edit.setMaxLength(200)
        self.body_edit = QPlainTextEdit()
        self.body_edit.setObjectName("announcement-body")
        self.body_edit.setTabChangesFocus(True)
        self.start_now = QCheckBox()
        self.start_edit = QDateTimeEdit()
        self.start_edit.setCalendarPopup(True)
        self.end_box = QCheckBox()
        self.end_edit = QDateTimeEdit()
        self.end_edit.setCalendarPopup(True)
        self.start_now.toggled.connect(lambda on: self.start_edit.setEnabled(not on))
        self.end_box.toggled.connect(self.end_edit.setEnabled)

        start = QHBoxLayout()
        start.addWidget(self.start_now)
        start.addWidget(self.start_edit, 1)
        end = QHBoxLayout()
        end.addWidget(self.end_box)
        end.addWidget(self.end_edit, 1)
        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.title_label = QLabel()
        self.body_label = QLabel()
        self.start_label = QLabel()
        self.end_label = QLabel()
        self.form.addRow(self.title_label, self.title_edit)
        self.form.addRow(self.body_label, self.body_edit)
        self.form.addRow(self.start_label, start)
        self.form.addRow(self.end_label, end)
        self.clear()
        self.retranslate()

    def retranslate(self) -> None:
        self.title_label.setText(_("&Title:"))
        self.title_label.setBuddy(self.title_edit)
        self.body_label.setText(_("&Message:"))
        self.body_label.setBuddy(self.body_edit)
        self.start_label.setText(_("&Start:"))
        self.start_label.setBuddy(self.start_edit)
        self.end_label.setText(_("Expected &end:"))
        self.end_label.setBuddy(self.end_edit)
        self.start_now.setText(_("Now"))
        self.end_box.setText(_("At"))
        locale = QLocale(i18n.current_language())  # "04/03/2026 09:00" in French
        shown = locale.dateTimeFormat(QLocale.FormatType.ShortFormat)
        for edit in (self.start_edit, self.end_edit):
            edit.setLocale(locale)
            edit.setDisplayFormat(shown)
        self.title_edit.setPlaceholderText(_("e.g. Mail service down"))
        self.body_edit.setPlaceholderText(_("What users should know, and what to do meanwhile"))
        self.title_edit.setAccessibleName(_("Announcement title"))
        self.body_edit.setAccessibleName(_("Announcement message"))
        self.start_edit.setAccessibleName(_("Start"))
        self.end_edit.setAccessibleName(_("Expected end"))

    def clear(self) -> None:
        now = self._now()
        self.title_edit.clear()
        self.body_edit.clear()
        self.start_now.setChecked(True)
        self.start_edit.setEnabled(False)
        self.start_edit.setDateTime(_qt(now))
        self.end_box.setChecked(True)
        self.end_edit.setEnabled(True)
        self.end_edit.setDateTime(_qt(now + dt.timedelta(hours=2)))

    def load(self, item: AnnouncementOut) -> None:
        self.title_edit.setText(item.title)
        self.body_edit.setPlainText(item.body)
        self.start_now.setChecked(False)
        self.start_edit.setEnabled(True)
        self.start_edit.setDateTime(_qt(item.starts_at))
        self.end_box.setChecked(item.ends_at is not None)
        self.end_edit.setEnabled(item.ends_at is not None)
        if item.ends_at is not None:
            self.end_edit.setDateTime(_qt(item.ends_at))

    def value(self) -> AnnouncementIn | str:
        """The announcement typed, or what is wrong with it (in words)."""
        title = self.title_edit.text().strip()
        if not title:
            return _("Give the announcement a title.")
        starts = self._now() if self.start_now.isChecked() else _py(self.start_edit.dateTime())
        ends = _py(self.end_edit.dateTime()) if self.end_box.isChecked() else None
        if ends is not None and ends <= starts:
            return _("The expected end must come after the start.")
        try:
            return AnnouncementIn(
                title=title,
                body=self.body_edit.toPlainText().strip(),
                starts_at=None if self.start_now.isChecked() else starts,
                ends_at=ends,
            )
        except ValidationError as error:
            first = error.errors()[0]
            return _("Invalid {field}: {problem}").format(
                field=".".join(str(p) for p in first["loc"]), problem=first["msg"]
            )


class AnnouncementsEditor(QDialog):
    """The announcements running or scheduled; publish a new one, edit or end one."""

    def __init__(
        self,
        operations: Operations,
        now: Callable[[], dt.datetime],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("announcements-editor")
        self.operations = operations
        self._now = now
        self.items: dict[int, AnnouncementOut] = {}
        self.editing: int | None = None

        self.list = QListWidget()
        self.list.setObjectName("announcements")
        self.list.currentItemChanged.connect(lambda _c, _p: self._selected())
        self.new_button = QPushButton()
        self.new_button.clicked.connect(self.new)
        self.end_button = QPushButton()
        self.end_button.clicked.connect(lambda: self.start(self.end_selected()))
        self.form = AnnouncementForm(now)
        self.error_label = QLabel()
        self.error_label.setObjectName("announcement-error")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(_ERROR_STYLE)
        self.error_label.hide()
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.save_button = QPushButton()
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(lambda: self.start(self.save()))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.buttons.rejected.connect(self.reject)

        self.empty_label = QLabel()
        self.empty_label.setObjectName("announcements-empty")
        self.empty_label.setWordWrap(True)
        self.empty_label.setStyleSheet("color: #5f6368;")  # a state, not a control
        left = QVBoxLayout()
        left.addWidget(self.empty_label)
        left.addWidget(self.list, 1)
        row = QHBoxLayout()
        row.addWidget(self.new_button)
        row.addWidget(self.end_button)
        left.addLayout(row)
        right = QVBoxLayout()
        self.form_title = QLabel()
        font = self.form_title.font()
        font.setBold(True)
        self.form_title.setFont(font)
        right.addWidget(self.form_title)
        right.addWidget(self.form, 1)
        right.addWidget(self.error_label)
        right.addWidget(self.save_button, 0, Qt.AlignmentFlag.AlignRight)
        body = QHBoxLayout()
        body.addLayout(left, 2)
        body.addLayout(right, 3)
        layout = QVBoxLayout(self)
        layout.addLayout(body, 1)
        layout.addWidget(self.status_label)
        layout.addWidget(self.buttons)
        self.resize(860, 440)
        self.retranslate()
        self._selected()

    def retranslate(self) -> None:
        self.setWindowTitle(_("Announcements"))
        self.new_button.setText(_("&New"))
        self.end_button.setText(_("E&nd now"))
        self.end_button.setToolTip(_("End the selected announcement now"))
        self.list.setAccessibleName(_("Announcements"))
        self.empty_label.setText(
            _("No announcement running or scheduled. Publish one when users should know.")
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Close).setText(_("Close"))
        self.form.retranslate()
        self._update_form_title()

    def _update_form_title(self) -> None:
        if self.editing is None:
            self.form_title.setText(_("New announcement"))
            self.save_button.setText(_("&Publish"))
        else:
            self.form_title.setText(_("Edit announcement"))
            self.save_button.setText(_("&Save changes"))

    # -- errors ------------------------------------------------------------------------------

    def _fail(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.setVisible(bool(message))

    # -- the server ------------------------------------------------------------------------

    def start(self, job: Coroutine[Any, Any, Any]) -> None:
        """Run ``job`` on the loop (cancelled if the editor goes first)."""
        self.operations.start(job, owner=self)

    async def wait_done(self) -> None:
        """Until the requests under way are answered."""
        await self.operations.wait(self)

    # -- listing ------------------------------------------------------------------------------

    async def refresh(self) -> bool:
        outcome = await self.operations.online(lambda client: client.announcements(upcoming=True))
        if outcome.value is None:
            self._fail(outcome.message)
            return False
        self.show_items(outcome.value)
        return True

    def show_items(self, found: list[AnnouncementOut]) -> None:
        self.items = {item.id: item for item in found}
        keep = self.editing
        self.list.blockSignals(True)
        self.list.clear()
        now = self._now()
        for item in sorted(found, key=lambda a: a.starts_at, reverse=True):
            # local time, as in the start and end fields (the server answers in UTC)
            start = i18n.format_datetime(item.starts_at.astimezone(), "short")
            if item.ends_at is not None:
                when = _("{start} – {end}").format(
                    start=start, end=i18n.format_datetime(item.ends_at.astimezone(), "short")
                )
            else:
                when = _("since {start}").format(start=start)
            state = _("scheduled") if item.starts_at > now else _("running")
            entry = QListWidgetItem(f"{item.title}\n{when} · {state}", self.list)
            entry.setData(_ID_ROLE, item.id)
            if item.id == keep:
                self.list.setCurrentItem(entry)
        self.list.blockSignals(False)
        self._selected()

    def _selected(self) -> None:
        self.empty_label.setVisible(self.list.count() == 0)
        current = self.list.currentItem()
        chosen = None if current is None else self.items.get(int(current.data(_ID_ROLE)))
        self.end_button.setEnabled(chosen is not None)
        if chosen is None:
            if self.editing is not None:
                self.editing = None
                self.form.clear()
        elif chosen.id != self.editing:
            self.editing = chosen.id
            self.form.load(chosen)
        self._fail("")
        self._update_form_title()

    def new(self) -> None:
        self.list.setCurrentRow(-1)
        self.editing = None
        self.form.clear()
        self._update_form_title()
        self.form.title_edit.setFocus()

    # -- publishing -----------------------------------------------------------------------------

    async def save(self) -> AnnouncementOut | None:
        """Publish the form (or save the announcement being edited); None when not done
        now (refused, or kept to publish once the server can be reached)."""
        value = self.form.value()
        if isinstance(value, str):
            self._fail(value)
            return None
        self._fail("")
        editing = self.editing
        if editing is None:
            outcome = await self.operations.publish_announcement(value)
        else:
            outcome = await self.operations.online(
                lambda client: client.update_announcement(editing, value), pull=True
            )
        if outcome.queued:
            self.status_label.setText(
                _(
                    "The server cannot be reached: the announcement will be published as "
                    "soon as it can be (see the pending changes)."
                )
            )
            self.form.clear()  # kept: typing it again would publish it twice
            return None
        saved = outcome.value
        if saved is None:
            self._fail(outcome.message)
            return None
        if editing is None:
            self.status_label.setText(_("Published: every console shows it now."))
        else:
            self.status_label.setText(_("Saved."))
        self.editing = saved.id
        await self.refresh()
        return saved

    async def end_selected(self) -> AnnouncementOut | None:
        current = self.list.currentItem()
        if current is None:
            return None
        announcement_id = int(current.data(_ID_ROLE))
        outcome = await self.operations.online(
            lambda client: client.end_announcement(announcement_id), pull=True
        )
        ended = outcome.value
        if ended is None:
            self._fail(outcome.message)
            return None
        self.status_label.setText(_("Ended: the banner goes away on every console."))
        await self.refresh()
        return ended
