"""The operations layer: one treatment of offline, refused and failed for every online
operation, the tasks kept and cancelled with their widget, and an announcement published
offline sent once the server is back, exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
from PySide6.QtCore import QObject
from pytestqt.qtbot import QtBot

import i18n
from desktop.operations import Operations, Outcome, Trouble
from desktop.views.announcements_editor import AnnouncementsEditor
from desktop.views.main_window import MainWindow
from desktop.views.sign_in import SignInRequest
from protocol import AnnouncementOut
from sync.cache import Cache
from sync.client import RequestRefused, ServerError, Unreachable
from sync.engine import SyncEngine, SyncState, SyncStatus
from sync.store import Store
from tests.desktop.conftest import T0, FakeClock
from tests.desktop.live_console import make_console, until_idle
from tests.sync.live_server import PASSWORD, LiveServer
from tests.sync.test_credentials import MemoryKeyring


class FakeClient:
    """The server's side of the calls under test: fails as told."""

    def __init__(self) -> None:
        self.failure: BaseException | None = None

    async def announcements(self, *, upcoming: bool = False) -> list[AnnouncementOut]:
        if self.failure is not None:
            raise self.failure
        return []


class FakeEngine:
    """What the operations layer uses of a session's engine."""

    def __init__(self, client: FakeClient) -> None:
        self.client = client
        self.status = SyncStatus(SyncState.ONLINE)
        self.queued = 0

    def subscribe(self, callback: Callable[[SyncStatus], None]) -> Callable[[], None]:
        callback(self.status)
        return lambda: None

    def commands_queued(self) -> None:
        self.queued += 1

    def refresh_counts(self) -> None:
        pass

    def sync_now(self) -> None:
        pass


@pytest.fixture
def operations(cache: Cache) -> Operations:
    return Operations(Store(cache, user_id=3))


# -- offline, refused, failed ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "trouble", "message", "french"),
    [
        (
            Unreachable("connection refused"),
            Trouble.OFFLINE,
            "The server cannot be reached. Try again once you are connected.",
            "Le serveur est injoignable. Réessayez une fois connecté.",
        ),
        (
            RequestRefused("HTTP 403", status=403, code="forbidden", reason="Leads only."),
            Trouble.REFUSED,
            "The server refused the request (HTTP 403): Leads only.",
            "Le serveur a refusé la requête (HTTP 403) : Leads only.",
        ),
        (
            ServerError("HTTP 500", status=500),
            Trouble.FAILED,
            "The server had a problem (HTTP 500). Try again in a moment.",
            "Le serveur a rencontré un problème (HTTP 500). Réessayez dans un instant.",
        ),
        (
            KeyError("a bug of the console"),
            Trouble.FAILED,
            "Something went wrong in the console; the details are in its log.",
            "Un problème est survenu dans la console ; les détails sont dans son journal.",
        ),
    ],
)
def test_each_way_an_online_operation_fails_says_so_in_words(
    qtbot: QtBot,
    loop: asyncio.AbstractEventLoop,
    operations: Operations,
    failure: BaseException,
    trouble: Trouble,
    message: str,
    french: str,
) -> None:
    client = FakeClient()
    operations.attach_engine(cast(SyncEngine, FakeEngine(client)))
    editor = AnnouncementsEditor(operations, lambda: T0)
    qtbot.addWidget(editor)
    reported: list[BaseException] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context["exception"]))

    client.failure = failure
    outcome: Outcome[Any] = loop.run_until_complete(
        operations.online(lambda api: api.announcements())
    )
    assert (outcome.value, outcome.trouble, outcome.message) == (None, trouble, message)
    assert not outcome.done
    assert not outcome.queued
    # the widget shows it, and the user can go on
    assert loop.run_until_complete(editor.refresh()) is False
    assert editor.error_label.text() == message
    assert not editor.error_label.isHidden()
    # a bug is not lost in a message: it is reported, with its traceback, each time
    assert reported == ([failure, failure] if isinstance(failure, KeyError) else [])
    # in the user's language, whenever it is asked
    i18n.set_language("fr")
    assert outcome.message == french
    i18n.set_language("en")
    client.failure = None
    assert loop.run_until_complete(editor.refresh()) is True
    assert editor.error_label.isHidden() or editor.error_label.text() == ""


def test_without_a_session_an_online_operation_says_it_needs_one(
    loop: asyncio.AbstractEventLoop, operations: Operations
) -> None:
    outcome = loop.run_until_complete(operations.online(lambda api: api.announcements()))
    assert outcome.trouble is Trouble.OFFLINE
    assert outcome.message == "Not connected to a server: this needs one. Sign in and try again."


