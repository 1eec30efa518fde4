"""The queue as a Qt model: a correct one, and what its cells say (countdowns, paused and
stopped clocks, provisional changes, the language)."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QBrush, QFont
from pytestqt.modeltest import ModelTester

import i18n
from desktop.demo_data import seed_demo
from desktop.models.queue import Column, QueueModel, QueueView
from sync.cache import Cache
from sync.store import Store
from tests.desktop.conftest import T0, FakeClock
from tests.desktop.queue_readings import text


def test_the_queue_model_is_a_correct_qt_model(
    qtmodeltester: ModelTester, cache: Cache, clock: FakeClock
) -> None:
    seed_demo(cache, now=T0, count=60)
    model = QueueModel(cache, me=1, clock=clock)
    qtmodeltester.check(model, force_py=True)  # type: ignore[no-untyped-call]
    model.sort(Column.PRIORITY, Qt.SortOrder.DescendingOrder)
    model.set_view(QueueView.BREACHED)
    model.set_visible_rows(0, 10)
    model.tick(T0 + dt.timedelta(hours=3))
    qtmodeltester.check(model, force_py=True)  # type: ignore[no-untyped-call]


def test_sla_cells_say_where_each_clock_stands(queue: QueueModel) -> None:
    assert text(queue, 2, Column.RESPONSE_SLA) == "30 min 00 s"
    assert text(queue, 3, Column.RESPONSE_SLA) == "Overdue 15 h 00 min"
    assert text(queue, 4, Column.RESOLUTION_SLA) == "Pending customer"
    assert text(queue, 5, Column.RESOLUTION_SLA) == "Met"
    at_risk = text(queue, 2, Column.RESPONSE_SLA, Qt.ItemDataRole.BackgroundRole)
    breached = text(queue, 3, Column.RESPONSE_SLA, Qt.ItemDataRole.BackgroundRole)
    assert isinstance(at_risk, QBrush)
    assert isinstance(breached, QBrush)
    assert at_risk.color() != breached.color()
    assert text(queue, 1, Column.RESOLUTION_SLA, Qt.ItemDataRole.BackgroundRole) is None
    tooltip = text(queue, 2, Column.RESPONSE_SLA, Qt.ItemDataRole.ToolTipRole)
    assert isinstance(tooltip, str)
    assert "Due: Mar 4, 2026, 10:30:00\u202fAM" in tooltip  # wall clock, Paris


def test_a_countdown_shows_business_time_to_the_second(queue: QueueModel) -> None:
    queue.tick(T0 + dt.timedelta(minutes=12, seconds=51))
    assert text(queue, 2, Column.RESPONSE_SLA) == "17 min 09 s"
    queue.tick(T0 + dt.timedelta(minutes=31, seconds=1))
    assert text(queue, 2, Column.RESPONSE_SLA) == "Overdue 1 min 01 s"


def test_outside_business_hours_the_cell_says_when_the_clock_resumes(queue: QueueModel) -> None:
    friday_evening = dt.datetime(2026, 3, 6, 19, 0, tzinfo=dt.UTC)  # 20:00 in Paris
    queue.tick(friday_evening)
    assert text(queue, 1, Column.RESOLUTION_SLA) == "Resumes Mon 9:00\u202fAM"
    i18n.set_language("fr")
    assert text(queue, 1, Column.RESOLUTION_SLA) == "Reprise lun. 09:00"


def test_tickets_with_unsynced_changes_are_marked_provisional(
    queue: QueueModel, cache: Cache
) -> None:
    Store(cache, user_id=1).add_comment(2, "On it.", public=True)
    queue.reload()
    # the public reply stopped the first-response clock, provisionally
    assert text(queue, 2, Column.RESPONSE_SLA) == "~ Met"
    font = text(queue, 2, Column.RESPONSE_SLA, Qt.ItemDataRole.FontRole)
    assert isinstance(font, QFont)
    assert font.italic()
    tooltip = text(queue, 2, Column.RESPONSE_SLA, Qt.ItemDataRole.ToolTipRole)
    assert isinstance(tooltip, str)
    assert "Provisional" in tooltip
    assert not str(text(queue, 1, Column.RESPONSE_SLA)).startswith("~")


def test_headers_and_labels_follow_the_language(queue: QueueModel) -> None:
    i18n.set_language("fr")
    queue.retranslate()
    header = queue.headerData(Column.PRIORITY, Qt.Orientation.Horizontal)
    assert header == "Priorité"
    assert text(queue, 2, Column.PRIORITY) == "P1 Critique"
    assert text(queue, 4, Column.RESOLUTION_SLA) == "En attente du client"


def test_invalid_indexes_have_no_data(queue: QueueModel) -> None:
    assert queue.data(QModelIndex()) is None
    assert queue.rowCount(queue.index(0, 0)) == 0
    assert queue.headerData(99, Qt.Orientation.Horizontal) is None


def test_a_cell_worded_in_a_tick_is_worded_again_in_another_language(
    queue: QueueModel,
) -> None:
    queue.set_visible_rows(0, 4)
    queue.tick(T0 + dt.timedelta(seconds=1))
    english = text(queue, 3, Column.RESPONSE_SLA)
    assert str(english).startswith("Overdue")
    i18n.set_language("fr")
    try:
        queue.retranslate()  # as the window does when the language changes
        assert str(text(queue, 3, Column.RESPONSE_SLA)).startswith("Retard")
    finally:
        i18n.set_language("en")
        queue.retranslate()
    assert text(queue, 3, Column.RESPONSE_SLA) == english
