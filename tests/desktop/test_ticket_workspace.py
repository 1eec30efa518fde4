"""The ticket workspace: header and live clocks, staged changes with a due-time preview,
offline replies and internal notes, history, knowledge base, shortcuts, French."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from PySide6.QtCore import QEvent, QObject, QPoint, Qt
from PySide6.QtGui import QHelpEvent, QPalette
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QToolTip
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

import i18n
from desktop.models.queue import Column
from desktop.models.sla_cells import (
    MINUTES_GRID,
    clock_text,
    clock_text_step,
    clock_tooltip,
    on_minutes_grid,
)
from desktop.models.ticket_detail import HistoryModel, load_detail, search_articles
from desktop.operations import Operations
from desktop.views.main_window import MainWindow
from desktop.views.workspace.view import TicketWorkspace
from protocol import AddCommentCommand
from sla.calendar import from_us, to_us
from sla.clock import ClockKind, evaluate
from sla.events import Created, Event, PriorityChanged, Responded, Status, StatusChanged
from sla.policy import Priority, Severity, default_calendar, default_policy
from sync.cache import Cache
from sync.store import Store
from tests.desktop.conftest import T0, FakeClock, Feed, load, shown_window

PARIS = default_calendar().zone
HOUR = dt.timedelta(hours=1)
ARTICLES = [
    {"id": 7, "title": "Reset your VPN token", "body": "Open the portal…", "tags": ["vpn"]},
    {"id": 8, "title": "Printer queue stuck", "body": "Restart the spooler.", "tags": []},
    {"id": 9, "title": "Password policy", "body": "Use a VPN when abroad.", "tags": ["sso"]},
]


def short(when: dt.datetime) -> str:
    """A due time as the workspace writes it: the weekday within a week, else the date."""
    local = when.astimezone(PARIS)
    if abs(when - T0) < dt.timedelta(days=6):
        return i18n.format_weekday_time(local)
    return i18n.format_day_time(local)


@pytest.fixture
def store(cache: Cache, feed: Feed) -> Store:
    # 1: answered, open, assigned to me; 2: new, unassigned, with an internal note
    feed.ticket(
        1,
        created=T0 - HOUR,
        priority="P3",
        severity="major",
        status="open",
        assignee=1,
        subject="VPN drops every hour",
        history=((T0 - HOUR / 2, "responded", "reply"), (T0 - HOUR / 2, "status", "open")),
    )
    feed.ticket(2, created=T0 - HOUR / 4, organisation=2, subject="Printer offline")
    feed.add(
        "comment",
        900,
        {
            "id": 900,
            "ticket_id": 1,
            "author_id": 1,
            "body": "We are looking into it.",
            "public": True,
            "created_at": (T0 - HOUR / 2).isoformat(),
        },
    )
    feed.add(
        "comment",
        901,
        {
            "id": 901,
            "ticket_id": 1,
            "author_id": 2,
            "body": "Same as last week, check the firewall.",
            "public": False,
            "created_at": (T0 - HOUR / 3).isoformat(),
        },
    )
    loaded = load(cache, feed)
    cache.put_articles(ARTICLES)
    return loaded


def history_events(priority: Priority = Priority.P3) -> list[Event]:
    return [
        Created(T0 - HOUR, priority, Severity.MAJOR, "enterprise"),
        Responded(T0 - HOUR / 2),
        StatusChanged(T0 - HOUR / 2, Status.OPEN),
    ]


@pytest.fixture
def workspace(qtbot: QtBot, store: Store, clock: FakeClock) -> TicketWorkspace:
    widget = TicketWorkspace(Operations(store), now=clock)
    qtbot.addWidget(widget)
    widget.resize(700, 800)
    widget.show()
    qtbot.waitUntil(widget.windowHandle().isExposed)
    widget.show_ticket(1)
    return widget


@pytest.fixture
def window(qtbot: QtBot, store: Store, cache: Cache, clock: FakeClock) -> MainWindow:
    main = shown_window(qtbot, cache, clock)
    main.activateWindow()
    return main


def select(window: MainWindow, ticket_id: int) -> None:
    from desktop.models.queue import QueueView

    window.show_view(QueueView.ALL)
    position = window.model.position_of(ticket_id)
    assert position is not None
    window.table.setCurrentIndex(window.model.index(position, Column.TRACKING))


@pytest.mark.qt_log_ignore("propagateSizeHints", "does not support raise")  # offscreen tooltip
def test_selecting_a_ticket_shows_its_header_and_live_clocks(
    window: MainWindow, clock: FakeClock
) -> None:
    select(window, 1)
    workspace = window.workspace
    assert workspace.isVisible()
    assert workspace.header.tracking_label.text() == "INC-2026-000001"
    assert workspace.header.subject_label.text() == "VPN drops every hour"
    meta = workspace.header.meta_label.text()
    assert "Banque Mirabeau" in meta
    assert "Enterprise" in meta
    assert "Alice Martin" in meta
    assert not workspace.header.provisional_label.isVisible()

    sla = evaluate(history_events(), default_policy(), default_calendar(), T0)
    response = workspace.header.clocks[sla.response.kind]
    resolution = workspace.header.clocks[sla.resolution.kind]
    assert response.value.text() == "Met"
    assert resolution.detail.text() == f"Due: {short(sla.resolution.due)}"  # type: ignore[arg-type]
    before = resolution.value.text()
    for _second in range(60):  # a countdown beyond ten hours shows minutes
        clock.advance(seconds=1)
        workspace.tick()
    assert resolution.value.text() != before  # the countdown moved
    later = evaluate(history_events(), default_policy(), default_calendar(), clock.now)
    assert resolution.value.text() == clock_text(later.resolution, clock.now)
    # hovering the panel shows the business time left as of the last tick
    zone = default_calendar().zone
    resolution.event(QHelpEvent(QEvent.Type.ToolTip, QPoint(5, 5), QPoint(5, 5)))
    assert resolution.toolTip() == clock_tooltip(later.resolution, clock.now, zone)
    QToolTip.hideText()
    # the next tick comes when the countdown next changes (the first response is met):
    # its next minute, on the grid the queue's cells follow too
    step = clock_text_step(later.resolution)
    assert step is not None
    turns = later.resolution.next_change(clock.now, step)
    assert turns is not None
    following = from_us(on_minutes_grid(to_us(turns)), dt.UTC)
    wait = following - clock.now
    assert dt.timedelta(0) <= following - turns < MINUTES_GRID
    # the window ticks the workspace with its queue: one heartbeat, no timer of its own
    assert not workspace.ticker.isActive()
    assert workspace.due_us == to_us(following)
    assert window.heartbeat.timer.isActive()
    assert window.heartbeat.timer.interval() <= wait // dt.timedelta(milliseconds=1) + 1
    shown = resolution.value.text()
    clock.now = following - dt.timedelta(milliseconds=1)
    workspace.tick()
    assert resolution.value.text() == shown
    clock.now = following
    workspace.tick()
    assert resolution.value.text() != shown
    timeline = workspace.header.timeline_label.text()
    assert "Started" in timeline
    assert "Met" in timeline

    select(window, 2)
    assert workspace.header.tracking_label.text() == "INC-2026-000002"
    assert "Atelier Lumen" in workspace.header.meta_label.text()


def test_preview_shows_the_new_due_time_and_nothing_changes_until_confirmed(
    workspace: TicketWorkspace, store: Store, cache: Cache
) -> None:
    workspace.fields.priority_combo.setCurrentIndex(workspace.fields.priority_combo.findData("P1"))
    assert workspace.fields.preview.isVisible()

    policy, calendar = default_policy(), default_calendar()
    now_sla = evaluate(history_events(), policy, calendar, T0)
    raised = evaluate([*history_events(), PriorityChanged(T0, Priority.P1)], policy, calendar, T0)
    assert raised.resolution.due != now_sla.resolution.due
    expected = (
        f"Resolution due: {short(now_sla.resolution.due)}"  # type: ignore[arg-type]
        f" → {short(raised.resolution.due)}"  # type: ignore[arg-type]
    )
    assert expected in workspace.fields.preview_lines.text()
    # nothing is applied yet
    assert store.pending_count() == 0
    assert cache.ticket(1).priority == "P3"  # type: ignore[union-attr]

    QTest.keyClick(workspace.fields.priority_combo, Qt.Key.Key_Escape)
    assert not workspace.fields.preview.isVisible()
    assert workspace.fields.priority_combo.currentData() == "P3"
    assert store.pending_count() == 0


def test_applying_a_status_change_queues_a_command_and_marks_the_ticket_provisional(
    window: MainWindow, store: Store, cache: Cache
) -> None:
    select(window, 1)
    workspace = window.workspace
    combo = workspace.fields.status_combo
    combo.setCurrentIndex(combo.findData("pending"))
    assert "Resolution due:" in workspace.fields.preview_lines.text()
    assert "Pending customer" in workspace.fields.preview_lines.text()
    assert store.pending_count() == 0

    QTest.keyClick(combo, Qt.Key.Key_Return)  # Enter confirms

    queued = store.queued()
    assert [command.type for command in queued] == ["set_status"]
    assert cache.ticket(1).status == "pending"  # type: ignore[union-attr]
    assert workspace.header.provisional_label.isVisible()
    resolution = workspace.header.clocks[ClockKind.RESOLUTION]
    assert resolution.value.text() == "~ Pending customer"
    assert not workspace.fields.preview.isVisible()
    assert "1 pending change" in window.pending_label.text()
    row = window.model.position_of(1)
    assert row is not None
    assert window.model.index(row, Column.STATUS).data() == "Pending"


def test_replying_offline_shows_the_reply_as_sending(
    workspace: TicketWorkspace, store: Store
) -> None:
    workspace.reply.start(public=True)
    QTest.keyClicks(workspace.reply.editor, "Please restart the client.")
    QTest.keyClick(workspace.reply.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)

    assert [command.type for command in store.queued()] == ["add_comment"]
    assert workspace.reply.editor.toPlainText() == ""
    last = workspace.conversation.cards[-1]
    assert last.body.text() == "Please restart the client."
    assert "sending…" in last.header_text
    assert not last.internal
    assert all("sending…" not in card.header_text for card in workspace.conversation.cards[:-1])
    assert workspace.header.provisional_label.isVisible()


def test_internal_notes_are_styled_apart(workspace: TicketWorkspace, store: Store) -> None:
    public, internal = workspace.conversation.cards
    assert not public.internal
    assert internal.internal
    assert "Internal note" in internal.header_text
    assert "Internal note" not in public.header_text
    window_role = QPalette.ColorRole.Window
    assert internal.palette().color(window_role) != public.palette().color(window_role)
    assert internal.palette().color(window_role).name() == "#fff6d5"

    workspace.reply.start(public=False)
    assert workspace.reply.note_mode_button.isChecked()
    QTest.keyClicks(workspace.reply.editor, "Escalate if it happens again")
    workspace.reply.send_button.click()
    note = workspace.conversation.cards[-1]
    assert note.internal
    assert "sending…" in note.header_text
    command = store.queued()[-1]
    assert isinstance(command, AddCommentCommand)
    assert command.public is False


def test_a_knowledge_base_article_is_inserted_into_the_reply_as_a_link(
    workspace: TicketWorkspace,
) -> None:
    QTest.keyClicks(workspace.reply.editor, "See:")
    workspace.focus_knowledge_base()
    QTest.keyClicks(workspace.knowledge_base.search_box, "VPN")
    # title and body both match: the title match comes first
    assert [
        workspace.knowledge_base.results.item(i).text()
        for i in range(workspace.knowledge_base.results.count())
    ] == [
        "Reset your VPN token",
        "Password policy",
    ]
    QTest.keyClick(workspace.knowledge_base.search_box, Qt.Key.Key_Return)
    assert (
        workspace.reply.editor.toPlainText()
        == "See: https://offimizer/support/kb/7 — Reset your VPN token"
    )
    assert workspace.reply.editor.hasFocus()


def test_knowledge_base_search_matches_title_tags_and_body_case_insensitively() -> None:
    assert [a.id for a in search_articles(ARTICLES, "sso")] == [9]
    assert [a.id for a in search_articles(ARTICLES, "SPOOLER")] == [8]
    assert [a.id for a in search_articles(ARTICLES, "vpn portal")] == [7]
    assert search_articles(ARTICLES, "nothing like this") == []
    assert len(search_articles([*ARTICLES, {"title": "no id"}], "")) == 3


# the completer's popup: the offscreen platform cannot grab the keyboard nor raise windows
@pytest.mark.qt_log_ignore("propagateSizeHints", "grabbing the keyboard", r"raise\(\)")
def test_the_assignee_picker_filters_the_team_and_assigns_on_enter(
    workspace: TicketWorkspace, store: Store, cache: Cache
) -> None:
    combo = workspace.fields.assignee_combo
    names = [combo.itemText(i) for i in range(combo.count())]
    assert names == ["Unassigned", "Bob Lefèvre", "Camille Durand"]
    line = combo.lineEdit()
    assert line is not None
    line.selectAll()
    QTest.keyClicks(line, "lef")
    completer = combo.completer()
    assert completer is not None
    assert completer.completionCount() == 1
    assert completer.currentCompletion() == "Bob Lefèvre"
    QTest.keyClick(line, Qt.Key.Key_Return)  # picks Bob, shows the preview
    assert combo.currentData() == 2
    assert "Assignee: Bob Lefèvre" in workspace.fields.preview_lines.text()
    assert "(unchanged)" in workspace.fields.preview_lines.text()
    assert store.pending_count() == 0
    QTest.keyClick(line, Qt.Key.Key_Return)  # applies
    assert [command.type for command in store.queued()] == ["assign"]
    assert cache.ticket(1).assignee_id == 2  # type: ignore[union-attr]


def test_shortcuts_work_and_are_in_the_ticket_menu(
    qtbot: QtBot, window: MainWindow, store: Store, cache: Cache
) -> None:
    select(window, 2)
    workspace = window.workspace
    window.table.setFocus()
    QTest.keyClick(
        window.table,
        Qt.Key.Key_A,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert cache.ticket(2).assignee_id == 1  # type: ignore[union-attr]
    assert [command.type for command in store.queued()] == ["assign"]

    window.table.setFocus()
    QTest.keyClick(window.table, Qt.Key.Key_N)
    assert workspace.reply.editor.hasFocus()
    assert workspace.reply.note_mode_button.isChecked()
    QTest.keyClicks(workspace.reply.editor, "rns")  # typing, not shortcuts
    assert workspace.reply.editor.toPlainText() == "rns"
    assert workspace.reply.note_mode_button.isChecked()

    window.table.setFocus()
    QTest.keyClick(window.table, Qt.Key.Key_R)
    assert workspace.reply.editor.hasFocus()
    assert workspace.reply.reply_mode_button.isChecked()

    window.table.setFocus()
    QTest.keyClick(window.table, Qt.Key.Key_S)
    assert workspace.fields.status_combo.hasFocus()
    QTest.keyClick(workspace.fields.status_combo, Qt.Key.Key_Down)  # new → open: staged
    assert workspace.fields.preview.isVisible()
    assert len(store.queued()) == 1
    QTest.keyClick(
        workspace.fields.status_combo, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier
    )
    assert [command.type for command in store.queued()] == ["assign", "set_status"]

    menu = [action.text() for action in window.ticket_menu.actions()]
    for text in ("Assign to &me", "&Reply", "&Internal note", "Change &status", "&Apply changes"):
        assert text in menu
    shortcuts = {a.text(): a.shortcut().toString() for a in window.ticket_menu.actions()}
    assert shortcuts["Assign to &me"] == "Ctrl+Shift+A"
    assert shortcuts["&Apply changes"] == "Ctrl+Return"
    assert (shortcuts["&Reply"], shortcuts["&Internal note"], shortcuts["Change &status"]) == (
        "R",
        "N",
        "S",
    )


def test_enter_in_the_queue_opens_the_ticket_and_every_control_has_a_name(
    window: MainWindow,
) -> None:
    select(window, 1)
    window.table.setFocus()
    QTest.keyClick(window.table, Qt.Key.Key_Return)
    workspace = window.workspace
    assert workspace.conversation.hasFocus()
    from PySide6.QtWidgets import (
        QAbstractButton,
        QAbstractItemView,
        QComboBox,
        QLineEdit,
        QPlainTextEdit,
        QScrollArea,
        QTabBar,
    )

    kinds = (QAbstractButton, QComboBox, QLineEdit, QPlainTextEdit, QAbstractItemView, QScrollArea)
    controls = [
        widget
        for kind in kinds
        for widget in workspace.findChildren(kind)
        # not a combo's own line edit, nor Qt's inner buttons (tab scrollers, clear buttons)
        if not isinstance(widget.parent(), QComboBox)
        and widget.focusPolicy() != Qt.FocusPolicy.NoFocus
        and not widget.objectName().startswith("qt_")
        and not widget.isWindow()
        and widget.window() is window  # not a popup's list
        and not isinstance(widget.parent(), QTabBar)  # its scroll arrows
    ]
    unnamed = [f"{type(w).__name__}:{w.objectName()}" for w in controls if not w.accessibleName()]
    assert len(controls) > 10
    assert unnamed == []


def test_history_shows_who_changed_what_and_passes_the_model_tester(
    qtmodeltester: ModelTester, workspace: TicketWorkspace, store: Store
) -> None:
    store.set_priority(1, Priority.P1)  # the workspace hears of it through the change bus
    model = workspace.history_model
    first = [model.index(0, c).data() for c in range(model.columnCount())]
    assert first[1:] == ["Camille Durand", "Priority", "P3 Normal → P1 Critical"]
    assert "sending…" in first[0]
    empty = HistoryModel(lambda: PARIS)
    qtmodeltester.check(empty, force_py=True)  # type: ignore[no-untyped-call]
    qtmodeltester.check(model, force_py=True)  # type: ignore[no-untyped-call]
    assert workspace.tabs.tabText(1) == f"History ({model.rowCount()})"


def test_french_labels_after_switching_language(window: MainWindow) -> None:
    select(window, 1)
    workspace = window.workspace
    i18n.set_language("fr")
    window.retranslate()
    assert workspace.fields.status_combo.accessibleName() == "Statut"
    assert workspace.fields.priority_combo.accessibleName() == "Priorité"
    assert workspace.fields.severity_combo.accessibleName() == "Gravité"
    assert workspace.fields.assignee_combo.accessibleName() == "Assigné à"
    assert workspace.fields.status_combo.currentText() == "Ouvert"
    assert workspace.header.clocks[ClockKind.RESPONSE].value.text() == "Respecté"
    assert workspace.fields.assign_to_me_button.text() == "&M’assigner"
    assert workspace.fields.status_caption.text() == "&Statut"
    assert workspace.tabs.tabText(0) == "Conversation (2)"
    assert workspace.tabs.tabText(1).startswith("Historique (")
    assert workspace.tabs.tabText(2) == "Base de connaissances"
    assert workspace.reply.reply_mode_button.text() == "Réponse"
    assert workspace.reply.note_mode_button.text() == "Note interne"
    assert "Note interne" in workspace.conversation.cards[1].header_text


def test_load_detail_of_a_ticket_not_cached_is_none(cache: Cache, store: Store) -> None:
    assert load_detail(cache, 404) is None
    detail = load_detail(cache, 1)
    assert detail is not None
    assert [c.public for c in detail.comments] == [True, False]
    assert [m.display_name for m in detail.team_members] == ["Bob Lefèvre", "Camille Durand"]


def test_a_tick_that_fails_does_not_stop_the_clocks(
    workspace: TicketWorkspace, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert workspace.ticker.isActive()
    workspace.ticker.stop()

    def broken(*_args: object) -> None:
        raise RuntimeError("a timeline that cannot be drawn")

    monkeypatch.setattr(workspace.header, "show_timeline", broken)
    clock.advance(seconds=1)
    with pytest.raises(RuntimeError):
        workspace.tick()  # reported by the console's error handler
    assert workspace.ticker.isActive()  # and the next tick still comes


class _LayoutRequests(QObject):
    """Counts the requests to lay a widget out again, anywhere in the application."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, _watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.LayoutRequest:
            self.count += 1
        return False


