"""The SLA compliance report window (team leads and admins): figures, charts, tables, export.

:class:`ReportView` asks the server for the report of a month (the current one by
default) or of a custom range, for one team or all the user's teams, through the
:class:`~sync.client.ApiClient` on the asyncio loop, so the window never blocks.
Each fetched report is kept beside the cache (:class:`~desktop.models.report.SavedReports`);
offline, the last copy is shown with its date.  The report exports to CSV (every
figure) and to a one-page A4 PDF summary with both charts (:func:`write_pdf`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Final

from PySide6.QtCharts import (
    QAbstractBarSeries,
    QBarCategoryAxis,
    QBarSeries,
    QBarSet,
    QChart,
    QChartView,
    QStackedBarSeries,
    QValueAxis,
)
from PySide6.QtCore import (
    QDate,
    QLocale,
    QMargins,
    QMarginsF,
    QModelIndex,
    QRectF,
    QSizeF,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QCloseEvent,
    QColor,
    QCursor,
    QFont,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
    QPen,
)
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QFileDialog,
    QFrame,
    QGraphicsScene,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

import i18n
from desktop.models.report import (
    TICKET_ID_ROLE,
    BreachedColumn,
    BreachedModel,
    BucketColumn,
    BucketModel,
    Dimension,
    Names,
    SavedReports,
    day_range,
    format_duration,
    format_rate,
    month_range,
    period_title,
    rate_colour,
    reports_folder,
    write_csv,
)
from desktop.models.workload import led_teams
from desktop.views.tables import records_table
from desktop.views.tasks import BackgroundTasks
from i18n import _, ngettext
from protocol import ComplianceReport, TeamOut
from sla.policy import Priority, Severity
from sync.cache import Cache
from sync.client import ApiClient, ApiError, RequestRefused, Unreachable

__all__ = [
    "Fetch",
    "KeyFigure",
    "ReportView",
    "breaches_chart",
    "compliance_report_view",
    "weekly_chart",
    "write_pdf",
]

#: Fetch a report: (start, end, team id or None for all the user's teams).
Fetch = Callable[[dt.datetime, dt.datetime, int | None], Awaitable[ComplianceReport]]

_RESPONSE_COLOUR: Final = QColor("#1a73e8")
_RESOLUTION_COLOUR: Final = QColor("#12b5cb")
_SEVERITY_COLOURS: Final = {
    Severity.BLOCKING: QColor("#d93025"),
    Severity.MAJOR: QColor("#f29900"),
    Severity.MINOR: QColor("#fbd75b"),
}
_CHART_SIZE: Final = QSizeF(760, 330)
#: How "as of" dates read.


# -- charts (shared by the window and the PDF) ------------------------------------------


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


def _render_chart(chart: QChart, painter: QPainter, target: QRectF) -> None:
    """Draw ``chart`` into ``target`` (vector, offscreen: no widget involved), laid out as
    if it were ``_CHART_SIZE.width()`` pixels wide."""
    scene = QGraphicsScene()
    scene.addItem(chart)
    size = QSizeF(_CHART_SIZE.width(), _CHART_SIZE.width() * target.height() / target.width())
    chart.resize(size)
    scene.setSceneRect(QRectF(0, 0, size.width(), size.height()))
    scene.render(painter, target, scene.sceneRect())
    scene.removeItem(chart)


# -- figures ----------------------------------------------------------------------------


def ticket_total(report: ComplianceReport) -> int:
    """Tickets in the report (each has a first-response clock)."""
    total = report.total
    return total.response_met + total.response_missed + total.response_open


def breached_tickets(report: ComplianceReport) -> int:
    return len({ticket.id for ticket in report.breached})


def _unbroken(text: str) -> str:
    """``text`` kept on one line (durations: "4 h 15 min" never split)."""
    return text.replace(" ", "\u00a0")


def key_figures(report: ComplianceReport) -> list[tuple[str, str, str, QColor | None]]:
    """(value, caption, detail, colour) of the headline figures."""
    total = report.total
    tickets = ticket_total(report)
    breached = breached_tickets(report)
    return [
        (
            i18n.format_decimal(tickets),
            ngettext("ticket created", "tickets created", tickets),
            "",
            None,
        ),
        (
            format_rate(total.response_rate),
            _("first responses within target"),
            _("mean {mean}, 90% within {p90}").format(
                mean=_unbroken(format_duration(total.response_mean_seconds)),
                p90=_unbroken(format_duration(total.response_p90_seconds)),
            ),
            rate_colour(total.response_rate),
        ),
        (
            format_rate(total.resolution_rate),
            _("resolutions within target"),
            _("mean {mean}, 90% within {p90}").format(
                mean=_unbroken(format_duration(total.resolution_mean_seconds)),
                p90=_unbroken(format_duration(total.resolution_p90_seconds)),
            ),
            rate_colour(total.resolution_rate),
        ),
        (
            i18n.format_decimal(breached),
            ngettext("ticket breached", "tickets breached", breached),
            ngettext(
                "{count} still open in time", "{count} still open in time", total.resolution_open
            ).format(count=i18n.format_decimal(total.resolution_open)),
            QColor("#d93025") if breached else QColor("#1e8e3e"),
        ),
    ]


class KeyFigure(QFrame):
    """One headline figure: a big number, what it counts, a detail line."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("key-figure")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet(
            "#key-figure { background: palette(base); border: 1px solid palette(mid);"
            " border-radius: 6px; }"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 10, 16, 10)
        layout.setSpacing(2)
        self.value = QLabel()
        font = self.value.font()
        font.setPointSizeF(font.pointSizeF() * 2.2)
        font.setBold(True)
        self.value.setFont(font)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.detail = QLabel()
        self.detail.setWordWrap(True)
        self.detail.setStyleSheet("color: palette(placeholder-text);")
        for label in (self.value, self.caption, self.detail):
            layout.addWidget(label)
        layout.addStretch(1)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def show_figure(self, value: str, caption: str, detail: str, colour: QColor | None) -> None:
        self.value.setText(value)
        self.value.setStyleSheet("" if colour is None else f"color: {colour.name()};")
        self.caption.setText(caption)
        self.detail.setText(detail)
        self.detail.setVisible(bool(detail))


