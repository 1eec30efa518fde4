"""The workspace's conversation: the ticket's replies and internal notes, and the editor
that writes the next one (a public reply or an internal note, kept as a draft per
ticket and mode until sent)."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable
from typing import Final

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QKeyEvent, QPalette
from PySide6.QtWidgets import (
    QButtonGroup,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

import i18n
from desktop.models.ticket_detail import TicketDetail
from desktop.views.widgets import scaled, tinted
from i18n import _
from sync.queries import CommentView

__all__ = ["CommentCard", "ConversationThread", "ReplyBox", "ReplyEditor"]

_INTERNAL_BACKGROUND: Final = "#fff6d5"
_PUBLIC_BACKGROUND: Final = "#ffffff"
_PENDING_FOREGROUND: Final = "#6b6f76"
_MODE_REPLY: Final = 0
_MODE_NOTE: Final = 1


class CommentCard(QFrame):
    """A public reply or an internal note (pale yellow, labelled), "sending…" while queued."""

    def __init__(
        self, comment: CommentView, author: str, when: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.comment = comment
        self.internal = not comment.public
        self.setObjectName("comment-internal" if self.internal else "comment-public")
        self.setProperty("kind", "internal" if self.internal else "public")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.header = QLabel()
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.body = QLabel(comment.body)
        self.body.setTextFormat(Qt.TextFormat.PlainText)
        self.body.setWordWrap(True)
        self.body.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 8)
        layout.setSpacing(3)
        layout.addWidget(self.header)
        layout.addWidget(self.body)
        parts = [f"<b>{html.escape(author)}</b>", html.escape(when)]
        if self.internal:
            label = html.escape(_("Internal note"))
            parts.insert(0, f"<span style='color:#7a4d00; font-weight:600'>{label}</span>")
        if comment.pending:
            sending = html.escape(_("sending…"))
            parts.append(f"<i style='color:{_PENDING_FOREGROUND}'>{sending}</i>")
        self.header.setText(" · ".join(parts))
        kind = _("Internal note") if self.internal else _("Public reply")
        self.setAccessibleName(_("{kind} by {author}").format(kind=kind, author=author))
        if self.internal:
            tinted(self, _INTERNAL_BACKGROUND)
        else:
            tinted(self, _PUBLIC_BACKGROUND)
        if comment.pending:
            palette = self.body.palette()
            palette.setColor(QPalette.ColorRole.WindowText, QColor(_PENDING_FOREGROUND))
            self.body.setPalette(palette)

    @property
    def header_text(self) -> str:
        return self.header.text()


class ConversationThread(QScrollArea):
    """The ticket's comments, oldest first, in cards."""

    def __init__(self, zone: Callable[[], dt.tzinfo], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._zone = zone
        self.setObjectName("conversation")
        self.setWidgetResizable(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self._thread = QWidget()
        self._thread_layout = QVBoxLayout(self._thread)
        self._thread_layout.setContentsMargins(2, 4, 8, 4)
        self._thread_layout.setSpacing(8)
        self._thread_layout.addStretch(1)
        self.setWidget(self._thread)
        self.cards: list[CommentCard] = []
        self.empty_label = QLabel()
        self.empty_label.setObjectName("no-comments")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)

    def retranslate(self) -> None:
        self.setAccessibleName(_("Conversation"))
        self.empty_label.setText(_("No comments yet."))

    def show_comments(self, detail: TicketDetail | None, *, scroll_to_end: bool) -> None:
        """``detail``'s comments (None: none, and no "no comments" either), scrolled to
        the last when asked or when one is still being sent."""
        layout = self._thread_layout
        for card in self.cards:
            layout.removeWidget(card)
            card.deleteLater()
        self.cards = []
        layout.removeWidget(self.empty_label)
        self.empty_label.hide()
        zone = self._zone()
        if detail is None:
            return
        comments = detail.comments
        if not comments:
            layout.insertWidget(0, self.empty_label)
            self.empty_label.show()
        for position, comment in enumerate(comments):
            when = i18n.format_day_time(
                comment.created_at.astimezone(zone), year=True, weekday=True
            )
            card = CommentCard(comment, detail.author(comment), when, self._thread)
            layout.insertWidget(position, card)
            self.cards.append(card)
        if scroll_to_end or any(c.pending for c in comments):
            QTimer.singleShot(0, self.scroll_to_end)

    def scroll_to_end(self) -> None:
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())


class ReplyEditor(QPlainTextEdit):
    """The reply editor: Ctrl+Return (or Ctrl+Enter) sends, Tab leaves."""

    sendRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reply-editor")
        self.setTabChangesFocus(True)

    @staticmethod
    def _is_send(event: QKeyEvent) -> bool:
        return event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and bool(
            event.modifiers() & Qt.KeyboardModifier.ControlModifier
        )

    def event(self, event: QEvent) -> bool:
        # Ctrl+Return sends here, rather than applying staged field changes
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and self._is_send(event)
        ):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if self._is_send(event):
            self.sendRequested.emit()
            event.accept()
            return
        super().keyPressEvent(event)


