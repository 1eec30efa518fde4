"""The main window: views with counts, search, keyboard, ticker, languages, screenshot."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QTreeWidgetItem, QWidget
from pytestqt.qtbot import QtBot

import i18n
from desktop.demo_data import seed_demo
from desktop.models.queue import Column, QueueView
from desktop.views.banner import (
    RECHECK,
    START_TOLERANCE,
    AnnouncementBanner,
    active_announcements,
)
from desktop.views.main_window import MainWindow
from sla.policy import Priority
from sync.cache import Cache
from tests.desktop.conftest import T0, FakeClock, demo_screenshot, shown_window


@pytest.fixture
def window(qtbot: QtBot, cache: Cache, clock: FakeClock) -> MainWindow:
    seed_demo(cache, now=T0, count=120)
    return shown_window(qtbot, cache, clock)


def nav_item(window: MainWindow, position: int) -> QTreeWidgetItem:
    item = window.nav.topLevelItem(position)
    assert item is not None
    return item


def nav_labels(window: MainWindow) -> list[str]:
    return [nav_item(window, i).text(0) for i in range(window.nav.topLevelItemCount())]


def headers(window: MainWindow) -> list[str]:
    model = window.model
    return [str(model.headerData(c, Qt.Orientation.Horizontal)) for c in Column]


def menus(window: MainWindow) -> list[str]:
    return [action.text() for action in window.menuBar().actions()]


def test_views_show_live_counts_and_filter_the_queue(window: MainWindow) -> None:
    counts = window.model.counts()
    item = nav_item(window, 4)
    assert item.text(0) == "Breached"
    assert item.text(1) == str(counts[QueueView.BREACHED])
    assert counts[QueueView.BREACHED] > 0
    window.show_view(QueueView.BREACHED)
    assert window.model.rowCount() == counts[QueueView.BREACHED]
    assert window.view_title.text() == "Breached"


def test_search_combines_with_the_current_view(qtbot: QtBot, window: MainWindow) -> None:
    window.show_view(QueueView.ALL)
    everything = window.model.rowCount()
    QTest.keyClicks(window.search_box, "printer")
    window.apply_search()  # what the debounce timer does
    found = window.model.ticket_ids()
    assert 0 < len(found) < everything
    for ticket_id in found:
        ticket = window.cache.ticket(ticket_id)
        assert ticket is not None
        assert "printer" in ticket.subject.lower()
    window.show_view(QueueView.MY_TICKETS)
    mine = window.model.ticket_ids()
    assert set(mine) <= set(found)
    assert all(window.cache.ticket(i).assignee_id == 1 for i in mine)  # type: ignore[union-attr]
    window.search_box.clear()
    window.apply_search()
    assert window.model.rowCount() == window.model.counts()[QueueView.MY_TICKETS]


def test_j_and_k_move_in_the_queue_and_ctrl_f_focuses_search(
    qtbot: QtBot, window: MainWindow
) -> None:
    window.table.setFocus()
    window.table.setCurrentIndex(window.model.index(0, 0))
    QTest.keyClick(window.table, Qt.Key.Key_J)
    QTest.keyClick(window.table, Qt.Key.Key_J)
    assert window.table.currentIndex().row() == 2
    QTest.keyClick(window.table, Qt.Key.Key_K)
    assert window.table.currentIndex().row() == 1
    QTest.keyClick(window.table, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.search_box.hasFocus()
    QTest.keyClick(window.search_box, Qt.Key.Key_J)  # typing, not moving
    assert window.search_box.text() == "j"
    assert window.table.currentIndex().row() == 1


def test_the_ticker_follows_the_visible_countdowns(window: MainWindow) -> None:
    window.show_view(QueueView.ALL)
    window.table.update_visible_rows()
    first, last = window.model.visible_rows
    assert first == 0
    assert 5 < last < window.model.rowCount() - 1
    window.heartbeat.schedule()
    # a visible running countdown changes within the second
    assert window.heartbeat.timer.isActive()
    assert window.heartbeat.timer.interval() <= 1000


def test_clicking_a_header_sorts_the_queue(qtbot: QtBot, window: MainWindow) -> None:
    window.show_view(QueueView.ALL)
    header = window.table.horizontalHeader()
    x = header.sectionViewportPosition(Column.PRIORITY) + 5
    QTest.mouseClick(
        header.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(x, 5)
    )
    assert window.model.sort_column == Column.PRIORITY
    priorities = [window.model.row_at(r).ticket.priority for r in range(window.model.rowCount())]
    assert priorities == sorted(priorities) or priorities == sorted(priorities, reverse=True)
    window.default_sort_action.trigger()
    assert window.model.sort_column == -1


def test_switching_to_french_changes_every_visible_label(window: MainWindow) -> None:
    english = (nav_labels(window), headers(window), menus(window), window.windowTitle())
    assert nav_labels(window)[:3] == ["My tickets", "Unassigned", "My teams"]
    i18n.set_language("fr")
    window.retranslate()
    assert window.windowTitle() == "Console Offimizer"
    assert nav_labels(window) == [
        "Mes tickets",
        "Non assignés",
        "Mes équipes",
        "À risque",
        "Dépassé",
        "En attente",
        "Mis à jour récemment",
        "Tous les tickets",
    ]
    assert headers(window)[Column.PRIORITY] == "Priorité"
    assert headers(window)[Column.RESPONSE_SLA] == "Première réponse"
    assert menus(window) == ["&Fichier", "&Affichage", "&Ticket", "&Aide"]
    assert window.connection_label.text() == "Hors ligne"
    french = (nav_labels(window), headers(window), menus(window), window.windowTitle())
    for before, after in zip(english[:2], french[:2], strict=True):
        # every label but those spelled alike in both languages changed
        assert sum(a != b for a, b in zip(before, after, strict=True)) >= len(before) - 2


@pytest.mark.slow
def test_screenshot_option_writes_a_png_of_the_main_window(tmp_path: Path) -> None:
    target = tmp_path / "queue.png"
    environment = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = demo_screenshot(target, env=environment, timeout=120)
    assert result.returncode == 0, result.stderr
    image = QImage(str(target))
    assert not image.isNull()
    assert image.width() >= 1200
    assert image.height() >= 700


def test_an_announcement_published_now_shows_despite_a_clock_a_moment_behind(
    cache: Cache,
) -> None:
    def starting(seconds: int) -> dict[str, object]:
        return {
            "id": seconds,
            "title": f"in {seconds} s",
            "body": "",
            "starts_at": (T0 + dt.timedelta(seconds=seconds)).isoformat(),
            "ends_at": None,
        }

    # the server said "now" a second after this console's estimate of its clock
    cache.put_announcements([starting(1), starting(30)])
    assert [item["title"] for item in active_announcements(cache, T0)] == ["in 1 s"]
    later = T0 + dt.timedelta(seconds=30)
    assert {item["title"] for item in active_announcements(cache, later)} == {"in 1 s", "in 30 s"}


def test_the_banner_shows_and_hides_itself_when_announcements_start_and_end(
    qtbot: QtBot, cache: Cache, clock: FakeClock
) -> None:
    minute = dt.timedelta(minutes=1)
    cache.put_announcements(
        [
            {
                "id": 1,
                "title": "Mail outage",
                "body": "",
                "starts_at": (T0 + 3 * minute).isoformat(),
                "ends_at": (T0 + 6 * minute).isoformat(),
            }
        ]
    )
    above = QWidget()  # the window above the queue
    qtbot.addWidget(above)
    banner = AnnouncementBanner(cache, lambda: clock.now, lambda: dt.UTC, parent=above)
    above.show()

    def wait() -> dt.timedelta:  # what the banner's timer waits for, then fired
        assert banner.timer.isActive()
        return dt.timedelta(milliseconds=banner.timer.interval())

    assert not banner.isVisible()
    # no polling: it wakes when the outage starts (as the banner reckons starts)
    assert wait() == 3 * minute - START_TOLERANCE + dt.timedelta(milliseconds=1)
    clock.now = T0 + 3 * minute - START_TOLERANCE
    banner.timer.timeout.emit()
    assert banner.isVisible()
    assert "Mail outage" in banner.label.text()
    assert wait() == 3 * minute + dt.timedelta(milliseconds=1)  # until its expected end
    clock.now = T0 + 6 * minute - START_TOLERANCE
    banner.timer.timeout.emit()
    assert not banner.isVisible()
    assert wait() == RECHECK + dt.timedelta(milliseconds=1)  # nothing known to come
    banner.stop()
    assert not banner.timer.isActive()


def test_countdown_cells_are_painted_in_their_state_colours(window: MainWindow) -> None:
    """The SLA cells are painted from one model call; what shows is what the model says:
    an overdue clock's cell in its red background, with its text, selected or not."""
    window.show_view(QueueView.ALL)
    model, table = window.model, window.table
    column = Column.RESOLUTION_SLA
    overdue = [
        row
        for row in range(min(model.rowCount(), 12))
        if model.data(model.index(row, column), Qt.ItemDataRole.BackgroundRole) is not None
    ]
    assert overdue, "the demo queue starts with overdue tickets"
    row = overdue[-1]
    index = model.index(row, column)
    expected = model.data(index, Qt.ItemDataRole.BackgroundRole).color()
    table.clearSelection()
    table.setCurrentIndex(model.index(0, Column.TRACKING))
    if row == 0:
        table.setCurrentIndex(model.index(1, Column.TRACKING))
    image = table.viewport().grab().toImage()
    rect = table.visualRect(index)
    # the cell's right end: past its text, the background alone
    assert image.pixelColor(rect.right() - 2, rect.center().y()) == expected
    # its text is drawn (dark pixels on the light red), in the cell's own foreground
    foreground: QColor = model.data(index, Qt.ItemDataRole.ForegroundRole).color()
    left = [
        image.pixelColor(x, y)
        for x in range(rect.left(), rect.left() + 60)
        for y in range(rect.top(), rect.bottom())
    ]
    assert any(colour.lightness() < expected.lightness() - 60 for colour in left)

    def near(colour: QColor) -> bool:
        return (
            max(
                abs(colour.red() - foreground.red()),
                abs(colour.green() - foreground.green()),
                abs(colour.blue() - foreground.blue()),
            )
            < 24
        )

    assert any(near(colour) for colour in left)
    # a selected row is the style's: the selection colour, not the clock's
    table.selectRow(row)
    image = table.viewport().grab().toImage()
    assert image.pixelColor(rect.right() - 2, rect.center().y()) != expected


