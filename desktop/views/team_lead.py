"""The team lead's tools in the main window: reassignment, workload panel, announcements,
and the presence line of the ticket workspace.

:class:`TeamLeadTools` adds them to the console's main window (what it uses of the
window is :class:`QueueConsole`): a "Team" menu (Reassign…, Undo reassignment,
Workload, Announcements…), the workload dock, dragging selected tickets from the
queue onto an agent, and a context menu on the queue.  They exist for team leads
and admins only: for an agent the menu, the dock and the shortcuts are hidden and
disabled (the server refuses them anyway).  Presence (who else is on the open
ticket) is for everyone.  Reassignments are local operations and the rest online
ones (:mod:`desktop.operations`); the workload panel and the role follow the change
bus.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final, Protocol

from PySide6.QtCore import QEvent, QObject, QPoint, Qt
from PySide6.QtGui import QAction, QDrag, QKeySequence, QMouseEvent
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMenu,
    QVBoxLayout,
)

from desktop.models.queue import QueueModel
from desktop.models.workload import LOAD_SLICE, Target, WorkloadModel, is_lead
from desktop.operations import Cache, Operations
from desktop.views.announcements_editor import AnnouncementsEditor
from desktop.views.presence import PresenceTracker
from desktop.views.queue_table import QueueTable
from desktop.views.reassign import ReassignDialog
from desktop.views.workload import WorkloadPanel, tickets_mime
from desktop.views.workspace.view import TicketWorkspace
from i18n import _, ngettext
from sync.changes import Changes
from sync.reassignment import Move, Reassignment, UndoOutcome
from sync.store import Store

__all__ = ["QueueConsole", "TeamLeadTools"]

#: The last reassignment can be undone this long (while queued, or just applied).
UNDO_WINDOW: Final = dt.timedelta(minutes=15)
_PRESENCE_STYLE: Final = (
    "QLabel#ticket-presence { background: #e8f0fe; color: #174ea6; "
    "border: 1px solid #aecbfa; border-radius: 4px; padding: 3px 6px; }"
)


class QueueConsole(Protocol):
    """What the team lead's tools read of the console's main window, and tell it.

    A protocol, not the window's class: the window builds the tools, so they cannot
    import it."""

    @property
    def cache(self) -> Cache: ...

    @property
    def store(self) -> Store: ...

    @property
    def model(self) -> QueueModel: ...

    @property
    def table(self) -> QueueTable: ...

    @property
    def workspace(self) -> TicketWorkspace: ...

    @property
    def help_menu(self) -> QMenu: ...

    @property
    def operations(self) -> Operations: ...

    def current_ticket_id(self) -> int | None: ...


class TeamLeadTools(QObject):
    """Reassignment, workload, announcements (leads and admins) and presence (everyone)."""

    def __init__(self, window: QMainWindow, console: QueueConsole) -> None:
        """``window`` holds the Team menu, the workload dock and the dialogs; ``console``
        is what the tools work on (the main window is both)."""
        super().__init__(window)
        self.window = window
        self.console = console
        self.lead = False
        self.last: Reassignment | None = None
        #: an undo of moves that were on their way to the server, done once it answers
        self.deferred_undo: tuple[Move, ...] | None = None
        self.last_at: dt.datetime | None = None
        self.reassign_dialog: ReassignDialog | None = None
        self.announcements: AnnouncementsEditor | None = None
        self._press: QPoint | None = None
        self._press_row = -1

        # -- the workload dock (hidden until asked for)
        self.workload = WorkloadModel(
            console.cache,
            me=console.store.user_id,
            now=console.model.now,
            queue=console.model.state,
            slice_size=LOAD_SLICE,
            parent=self,
        )
        self.panel = WorkloadPanel(self.workload)
        self.panel.ticketsDropped.connect(self.tickets_dropped)
        self.dock = QDockWidget()
        self.dock.setObjectName("workload-dock")
        self.dock.setWidget(self.panel)
        self.dock.setAllowedAreas(
            Qt.DockWidgetArea.BottomDockWidgetArea | Qt.DockWidgetArea.RightDockWidgetArea
        )
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.dock)
        self.dock.hide()

        # -- the Team menu
        self.menu = QMenu(window)  # in the menu bar for leads only (update_role)
        self.reassign_action = self._action(self.reassign_selected, "Ctrl+Shift+M")
        self.undo_action = self._action(self.undo_last, "Ctrl+Shift+Z")
        self.menu.addSeparator()
        self.workload_action = self.dock.toggleViewAction()
        self.workload_action.setShortcut(QKeySequence("Ctrl+Shift+W"))
        self.menu.addAction(self.workload_action)
        window.addAction(self.workload_action)
        self.announcements_action = self._action(self.open_announcements)

        # -- the queue: several tickets at once, dragged onto the workload, context menu
        table = console.table
        table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        table.customContextMenuRequested.connect(self._context_menu)
        table.viewport().installEventFilter(self)

        # -- presence above the open ticket (everyone)
        self.presence_label = QLabel()
        self.presence_label.setObjectName("ticket-presence")
        self.presence_label.setStyleSheet(_PRESENCE_STYLE)
        self.presence_label.setWordWrap(True)
        workspace_layout = console.workspace.layout()
        if isinstance(workspace_layout, QVBoxLayout):
            workspace_layout.insertWidget(1, self.presence_label)
        self.presence = PresenceTracker(
            self.presence_label, console.operations, me=console.store.user_id, parent=self
        )
        self.presence.presenceChanged.connect(self.workload.set_presence)
        table.selectionModel().currentRowChanged.connect(lambda *_: self._ticket_shown())
        console.workspace.reply.editor.textChanged.connect(self._editor_changed)
        console.operations.bus.changed.connect(self._changes_arrived)
        self.update_role()

    def _action(self, handler: Any, shortcut: str | None = None) -> QAction:
        action = QAction(self.window)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _checked=False: handler())
        self.menu.addAction(action)
        self.window.addAction(action)
        return action

    def _changes_arrived(self, changes: Changes) -> None:
        """The role comes with the directory; the workload panel counts tickets; an
        undo waiting for the server's answer may go on once the outbox moved."""
        if changes.directory:
            self.update_role()
        if self.lead and (changes.tickets or changes.all_tickets or changes.directory):
            self.panel.reload()
        if changes.outbox:
            self.push_answered()

    # -- who may --

    def update_role(self) -> None:
        """Show the lead's tools to leads and admins only (the role comes from the cache)."""
        self.workload._me = self.console.store.user_id
        self.presence.me = self.console.store.user_id
        lead = is_lead(self.console.cache, self.console.store.user_id)
        self.lead = lead
        bar = self.window.menuBar()
        shown = self.menu.menuAction() in bar.actions()
        if lead and not shown:
            bar.insertMenu(self.console.help_menu.menuAction(), self.menu)
        elif not lead and shown:
            bar.removeAction(self.menu.menuAction())
        for action in (self.reassign_action, self.workload_action, self.announcements_action):
            action.setEnabled(lead)
            action.setVisible(lead)
        self.undo_action.setVisible(lead)
        self.undo_action.setEnabled(lead and self._undoable())
        if not lead:
            self.dock.hide()
        self.console.table.setSelectionMode(
            self.console.table.SelectionMode.ExtendedSelection
            if lead
            else self.console.table.SelectionMode.SingleSelection
        )

    def retranslate(self) -> None:
        self.menu.setTitle(_("T&eam"))
        self.reassign_action.setText(_("&Reassign…"))
        self.undo_action.setText(_("&Undo last reassignment"))
        self.workload_action.setText(_("&Workload"))
        self.announcements_action.setText(_("&Announcements…"))
        self.dock.setWindowTitle(_("Team workload"))
        self.panel.retranslate()
        if self.announcements is not None:
            self.announcements.retranslate()

    def reload(self) -> None:
        self.update_role()
        if self.lead:
            self.panel.reload()

    def synced(self) -> None:
        """A sync pass ended (the server counts the pull as "seen"): the presence of the
        others is asked for now when the workload shows it, else on the tracker's timer."""
        if self.lead and self.dock.isVisible():
            self.presence.report_soon()
        elif not self.presence.timer.isActive():
            self.presence.timer.start()

    def stop(self) -> None:
        self.presence.stop()
        self.panel.ticker.stop()

    # -- reassigning --

    def selected_ticket_ids(self) -> list[int]:
        table = self.console.table
        rows = sorted({index.row() for index in table.selectionModel().selectedRows()})
        ids = [self.console.model.ticket_id_at(row) for row in rows]
        if not ids:
            current = self.console.current_ticket_id()
            ids = [] if current is None else [current]
        return ids

    def reassign_selected(self) -> ReassignDialog | None:
        """Reassign… (menu, shortcut): the selected tickets, to an agent or team to pick."""
        return self.ask(self.selected_ticket_ids())

    def tickets_dropped(self, ticket_ids: list[int], target: Target) -> ReassignDialog | None:
        """Tickets dropped on a workload row: the same confirmation, target chosen."""
        return self.ask(ticket_ids, target)

    def ask(self, ticket_ids: list[int], target: Target | None = None) -> ReassignDialog | None:
        if not self.lead:
            return None
        if not ticket_ids:
            self.window.statusBar().showMessage(_("Select the tickets to reassign first."), 5000)
            return None
        if self.reassign_dialog is not None:
            self.reassign_dialog.close()
        dialog = ReassignDialog(
            self.console.cache,
            ticket_ids,
            me=self.console.store.user_id,
            rules=self.console.model.rules,
            now=self.console.model.now,
            target=target,
            parent=self.window,
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda code: self._answered(dialog, code))
        self.reassign_dialog = dialog
        dialog.open()
        dialog.activateWindow()
        dialog.filter_edit.setFocus(Qt.FocusReason.OtherFocusReason)
        return dialog

    def _answered(self, dialog: ReassignDialog, code: int) -> None:
        if self.reassign_dialog is dialog:
            self.reassign_dialog = None
        target = dialog.target
        if code == QDialog.DialogCode.Accepted and target is not None:
            self.perform(dialog.ticket_ids, target)

    def perform(self, ticket_ids: list[int], target: Target) -> Reassignment:
        """Queue the reassignment (one command a ticket) and show it at once."""
        done = self.console.operations.local(
            lambda store: store.reassign(ticket_ids, target.team_id, target.agent_id)
        )
        if done.moves:
            self.last, self.last_at = done, self.console.model.now()
        self.undo_action.setEnabled(self._undoable())
        self.window.statusBar().showMessage(
            ngettext(
                "{count} ticket reassigned to {target}. Undo: Ctrl+Shift+Z",
                "{count} tickets reassigned to {target}. Undo: Ctrl+Shift+Z",
                len(done.moves),
            ).format(count=len(done.moves), target=target.label),
            10000,
        )
        return done

    def _undoable(self) -> bool:
        if self.last is None or self.last_at is None:
            return False
        return self.console.model.now() - self.last_at <= UNDO_WINDOW

    def undo_last(self) -> UndoOutcome | None:
        """Take back the last reassignment (withdrawn while queued, reverted once applied;
        a move on its way to the server is taken back as soon as the server answers)."""
        if not self.lead or self.last is None or not self._undoable():
            self.window.statusBar().showMessage(_("There is no reassignment to undo."), 5000)
            self.undo_action.setEnabled(False)
            return None
        last = self.last
        self.last = self.last_at = None
        self.undo_action.setEnabled(False)
        return self._undo(last.moves)

    def _undo(self, moves: tuple[Move, ...], *, again: bool = False) -> UndoOutcome:
        # (a move still on its way changes nothing now: the engine is not woken for it)
        self.deferred_undo = None
        outcome = self.console.operations.local(lambda store: store.undo(moves))
        self.deferred_undo = outcome.deferred or None
        if again and outcome == UndoOutcome(deferred=moves):
            return outcome  # still waiting for the server: nothing new to say
        back = outcome.withdrawn + outcome.reverted
        parts = []
        if back or not outcome.deferred:
            parts.append(
                ngettext(
                    "Reassignment undone: {count} ticket back where it was.",
                    "Reassignment undone: {count} tickets back where they were.",
                    back,
                ).format(count=back)
            )
        if outcome.unchanged:
            parts.append(
                ngettext(
                    "{count} ticket was moved again since and was left alone.",
                    "{count} tickets were moved again since and were left alone.",
                    outcome.unchanged,
                ).format(count=outcome.unchanged)
            )
        if outcome.deferred:
            parts.append(
                ngettext(
                    "{count} ticket is being sent to the server: it goes back as soon as "
                    "the server has answered.",
                    "{count} tickets are being sent to the server: they go back as soon as "
                    "the server has answered.",
                    len(outcome.deferred),
                ).format(count=len(outcome.deferred))
            )
        self.window.statusBar().showMessage(" ".join(parts), 10000)
        return outcome

    def push_answered(self) -> UndoOutcome | None:
        """The engine pushed (its status moved, or the outbox did): an undo waiting for
        the server's answer goes on, if the server has answered."""
        waiting = self.deferred_undo
        if waiting is None:
            return None
        return self._undo(waiting, again=True)

    # -- announcements --

    def open_announcements(self) -> AnnouncementsEditor | None:
        if not self.lead:
            return None
        if self.announcements is None:
            editor = AnnouncementsEditor(
                self.console.operations, self.console.model.now, self.window
            )
            editor.finished.connect(lambda _code: self._announcements_closed())
            self.announcements = editor
            editor.start(editor.refresh())
        self.announcements.show()
        self.announcements.activateWindow()
        return self.announcements

    def _announcements_closed(self) -> None:
        if self.announcements is not None:
            self.announcements.deleteLater()
        self.announcements = None

    # -- the workload panel --

    def show_workload(self) -> None:
        if self.lead:
            self.dock.show()
            self.presence.report_soon()  # who is online, for the presence column

    # -- presence --

    def _ticket_shown(self) -> None:
        self.presence.set_ticket(self.console.workspace.ticket_id)

    def _editor_changed(self) -> None:
        self.presence.set_replying(bool(self.console.workspace.reply.editor.toPlainText().strip()))

    # -- the queue: context menu, dragging --

    def _context_menu(self, position: QPoint) -> None:
        if not self.lead:
            return
        menu = QMenu(self.window)
        menu.addAction(self.reassign_action)
        menu.addAction(self.undo_action)
        menu.exec(self.console.table.viewport().mapToGlobal(position))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Press on a selected ticket and move: the selection is dragged (leads only)."""
        if not self.lead:
            return False
        kind = event.type()
        if kind == QEvent.Type.MouseButtonPress and isinstance(event, QMouseEvent):
            self._press = None
            if event.button() != Qt.MouseButton.LeftButton or event.modifiers():
                return False
            index = self.console.table.indexAt(event.position().toPoint())
            selection = self.console.table.selectionModel()
            if index.isValid() and selection.isRowSelected(index.row()):
                self._press = event.position().toPoint()
                self._press_row = index.row()
                # several selected: keep them selected for the drag (decided on release)
                return len(selection.selectedRows()) > 1
            return False
        if kind == QEvent.Type.MouseMove and isinstance(event, QMouseEvent):
            if self._press is None or not event.buttons() & Qt.MouseButton.LeftButton:
                return False
            moved = (event.position().toPoint() - self._press).manhattanLength()
            if moved < QApplication.startDragDistance():
                return True
            self._press = None
            self.start_drag()
            return True
        if kind == QEvent.Type.MouseButtonRelease and self._press is not None:
            self._press = None
            index = self.console.model.index(self._press_row, 0)
            self.console.table.setCurrentIndex(index)  # a click: that ticket alone
            return True
        return False

    def start_drag(self) -> QDrag:
        drag = QDrag(self.console.table)
        drag.setMimeData(tickets_mime(self.selected_ticket_ids()))
        drag.exec(Qt.DropAction.MoveAction)
        return drag
