"""The views panel left of the queue: my tickets, unassigned, at risk…, each with its
live count of tickets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QHeaderView, QTreeWidget, QTreeWidgetItem, QWidget

import i18n
from desktop.models.queue import QueueView
from i18n import _, ngettext

__all__ = ["VIEW_ORDER", "ViewsPanel"]

#: The views as the panel lists them (and Ctrl+1… picks them).
VIEW_ORDER: Final = (
    QueueView.MY_TICKETS,
    QueueView.UNASSIGNED,
    QueueView.MY_TEAMS,
    QueueView.AT_RISK,
    QueueView.BREACHED,
    QueueView.PENDING,
    QueueView.RECENT,
    QueueView.ALL,
)


class ViewsPanel(QTreeWidget):
    """A row a view: its name and how many tickets it holds."""

    #: the user chose a view (a :class:`~desktop.models.queue.QueueView`)
    viewChosen = Signal(object)

    def __init__(self, *, row_height: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("views")
        self.setColumnCount(2)
        self.setHeaderHidden(True)
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(True)
        self.setFrameShape(QTreeWidget.Shape.NoFrame)
        self.header().setStretchLastSection(False)
        self.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self._items: dict[QueueView, QTreeWidgetItem] = {}
        for view in VIEW_ORDER:
            item = QTreeWidgetItem(self)
            item.setData(0, Qt.ItemDataRole.UserRole, view.value)
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            item.setSizeHint(0, QSize(0, row_height))
            self._items[view] = item
        self.currentItemChanged.connect(self._current_changed)

    def _current_changed(self, current: QTreeWidgetItem | None, _previous: object) -> None:
        if current is not None:
            self.viewChosen.emit(QueueView(current.data(0, Qt.ItemDataRole.UserRole)))

    def show_view(self, view: QueueView) -> None:
        self.setCurrentItem(self._items[view])

    def retranslate(self) -> None:
        self.setAccessibleName(_("Views"))
        metrics = self.fontMetrics()
        widest = max(metrics.horizontalAdvance(view.label) for view in VIEW_ORDER)
        self.setMinimumWidth(widest + metrics.horizontalAdvance("0000") + 40)

    def show_counts(self, counts: Mapping[QueueView, int | None]) -> None:
        """Each view's count ("…" while not known yet: a large cache evaluates its
        clocks in the background); the breached count in bold when there are any."""
        for view, item in self._items.items():
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
        breached = self._items[QueueView.BREACHED]
        font = breached.font(1)
        if font.bold() != bool(counts[QueueView.BREACHED]):
            font.setBold(not font.bold())
            breached.setFont(1, font)
