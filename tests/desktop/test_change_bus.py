"""The change bus: what a write to the cache changed reaches, on the Qt thread, exactly
the panels it concerns (a page touching ticket 7 reads ticket 7 again, not the queue)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex
from pytestqt.qtbot import QtBot

from desktop.models.bus import ChangeBus
from desktop.models.queue import Column, QueueView
from desktop.views.main_window import MainWindow
from protocol import AppliedResult, ChangePage, Status
from sync.cache import Cache
from sync.changes import Changes
from sync.store import Store
from tests.desktop.conftest import T0, FakeClock, Feed, load, shown_window

HOUR = dt.timedelta(hours=1)


# -- the bus itself ----------------------------------------------------------------------------


def test_changes_from_another_thread_arrive_merged_on_the_qt_thread(
    qtbot: QtBot, cache: Cache
) -> None:
    bus = ChangeBus(Store(cache))
    seen: list[tuple[Changes, int]] = []
    bus.changed.connect(lambda changes: seen.append((changes, threading.get_ident())))

    def engine_thread() -> None:  # pages and push answers, stored by the sync engine
        bus.publish(Changes.of_tickets({1}))
        bus.publish(Changes(outbox=True))
        bus.publish(Changes.of_tickets({2}, outbox=True))

    worker = threading.Thread(target=engine_thread)
    worker.start()
    worker.join()
    assert seen == []
    assert bus.waiting  # never emitted on the engine's thread
    qtbot.waitUntil(lambda: bool(seen))
    assert not bus.waiting
    assert seen == [(Changes(tickets=frozenset({1, 2}), outbox=True), threading.get_ident())]
    bus.close()


def test_a_local_change_shows_at_once_and_takes_along_what_waits(
    qtbot: QtBot, cache: Cache
) -> None:
    bus = ChangeBus(Store(cache))
    seen: list[Changes] = []
    bus.changed.connect(seen.append)
    worker = threading.Thread(target=bus.publish, args=(Changes.of_tickets({3}),))
    worker.start()
    worker.join()
    bus.publish(Changes(rejections=True))  # the user's own, on the Qt thread: at once
    assert seen == [Changes(tickets=frozenset({3}), rejections=True)]
    with bus.holding():  # the writes of one operation: one change set, at its end
        bus.publish(Changes.of_tickets({4}))
        bus.publish(Changes.of_tickets({5}, outbox=True))
        assert len(seen) == 1
    assert seen[-1] == Changes(tickets=frozenset({4, 5}), outbox=True)
    assert not bus.waiting  # nothing more to come, nothing twice
    bus.close()
    bus.publish(Changes.of_tickets({6}))  # closed: the window went
    assert len(seen) == 2


def test_the_store_writes_reach_the_bus(cache: Cache, feed: Feed) -> None:
    feed.ticket(7, created=T0 - HOUR)
    store = load(cache, feed)
    bus = ChangeBus(store)
    seen: list[Changes] = []
    bus.changed.connect(seen.append)
    store.set_status(7, Status.PENDING)
    assert seen == [Changes(tickets=frozenset({7}), outbox=True)]
    bus.close()
    store.set_status(7, Status.OPEN)
    assert len(seen) == 1


# -- the window and its panels -------------------------------------------------------------------


@pytest.fixture
def window(qtbot: QtBot, cache: Cache, feed: Feed, clock: FakeClock) -> MainWindow:
    for ticket_id in (7, 8, 9):
        feed.ticket(ticket_id, created=T0 - HOUR, assignee=2, subject=f"Printer {ticket_id}")
    load(cache, feed)
    main = shown_window(qtbot, cache, clock)
    main.show_view(QueueView.ALL)
    return main


def _later_page(*changes: tuple[str, int, dict[str, Any]]) -> ChangePage:
    """A page of the feed with these changes only (no directory around them)."""
    page = Feed()
    page.changes.clear()
    for entity, entity_id, data in changes:
        page.add(entity, entity_id, data)
    return page.page()


def _ticket_page(cache: Cache, ticket_id: int, **fields: Any) -> ChangePage:
    """The server's next version of ``ticket_id``, with ``fields`` changed."""
    server = cache.server_ticket(ticket_id)
    assert server is not None
    data = server.model_dump(mode="json") | fields | {"version": server.version + 1}
    return _later_page(("ticket", ticket_id, data))


