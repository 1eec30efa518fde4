"""The ticket workspace: one ticket's header and live clocks, its fields, conversation,
history and knowledge base, kept current as its clocks tick and as the change bus says
its ticket (or the names, or the articles) changed."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Final

import shiboken6
from pydantic import ValidationError
from PySide6.QtCore import QPoint, QRect, Qt, QTimer
from PySide6.QtGui import QAction, QHideEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QHeaderView,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop.models.sla_cells import SlaRules, evaluate_since, on_minutes_grid, shown_until_us
from desktop.models.ticket_detail import HistoryModel, TicketDetail, load_detail
from desktop.operations import Operations
from desktop.views.tables import records_table
from desktop.views.widgets import RoomLeftTabs, VerticalScrollArea
from desktop.views.workspace.conversation import ConversationThread, ReplyBox
from desktop.views.workspace.fields import TicketFields
from desktop.views.workspace.header import TicketHeader
from desktop.views.workspace.knowledge_base import KnowledgeBasePage
from i18n import _
from sla.calendar import CalendarError, duration_to_us, to_us
from sla.clock import TicketSla
from sync.changes import Changes
from sync.store import UnknownTicketError

__all__ = ["TicketWorkspace"]

#: Ticks at least this often (relative wordings), at most this often (a burst of changes)
_MAX_TICK: Final = dt.timedelta(minutes=1)
_MIN_TICK_MS: Final = 50


class TicketWorkspace(QWidget):
    """One ticket: header and live clocks, editable fields with a due-time preview,
    conversation and reply editor, history, knowledge-base search.

    Its commands are local operations: what they change comes back through the change
    bus, like what a sync changes, and the workspace, the queue and the status bar
    follow alike."""

    def __init__(
        self,
        operations: Operations,
        *,
        now: Callable[[], dt.datetime],
        rules: Callable[[], SlaRules] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("ticket-workspace")
        self.operations = operations
        self.store = operations.store
        self.cache = operations.cache
        self._now = now
        self._rules = rules or (lambda: SlaRules.from_cache(self.cache))
        self.detail: TicketDetail | None = None
        self.sla: TicketSla | None = None
        self.problem: str | None = None
        self._evaluated_for: tuple[TicketDetail, SlaRules] | None = None

        self.header = TicketHeader()
        self.fields = TicketFields(operations, now=now, rules=lambda: self._rules())
        self.tabs = RoomLeftTabs()
        self.tabs.setObjectName("workspace-tabs")
        self.tabs.setDocumentMode(True)
        self.conversation = ConversationThread(lambda: self._rules().calendar.zone)
        self.history_model = HistoryModel(lambda: self._rules().calendar.zone, self)
        self.history_view = records_table(QTableView())
        self.history_view.setObjectName("history")
        self.history_view.setModel(self.history_model)
        history_header = self.history_view.horizontalHeader()
        history_header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        history_header.setStretchLastSection(True)
        self.knowledge_base = KnowledgeBasePage(self.cache.articles, self._insert_link)
        self.tabs.addTab(self.conversation, "")
        self.tabs.addTab(self.history_view, "")
        self.tabs.addTab(self.knowledge_base, "")
        self.reply = ReplyBox(lambda: self.ticket_id)
        self.reply.sendRequested.connect(self.send)
        self._build_actions()

        body = QWidget()
        body.setObjectName("ticket-workspace-body")
        layout = QVBoxLayout(body)
        layout.setContentsMargins(10, 8, 10, 6)
        layout.setSpacing(6)
        layout.addWidget(self.header)
        layout.addWidget(self.fields)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.reply)
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
        operations.bus.changed.connect(self.apply_changes)

    # -- building -----------------------------------------------------------------------

    def _build_actions(self) -> None:
        def action(handler: Callable[[], object], shortcut: str) -> QAction:
            made = QAction(self)
            made.setShortcut(QKeySequence(shortcut))
            made.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            made.triggered.connect(lambda _checked=False: handler())
            return made

        self.assign_to_me_action = action(self.fields.assign_to_me, "Ctrl+Shift+A")
        self.reply_action = action(lambda: self.reply.start(public=True), "R")
        self.note_action = action(lambda: self.reply.start(public=False), "N")
        self.status_action = action(self.fields.focus_status, "S")
        self.apply_action = action(self.fields.apply, "Ctrl+Return")
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
        fields, knowledge_base, reply = self.fields, self.knowledge_base, self.reply
        chain: list[QWidget] = [
            fields.status_combo,
            fields.priority_combo,
            fields.severity_combo,
            fields.assignee_combo,
            fields.assign_to_me_button,
            fields.apply_button,
            fields.cancel_button,
            self.tabs,
            self.conversation,
            self.history_view,
            knowledge_base.search_box,
            knowledge_base.results,
            knowledge_base.insert_button,
            reply.reply_mode_button,
            reply.note_mode_button,
            reply.editor,
            reply.send_button,
        ]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

    # -- language ---------------------------------------------------------------------

    def retranslate(self) -> None:
        """Every label in the current language (the ticket shown again)."""
        self.header.retranslate()
        self.fields.retranslate()
        self.tabs.setAccessibleName(_("Ticket details"))
        self.conversation.retranslate()
        self.history_view.setAccessibleName(_("History of changes"))
        self.knowledge_base.retranslate()
        self.reply.retranslate()
        self.history_model.retranslate()

        self.assign_to_me_action.setText(_("Assign to &me"))
        self.reply_action.setText(_("&Reply"))
        self.note_action.setText(_("&Internal note"))
        self.status_action.setText(_("Change &status"))
        self.apply_action.setText(_("&Apply changes"))
        self.kb_action.setText(_("Search the &knowledge base"))
        self._retitle_tabs()
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
        self.reply.save_draft()
        self.fields.forget_staged()
        self.detail = None if ticket_id is None else load_detail(self.cache, ticket_id)
        self._render(scroll_to_end=True)
        self.reply.restore_draft()

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
        self.header.show_detail(detail)
        self.fields.show_detail(detail)
        self.history_model.set_detail(detail)
        self.conversation.show_comments(detail, scroll_to_end=scroll_to_end)
        if detail is None:
            self._stop_ticking()
        else:
            self.tick()

    def _enable(self, enabled: bool) -> None:
        for widget in (self.fields.grid, self.tabs, self.reply):
            widget.setEnabled(enabled)
        for action in self.menu_actions():
            action.setEnabled(enabled)

    def apply_changes(self, changes: Changes) -> None:
        """Show again what ``changes`` concern: the ticket shown (or the names in it),
        the knowledge base's articles."""
        ticket_id = self.ticket_id
        if ticket_id is not None and (changes.touches(ticket_id) or changes.directory):
            self.refresh()
        if changes.articles:
            self.knowledge_base.search()

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
            # the same history and rules as the last tick: that evaluation is moved
            # forward to now rather than made again
            last = self._evaluated_for
            same = last is not None and last[0] is detail and last[1] is rules
            earlier = (self.sla, self.problem) if same else None
            self.sla, self.problem = evaluate_since(earlier, lambda: detail.events, rules, moment)
            self._evaluated_for = (detail, rules)
            self.header.show_sla(
                self.sla,
                self.problem,
                self._evaluated_for,
                moment,
                rules.calendar.zone,
                provisional=detail.ticket.pending,
            )
            if not self.fields.staged.empty:
                self.fields.update_preview(moment)
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

    # -- the conversation -------------------------------------------------------------------

    def _focus_moved(self, _old: QWidget | None, new: QWidget | None) -> None:
        """A control given the focus out of view (a shortcut, the reply action) is
        scrolled into it; one in view (a click) stays where it is."""
        if new is None or not shiboken6.isValid(self.scroll_area):  # the window is closing
            return
        viewport, body = self.scroll_area.viewport(), self.scroll_area.widget()
        if body is None or not body.isAncestorOf(new):
            return
        shown = QRect(new.mapTo(viewport, QPoint(0, 0)), new.size())
        if not viewport.rect().intersects(shown):
            self.scroll_area.ensureWidgetVisible(new, 0, 0)

    def send(self) -> bool:
        """Queue the editor's text as a reply or internal note; works offline."""
        detail = self.detail
        body = self.reply.text()
        if detail is None or not body:
            return False
        ticket_id, public = detail.ticket.id, self.reply.public_mode
        try:  # (the conversation shows it as the change comes back through the bus)
            self.operations.local(lambda store: store.add_comment(ticket_id, body, public=public))
        except (UnknownTicketError, ValidationError):
            self.fields.show_error(_("The reply could not be queued; your text is kept."))
            return False
        self.reply.sent()
        self.tabs.setCurrentWidget(self.conversation)
        QTimer.singleShot(0, self.conversation.scroll_to_end)
        return True

    # -- knowledge base ---------------------------------------------------------------------

    def focus_knowledge_base(self) -> None:
        self.tabs.setCurrentWidget(self.knowledge_base)
        self.knowledge_base.focus()

    def _insert_link(self, link: str) -> bool:
        if self.detail is None:
            return False
        self.reply.insert_link(link)
        return True

    # -- Qt events --------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.detail is not None:
            self.tick()

    def hideEvent(self, event: QHideEvent) -> None:
        self._stop_ticking()
        super().hideEvent(event)