# -- tasks ------------------------------------------------------------------------------------


def test_a_widgets_tasks_are_cancelled_when_it_goes_and_their_errors_reported(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop, operations: Operations
) -> None:
    reported: list[BaseException] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context["exception"]))
    owner = QObject()
    never = loop.create_future()

    async def waiting() -> None:
        await never

    async def failing() -> None:
        raise ValueError("a slip in a widget's task")

    async def scenario() -> None:
        task = operations.start(waiting(), owner=owner)
        assert task is not None
        failed = operations.start(failing(), owner=QObject(operations))
        assert failed is not None
        await asyncio.sleep(0)
        owner.deleteLater()  # the widget goes
        await operations.wait(QObject())  # (nobody's: returns at once)
        async with asyncio.timeout(10):
            while not task.done():
                await asyncio.sleep(0.01)
        assert task.cancelled()

    loop.run_until_complete(scenario())
    assert [str(error) for error in reported] == ["a slip in a widget's task"]


# -- offline, kept for later ------------------------------------------------------------------


def test_an_announcement_published_without_the_server_is_kept_and_shown_pending(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop, cache: Cache, clock: FakeClock
) -> None:
    window = MainWindow(cache, me=3, clock=clock)
    qtbot.addWidget(window)
    editor = AnnouncementsEditor(window.operations, clock, window)
    qtbot.addWidget(editor)
    editor.form.title_edit.setText("Mail service down")
    assert loop.run_until_complete(editor.save()) is None
    assert editor.status_label.text().startswith("The server cannot be reached")
    assert editor.error_label.isHidden()
    assert editor.form.title_edit.text() == ""  # kept: typing it again would repeat it
    assert window.pending_label.text() == "1 pending change"
    dialog = window.show_pending()
    assert [dialog.list.item(i).text() for i in range(dialog.list.count())] == [
        "Publish the announcement “Mail service down”"
    ]
    [kept] = window.store.deferred_calls()
    assert kept.announcement().title == "Mail service down"
    dialog.close()


# -- with the real server ------------------------------------------------------------------------


def test_an_announcement_published_offline_is_sent_once_on_reconnect(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop, tmp_path: Path, live: LiveServer
) -> None:
    console = make_console(tmp_path, MemoryKeyring())
    request = SignInRequest(live.url, "lead", PASSWORD, False)
    assert loop.run_until_complete(console.sign_in(request)) is None
    session = console.session
    assert session is not None
    window, engine = session.window, session.engine
    qtbot.addWidget(window)
    loop.run_until_complete(until_idle(engine, lambda s: s.state is SyncState.ONLINE))
    assert window.team.lead
    editor = window.team.open_announcements()
    assert editor is not None
    loop.run_until_complete(editor.wait_done())

    # the server goes away; the console does not know yet: it tries, then keeps it
    live.stop()
    editor.form.title_edit.setText("Mail service down")
    editor.form.body_edit.setPlainText("Outgoing mail is queued; nothing is lost.")
    editor.form.end_edit.setDateTime(editor.form.end_edit.dateTime().addSecs(3 * 3600))
    assert loop.run_until_complete(editor.save()) is None
    assert "published as soon as it can be" in editor.status_label.text()
    loop.run_until_complete(until_idle(engine, lambda s: s.state is SyncState.OFFLINE))
    assert window.pending_label.text() == "1 pending change"
    # known offline now: a second one is kept at once
    editor.form.title_edit.setText("VPN degraded")
    assert loop.run_until_complete(editor.save()) is None
    assert window.pending_label.text() == "2 pending changes"
    assert window.banner.isHidden()

    # back: the next pass publishes both, once each, and the banner shows them
    live.start()
    window.sync_action.trigger()
    loop.run_until_complete(
        until_idle(engine, lambda s: s.state is SyncState.ONLINE and s.pending == 0)
    )
    published = live.call("GET", "/announcements", "alice")
    assert sorted(item["title"] for item in published) == ["Mail service down", "VPN degraded"]
    assert window.pending_label.text() == "0 pending changes"
    assert {item["title"] for item in window.banner.items} == {"Mail service down", "VPN degraded"}
    assert "Outgoing mail is queued" in window.banner.label.text()
    # another pass sends nothing again
    assert loop.run_until_complete(engine.sync_once()).calls == 0
    assert len(live.call("GET", "/announcements", "alice")) == 2
    editor.close()
    loop.run_until_complete(console.close())
