"""Presence on a ticket: who else is on it, said in the console and reported to the
server, and who is online in the workload panel."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot

from desktop.models.queue import Column, QueueView
from desktop.views.presence import presence_text
from protocol import PresenceEntry
from tests.desktop.conftest import T0
from tests.desktop.live_console import signed_in
from tests.sync.live_server import LiveServer


def test_presence_shows_who_else_is_on_the_ticket(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop, tmp_path: Path, live: LiveServer
) -> None:
    ticket = live.open_ticket("Mail bounces", assignee_id=live.ids["alice"])
    console, window, _engine = signed_in(loop, qtbot, tmp_path, live, "lead")
    live.call("POST", "/presence", "bob", json={"ticket_id": ticket["id"], "activity": "replying"})
    window.show_view(QueueView.MY_TEAMS)
    position = window.model.position_of(ticket["id"])
    assert position is not None
    window.table.setCurrentIndex(window.model.index(position, Column.TRACKING))
    assert window.team.presence.ticket_id == ticket["id"]
    answer = loop.run_until_complete(window.team.presence.report())
    assert answer is not None
    label = window.team.presence_label
    assert label.text() == "bob is replying to this ticket"
    assert not label.isHidden()
    # what the lead does is reported too: the server knows the lead is viewing it
    seen = live.call("GET", f"/presence?ticket_id={ticket['id']}", "bob")
    lead = next(u for u in seen["users"] if u["user_id"] == live.ids["lead"])
    assert (lead["ticket_id"], lead["activity"]) == (ticket["id"], "viewing")
    # the workload panel shows who is online
    window.show_workload()
    window.team.workload.set_presence(answer)
    support = live.ids["support"]
    bob_row = window.team.workload.find(support, live.ids["bob"])
    alice_row = window.team.workload.find(support, live.ids["alice"])
    assert bob_row is not None
    assert bob_row.online is True
    assert alice_row is not None
    assert alice_row.online is False
    # offline: quietly unknown
    live.stop()
    assert loop.run_until_complete(window.team.presence.report()) is None
    assert label.isHidden()
    window.team.workload.set_presence(None)
    row = window.team.workload.find(support, live.ids["bob"])
    assert row is not None
    assert row.online is None
    live.start()
    loop.run_until_complete(console.close())


def test_presence_text_names_the_others() -> None:
    now = T0

    def entry(user: int, name: str, activity: Any, online: bool = True) -> PresenceEntry:
        return PresenceEntry(
            user_id=user,
            display_name=name,
            last_seen_at=now,
            online=online,
            ticket_id=7,
            activity=activity,
        )

    entries = [
        entry(1, "Me", "replying"),
        entry(2, "Alice Martin", "viewing"),
        entry(3, "Bruno", "replying"),
        entry(4, "Gone", "replying", online=False),
    ]
    assert presence_text(entries, 7, me=1) == (
        "Bruno is replying to this ticket · Alice Martin is viewing this ticket"
    )
    assert presence_text(entries, 8, me=1) == ""
