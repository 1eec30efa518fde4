"""The compliance report in the console: fetched by a lead from the real server and
kept for offline, offered in the main window to leads only, opened from the command line
and screenshotted by the demo."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from desktop.models.report import Dimension, reports_folder
from desktop.operations import Operations
from desktop.views.main_window import MainWindow
from desktop.views.report.view import compliance_report_view
from sync.cache import Cache, utc_now
from sync.client import ApiClient, RetryPolicy
from sync.engine import SyncEngine
from sync.store import Store
from tests.clock import FakeClock
from tests.desktop.conftest import Feed, demo_screenshot, load
from tests.desktop.report_sample import PARIS
from tests.sync.live_server import PASSWORD, LiveServer

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


# -- in the main window ----------------------------------------------------------------------------


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


@pytest.mark.slow
def test_the_demo_screenshots_the_report_as_its_team_lead(tmp_path: Path) -> None:
    target = tmp_path / "report.png"
    environment = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = demo_screenshot(target, "--view", "report", env=environment, timeout=180)
    assert result.returncode == 0, result.stderr
    image = QImage(str(target))
    assert not image.isNull()
    # the report window (not the main window), with the demo's figures: not the
    # "no copy" message, which would leave the tables out
    assert (image.width(), image.height()) == (1240, 860)
    assert "Traceback" not in result.stderr
