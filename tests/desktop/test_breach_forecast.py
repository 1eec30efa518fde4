"""The team lead's breach forecast: checked against `sla` on a hand-made case, the
reassignment preview, and the thresholds a tick counts by."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from desktop.demo_data import seed_demo
from desktop.models.forecast import FORECAST_HORIZON, load_open_tickets, preview_move, snapshot
from desktop.models.sla_cells import SlaRules
from sla.calendar import from_us, to_us
from sla.clock import ClockStatus, evaluate
from sync.cache import Cache
from tests.clock import FakeClock
from tests.desktop.conftest import T0, Feed
from tests.desktop.team_lead_cache import HAND_MADE, hand_made, ticket_events, workload_model


def test_the_forecast_matches_sla_on_a_hand_made_case(cache: Cache, feed: Feed) -> None:
    clock = FakeClock(T0)
    hand_made(cache, feed)
    model = workload_model(cache, clock)
    rules = SlaRules.defaults()
    calendar = rules.calendar
    # "if nothing moves": the clocks evaluated 4 business hours from now, with sla itself
    horizon = from_us(
        calendar.locate_us(
            calendar.position_us(to_us(T0)) + FORECAST_HORIZON // dt.timedelta(microseconds=1)
        ),
        calendar.zone,
    )
    assert horizon == dt.datetime(2026, 3, 4, 13, 0, tzinfo=dt.UTC)  # 14:00 in Paris
    expected: Counter[int | None] = Counter()
    for ticket_id, spec in HAND_MADE.items():
        if spec.get("status") == "resolved":
            continue
        events = ticket_events(cache, ticket_id)
        now = evaluate(events, rules.policy, calendar, T0)
        later = evaluate(events, rules.policy, calendar, horizon)
        breached_now = ClockStatus.BREACHED in (now.response.state, now.resolution.state)
        breached_later = ClockStatus.BREACHED in (later.response.state, later.resolution.state)
        if breached_later and not breached_now:
            expected[spec.get("assignee")] += 1
    # by hand: 101 (30 min left), 103 (1 h left) and 104 (0 left); not 105 (breached
    # already), 102 (9 h left) nor 106 (paused while pending)
    assert expected == Counter({1: 1, 2: 1, None: 1})
    forecast = {row.agent_id: row.forecast for row in model.rows if row.team_id == 1}
    assert forecast == {1: 1, 2: 1, None: 1}
    breached = {row.agent_id: row.breached for row in model.rows if row.team_id == 1}
    assert breached == {1: 0, 2: 0, None: 1}
    pending = {row.agent_id: row.pending for row in model.rows if row.team_id == 1}
    assert pending == {1: 1, 2: 0, None: 0}

    # time passes (30 min): 101's first response is breached now, no longer a forecast
    clock.advance(minutes=31)
    model.tick()
    camille = model.find(1, 1)
    assert camille is not None
    assert camille.breached == 1
    assert camille.forecast == 0


def test_the_reassignment_preview_says_what_happens_to_sla(cache: Cache, feed: Feed) -> None:
    hand_made(cache, feed)
    preview = preview_move(cache, [101, 102, 103, 105], SlaRules.defaults(), T0)
    assert (preview.count, preview.breached, preview.soon, preview.forecast) == (4, 1, 1, 2)
    assert preview.text() == (
        "4 tickets, 1 already breached, 1 will breach within the hour, "
        "1 more within 4 business hours"
    )
    calm = preview_move(cache, [102], SlaRules.defaults(), T0)
    assert calm.text() == "1 ticket, none at risk of breaching soon"


def test_thresholds_hold_whenever_they_are_computed(cache: Cache) -> None:
    """What lets a sync evaluate only the tickets it changed: the positions from which
    a ticket is at risk, breached, forecast, are the same from a later evaluation."""
    seed_demo(cache, now=T0, count=120)
    tickets = load_open_tickets(cache)
    rules = SlaRules.defaults()
    before = snapshot(tickets, rules, T0)
    later = snapshot(tickets[::3], rules, T0 + dt.timedelta(hours=5))  # histories unchanged
    assert later.position_us > before.position_us
    earlier = dict(zip(before.ids, before.thresholds(), strict=True))
    found = dict(zip(later.ids, later.thresholds(), strict=True))
    assert found == {ticket_id: earlier[ticket_id] for ticket_id in later.ids}
    assert len({at_risk for at_risk, _b, _f in found.values()}) > 10  # not all "never"


def test_the_ticking_counts_equal_each_tickets_flags(cache: Cache) -> None:
    """A tick counts by binary search in thresholds; each ticket's flags say the same."""
    clock = FakeClock(T0)
    seed_demo(cache, now=T0, count=300)
    carol = next(user for user in cache.users() if user.username == "carol")
    model = workload_model(cache, clock, me=carol.id)
    shot = snapshot(load_open_tickets(cache, team_ids=carol.team_ids), SlaRules.defaults(), T0)
    seen = set()
    for _step in range(40):  # ten business hours and more, in uneven steps
        clock.advance(minutes=23)
        model.tick()
        flags = dict(zip(shot.ids, shot.flags(clock()), strict=True))
        for row in model.rows:
            mine = [flags[i] for i in row.ticket_ids]
            expected = (
                sum(f.at_risk for f in mine),
                sum(f.breached for f in mine),
                sum(f.forecast for f in mine),
            )
            assert (row.at_risk, row.breached, row.forecast) == expected
            seen.add(expected)
    assert len(seen) > 5  # the figures did move
