"""The compliance report's two charts, drawn alike in the window and in the PDF."""

from __future__ import annotations

from typing import Final

from PySide6.QtCharts import (
    QBarCategoryAxis,
    QBarSeries,
    QBarSet,
    QChart,
    QStackedBarSeries,
    QValueAxis,
)
from PySide6.QtCore import QMargins, QRectF, QSizeF, Qt
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import QGraphicsScene

import i18n
from desktop.models.report import format_rate
from i18n import _, ngettext
from protocol import ComplianceReport
from sla.policy import Priority, Severity

__all__ = [
    "breach_tip",
    "breaches_chart",
    "render_chart",
    "week_tip",
    "weekly_chart",
]

_RESPONSE_COLOUR: Final = QColor("#1a73e8")
_RESOLUTION_COLOUR: Final = QColor("#12b5cb")
_SEVERITY_COLOURS: Final = {
    Severity.BLOCKING: QColor("#d93025"),
    Severity.MAJOR: QColor("#f29900"),
    Severity.MINOR: QColor("#fbd75b"),
}
_CHART_SIZE: Final = QSizeF(760, 330)


def _style(chart: QChart, title: str) -> None:
    chart.setTheme(QChart.ChartTheme.ChartThemeLight)
    chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)
    chart.setBackgroundRoundness(6)
    chart.setMargins(QMargins(6, 6, 6, 6))
    layout = chart.layout()
    if layout is not None:
        layout.setContentsMargins(0, 0, 0, 0)
    title_font = QFont()
    title_font.setBold(True)
    title_font.setPointSizeF(title_font.pointSizeF() * 1.1)
    chart.setTitleFont(title_font)
    chart.setTitle(title)
    chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)


def weekly_chart(report: ComplianceReport | None) -> QChart:
    """Compliance per week: first responses and resolutions within target, as bars."""
    chart = QChart()
    _style(chart, _("Compliance per week"))
    response = QBarSet(_("First response"))
    response.setColor(_RESPONSE_COLOUR)
    resolution = QBarSet(_("Resolution"))
    resolution.setColor(_RESOLUTION_COLOUR)
    categories: list[str] = []
    for week in report.weeks if report is not None else []:
        categories.append(i18n.format_date(week.week_start, "d MMM"))
        response.append(100 * (week.response_rate or 0.0))
        resolution.append(100 * (week.resolution_rate or 0.0))
    series = QBarSeries()
    series.append(response)
    series.append(resolution)
    chart.addSeries(series)
    x_axis = QBarCategoryAxis()
    x_axis.append(categories or [""])
    x_axis.setTitleText(_("Week of"))
    y_axis = QValueAxis()
    y_axis.setRange(0, 100)
    y_axis.setTickCount(6)
    # "%d%%", "%d %%": the locale's percent sign, as the tables write rates; QtCharts
    # formats its labels printf-style on bytes, where a no-break space does not survive
    percent = i18n.format_percent(0).replace("\u00a0", " ").replace("\u202f", " ")
    y_axis.setLabelFormat(percent.replace("%", "%%").replace("0", "%d"))
    chart.addAxis(x_axis, Qt.AlignmentFlag.AlignBottom)
    chart.addAxis(y_axis, Qt.AlignmentFlag.AlignLeft)
    series.attachAxis(x_axis)
    series.attachAxis(y_axis)
    return chart


def breaches_chart(report: ComplianceReport | None) -> QChart:
    """Breached tickets by priority, stacked by severity."""
    chart = QChart()
    _style(chart, _("Breaches by priority and severity"))
    counts: dict[tuple[Priority, Severity], int] = {}
    for breach in report.breaches if report is not None else []:
        key = (breach.priority, breach.severity)
        counts[key] = counts.get(key, 0) + breach.count
    series = QStackedBarSeries()
    for severity in Severity:
        bar = QBarSet(severity.label)
        bar.setColor(_SEVERITY_COLOURS[severity])
        for priority in Priority:
            bar.append(counts.get((priority, severity), 0))
        series.append(bar)
    chart.addSeries(series)
    x_axis = QBarCategoryAxis()
    x_axis.append([priority.display for priority in Priority])
    y_axis = QValueAxis()
    top = max([0, *(sum(counts.get((p, s), 0) for s in Severity) for p in Priority)])
    y_axis.setRange(0, max(4, top))
    y_axis.applyNiceNumbers()
    y_axis.setLabelFormat("%d")
    y_axis.setTitleText(_("Tickets"))
    chart.addAxis(x_axis, Qt.AlignmentFlag.AlignBottom)
    chart.addAxis(y_axis, Qt.AlignmentFlag.AlignLeft)
    series.attachAxis(x_axis)
    series.attachAxis(y_axis)
    return chart


def render_chart(chart: QChart, painter: QPainter, target: QRectF) -> None:
    """Draw ``chart`` into ``target`` (vector, offscreen: no widget involved), laid out as
    if it were ``_CHART_SIZE.width()`` pixels wide."""
    scene = QGraphicsScene()
    scene.addItem(chart)
    size = QSizeF(_CHART_SIZE.width(), _CHART_SIZE.width() * target.height() / target.width())
    chart.resize(size)
    scene.setSceneRect(QRectF(0, 0, size.width(), size.height()))
    scene.render(painter, target, scene.sceneRect())
    scene.removeItem(chart)


# -- what the charts say under the mouse ----------------------------------------------


def week_tip(report: ComplianceReport | None, index: int, bar: QBarSet | None = None) -> str:
    """What the weekly chart says of its ``index``-th week, under the mouse."""
    if report is None or not 0 <= index < len(report.weeks):
        return ""
    week = report.weeks[index]
    return _(
        "Week of {day}: {tickets}\nFirst responses within target: {response}\n"
        "Resolutions within target: {resolution}"
    ).format(
        day=i18n.format_date(week.week_start, "d MMMM"),
        tickets=ngettext("{count} ticket", "{count} tickets", week.tickets).format(
            count=i18n.format_decimal(week.tickets)
        ),
        response=format_rate(week.response_rate),
        resolution=format_rate(week.resolution_rate),
    )


def breach_tip(report: ComplianceReport | None, index: int, bar: QBarSet | None = None) -> str:
    """The breaches of the ``index``-th priority (of ``bar``'s severity, else all)."""
    if report is None or not 0 <= index < len(Priority):
        return ""
    priority = list(Priority)[index]
    severities = [s for s in Severity if bar is None or bar.label() == s.label]
    count = sum(
        b.count for b in report.breaches if b.priority is priority and b.severity in severities
    )
    what = priority.display
    if bar is not None and len(severities) == 1:
        what = f"{priority.display} · {severities[0].label}"
    return ngettext(
        "{what}: {count} ticket breached", "{what}: {count} tickets breached", count
    ).format(what=what, count=i18n.format_decimal(count))
