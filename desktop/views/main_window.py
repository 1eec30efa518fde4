"""The console's main window: views on the left, the live SLA queue, search, status."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from typing import Final

from PySide6.QtCore import (
    QByteArray,
    QEvent,
    QModelIndex,
    QObject,
    QPoint,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QFontMetrics,
    QKeySequence,
    QResizeEvent,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QTableView,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

import i18n
from desktop.models.queue import SLA_COLUMNS, Column, QueueModel, QueueView
from desktop.models.sla_cells import clock_text_samples
from desktop.views.banner import AnnouncementBanner
from desktop.views.delegates import CellDelegate, PlanBadgeDelegate
from desktop.views.report import ReportView, compliance_report_view
from desktop.views.sync_panel import (
    ConflictsPanel,
    PendingDialog,
    RejectedDialog,
    SyncStatusWidgets,
)
from desktop.views.tables import records_table
from desktop.views.team_lead import TeamLeadTools
from desktop.views.ticket_workspace import TicketWorkspace
from i18n import N_, _, ngettext
from sync.cache import Cache, CacheNotice, search_query, utc_now
from sync.engine import SyncEngine, SyncState, SyncStatus
from sync.store import Store

log = logging.getLogger(__name__)

__all__ = ["ConnectionState", "MainWindow"]

_SEARCH_DELAY_MS: Final = 150
#: After a page of the feed is stored, the queue reloads once things settle this long.
_RELOAD_DELAY_MS: Final = 250
_MAX_TICK_MS: Final = 60_000
_MIN_TICK_MS: Final = 20
_NAV_ORDER: Final = (
    QueueView.MY_TICKETS,
    QueueView.UNASSIGNED,
    QueueView.MY_TEAMS,
    QueueView.AT_RISK,
    QueueView.BREACHED,
    QueueView.PENDING,
    QueueView.RECENT,
    QueueView.ALL,
)
#: Column widths, as the text a column must show whole (measured in the table's font).
_COLUMN_SAMPLES: Final = {
    Column.TRACKING: "INC-2026-000000",
    Column.ORGANISATION: "Studio Kairos Enterprise",
    Column.PRIORITY: "P1 Critical",
    Column.SEVERITY: "Blocking",
    Column.STATUS: "Pending",
    Column.ASSIGNEE: "Camille Durand",
    Column.RESPONSE_SLA: "Overdue 9 h 21 min",
    Column.RESOLUTION_SLA: "Overdue 9 h 21 min",
}
#: A wide time to show in the Updated column ("Wed 12:55 PM", "mer. 12:55").
_WIDE_INSTANT: Final = dt.datetime(2026, 3, 4, 12, 55, tzinfo=dt.UTC)
#: Columns that give up width (down to these minimums) so the subject keeps its share.
_SHRINKABLE: Final = {
    Column.ORGANISATION: 150,
    Column.ASSIGNEE: 100,
}
#: Columns hidden, in this order, while the table is too narrow for them all.
_DROP_ORDER: Final = (
    Column.UPDATED,
    Column.SEVERITY,
    Column.ASSIGNEE,
    Column.ORGANISATION,
    Column.STATUS,
)
#: The subject (the stretching column) gets at least this share of the table's width.
_SUBJECT_SHARE: Final = 0.2
_SUBJECT_MIN_WIDTH: Final = 150


#: The workspace's usual width, and the room the queue is given first when the window
#: is too narrow for both (the workspace then narrower, down to its least).
_WORKSPACE_WIDTH: Final = 535
_WORKSPACE_LEAST: Final = 400
_QUEUE_ROOM: Final = 670


class FittingSplitter(QSplitter):
    """A splitter that shares its width by a rule (``fit``) as it resizes, until the
    user moves a handle or a saved layout is restored (``user_split``)."""

    def __init__(self, orientation: Qt.Orientation, parent: QWidget | None = None) -> None:
        super().__init__(orientation, parent)
        self.fit: Callable[[FittingSplitter], None] | None = None
        self.user_split = False
        self.splitterMoved.connect(self._moved)

    def _moved(self, _position: int, _index: int) -> None:
        self.user_split = True

    def restoreState(self, state: QByteArray | bytes | bytearray | memoryview) -> bool:
        restored = super().restoreState(state)
        self.user_split = self.user_split or restored
        return restored

    def _refit(self) -> None:
        if self.fit is not None and not self.user_split:
            self.fit(self)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._refit()

    def event(self, event: QEvent) -> bool:
        handled = super().event(event)
        if event.type() == QEvent.Type.LayoutRequest:  # a pane's least width changed
            self._refit()
        return handled


class ConnectionState(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    SYNCING = "syncing"
    AUTH_REQUIRED = "auth_required"

    @property
    def label(self) -> str:
        return _(_CONNECTION_LABELS[self])


_SYNC_STATES: Final = {
    ConnectionState.ONLINE: SyncState.ONLINE,
    ConnectionState.OFFLINE: SyncState.OFFLINE,
    ConnectionState.SYNCING: SyncState.SYNCING,
    ConnectionState.AUTH_REQUIRED: SyncState.AUTH_REQUIRED,
}

_CONNECTION_LABELS: Final = {
    ConnectionState.ONLINE: N_("Online"),
    ConnectionState.OFFLINE: N_("Offline"),
    ConnectionState.SYNCING: N_("Syncing…"),
    ConnectionState.AUTH_REQUIRED: N_("Sign-in required"),
}


class QueueTable(QTableView):
    """The queue: fixed row heights, sorting by header, tells the model what it shows."""

    def __init__(self, model: QueueModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setModel(model)
        self._queue = model
        self.setObjectName("queue")
        records_table(self, row_padding=12)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        horizontal = self.horizontalHeader()
        horizontal.setHighlightSections(False)
        horizontal.setSectionsMovable(True)
        horizontal.setStretchLastSection(False)
        horizontal.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        horizontal.setMinimumSectionSize(48)
        horizontal.setSectionResizeMode(Column.SUBJECT, QHeaderView.ResizeMode.Stretch)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        #: the widths the user gave columns by dragging their edge: kept, never refitted
        self.user_widths: dict[Column, int] = {}
        #: the columns the user hid (header menu): hidden whatever the room
        self.user_hidden: set[Column] = set()
        self._fitting = False
        self._dragging = False  # a mouse button is down on the header
        #: columns hidden for lack of room (they come back when the table widens)
        self.hidden_columns: set[Column] = set()
        horizontal.sectionResized.connect(self._section_resized)
        horizontal.viewport().installEventFilter(self)
        horizontal.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        horizontal.customContextMenuRequested.connect(self._show_column_menu)
        self.fit_columns()
        # every cell painted from one model call (a sort or a scroll repaints them all;
        # the countdowns, every second), the organisation with its plan's badge
        self.setItemDelegate(CellDelegate(self))
        self.setItemDelegateForColumn(Column.ORGANISATION, PlanBadgeDelegate(self))
        # the default order is the next SLA due, which no single column shows
        horizontal.setSortIndicatorShown(False)
        horizontal.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.setSortingEnabled(True)
        horizontal.sortIndicatorChanged.connect(self._sort_indicator_changed)
        self.verticalScrollBar().valueChanged.connect(self.update_visible_rows)
        model.modelReset.connect(self.update_visible_rows)
        model.layoutChanged.connect(self.update_visible_rows)

    def natural_widths(self) -> dict[Column, int]:
        """Each column's width to show its typical content whole, in the current font."""
        bold = self.font()
        bold.setBold(True)
        metrics = QFontMetrics(bold)
        widths: dict[Column, int] = {}
        samples = _COLUMN_SAMPLES | {Column.UPDATED: i18n.format_weekday_time(_WIDE_INSTANT)}
        for column, sample in samples.items():
            header = str(self.model().headerData(column, Qt.Orientation.Horizontal) or "")
            texts = [sample, header]
            if column in SLA_COLUMNS:
                texts.extend(clock_text_samples())
            widths[column] = max(metrics.horizontalAdvance(text) for text in texts) + 16
        return widths

    def fit_columns(self) -> None:
        """Fit the columns to their content and the table: the subject stretches and keeps
        its share; the organisation, assignee and SLA columns give up width first, then
        the least needed columns are hidden while the table is narrow (the ticket
        workspace open beside it), so there is no horizontal scroll bar.  A column the
        user resized keeps its width, one they hid stays hidden."""
        widths = self.natural_widths() | self.user_widths
        room = self.viewport().width() - 2
        subject = max(_SUBJECT_MIN_WIDTH, int(room * _SUBJECT_SHARE))
        shown = [c for c in widths if c not in self.user_hidden]
        excess = sum(widths[c] for c in shown) + subject - room
        if excess > 0:
            slack = {
                c: max(0, widths[c] - low)
                for c, low in _SHRINKABLE.items()
                if c in shown and c not in self.user_widths
            }
            total = sum(slack.values())
            if total:
                ratio = min(1.0, excess / total)
                for column, give in slack.items():
                    widths[column] -= int(give * ratio + 0.999)
                excess -= sum(int(g * ratio + 0.999) for g in slack.values())
        dropped: set[Column] = set()
        for column in _DROP_ORDER:
            if excess <= 0:
                break
            if column in shown and column not in self.user_widths:
                dropped.add(column)
                excess -= widths[column]
        header = self.horizontalHeader()
        self._fitting = True
        try:
            for column, width in widths.items():
                header.setSectionHidden(column, column in dropped or column in self.user_hidden)
                header.resizeSection(column, width)
        finally:
            self._fitting = False
        self.hidden_columns = dropped

    def column_menu(self) -> QMenu:
        """The header's menu: every column but the number and the subject, shown or not."""
        menu = QMenu(self)
        model = self.model()
        for column in Column:
            if column in (Column.TRACKING, Column.SUBJECT):
                continue
            action = menu.addAction(str(model.headerData(column, Qt.Orientation.Horizontal)))
            action.setCheckable(True)
            action.setChecked(column not in self.user_hidden)
            action.toggled.connect(
                lambda shown, column=column: self.set_column_shown(column, shown)
            )
        return menu

    def _show_column_menu(self, position: QPoint) -> None:
        menu = self.column_menu()
        menu.exec(self.horizontalHeader().mapToGlobal(position))
        menu.deleteLater()

    def set_column_shown(self, column: Column, shown: bool) -> None:
        """The user shows or hides ``column`` (it stays so, across starts)."""
        if shown:
            self.user_hidden.discard(column)
        else:
            self.user_hidden.add(column)
        self.fit_columns()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.MouseButtonPress:
            self._dragging = True
        elif event.type() == QEvent.Type.MouseButtonRelease:
            self._dragging = False
        return super().eventFilter(watched, event)

    def _section_resized(self, index: int, _old: int, new: int) -> None:
        # only the user's own drag counts (the subject stretches by itself meanwhile)
        if not self._fitting and self._dragging and index != Column.SUBJECT:
            self.user_widths[Column(index)] = new

    def _sort_indicator_changed(self, column: int, _order: Qt.SortOrder) -> None:
        self.horizontalHeader().setSortIndicatorShown(column >= 0)

    def sort_by_default(self) -> None:
        """Back to the next SLA due."""
        self.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self._queue.sort(-1)

    def update_visible_rows(self) -> None:
        count = self._queue.rowCount()
        if count == 0:
            self._queue.set_visible_rows(0, -1)
            return
        first = self.rowAt(0)
        last = self.rowAt(self.viewport().height() - 1)
        self._queue.set_visible_rows(0 if first < 0 else first, count - 1 if last < 0 else last)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.fit_columns()
        self.update_visible_rows()


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
        # the queue opens on my tickets: the clocks of the others are evaluated after
        self.model = QueueModel(cache, me=me, clock=clock, view=QueueView.MY_TICKETS, parent=self)
        self._connection = ConnectionState.OFFLINE
        self.engine: SyncEngine | None = None
        self._unsubscribe: Callable[[], None] | None = None

        # -- left: views with counts
        self.nav = QTreeWidget()
        self.nav.setObjectName("views")
        self.nav.setColumnCount(2)
        self.nav.setHeaderHidden(True)
        self.nav.setRootIsDecorated(False)
        self.nav.setUniformRowHeights(True)
        self.nav.setFrameShape(QTreeWidget.Shape.NoFrame)
        self.nav.header().setStretchLastSection(False)
        self.nav.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.nav.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self._nav_items: dict[QueueView, QTreeWidgetItem] = {}
        for view in _NAV_ORDER:
            item = QTreeWidgetItem(self.nav)
            item.setData(0, Qt.ItemDataRole.UserRole, view.value)
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            item.setSizeHint(0, QSize(0, self.fontMetrics().height() + 14))
            self._nav_items[view] = item
        self.nav.currentItemChanged.connect(self._nav_changed)

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
        font = self.view_title.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.view_title.setFont(font)

        self.banner = AnnouncementBanner(
            cache, self.model.now, lambda: self.model.rules.calendar.zone
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
        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(_RELOAD_DELAY_MS)
        self._reload_timer.timeout.connect(self._reload_after_sync)
        #: the next reload after a sync reads the whole cache (an initial sync filled it)
        self._full_reload = False
        self.dialogs: list[QWidget] = []

        # -- menus and shortcuts
        self._build_actions()
        self._build_workspace()
        self._build_panel_toggles()
        self.workspace.ticketChanged.connect(lambda _ticket_id: self.commands_queued())
        # team leads: reassign, workload, announcements; everyone: presence on the ticket
        self.team = TeamLeadTools(self)
        # team leads: the SLA compliance report, in the Team menu (hidden for agents)
        self.report_action = QAction(self)
        self.report_action.triggered.connect(lambda _checked=False: self.show_compliance_report())
        self.team.menu.addSeparator()
        self.team.menu.addAction(self.report_action)

        # -- the ticker: follows the clocks' next change, not a fixed period
        self.ticker = QTimer(self)
        self.ticker.setSingleShot(True)
        self.ticker.setTimerType(Qt.TimerType.PreciseTimer)
        self.ticker.timeout.connect(self.tick)

        self.model.countsChanged.connect(self.update_counts)
        self.model.modelReset.connect(self._queue_changed)
        self.model.layoutChanged.connect(self._queue_changed)
        self.nav.setCurrentItem(self._nav_items[QueueView.MY_TICKETS])
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
        for number, view in enumerate(_NAV_ORDER, start=1):
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
        self.nav.setAccessibleName(_("Views"))
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
        metrics = self.nav.fontMetrics()
        widest = max(metrics.horizontalAdvance(view.label) for view in _NAV_ORDER)
        self.nav.setMinimumWidth(widest + metrics.horizontalAdvance("0000") + 40)
        self.refresh_status()

    # -- views, search ------------------------------------------------------------------

    def show_view(self, view: QueueView) -> None:
        self.nav.setCurrentItem(self._nav_items[view])

    def _nav_changed(self, current: QTreeWidgetItem | None, _previous: object) -> None:
        if current is None:
            return
        view = QueueView(current.data(0, Qt.ItemDataRole.UserRole))
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
        # a large cache evaluates its clocks in the background: "…" until they are known
        counts = self.model.known_counts()
        for view, item in self._nav_items.items():
            count = counts[view]
            tip = (
                ""
                if count is None
                else ngettext("{count} ticket", "{count} tickets", count).format(count=count)
            )
            texts = (view.label, "…" if count is None else i18n.format_decimal(count), tip)
            if texts != (item.text(0), item.text(1), item.toolTip(0)):  # else no repaint
                item.setText(0, texts[0])
                item.setText(1, texts[1])
                item.setToolTip(0, texts[2])
        breached = self._nav_items[QueueView.BREACHED]
        font = breached.font(1)
        if font.bold() != bool(counts[QueueView.BREACHED]):
            font.setBold(not font.bold())
            breached.setFont(1, font)
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

    # -- the ticket workspace, right of the queue (desktop/views/ticket_workspace.py) -----

    def _build_workspace(self) -> None:
        self.workspace = TicketWorkspace(
            self.store, now=self.model.now, rules=lambda: self.model.rules
        )
        self._in_tick = False
        self.workspace.drive_by(self._workspace_rescheduled)
        splitter = self.centralWidget()
        assert isinstance(splitter, QSplitter)
        splitter.addWidget(self.workspace)
        splitter.setStretchFactor(2, 1)
        splitter.setSizes([165, 700, _WORKSPACE_WIDTH])
        assert isinstance(splitter, FittingSplitter)
        splitter.fit = self._fit_split
        self.ticket_menu.addSeparator()
        for action in self.workspace.menu_actions():
            self.ticket_menu.addAction(action)
            self.addAction(action)
        self.table.selectionModel().currentRowChanged.connect(self._show_current_ticket)
        self.workspace.ticketChanged.connect(self.refresh_ticket)

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

    # -- time -------------------------------------------------------------------------------

    def tick(self) -> None:
        """The heartbeat: the queue, and the workspace when its clocks change, at
        the same instant."""
        self.table.update_visible_rows()
        self.model.tick()
        self._in_tick = True
        try:
            self.workspace.tick_if_due(self.model.evaluated_at)
        finally:
            self._in_tick = False
        self.schedule_tick()

    def _workspace_rescheduled(self) -> None:
        if not self._in_tick:  # else the tick schedules the next one as it ends
            self.schedule_tick()

    def schedule_tick(self) -> None:
        following = self.model.next_tick(also=self.workspace.due_us)
        if following is None:
            delay = _MAX_TICK_MS
        else:
            delay = int((following - self.model.now()) / dt.timedelta(milliseconds=1)) + 1
            delay = min(max(delay, _MIN_TICK_MS), _MAX_TICK_MS)
        self.ticker.start(delay)

    def _queue_changed(self) -> None:
        self.table.update_visible_rows()
        self._update_title()

    # -- status -----------------------------------------------------------------------------

    def set_connection_state(self, state: ConnectionState) -> None:
        self._connection = state
        self.refresh_status()

    def attach_engine(self, engine: SyncEngine) -> None:
        """Show ``engine``'s status, and reload the queue after each page it stores."""
        self.detach_engine()
        self.engine = engine
        self._unsubscribe = engine.subscribe(self.show_sync_status)

    def detach_engine(self) -> None:
        self.team.presence.stop()  # no presence report outlives the session's client
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._unsubscribe = None
        self.engine = None

    def show_sync_status(self, status: SyncStatus) -> None:
        """A new engine status: the status bar follows; the queue reloads after a pass."""
        before = self.sync_status.status
        self.sync_status.show_status(status)
        self.sign_in_action.setEnabled(status.state is SyncState.AUTH_REQUIRED)
        self.sign_out_action.setEnabled(status.state is not SyncState.AUTH_REQUIRED)
        progressed = status.progress is not None and status.progress != before.progress
        finished = status.last_sync_at != before.last_sync_at
        counts = (status.pending, status.conflicts, status.rejected) != (
            before.pending,
            before.conflicts,
            before.rejected,
        )
        if progressed or finished or counts:
            self.schedule_reload(full=progressed)
        self.team.push_answered()  # an undo waiting for the server's answer
        if finished:
            self.team.synced()

    def schedule_reload(self, *, full: bool = False) -> None:
        """Refresh the queue from the cache soon (pages in a row coalesce into one refresh).

        Only the tickets that changed are read again, unless ``full`` (an initial
        sync) asks for the whole cache.
        """
        self._full_reload = self._full_reload or full
        self._reload_timer.start()

    def _reload_after_sync(self) -> None:
        full, self._full_reload = self._full_reload, False
        if full:
            self.reload()
        else:
            self.refresh_changed()

    def refresh_ticket(self, ticket_id: int) -> None:
        """This ticket changed here (an edit, a reply): its row is read again."""
        self.refresh_tickets([ticket_id])

    def refresh_tickets(self, ticket_ids: Iterable[int]) -> None:
        """These tickets changed here (a reassignment, say): their rows are read again."""
        self._keep_current(lambda: self.model.refresh_tickets(ticket_ids))

    def refresh_changed(self) -> None:
        """Read again the tickets that changed in the cache (after a sync)."""
        self._keep_current(self.model.refresh_changed)

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
        self.workspace.refresh()
        self.banner.refresh()
        self.team.reload()  # the workload panel follows the syncs (when shown)
        self.refresh_status()

    def local_status(self) -> SyncStatus:
        """The status to show without a sync engine: what the cache says."""
        return SyncStatus(
            _SYNC_STATES[self._connection],
            last_sync_at=self.cache.last_sync_at(),
            pending=self.store.pending_count(),
            conflicts=self.store.conflict_count(),
            rejected=len(self.store.rejected()),
        )

    def refresh_status(self) -> None:
        if self.engine is None:
            self.sync_status.show_status(self.local_status())
        else:
            self.sync_status.show_status(self.engine.status)
        total = self.cache.ticket_count()
        self.count_label.setText(
            ngettext("{count} ticket cached", "{count} tickets cached", total).format(
                count=i18n.format_decimal(total)
            )
        )

    def commands_queued(self) -> None:
        """The console queued commands: counts now, a push soon."""
        if self.engine is not None:
            self.engine.commands_queued()
        else:
            self.refresh_status()

    def sync_now(self) -> None:
        if self.engine is None:
            self.statusBar().showMessage(
                _("Not connected to a server: working from the cache."), 5000
            )
            return
        self.engine.sync_now()

    def _keep(self, dialog: QWidget) -> None:
        self.dialogs.append(dialog)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda _obj=None, d=dialog: self._forget(d))
        dialog.show()

    def _forget(self, dialog: QWidget) -> None:
        if dialog in self.dialogs:
            self.dialogs.remove(dialog)

    def show_pending(self) -> PendingDialog:
        dialog = PendingDialog(self.store, self)
        self._keep(dialog)
        return dialog

    def show_conflicts(self) -> ConflictsPanel:
        panel = ConflictsPanel(self.store, self)
        panel.resolved.connect(self._conflict_resolved)
        self._keep(panel)
        return panel

    def _conflict_resolved(self) -> None:
        self.commands_queued()
        self.reload()

    def show_rejected(self) -> RejectedDialog:
        dialog = RejectedDialog(self.store, self)
        dialog.dismissed.connect(self._rejected_dismissed)
        self._keep(dialog)
        return dialog

    def _rejected_dismissed(self) -> None:
        if self.engine is not None:
            self.engine.refresh_counts()
        self.refresh_status()

    def reload(self) -> None:
        """Read the whole cache again (after an initial sync, a resolved conflict)."""
        self._keep_current(self.model.reload)

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
            self.cache,
            me=self.store.user_id,
            client=self.team.client,
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
        self.schedule_tick()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.model.save_memo()  # what is known of the clocks, for a quicker next start
        self.ticker.stop()
        self._reload_timer.stop()
        self.banner.stop()
        self.team.stop()
        self.detach_engine()
        super().closeEvent(event)
        self.closed.emit()
