"""The workspace's fields: status, priority, severity and assignee, staged with a preview
of the due times they would give, applied on confirmation.

A change is *staged* first: the preview shows what the due times would become (the
same :mod:`sla.clock` evaluation on the history plus the hypothetical event), and
the change is queued as the store's named commands on confirmation (Enter in a
field, Ctrl+Return or the Apply button), in one local operation, so it works
offline; the workspace shows it as it comes back through the change bus.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from pydantic import ValidationError
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.models.sla_cells import SlaRules
from desktop.models.ticket_detail import (
    DueChange,
    StagedChange,
    TicketDetail,
    due_phrase,
    preview_change,
)
from desktop.operations import Operations
from desktop.views.widgets import FieldsGrid, scaled, tinted
from i18n import _
from sla.events import Status
from sla.policy import Priority, Severity
from sync.store import Store, UnknownTicketError

__all__ = ["TicketFields"]

#: (text, value) of each choice of a field, in the current language
_Choices = list[tuple[str, str]]


def _choices() -> tuple[_Choices, _Choices, _Choices]:
    """The status, priority and severity choices, in the current language."""
    return (
        [(status.label, status.value) for status in Status],
        [(priority.display, priority.value) for priority in Priority],
        [(severity.label, severity.value) for severity in Severity],
    )


def _choice_combo(name: str, choices: _Choices) -> QComboBox:
    combo = QComboBox()
    combo.setObjectName(name)
    for text, value in choices:
        combo.addItem(text, value)
    return combo


class TicketFields(QWidget):
    """The ticket's editable fields and the preview of a staged change."""

    def __init__(
        self,
        operations: Operations,
        *,
        now: Callable[[], dt.datetime],
        rules: Callable[[], SlaRules],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.operations = operations
        self.store = operations.store
        self._now = now
        self._rules = rules
        self.detail: TicketDetail | None = None
        self.staged = StagedChange()
        self._loading = False

        statuses, priorities, severities = _choices()
        self.status_combo = _choice_combo("status", statuses)
        self.priority_combo = _choice_combo("priority", priorities)
        self.severity_combo = _choice_combo("severity", severities)
        self.assignee_combo = QComboBox()
        self.assignee_combo.setObjectName("assignee")
        self.assignee_combo.setEditable(True)
        self.assignee_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.assignee_combo.setMinimumContentsLength(10)
        completer = QCompleter(self.assignee_combo.model(), self.assignee_combo)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.assignee_combo.setCompleter(completer)
        self.assign_to_me_button = QPushButton()
        self.assign_to_me_button.setObjectName("assign-to-me")
        self.assign_to_me_button.clicked.connect(lambda _c=False: self.assign_to_me())

        self.status_caption = QLabel()
        self.priority_caption = QLabel()
        self.severity_caption = QLabel()
        self.assignee_caption = QLabel()
        pairs = (
            (self.status_caption, self.status_combo),
            (self.priority_caption, self.priority_combo),
            (self.severity_caption, self.severity_combo),
            (self.assignee_caption, self.assignee_combo),
        )
        for caption, combo in pairs:
            caption.setBuddy(combo)
            combo.currentIndexChanged.connect(lambda _i: self._stage_from_fields())
            combo.installEventFilter(self)
        line_edit = self.assignee_combo.lineEdit()
        assert line_edit is not None
        line_edit.installEventFilter(self)
        self.grid = FieldsGrid(pairs, self.assign_to_me_button, wide=self.assignee_combo)

        # the preview of a staged change, with Apply / Cancel
        self.preview = QFrame()
        self.preview.setObjectName("change-preview")
        self.preview.setFrameShape(QFrame.Shape.StyledPanel)
        tinted(self.preview, "#eef4fc", "#14365f")
        self.preview_title = QLabel()
        scaled(self.preview_title, 1.0, bold=True)
        self.preview_lines = QLabel()
        self.preview_lines.setObjectName("preview-lines")
        self.preview_lines.setWordWrap(True)
        self.preview_error = QLabel()
        self.preview_error.setObjectName("preview-error")
        self.preview_error.setWordWrap(True)
        self.preview_error.setStyleSheet("color: #a4262c")
        self.apply_button = QPushButton()
        self.apply_button.setObjectName("apply")
        self.apply_button.setDefault(True)
        self.apply_button.clicked.connect(lambda _c=False: self.apply())
        self.cancel_button = QPushButton()
        self.cancel_button.setObjectName("cancel")
        self.cancel_button.clicked.connect(lambda _c=False: self.cancel_staged())
        texts = QVBoxLayout()
        texts.setSpacing(2)
        texts.addWidget(self.preview_title)
        texts.addWidget(self.preview_lines)
        texts.addWidget(self.preview_error)
        buttons = QVBoxLayout()
        buttons.addWidget(self.apply_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        row = QHBoxLayout(self.preview)
        row.setContentsMargins(10, 6, 10, 6)
        row.addLayout(texts, 1)
        row.addLayout(buttons)
        self.preview.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)  # the workspace's own spacing: the preview sits as if in it
        layout.addWidget(self.grid)
        layout.addWidget(self.preview)

    def retranslate(self) -> None:
        self.status_caption.setText(_("&Status"))
        self.priority_caption.setText(_("&Priority"))
        self.severity_caption.setText(_("Se&verity"))
        self.assignee_caption.setText(_("Assi&gnee"))
        combos = (self.status_combo, self.priority_combo, self.severity_combo)
        for combo, choices in zip(combos, _choices(), strict=True):
            for position, (text, _value) in enumerate(choices):
                combo.setItemText(position, text)
        self.status_combo.setAccessibleName(_("Status"))
        self.priority_combo.setAccessibleName(_("Priority"))
        self.severity_combo.setAccessibleName(_("Severity"))
        self.assignee_combo.setAccessibleName(_("Assignee"))
        self.assignee_combo.setToolTip(_("Type to filter the agents of the ticket's team"))
        self.assign_to_me_button.setText(_("Assign to &me"))
        self.assign_to_me_button.setAccessibleName(_("Assign to me"))
        self.assign_to_me_button.setToolTip(_("Assign this ticket to me (Ctrl+Shift+A)"))
        self.preview_title.setText(_("Preview of the change"))
        self.apply_button.setText(_("&Apply"))
        self.apply_button.setAccessibleName(_("Apply the change"))
        self.apply_button.setToolTip(_("Apply (Enter or Ctrl+Return)"))
        self.cancel_button.setText(_("Cancel"))
        self.cancel_button.setAccessibleName(_("Cancel the change"))
        self.preview.setAccessibleName(_("Preview of the change"))

    # -- the ticket shown ------------------------------------------------------------------

    def forget_staged(self) -> None:
        """Drop what was staged (another ticket is about to be shown)."""
        self.staged = StagedChange()
        self.preview_error.clear()

    def show_error(self, message: str) -> None:
        self.preview_error.setText(message)

    def show_detail(self, detail: TicketDetail | None) -> None:
        """The combos show ``detail``, or the staged values where a change is staged."""
        self.detail = detail
        if detail is None:
            self.preview.hide()
            return
        ticket = detail.ticket
        staged = self.staged
        self._loading = True
        try:
            self._select(self.status_combo, staged.status or ticket.status)
            self._select(self.priority_combo, staged.priority or ticket.priority)
            self._select(self.severity_combo, staged.severity or ticket.severity)
            combo = self.assignee_combo
            combo.clear()
            combo.addItem(_("Unassigned"), None)
            members = list(detail.team_members)
            if ticket.assignee_id is not None and all(m.id != ticket.assignee_id for m in members):
                assignee = detail.users.get(ticket.assignee_id)
                if assignee is not None:
                    members.append(assignee)
            for member in members:
                combo.addItem(member.display_name, member.id)
            wanted = staged.assignee[1] if staged.assignee[0] else ticket.assignee_id
            position = combo.findData(wanted)
            if position < 0:
                combo.addItem(f"#{wanted}", wanted)
                position = combo.count() - 1
            combo.setCurrentIndex(position)
            shown = combo.lineEdit()
            if shown is not None:  # the name from its start ("Camille Dur…", not "amille…")
                shown.setCursorPosition(0)
            me = self.store.user_id
            self.assign_to_me_button.setEnabled(me is not None and ticket.assignee_id != me)
        finally:
            self._loading = False
        self.update_preview()

    @staticmethod
    def _select(combo: QComboBox, code: str) -> None:
        position = combo.findData(str(code))
        combo.setCurrentIndex(max(position, 0))

    # -- staging and applying -------------------------------------------------------------

    def _stage_from_fields(self) -> None:
        if self._loading or self.detail is None:
            return
        ticket = self.detail.ticket
        status = Status(str(self.status_combo.currentData()))
        priority = Priority(str(self.priority_combo.currentData()))
        severity = Severity(str(self.severity_combo.currentData()))
        assignee = self.assignee_combo.currentData()
        assignee_id = None if assignee is None else int(assignee)
        self.staged = StagedChange(
            status=None if status.value == ticket.status else status,
            priority=None if priority.value == ticket.priority else priority,
            severity=None if severity.value == ticket.severity else severity,
            assignee=(assignee_id != ticket.assignee_id, assignee_id),
        )
        self.preview_error.clear()
        self.update_preview()

    def preview_changes(self, now: dt.datetime | None = None) -> list[DueChange]:
        """Both clocks now and were the staged change applied (empty when nothing is staged)."""
        if self.detail is None or self.staged.empty:
            return []
        moment = now if now is not None else self._now()
        return preview_change(self.detail.events, self.staged, self._rules(), moment)

    def update_preview(self, now: dt.datetime | None = None) -> None:
        if self.detail is None or self.staged.empty:
            self.preview.hide()
            return
        moment = now if now is not None else self._now()
        zone = self._rules().calendar.zone
        lines = []
        for change in self.preview_changes(moment):
            before = due_phrase(change.before, moment, zone)
            after = due_phrase(change.after, moment, zone)
            if change.changed:
                lines.append(
                    _("{clock} due: {before} → {after}").format(
                        clock=change.kind.label, before=before, after=after
                    )
                )
            else:
                lines.append(
                    _("{clock} due: {when} (unchanged)").format(
                        clock=change.kind.label, when=before
                    )
                )
        staged = self.staged
        if staged.assignee[0]:
            name = self.detail.user_name(staged.assignee[1]) or _("Unassigned")
            lines.append(_("Assignee: {name}").format(name=name))
        self.preview_lines.setText("\n".join(lines))
        self.preview.setAccessibleDescription("\n".join(lines))
        self.preview.show()

    def cancel_staged(self) -> None:
        self.staged = StagedChange()
        self.preview_error.clear()
        if self.detail is not None:
            self.show_detail(self.detail)
        self.preview.hide()

    def apply(self) -> bool:
        """Queue the staged changes as commands; True when something was applied."""
        detail = self.detail
        staged = self.staged
        if detail is None or staged.empty:
            return False
        ticket_id = detail.ticket.id

        def queue(store: Store) -> None:
            if staged.priority is not None:
                store.set_priority(ticket_id, staged.priority)
            if staged.severity is not None:
                store.set_severity(ticket_id, staged.severity)
            if staged.status is not None:
                store.set_status(ticket_id, staged.status)
            if staged.assignee[0]:
                store.assign(ticket_id, staged.assignee[1])

        # no longer staged once queued: the ticket shown again shows its new values
        self.staged = StagedChange()
        try:
            self.operations.local(queue)
        except UnknownTicketError as error:
            self.staged = staged
            self.preview_error.setText(error.message)
            return False
        except ValidationError:
            self.staged = staged
            self.preview_error.setText(_("This change is not valid; nothing was applied."))
            return False
        return True

    def assign_to_me(self) -> bool:
        """Assign the ticket to the signed-in agent at once (due times do not move)."""
        detail = self.detail
        me = self.store.user_id
        if detail is None or me is None or detail.ticket.assignee_id == me:
            return False
        staged = self.staged
        # the assignee is no longer staged: the other staged fields stay
        self.staged = StagedChange(
            status=staged.status, priority=staged.priority, severity=staged.severity
        )
        ticket_id = detail.ticket.id
        try:
            self.operations.local(lambda store: store.assign(ticket_id, me))
        except UnknownTicketError as error:
            self.staged = staged
            self.preview_error.setText(error.message)
            return False
        return True

    def focus_status(self) -> None:
        self.status_combo.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            key = event.key()
            plain = not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and plain:
                if self._resolve_assignee_text():
                    return True
                if not self.staged.empty:
                    self.apply()
                    return True
            elif key == Qt.Key.Key_Escape and not self.staged.empty:
                self.cancel_staged()
                return True
        return super().eventFilter(watched, event)

    def _resolve_assignee_text(self) -> bool:
        """The typed assignee text picks the agent it matches; True when that moved the choice."""
        combo = self.assignee_combo
        typed = combo.currentText().strip().casefold()
        current = combo.itemText(combo.currentIndex()).casefold()
        if not typed or typed == current:
            return False
        matches = [i for i in range(combo.count()) if typed in combo.itemText(i).casefold()]
        if len(matches) >= 1:
            combo.setCurrentIndex(matches[0])
        else:
            combo.setEditText(combo.itemText(combo.currentIndex()))
        return True