def test_a_countdown_that_moves_repaints_itself_and_lays_nothing_out(
    qtbot: QtBot, window: MainWindow, clock: FakeClock
) -> None:
    select(window, 1)
    workspace = window.workspace
    resolution = workspace.header.clocks[ClockKind.RESOLUTION]
    requests = _LayoutRequests()
    app = QApplication.instance()
    assert app is not None
    app.installEventFilter(requests)

    def laid_out() -> bool:  # the window done laying itself out for the ticket shown
        before = requests.count
        QApplication.processEvents()
        return requests.count == before

    try:
        qtbot.waitUntil(laid_out)
        requests.count = 0
        for _minute in range(3):
            shown = resolution.value.text()
            clock.advance(seconds=60)
            workspace.tick()
            QApplication.processEvents()
            assert resolution.value.text() != shown  # the countdown moved
        # a label would have had the window laid out again at each new text
        assert requests.count == 0
    finally:
        app.removeEventFilter(requests)


def test_the_window_ticks_its_queue_and_workspace_at_one_instant(
    window: MainWindow, clock: FakeClock
) -> None:
    select(window, 1)
    workspace = window.workspace
    resolution = workspace.header.clocks[ClockKind.RESOLUTION]
    assert workspace.due_us is not None
    assert not workspace.ticker.isActive()
    shown = resolution.value.text()
    clock.now = from_us(workspace.due_us, dt.UTC)
    window.heartbeat.tick()  # the heartbeat: the workspace's countdown changes with it
    assert resolution.value.text() != shown
    assert workspace.due_us is not None
    assert workspace.due_us > to_us(clock.now)
    shown = resolution.value.text()
    window.heartbeat.tick()  # before the workspace is due: left as it is
    assert resolution.value.text() == shown


