"""The queue's memo of its clocks: a quicker start that shows exactly what a full
evaluation would, whatever changed in between."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import holidays
import pytest
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from desktop.demo_data import seed_demo
from desktop.models import sla_cells, sla_memo
from desktop.models.queue import CLOCK_STATE_ROLE, Column, QueueModel, QueueView
from desktop.models.sla_cells import SlaRules
from desktop.models.sla_memo import calendar_path, memo_path
from protocol import SlaConfigOut
from sla.events import Status
from sla.policy import calendar_to_dict, default_calendar, default_policy
from sync.cache import Cache
from sync.store import Store
from tests.desktop.conftest import T0, FakeClock, Feed


@pytest.fixture(autouse=True)
def _application(qapp: object) -> None:
    """The queue's timers (background evaluation, the memo's writing) need one."""


#: below the demo's size: a "large" queue, which evaluates lazily and keeps a memo
EAGER = 10


def open_queue(cache: Cache, clock: FakeClock, **options: object) -> QueueModel:
    return QueueModel(cache, me=1, clock=clock, eager_limit=EAGER, **options)  # type: ignore[arg-type]


def picture(model: QueueModel) -> tuple[list[int], list[list[object]], dict[QueueView, int]]:
    """Everything the queue shows: its order, its cells, its counts (every clock known)."""
    counts = model.counts()
    cells = [
        [model.index(row, column).data() for column in Column]
        + [model.index(row, column).data(CLOCK_STATE_ROLE) for column in Column]
        for row in range(model.rowCount())
    ]
    return model.ticket_ids(), cells, counts


def evaluated_afresh(cache: Cache, clock: FakeClock) -> tuple[object, ...]:
    path = memo_path(cache.path)
    aside = path.with_name("aside")
    moved = path.exists()
    if moved:
        path.replace(aside)
    try:
        fresh = open_queue(cache, clock)
        assert fresh.recalled == 0
        return picture(fresh)
    finally:
        if moved:
            aside.replace(path)


@pytest.fixture
def remembered(cache: Cache, clock: FakeClock) -> QueueModel:
    """A demo queue fully evaluated, its memo written."""
    seed_demo(cache, now=T0, count=120)
    first = open_queue(cache, clock)
    first.counts()  # every clock evaluated
    assert first.save_memo()
    assert memo_path(cache.path).stat().st_mode & 0o777 == 0o600
    return first


def test_a_start_takes_the_clocks_from_the_memo_and_shows_the_same(
    remembered: QueueModel, cache: Cache, clock: FakeClock, qtmodeltester: ModelTester
) -> None:
    clock.advance(seconds=20)
    again = open_queue(cache, clock)
    total = again.rowCount()
    assert again.recalled > total // 2  # most clocks held still over 20 seconds
    assert picture(again) == evaluated_afresh(cache, clock)
    qtmodeltester.check(again, force_py=True)  # type: ignore[no-untyped-call]


def test_hours_later_the_clocks_that_changed_state_are_evaluated_again(
    remembered: QueueModel, cache: Cache, clock: FakeClock
) -> None:
    clock.advance(hours=30)  # countdowns ran out, at-risk thresholds passed
    later = open_queue(cache, clock)
    assert 0 < later.recalled < later.rowCount()
    assert picture(later) == evaluated_afresh(cache, clock)


def test_a_ticket_changed_by_a_sync_is_evaluated_again(
    remembered: QueueModel, cache: Cache, clock: FakeClock
) -> None:
    ticket_id = remembered.ticket_ids()[0]  # the most urgent: its change shows
    ticket = cache.server_ticket(ticket_id)
    assert ticket is not None
    feed = Feed()
    feed.changes.clear()
    data = ticket.model_dump(mode="json")
    data.update(status="pending", version=ticket.version + 1)
    feed.add("ticket", ticket_id, data)
    feed.add(
        "history",
        10_000_000,
        {
            "id": 10_000_000,
            "ticket_id": ticket_id,
            "version": ticket.version + 1,
            "actor_id": 1,
            "at": T0.isoformat(),
            "field": "status",
            "before": ticket.status.value,
            "after": "pending",
        },
    )
    Store(cache, user_id=1).apply_page(feed.page())
    clock.advance(seconds=5)
    again = open_queue(cache, clock)
    assert again.recalled < remembered.rowCount()
    assert picture(again) == evaluated_afresh(cache, clock)
    position = again.position_of(ticket_id)
    assert position is not None
    assert again.index(position, Column.STATUS).data() == "Pending"


def test_a_ticket_with_pending_work_is_never_taken_from_the_memo(
    remembered: QueueModel, cache: Cache, clock: FakeClock
) -> None:
    ticket_id = remembered.ticket_ids()[0]
    Store(cache, user_id=1).set_status(ticket_id, Status.PENDING)  # offline, not synced
    again = open_queue(cache, clock)
    position = again.position_of(ticket_id)
    assert position is not None
    assert str(again.index(position, Column.RESOLUTION_SLA).data()).startswith("~")
    assert picture(again) == evaluated_afresh(cache, clock)


def test_a_memo_from_a_later_instant_is_not_used(
    remembered: QueueModel, cache: Cache, clock: FakeClock
) -> None:
    clock.advance(minutes=-5)  # the computer's clock was put back
    again = open_queue(cache, clock)
    assert again.recalled == 0
    assert picture(again) == evaluated_afresh(cache, clock)


def test_another_plan_or_policy_makes_the_memo_unused(
    remembered: QueueModel, cache: Cache, clock: FakeClock
) -> None:
    feed = Feed()
    feed.changes.clear()
    feed.add("organisation", 1, {"id": 1, "name": "Banque Mirabeau", "plan": "business"})
    Store(cache, user_id=1).apply_page(feed.page())
    again = open_queue(cache, clock)
    assert again.recalled == 0
    assert picture(again) == evaluated_afresh(cache, clock)


@pytest.mark.parametrize(
    "content",
    [b"", b"not a memo", b"offimizer-queue-sla\n{}\n", b"offimizer-queue-sla\n{broken\n"],
)
def test_an_unreadable_memo_is_no_memo(
    remembered: QueueModel,
    cache: Cache,
    clock: FakeClock,
    content: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    memo_path(cache.path).write_bytes(content)
    with caplog.at_level(logging.WARNING):
        again = open_queue(cache, clock)
    assert again.recalled == 0
    assert picture(again) == evaluated_afresh(cache, clock)


def test_a_truncated_memo_is_no_memo(
    remembered: QueueModel, cache: Cache, clock: FakeClock
) -> None:
    path = memo_path(cache.path)
    path.write_bytes(path.read_bytes()[:-100])
    again = open_queue(cache, clock)
    assert again.recalled == 0
    assert picture(again) == evaluated_afresh(cache, clock)


def test_no_memo_is_written_when_the_cache_moved_since_the_queue_read_it(
    cache: Cache, clock: FakeClock
) -> None:
    seed_demo(cache, now=T0, count=60)
    queue = open_queue(cache, clock)
    queue.counts()
    ticket_id = queue.ticket_ids()[0]
    Store(cache, user_id=1).set_status(ticket_id, Status.PENDING)  # not refreshed yet
    assert not queue.save_memo()
    assert not memo_path(cache.path).exists()
    queue.refresh_changed()
    assert queue.save_memo()


def test_the_memo_is_written_once_every_clock_is_known(
    qtbot: QtBot, cache: Cache, clock: FakeClock
) -> None:
    seed_demo(cache, now=T0, count=60)
    queue = open_queue(cache, clock, view=QueueView.MY_TICKETS)
    path: Path = memo_path(cache.path)
    assert not path.exists()
    assert not queue.fully_evaluated

    def written() -> None:
        assert path.exists()

    qtbot.waitUntil(written, timeout=5000)
    assert queue.fully_evaluated
    clock.advance(seconds=1)
    assert open_queue(cache, clock).recalled > 0


def test_a_small_queue_keeps_no_memo(cache: Cache, clock: FakeClock) -> None:
    seed_demo(cache, now=T0, count=60)
    queue = QueueModel(cache, me=1, clock=clock)  # evaluated at once: no need
    assert not queue.save_memo()
    assert not memo_path(cache.path).exists()


def test_a_new_sla_policy_makes_the_memo_unused(
    remembered: QueueModel, cache: Cache, clock: FakeClock
) -> None:
    policy = default_policy().to_dict()
    policy["at_risk"]["fraction"] = 0.5  # at risk sooner: some clocks change state
    cache.put_sla_config(
        SlaConfigOut(policy=policy, calendar=calendar_to_dict(default_calendar()), updated_at=T0)
    )
    again = open_queue(cache, clock)
    assert again.recalled == 0
    assert picture(again) == evaluated_afresh(cache, clock)


def test_tickets_that_came_since_are_evaluated_and_the_others_still_recalled(
    remembered: QueueModel, cache: Cache, clock: FakeClock
) -> None:
    feed = Feed()
    feed.changes.clear()
    feed.ticket(9_000_001, created=T0 - dt.timedelta(minutes=5), priority="P1")
    Store(cache, user_id=1).apply_page(feed.page())
    clock.advance(seconds=5)
    again = open_queue(cache, clock)
    assert 0 < again.recalled < again.rowCount()
    assert 9_000_001 in again.ticket_ids()
    assert picture(again) == evaluated_afresh(cache, clock)


# -- the calendar, kept built ----------------------------------------------------------


def rules_afresh(cache: Cache) -> SlaRules:
    sla_cells._RULES.clear()  # a new process: nothing built yet
    return SlaRules.from_cache(cache)


def test_the_calendar_is_kept_built_and_a_start_needs_no_holidays_package(
    cache: Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_demo(cache, now=T0, count=20)
    built = rules_afresh(cache)
    kept = calendar_path(cache.path)
    assert kept.stat().st_mode & 0o777 == 0o600

    def no_lookup(*args: object, **kwargs: object) -> None:
        raise AssertionError("the holidays package was asked again")

    monkeypatch.setattr(holidays, "country_holidays", no_lookup)
    again = rules_afresh(cache)
    assert again.calendar.holidays == built.calendar.holidays
    assert again.calendar.opening_spans() == built.calendar.opening_spans()
    assert (again.calendar.country, again.calendar.subdiv) == ("FR", None)


def test_a_kept_calendar_of_another_definition_is_not_used(cache: Cache) -> None:
    seed_demo(cache, now=T0, count=20)
    rules_afresh(cache)
    document = calendar_to_dict(default_calendar())
    document["holidays"] = ["2026-03-05"]  # the office closes one more day
    cache.put_sla_config(
        SlaConfigOut(policy=default_policy().to_dict(), calendar=document, updated_at=T0)
    )
    rules = rules_afresh(cache)
    assert dt.date(2026, 3, 5) in rules.calendar.holidays
    assert not rules.calendar.is_open(T0 + dt.timedelta(days=1))  # Thursday 5 March


def test_an_unreadable_kept_calendar_is_built_again(
    cache: Cache, caplog: pytest.LogCaptureFixture
) -> None:
    seed_demo(cache, now=T0, count=20)
    built = rules_afresh(cache)
    kept = calendar_path(cache.path)
    kept.write_bytes(kept.read_bytes()[:1000])  # cut short
    with caplog.at_level(logging.WARNING):
        again = rules_afresh(cache)
    assert "cannot be read" in caplog.text
    assert again.calendar.opening_spans() == built.calendar.opening_spans()
    assert json.loads(kept.read_bytes())["starts"]  # kept whole again


def test_a_kept_calendar_is_not_used_once_the_time_zone_rules_changed(
    cache: Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_demo(cache, now=T0, count=20)
    rules_afresh(cache)
    document = cache.sla_config().calendar  # type: ignore[union-attr]
    kept = calendar_path(cache.path)
    assert sla_memo.load_calendar(kept, document) is not None
    # the time-zone database was updated (Paris's DST rules, say)
    monkeypatch.setattr(sla_memo, "_zone_rules", lambda key: "rules of another year")
    assert sla_memo.load_calendar(kept, document) is None