def test_field_cells_are_painted_with_their_text_and_emphasis(window: MainWindow) -> None:
    """Every cell but the organisation's is painted from the model's one-call look: a
    critical priority in red, the other fields in the view's text colour."""
    window.show_view(QueueView.ALL)
    model, table = window.model, window.table
    table.clearSelection()
    rows = range(min(model.rowCount(), 20))

    def first(column: Column, wanted: str) -> int:
        found = [row for row in rows if model.index(row, column).data() == wanted]
        assert found, f"the demo queue shows {wanted!r} near the top"
        return found[0]

    def text_colours(row: int, column: Column) -> list[QColor]:
        rect = table.visualRect(model.index(row, column))
        base = image.pixelColor(rect.right() - 2, rect.center().y())
        return [
            image.pixelColor(x, y)
            for x in range(rect.left(), rect.right())
            for y in range(rect.top(), rect.bottom())
            if image.pixelColor(x, y) != base
        ]

    def reddish(colour: QColor) -> bool:
        return colour.red() > colour.green() + 60 and colour.red() > colour.blue() + 60

    critical = first(Column.PRIORITY, Priority.P1.display)
    table.setCurrentIndex(model.index(critical, Column.SUBJECT))
    table.clearSelection()
    image = table.viewport().grab().toImage()
    assert any(reddish(colour) for colour in text_colours(critical, Column.PRIORITY))
    plain = text_colours(critical, Column.TRACKING)
    assert plain, "the tracking number is drawn"
    assert not any(reddish(colour) for colour in plain)
