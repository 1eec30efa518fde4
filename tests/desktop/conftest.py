"""Fixtures of the console tests: offscreen Qt, a clock the test moves, a cache of tickets,
the queue and the main window over it, an asyncio loop on Qt's and a live server."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import itertools
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
import qasync  # type: ignore[import-untyped]
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.demo_data import seed_demo
from desktop.models.queue import QueueModel
from desktop.qt_language import use_language
from desktop.views.main_window import MainWindow
from protocol.pages import PageBuilder
from sync.cache import Cache
from sync.store import Store
from tests.caches import cache as cache
from tests.clock import FakeClock as FakeClock
from tests.sync.live_server import LiveServer

#: Wednesday 4 March 2026, 10:00 in Paris: the calendar is open.
T0 = dt.datetime(2026, 3, 4, 9, 0, tzinfo=dt.UTC)
MIN = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)
MONDAY_9 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)  # 09:00 in Paris
TUESDAY_10 = dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC)
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # the offscreen platform says it cannot propagate size hints whenever a window shows
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.qt_log_ignore("propagateSizeHints"))


@pytest.fixture(autouse=True)
def _collect_qt_garbage(qapp: QApplication) -> Iterator[None]:
    """The application exists before any model (their timers need its event loop, even
    in a test run alone), and each test's windows are freed on the main thread: Python's
    collector may otherwise run later on a server thread, and Qt objects with timers
    must not die there."""
    yield
    use_language("en")  # Qt's own strings too, whatever language the test left
    gc.collect()


def demo_screenshot(
    target: Path, *options: str, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """``offimizer-console --demo --screenshot target`` (and ``options``) run in a process
    of its own, as a user would; what it wrote on its error stream is kept."""
    return subprocess.run(
        [sys.executable, "-m", "desktop", "--demo", "--screenshot", str(target), *options],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=timeout,
        check=False,
    )


_ids = itertools.count(1)


class Feed(PageBuilder):
    """Builds one page of the change feed: organisations, agents, tickets and histories."""

    def __init__(self) -> None:
        super().__init__(numbers=_ids)  # history ids come from the same numbers
        self.add("organisation", 1, {"id": 1, "name": "Banque Mirabeau", "plan": "enterprise"})
        self.add("organisation", 2, {"id": 2, "name": "Atelier Lumen", "plan": "business"})
        self.add("team", 1, {"id": 1, "name": "Service desk", "member_ids": [1, 2]})
        for user_id, name in ((1, "Camille Durand"), (2, "Bob Lefèvre")):
            self.add(
                "user",
                user_id,
                {
                    "id": user_id,
                    "username": name.split()[0].lower(),
                    "display_name": name,
                    "email": f"{user_id}@example.com",
                    "role": "agent",
                    "active": True,
                    "team_ids": [1],
                },
            )

    def ticket(
        self,
        ticket_id: int,
        *,
        created: dt.datetime,
        priority: str = "P3",
        severity: str = "minor",
        status: str = "new",
        organisation: int = 1,
        assignee: int | None = None,
        subject: str | None = None,
        history: tuple[tuple[dt.datetime, str, str | None], ...] = (),
    ) -> None:
        """A ticket with its ``created`` entry and ``history`` as (at, field, after)."""
        plan = "enterprise" if organisation == 1 else "business"
        clock = {
            "state": "running",
            "target_seconds": 3600,
            "elapsed_seconds": 0,
            "remaining_seconds": 3600,
            "due": None,
        }
        updated = max([created, *(at for at, _f, _a in history)])
        self.add(
            "ticket",
            ticket_id,
            {
                "id": ticket_id,
                "tracking_number": f"INC-2026-{ticket_id:06d}",
                "subject": subject or f"Ticket {ticket_id}",
                "description": "",
                "requester_name": "Alice Martin",
                "requester_email": "alice@example.com",
                "organisation_id": organisation,
                "priority": priority,
                "severity": severity,
                "status": status,
                "team_id": 1,
                "assignee_id": assignee,
                "tags": [],
                "version": len(history) + 1,
                "created_at": created.isoformat(),
                "updated_at": updated.isoformat(),
                "sla": {
                    "as_of": created.isoformat(),
                    "plan": plan,
                    "response": clock,
                    "resolution": clock,
                },
            },
        )
        initial = {"status": "new", "priority": priority, "severity": severity, "plan": plan}
        entries = [(created, "created", json.dumps(initial)), *history]
        for version, (at, field, after) in enumerate(entries, start=1):
            history_id = next(_ids)
            self.add(
                "history",
                history_id,
                {
                    "id": history_id,
                    "ticket_id": ticket_id,
                    "version": version,
                    "actor_id": assignee,
                    "at": at.isoformat(),
                    "field": field,
                    "before": None,
                    "after": after,
                },
            )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def feed() -> Feed:
    return Feed()


def load(cache: Cache, feed: Feed) -> Store:
    store = Store(cache, user_id=1)
    store.apply_page(feed.page())
    return store


@pytest.fixture
def queue(cache: Cache, feed: Feed, clock: FakeClock) -> QueueModel:
    """Five tickets, one of each kind of SLA situation, at Wednesday 10:00."""
    # 1: P3, answered 10 minutes after creation, resolution clock far from due
    feed.ticket(
        1,
        created=T0 - HOUR,
        history=((T0 - 50 * MIN, "status", "open"), (T0 - 50 * MIN, "responded", "reply")),
        status="open",
        assignee=1,
    )
    # 2: P1 blocking, 30 min old, no answer: first response due in 30 min (at risk)
    feed.ticket(2, created=T0 - 30 * MIN, priority="P1", severity="blocking", assignee=1)
    # 3: P2 major since Monday 09:00, never answered: 15 business hours overdue
    feed.ticket(3, created=MONDAY_9, priority="P2", severity="major")
    # 4: waiting on the customer since Tuesday
    feed.ticket(
        4,
        created=TUESDAY_10,
        status="pending",
        history=(
            (TUESDAY_10 + 10 * MIN, "status", "open"),
            (TUESDAY_10 + 10 * MIN, "responded", "reply"),
            (TUESDAY_10 + 3 * HOUR, "status", "pending"),
        ),
    )
    # 5: resolved in time on Tuesday
    feed.ticket(
        5,
        created=TUESDAY_10,
        status="resolved",
        organisation=2,
        history=(
            (TUESDAY_10 + 10 * MIN, "status", "open"),
            (TUESDAY_10 + 10 * MIN, "responded", "reply"),
            (TUESDAY_10 + HOUR, "status", "resolved"),
        ),
    )
    load(cache, feed)
    model = QueueModel(cache, me=1, clock=clock)
    return model


def shown_window(
    qtbot: QtBot, cache: Cache, clock: Callable[[], dt.datetime], *, me: int = 1
) -> MainWindow:
    """The main window of user ``me`` over ``cache``, shown on the screen."""
    main = MainWindow(cache, me=me, clock=clock)
    qtbot.addWidget(main)
    main.show()
    qtbot.waitUntil(main.windowHandle().isExposed)
    return main


@pytest.fixture
def window(qtbot: QtBot, cache: Cache, clock: FakeClock) -> MainWindow:
    """Agent 1's main window over 60 demo tickets, shown."""
    seed_demo(cache, now=T0, count=60)
    return shown_window(qtbot, cache, clock)


@pytest.fixture
def loop(qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    """Qt's event loop as asyncio's, as the console runs."""
    event_loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(event_loop)
    yield event_loop
    event_loop.run_until_complete(event_loop.shutdown_asyncgens())
    event_loop.close()
    asyncio.set_event_loop(None)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    """The reference server on a loopback port, for the end-to-end tests."""
    # Qt objects left unreachable by earlier tests are collected here, on the GUI thread,
    # not by a collection that happens to run on the server's thread
    gc.collect()
    with LiveServer.create(tmp_path).serving() as server:
        yield server
    gc.collect()
