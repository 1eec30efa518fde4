"""Reassignment by the team lead: undo (of moves queued, on their way or applied), moves
to another team, the keyboard, a drag onto the workload panel, offline then online with
the real server; and what an agent is refused."""

from __future__ import annotations

import asyncio
import warnings
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from PySide6.QtCore import QEvent, QItemSelectionModel, QPoint, QPointF, Qt
from PySide6.QtGui import QDrag, QDragEnterEvent, QDragMoveEvent, QDropEvent, QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractItemView, QApplication
from pytestqt.qtbot import QtBot

from desktop.models.queue import Column, QueueView
from desktop.models.workload import Target, WorkloadColumn
from desktop.views.main_window import MainWindow
from desktop.views.reassign import ReassignDialog
from desktop.views.sync_panel import describe_command
from desktop.views.workload import ticket_ids_from_mime, tickets_mime
from protocol import AppliedResult, AssignCommand, RejectedResult, RejectReason, SetTeamCommand
from sync.cache import Cache
from sync.client import ApiClient, RetryPolicy
from sync.engine import SyncState
from tests.clock import FakeClock
from tests.desktop.conftest import T0, Feed, shown_window
from tests.desktop.live_console import signed_in, until_settled
from tests.desktop.team_lead_cache import LEAD, hand_made
from tests.sync.live_server import PASSWORD, LiveServer

# -- reassignment and undo (cache only) ------------------------------------------------------------


def test_undo_withdraws_queued_moves_and_reverts_applied_ones(cache: Cache, feed: Feed) -> None:
    store = hand_made(cache, feed)
    done = store.reassign([101, 102, 103], 1, 2)  # to Bob Lefèvre
    assert len(done.moves) == 2
    assert done.skipped == 1  # 103 is Bob's already
    assert {cache.ticket(i).assignee_id for i in (101, 102)} == {2}  # type: ignore[union-attr]
    assert len(store.pending_batch()) == 2

    # still queued: withdrawn, nothing is ever sent
    outcome = store.undo(done.moves)
    assert (outcome.withdrawn, outcome.reverted, outcome.unchanged) == (2, 0, 0)
    assert store.pending_batch() == []
    assert cache.ticket(101).assignee_id == 1  # type: ignore[union-attr]

    # applied by the server (not pulled yet): the inverse, against the version it made
    again = store.reassign([101], 1, 2)
    version = cache.ticket(101).version  # type: ignore[union-attr]
    store.record_results(
        [AppliedResult(mutation_id=again.moves[0].mutation_id, ticket_id=101, version=version + 1)]
    )
    outcome = store.undo(again.moves)
    assert (outcome.withdrawn, outcome.reverted) == (0, 1)
    inverse = store.pending_batch()
    assert len(inverse) == 1
    assert isinstance(inverse[0], AssignCommand)
    assert inverse[0].assignee_id == 1
    assert inverse[0].base_version == version + 1
    assert cache.ticket(101).assignee_id == 1  # type: ignore[union-attr]


def test_undo_waits_for_the_servers_answer_to_a_move_on_its_way(
    qtbot: QtBot, cache: Cache, feed: Feed
) -> None:
    hand_made(cache, feed)
    window = MainWindow(cache, me=LEAD, clock=FakeClock(T0))
    qtbot.addWidget(window)
    store = window.store  # the sync engine's too
    bob = Target(1, 2, "Bob Lefèvre")
    done = window.team.perform([101], bob)
    version = cache.ticket(101).version  # type: ignore[union-attr]

    # the engine has taken the move to send it: withdrawing it now would not stop the
    # server from applying it, so the undo waits
    [sent] = store.take_batch()
    with store.sending([sent.mutation_id]):
        outcome = window.team.undo_last()
        assert outcome is not None
        assert outcome.deferred == done.moves
        assert "being sent to the server" in window.statusBar().currentMessage()
        assert cache.ticket(101).assignee_id == 2  # type: ignore[union-attr]
        assert window.team.push_answered() is not None  # still on its way: waits on
        assert window.team.deferred_undo is not None
        store.record_results(
            [AppliedResult(mutation_id=sent.mutation_id, ticket_id=101, version=version + 1)]
        )
        # the server applied it: the outbox moved, and the change bus told the team
        # lead's tools, so the undo went on by itself, with the inverse against that
        # version
        assert window.team.deferred_undo is None
    assert window.team.push_answered() is None  # nothing is left waiting
    [inverse] = store.pending_batch()
    assert isinstance(inverse, AssignCommand)
    assert (inverse.assignee_id, inverse.base_version) == (1, version + 1)
    assert cache.ticket(101).assignee_id == 1
    assert "back where it was" in window.statusBar().currentMessage()


