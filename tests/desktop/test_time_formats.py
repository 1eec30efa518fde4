"""One time format a language, from babel's locale data: 12-hour in English, 24-hour in
French, in every place the console shows a time."""

from __future__ import annotations

import ast
import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.modeltest import ModelTester

import i18n
from desktop.models.queue import Column, QueueModel, QueueView
from desktop.models.sla_cells import clock_text
from desktop.models.ticket_detail import short_instant
from sla.clock import ClockStatus, evaluate
from sla.events import Created
from sla.policy import Priority, Severity, default_calendar, default_policy
from sync.cache import Cache
from tests.desktop.conftest import T0, FakeClock, Feed, load

ROOT = Path(__file__).resolve().parents[2]
#: An hour-and-minute pattern written out by hand ("HH:mm", "h:mm a", …).
_HOUR_PATTERN = re.compile(r"(?<![A-Za-z])(?:HH|H|hh|h|kk|k|KK|K):mm")


@pytest.fixture(autouse=True)
def english_after() -> Iterator[None]:
    yield
    i18n.set_language("en")


def _paris() -> dt.tzinfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo("Europe/Paris")


def test_no_hour_pattern_is_written_by_hand_outside_the_i18n_layer() -> None:
    """Every time shown goes through i18n's helpers, which follow the language."""
    found: list[str] = []
    for folder in ("desktop", "sync", "sla"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Constant)
                    and isinstance(node.value, str)
                    and _HOUR_PATTERN.search(node.value)
                ):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    assert found == []


def test_each_language_shows_its_own_time_everywhere(
    cache: Cache, clock: FakeClock, qtmodeltester: ModelTester
) -> None:
    paris = _paris()
    afternoon = dt.datetime(2026, 3, 3, 16, 19, tzinfo=paris)  # Tuesday, the day before T0
    morning = dt.datetime(2026, 3, 4, 8, 5, tzinfo=paris)  # Wednesday T0's morning
    feed = Feed()
    feed.ticket(1, created=afternoon, subject="Tuesday afternoon")
    feed.ticket(2, created=morning, subject="This morning")
    load(cache, feed)
    model = QueueModel(cache, me=1, clock=clock, view=QueueView.ALL)
    qtmodeltester.check(model, force_py=True)  # type: ignore[no-untyped-call]
    evening = dt.datetime(2026, 3, 5, 19, 30, tzinfo=paris)  # after hours: resumes Friday 9:00
    created = Created(evening, Priority.P3, Severity.MINOR, "enterprise")
    paused = evaluate([created], default_policy(), default_calendar(), evening).response
    assert paused.state is ClockStatus.OUTSIDE_HOURS
    expected = {
        "en": ("Tue 4:19\u202fPM", "8:05\u202fAM", "Thu 4:19\u202fPM", "Fri 9:00\u202fAM"),
        "fr": ("mar. 16:19", "08:05", "jeu. 16:19", "ven. 09:00"),
    }
    for language, (tuesday, today, thursday, friday) in expected.items():
        i18n.set_language(language)
        model.retranslate()
        updated = {}
        for row in range(model.rowCount()):
            ticket = model.row_at(row).ticket
            updated[ticket.id] = model.data(model.index(row, Column.UPDATED))
        assert updated == {1: tuesday, 2: today}, language  # the queue's Updated column
        thursday_at = dt.datetime(2026, 3, 5, 16, 19, tzinfo=paris)
        assert short_instant(thursday_at, T0, paris) == thursday  # the workspace's "Due:"
        assert friday in clock_text(paused, evening), language  # an SLA cell's "Resumes …"
        for text in (tuesday, today, thursday, friday):
            assert ("M" in text) is (language == "en"), text  # AM/PM in English only
