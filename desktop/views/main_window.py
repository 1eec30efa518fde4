"""The console's main window: views on the left, the live SLA queue, search, status."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from enum import StrEnum
from typing import Final

from PySide6.QtCore import QModelIndex, QSize, Qt, QTimer
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
from desktop.views.delegates import PlanBadgeDelegate
from i18n import N_, _, ngettext
from sync.cache import Cache, search_query, utc_now
from sync.store import Store

__all__ = ["ConnectionState", "MainWindow"]

_SEARCH_DELAY_MS: Final = 150
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
    Column.UPDATED: "Wed 14:05",
}
_SUBJECT_MIN_WIDTH: Final = 150


class ConnectionState(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    SYNCING = "syncing"
    AUTH_REQUIRED = "auth_required"

    @property
    def label(self) -> str:
        return _(_CONNECTION_LABELS[self])


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
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        vertical = self.verticalHeader()
        vertical.setVisible(False)
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vertical.setDefaultSectionSize(self.fontMetrics().height() + 12)
        horizontal = self.horizontalHeader()
        horizontal.setHighlightSections(False)
        horizontal.setSectionsMovable(True)
        horizontal.setStretchLastSection(False)
        horizontal.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        horizontal.setMinimumSectionSize(48)
        self.fit_columns()
        self.setItemDelegateForColumn(Column.ORGANISATION, PlanBadgeDelegate(self))
        # the default order is the next SLA due, which no single column shows
        horizontal.setSortIndicatorShown(False)
        horizontal.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.setSortingEnabled(True)
        horizontal.sortIndicatorChanged.connect(self._sort_indicator_changed)
        self.verticalScrollBar().valueChanged.connect(self.update_visible_rows)
        model.modelReset.connect(self.update_visible_rows)
        model.layoutChanged.connect(self.update_visible_rows)

    def fit_columns(self) -> None:
        """Widths that show each column's typical content whole, in the current font."""
        bold = self.font()
        bold.setBold(True)
        metrics = QFontMetrics(bold)
        overdue = _("Overdue {duration}").format(duration="59 h 21 min")
        for column, sample in _COLUMN_SAMPLES.items():
            header = str(self.model().headerData(column, Qt.Orientation.Horizontal) or "")
            texts = [sample, header, overdue] if column in SLA_COLUMNS else [sample, header]
            width = max(metrics.horizontalAdvance(text) for text in texts)
            self.setColumnWidth(column, width + 14)
        self.fit_subject()

    def fit_subject(self) -> None:
        """The subject takes the room the other columns leave, but never less than a minimum."""
        header = self.horizontalHeader()
        others = sum(header.sectionSize(c) for c in Column if c != Column.SUBJECT)
        room = self.viewport().width() - others
        header.resizeSection(Column.SUBJECT, max(_SUBJECT_MIN_WIDTH, room))

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
        self.fit_subject()
        self.update_visible_rows()


class MainWindow(QMainWindow):
    """Views with live counts, the queue with live SLA cells, search and status."""

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
        self.model = QueueModel(cache, me=me, clock=clock, parent=self)
        self._connection = ConnectionState.OFFLINE

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

        centre = QWidget()
        layout = QVBoxLayout(centre)
        layout.setContentsMargins(8, 8, 8, 0)
        layout.setSpacing(6)
        header = QWidget()
        header_layout = QVBoxLayout(header)
        header_layout.setContentsMargins(0, 0, 0, 0)
        header_layout.addWidget(self.view_title)
        header_layout.addWidget(self.search_box)
        layout.addWidget(header)
        layout.addWidget(self.table, 1)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.nav)
        splitter.addWidget(centre)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([165, 1235])
        splitter.setChildrenCollapsible(False)
        self.nav.setMinimumWidth(150)
        self.setCentralWidget(splitter)

        # -- status bar
        self.connection_label = QLabel()
        self.connection_label.setObjectName("connection")
        self.last_sync_label = QLabel()
        self.pending_label = QLabel()
        self.pending_label.setObjectName("pending")
        self.count_label = QLabel()
        status = self.statusBar()
        status.addWidget(self.connection_label)
        status.addWidget(self.last_sync_label)
        status.addPermanentWidget(self.count_label)
        status.addPermanentWidget(self.pending_label)

        # -- menus and shortcuts
        self._build_actions()

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
        self.reload_action = self._action(
            self.file_menu, self.reload, QKeySequence.StandardKey.Refresh
        )
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
        self.reload_action.setText(_("&Reload from cache"))
        self.quit_action.setText(_("&Quit"))
        for view, action in self.view_actions.items():
            action.setText(view.label)
        self.search_action.setText(_("&Search"))
        self.default_sort_action.setText(_("Sort by next SLA &due"))
        self.next_action.setText(_("&Next ticket"))
        self.previous_action.setText(_("&Previous ticket"))
        self.open_action.setText(_("&Open ticket"))
        self.about_action.setText(_("&About Offimizer Console"))
        self.search_box.setPlaceholderText(_("Search subject, description and comments (Ctrl+F)"))
        self.search_box.setAccessibleName(_("Search tickets"))
        self.table.setAccessibleName(_("Ticket queue"))
        self.nav.setAccessibleName(_("Views"))
        self.model.retranslate()
        self.table.fit_columns()
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
        counts = self.model.counts()
        for view, item in self._nav_items.items():
            item.setText(0, view.label)
            item.setText(1, i18n.format_decimal(counts[view]))
            item.setToolTip(
                0,
                ngettext("{count} ticket", "{count} tickets", counts[view]).format(
                    count=counts[view]
                ),
            )
        breached = self._nav_items[QueueView.BREACHED]
        font = breached.font(1)
        font.setBold(counts[QueueView.BREACHED] > 0)
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
        return self.model.row_at(index.row()).ticket.id

    def _open(self, _index: QModelIndex) -> None:
        self._open_current()

    def _open_current(self) -> None:
        ticket_id = self.current_ticket_id()
        if ticket_id is not None:  # the ticket workspace comes with the next slice
            self.statusBar().showMessage(
                _("The ticket workspace is not available yet ({ticket}).").format(
                    ticket=self.model.row_at(self.table.currentIndex().row()).ticket.tracking_number
                ),
                5000,
            )

    # -- time -------------------------------------------------------------------------------

    def tick(self) -> None:
        self.table.update_visible_rows()
        self.model.tick()
        self.schedule_tick()

    def schedule_tick(self) -> None:
        following = self.model.next_tick()
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

    def refresh_status(self) -> None:
        self.connection_label.setText(self._connection.label)
        last = self.cache.last_sync_at()
        if last is None:
            self.last_sync_label.setText(_("Never synced"))
        else:
            zone = self.model.rules.calendar.zone
            self.last_sync_label.setText(
                _("Last sync: {when}").format(
                    when=i18n.format_datetime(last.astimezone(zone), "short")
                )
            )
        pending = self.store.pending_count()
        self.pending_label.setText(
            ngettext("{count} pending change", "{count} pending changes", pending).format(
                count=pending
            )
        )
        total = self.cache.ticket_count()
        self.count_label.setText(
            ngettext("{count} ticket cached", "{count} tickets cached", total).format(
                count=i18n.format_decimal(total)
            )
        )

    def reload(self) -> None:
        current = self.current_ticket_id()
        self.model.reload()
        if self.search_box.text().strip():
            self.apply_search()
        if current is not None:
            position = self.model.position_of(current)
            if position is not None:
                self.table.setCurrentIndex(self.model.index(position, Column.TRACKING))
        self.refresh_status()

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
        self.ticker.stop()
        super().closeEvent(event)
