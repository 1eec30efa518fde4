"""The team lead's workload panel: agents' loads, breach forecast, presence, drop to reassign."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Final

from PySide6.QtCore import QByteArray, QMimeData, Qt, QTimer, Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

import i18n
from desktop.models.workload import TARGET_ROLE, Target, WorkloadModel
from desktop.views.tables import records_table
from i18n import _

__all__ = [
    "TICKETS_MIME",
    "WorkloadPanel",
    "WorkloadTable",
    "ticket_ids_from_mime",
    "tickets_mime",
]

#: The drag-and-drop format of tickets dragged from the queue: a JSON list of ids.
TICKETS_MIME: Final = "application/x-offimizer-ticket-ids"
#: The panel counts again this often while shown (clock states move by the minute).
_TICK_MS: Final = 15_000


def tickets_mime(ticket_ids: Iterable[int]) -> QMimeData:
    mime = QMimeData()
    ids = [int(ticket_id) for ticket_id in ticket_ids]
    mime.setData(TICKETS_MIME, QByteArray(json.dumps(ids).encode()))
    return mime


def ticket_ids_from_mime(mime: QMimeData) -> list[int]:
    """The ticket ids a drag carries (nothing for anything else, or a malformed payload)."""
    if not mime.hasFormat(TICKETS_MIME):
        return []
    try:
        ids = json.loads(bytes(mime.data(TICKETS_MIME).data()).decode())
    except (ValueError, UnicodeDecodeError):
        return []
    if not isinstance(ids, list):
        return []
    return [i for i in ids if isinstance(i, int) and not isinstance(i, bool) and i > 0]


class WorkloadTable(QTableView):
    """The workload table; tickets dropped on an agent's row (or a team's unassigned row)
    are offered for reassignment."""

    ticketsDropped = Signal(list, object)  # ticket ids, Target

    def __init__(self, model: WorkloadModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setModel(model)
        self._workload = model
        self.setObjectName("workload")
        records_table(self)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setSortingEnabled(True)
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self.setDropIndicatorShown(True)
        horizontal = self.horizontalHeader()
        horizontal.setHighlightSections(False)
        horizontal.setSortIndicatorShown(False)
        horizontal.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        # columns as wide as their content: the figures stay next to the names
        horizontal.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        horizontal.setStretchLastSection(False)
        horizontal.setMinimumSectionSize(self.fontMetrics().horizontalAdvance("0000") + 16)
        horizontal.sortIndicatorChanged.connect(
            lambda column, _order: horizontal.setSortIndicatorShown(column >= 0)
        )

    def target_at(self, row: int) -> Target | None:
        if not 0 <= row < self._workload.rowCount():
            return None
        found = self._workload.row_at(row)
        label = found.agent if found.agent_id is not None else found.team
        return Target(found.team_id, found.agent_id, label)

    def _accepts(self, event: QDragMoveEvent | QDragEnterEvent | QDropEvent) -> bool:
        if not ticket_ids_from_mime(event.mimeData()):
            return False
        index = self.indexAt(event.position().toPoint())
        return index.isValid() and index.data(TARGET_ROLE) is not None

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if ticket_ids_from_mime(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self._accepts(event):
            self.selectRow(self.indexAt(event.position().toPoint()).row())
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        if not self._accepts(event):
            event.ignore()
            return
        target = self.target_at(self.indexAt(event.position().toPoint()).row())
        event.acceptProposedAction()
        if target is not None:
            self.ticketsDropped.emit(ticket_ids_from_mime(event.mimeData()), target)


class WorkloadPanel(QWidget):
    """The workload of the lead's teams, counted live from the cache."""

    def __init__(self, model: WorkloadModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("workload-panel")
        self.model = model
        self.hint = QLabel()
        self.hint.setObjectName("workload-hint")
        self.hint.setWordWrap(True)
        self.table = WorkloadTable(model)
        self.ticketsDropped = self.table.ticketsDropped
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 6)
        layout.setSpacing(4)
        layout.addWidget(self.hint)
        layout.addWidget(self.table, 1)
        self.ticker = QTimer(self)
        self.ticker.setInterval(_TICK_MS)
        self.ticker.timeout.connect(self.tick)
        self._stale = True
        model.loadProgress.connect(self._show_hint)
        self.retranslate()

    def retranslate(self) -> None:
        self._show_hint()
        self.table.setAccessibleName(_("Team workload"))
        self.model.retranslate()

    def _show_hint(self) -> None:
        loading = self.model.loading
        if loading is None:
            text = _(
                "Open tickets per agent, and breaches to expect within 4 business hours. "
                "Drop tickets from the queue on an agent to reassign them."
            )
        else:
            done, total = loading
            text = _("Counting the open tickets of your teams… {done} of {total}").format(
                done=i18n.format_decimal(done), total=i18n.format_decimal(total)
            )
        self.hint.setText(text)

    def reload(self) -> None:
        """After a sync or a command: read again what changed (now if shown, else when
        shown)."""
        if self.isVisible():
            self.model.refresh_changed()
            self._stale = False
        else:
            self._stale = True

    def tick(self) -> None:
        if self.isVisible():
            self.model.tick()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.model.refresh_changed()
            self._stale = False
        else:
            self.model.tick()
        self.ticker.start()

    def hideEvent(self, event: QHideEvent) -> None:
        self.ticker.stop()
        super().hideEvent(event)
