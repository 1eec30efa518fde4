"""The conflicts panel: both sides of a change the server refused, reapplied or
discarded."""

from __future__ import annotations

import datetime as dt

from PySide6.QtWidgets import QPushButton, QWidget
from pytestqt.qtbot import QtBot

from desktop.operations import Operations
from desktop.views.sync_panel import ConflictsPanel
from protocol import ConflictResult, Status
from sync.cache import Cache
from sync.store import Store
from tests.desktop.conftest import T0, FakeClock, Feed, load


def button(parent: QWidget, name: str) -> QPushButton:
    found = parent.findChild(QPushButton, name)
    assert found is not None
    return found


def _conflict(cache: Cache, clock: FakeClock) -> tuple[Store, int]:
    """Alice (user 1) set a status offline while Bob (user 2) took the ticket."""
    feed = Feed()
    feed.ticket(7, created=T0 - dt.timedelta(hours=1), assignee=1, subject="Printer on fire")
    store = load(cache, feed)
    mutation = store.set_status(7, Status.PENDING)
    server = cache.server_ticket(7)
    assert server is not None
    moved = server.model_copy(update={"assignee_id": 2, "version": server.version + 1})
    store.record_results(
        [ConflictResult(mutation_id=mutation, ticket_id=7, fields=["assignee_id"], ticket=moved)]
    )
    return store, 7


def test_conflicts_panel_shows_both_sides_and_resolves(
    qtbot: QtBot, cache: Cache, clock: FakeClock
) -> None:
    store, ticket_id = _conflict(cache, clock)
    panel = ConflictsPanel(Operations(store))
    qtbot.addWidget(panel)
    rows = panel.conflict_rows()
    assert len(rows) == 1
    text = panel.findChildren(type(panel.empty), "conflict-text")[0].text()
    assert text == (
        "Reassigned to Bob Lefèvre while you were offline: your status change was not applied"
    )
    button(rows[0], "reapply").click()
    assert store.conflict_count() == 0
    assert panel.conflict_rows() == []
    assert panel.empty.isVisible() or not panel.isVisible()
    again = store.pending_batch()
    assert [c.type for c in again] == ["set_status"]
    server = cache.server_ticket(ticket_id)
    assert server is not None
    assert server.assignee_id == 2
    assert again[0].base_version == server.version  # on top of the server's new version


def test_discarding_a_conflict_keeps_the_server_version(
    qtbot: QtBot, cache: Cache, clock: FakeClock
) -> None:
    store, ticket_id = _conflict(cache, clock)
    panel = ConflictsPanel(Operations(store))
    qtbot.addWidget(panel)
    button(panel.conflict_rows()[0], "discard").click()
    assert store.conflict_count() == 0
    assert store.pending_batch() == []
    shown = cache.ticket(ticket_id)
    assert shown is not None
    assert shown.assignee_id == 2
    assert shown.status == "new"
