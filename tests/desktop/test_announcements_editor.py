"""The team lead's announcements editor: publishing, editing and ending an announcement
on the real server, its times in the language's format; and an agent kept out of it."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from pytestqt.qtbot import QtBot

import i18n
from desktop.views.announcements_editor import AnnouncementForm
from desktop.views.main_window import MainWindow
from sync.cache import Cache
from sync.engine import SyncEngine
from tests.clock import FakeClock
from tests.desktop.conftest import T0, Feed
from tests.desktop.live_console import signed_in
from tests.desktop.team_lead_cache import hand_made
from tests.sync.live_server import LiveServer


async def _sync_done(window: MainWindow, engine: SyncEngine) -> None:
    """Until the sync a change asked for is over."""
    await asyncio.sleep(0)
    await engine.wait_idle()
    await window.team.presence.wait_reported()


def test_a_lead_publishes_edits_and_ends_an_announcement(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop, tmp_path: Path, live: LiveServer
) -> None:
    console, window, engine = signed_in(loop, qtbot, tmp_path, live, "lead")
    editor = window.team.open_announcements()
    assert editor is not None
    qtbot.addWidget(editor)
    loop.run_until_complete(editor.refresh())
    assert editor.list.count() == 0
    assert editor.empty_label.isVisible()  # says there is none, rather than a blank list
    assert editor.empty_label.text().startswith("No announcement running or scheduled")

    assert loop.run_until_complete(editor.save()) is None
    assert editor.error_label.text() == "Give the announcement a title."
    editor.form.title_edit.setText("Mail service down")
    editor.form.body_edit.setPlainText("Outgoing mail is queued; nothing is lost.")
    editor.form.start_now.setChecked(False)
    start = editor.form.start_edit.dateTime()
    editor.form.end_edit.setDateTime(start.addSecs(-60))
    assert loop.run_until_complete(editor.save()) is None
    assert editor.error_label.text() == "The expected end must come after the start."

    editor.form.start_now.setChecked(True)
    editor.form.end_edit.setDateTime(start.addSecs(7200))
    published = loop.run_until_complete(editor.save())
    loop.run_until_complete(_sync_done(window, engine))
    assert published is not None
    assert editor.error_label.isHidden()
    assert editor.list.count() == 1
    assert editor.empty_label.isHidden()
    running = live.call("GET", "/announcements", "alice")
    assert [a["title"] for a in running] == ["Mail service down"]
    # published: once this console has pulled (it asks for a pass at once), the
    # banner says it (the pull's change set reaches it through the change bus)
    assert loop.run_until_complete(engine.sync_once()).ok
    assert [item["title"] for item in window.banner.items] == ["Mail service down"]
    assert "Mail service down" in window.banner.label.text()

    editor.form.title_edit.setText("Mail service degraded")
    edited = loop.run_until_complete(editor.save())
    loop.run_until_complete(_sync_done(window, engine))
    assert edited is not None
    assert edited.id == published.id
    assert live.call("GET", f"/announcements/{published.id}")["title"] == "Mail service degraded"

    ended = loop.run_until_complete(editor.end_selected())
    loop.run_until_complete(_sync_done(window, engine))
    assert ended is not None
    assert ended.ended_at is not None
    assert live.call("GET", "/announcements", "alice") == []
    assert loop.run_until_complete(engine.sync_once()).ok
    assert window.banner.items == []
    assert window.banner.isHidden()
    editor.close()
    loop.run_until_complete(console.close())


def test_the_announcement_times_are_in_the_languages_format(qtbot: QtBot) -> None:
    form = AnnouncementForm(FakeClock(T0))
    qtbot.addWidget(form)
    shown = {}
    for language in ("fr", "en"):
        i18n.set_language(language)
        form.retranslate()
        shown[language] = form.end_edit.text()
    assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", shown["fr"])  # 04/03/2026 11:00
    assert re.fullmatch(r"\d{1,2}/\d{1,2}/\d\d \d{1,2}:\d\d\W?[AP]M", shown["en"])
    assert form.end_edit.dateTime() > form.start_edit.dateTime()


def test_an_agent_cannot_open_the_announcements_editor(
    qtbot: QtBot, cache: Cache, feed: Feed
) -> None:
    hand_made(cache, feed)
    window = MainWindow(cache, me=2, clock=FakeClock(T0))
    qtbot.addWidget(window)
    assert window.team.open_announcements() is None
    assert not window.team.announcements_action.isVisible()