def test_a_short_workspace_scrolls_instead_of_squeezing_its_clocks(
    qtbot: QtBot, workspace: TicketWorkspace
) -> None:
    """As under the team lead's workload panel: the clocks stay readable, every line
    whole, and the rest of the workspace is a scroll away."""
    workspace.resize(560, 330)
    QApplication.processEvents()
    for panel in workspace.header.clocks.values():
        lines = [panel.title, panel.value, panel.detail]
        assert panel.height() >= panel.minimumSizeHint().height()
        for above, below in itertools.pairwise(lines):
            assert above.geometry().bottom() < below.geometry().top()
            assert above.height() >= above.minimumSizeHint().height()
    bar = workspace.scroll_area.verticalScrollBar()
    assert bar.maximum() > 0  # the reply editor below: reached by scrolling
    body = workspace.scroll_area.widget()
    assert body is not None
    assert body.width() >= body.minimumSizeHint().width()
    for language in ("en", "fr"):  # under the workload panel of a 800-pixel window
        i18n.set_language(language)
        workspace.retranslate()
        workspace.resize(530, 470)
        QApplication.processEvents()
        assert bar.maximum() == 0  # everything in view: the tabs took what room was left


def test_replying_in_a_short_workspace_scrolls_the_editor_into_view(
    qtbot: QtBot, workspace: TicketWorkspace
) -> None:
    workspace.resize(560, 330)
    workspace.activateWindow()
    QApplication.processEvents()
    bar = workspace.scroll_area.verticalScrollBar()
    assert bar.value() == 0
    workspace.reply.start(public=True)
    qtbot.waitUntil(lambda: workspace.reply.editor.hasFocus())
    viewport = workspace.scroll_area.viewport()
    top = workspace.reply.editor.mapTo(viewport, QPoint(0, 0)).y()
    assert bar.value() > 0
    assert 0 <= top < viewport.height()
    scrolled = bar.value()  # a control in view, clicked: the view stays where it is
    workspace.tabs.setFocus(Qt.FocusReason.MouseFocusReason)
    qtbot.waitUntil(lambda: workspace.tabs.hasFocus())
    assert bar.value() == scrolled