def test_undo_waits_on_a_move_sent_without_an_answer(cache: Cache, feed: Feed) -> None:
    store = hand_made(cache, feed)
    done = store.reassign([101], 1, 2)
    # sent, but the connection dropped before the answer: the server may have applied it
    store.record_attempt([done.moves[0].mutation_id], "connection reset")
    outcome = store.undo(done.moves)
    assert outcome.deferred == done.moves
    assert outcome.withdrawn == 0
    assert [c.mutation_id for c in store.pending_batch()] == [done.moves[0].mutation_id]


def test_undo_leaves_alone_a_ticket_moved_again_since(cache: Cache, feed: Feed) -> None:
    store = hand_made(cache, feed)
    done = store.reassign([101], 1, 2)
    store.assign(101, None)  # someone (the lead, here) moved it again
    outcome = store.undo(done.moves)
    assert (outcome.withdrawn, outcome.reverted, outcome.unchanged) == (0, 0, 1)
    assert cache.ticket(101).assignee_id is None  # type: ignore[union-attr]


def test_a_move_to_another_team_is_a_set_team_command(cache: Cache, feed: Feed) -> None:
    store = hand_made(cache, feed)
    done = store.reassign([101], 2)  # to the Network team, nobody assigned
    queued = store.pending_batch()
    assert len(queued) == 1
    assert isinstance(queued[0], SetTeamCommand)
    assert (queued[0].team_id, queued[0].assignee_id) == (2, None)
    assert describe_command(queued[0], cache) == "INC-2026-000101: move to team Network"
    moved = cache.ticket(101)
    assert moved is not None
    assert (moved.team_id, moved.assignee_id) == (2, None)
    store.undo(done.moves)
    back = cache.ticket(101)
    assert back is not None
    assert (back.team_id, back.assignee_id) == (1, 1)


def test_the_window_reassigns_and_undoes_with_the_keyboard(
    qtbot: QtBot, cache: Cache, feed: Feed
) -> None:
    hand_made(cache, feed)
    window = shown_window(qtbot, cache, FakeClock(T0), me=LEAD)
    window.show_view(QueueView.MY_TEAMS)
    assert window.table.selectionMode() is QAbstractItemView.SelectionMode.ExtendedSelection
    _select(window, [101, 102])
    _shortcut(qtbot, window, Qt.Key.Key_M)
    dialog = window.team.reassign_dialog
    assert isinstance(dialog, ReassignDialog)
    assert dialog.intro.text() == "Reassign 2 tickets to:"
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog)
    QTest.keyClicks(dialog.filter_edit, "lefe")  # accents do not matter
    assert dialog.visible_labels() == ["Bob Lefèvre · Service desk"]
    assert dialog.load_label.text() == "Bob Lefèvre now has 1 open, 0 at risk, 0 breached."
    QTest.keyClick(dialog.filter_edit, Qt.Key.Key_Return)
    assert {cache.ticket(i).assignee_id for i in (101, 102)} == {2}  # type: ignore[union-attr]
    assert window.pending_label.text() == "2 pending changes"
    _shortcut(qtbot, window, Qt.Key.Key_Z)
    assert {cache.ticket(i).assignee_id for i in (101, 102)} == {1}  # type: ignore[union-attr]
    assert window.pending_label.text() == "0 pending changes"
    assert not window.team.undo_action.isEnabled()


def _shortcut(qtbot: QtBot, window: MainWindow, key: Qt.Key) -> None:
    """Ctrl+Shift+``key`` typed in the queue of the active window."""
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    window.table.setFocus()
    modifiers = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    QTest.keyClick(window.table, key, modifiers)


def _select(window: MainWindow, ticket_ids: list[int]) -> None:
    selection = window.table.selectionModel()
    selection.clearSelection()
    for ticket_id in ticket_ids:
        position = window.model.position_of(ticket_id)
        assert position is not None, ticket_id
        selection.select(
            window.model.index(position, Column.TRACKING),
            QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
        )


