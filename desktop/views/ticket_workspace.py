"""The ticket workspace: header with live SLA clocks, fields, conversation, history, KB.

Everything the agent changes goes through the store's named commands
(:meth:`sync.store.Store.set_status`, …), so it works offline and lands in the
outbox.  Status, priority, severity and assignee changes are *staged* first: the
workspace shows what the due times would become (the same :mod:`sla.clock`
evaluation on the history plus the hypothetical event) and applies on
confirmation (Enter in a field, Ctrl+Return or the Apply button).
"""

from __future__ import annotations

import datetime as dt
import html
import itertools
from collections.abc import Callable, Sequence
from typing import Final

import shiboken6
from pydantic import ValidationError
from PySide6.QtCore import QEvent, QObject, QPoint, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QColor,
    QHideEvent,
    QKeyEvent,
    QKeySequence,
    QPainter,
    QPaintEvent,
    QPalette,
    QResizeEvent,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QComboBox,
    QCompleter,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QTableView,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

import i18n
from desktop.models.sla_cells import (
    SlaRules,
    clock_outline,
    clock_style,
    clock_text,
    clock_text_samples,
    clock_tooltip,
    evaluate_since,
    on_minutes_grid,
    shown_until_us,
)
from desktop.models.ticket_detail import (
    Article,
    DueChange,
    HistoryModel,
    StagedChange,
    TicketDetail,
    due_phrase,
    load_detail,
    preview_change,
    search_articles,
    short_instant,
    timeline_label,
)
from desktop.views.tables import records_table
from i18n import _
from sla.calendar import CalendarError, duration_to_us, to_us
from sla.clock import ClockKind, ClockState, ClockStatus, Status, TicketSla, TimelineKind
from sla.policy import Priority, Severity
from sync.cache import CommentView
from sync.store import Store, UnknownTicketError

__all__ = [
    "ClockPanel",
    "CommentCard",
    "FieldsGrid",
    "ReplyEditor",
    "RoomLeftTabs",
    "TicketWorkspace",
    "VerticalScrollArea",
]

_INTERNAL_BACKGROUND: Final = "#fff6d5"
_PUBLIC_BACKGROUND: Final = "#ffffff"
_PENDING_FOREGROUND: Final = "#6b6f76"
_NEUTRAL_BACKGROUND: Final = "#f3f5f8"
#: Ticks at least this often (relative wordings), at most this often (a burst of changes)
_MAX_TICK: Final = dt.timedelta(minutes=1)
_MIN_TICK_MS: Final = 50
_TIMELINE_COLOURS: Final = {
    TimelineKind.STARTED: "#3b5b8c",
    TimelineKind.PAUSED: "#5c5f66",
    TimelineKind.RESUMED: "#3b5b8c",
    TimelineKind.BREACHED: "#a4262c",
}
_MODE_REPLY: Final = 0
_MODE_NOTE: Final = 1


def _tinted(widget: QWidget, background: str, foreground: str | None = None) -> None:
    palette = widget.palette()
    palette.setColor(QPalette.ColorRole.Window, QColor(background))
    if foreground is not None:
        palette.setColor(QPalette.ColorRole.WindowText, QColor(foreground))
    widget.setPalette(palette)
    widget.setAutoFillBackground(True)


def _scaled(label: QWidget, factor: float, *, bold: bool = False) -> None:
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * factor)
    font.setBold(bold)
    label.setFont(font)


class CountdownText(QWidget):
    """One line of text that changes often (a countdown, each second): it repaints
    itself only.  A label would ask the window to lay itself out again at each
    new text (its size hint moves), and repaint the whole workspace."""

    #: the width it asks for, in digits (the layout gives it the panel's width)
    _WIDTH_IN_DIGITS: Final = 12

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._text = ""
        self._samples: list[str] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_samples(self, texts: list[str]) -> None:
        """Texts as wide as it commonly shows: never narrower than these (set once a
        language, not at each new text, which would lay the window out again)."""
        self._samples = texts
        self.updateGeometry()

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:
        if text != self._text:
            self._text = text
            self.setAccessibleName(text)
            self.update()

    def sizeHint(self) -> QSize:
        metrics = self.fontMetrics()
        return QSize(metrics.horizontalAdvance("0" * self._WIDTH_IN_DIGITS), metrics.height())

    def minimumSizeHint(self) -> QSize:
        metrics = self.fontMetrics()
        widest = max((metrics.horizontalAdvance(text) for text in self._samples), default=0)
        return QSize(widest, metrics.height())

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        rect = self.contentsRect()
        shown = self.fontMetrics().elidedText(self._text, Qt.TextElideMode.ElideRight, rect.width())
        painter.drawText(
            rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), shown
        )
        painter.end()