# -- the window ---------------------------------------------------------------------------


class ReportView(QWidget):
    """SLA compliance of a month or a range, for one team or all the user's teams."""

    #: the user clicked a breached ticket: open it in the console
    ticketRequested = Signal(int)
    #: a report (fresh or saved) or a message is shown
    reportShown = Signal()

    def __init__(
        self,
        *,
        fetch: Fetch | None,
        saved: SavedReports,
        names: Callable[[], Names],
        teams: Sequence[TeamOut],
        zone: dt.tzinfo,
        clock: Callable[[], dt.datetime],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("compliance-report")
        self.fetch = fetch
        self.saved = saved
        self.names = names
        self.teams = list(teams)
        self.zone = zone
        self.clock = clock
        self.report: ComplianceReport | None = None
        #: when the shown report was fetched, if it is a saved copy (offline)
        self.saved_at: dt.datetime | None = None
        self._problem: ApiError | None = None
        self._tasks = BackgroundTasks()
        self._generation = 0

        # -- the period, the team, the actions
        self.period_box = QComboBox()
        self.period_box.setObjectName("period-kind")
        self.month_edit = QDateEdit()
        self.month_edit.setObjectName("month")
        self.month_edit.setDisplayFormat("MMMM yyyy")
        self.month_edit.setCalendarPopup(False)
        self.month_edit.setMinimumWidth(150)
        self.from_edit = QDateEdit()
        self.to_edit = QDateEdit()
        for edit in (self.from_edit, self.to_edit):
            edit.setCalendarPopup(True)
        self.to_label = QLabel()
        today = clock().astimezone(zone).date()
        self.month_edit.setDate(QDate(today.year, today.month, 1))
        self.from_edit.setDate(QDate(today.year, today.month, 1))
        self.to_edit.setDate(QDate(today.year, today.month, today.day))
        self.range_box = QWidget()
        range_layout = QHBoxLayout(self.range_box)
        range_layout.setContentsMargins(0, 0, 0, 0)
        range_layout.addWidget(self.from_edit)
        range_layout.addWidget(self.to_label)
        range_layout.addWidget(self.to_edit)
        self.period_stack = QStackedWidget()
        self.period_stack.addWidget(self.month_edit)
        self.period_stack.addWidget(self.range_box)
        self.period_stack.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        self.team_box = QComboBox()
        self.team_box.setObjectName("team")
        self.team_box.setVisible(len(self.teams) > 1)
        self.refresh_button = QPushButton()
        self.csv_button = QPushButton()
        self.pdf_button = QPushButton()

        bar = QHBoxLayout()
        bar.addWidget(self.period_box)
        bar.addWidget(self.period_stack)
        bar.addWidget(self.team_box)
        bar.addStretch(1)
        bar.addWidget(self.refresh_button)
        bar.addWidget(self.csv_button)
        bar.addWidget(self.pdf_button)

        # -- title and status
        self.title_label = QLabel()
        self.title_label.setObjectName("report-title")
        title_font = self.title_label.font()
        title_font.setPointSizeF(title_font.pointSizeF() * 1.6)
        title_font.setBold(True)
        self.title_label.setFont(title_font)
        self.status_label = QLabel()
        self.status_label.setObjectName("report-status")
        self.status_label.setWordWrap(True)

        # -- figures, charts, tables
        self.figures = [KeyFigure() for _index in range(4)]
        figures = QHBoxLayout()
        figures.setSpacing(12)
        for figure in self.figures:
            figures.addWidget(figure)
        self.weekly_view = QChartView()
        self.breaches_view = QChartView()
        for view in (self.weekly_view, self.breaches_view):
            view.setRenderHint(QPainter.RenderHint.Antialiasing)
            view.setMinimumHeight(260)
        charts = QHBoxLayout()
        charts.setSpacing(12)
        charts.addWidget(self.weekly_view, 1)
        charts.addWidget(self.breaches_view, 1)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("report-tables")
        self.bucket_models: dict[Dimension, BucketModel] = {}
        self.bucket_tables: dict[Dimension, QTableView] = {}
        for dimension in Dimension:
            model = BucketModel(dimension, self)
            table = self._table(model)
            header = table.horizontalHeader()
            header.setSectionResizeMode(BucketColumn.GROUP, QHeaderView.ResizeMode.Stretch)
            self.bucket_models[dimension] = model
            self.bucket_tables[dimension] = table
            self.tabs.addTab(table, "")
        self.breached_model = BreachedModel(lambda: self.zone, self.names, self)
        self.breached_table = self._table(self.breached_model)
        self.breached_table.horizontalHeader().setSectionResizeMode(
            BreachedColumn.SUBJECT, QHeaderView.ResizeMode.Stretch
        )
        self.breached_table.clicked.connect(self._breached_clicked)
        self.breached_table.activated.connect(self._breached_activated)
        self.tabs.addTab(self.breached_table, "")

        self.content = QWidget()
        content = QVBoxLayout(self.content)
        content.setContentsMargins(0, 0, 0, 0)
        content.setSpacing(12)
        content.addLayout(figures)
        content.addLayout(charts, 3)
        content.addWidget(self.tabs, 2)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(8)
        layout.addLayout(bar)
        layout.addWidget(self.title_label)
        layout.addWidget(self.status_label)
        layout.addWidget(self.content, 1)
        self.message_label = QLabel()
        self.message_label.setObjectName("report-message")
        self.message_label.setWordWrap(True)
        self.message_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message_label.setMargin(40)
        message_font = self.message_label.font()
        message_font.setPointSizeF(message_font.pointSizeF() * 1.2)
        self.message_label.setFont(message_font)
        layout.addWidget(self.message_label, 1)

        self.period_box.currentIndexChanged.connect(self._period_kind_changed)
        self.month_edit.dateChanged.connect(lambda _date: self.refresh())
        self.from_edit.dateChanged.connect(lambda _date: self.refresh())
        self.to_edit.dateChanged.connect(lambda _date: self.refresh())
        self.team_box.currentIndexChanged.connect(lambda _index: self.refresh())
        self.refresh_button.clicked.connect(lambda _checked=False: self.refresh())
        self.csv_button.clicked.connect(lambda _checked=False: self.export_csv())
        self.pdf_button.clicked.connect(lambda _checked=False: self.export_pdf())
        self.resize(1240, 860)
        self.retranslate()
        self._show(None)

    def _table(self, model: BucketModel | BreachedModel) -> QTableView:
        table = records_table(QTableView())
        table.setModel(model)
        table.setSortingEnabled(True)
        table.setStyleSheet("QTableView::item { padding: 0px 8px; }")
        table.horizontalHeader().setSortIndicatorShown(False)
        table.horizontalHeader().setDefaultAlignment(
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        )
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        return table

    # -- language -----------------------------------------------------------------------

    def retranslate(self) -> None:
        locale = QLocale(i18n.current_language())
        for edit in (self.month_edit, self.from_edit, self.to_edit):
            edit.setLocale(locale)
        self.from_edit.setDisplayFormat(locale.dateFormat(QLocale.FormatType.ShortFormat))
        self.to_edit.setDisplayFormat(locale.dateFormat(QLocale.FormatType.ShortFormat))
        self.setWindowTitle(_("SLA compliance report"))
        kind = max(0, self.period_box.currentIndex())
        self.period_box.blockSignals(True)
        self.period_box.clear()
        self.period_box.addItems([_("Month"), _("Custom range")])
        self.period_box.setCurrentIndex(kind)
        self.period_box.blockSignals(False)
        self.to_label.setText(_("to"))
        team = self.team_box.currentIndex()
        self.team_box.blockSignals(True)
        self.team_box.clear()
        self.team_box.addItem(_("All my teams"), None)
        for item in sorted(self.teams, key=lambda t: t.name.casefold()):
            self.team_box.addItem(item.name, item.id)
        self.team_box.setCurrentIndex(max(0, team))
        self.team_box.blockSignals(False)
        self.refresh_button.setText(_("Refresh"))
        self.csv_button.setText(_("Export CSV…"))
        self.pdf_button.setText(_("Export PDF…"))
        self.period_box.setAccessibleName(_("Period"))
        self.team_box.setAccessibleName(_("Team"))
        for index, dimension in enumerate(Dimension):
            self.tabs.setTabText(index, dimension.label)
            self.bucket_models[dimension].retranslate()
        self.breached_model.retranslate()
        self._update_breached_tab()
        if self.report is not None:
            self._show(self.report, saved_at=self.saved_at, problem=self._problem)

    def _update_breached_tab(self) -> None:
        count = 0 if self.report is None else breached_tickets(self.report)
        text = ngettext("Breached ({count})", "Breached ({count})", count).format(count=count)
        self.tabs.setTabText(len(Dimension), text)

    # -- the period ---------------------------------------------------------------------

    def _period_kind_changed(self, index: int) -> None:
        self.period_stack.setCurrentIndex(1 if index == 1 else 0)
        self.refresh()

    def set_month(self, year: int, month: int) -> None:
        self.period_box.setCurrentIndex(0)
        self.month_edit.setDate(QDate(year, month, 1))

    def set_range(self, first: dt.date, last: dt.date) -> None:
        self.period_box.setCurrentIndex(1)
        for edit, day in ((self.from_edit, first), (self.to_edit, last)):
            edit.blockSignals(True)
            edit.setDate(QDate(day.year, day.month, day.day))
            edit.blockSignals(False)
        self.refresh()

    def period(self) -> tuple[dt.datetime, dt.datetime]:
        if self.period_box.currentIndex() == 1:
            first, last = self.from_edit.date().toPython(), self.to_edit.date().toPython()
            assert isinstance(first, dt.date) and isinstance(last, dt.date)
            return day_range(first, last, self.zone)
        month = self.month_edit.date()
        return month_range(month.year(), month.month(), self.zone)

    def team_id(self) -> int | None:
        value = self.team_box.currentData()
        return int(value) if isinstance(value, int) else None

    def team_name(self) -> str:
        team = self.team_id()
        if team is None:
            return (
                _("All my teams") if len(self.teams) > 1 else ", ".join(t.name for t in self.teams)
            )
        return next((t.name for t in self.teams if t.id == team), "")

    # -- fetching -------------------------------------------------------------------------

    def refresh(self) -> None:
        """Fetch the report of the period in the background (what is shown stays until the
        answer comes; an earlier fetch still under way is left to finish, and ignored)."""
        if self.fetch is not None and self._tasks.start(self.load()) is not None:
            return
        self._generation += 1  # no loop running, or nothing to fetch with
        self._show_saved(None)

    async def settled(self) -> None:
        """Until the fetches under way (if any) are over."""
        await self._tasks.settle()

    def closeEvent(self, event: QCloseEvent) -> None:
        self._tasks.cancel()  # the window goes: nothing left to show answers in
        super().closeEvent(event)

    async def load(self) -> None:
        """Fetch and show the report of the chosen period (the saved copy when offline)."""
        self._generation += 1
        generation = self._generation
        start, end = self.period()
        team = self.team_id()
        if self.fetch is None:
            self._show_saved(None)
            return
        self.status_label.setText(_("Fetching the report…"))
        self.status_label.setStyleSheet("")
        try:
            report = await self.fetch(start, end, team)
        except RequestRefused as error:
            if generation == self._generation:
                self._show(None, message=error.message)
            return
        except ApiError as error:
            if generation == self._generation:
                self._show_saved(error)
            return
        if generation != self._generation:
            return
        fetched_at = self.clock()
        with contextlib.suppress(OSError):  # a copy we cannot keep is no reason not to show it
            self.saved.save(report, fetched_at, team)
        self._show(report)

    def _show_saved(self, problem: ApiError | None) -> None:
        """The last fetched copy of the period's report, or why there is none."""
        start, end = self.period()
        copy = self.saved.load(start, end, self.team_id())
        offline = problem is None or isinstance(problem, Unreachable)
        if copy is None:
            if offline:
                message = _(
                    "No copy of this report yet. Reports come from the server, which cannot "
                    "be reached now: it will show here once you are connected."
                )
            else:
                assert problem is not None
                message = _(
                    "The server could not give this report, and there is no earlier copy of it. "
                    "{problem}"
                ).format(problem=problem.message)
            self._show(None, message=message)
            return
        self._show(copy.report, saved_at=copy.fetched_at, problem=None if offline else problem)

    # -- showing ----------------------------------------------------------------------------

    def _show(
        self,
        report: ComplianceReport | None,
        *,
        saved_at: dt.datetime | None = None,
        problem: ApiError | None = None,
        message: str = "",
    ) -> None:
        """Show ``report`` (a saved copy when ``saved_at`` is given), or ``message``."""
        self.report = report
        self.saved_at = saved_at
        self._problem = problem
        if report is None:
            start, end = self.period()
        else:
            start, end = report.start, report.end
        self.title_label.setText(
            _("SLA compliance — {period}").format(period=period_title(start, end, self.zone))
        )
        if report is None:
            self.status_label.setText("")
        elif saved_at is not None:
            when = i18n.format_day_time(saved_at.astimezone(self.zone), year=True)
            if problem is None:
                text = _("Offline: showing the copy fetched on {when}.").format(when=when)
            else:
                text = _("{problem} Showing the copy fetched on {when}.").format(
                    problem=problem.message, when=when
                )
            self.status_label.setText(text)
        else:
            self.status_label.setText(
                _("{team} · as of {when}").format(
                    team=self.team_name(),
                    when=i18n.format_day_time(report.generated_at.astimezone(self.zone), year=True),
                )
            )
        self.status_label.setStyleSheet("color: #b06000;" if saved_at is not None else "")
        self.content.setVisible(report is not None)
        self.message_label.setVisible(report is None)
        self.message_label.setText(message)
        self.csv_button.setEnabled(report is not None)
        self.pdf_button.setEnabled(report is not None)
        if report is not None:
            for figure, values in zip(self.figures, key_figures(report), strict=True):
                figure.show_figure(*values)
        else:
            for figure in self.figures:
                figure.show_figure("–", "", "", None)
        for model in self.bucket_models.values():
            model.set_report(report)
        self.breached_model.set_report(report)
        self._update_breached_tab()
        for view, chart, tip in (
            (self.weekly_view, weekly_chart(report), self.week_tip),
            (self.breaches_view, breaches_chart(report), self.breach_tip),
        ):
            old = view.chart()
            view.setChart(chart)
            if old is not None:
                old.deleteLater()
            for series in chart.series():
                if isinstance(series, QAbstractBarSeries):
                    series.hovered.connect(
                        lambda status, index, bar, tip=tip: self._hovered(status, tip(index, bar))
                    )
        self.reportShown.emit()

    # -- what the charts say under the mouse --------------------------------------------

    def week_tip(self, index: int, bar: QBarSet | None = None) -> str:
        """The figures of the ``index``-th week of the weekly chart."""
        if self.report is None or not 0 <= index < len(self.report.weeks):
            return ""
        week = self.report.weeks[index]
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

    def breach_tip(self, index: int, bar: QBarSet | None = None) -> str:
        """The breaches of the ``index``-th priority (of ``bar``'s severity, else all)."""
        if self.report is None or not 0 <= index < len(Priority):
            return ""
        priority = list(Priority)[index]
        severities = [s for s in Severity if bar is None or bar.label() == s.label]
        count = sum(
            b.count
            for b in self.report.breaches
            if b.priority is priority and b.severity in severities
        )
        what = priority.display
        if bar is not None and len(severities) == 1:
            what = f"{priority.display} · {severities[0].label}"
        return ngettext(
            "{what}: {count} ticket breached", "{what}: {count} tickets breached", count
        ).format(what=what, count=i18n.format_decimal(count))

    def _hovered(self, status: bool, text: str) -> None:
        if status and text:
            QToolTip.showText(QCursor.pos(), text, self)
        else:
            QToolTip.hideText()

    # -- breached tickets -------------------------------------------------------------------

    def _breached_clicked(self, index: QModelIndex) -> None:
        if index.column() == BreachedColumn.TICKET:  # the link
            self._breached_activated(index)

    def _breached_activated(self, index: QModelIndex) -> None:
        ticket_id = index.data(TICKET_ID_ROLE)
        if isinstance(ticket_id, int):
            self.ticketRequested.emit(ticket_id)

    # -- export -----------------------------------------------------------------------------

    def _file_stem(self) -> str:
        start = self.period()[0] if self.report is None else self.report.start
        local = start.astimezone(self.zone)
        return _("sla-compliance-{period}").format(period=f"{local:%Y-%m}")

    def export_csv(self, path: Path | None = None) -> Path | None:
        if self.report is None:
            return None
        if path is None:
            chosen, _filter = QFileDialog.getSaveFileName(
                self, _("Export to CSV"), f"{self._file_stem()}.csv", _("CSV files (*.csv)")
            )
            if not chosen:
                return None
            path = Path(chosen)
        write_csv(self.report, path, names=self.names(), zone=self.zone)
        return path

    def export_pdf(self, path: Path | None = None) -> Path | None:
        if self.report is None:
            return None
        if path is None:
            chosen, _filter = QFileDialog.getSaveFileName(
                self, _("Export to PDF"), f"{self._file_stem()}.pdf", _("PDF files (*.pdf)")
            )
            if not chosen:
                return None
            path = Path(chosen)
        write_pdf(
            self.report,
            path,
            zone=self.zone,
            team=self.team_name(),
            as_of=self.saved_at or self.report.generated_at,
        )
        return path


def compliance_report_view(
    cache: Cache,
    *,
    me: int | None,
    client: Callable[[], ApiClient | None],
    zone: dt.tzinfo,
    clock: Callable[[], dt.datetime],
    parent: QWidget | None = None,
) -> ReportView | None:
    """The report window of the signed-in user, or None when they lead no team.

    ``client`` gives the session's API client at the time of each fetch (None while
    signed out: the saved copy is shown)."""
    teams = led_teams(cache, me)
    if not teams:
        return None

    async def fetch(start: dt.datetime, end: dt.datetime, team: int | None) -> ComplianceReport:
        api = client()
        if api is None:
            raise Unreachable("not connected to a server")
        return await api.compliance_report(start, end, team)

    def names() -> Names:
        return Names(
            teams={team.id: team.name for team in cache.teams()},
            users={user.id: user.display_name for user in cache.users()},
        )

    return ReportView(
        fetch=fetch,
        saved=SavedReports(reports_folder(cache.path)),
        names=names,
        teams=teams,
        zone=zone,
        clock=clock,
        parent=parent,
    )


# -- PDF -----------------------------------------------------------------------------------


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
        _render_chart(chart, painter, QRectF(0, y, width, chart_height))
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
