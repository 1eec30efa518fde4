"""The queue table: the tickets of a view, a row each, with live SLA cells.

Its columns fit the room they get: the subject keeps a share, a few columns give up
width, then the least needed are hidden while the table is narrow (the ticket
workspace open beside it).  What the user chose (a column's width, a hidden column)
stays as they chose it.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from PySide6.QtCore import QEvent, QObject, QPoint, Qt
from PySide6.QtGui import QFontMetrics, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QMenu, QTableView, QWidget

import i18n
from desktop.models.queue import SLA_COLUMNS, Column, QueueModel
from desktop.models.sla_cells import clock_text_samples
from desktop.views.delegates import CellDelegate, PlanBadgeDelegate
from desktop.views.tables import records_table

__all__ = ["QueueTable"]

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
