"""General widgets the console's views share: nothing here knows about tickets or SLAs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

from PySide6.QtCore import QByteArray, QEvent, QObject, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette, QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QLabel,
    QLayout,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QWidget,
)

__all__ = [
    "CountdownText",
    "FieldsGrid",
    "FittingSplitter",
    "RoomLeftTabs",
    "VerticalScrollArea",
    "scaled",
    "tinted",
]


def tinted(widget: QWidget, background: str, foreground: str | None = None) -> None:
    """Fill ``widget`` with ``background`` (and write in ``foreground``)."""
    palette = widget.palette()
    palette.setColor(QPalette.ColorRole.Window, QColor(background))
    if foreground is not None:
        palette.setColor(QPalette.ColorRole.WindowText, QColor(foreground))
    widget.setPalette(palette)
    widget.setAutoFillBackground(True)


def scaled(label: QWidget, factor: float, *, bold: bool = False) -> None:
    """``label``'s font ``factor`` times as large (and bold or not)."""
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
            # the scrolled widget's minimum width may have changed, and this area's
            # minimum width is derived from it (minimumSizeHint)
            self.updateGeometry()
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
        if event.type() == QEvent.Type.LayoutRequest:
            self._refit()  # a pane's minimum width changed: the rule shares the width again
        return handled
