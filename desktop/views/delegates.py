"""Item delegates of the queue: the organisation's plan drawn as a badge, and
every other cell painted from one model call."""

from __future__ import annotations

from typing import Final

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from desktop.models.queue import CELL_ROLE, PLAN_ROLE, Cell
from sla.policy import plan_label

__all__ = ["CellDelegate", "PlanBadgeDelegate"]

_BADGE_COLOURS: Final = {
    # plan code: (background, text)
    "enterprise": ("#1f3a68", "#ffffff"),
    "business": ("#d7e6fb", "#14365f"),
    "professional": ("#e6e8eb", "#3a3d42"),
}
_PADDING: Final = 6
_LEFT_MIDDLE: Final = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
#: What a cell's state is tested on: only an enabled cell, neither selected, focused
#: nor under the mouse (some styles light it), is painted by :class:`CellDelegate`
#: itself (as integers: cheaper).
_SPECIAL: Final = (
    QStyle.StateFlag.State_Selected
    | QStyle.StateFlag.State_HasFocus
    | QStyle.StateFlag.State_MouseOver
    | QStyle.StateFlag.State_Enabled
).value
_ENABLED: Final = QStyle.StateFlag.State_Enabled.value


class PlanBadgeDelegate(QStyledItemDelegate):
    """The organisation name, elided, with its plan as a small badge on the right."""

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        plan = index.data(PLAN_ROLE)
        if not plan:
            super().paint(painter, option, index)
            return
        badge = plan_label(str(plan))
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        font = QFont(opt.font)
        font.setPointSizeF(max(font.pointSizeF() * 0.85, 6.0))
        metrics = QFontMetrics(font)
        badge_width = metrics.horizontalAdvance(badge) + 2 * _PADDING
        badge_height = metrics.height() + 2
        # the name, drawn by the style in the room the badge leaves
        text_rect = QRect(opt.rect)
        text_rect.setRight(opt.rect.right() - badge_width - _PADDING)
        name_metrics = QFontMetrics(opt.font)
        opt.text = name_metrics.elidedText(
            opt.text, Qt.TextElideMode.ElideRight, text_rect.width() - 8
        )
        style = opt.widget.style() if opt.widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        background, foreground = _BADGE_COLOURS.get(str(plan), ("#e6e8eb", "#3a3d42"))
        rect = QRect(
            opt.rect.right() - badge_width - _PADDING + 2,
            opt.rect.center().y() - badge_height // 2 + 1,
            badge_width,
            badge_height,
        )
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(background))
        painter.drawRoundedRect(rect, badge_height / 2, badge_height / 2)
        painter.setPen(QColor(foreground))
        painter.setFont(font)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, badge)
        painter.restore()

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        size = super().sizeHint(option, index)
        plan = index.data(PLAN_ROLE)
        if plan:
            metrics = QFontMetrics(option.font)
            size.setWidth(size.width() + metrics.horizontalAdvance(plan_label(str(plan))) + 24)
        return size


class CellDelegate(QStyledItemDelegate):
    """A queue cell: its text in its colours and font, from one model call.

    The SLA countdowns repaint every second, and a sort, a scroll or a clock
    that breaches (the queue re-sorts) repaints every cell on screen.  The
    style's item painting asks the model for about ten roles a cell, each a
    call into Python; a cell needs only its text, colours and font, which
    :data:`CELL_ROLE` gives at once.  The row's own background (alternating
    colours) is the view's, painted before; a selected, focused, hovered or
    disabled cell is drawn by the style as usual.
    """

    _margin: int | None = None

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        cell = index.data(CELL_ROLE)
        if option.state.value & _SPECIAL != _ENABLED or not isinstance(cell, Cell):
            super().paint(painter, option, index)
            return
        rect = option.rect
        if cell.background is not None:
            painter.fillRect(rect, cell.background)
        margin = self._margin
        if margin is None:  # the style's own text margin: the text sits where others' does
            widget = option.widget
            style = widget.style() if widget is not None else QApplication.style()
            focus = QStyle.PixelMetric.PM_FocusFrameHMargin
            margin = self._margin = style.pixelMetric(focus, None, widget) + 1
        text_rect = rect.adjusted(margin, 0, -margin, 0)
        font = cell.font if cell.font is not None else option.font
        painter.save()
        painter.setFont(font)
        painter.setPen(
            cell.foreground.color()
            if cell.foreground is not None
            else option.palette.color(QPalette.ColorRole.Text)
        )
        painter.drawText(
            text_rect,
            _LEFT_MIDDLE,
            painter.fontMetrics().elidedText(
                cell.text, Qt.TextElideMode.ElideRight, text_rect.width()
            ),
        )
        painter.restore()
