"""Item delegates of the queue: the organisation's plan drawn as a badge."""

from __future__ import annotations

from typing import Final

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from desktop.models.queue import PLAN_ROLE
from sla.policy import plan_label

__all__ = ["PlanBadgeDelegate"]

_BADGE_COLOURS: Final = {
    # plan code: (background, text)
    "enterprise": ("#1f3a68", "#ffffff"),
    "business": ("#d7e6fb", "#14365f"),
    "professional": ("#e6e8eb", "#3a3d42"),
}
_PADDING: Final = 6


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
