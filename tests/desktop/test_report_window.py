"""The compliance report window over a fake server: fetching and keeping a copy, offline
and refused, its exports, its charts' tips, a language switch."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import re
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCharts import QBarSeries, QStackedBarSeries
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

import i18n
from desktop.models.report import BreachedColumn, BucketColumn, Dimension, SavedReports, month_range
from desktop.operations import Operations, Outcome, attempt
from desktop.views.report.charts import breach_tip, week_tip
from desktop.views.report.view import ReportView
from protocol import ComplianceReport
from sync.cache import Cache
from sync.client import RequestRefused, Unreachable
from sync.store import Store
from tests.clock import FakeClock
from tests.desktop.report_sample import NAMES, NOW, PARIS, TEAMS, pdf_text, sample_report


class FakeServer:
    """Answers report requests with :func:`sample_report`, or fails as told."""

    def __init__(self) -> None:
        self.asked: list[tuple[dt.datetime, dt.datetime, int | None]] = []
        self.failure: Exception | None = None

    async def __call__(
        self, start: dt.datetime, end: dt.datetime, team_id: int | None
    ) -> ComplianceReport:
        self.asked.append((start, end, team_id))
        if self.failure is not None:
            raise self.failure
        return sample_report(start, end)


def act(loop: asyncio.AbstractEventLoop, view: ReportView, action: Callable[[], object]) -> None:
    """Do what the user does (on the running loop, as in the console) and wait for the fetch."""

    async def acting() -> None:
        action()
        await view.wait_fetched()

    loop.run_until_complete(acting())


@pytest.fixture
def operations(cache: Cache) -> Operations:
    return Operations(Store(cache))


def _view(
    qtbot: QtBot,
    tmp_path: Path,
    server: FakeServer | None,
    clock: FakeClock,
    operations: Operations,
) -> ReportView:
    async def fetch(
        start: dt.datetime, end: dt.datetime, team: int | None
    ) -> Outcome[ComplianceReport]:
        assert server is not None
        return await attempt(lambda: server(start, end, team))  # what an online operation does

    view = ReportView(
        operations,
        fetch=None if server is None else fetch,
        saved=SavedReports(tmp_path / "reports"),
        names=lambda: NAMES,
        teams=TEAMS,
        zone=PARIS,
        clock=clock,
    )
    qtbot.addWidget(view)
    return view


def _loaded(
    qtbot: QtBot, tmp_path: Path, loop: asyncio.AbstractEventLoop, operations: Operations
) -> ReportView:
    """The window over a server that answers, the current month fetched."""
    view = _view(qtbot, tmp_path, FakeServer(), FakeClock(NOW), operations)
    loop.run_until_complete(view.load())
    return view


def test_the_window_fetches_the_current_month_and_keeps_a_copy(
    qtbot: QtBot,
    tmp_path: Path,
    loop: asyncio.AbstractEventLoop,
    operations: Operations,
) -> None:
    server = FakeServer()
    clock = FakeClock(NOW)
    view = _view(qtbot, tmp_path, server, clock, operations)
    loop.run_until_complete(view.load())
    november = month_range(2026, 11, PARIS)
    assert server.asked == [(*november, None)]
    assert view.title_label.text() == "SLA compliance — November 2026"
    assert view.status_label.text() == "All my teams · as of Nov 28, 2026, 11:00\u202fAM"
    assert [figure.value.text() for figure in view.figures] == ["20", "94.7%", "82.4%", "3"]
    assert view.tabs.tabText(len(Dimension)) == "Breached (3)"
    by_team = view.bucket_models[Dimension.TEAM]
    assert by_team.data(by_team.index(1, BucketColumn.GROUP)) == "N2"
    weekly = view.weekly_view.chart().series()[0]
    assert isinstance(weekly, QBarSeries)
    assert weekly.count() == 2  # response, resolution
    assert view.team_box.isVisibleTo(view)  # the lead of two teams picks one, or both

    # another team, a custom range
    act(loop, view, lambda: view.team_box.setCurrentIndex(view.team_box.findData(2)))
    assert server.asked[-1] == (*november, 2)
    act(loop, view, lambda: view.set_range(dt.date(2026, 11, 2), dt.date(2026, 11, 15)))
    start, end = server.asked[-1][:2]
    assert (start, end) == (
        dt.datetime(2026, 11, 2, tzinfo=PARIS),
        dt.datetime(2026, 11, 16, tzinfo=PARIS),
    )
    assert view.title_label.text() == "SLA compliance — Nov 2, 2026 – Nov 15, 2026"

    # a breached ticket's link opens it in the console
    opened: list[int] = []
    view.ticketRequested.connect(opened.append)
    view.tabs.setCurrentIndex(len(Dimension))
    view.show()
    table = view.breached_table
    rect = table.visualRect(view.breached_model.index(0, BreachedColumn.TICKET))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())  # type: ignore[no-untyped-call]
    assert opened == [13]


def test_offline_the_last_copy_shows_with_its_date(
    qtbot: QtBot,
    tmp_path: Path,
    loop: asyncio.AbstractEventLoop,
    operations: Operations,
) -> None:
    server = FakeServer()
    clock = FakeClock(NOW - dt.timedelta(days=1))
    view = _view(qtbot, tmp_path, server, clock, operations)
    loop.run_until_complete(view.load())  # fetched on the 27th
    saved = next((tmp_path / "reports").iterdir())
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600

    server.failure = Unreachable("connection refused")
    clock.now = NOW
    later = _view(qtbot, tmp_path, server, clock, operations)
    loop.run_until_complete(later.load())
    assert later.report == sample_report()
    assert later.saved_at == NOW - dt.timedelta(days=1)
    assert later.status_label.text() == (
        "Offline: showing the copy fetched on Nov 27, 2026, 11:00\u202fAM."
    )
    assert later.content.isVisibleTo(later)
    assert later.csv_button.isEnabled()
    assert [figure.value.text() for figure in later.figures][1] == "94.7%"

    # a month never fetched: a clear message, nothing to export
    act(loop, later, lambda: later.set_month(2026, 10))
    assert later.report is None
    assert not later.csv_button.isEnabled()
    assert not later.content.isVisibleTo(later)
    assert later.message_label.text().startswith("No copy of this report yet.")
    assert later.title_label.text() == "SLA compliance — October 2026"


def test_an_agent_is_told_the_server_refuses(
    qtbot: QtBot,
    tmp_path: Path,
    loop: asyncio.AbstractEventLoop,
    operations: Operations,
) -> None:
    server = FakeServer()
    server.failure = RequestRefused(
        "HTTP 403 forbidden", status=403, code="forbidden", reason="Only team leads."
    )
    view = _view(qtbot, tmp_path, server, FakeClock(NOW), operations)
    loop.run_until_complete(view.load())
    assert view.report is None
    assert view.message_label.text() == server.failure.message
    assert not list((tmp_path).glob("reports/*"))


def test_the_window_exports_csv_and_pdf(
    qtbot: QtBot,
    tmp_path: Path,
    loop: asyncio.AbstractEventLoop,
    operations: Operations,
) -> None:
    i18n.set_language("fr")
    view = _loaded(qtbot, tmp_path, loop, operations)
    assert view.title_label.text() == "Conformité SLA — Novembre 2026"
    csv_path = view.export_csv(tmp_path / "rapport.csv")
    pdf_path = view.export_pdf(tmp_path / "rapport.pdf")
    assert csv_path is not None
    assert pdf_path is not None
    with csv_path.open(encoding="utf-8-sig", newline="") as handle:
        assert next(csv.reader(handle)) == ["Conformité SLA", "Novembre 2026"]
    pages, text = pdf_text(pdf_path.read_bytes())
    assert pages == 1
    assert "Novembre 2026" in re.sub(r"[\t\xa0\u202f]", " ", text)


def test_the_window_follows_a_language_switch(
    qtbot: QtBot,
    tmp_path: Path,
    loop: asyncio.AbstractEventLoop,
    operations: Operations,
) -> None:
    view = _loaded(qtbot, tmp_path, loop, operations)
    i18n.set_language("fr")
    view.retranslate()
    assert view.title_label.text() == "Conformité SLA — Novembre 2026"
    assert view.status_label.text() == "Toutes mes équipes · au 28 nov. 2026 11:00"
    assert view.figures[1].value.text() == "94,7\xa0%"
    assert view.tabs.tabText(0) == "Par priorité"
    assert view.period_box.currentText() == "Mois"
    priorities = view.bucket_models[Dimension.PRIORITY]
    assert priorities.data(priorities.index(0, BucketColumn.GROUP)) == "P1 Critique"
    assert priorities.headerData(BucketColumn.RESPONSE_RATE, Qt.Orientation.Horizontal) == (
        "Réponse\ndans l’objectif"
    )


def test_the_charts_say_their_figures_under_the_mouse(
    qtbot: QtBot,
    tmp_path: Path,
    loop: asyncio.AbstractEventLoop,
    operations: Operations,
) -> None:
    view = _loaded(qtbot, tmp_path, loop, operations)
    assert week_tip(view.report, 1) == (
        "Week of 2 November: 6 tickets\n"
        "First responses within target: 83.3%\n"
        "Resolutions within target: 50.0%"
    )
    nothing_yet = week_tip(view.report, 3)  # a week with nothing to measure yet
    assert nothing_yet.endswith("Resolutions within target: –")
    breaches = view.breaches_view.chart().series()[0]
    assert isinstance(breaches, QStackedBarSeries)
    blocking, _major, minor = breaches.barSets()
    assert breach_tip(view.report, 0, blocking) == "P1 Critical · Blocking: 2 tickets breached"
    assert breach_tip(view.report, 2, minor) == "P3 Normal · Minor: 1 ticket breached"
    assert breach_tip(view.report, 1) == "P2 High: 0 tickets breached"
