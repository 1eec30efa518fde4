"""The console's main window: views on the left, the live SLA queue, search, status.

What changes in the cache reaches the window by one path, the change bus
(:class:`~desktop.models.bus.ChangeBus`): the window refreshes the queue's rows of
the tickets a change set names, and the status bar when the outbox, conflicts or
refusals moved; the workspace, the banner, the team lead's tools and the dialogs
follow the bus themselves.  The window changes data only through the operations
layer (:mod:`desktop.operations`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Final

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

import i18n
from desktop.models.queue import Column, QueueModel, QueueView
from desktop.operations import (
    Cache,
    CacheNotice,
    Operations,
    SyncEngine,
    SyncState,
    SyncStatus,
    utc_now,
)
from desktop.views.banner import AnnouncementBanner
from desktop.views.heartbeat import Heartbeat
from desktop.views.queue_table import QueueTable
from desktop.views.report.view import ReportView, compliance_report_view
from desktop.views.sync_panel import (
    ConflictsPanel,
    PendingDialog,
    RejectedDialog,
    SyncStatusWidgets,
)
from desktop.views.team_lead import TeamLeadTools
from desktop.views.views_panel import VIEW_ORDER, ViewsPanel
from desktop.views.widgets import FittingSplitter, scaled
from desktop.views.workspace.view import TicketWorkspace
from i18n import _, ngettext
from sync.changes import Changes
from sync.queries import search_query
from sync.store import Store

log = logging.getLogger(__name__)

__all__ = ["MainWindow"]

_SEARCH_DELAY_MS: Final = 150
#: The workspace's usual width, and the room the queue is given first when the window
#: is too narrow for both (the workspace then narrower, down to its least).
_WORKSPACE_WIDTH: Final = 535
_WORKSPACE_LEAST: Final = 400
_QUEUE_ROOM: Final = 670


class MainWindow(QMainWindow):
    """Views with live counts, the queue with live SLA cells, search and status."""

    #: the user asked to sign in (status bar, menu) / to sign out / for the settings
    signInRequested = Signal()
    signOutRequested = Signal()
    settingsRequested = Signal()
    #: the window was closed (by the user, or by the console replacing it)
    closed = Signal()

    def __init__(
        self,
        cache: Cache,
        *,
        me: int | None = None,
        clock: Callable[[], dt.datetime] = utc_now,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("main-window")
        self.cache = cache
        self.store = Store(cache, user_id=me)
        #: the one way the window and its panels change data; its bus, the one way they
        #: hear of changes (theirs, and the sync engine's)
        self.operations = Operations(self.store, parent=self)
        self.bus = self.operations.bus
        # the queue opens on the user's own tickets: their clocks are evaluated first,
        # the other tickets' clocks after
        self.model = QueueModel(cache, me=me, clock=clock, view=QueueView.MY_TICKETS, parent=self)

        # -- left: views with counts
        self.nav = ViewsPanel(row_height=self.fontMetrics().height() + 14)
        self.nav.viewChosen.connect(self._view_chosen)

        # -- centre: search and queue
        self.search_box = QLineEdit()
        self.search_box.setObjectName("search")
        self.search_box.setClearButtonEnabled(True)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(_SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.apply_search)
        self.search_box.textChanged.connect(lambda _text: self._search_timer.start())
        self.search_box.returnPressed.connect(self.apply_search)

        self.table = QueueTable(self.model)
        self.table.doubleClicked.connect(self._open)

        self.view_title = QLabel()
        self.view_title.setObjectName("view-title")
        scaled(self.view_title, 1.25, bold=True)

        self.banner = AnnouncementBanner(
            cache, self.model.now, lambda: self.model.rules.calendar.zone, bus=self.bus
        )

        centre = QWidget()
        layout = QVBoxLayout(centre)
        layout.setContentsMargins(8, 8, 8, 0)
        layout.setSpacing(6)
        layout.addWidget(self.banner)
        header = QWidget()
        header_layout = QVBoxLayout(header)
        header_layout.setContentsMargins(0, 0, 0, 0)
        header_layout.addWidget(self.view_title)
        header_layout.addWidget(self.search_box)
        layout.addWidget(header)
        layout.addWidget(self.table, 1)

        splitter = FittingSplitter(Qt.Orientation.Horizontal)
        splitter.setObjectName("main-splitter")
        splitter.addWidget(self.nav)
        splitter.addWidget(centre)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([165, 1235])
        splitter.setChildrenCollapsible(False)
        self.nav.setMinimumWidth(150)
        self.setCentralWidget(splitter)

        # -- status bar
        self.count_label = QLabel()
        self.count_label.setObjectName("cached-count")
        status = self.statusBar()
        status.addPermanentWidget(self.count_label)
        self.sync_status = SyncStatusWidgets(
            status, lambda: self.model.rules.calendar.zone, now=clock
        )
        self.connection_label = self.sync_status.state_label
        self.last_sync_label = self.sync_status.last_sync_label
        self.pending_label = self.sync_status.pending_button
        self.sync_status.signInRequested.connect(self.signInRequested)
        self.sync_status.syncNowRequested.connect(self.sync_now)
        self.sync_status.pendingRequested.connect(self.show_pending)
        self.sync_status.conflictsRequested.connect(self.show_conflicts)
        self.sync_status.rejectedRequested.connect(self.show_rejected)
        self.dialogs: list[QWidget] = []

        # -- menus and shortcuts
        self._build_actions()
        self._build_workspace()
        self._build_panel_toggles()
        # team leads: reassign, workload, announcements; everyone: presence on the ticket
        self.team = TeamLeadTools(self, console=self)
        # team leads: the SLA compliance report, in the Team menu (hidden for agents)
        self.report_action = QAction(self)
        self.report_action.triggered.connect(lambda _checked=False: self.show_compliance_report())
        self.team.menu.addSeparator()
        self.team.menu.addAction(self.report_action)

        self.model.countsChanged.connect(self.update_counts)
        self.model.modelReset.connect(self._queue_changed)
        self.model.layoutChanged.connect(self._queue_changed)
        self.bus.changed.connect(self.apply_changes)
        self.bus.statusChanged.connect(self.show_sync_status)
        self.nav.show_view(QueueView.MY_TICKETS)
        self.resize(1400, 800)
        self.retranslate()
        self.refresh_status()

    # -- actions ----------------------------------------------------------------------

    def _action(
        self,
        menu: QMenu,
        handler: Callable[[], object],
        shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
    ) -> QAction:
        action = QAction(self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _checked=False: handler())
        menu.addAction(action)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        bar = self.menuBar()
        self.file_menu = bar.addMenu("")
        self.view_menu = bar.addMenu("")
        self.ticket_menu = bar.addMenu("")
        self.help_menu = bar.addMenu("")
        self.sync_action = self._action(self.file_menu, self.sync_now, "F5")
        self.reload_action = self._action(self.file_menu, self.reload, "Ctrl+Shift+R")
        self.file_menu.addSeparator()
        self.pending_action = self._action(self.file_menu, self.show_pending)
        self.conflicts_action = self._action(self.file_menu, self.show_conflicts)
        self.rejected_action = self._action(self.file_menu, self.show_rejected)
        self.file_menu.addSeparator()
        self.settings_action = self._action(self.file_menu, self.settingsRequested.emit, "Ctrl+,")
        self.file_menu.addSeparator()
        self.sign_in_action = self._action(self.file_menu, self.signInRequested.emit)
        self.sign_out_action = self._action(self.file_menu, self.signOutRequested.emit)
        self.file_menu.addSeparator()
        self.quit_action = self._action(self.file_menu, self.close, "Ctrl+Q")

        self.view_actions: dict[QueueView, QAction] = {}
        for number, view in enumerate(VIEW_ORDER, start=1):
            self.view_actions[view] = self._action(
                self.view_menu,
                lambda view=view: self.show_view(view),  # type: ignore[misc]
                f"Ctrl+{number}",
            )
        self.view_menu.addSeparator()
        self.search_action = self._action(self.view_menu, self.focus_search, "Ctrl+F")
        self.default_sort_action = self._action(
            self.view_menu, self.table.sort_by_default, "Ctrl+Shift+S"
        )

        self.next_action = self._action(self.ticket_menu, lambda: self.move_in_queue(1), "J")
        self.previous_action = self._action(self.ticket_menu, lambda: self.move_in_queue(-1), "K")
        self.open_action = self._action(self.ticket_menu, self._open_current, "Return")
        # Enter opens the ticket under the cursor, not from the search box
        self.removeAction(self.open_action)
        self.open_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.table.addAction(self.open_action)
        self.about_action = self._action(self.help_menu, self.about)

    def retranslate(self) -> None:
        """Show every label in the current language."""
        self.setWindowTitle(_("Offimizer Console"))
        self.file_menu.setTitle(_("&File"))
        self.view_menu.setTitle(_("&View"))
        self.ticket_menu.setTitle(_("&Ticket"))
        self.help_menu.setTitle(_("&Help"))
        self.sync_action.setText(_("S&ync now"))
        self.reload_action.setText(_("&Reload from cache"))
        self.pending_action.setText(_("&Pending changes…"))
        self.conflicts_action.setText(_("&Conflicts…"))
        self.rejected_action.setText(_("Re&fused changes…"))
        self.settings_action.setText(_("S&ettings…"))
        self.sign_in_action.setText(_("Sign &in…"))
        self.sign_out_action.setText(_("Sign &out"))
        self.quit_action.setText(_("&Quit"))
        for view, action in self.view_actions.items():
            action.setText(view.label)
        self.search_action.setText(_("&Search"))
        self.default_sort_action.setText(_("Sort by next SLA &due"))
        self.panel_actions["views"].setText(_("&Views panel"))
        self.panel_actions["workspace"].setText(_("Ticket &workspace"))
        self.next_action.setText(_("&Next ticket"))
        self.previous_action.setText(_("&Previous ticket"))
        self.open_action.setText(_("&Open ticket"))
        self.about_action.setText(_("&About Offimizer Console"))
        self.search_box.setPlaceholderText(_("Search subject, description and comments (Ctrl+F)"))
        self.search_box.setAccessibleName(_("Search tickets"))
        self.table.setAccessibleName(_("Ticket queue"))
        self.model.retranslate()
        self.workspace.retranslate()
        self.team.retranslate()
        self.report_action.setText(_("&Compliance report…"))
        for dialog in self.dialogs:
            if isinstance(dialog, ReportView):
                dialog.retranslate()
        self.table.fit_columns()
        self.banner.refresh()
        self.update_counts()
        self.nav.retranslate()
        self.refresh_status()

    # -- views, search ------------------------------------------------------------------

    def show_view(self, view: QueueView) -> None:
        self.nav.show_view(view)

    def _view_chosen(self, view: QueueView) -> None:
        self.model.set_view(view)
        self._update_title()
        self._select_first_if_none()

    def focus_search(self) -> None:
        self.search_box.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_box.selectAll()

    def apply_search(self) -> None:
        """The current view, restricted to the tickets the search box matches."""
        self._search_timer.stop()
        text = self.search_box.text()
        if search_query(text) is None:
            self.model.set_search(None)
        else:
            self.model.set_search(self.cache.search(text, limit=1_000_000))
        self._update_title()
        self._select_first_if_none()

    def _update_title(self) -> None:
        view = self.model.view
        rows = self.model.rowCount()
        if self.search_box.text().strip():
            text = ngettext(
                "{view}: {count} ticket matches", "{view}: {count} tickets match", rows
            ).format(view=view.label, count=rows)
        else:
            text = view.label
        self.view_title.setText(text)

    def update_counts(self) -> None:
        self.nav.show_counts(self.model.known_counts())
        self._update_title()

    # -- moving in the queue ------------------------------------------------------------

    def move_in_queue(self, step: int) -> None:
        rows = self.model.rowCount()
        if rows == 0:
            return
        current = self.table.currentIndex()
        row = 0 if not current.isValid() else min(max(current.row() + step, 0), rows - 1)
        index = self.model.index(row, Column.TRACKING)
        self.table.setCurrentIndex(index)
        self.table.scrollTo(index)

    def _select_first_if_none(self) -> None:
        if not self.table.currentIndex().isValid() and self.model.rowCount():
            self.table.setCurrentIndex(self.model.index(0, Column.TRACKING))

    def current_ticket_id(self) -> int | None:
        index = self.table.currentIndex()
        if not index.isValid():
            return None
        return self.model.ticket_id_at(index.row())

    def _open(self, _index: QModelIndex) -> None:
        self._open_current()

    def _open_current(self) -> None:
        ticket_id = self.current_ticket_id()
        if ticket_id is not None:
            self.panel_actions["workspace"].setChecked(True)  # opening shows it
            self.workspace.show_ticket(ticket_id)
            self.workspace.conversation.setFocus(Qt.FocusReason.OtherFocusReason)

    # -- the panels beside the queue, shown or hidden ---------------------------------

    def _build_panel_toggles(self) -> None:
        """View ▸ Views panel (F9), Ticket workspace (Ctrl+F9): more room for the queue
        on a small screen."""
        self.view_menu.addSeparator()
        self.panel_actions: dict[str, QAction] = {}
        for key, widget, shortcut in (
            ("views", self.nav, "F9"),
            ("workspace", self.workspace, "Ctrl+F9"),
        ):
            action = QAction(self)
            action.setCheckable(True)
            action.setChecked(True)
            action.setShortcut(QKeySequence(shortcut))
            action.toggled.connect(widget.setVisible)
            self.view_menu.addAction(action)
            self.addAction(action)
            self.panel_actions[key] = action

    def panels(self) -> dict[str, bool]:
        """Which panels beside the queue are shown (for the saved layout)."""
        return {key: action.isChecked() for key, action in self.panel_actions.items()}

    def set_panels(self, shown: Mapping[str, bool]) -> None:
        for key, visible in shown.items():
            if key in self.panel_actions:
                self.panel_actions[key].setChecked(visible)

    # -- the ticket workspace, right of the queue (desktop/views/workspace/) ---------------

    def _build_workspace(self) -> None:
        self.workspace = TicketWorkspace(
            self.operations, now=self.model.now, rules=lambda: self.model.rules
        )
        # the queue's countdowns and the workspace's clocks tick at one instant
        self.heartbeat = Heartbeat(self.table, self.model, self.workspace, self)
        splitter = self.centralWidget()
        assert isinstance(splitter, FittingSplitter)
        splitter.addWidget(self.workspace)
        splitter.setStretchFactor(2, 1)
        splitter.setSizes([165, 700, _WORKSPACE_WIDTH])
        splitter.fit = self._fit_split
        self.ticket_menu.addSeparator()
        for action in self.workspace.menu_actions():
            self.ticket_menu.addAction(action)
            self.addAction(action)
        self.table.selectionModel().currentRowChanged.connect(self._show_current_ticket)

    def _fit_split(self, splitter: FittingSplitter) -> None:
        """Room first for the queue (its subject readable beside the SLA columns), the
        workspace taking the rest up to its usual width, down to its least."""
        sizes = splitter.sizes()
        if len(sizes) != 3 or 0 in sizes[1:]:  # (the workspace hidden: nothing to share)
            return
        nav, room = sizes[0], sizes[1] + sizes[2]
        least = max(self.workspace.minimumSizeHint().width(), _WORKSPACE_LEAST)
        workspace = max(least, min(_WORKSPACE_WIDTH, room - _QUEUE_ROOM))
        if [nav, room - workspace, workspace] != sizes:
            splitter.setSizes([nav, room - workspace, workspace])

    def _show_current_ticket(self) -> None:
        ticket_id = self.current_ticket_id()
        if ticket_id is not None:  # a ticket leaving the queue stays open
            self.workspace.show_ticket(ticket_id)

    def _queue_changed(self) -> None:
        self.table.update_visible_rows()
        self._update_title()

    # -- what changed ------------------------------------------------------------------------

    def apply_changes(self, changes: Changes) -> None:
        """Refresh what ``changes`` concern (the workspace, the banner, the team lead's
        tools and the dialogs follow the bus themselves)."""
        if changes.all_tickets:
            # tickets may have come and gone: the queue is read whole
            self._keep_current(self.model.reload)
        elif changes.tickets or changes.directory:
            # (no ticket but the directory: the names, the teams and "my teams" again)
            self.refresh_tickets(changes.tickets)
        if changes.directory:
            self.table.viewport().update()  # names are looked up as the cells paint
        if changes.outbox or changes.conflicts or changes.rejections:
            self.refresh_status()  # (and the count of cached tickets)
        elif changes.tickets or changes.all_tickets:
            self._show_cached_count()

    def refresh_tickets(self, ticket_ids: Iterable[int]) -> None:
        """Read these tickets' rows again (changed, added or gone), keeping the current
        ticket and the search."""
        wanted = list(ticket_ids)
        self._keep_current(lambda: self.model.refresh_tickets(wanted))

    def reload(self) -> None:
        """Read everything from the cache again (File ▸ Reload from cache; a cache
        rebuilt): every panel hears that anything may have changed."""
        self.bus.publish(Changes.everything())

    def _keep_current(self, refresh: Callable[[], object]) -> None:
        current = self.current_ticket_id()
        refresh()
        if self.search_box.text().strip():
            self.apply_search()
        if current is not None and self.current_ticket_id() != current:
            position = self.model.position_of(current)
            if position is not None:
                self.table.setCurrentIndex(self.model.index(position, Column.TRACKING))
        self._select_first_if_none()

    # -- status -----------------------------------------------------------------------------

    @property
    def engine(self) -> SyncEngine | None:
        return self.operations.engine

    def attach_engine(self, engine: SyncEngine) -> None:
        """Work through ``engine`` (its status shows in the status bar)."""
        self.detach_engine()
        self.operations.attach_engine(engine)

    def detach_engine(self) -> None:
        self.team.presence.stop()  # no presence report outlives the session's client
        self.operations.detach_engine()
        self.refresh_status()

    def show_sync_status(self, status: SyncStatus) -> None:
        """A new engine status: the status bar and the sign-in actions follow."""
        before = self.sync_status.status
        self.sync_status.show_status(status)
        self.sign_in_action.setEnabled(status.state is SyncState.AUTH_REQUIRED)
        self.sign_out_action.setEnabled(status.state is not SyncState.AUTH_REQUIRED)
        self.team.push_answered()  # a push round may have ended: an undo waiting goes on
        if status.last_sync_at != before.last_sync_at:
            self.team.synced()

    def local_status(self) -> SyncStatus:
        """The status to show without a sync engine: what the cache says."""
        return SyncStatus(
            SyncState.OFFLINE,
            last_sync_at=self.cache.last_sync_at(),
            pending=self.store.pending_count(),
            conflicts=self.store.conflict_count(),
            rejected=self.store.refusal_count(),
        )

    def refresh_status(self) -> None:
        """The counts of the status bar again (the engine's, when there is one)."""
        if self.engine is None:
            self.sync_status.show_status(self.local_status())
        else:
            self.operations.refresh_counts()  # its new status comes through the bus
            self.sync_status.show_status(self.engine.status)
        self._show_cached_count()

    def _show_cached_count(self) -> None:
        total = self.cache.ticket_count()
        self.count_label.setText(
            ngettext("{count} ticket cached", "{count} tickets cached", total).format(
                count=i18n.format_decimal(total)
            )
        )

    def sync_now(self) -> None:
        if not self.operations.sync_now():
            self.statusBar().showMessage(
                _("Not connected to a server: working from the cache."), 5000
            )

    def _keep(self, dialog: QWidget) -> None:
        self.dialogs.append(dialog)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda _obj=None, d=dialog: self._forget(d))
        dialog.show()

    def _forget(self, dialog: QWidget) -> None:
        if dialog in self.dialogs:
            self.dialogs.remove(dialog)

    def show_pending(self) -> PendingDialog:
        dialog = PendingDialog(self.operations, self)
        self._keep(dialog)
        return dialog

    def show_conflicts(self) -> ConflictsPanel:
        panel = ConflictsPanel(self.operations, self)
        self._keep(panel)
        return panel

    def show_rejected(self) -> RejectedDialog:
        dialog = RejectedDialog(self.operations, self)
        self._keep(dialog)
        return dialog

    def show_cache_notice(self, notice: CacheNotice) -> QMessageBox:
        """Tell the user their cache was unreadable and rebuilt, and where their unsent
        work was saved (the window stays usable meanwhile)."""
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            _("Local cache rebuilt"),
            notice.message,
            QMessageBox.StandardButton.Ok,
            self,
        )
        box.setObjectName("cache-notice")
        # the technical cause goes to the log (Qt's own "Show Details…" is untranslated)
        log.warning("the local cache was rebuilt: %s", notice.problem)
        box.setWindowModality(Qt.WindowModality.NonModal)
        self._keep(box)
        return box

    def show_cache_failure(self, error: BaseException) -> QMessageBox:
        """Tell the user their cache is damaged and could not even be rebuilt (the
        bad file could not be set aside): nothing is synced or saved from now on."""
        folder = self.cache.path.parent if hasattr(self.cache, "path") else ""
        box = QMessageBox(
            QMessageBox.Icon.Critical,
            _("Local cache unusable"),
            _(
                "The local cache is damaged and could not be rebuilt. Nothing will be "
                "synced or saved; quit the console and check the folder {folder}."
            ).format(folder=folder),
            QMessageBox.StandardButton.Ok,
            self,
        )
        box.setObjectName("cache-unusable")
        log.error("the local cache could not be rebuilt: %s: %s", type(error).__name__, error)
        box.setWindowModality(Qt.WindowModality.NonModal)
        self._keep(box)
        return box

    def show_workload(self) -> None:
        """Show the team workload panel (team leads and admins; for ``--screenshot``)."""
        self.team.reload()
        self.team.show_workload()

    def show_compliance_report(self) -> ReportView | None:
        """The SLA compliance report window (team leads and admins; None for agents)."""
        for dialog in self.dialogs:
            if isinstance(dialog, ReportView):
                dialog.raise_()
                dialog.activateWindow()
                return dialog
        view = compliance_report_view(
            self.operations,
            me=self.store.user_id,
            zone=self.model.rules.calendar.zone,
            clock=self.model.now,
            parent=self,
        )
        if view is None:
            return None
        view.ticketRequested.connect(self.open_ticket)
        self._keep(view)
        view.refresh()
        return view

    def open_ticket(self, ticket_id: int) -> None:
        """Show ``ticket_id`` in the ticket workspace (from a report's link, for instance)."""
        self.workspace.show_ticket(ticket_id)
        self.raise_()
        self.activateWindow()

    def about(self) -> None:
        QMessageBox.about(
            self,
            _("About Offimizer Console"),
            _("Offimizer Console: the OFFIMIZER helpdesk agent console, with live SLA countdowns."),
        )

    # -- Qt events ----------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.table.update_visible_rows()
        self.heartbeat.schedule()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.model.save_memo()  # what is known of the clocks, for a quicker next start
        self.heartbeat.stop()
        self.banner.stop()
        self.team.stop()
        self.detach_engine()
        self.operations.close()  # nothing more to hear: the window is going
        super().closeEvent(event)
        self.closed.emit()
