"""The SLA compliance report window (team leads and admins): figures, charts, tables, export.

:class:`ReportView` asks the server for the report of a month (the current one by
default) or of a custom range, for one team or all the user's teams, as an online
operation (:mod:`desktop.operations`) on the asyncio loop, so the window never blocks.
Each fetched report is kept beside the cache (:class:`~desktop.models.report.SavedReports`);
offline, the last copy is shown with its date.  The report exports to CSV (every
figure) and to a one-page A4 PDF summary with both charts
(:func:`~desktop.views.report.pdf.write_pdf`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from PySide6.QtCharts import QAbstractBarSeries, QChartView
from PySide6.QtCore import QDate, QLocale, QModelIndex, Qt, Signal
from PySide6.QtGui import QCloseEvent, QCursor, QPainter
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QFileDialog,
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
    month_range,
    period_title,
    reports_folder,
    write_csv,
)
from desktop.models.workload import led_teams
from desktop.operations import Cache, Operations, Outcome, Trouble
from desktop.views.report.charts import breach_tip, breaches_chart, week_tip, weekly_chart
from desktop.views.report.figures import KeyFigure, breached_tickets, key_figures
from desktop.views.report.pdf import write_pdf
from desktop.views.tables import records_table
from desktop.views.widgets import scaled
from i18n import _, ngettext
from protocol import ComplianceReport, TeamOut

__all__ = ["Fetch", "ReportView", "compliance_report_view"]

#: Fetch a report: (start, end, team id or None for all the user's teams), as an online
#: operation's outcome.
Fetch = Callable[[dt.datetime, dt.datetime, int | None], Awaitable[Outcome[ComplianceReport]]]


class ReportView(QWidget):
    """SLA compliance of a month or a range, for one team or all the user's teams."""

    #: the user clicked a breached ticket: open it in the console
    ticketRequested = Signal(int)
    #: a report (fresh or saved) or a message is shown
    reportShown = Signal()

    def __init__(
        self,
        operations: Operations,
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
        self.operations = operations
        self.fetch = fetch
        self.saved = saved
        self.names = names
        self.teams = list(teams)
        self.zone = zone
        self.clock = clock
        self.report: ComplianceReport | None = None
        #: when the shown report was fetched, if it is a saved copy (offline)
        self.saved_at: dt.datetime | None = None
        #: why the shown copy is not fresh, when the server could not give a fresh one
        self._problem: Outcome[ComplianceReport] | None = None
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
        scaled(self.title_label, 1.6, bold=True)
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
        scaled(self.message_label, 1.2)
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
            assert isinstance(first, dt.date)
            assert isinstance(last, dt.date)
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
        if self.fetch is not None and self.operations.start(self.load(), owner=self) is not None:
            return
        self._generation += 1  # no loop running, or nothing to fetch with
        self._show_saved(None)

    async def wait_fetched(self) -> None:
        """Until the fetches under way (if any) are over."""
        await self.operations.wait(self)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.operations.cancel(self)  # the window goes: nothing left to show answers in
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
        outcome = await self.fetch(start, end, team)
        if generation != self._generation:
            return
        report = outcome.value
        if report is None:
            if outcome.trouble is Trouble.REFUSED:  # not this user's to see: no copy either
                self._show(None, message=outcome.message)
            else:
                self._show_saved(outcome)
            return
        fetched_at = self.clock()
        with contextlib.suppress(OSError):  # a copy we cannot keep is no reason not to show it
            self.saved.save(report, fetched_at, team)
        self._show(report)

    def _show_saved(self, problem: Outcome[ComplianceReport] | None) -> None:
        """The last fetched copy of the period's report, or why there is none (no
        ``problem``: nothing to fetch with)."""
        start, end = self.period()
        copy = self.saved.load(start, end, self.team_id())
        offline = problem is None or problem.trouble is Trouble.OFFLINE
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
        problem: Outcome[ComplianceReport] | None = None,
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
            (self.weekly_view, weekly_chart(report), week_tip),
            (self.breaches_view, breaches_chart(report), breach_tip),
        ):
            old = view.chart()
            view.setChart(chart)
            if old is not None:
                old.deleteLater()
            for series in chart.series():
                if isinstance(series, QAbstractBarSeries):
                    series.hovered.connect(
                        lambda status, index, bar, tip=tip: self._hovered(
                            status, tip(self.report, index, bar)
                        )
                    )
        self.reportShown.emit()

    # -- what the charts say under the mouse --------------------------------------------

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

    def _export_path(self, caption: str, suffix: str, files: str) -> Path | None:
        """Where the user chooses to save the export (None: they cancelled)."""
        chosen, _filter = QFileDialog.getSaveFileName(
            self, caption, f"{self._file_stem()}{suffix}", files
        )
        return Path(chosen) if chosen else None

    def export_csv(self, path: Path | None = None) -> Path | None:
        if self.report is None:
            return None
        if path is None:
            path = self._export_path(_("Export to CSV"), ".csv", _("CSV files (*.csv)"))
            if path is None:
                return None
        write_csv(self.report, path, names=self.names(), zone=self.zone)
        return path

    def export_pdf(self, path: Path | None = None) -> Path | None:
        if self.report is None:
            return None
        if path is None:
            path = self._export_path(_("Export to PDF"), ".pdf", _("PDF files (*.pdf)"))
            if path is None:
                return None
        write_pdf(
            self.report,
            path,
            zone=self.zone,
            team=self.team_name(),
            as_of=self.saved_at or self.report.generated_at,
        )
        return path


def compliance_report_view(
    operations: Operations,
    *,
    me: int | None,
    zone: dt.tzinfo,
    clock: Callable[[], dt.datetime],
    parent: QWidget | None = None,
) -> ReportView | None:
    """The report window of the signed-in user, or None when they lead no team.

    Each fetch goes through the session of the time (none, while signed out: the
    saved copy is shown)."""
    cache: Cache = operations.cache
    teams = led_teams(cache, me)
    if not teams:
        return None

    async def fetch(
        start: dt.datetime, end: dt.datetime, team: int | None
    ) -> Outcome[ComplianceReport]:
        return await operations.online(lambda client: client.compliance_report(start, end, team))

    def names() -> Names:
        return Names(
            teams={team.id: team.name for team in cache.teams()},
            users={user.id: user.display_name for user in cache.users()},
        )

    return ReportView(
        operations,
        fetch=fetch,
        saved=SavedReports(reports_folder(cache.path)),
        names=names,
        teams=teams,
        zone=zone,
        clock=clock,
        parent=parent,
    )
