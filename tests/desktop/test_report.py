"""The compliance report window: its tables, charts, saved copies, CSV and PDF exports."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import os
import re
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import qasync  # type: ignore[import-untyped]
from pypdf import PdfReader
from PySide6.QtCharts import QBarSeries, QStackedBarSeries
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

import i18n
from desktop.models.report import (
    RATE_ROLE,
    BreachedColumn,
    BreachedModel,
    BucketColumn,
    BucketModel,
    Dimension,
    Names,
    SavedReports,
    format_duration,
    format_rate,
    month_range,
    period_title,
    reports_folder,
    write_csv,
)
from desktop.operations import Operations, Outcome, attempt
from desktop.views.main_window import MainWindow
from desktop.views.report.charts import breach_tip, week_tip
from desktop.views.report.pdf import write_pdf
from desktop.views.report.view import ReportView, compliance_report_view
from protocol import (
    BreachCount,
    BreachedTicket,
    ComplianceBucket,
    ComplianceReport,
    ComplianceWeek,
    TeamOut,
)
from sync.cache import Cache, utc_now
from sync.client import ApiClient, RequestRefused, RetryPolicy, Unreachable
from sync.engine import SyncEngine
from sync.store import Store
from tests.clock import FakeClock
from tests.desktop.conftest import Feed, load
from tests.sync.live_server import PASSWORD, LiveServer

PARIS = ZoneInfo("Europe/Paris")
#: Saturday 28 November 2026, 11:00 in Paris.
NOW = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)
TEAMS = [
    TeamOut(id=1, name="Support N1", member_ids=[5, 6]),
    TeamOut(id=2, name="N2", member_ids=[7]),
]
NAMES = Names(teams={1: "Support N1", 2: "N2"}, users={5: "Camille Durand", 6: "Bob Lefèvre"})


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    i18n.set_language("en")
    yield
    i18n.set_language("en")


def bucket(key: str, label: str = "", **figures: Any) -> ComplianceBucket:
    values: dict[str, Any] = {
        "response_met": 0,
        "response_missed": 0,
        "response_open": 0,
        "resolution_met": 0,
        "resolution_missed": 0,
        "resolution_open": 0,
        "response_mean_seconds": None,
        "response_p90_seconds": None,
        "resolution_mean_seconds": None,
        "resolution_p90_seconds": None,
    }
    values.update(figures)
    for clock in ("response", "resolution"):
        met, missed = values[f"{clock}_met"], values[f"{clock}_missed"]
        values[f"{clock}_rate"] = met / (met + missed) if met + missed else None
    return ComplianceBucket(key=key, label=label, **values)


def sample_report(
    start: dt.datetime | None = None, end: dt.datetime | None = None
) -> ComplianceReport:
    """November 2026 of two teams: 20 tickets, a few late."""
    first, following = month_range(2026, 11, PARIS)
    start = start or first
    end = end or following
    p1 = bucket(
        "P1",
        response_met=3,
        response_missed=1,
        resolution_met=2,
        resolution_missed=2,
        response_mean_seconds=1500,
        response_p90_seconds=3300,
        resolution_mean_seconds=4 * 3600,
        resolution_p90_seconds=7 * 3600 + 1800,
    )
    p3 = bucket(
        "P3",
        response_met=15,
        response_open=1,
        resolution_met=12,
        resolution_missed=1,
        resolution_open=3,
        response_mean_seconds=2 * 3600,
        response_p90_seconds=5 * 3600,
        resolution_mean_seconds=20 * 3600,
        resolution_p90_seconds=31 * 3600 + 300,
    )
    total = bucket(
        "all",
        response_met=18,
        response_missed=1,
        response_open=1,
        resolution_met=14,
        resolution_missed=3,
        resolution_open=3,
        response_mean_seconds=6000,
        response_p90_seconds=4 * 3600 + 900,
        resolution_mean_seconds=18 * 3600,
        resolution_p90_seconds=30 * 3600,
    )
    severities = [
        bucket(
            "blocking", response_met=2, response_missed=1, resolution_met=1, resolution_missed=2
        ),
        bucket("minor", response_met=16, response_open=1, resolution_met=13, resolution_missed=1),
    ]
    plans = [bucket("enterprise", "Enterprise", response_met=18, response_missed=1)]
    teams = [
        bucket("1", "Support N1", response_met=12, resolution_met=10, resolution_missed=1),
        bucket("2", "N2", response_met=6, response_missed=1, resolution_met=4, resolution_missed=2),
    ]
    agents = [
        bucket("5", "Camille Durand", response_met=10, resolution_met=9),
        bucket("6", "Bob Lefèvre", response_met=8, response_missed=1, resolution_missed=3),
        bucket("none", "", response_open=1),
    ]
    weeks = [
        ComplianceWeek(
            week_start=dt.date(2026, 10, 26), tickets=3, response_rate=1.0, resolution_rate=1.0
        ),
        ComplianceWeek(
            week_start=dt.date(2026, 11, 2), tickets=6, response_rate=5 / 6, resolution_rate=0.5
        ),
        ComplianceWeek(
            week_start=dt.date(2026, 11, 9), tickets=5, response_rate=1.0, resolution_rate=0.8
        ),
        ComplianceWeek(
            week_start=dt.date(2026, 11, 16), tickets=4, response_rate=1.0, resolution_rate=None
        ),
        ComplianceWeek(
            week_start=dt.date(2026, 11, 23), tickets=2, response_rate=None, resolution_rate=None
        ),
    ]
    breached = [
        BreachedTicket(
            id=11,
            number="INC-2026-000011",
            subject="Payroll export fails",
            priority="P1",
            severity="blocking",
            team_id=1,
            assignee_id=5,
            clock="resolution",
            due_at=dt.datetime(2026, 11, 4, 16, 0, tzinfo=dt.UTC),
            overdue_seconds=2 * 3600 + 600,
        ),
        BreachedTicket(
            id=12,
            number="INC-2026-000012",
            subject="Réseau lent, « urgent »",
            priority="P1",
            severity="blocking",
            team_id=2,
            assignee_id=None,
            clock="response",
            due_at=dt.datetime(2026, 11, 5, 9, 30, tzinfo=dt.UTC),
            overdue_seconds=45 * 60,
        ),
        BreachedTicket(
            id=13,
            number="INC-2026-000013",
            subject="Printer offline",
            priority="P3",
            severity="minor",
            team_id=1,
            assignee_id=6,
            clock="resolution",
            due_at=dt.datetime(2026, 11, 20, 17, 0, tzinfo=dt.UTC),
            overdue_seconds=26 * 3600,
        ),
    ]
    return ComplianceReport(
        start=start,
        end=end,
        generated_at=NOW,
        team_id=None,
        total=total,
        by_priority=[p1, p3],
        by_severity=severities,
        by_plan=plans,
        by_team=teams,
        by_agent=agents,
        weeks=weeks,
        breaches=[
            BreachCount(priority="P1", severity="blocking", count=2),
            BreachCount(priority="P3", severity="minor", count=1),
        ],
        breached=breached,
    )


# -- the tables ---------------------------------------------------------------------------------


def test_bucket_models_show_the_reports_figures(qtmodeltester: ModelTester) -> None:
    report = sample_report()
    for dimension in Dimension:
        model = BucketModel(dimension)
        model.set_report(report)
        qtmodeltester.check(model, force_py=True)  # type: ignore[no-untyped-call]
        buckets = [*dimension.buckets(report), report.total]
        assert model.rowCount() == len(buckets)
        for row, expected in enumerate(buckets):

            def shown(column: BucketColumn, row: int = row, model: BucketModel = model) -> Any:
                return model.data(model.index(row, column))

            assert shown(BucketColumn.RESPONSE_MET) == str(expected.response_met)
            assert shown(BucketColumn.RESPONSE_MISSED) == str(expected.response_missed)
            assert shown(BucketColumn.RESPONSE_OPEN) == str(expected.response_open)
            assert shown(BucketColumn.RESOLUTION_MET) == str(expected.resolution_met)
            assert shown(BucketColumn.RESOLUTION_MISSED) == str(expected.resolution_missed)
            assert shown(BucketColumn.RESOLUTION_OPEN) == str(expected.resolution_open)
            assert model.data(model.index(row, BucketColumn.RESPONSE_RATE), RATE_ROLE) == (
                expected.response_rate
            )
            assert shown(BucketColumn.RESOLUTION_RATE) == format_rate(expected.resolution_rate)
            assert shown(BucketColumn.RESOLUTION_P90) == format_duration(
                expected.resolution_p90_seconds
            )

    by_priority = BucketModel(Dimension.PRIORITY)
    by_priority.set_report(report)
    rows = [by_priority.data(by_priority.index(r, BucketColumn.GROUP)) for r in range(3)]
    assert rows == ["P1 Critical", "P3 Normal", "All tickets"]
    p1 = by_priority.index(0, BucketColumn.RESPONSE_RATE)
    assert by_priority.data(p1) == "75.0%"
    assert by_priority.data(p1, Qt.ItemDataRole.ToolTipRole) == "3 of 4 within target"
    assert by_priority.data(by_priority.index(0, BucketColumn.RESPONSE_MEAN)) == "25 min"
    assert by_priority.data(by_priority.index(1, BucketColumn.RESOLUTION_P90)) == "31 h 05 min"

    # sorting by a column keeps the total last
    by_priority.sort(BucketColumn.RESOLUTION_RATE, Qt.SortOrder.DescendingOrder)
    rows = [by_priority.data(by_priority.index(r, BucketColumn.GROUP)) for r in range(3)]
    assert rows == ["P3 Normal", "P1 Critical", "All tickets"]
    qtmodeltester.check(by_priority, force_py=True)  # type: ignore[no-untyped-call]


def test_codes_and_rates_follow_the_language() -> None:
    report = sample_report()
    i18n.set_language("fr")
    model = BucketModel(Dimension.SEVERITY)
    model.set_report(report)
    assert model.data(model.index(0, BucketColumn.GROUP)) == "Bloquant"
    assert model.data(model.index(2, BucketColumn.GROUP)) == "Tous les tickets"
    assert model.data(model.index(0, BucketColumn.RESPONSE_RATE)) == "66,7\xa0%"
    assert period_title(report.start, report.end, PARIS) == "Novembre 2026"
    agents = BucketModel(Dimension.AGENT)
    agents.set_report(report)
    assert agents.data(agents.index(2, BucketColumn.GROUP)) == "Non assignés"


def test_breached_list(qtmodeltester: ModelTester) -> None:
    model = BreachedModel(lambda: PARIS, lambda: NAMES)
    model.set_report(sample_report())
    qtmodeltester.check(model, force_py=True)  # type: ignore[no-untyped-call]
    numbers = [model.data(model.index(r, BreachedColumn.TICKET)) for r in range(3)]
    assert numbers == [
        "INC-2026-000013",
        "INC-2026-000011",
        "INC-2026-000012",
    ]  # most overdue first
    assert model.data(model.index(0, BreachedColumn.OVERDUE)) == "26 h 00 min"
    assert model.data(model.index(0, BreachedColumn.ASSIGNEE)) == "Bob Lefèvre"
    assert model.data(model.index(2, BreachedColumn.ASSIGNEE)) == "Unassigned"
    assert model.data(model.index(2, BreachedColumn.TEAM)) == "N2"
    assert model.data(model.index(2, BreachedColumn.CLOCK)) == "First response"
    assert model.data(model.index(1, BreachedColumn.DUE)) == "Nov 4, 5:00\u202fPM"
    model.sort(BreachedColumn.PRIORITY)
    assert model.data(model.index(2, BreachedColumn.TICKET)) == "INC-2026-000013"
    qtmodeltester.check(model, force_py=True)  # type: ignore[no-untyped-call]


def test_period_titles() -> None:
    start, end = month_range(2026, 12, PARIS)
    assert (start.isoformat(), end.isoformat()) == (
        "2026-12-01T00:00:00+01:00",
        "2027-01-01T00:00:00+01:00",
    )
    assert period_title(start, end, PARIS) == "December 2026"
    partial = dt.datetime(2026, 12, 16, tzinfo=PARIS)
    assert period_title(start, partial, PARIS) == "Dec 1, 2026 – Dec 15, 2026"


# -- saved copies, CSV, PDF ---------------------------------------------------------------------


def test_saved_copy_is_private_and_round_trips(tmp_path: Path) -> None:
    saved = SavedReports(reports_folder(tmp_path / "cache.sqlite3"))
    report = sample_report()
    path = saved.save(report, NOW, None)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.parent == tmp_path / "cache.reports"
    copy = saved.load(report.start, report.end, None)
    assert copy is not None
    assert copy.report == report
    assert copy.fetched_at == NOW
    assert saved.load(report.start, report.end, 2) is None  # another team: another report
    path.write_text("{not json")
    assert saved.load(report.start, report.end, None) is None


def test_csv_round_trip(tmp_path: Path) -> None:
    report = sample_report()
    path = tmp_path / "report.csv"
    i18n.set_language("fr")  # numbers stay locale-independent
    write_csv(report, path, names=NAMES, zone=PARIS)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # a BOM, for Excel
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["Conformité SLA", "Novembre 2026"]
    header = next(i for i, row in enumerate(rows) if row[:2] == ["Ventilation", "Clé"])
    buckets = {(row[0], row[1]): row for row in rows[header + 1 :] if len(row) > 3}
    for dimension in Dimension:
        for expected in dimension.buckets(report):
            row = buckets[(dimension.value, expected.key)]
            assert int(row[3]) == expected.response_met
            assert int(row[4]) == expected.response_missed
            assert int(row[5]) == expected.response_open
            if expected.response_rate is None:
                assert row[6] == ""
            else:
                assert float(row[6]) == pytest.approx(expected.response_rate, abs=1e-4)
            assert int(row[9]) == expected.resolution_met
            assert int(row[10]) == expected.resolution_missed
            assert int(row[11]) == expected.resolution_open
    total = buckets[("total", "all")]
    assert float(total[7]) == report.total.response_mean_seconds
    assert float(total[14]) == report.total.resolution_p90_seconds
    breached_header = next(i for i, row in enumerate(rows) if row and row[0] == "Ticket")
    breached = rows[breached_header + 1 :]
    assert {row[0] for row in breached} == {t.number for t in report.breached}
    by_number = {row[0]: row for row in breached}
    assert by_number["INC-2026-000012"][1] == "Réseau lent, « urgent »"
    assert float(by_number["INC-2026-000013"][6]) == 26 * 3600
    assert by_number["INC-2026-000011"][8] == "Camille Durand"


def _pdf_text(data: bytes) -> tuple[int, str]:
    """Pages of a PDF and the text it draws, as a reader extracts it."""
    document = PdfReader(io.BytesIO(data))
    return len(document.pages), "".join(page.extract_text() for page in document.pages)


@pytest.mark.parametrize(("language", "title"), [("en", "November 2026"), ("fr", "Novembre 2026")])
def test_pdf_is_one_page_with_the_months_title(
    qapp: QApplication, tmp_path: Path, language: str, title: str
) -> None:
    i18n.set_language(language)
    path = tmp_path / "report.pdf"
    write_pdf(sample_report(), path, zone=PARIS, team="Support N1")
    data = path.read_bytes()
    assert data.startswith(b"%PDF")
    pages, text = _pdf_text(data)
    assert pages == 1
    assert title in re.sub(r"[\t\xa0\u202f]", " ", text)


# -- the window -----------------------------------------------------------------------------------


@pytest.fixture
def loop(qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    event_loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(event_loop)
    yield event_loop
    event_loop.run_until_complete(event_loop.shutdown_asyncgens())
    event_loop.close()
    asyncio.set_event_loop(None)


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
    view = _view(qtbot, tmp_path, FakeServer(), FakeClock(NOW), operations)
    loop.run_until_complete(view.load())
    assert view.title_label.text() == "Conformité SLA — Novembre 2026"
    csv_path = view.export_csv(tmp_path / "rapport.csv")
    pdf_path = view.export_pdf(tmp_path / "rapport.pdf")
    assert csv_path is not None
    assert pdf_path is not None
    with csv_path.open(encoding="utf-8-sig", newline="") as handle:
        assert next(csv.reader(handle)) == ["Conformité SLA", "Novembre 2026"]
    pages, text = _pdf_text(pdf_path.read_bytes())
    assert pages == 1
    assert "Novembre 2026" in re.sub(r"[\t\xa0\u202f]", " ", text)


# -- end to end, with the real server -------------------------------------------------------------


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer.create(tmp_path)
    server.start()
    yield server
    server.close()


# The end-to-end scenarios run in one pass of the loop: qasync does not wake a pooled
# keep-alive connection up again in a later ``run_until_complete``.


def test_a_lead_fetches_the_report_from_the_server_and_keeps_it_for_offline(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop, tmp_path: Path, live: LiveServer
) -> None:
    live.open_ticket("Printer on fire", assignee_id=live.ids["alice"])
    live.open_ticket("Scanner jammed", priority="P1", severity="blocking")
    cache = Cache.open(tmp_path / "cache.sqlite3")
    api = ApiClient(live.url, retry=RetryPolicy(attempts=1))

    async def scenario() -> None:
        await api.login("lead", PASSWORD)
        me = await api.me()
        store = Store(cache, user_id=me.id)
        store.apply_page(await api.changes(None, limit=1000))
        operations = Operations(store)  # the session's: its engine's client asks the server
        operations.attach_engine(SyncEngine(store, api, live=False, offload=False))
        view = compliance_report_view(operations, me=me.id, zone=PARIS, clock=utc_now)
        assert view is not None
        qtbot.addWidget(view)
        # around today (whatever the month), when the server's tickets were created
        today = dt.datetime.now(PARIS).date()
        view.set_range(today - dt.timedelta(days=1), today)
        await view.wait_fetched()
        report = view.report
        assert report is not None
        assert view.saved_at is None
        assert view.status_label.text().startswith("Support · as of ")
        total = report.total
        assert total.response_met + total.response_missed + total.response_open == 2
        assert total.response_open == 2  # nobody answered yet, the targets are hours away
        priorities = view.bucket_models[Dimension.PRIORITY]
        shown = {priorities.data(priorities.index(r, 0)) for r in range(priorities.rowCount())}
        assert shown == {"P1 Critical", "P2 High", "All tickets"}
        assert view.figures[0].value.text() == "2"
        assert not view.team_box.isVisibleTo(view)  # one team: nothing to pick
        saved = next(reports_folder(cache.path).iterdir())
        assert stat.S_IMODE(saved.stat().st_mode) == 0o600

        live.stop()
        view.refresh()
        await view.wait_fetched()
        assert view.report == report
        assert view.saved_at is not None
        assert view.status_label.text().startswith("Offline: showing the copy fetched on ")
        live.start()
        await api.aclose()

    try:
        loop.run_until_complete(scenario())
    finally:
        cache.close()
    refused = httpx.get(
        f"{live.url}/api/v1/reports/compliance",
        params={"month": "2026-11"},
        headers={"Authorization": f"Bearer {live.token('alice')}"},
    )
    assert refused.status_code == 403  # an agent's crafted request


# -- in the main window -------------------------------------------------------------------------


def _team_menu_shown(window: MainWindow) -> bool:
    action = window.team.menu.menuAction()
    return action in window.menuBar().actions() and action.isVisible()


def _lead(feed: Feed) -> None:
    feed.add(
        "user",
        3,
        {
            "id": 3,
            "username": "sophie",
            "display_name": "Sophie Martin",
            "email": "3@example.com",
            "role": "team_lead",
            "active": True,
            "team_ids": [1],
        },
    )


@pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")  # offscreen
def test_the_main_window_offers_the_report_to_leads_only(
    qtbot: QtBot, cache: Cache, feed: Feed, clock: FakeClock
) -> None:
    _lead(feed)
    feed.ticket(7, created=clock.now - dt.timedelta(hours=2), subject="Late reply")
    load(cache, feed)
    agent = MainWindow(cache, me=1, clock=clock)
    qtbot.addWidget(agent)
    agent.reload()
    assert agent.show_compliance_report() is None
    assert not _team_menu_shown(agent)

    lead = MainWindow(cache, me=3, clock=clock)
    qtbot.addWidget(lead)
    lead.reload()
    assert _team_menu_shown(lead)
    assert lead.report_action in lead.team.menu.actions()
    assert lead.report_action.text() == "&Compliance report…"
    view = lead.show_compliance_report()
    assert view is not None
    assert view.isVisible()
    assert lead.show_compliance_report() is view  # one window, raised again
    # not connected, nothing fetched before: said so
    assert view.message_label.text().startswith("No copy of this report yet.")
    assert view.title_label.text() == "SLA compliance — March 2026"  # the clock's month
    view.ticketRequested.emit(7)  # a breached ticket's link
    assert lead.workspace.ticket_id == 7


def test_the_command_line_opens_the_report_view(monkeypatch: pytest.MonkeyPatch) -> None:
    import desktop.__main__ as command
    import desktop.app

    asked: dict[str, Any] = {}
    monkeypatch.setattr(desktop.app, "run", lambda **options: asked.update(options) or 0)
    assert command.main(["--demo", "--screenshot", "x.png", "--view", "report"]) == 0
    assert asked["view"] == "report"
    assert asked["demo"]
    assert asked["screenshot"] == Path("x.png")
    assert command.main(["--demo"]) == 0
    assert asked["view"] == "queue"


def test_the_window_follows_a_language_switch(
    qtbot: QtBot,
    tmp_path: Path,
    loop: asyncio.AbstractEventLoop,
    operations: Operations,
) -> None:
    view = _view(qtbot, tmp_path, FakeServer(), FakeClock(NOW), operations)
    loop.run_until_complete(view.load())
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


@pytest.mark.slow
def test_the_demo_screenshots_the_report_as_its_team_lead(tmp_path: Path) -> None:
    target = tmp_path / "report.png"
    environment = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "desktop",
            "--demo",
            "--screenshot",
            str(target),
            "--view",
            "report",
        ],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        env=environment,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    image = QImage(str(target))
    assert not image.isNull()
    # the report window (not the main window), with the demo's figures: not the
    # "no copy" message, which would leave the tables out
    assert (image.width(), image.height()) == (1240, 860)
    assert "Traceback" not in result.stderr


def test_the_charts_say_their_figures_under_the_mouse(
    qtbot: QtBot,
    tmp_path: Path,
    loop: asyncio.AbstractEventLoop,
    operations: Operations,
) -> None:
    view = _view(qtbot, tmp_path, FakeServer(), FakeClock(NOW), operations)
    loop.run_until_complete(view.load())
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