class VerticalScrollArea(QScrollArea):
    """Scrolls its widget up and down only: it is as wide at least as its widget needs
    (a scroll bar's width more), so nothing is ever cut on the right."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)  # as wide as the view, and as tall when it fits
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # no stop of its own in the tab order: the controls in it are scrolled into
        # view as they get the focus (the wheel scrolls it too)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()  # its least width may have changed, and so has ours
        return super().eventFilter(watched, event)

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        widget = self.widget()
        if widget is None:
            return hint
        width = widget.minimumSizeHint().width() + self.verticalScrollBar().sizeHint().width()
        return QSize(max(hint.width(), width + 2 * self.frameWidth()), hint.height())


class FieldsGrid(QWidget):
    """Captioned fields in one row, or in rows of two when the room is short for one
    (a narrow window: the queue beside keeps its subject readable)."""

    def __init__(
        self,
        pairs: Sequence[tuple[QLabel, QWidget]],
        button: QWidget,
        *,
        wide: QWidget | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """``wide``: the field given twice the others' share of the room."""
        super().__init__(parent)
        self.setObjectName("ticket-fields")
        self._pairs = list(pairs)
        self._button = button
        self._wide = wide
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(2)
        # the widget may be narrower than one row: it then goes to two
        grid.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        self._grid = grid
        self.per_row = 0
        self._arrange(len(self._pairs))

    def _width(self, widget: QWidget) -> int:
        return max(widget.minimumSizeHint().width(), widget.minimumWidth())

    def _needed(self, per_row: int) -> int:
        """The least width of the fields ``per_row`` to a row, the button beside the last."""
        columns = [0] * per_row
        for index, (caption, field) in enumerate(self._pairs):
            column = index % per_row
            columns[column] = max(columns[column], self._width(caption), self._width(field))
        spacing = self._grid.horizontalSpacing()
        return sum(columns) + self._width(self._button) + spacing * per_row

    def _arrange(self, per_row: int) -> None:
        if per_row == self.per_row:
            return
        self.per_row = per_row
        grid = self._grid
        for caption, field in self._pairs:
            grid.removeWidget(caption)
            grid.removeWidget(field)
        grid.removeWidget(self._button)
        for column in range(len(self._pairs) + 1):
            grid.setColumnStretch(column, 0)
        for index, (caption, field) in enumerate(self._pairs):
            row, column = 2 * (index // per_row), index % per_row
            grid.addWidget(caption, row, column)
            grid.addWidget(field, row + 1, column)
            share = 2 if field is self._wide else 1
            grid.setColumnStretch(column, max(grid.columnStretch(column), share))
        last = 2 * ((len(self._pairs) - 1) // per_row) + 1
        grid.addWidget(self._button, last, per_row)
        self.updateGeometry()

    def minimumSizeHint(self) -> QSize:
        return QSize(self._needed(2), self._grid.minimumSize().height())

    def sizeHint(self) -> QSize:
        return QSize(self._needed(len(self._pairs)), self._grid.sizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        width = event.size().width()
        self._arrange(len(self._pairs) if width >= self._needed(len(self._pairs)) else 2)


class RoomLeftTabs(QTabWidget):
    """Tabs that take the room the rest of the workspace leaves, down to their minimum:
    they ask for no more, so a short workspace keeps its reply editor in view."""

    def sizeHint(self) -> QSize:
        return self.minimumSizeHint()


class ClockPanel(QFrame):
    """One SLA clock: its name and state, business time left, and when it is due."""

    def __init__(self, kind: ClockKind, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        self.setObjectName(f"clock-{kind.value}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel()
        self.title.setWordWrap(True)  # "Resolution · Outside business hours", when narrow
        self.value = CountdownText()
        self.value.setObjectName("clock-value")
        _scaled(self.value, 1.35, bold=True)
        self.detail = QLabel()
        self.detail.setObjectName("clock-detail")
        self.detail.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.setSpacing(1)
        layout.addWidget(self.title)
        layout.addWidget(self.value)
        layout.addWidget(self.detail)
        self.state: ClockStatus | None = None
        self._colours: tuple[str, str] | None = None  # the tint in force
        #: what is on show: the clock, now, zone, provisional, problem
        self._shown: tuple[ClockState | None, dt.datetime, dt.tzinfo, bool, str | None] | None = (
            None
        )
        self._outline: tuple[object, ...] | None = None  # what the wording was made from
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def show_clock(
        self,
        clock: ClockState | None,
        now: dt.datetime,
        zone: dt.tzinfo,
        *,
        provisional: bool,
        problem: str | None = None,
    ) -> None:
        self.state = None if clock is None else clock.state
        self.value.setText(clock_text(clock, now, provisional=provisional))
        # the tooltip (to the second) is worded when asked for; the rest when it changes
        self._shown = (clock, now, zone, provisional, problem)
        outline = (clock_outline(clock, now), zone, provisional, problem, i18n.current_language())
        if outline == self._outline:
            return
        self._outline = outline
        # the value says "Met", "Missed", "Overdue…", "Pending customer" by itself
        said = (ClockStatus.MET, ClockStatus.MISSED, ClockStatus.BREACHED, ClockStatus.PAUSED)
        if clock is None or clock.state in said:
            self.title.setText(self.kind.label)
        else:
            self.title.setText(f"{self.kind.label} · {clock.state.label}")
        self.detail.setText(self._detail(clock, now, zone))
        self.setToolTip(self._tooltip())
        self.setAccessibleName(_("{clock} SLA").format(clock=self.kind.label))
        self.setAccessibleDescription(
            ", ".join(text for text in (self.title.text(), self.detail.text()) if text)
        )
        style = clock_style(clock)
        colours = (style.background or _NEUTRAL_BACKGROUND, style.foreground or "#1f2328")
        if colours != self._colours:  # a new palette repaints the whole panel: not each second
            self._colours = colours
            _tinted(self, *colours)

    def _tooltip(self) -> str:
        if self._shown is None:
            return ""
        clock, now, zone, provisional, problem = self._shown
        return clock_tooltip(clock, now, zone, provisional=provisional, problem=problem)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            self.setToolTip(self._tooltip())  # business time left, as of the last tick
        return super().event(event)

    @staticmethod
    def _detail(clock: ClockState | None, now: dt.datetime, zone: dt.tzinfo) -> str:
        if clock is None:
            return ""
        if clock.stopped:
            stopped = clock.stopped_at or now
            return _("Stopped: {when}").format(when=short_instant(stopped, now, zone))
        if clock.paused:
            return _("{duration} of business time left").format(
                duration=i18n.format_business_duration(clock.remaining, seconds=False)
            )
        try:
            due = clock.due
        except CalendarError:
            due = None
        if due is None:
            return ""
        return _("Due: {when}").format(when=short_instant(due, now, zone))


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
            _tinted(self, _INTERNAL_BACKGROUND)
        else:
            _tinted(self, _PUBLIC_BACKGROUND)
        if comment.pending:
            palette = self.body.palette()
            palette.setColor(QPalette.ColorRole.WindowText, QColor(_PENDING_FOREGROUND))
            self.body.setPalette(palette)

    @property
    def header_text(self) -> str:
        return self.header.text()


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


class TicketWorkspace(QWidget):
    """One ticket: header and live clocks, editable fields with a due-time preview,
    conversation and reply editor, history, knowledge-base search."""

    #: a command changed this ticket (the queue and the status bar should refresh)
    ticketChanged = Signal(int)

    def __init__(
        self,
        store: Store,
        *,
        now: Callable[[], dt.datetime],
        rules: Callable[[], SlaRules] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("ticket-workspace")
        self.store = store
        self.cache = store.cache
        self._now = now
        self._rules = rules or (lambda: SlaRules.from_cache(self.cache))
        self.detail: TicketDetail | None = None
        self.sla: TicketSla | None = None
        self.problem: str | None = None
        self._evaluated_for: tuple[TicketDetail, SlaRules] | None = None
        self._timeline_outline: tuple[object, ...] | None = None
        self.staged = StagedChange()
        self._drafts: dict[tuple[int, int], str] = {}
        self._draft_key: tuple[int, int] | None = None
        self._loading = False

        self._build_header()
        self._build_fields()
        self._build_tabs()
        self._build_editor()
        self._build_actions()

        body = QWidget()
        body.setObjectName("ticket-workspace-body")
        layout = QVBoxLayout(body)
        layout.setContentsMargins(10, 8, 10, 6)
        layout.setSpacing(6)
        layout.addWidget(self.header)
        layout.addWidget(self.fields)
        layout.addWidget(self.preview)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.editor_box)
        # shorter than its contents (under the team lead's workload panel, on a small
        # screen), the workspace scrolls rather than squeeze its clocks into one another
        self.scroll_area = VerticalScrollArea()
        self.scroll_area.setObjectName("ticket-workspace-scroll")
        self.scroll_area.setWidget(body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.scroll_area)
        app = QApplication.instance()
        if isinstance(app, QApplication):  # a control given the focus is scrolled into view
            app.focusChanged.connect(self._focus_moved)
        self._set_tab_order()

        # the ticker follows the clocks' next visible change (each second while a
        # countdown shows seconds, each minute else), at least once a minute
        self.ticker = QTimer(self)
        self.ticker.setSingleShot(True)
        self.ticker.setTimerType(Qt.TimerType.PreciseTimer)
        self.ticker.timeout.connect(lambda: self.tick())
        #: when the clocks next change (µs), None when nothing is to tick; with a
        #: driver (see drive_by), the driver ticks the workspace instead of its ticker
        self.due_us: int | None = None
        self._driver: Callable[[], None] | None = None
        self.retranslate()
        self._enable(False)

    # -- building -----------------------------------------------------------------------

    def _build_header(self) -> None:
        self.header = QWidget()
        self.tracking_label = QLabel()
        self.tracking_label.setObjectName("tracking-number")
        self.tracking_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        _scaled(self.tracking_label, 1.0, bold=True)
        self.provisional_label = QLabel()
        self.provisional_label.setObjectName("provisional")
        _tinted(self.provisional_label, "#fff1c2", "#7a4d00")
        self.provisional_label.setContentsMargins(6, 1, 6, 1)
        self.provisional_label.setWordWrap(True)  # beside the number, in a narrow workspace
        self.subject_label = QLabel()
        self.subject_label.setObjectName("subject")
        self.subject_label.setWordWrap(True)
        self.subject_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        _scaled(self.subject_label, 1.3, bold=True)
        self.meta_label = QLabel()
        self.meta_label.setObjectName("ticket-meta")
        self.meta_label.setWordWrap(True)
        self.meta_label.setTextFormat(Qt.TextFormat.RichText)
        self.clocks = {kind: ClockPanel(kind) for kind in ClockKind}
        self.timeline_label = QLabel()
        self.timeline_label.setObjectName("sla-timeline")
        self.timeline_label.setTextFormat(Qt.TextFormat.RichText)
        self.timeline_label.setWordWrap(True)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.tracking_label)
        top.addWidget(self.provisional_label)
        top.addStretch(1)
        clocks = QHBoxLayout()
        clocks.setContentsMargins(0, 0, 0, 0)
        clocks.setSpacing(8)
        for panel in self.clocks.values():
            clocks.addWidget(panel, 1)
        layout = QVBoxLayout(self.header)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addWidget(self.subject_label)
        layout.addWidget(self.meta_label)
        layout.addLayout(clocks)
        layout.addWidget(self.timeline_label)

    def _build_fields(self) -> None:
        self.status_combo = QComboBox()
        self.status_combo.setObjectName("status")
        for status in Status:
            self.status_combo.addItem(status.label, status.value)
        self.priority_combo = QComboBox()
        self.priority_combo.setObjectName("priority")
        for priority in Priority:
            self.priority_combo.addItem(priority.display, priority.value)
        self.severity_combo = QComboBox()
        self.severity_combo.setObjectName("severity")
        for severity in Severity:
            self.severity_combo.addItem(severity.label, severity.value)
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
        self.fields = FieldsGrid(pairs, self.assign_to_me_button, wide=self.assignee_combo)

        # the preview of a staged change, with Apply / Cancel
        self.preview = QFrame()
        self.preview.setObjectName("change-preview")
        self.preview.setFrameShape(QFrame.Shape.StyledPanel)
        _tinted(self.preview, "#eef4fc", "#14365f")
        self.preview_title = QLabel()
        _scaled(self.preview_title, 1.0, bold=True)
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

    def _build_tabs(self) -> None:
        self.tabs = RoomLeftTabs()
        self.tabs.setObjectName("workspace-tabs")
        self.tabs.setDocumentMode(True)

        # conversation
        self.conversation = QScrollArea()
        self.conversation.setObjectName("conversation")
        self.conversation.setWidgetResizable(True)
        self.conversation.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.conversation.setFrameShape(QFrame.Shape.NoFrame)
        self._thread = QWidget()
        self._thread_layout = QVBoxLayout(self._thread)
        self._thread_layout.setContentsMargins(2, 4, 8, 4)
        self._thread_layout.setSpacing(8)
        self._thread_layout.addStretch(1)
        self.conversation.setWidget(self._thread)
        self.cards: list[CommentCard] = []
        self.empty_label = QLabel()
        self.empty_label.setObjectName("no-comments")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)

        # history
        self.history_model = HistoryModel(lambda: self._rules().calendar.zone, self)
        self.history_view = records_table(QTableView())
        self.history_view.setObjectName("history")
        self.history_view.setModel(self.history_model)
        header = self.history_view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)

        # knowledge base
        self.kb_page = QWidget()
        self.kb_search = QLineEdit()
        self.kb_search.setObjectName("kb-search")
        self.kb_search.setClearButtonEnabled(True)
        self.kb_search.textChanged.connect(lambda _t: self.search_knowledge_base())
        self.kb_search.returnPressed.connect(self._kb_return)
        self.kb_results = QListWidget()
        self.kb_results.setObjectName("kb-results")
        self.kb_results.setAlternatingRowColors(True)
        # two results at least (not Qt's 70 px): the workspace fits under the workload
        self.kb_results.setMinimumHeight(
            self.kb_results.fontMetrics().lineSpacing() * 2 + 2 * self.kb_results.frameWidth() + 4
        )
        self.kb_results.itemActivated.connect(lambda _item: self.insert_article())
        self.kb_results.currentRowChanged.connect(lambda _r: self._kb_selection())
        self.kb_insert_button = QPushButton()
        self.kb_insert_button.setObjectName("kb-insert")
        self.kb_insert_button.clicked.connect(lambda _c=False: self.insert_article())
        self.kb_preview = QLabel()
        self.kb_preview.setObjectName("kb-preview")
        self.kb_preview.setWordWrap(True)
        self.kb_preview.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        kb = QVBoxLayout(self.kb_page)
        kb.setContentsMargins(0, 6, 0, 0)
        kb.addWidget(self.kb_search)
        results = QHBoxLayout()
        results.addWidget(self.kb_results, 3)
        side = QVBoxLayout()
        side.addWidget(self.kb_preview, 1)
        side.addWidget(self.kb_insert_button)
        results.addLayout(side, 2)
        kb.addLayout(results, 1)
        self._articles: list[Article] = []

        self.tabs.addTab(self.conversation, "")
        self.tabs.addTab(self.history_view, "")
        self.tabs.addTab(self.kb_page, "")

    def _build_editor(self) -> None:
        self.editor_box = QFrame()
        self.editor_box.setObjectName("reply-box")
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
        self.editor.sendRequested.connect(self.send)
        self.editor.setFixedHeight(self.editor.fontMetrics().lineSpacing() * 4 + 14)
        self.editor.textChanged.connect(self._editor_changed)
        self.send_button = QPushButton()
        self.send_button.setObjectName("send")
        self.send_button.clicked.connect(lambda _c=False: self.send())
        self.editor_hint = QLabel()
        self.editor_hint.setObjectName("editor-hint")
        hint_font = self.editor_hint.font()
        hint_font.setPointSizeF(hint_font.pointSizeF() * 0.9)
        self.editor_hint.setFont(hint_font)
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
        layout = QVBoxLayout(self.editor_box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addWidget(self.editor)
        layout.addLayout(bottom)

    def _build_actions(self) -> None:
        def action(handler: Callable[[], object], shortcut: str) -> QAction:
            made = QAction(self)
            made.setShortcut(QKeySequence(shortcut))
            made.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            made.triggered.connect(lambda _checked=False: handler())
            return made

        self.assign_to_me_action = action(self.assign_to_me, "Ctrl+Shift+A")
        self.reply_action = action(lambda: self.start_reply(public=True), "R")
        self.note_action = action(lambda: self.start_reply(public=False), "N")
        self.status_action = action(self.focus_status, "S")
        self.apply_action = action(self.apply, "Ctrl+Return")
        self.kb_action = action(self.focus_knowledge_base, "Ctrl+K")

    def menu_actions(self) -> list[QAction]:
        """The workspace's actions, for the window's Ticket menu (which owns the shortcuts)."""
        return [
            self.assign_to_me_action,
            self.status_action,
            self.reply_action,
            self.note_action,
            self.apply_action,
            self.kb_action,
        ]

    def _set_tab_order(self) -> None:
        chain: list[QWidget] = [
            self.status_combo,
            self.priority_combo,
            self.severity_combo,
            self.assignee_combo,
            self.assign_to_me_button,
            self.apply_button,
            self.cancel_button,
            self.tabs,
            self.conversation,
            self.history_view,
            self.kb_search,
            self.kb_results,
            self.kb_insert_button,
            self.reply_mode_button,
            self.note_mode_button,
            self.editor,
            self.send_button,
        ]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

    # -- language ---------------------------------------------------------------------

    def retranslate(self) -> None:
        """Every label in the current language (the ticket shown again)."""
        samples = clock_text_samples()
        for panel in self.clocks.values():
            panel.value.set_samples(samples)
        self.status_caption.setText(_("&Status"))
        self.priority_caption.setText(_("&Priority"))
        self.severity_caption.setText(_("Se&verity"))
        self.assignee_caption.setText(_("Assi&gnee"))
        for combo, labels in (
            (self.status_combo, [s.label for s in Status]),
            (self.priority_combo, [p.display for p in Priority]),
            (self.severity_combo, [s.label for s in Severity]),
        ):
            for position, label in enumerate(labels):
                combo.setItemText(position, label)
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
        self.tracking_label.setAccessibleName(_("Tracking number"))
        self.subject_label.setAccessibleName(_("Subject"))
        self.meta_label.setAccessibleName(_("Organisation and requester"))
        self.timeline_label.setAccessibleName(_("SLA timeline"))
        self.provisional_label.setText(_("Provisional: changes not synced yet"))
        self.provisional_label.setAccessibleName(_("Provisional: changes not synced yet"))
        self.tabs.setAccessibleName(_("Ticket details"))
        self.conversation.setAccessibleName(_("Conversation"))
        self.history_view.setAccessibleName(_("History of changes"))
        self.empty_label.setText(_("No comments yet."))
        self.kb_search.setPlaceholderText(_("Search the knowledge base (Ctrl+K)"))
        self.kb_search.setAccessibleName(_("Search the knowledge base"))
        self.kb_results.setAccessibleName(_("Knowledge-base articles"))
        self.kb_preview.setAccessibleName(_("Article preview"))
        self.kb_insert_button.setText(_("&Insert link in reply"))
        self.kb_insert_button.setAccessibleName(_("Insert link in reply"))
        self.reply_mode_button.setText(_("Reply"))
        self.reply_mode_button.setAccessibleName(_("Public reply mode"))
        self.reply_mode_button.setToolTip(_("A reply the requester sees (R)"))
        self.note_mode_button.setText(_("Internal note"))
        self.note_mode_button.setAccessibleName(_("Internal note mode"))
        self.note_mode_button.setToolTip(_("A note only agents see (N)"))
        self.editor_hint.setText(_("Ctrl+Enter to send · works offline"))
        self.history_model.retranslate()

        self.assign_to_me_action.setText(_("Assign to &me"))
        self.reply_action.setText(_("&Reply"))
        self.note_action.setText(_("&Internal note"))
        self.status_action.setText(_("Change &status"))
        self.apply_action.setText(_("&Apply changes"))
        self.kb_action.setText(_("Search the &knowledge base"))
        self._retitle_tabs()
        self._mode_changed()
        self.refresh()

    def _retitle_tabs(self) -> None:
        comments = 0 if self.detail is None else len(self.detail.comments)
        history = 0 if self.detail is None else len(self.detail.history)
        self.tabs.setTabText(0, _("Conversation ({count})").format(count=comments))
        self.tabs.setTabText(1, _("History ({count})").format(count=history))
        self.tabs.setTabText(2, _("Knowledge base"))

    # -- showing a ticket -----------------------------------------------------------------

    @property
    def ticket_id(self) -> int | None:
        return None if self.detail is None else self.detail.ticket.id

    def show_ticket(self, ticket_id: int | None) -> None:
        """Show ``ticket_id`` (None: nothing); the same ticket again keeps staged changes."""
        if ticket_id == self.ticket_id:
            self.refresh()
            return
        self._save_draft()
        self.staged = StagedChange()
        self.preview_error.clear()
        self.detail = None if ticket_id is None else load_detail(self.cache, ticket_id)
        self._render(scroll_to_end=True)
        self._restore_draft()

    def refresh(self) -> None:
        """Read the shown ticket from the cache again (after a command, a sync)."""
        if self.detail is None:
            self._render(scroll_to_end=False)
            return
        self.detail = load_detail(self.cache, self.detail.ticket.id)
        self._render(scroll_to_end=False)

    def _render(self, *, scroll_to_end: bool) -> None:
        detail = self.detail
        self._enable(detail is not None)
        self._retitle_tabs()
        if detail is None:
            self.tracking_label.clear()
            self.subject_label.setText(_("No ticket selected"))
            self.meta_label.clear()
            self.timeline_label.clear()
            self.provisional_label.hide()
            self.history_model.set_detail(None)
            self._show_comments([], scroll_to_end=False)
            self.preview.hide()
            self._stop_ticking()
            return
        ticket = detail.ticket
        self.tracking_label.setText(ticket.tracking_number)
        self.subject_label.setText(ticket.subject)
        self.subject_label.setToolTip(ticket.description)
        organisation = html.escape(detail.organisation or "—")
        if detail.plan:
            organisation = _("{organisation} · {plan} plan").format(
                organisation=organisation, plan=f"<b>{html.escape(detail.plan_text)}</b>"
            )
        requester = html.escape(ticket.requester_name)
        if ticket.requester_email:
            requester += (
                f" &lt;<a href='mailto:{html.escape(ticket.requester_email)}'>"
                f"{html.escape(ticket.requester_email)}</a>&gt;"
            )
        parts = [
            organisation,
            _("Requester: {name}").format(name=requester),
        ]
        if detail.team:
            parts.append(_("Team: {team}").format(team=html.escape(detail.team)))
        self.meta_label.setText(" &nbsp;·&nbsp; ".join(parts))
        self.meta_label.setOpenExternalLinks(True)
        self.provisional_label.setVisible(ticket.pending)
        self._fill_fields(detail)
        self.history_model.set_detail(detail)
        self._show_comments(detail.comments, scroll_to_end=scroll_to_end)
        self.tick()

    def _enable(self, enabled: bool) -> None:
        for widget in (self.fields, self.tabs, self.editor_box):
            widget.setEnabled(enabled)
        for action in self.menu_actions():
            action.setEnabled(enabled)

    def _fill_fields(self, detail: TicketDetail) -> None:
        """The combos show the ticket, or the staged values where a change is staged."""
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
        self._update_preview()

    @staticmethod
    def _select(combo: QComboBox, code: str) -> None:
        position = combo.findData(str(code))
        combo.setCurrentIndex(max(position, 0))

    def _show_comments(self, comments: list[CommentView], *, scroll_to_end: bool) -> None:
        layout = self._thread_layout
        for card in self.cards:
            layout.removeWidget(card)
            card.deleteLater()
        self.cards = []
        layout.removeWidget(self.empty_label)
        self.empty_label.hide()
        detail = self.detail
        zone = self._rules().calendar.zone
        if detail is None:
            return
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
            QTimer.singleShot(0, self._scroll_to_end)

    def _scroll_to_end(self) -> None:
        bar = self.conversation.verticalScrollBar()
        bar.setValue(bar.maximum())

    # -- the clocks ---------------------------------------------------------------------

    def now(self) -> dt.datetime:
        return self._now()

    def tick(self, now: dt.datetime | None = None) -> None:
        """Bring both clocks and the timeline to ``now`` (default: the console's time)."""
        detail = self.detail
        if detail is None:
            return
        moment = now if now is not None else self.now()
        try:
            rules = self._rules()
            # the same history and rules as the last tick: that evaluation moved forward
            last = self._evaluated_for
            same = last is not None and last[0] is detail and last[1] is rules
            earlier = (self.sla, self.problem) if same else None
            self.sla, self.problem = evaluate_since(earlier, lambda: detail.events, rules, moment)
            self._evaluated_for = (detail, rules)
            zone = rules.calendar.zone
            pending = detail.ticket.pending
            for kind, panel in self.clocks.items():
                clock = None if self.sla is None else self._clock(self.sla, kind)
                panel.show_clock(clock, moment, zone, provisional=pending, problem=self.problem)
            self._show_timeline(moment, zone)
            if not self.staged.empty:
                self._update_preview(moment)
        finally:  # a tick that failed (and was reported) does not stop the clocks
            self._schedule_tick(moment)

    def drive_by(self, reschedule: Callable[[], None]) -> None:
        """Tick when told (:meth:`tick_if_due`), not by a timer of its own: the main
        window ticks its queue and the workspace together, at one heartbeat (one
        wake-up a second, not two at different instants), and the header's
        countdown changes with its row's.  ``reschedule`` is called when
        :attr:`due_us` moves."""
        self._driver = reschedule
        self.ticker.stop()

    def tick_if_due(self, now: dt.datetime) -> None:
        if self.due_us is not None and to_us(now) >= self.due_us:
            self.tick(now)

    def _stop_ticking(self) -> None:
        self.ticker.stop()
        self.due_us = None

    def _schedule_tick(self, now: dt.datetime) -> None:
        """The next tick at the clocks' next visible change (within a minute: due
        times are worded relative to now; minutes on the grid the queue's cells
        follow too), while the workspace is shown."""
        if not self.isVisible():
            self._stop_ticking()
            return
        now_us = to_us(now)
        soonest = on_minutes_grid(now_us + duration_to_us(_MAX_TICK))
        for clock in () if self.sla is None else (self.sla.response, self.sla.resolution):
            try:
                following = shown_until_us(clock, now_us)
            except CalendarError:
                following = None
            if following is not None:
                soonest = min(soonest, following)
        self.due_us = soonest
        if self._driver is not None:
            self._driver()
        else:
            self.ticker.start(max((soonest - now_us) // 1000 + 1, _MIN_TICK_MS))

    @staticmethod
    def _clock(sla: TicketSla, kind: ClockKind) -> ClockState:
        return sla.response if kind is ClockKind.RESPONSE else sla.resolution

    def _show_timeline(self, now: dt.datetime, zone: dt.tzinfo) -> None:
        sla = self.sla
        # worded again when the history, a clock's state or due time, or the minute moves
        outline = (
            self._evaluated_for,
            self.problem,
            *(
                clock_outline(None if sla is None else self._clock(sla, kind), now)
                for kind in ClockKind
            ),
            zone,
            i18n.current_language(),
        )
        if outline == self._timeline_outline:
            return
        self._timeline_outline = outline
        if sla is None:
            self.timeline_label.setText(
                html.escape(_("SLA unavailable: {problem}").format(problem=self.problem or "?"))
            )
            return
        lines = []
        for kind in ClockKind:
            clock = self._clock(sla, kind)
            items = []
            for entry in clock.timeline():
                label = timeline_label(entry, clock)
                if entry.kind is TimelineKind.STOPPED:
                    colour = "#107c10" if clock.remaining_us >= 0 else "#a4262c"
                else:
                    colour = _TIMELINE_COLOURS.get(entry.kind, "#3b5b8c")
                when = short_instant(entry.at, now, zone)
                items.append(
                    f"<span style='color:{colour}'>●</span>&nbsp;{html.escape(label)}"
                    f"&nbsp;<span style='color:#5c5f66'>{html.escape(when)}</span>"
                )
            if not clock.stopped and clock.remaining_us >= 0:
                due = html.escape(_("due {when}").format(when=due_phrase(clock, now, zone)))
                items.append(f"<span style='color:#5c5f66'>○&nbsp;{due}</span>")
            lines.append(f"<b>{html.escape(kind.label)}</b>: " + " &nbsp;→&nbsp; ".join(items))
        self.timeline_label.setText("<br>".join(lines))

    # -- staging and applying field changes ---------------------------------------------

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
        self._update_preview()

    def preview_changes(self, now: dt.datetime | None = None) -> list[DueChange]:
        """Both clocks now and were the staged change applied (empty when nothing is staged)."""
        if self.detail is None or self.staged.empty:
            return []
        moment = now if now is not None else self.now()
        return preview_change(self.detail.events, self.staged, self._rules(), moment)

    def _update_preview(self, now: dt.datetime | None = None) -> None:
        if self.detail is None or self.staged.empty:
            self.preview.hide()
            return
        moment = now if now is not None else self.now()
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
            self._fill_fields(self.detail)
        self.preview.hide()

    def apply(self) -> bool:
        """Queue the staged changes as commands; True when something was applied."""
        detail = self.detail
        staged = self.staged
        if detail is None or staged.empty:
            return False
        ticket_id = detail.ticket.id
        try:
            if staged.priority is not None:
                self.store.set_priority(ticket_id, staged.priority)
            if staged.severity is not None:
                self.store.set_severity(ticket_id, staged.severity)
            if staged.status is not None:
                self.store.set_status(ticket_id, staged.status)
            if staged.assignee[0]:
                self.store.assign(ticket_id, staged.assignee[1])
        except UnknownTicketError as error:
            self.preview_error.setText(error.message)
            return False
        except ValidationError:
            self.preview_error.setText(_("This change is not valid; nothing was applied."))
            return False
        self.staged = StagedChange()
        self.refresh()
        self.ticketChanged.emit(ticket_id)
        return True

    def assign_to_me(self) -> bool:
        """Assign the ticket to the signed-in agent at once (due times do not move)."""
        detail = self.detail
        me = self.store.user_id
        if detail is None or me is None or detail.ticket.assignee_id == me:
            return False
        try:
            self.store.assign(detail.ticket.id, me)
        except UnknownTicketError as error:
            self.preview_error.setText(error.message)
            return False
        self.staged = StagedChange(
            status=self.staged.status, priority=self.staged.priority, severity=self.staged.severity
        )
        self.refresh()
        self.ticketChanged.emit(detail.ticket.id)
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

    # -- the conversation -------------------------------------------------------------------

    @property
    def public_mode(self) -> bool:
        return self.modes.checkedId() == _MODE_REPLY

    def _focus_moved(self, _old: QWidget | None, new: QWidget | None) -> None:
        """A control given the focus out of view (a shortcut, the reply action) is
        scrolled into it; one in view (a click) stays where it is."""
        if new is None or not shiboken6.isValid(self.scroll_area):  # (the window closing)
            return
        viewport, body = self.scroll_area.viewport(), self.scroll_area.widget()
        if body is None or not body.isAncestorOf(new):
            return
        shown = QRect(new.mapTo(viewport, QPoint(0, 0)), new.size())
        if not viewport.rect().intersects(shown):
            self.scroll_area.ensureWidgetVisible(new, 0, 0)

    def start_reply(self, *, public: bool) -> None:
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
        self._save_draft()
        self._restore_draft()

    def _editor_changed(self) -> None:
        self.send_button.setEnabled(bool(self.editor.toPlainText().strip()))

    def send(self) -> bool:
        """Queue the editor's text as a reply or internal note; works offline."""
        detail = self.detail
        body = self.editor.toPlainText().strip()
        if detail is None or not body:
            return False
        try:
            self.store.add_comment(detail.ticket.id, body, public=self.public_mode)
        except (UnknownTicketError, ValidationError):
            self.preview_error.setText(_("The reply could not be queued; your text is kept."))
            return False
        self.editor.clear()
        if self._draft_key is not None:
            self._drafts.pop(self._draft_key, None)
        self.tabs.setCurrentWidget(self.conversation)
        self.refresh()
        QTimer.singleShot(0, self._scroll_to_end)
        self.ticketChanged.emit(detail.ticket.id)
        return True

    def _save_draft(self) -> None:
        if self._draft_key is not None:
            text = self.editor.toPlainText()
            if text.strip():
                self._drafts[self._draft_key] = text
            else:
                self._drafts.pop(self._draft_key, None)

    def _restore_draft(self) -> None:
        ticket_id = self.ticket_id
        self._draft_key = None if ticket_id is None else (ticket_id, self.modes.checkedId())
        text = "" if self._draft_key is None else self._drafts.get(self._draft_key, "")
        if text != self.editor.toPlainText():
            self.editor.setPlainText(text)
        self._editor_changed()

    # -- knowledge base ---------------------------------------------------------------------

    def focus_knowledge_base(self) -> None:
        self.tabs.setCurrentWidget(self.kb_page)
        self.kb_search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.kb_search.selectAll()
        self.search_knowledge_base()

    def search_knowledge_base(self) -> list[Article]:
        try:
            articles = self.cache.articles()
        except Exception:  # a corrupt row must not break the workspace
            articles = []
        self._articles = search_articles(articles, self.kb_search.text())
        self.kb_results.clear()
        for article in self._articles:
            item = QListWidgetItem(article.title)
            item.setToolTip(", ".join(article.tags))
            self.kb_results.addItem(item)
        if self._articles:
            self.kb_results.setCurrentRow(0)
        else:
            self.kb_preview.setText(_("No article matches.") if self.kb_search.text() else "")
        self.kb_insert_button.setEnabled(bool(self._articles))
        return list(self._articles)

    def _kb_selection(self) -> None:
        row = self.kb_results.currentRow()
        if 0 <= row < len(self._articles):
            article = self._articles[row]
            body = article.body if len(article.body) <= 400 else article.body[:400] + "…"
            self.kb_preview.setText(f"{article.title}\n\n{body}")

    def _kb_return(self) -> None:
        if self._articles:
            self.insert_article()

    def insert_article(self) -> bool:
        """Insert the selected article's link into the reply at the cursor."""
        row = self.kb_results.currentRow()
        if not 0 <= row < len(self._articles) or self.detail is None:
            return False
        link = self._articles[row].link
        cursor = self.editor.textCursor()
        text = self.editor.toPlainText()
        position = cursor.position()
        before = text[position - 1] if position > 0 else "\n"
        prefix = "" if before in "\n " else " "
        cursor.insertText(prefix + link)
        self.editor.setTextCursor(cursor)
        self.editor.setFocus(Qt.FocusReason.OtherFocusReason)
        return True

    # -- Qt events --------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.detail is not None:
            self.tick()

    def hideEvent(self, event: QHideEvent) -> None:
        self._stop_ticking()
        super().hideEvent(event)