def _drag(
    window: MainWindow, monkeypatch: pytest.MonkeyPatch, team_id: int, agent_id: int | None
) -> list[int]:
    """Drag the queue's selection with the mouse onto an agent's workload row; the
    ticket ids the drag carried.

    A real drag runs the platform's drag loop (``QDrag.exec``), which the offscreen
    platform has not: the test stands in for it and delivers what it would, enter,
    move and drop, on the workload row.  Everything else is the console's own code,
    from the mouse press on the queue to the reassignment dialog."""
    panel = window.team.panel.table
    row = next(
        i
        for i in range(panel.model().rowCount())
        if (window.team.workload.row_at(i).team_id, window.team.workload.row_at(i).agent_id)
        == (team_id, agent_id)
    )
    where = panel.visualRect(panel.model().index(row, WorkloadColumn.AGENT)).center()
    carried: list[int] = []

    def drag_loop(drag: QDrag, *_args: object) -> Qt.DropAction:
        mime = drag.mimeData()
        carried.extend(ticket_ids_from_mime(mime))
        buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
        move_action = Qt.DropAction.MoveAction
        with warnings.catch_warnings():  # PySide flags the (only) QPoint constructors
            warnings.simplefilter("ignore", DeprecationWarning)
            enter = QDragEnterEvent(where, move_action, mime, buttons, modifiers)
            hover = QDragMoveEvent(where, move_action, mime, buttons, modifiers)
        panel.dragEnterEvent(enter)
        assert enter.isAccepted()
        panel.dragMoveEvent(hover)
        assert hover.isAccepted()
        drop = QDropEvent(QPointF(where), move_action, mime, buttons, modifiers)
        panel.dropEvent(drop)
        assert drop.isAccepted()
        return drop.dropAction()

    monkeypatch.setattr(QDrag, "exec", drag_loop)
    table = window.table
    selected = table.selectionModel().selectedRows()
    assert selected, "nothing selected to drag"
    press_at = table.visualRect(selected[0]).center()
    viewport = table.viewport()
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, press_at)
    away = press_at + QPoint(0, 4 * QApplication.startDragDistance())
    move = QMouseEvent(
        QEvent.Type.MouseMove,
        QPointF(away),
        QPointF(viewport.mapToGlobal(away)),
        Qt.MouseButton.NoButton,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(viewport, move)
    return carried


def test_the_queue_drags_its_selection(qtbot: QtBot, cache: Cache, feed: Feed) -> None:
    hand_made(cache, feed)
    window = MainWindow(cache, me=LEAD, clock=FakeClock(T0))
    qtbot.addWidget(window)
    window.show()
    window.show_view(QueueView.MY_TEAMS)
    _select(window, [103, 101])
    assert sorted(window.team.selected_ticket_ids()) == [101, 103]
    assert ticket_ids_from_mime(tickets_mime([101, 103])) == [101, 103]


# -- agents ----------------------------------------------------------------------------------------


def test_an_agent_sees_no_reassignment_controls(qtbot: QtBot, cache: Cache, feed: Feed) -> None:
    hand_made(cache, feed)
    window = shown_window(qtbot, cache, FakeClock(T0))  # Camille, an agent
    team = window.team
    titles = [action.text() for action in window.menuBar().actions() if action.isVisible()]
    assert "T&eam" not in titles
    assert "&Ticket" in titles
    for action in (team.reassign_action, team.undo_action, team.workload_action):
        assert not action.isVisible()
        assert not action.isEnabled()
    assert window.table.selectionMode() is QAbstractItemView.SelectionMode.SingleSelection
    window.show_workload()
    assert not team.dock.isVisible()
    window.show_view(QueueView.MY_TEAMS)
    _select(window, [101])
    _shortcut(qtbot, window, Qt.Key.Key_M)
    assert team.reassign_dialog is None
    assert team.reassign_selected() is None
    assert window.store.pending_count() == 0


# -- end to end, with the real server --------------------------------------------------------------


def _assignees(live: LiveServer, tickets: list[dict[str, Any]]) -> set[int | None]:
    return {live.call("GET", f"/tickets/{t['id']}")["assignee_id"] for t in tickets}


def test_a_lead_reassigns_three_tickets_offline_then_online(
    qtbot: QtBot,
    loop: asyncio.AbstractEventLoop,
    tmp_path: Path,
    live: LiveServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alice, bob = live.ids["alice"], live.ids["bob"]
    tickets = [live.open_ticket(f"Printer {n}", assignee_id=alice) for n in range(3)]
    ids = [ticket["id"] for ticket in tickets]
    console, window, engine = signed_in(loop, qtbot, tmp_path, live, "lead")
    assert window.team.lead
    window.show_view(QueueView.MY_TEAMS)
    window.show_workload()
    support = live.ids["support"]
    loaded = window.team.workload.find(support, alice)
    assert loaded is not None
    assert loaded.open == 3

    # offline: drag the three onto Bob in the workload panel, confirm
    live.stop()
    _select(window, ids)
    assert sorted(_drag(window, monkeypatch, support, bob)) == sorted(ids)
    dialog = window.team.reassign_dialog
    assert dialog is not None
    assert dialog.target == Target(support, bob, "bob")
    assert dialog.impact_label.text().startswith("3 tickets")
    assert dialog.load_label.text() == "bob now has 0 open, 0 at risk, 0 breached."
    dialog.ok_button.click()
    assert window.pending_label.text() == "3 pending changes"
    moved = window.team.workload.find(support, bob)
    assert moved is not None
    assert moved.open == 3  # the panel follows at once
    window.sync_action.trigger()
    loop.run_until_complete(until_settled(window, engine, lambda s: s.state is SyncState.OFFLINE))
    assert window.pending_label.text() == "3 pending changes"

    # online again: the server shows Bob
    live.start()
    window.sync_action.trigger()
    loop.run_until_complete(
        until_settled(window, engine, lambda s: s.state is SyncState.ONLINE and s.pending == 0)
    )
    assert _assignees(live, tickets) == {bob}

    # and back to Alice with the keyboard
    window.reload()
    # (the shortcut's action: waiting for the window to be active would run the Qt
    # events without the asyncio loop; test_the_window_reassigns_… types the shortcut)
    _select(window, ids)
    assert window.team.reassign_action.shortcut().toString() == "Ctrl+Shift+M"
    window.team.reassign_action.trigger()
    dialog = window.team.reassign_dialog
    assert dialog is not None
    QTest.keyClicks(dialog.filter_edit, "alice")
    assert dialog.visible_labels() == ["alice · Support"]
    dialog.ok_button.click()
    window.sync_action.trigger()
    loop.run_until_complete(
        until_settled(window, engine, lambda s: s.state is SyncState.ONLINE and s.pending == 0)
    )
    assert _assignees(live, tickets) == {alice}

    # just applied: undo sends the inverse commands
    assert window.team.undo_last() is not None
    window.sync_action.trigger()
    loop.run_until_complete(
        until_settled(window, engine, lambda s: s.state is SyncState.ONLINE and s.pending == 0)
    )
    assert _assignees(live, tickets) == {bob}
    assert window.store.conflict_count() == 0
    assert not window.store.rejected()
    loop.run_until_complete(console.close())


def test_the_server_refuses_a_crafted_reassignment_from_an_agent(
    loop: asyncio.AbstractEventLoop, live: LiveServer
) -> None:
    ticket = live.open_ticket("VPN down", assignee_id=live.ids["alice"])

    async def crafted() -> list[Any]:
        async with ApiClient(live.url, retry=RetryPolicy(attempts=1)) as client:
            await client.login("alice", PASSWORD)
            answer = await client.push(
                [
                    SetTeamCommand(
                        type="set_team",
                        mutation_id=uuid4(),
                        ticket_id=ticket["id"],
                        base_version=ticket["version"],
                        team_id=live.ids["support"],
                        assignee_id=live.ids["bob"],
                    ),
                    AssignCommand(
                        type="assign",
                        mutation_id=uuid4(),
                        ticket_id=ticket["id"],
                        base_version=ticket["version"],
                        assignee_id=live.ids["bob"],
                    ),
                ]
            )
            return list(answer.results)

    results = loop.run_until_complete(crafted())
    assert all(isinstance(r, RejectedResult) for r in results)
    assert {r.reason for r in results} == {RejectReason.FORBIDDEN}
    assert "team lead" in results[0].message
    assert all(r.message for r in results)
    assert live.call("GET", f"/tickets/{ticket['id']}")["assignee_id"] == live.ids["alice"]