class Calls:
    """Counts the calls of an instance's method (then calls it)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> None:
        self.args: list[tuple[Any, ...]] = []
        method: Callable[..., Any] = getattr(owner, name)

        def counting(*args: Any) -> Any:
            self.args.append(args)
            return method(*args)

        monkeypatch.setattr(owner, name, counting)


def _rows_changed(window: MainWindow) -> list[int]:
    rows: list[int] = []

    def changed(first: QModelIndex, last: QModelIndex, *_roles: Any) -> None:
        rows.extend(range(first.row(), last.row() + 1))

    window.model.dataChanged.connect(changed)
    return rows


def _select(window: MainWindow, ticket_id: int) -> None:
    position = window.model.position_of(ticket_id)
    assert position is not None
    window.table.setCurrentIndex(window.model.index(position, Column.TRACKING))


def test_a_stored_page_refreshes_its_tickets_rows_and_the_workspace_showing_one(
    qtbot: QtBot, window: MainWindow, cache: Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    _select(window, 7)
    assert window.workspace.ticket_id == 7
    queue = Calls(monkeypatch, window.model, "refresh_tickets")
    reloads = Calls(monkeypatch, window.model, "reload")
    workspace = Calls(monkeypatch, window.workspace, "refresh")
    banner = Calls(monkeypatch, window.banner, "refresh")
    rows = _rows_changed(window)

    # stored by the sync engine, on its thread
    page = _ticket_page(cache, 7, subject="Printer on fire")
    worker = threading.Thread(target=window.store.apply_page, args=(page,))
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: bool(queue.args))
    assert [set(args[0]) for args in queue.args] == [{7}]  # ticket 7's row, nothing else
    assert reloads.args == []
    assert set(rows) == {window.model.position_of(7)}
    assert window.model.row_at(window.model.position_of(7) or 0).ticket.subject == (
        "Printer on fire"
    )
    assert len(workspace.args) == 1  # the workspace shows 7: read again
    assert window.workspace.header.subject_label.text() == "Printer on fire"
    assert banner.args == []  # no announcement in it

    # the workspace shows 8 now: a page touching 7 leaves it alone
    _select(window, 8)
    shown = len(workspace.args)
    window.store.apply_page(_ticket_page(cache, 7, subject="Printer on fire, again"))
    assert [set(args[0]) for args in queue.args][-1] == {7}
    assert len(workspace.args) == shown
    window.store.apply_page(_ticket_page(cache, 8, subject="Scanner jammed"))
    assert len(workspace.args) == shown + 1
    assert window.workspace.header.subject_label.text() == "Scanner jammed"


def test_an_outbox_change_updates_the_status_bars_counts(
    qtbot: QtBot, window: MainWindow, cache: Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert window.pending_label.text() == "0 pending changes"
    window.operations.local(lambda store: store.set_status(9, Status.PENDING))
    assert window.pending_label.text() == "1 pending change"
    # the engine's push answered, on its thread: the count follows, and the queue reads
    # nothing again (the ticket itself did not change)
    queue = Calls(monkeypatch, window.model, "refresh_tickets")
    [command] = window.store.take_batch()
    answer = AppliedResult(mutation_id=command.mutation_id, ticket_id=9, version=2)
    worker = threading.Thread(target=window.store.record_results, args=([answer],))
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: window.pending_label.text() == "0 pending changes")
    assert queue.args == []


def test_announcements_articles_and_names_reach_their_panels(
    qtbot: QtBot, window: MainWindow, cache: Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    _select(window, 7)
    queue = Calls(monkeypatch, window.model, "refresh_tickets")
    workspace = Calls(monkeypatch, window.workspace, "refresh")
    assert not window.banner.isVisible()

    announcement = {
        "id": 1,
        "title": "Mail outage",
        "body": "",
        "starts_at": (T0 - HOUR).isoformat(),
        "ends_at": None,
        "ended_at": None,
        "created_by_id": 3,
        "created_at": (T0 - HOUR).isoformat(),
        "updated_at": (T0 - HOUR).isoformat(),
        "version": 1,
    }
    window.store.apply_page(_later_page(("announcement", 1, announcement)))
    assert window.banner.isVisible()
    assert "Mail outage" in window.banner.label.text()
    assert queue.args == []
    assert workspace.args == []  # no ticket, no name changed

    article = {
        "id": 5,
        "title": "Unjam a printer",
        "body": "Open the tray.",
        "tags": [],
        "created_by_id": 3,
        "updated_by_id": 3,
        "created_at": T0.isoformat(),
        "updated_at": T0.isoformat(),
        "version": 1,
    }
    window.workspace.knowledge_base.search_box.setText("printer")
    assert window.workspace.knowledge_base.results.count() == 0
    window.store.apply_page(_later_page(("article", 5, article)))
    assert window.workspace.knowledge_base.results.count() == 1  # found at once
    assert queue.args == []
    assert workspace.args == []

    bob = next(user for user in cache.users() if user.id == 2)
    renamed = bob.model_copy(update={"display_name": "Robert Lefèvre"}).model_dump(mode="json")
    window.store.apply_page(_later_page(("user", 2, renamed)))
    assert len(queue.args) == 1  # the names of the queue, and its teams
    position = window.model.position_of(7)
    assert position is not None
    assert window.model.index(position, Column.ASSIGNEE).data() == "Robert Lefèvre"
    assert len(workspace.args) == 1  # its assignee's name too
    assert window.workspace.fields.assignee_combo.currentText() == "Robert Lefèvre"