class ReplyBox(QFrame):
    """Reply or internal note: the mode, the editor and the send button.  What is typed
    is kept per ticket and mode until sent, so switching tickets loses nothing."""

    #: the user asked to send what the editor holds (Ctrl+Return, the send button)
    sendRequested = Signal()

    def __init__(self, ticket_id: Callable[[], int | None], parent: QWidget | None = None) -> None:
        """``ticket_id``: the ticket shown, whose drafts the editor holds."""
        super().__init__(parent)
        self.setObjectName("reply-box")
        self._ticket_id = ticket_id
        self._drafts: dict[tuple[int, int], str] = {}
        self._draft_key: tuple[int, int] | None = None
        self.reply_mode_button = QToolButton()
        self.reply_mode_button.setObjectName("mode-reply")
        self.note_mode_button = QToolButton()
        self.note_mode_button.setObjectName("mode-note")
        self.modes = QButtonGroup(self)
        for mode, button in (
            (_MODE_REPLY, self.reply_mode_button),
            (_MODE_NOTE, self.note_mode_button),
        ):
            button.setCheckable(True)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            self.modes.addButton(button, mode)
        self.reply_mode_button.setChecked(True)
        self.modes.idToggled.connect(self._mode_toggled)
        self.editor = ReplyEditor()
        self.editor.sendRequested.connect(self.sendRequested)
        self.editor.setFixedHeight(self.editor.fontMetrics().lineSpacing() * 4 + 14)
        self.editor.textChanged.connect(self._editor_changed)
        self.send_button = QPushButton()
        self.send_button.setObjectName("send")
        self.send_button.clicked.connect(lambda _c=False: self.sendRequested.emit())
        self.editor_hint = QLabel()
        self.editor_hint.setObjectName("editor-hint")
        scaled(self.editor_hint, 0.9)
        self.editor_hint.setStyleSheet(f"color: {_PENDING_FOREGROUND}")
        self.editor_hint.setWordWrap(True)  # on two lines rather than widen the workspace
        self.editor_hint.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.setSpacing(4)
        top.addWidget(self.reply_mode_button)
        top.addWidget(self.note_mode_button)
        top.addWidget(self.editor_hint, 1)  # all the room left: on one line when it fits
        bottom = QHBoxLayout()
        bottom.setContentsMargins(0, 0, 0, 0)
        bottom.addStretch(1)
        bottom.addWidget(self.send_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addWidget(self.editor)
        layout.addLayout(bottom)

    def retranslate(self) -> None:
        self.reply_mode_button.setText(_("Reply"))
        self.reply_mode_button.setAccessibleName(_("Public reply mode"))
        self.reply_mode_button.setToolTip(_("A reply the requester sees (R)"))
        self.note_mode_button.setText(_("Internal note"))
        self.note_mode_button.setAccessibleName(_("Internal note mode"))
        self.note_mode_button.setToolTip(_("A note only agents see (N)"))
        self.editor_hint.setText(_("Ctrl+Enter to send · works offline"))
        self._mode_changed()

    @property
    def public_mode(self) -> bool:
        return self.modes.checkedId() == _MODE_REPLY

    def text(self) -> str:
        """What is to be sent, without the spaces around it."""
        return self.editor.toPlainText().strip()

    def start(self, *, public: bool) -> None:
        """A reply (or an internal note), the editor given the focus."""
        (self.reply_mode_button if public else self.note_mode_button).setChecked(True)
        self._mode_changed()
        self.editor.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _mode_toggled(self, _mode: int, checked: bool) -> None:
        if checked:
            self._mode_changed()

    def _mode_changed(self) -> None:
        public = self.public_mode
        self.send_button.setText(_("Send &reply") if public else _("Add internal &note"))
        self.send_button.setAccessibleName(_("Send reply") if public else _("Add internal note"))
        self.editor.setPlaceholderText(
            _("Write a reply to the requester…") if public else _("Write an internal note…")
        )
        self.editor.setAccessibleName(_("Reply") if public else _("Internal note"))
        palette = self.editor.palette()
        palette.setColor(
            QPalette.ColorRole.Base, QColor(_PUBLIC_BACKGROUND if public else _INTERNAL_BACKGROUND)
        )
        self.editor.setPalette(palette)
        self.save_draft()
        self.restore_draft()

    def _editor_changed(self) -> None:
        self.send_button.setEnabled(bool(self.editor.toPlainText().strip()))

    def sent(self) -> None:
        """What the editor held was queued: it is emptied, and its draft forgotten."""
        self.editor.clear()
        if self._draft_key is not None:
            self._drafts.pop(self._draft_key, None)

    def insert_link(self, link: str) -> None:
        """``link`` at the cursor, a space before it unless it starts a line or a word."""
        cursor = self.editor.textCursor()
        text = self.editor.toPlainText()
        position = cursor.position()
        before = text[position - 1] if position > 0 else "\n"
        prefix = "" if before in "\n " else " "
        cursor.insertText(prefix + link)
        self.editor.setTextCursor(cursor)
        self.editor.setFocus(Qt.FocusReason.OtherFocusReason)

    def save_draft(self) -> None:
        """Keep what the editor holds as the draft of the ticket and mode it was typed for."""
        if self._draft_key is not None:
            text = self.editor.toPlainText()
            if text.strip():
                self._drafts[self._draft_key] = text
            else:
                self._drafts.pop(self._draft_key, None)

    def restore_draft(self) -> None:
        """The editor holds the draft of the ticket shown, in the current mode."""
        ticket_id = self._ticket_id()
        self._draft_key = None if ticket_id is None else (ticket_id, self.modes.checkedId())
        text = "" if self._draft_key is None else self._drafts.get(self._draft_key, "")
        if text != self.editor.toPlainText():
            self.editor.setPlainText(text)
        self._editor_changed()
