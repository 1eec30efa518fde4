"""The compliance report as a printable one-page A4 PDF summary."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from PySide6.QtCore import QMarginsF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPageLayout, QPageSize, QPainter, QPdfWriter, QPen

import i18n
from desktop.models.report import BucketColumn, BucketModel, Dimension, period_title
from desktop.views.report.charts import breaches_chart, render_chart, weekly_chart
from desktop.views.report.figures import key_figures
from i18n import _
from protocol import ComplianceReport

__all__ = ["paint_summary", "write_pdf"]


def write_pdf(
    report: ComplianceReport,
    path: Path,
    *,
    zone: dt.tzinfo,
    team: str = "",
    as_of: dt.datetime | None = None,
) -> None:
    """A printable one-page A4 summary: title, key figures, both charts, the priorities."""
    title = _("SLA compliance — {period}").format(
        period=period_title(report.start, report.end, zone)
    )
    writer = QPdfWriter(str(path))
    writer.setTitle(title)
    writer.setCreator(_("Offimizer Console"))
    writer.setResolution(300)
    writer.setPageLayout(
        QPageLayout(
            QPageSize(QPageSize.PageSizeId.A4),
            QPageLayout.Orientation.Portrait,
            QMarginsF(15, 15, 15, 15),
            QPageLayout.Unit.Millimeter,
        )
    )
    painter = QPainter()
    if not painter.begin(writer):
        raise OSError(_("Could not write the PDF to {path}").format(path=path))
    try:
        page = QRectF(writer.pageLayout().paintRectPixels(writer.resolution()))
        page.moveTo(0, 0)
        paint_summary(
            painter,
            page,
            writer.resolution(),
            report,
            title,
            zone,
            team,
            as_of or report.generated_at,
        )
    finally:
        painter.end()


def _font(points: float, *, bold: bool = False) -> QFont:
    font = QFont()
    font.setPointSizeF(points)
    font.setBold(bold)
    return font


def paint_summary(
    painter: QPainter,
    page: QRectF,
    resolution: int,
    report: ComplianceReport,
    title: str,
    zone: dt.tzinfo,
    team: str,
    as_of: dt.datetime,
) -> None:
    """The one-page summary in ``page`` (device pixels at ``resolution`` dots per inch)."""
    width = page.width()
    mm = resolution / 25.4
    y = 0.0
    grey = QColor("#5f6368")

    painter.setFont(_font(20, bold=True))
    line = painter.fontMetrics().height()
    painter.drawText(QRectF(0, y, width, line), Qt.AlignmentFlag.AlignLeft, title)
    y += line + 1 * mm
    painter.setFont(_font(10))
    painter.setPen(grey)
    small = painter.fontMetrics().height()
    subtitle = _("{team} · as of {when}").format(
        team=team, when=i18n.format_day_time(as_of.astimezone(zone), year=True)
    )
    painter.drawText(QRectF(0, y, width, small), Qt.AlignmentFlag.AlignLeft, subtitle)
    y += small + 6 * mm

    # key figures, four boxes in a row
    gap = 4 * mm
    box_width = (width - 3 * gap) / 4
    box_height = 34 * mm
    for column, (value, caption, detail, colour) in enumerate(key_figures(report)):
        box = QRectF(column * (box_width + gap), y, box_width, box_height)
        painter.setPen(QPen(QColor("#dadce0"), 0.3 * mm))
        painter.setBrush(QColor("#f8f9fa"))
        painter.drawRoundedRect(box, 2 * mm, 2 * mm)
        inner = box.adjusted(3 * mm, 2 * mm, -3 * mm, -2 * mm)
        painter.setPen(colour or QColor("#202124"))
        painter.setFont(_font(20, bold=True))
        big = painter.fontMetrics().height()
        painter.drawText(QRectF(inner.left(), inner.top(), inner.width(), big), value)
        painter.setPen(QColor("#202124"))
        painter.setFont(_font(8))
        flags = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop) | int(
            Qt.TextFlag.TextWordWrap
        )
        painter.drawText(
            QRectF(inner.left(), inner.top() + big, inner.width(), inner.height() - big),
            flags,
            caption + ("\n" + detail if detail else ""),
        )
    painter.setBrush(Qt.BrushStyle.NoBrush)
    y += box_height + 6 * mm

    # the charts
    chart_height = 64 * mm
    for chart in (weekly_chart(report), breaches_chart(report)):
        render_chart(chart, painter, QRectF(0, y, width, chart_height))
        y += chart_height + 4 * mm

    # compliance by priority
    painter.setPen(QColor("#202124"))
    painter.setFont(_font(11, bold=True))
    heading = painter.fontMetrics().height()
    painter.drawText(QRectF(0, y, width, heading), Dimension.PRIORITY.label)
    y += heading + 1 * mm
    model = BucketModel(Dimension.PRIORITY)
    model.set_report(report)
    columns = [
        (BucketColumn.GROUP, 0.18),
        (BucketColumn.RESPONSE_RATE, 0.12),
        (BucketColumn.RESPONSE_MEAN, 0.145),
        (BucketColumn.RESPONSE_P90, 0.145),
        (BucketColumn.RESOLUTION_RATE, 0.12),
        (BucketColumn.RESOLUTION_MEAN, 0.145),
        (BucketColumn.RESOLUTION_P90, 0.145),
    ]
    painter.setFont(_font(8, bold=True))
    row_height = painter.fontMetrics().height() * 1.35
    x = 0.0
    for column, share in columns:
        header = str(model.headerData(column, Qt.Orientation.Horizontal)).replace("\n", " ")
        align = (
            Qt.AlignmentFlag.AlignLeft
            if column is BucketColumn.GROUP
            else Qt.AlignmentFlag.AlignRight
        )
        painter.drawText(
            QRectF(x, y, width * share - 2 * mm, row_height * 2.2),
            int(align | Qt.AlignmentFlag.AlignBottom) | int(Qt.TextFlag.TextWordWrap),
            header,
        )
        x += width * share
    y += row_height * 2.2 + 1 * mm
    painter.setPen(QPen(QColor("#dadce0"), 0.3 * mm))
    painter.drawLine(0, int(y), int(width), int(y))
    for row in range(model.rowCount()):
        painter.setFont(_font(8.5, bold=row == model.rowCount() - 1))
        x = 0.0
        for column, share in columns:
            index = model.index(row, column)
            text = str(model.data(index) or "")
            colour = model.data(index, Qt.ItemDataRole.ForegroundRole)
            painter.setPen(colour if isinstance(colour, QColor) else QColor("#202124"))
            align = (
                Qt.AlignmentFlag.AlignLeft
                if column is BucketColumn.GROUP
                else Qt.AlignmentFlag.AlignRight
            )
            painter.drawText(
                QRectF(x, y, width * share - 2 * mm, row_height),
                int(align | Qt.AlignmentFlag.AlignVCenter),
                text,
            )
            x += width * share
        y += row_height

    # footer
    painter.setPen(grey)
    painter.setFont(_font(7.5))
    footer = _("First responses and resolutions in business time; tickets created {period}.")
    last = (report.end.astimezone(zone) - dt.timedelta(microseconds=1)).date()
    footer = footer.format(
        period=_("from {start} to {end}").format(
            start=i18n.format_date(report.start.astimezone(zone).date(), "long"),
            end=i18n.format_date(last, "long"),
        )
    )
    foot = painter.fontMetrics().height()
    painter.drawText(QRectF(0, page.height() - foot, width, foot), footer)
