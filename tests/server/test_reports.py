"""SLA compliance reports, checked against histories computed by hand.

The business calendar is the contract's: Monday to Friday, 09:00-18:00 Paris
time.  Enterprise P2/major: 4 h to respond, 18 h to resolve; P1/minor: 4 h and
27 h; P4/minor: 27 h and 180 h; the Business plan doubles every target.  All
times below are Paris wall-clock times in March 2026 (UTC+1).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.server.conftest import World, command, open_ticket
from tests.server.test_commands import fetch, send

PARIS = ZoneInfo("Europe/Paris")
URL = "/api/v1/reports/compliance"
HOUR = 3600.0


def paris(day: int, hour: int, minute: int = 0, month: int = 3) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=PARIS)


def z(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def act(
    world: World, when: dt.datetime, by: str, ticket: dict[str, Any], kind: str, **fields: object
) -> None:
    world.clock.now = when
    current = fetch(world, ticket["id"])
    result = send(world, by, command(kind, current, **fields))[0]
    assert result["status"] == "applied", result


def create(world: World, when: dt.datetime, by: str = "lead", **fields: object) -> dict[str, Any]:
    world.clock.now = when
    return open_ticket(world, by=by, **fields)


@pytest.fixture
def month(world: World) -> dict[str, Any]:
    """Tickets of March 2026 (and one of February), the clock on Friday 13 March, 12:00."""
    ids = world.ids
    support = {"priority": "P2", "severity": "major"}
    create(world, paris(27, 10, month=2), subject="February")  # outside the period
    a = create(world, paris(2, 10), assignee_id=ids["alice"], subject="A", **support)
    c = create(
        world, paris(2, 10), assignee_id=ids["bob"], subject="C", priority="P3", severity="minor"
    )
    act(world, paris(2, 11), "alice", a, "acknowledge")
    act(world, paris(2, 11), "lead", c, "set_priority", priority="P1")  # now 4 h / 27 h
    f = create(
        world,
        paris(2, 11),
        by="nlead",
        subject="F",
        team_id=ids["network"],
        organisation_id=ids["bolt"],
        **support,
    )
    act(world, paris(2, 12), "alice", a, "set_status", status="resolved")
    act(world, paris(2, 15), "bob", c, "acknowledge")  # 5 h: an hour late
    d = create(world, paris(3, 10), assignee_id=ids["alice"], subject="D", **support)
    act(world, paris(3, 10, 30), "alice", d, "add_comment", body="Looking", public=True)
    act(world, paris(3, 12), "alice", d, "set_status", status="resolved")
    act(world, paris(4, 10), "alice", d, "set_status", status="open")  # reopened
    act(world, paris(4, 11), "alice", d, "set_status", status="resolved")
    b = create(world, paris(6, 10), assignee_id=ids["bob"], subject="B", **support)
    act(world, paris(6, 11), "bob", b, "add_comment", body="Which model?", public=True)
    act(world, paris(6, 17), "bob", b, "set_status", status="pending")  # over the weekend
    act(world, paris(10, 10), "bob", b, "set_status", status="open")
    act(world, paris(10, 12), "bob", b, "set_status", status="resolved")
    e = create(world, paris(13, 11), subject="E", priority="P4", severity="minor")
    world.clock.now = paris(13, 12)
    return {"A": a, "B": b, "C": c, "D": d, "E": e, "F": f}


def report(world: World, by: str, **params: str | int) -> dict[str, Any]:
    response = world.client.get(URL, params=params, headers=world.headers(by))
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def counts(bucket: dict[str, Any]) -> tuple[int, ...]:
    return tuple(
        bucket[f"{clock}_{outcome}"]
        for clock in ("response", "resolution")
        for outcome in ("met", "missed", "open")
    )


def test_the_whole_month_for_an_admin(world: World, month: dict[str, Any]) -> None:
    result = report(world, "admin", month="2026-03")
    assert result["start"] == "2026-02-28T23:00:00Z"
    assert result["end"] == "2026-03-31T22:00:00Z"  # summer time began on 29 March
    total = result["total"]
    # met: A, B, D; missed: C (late answer, late resolution), F (nothing done); open: E
    assert counts(total) == (3, 2, 1, 3, 2, 1)
    assert total["response_rate"] == pytest.approx(0.6)
    assert total["resolution_rate"] == pytest.approx(0.6)
    # first responses: A 1 h, B 1 h, C 5 h, D 30 min
    assert total["response_mean_seconds"] == pytest.approx((1 + 1 + 5 + 0.5) * HOUR / 4)
    assert total["response_p90_seconds"] == pytest.approx(5 * HOUR)
    # resolutions: A 2 h; B 7 h before the pause + 2 h after it; D 2 h + 1 h after reopening
    assert total["resolution_mean_seconds"] == pytest.approx((2 + 9 + 3) * HOUR / 3)
    assert total["resolution_p90_seconds"] == pytest.approx(9 * HOUR)


def test_a_ticket_pending_over_a_weekend_is_not_charged_for_it(
    world: World, month: dict[str, Any]
) -> None:
    agents = {b["key"]: b for b in report(world, "admin", month="2026-03")["by_agent"]}
    bob = agents[str(world.ids["bob"])]  # B and C
    assert bob["label"] == "bob"
    assert (bob["resolution_met"], bob["resolution_missed"]) == (1, 1)
    # without the pause, B would have taken 20 business hours, past its 18 h target
    assert bob["resolution_mean_seconds"] == pytest.approx(9 * HOUR)


def test_groups_by_priority_severity_plan_team_and_agent(
    world: World, month: dict[str, Any]
) -> None:
    result = report(world, "admin", month="2026-03")
    by_priority = {b["key"]: counts(b) for b in result["by_priority"]}
    # C counts as P1: its priority at the end of the period
    assert by_priority == {
        "P1": (0, 1, 0, 0, 1, 0),
        "P2": (3, 1, 0, 3, 1, 0),
        "P4": (0, 0, 1, 0, 0, 1),
    }
    assert [b["key"] for b in result["by_priority"]] == ["P1", "P2", "P4"]
    by_severity = {b["key"]: counts(b) for b in result["by_severity"]}
    assert by_severity == {"major": (3, 1, 0, 3, 1, 0), "minor": (0, 1, 1, 0, 1, 1)}
    plans = {b["key"]: (b["label"], counts(b)) for b in result["by_plan"]}
    assert plans == {
        "business": ("Business", (0, 1, 0, 0, 1, 0)),
        "enterprise": ("Enterprise", (3, 1, 1, 3, 1, 1)),
    }
    teams = {b["label"]: b["key"] for b in result["by_team"]}
    assert teams == {"Network": str(world.ids["network"]), "Support": str(world.ids["support"])}
    agents = [(b["key"], b["label"]) for b in result["by_agent"]]
    assert agents == [
        (str(world.ids["alice"]), "alice"),
        (str(world.ids["bob"]), "bob"),
        ("none", "Unassigned"),
    ]
    alice = result["by_agent"][0]
    assert alice["response_mean_seconds"] == pytest.approx(0.75 * HOUR)  # A 1 h, D 30 min


def test_weeks_breaches_and_breached_tickets(world: World, month: dict[str, Any]) -> None:
    result = report(world, "admin", month="2026-03")
    weeks = [(w["week_start"], w["tickets"], w["response_rate"]) for w in result["weeks"]]
    assert weeks == [("2026-03-02", 5, pytest.approx(0.6)), ("2026-03-09", 1, None)]
    breaches = [(b["priority"], b["severity"], b["count"]) for b in result["breaches"]]
    assert breaches == [("P1", "minor", 1), ("P2", "major", 1)]
    c, f = month["C"]["id"], month["F"]["id"]
    breached = [
        (item["id"], item["clock"], item["due_at"], item["overdue_seconds"])
        for item in result["breached"]
    ]
    assert breached == [
        # F (Business, 8 h / 36 h) untouched since Monday 11:00: 82 business hours by now
        (f, "response", z(paris(3, 10)), 74 * HOUR),
        # C, P1 since Monday 11:00, never resolved: 83 business hours by now, 27 h allowed
        (c, "resolution", z(paris(5, 10)), 56 * HOUR),
        (f, "resolution", z(paris(6, 11)), 46 * HOUR),
        (c, "response", z(paris(2, 14)), 1 * HOUR),
    ]
    assert result["breached"][1]["number"] == month["C"]["tracking_number"]
    assert result["breached"][1]["subject"] == "C"


def test_a_period_is_judged_at_its_end(world: World, month: dict[str, Any]) -> None:
    # the first week only: B was still pending at its end, E not created yet
    result = report(world, "admin", start=z(paris(2, 0)), end=z(paris(9, 0)))
    assert counts(result["total"]) == (3, 2, 0, 2, 2, 1)
    assert result["total"]["resolution_mean_seconds"] == pytest.approx((2 + 3) * HOUR / 2)


def test_a_team_lead_sees_their_teams_only(world: World, month: dict[str, Any]) -> None:
    result = report(world, "lead", month="2026-03")
    assert counts(result["total"]) == (3, 1, 1, 3, 1, 1)  # A B C D E, not F
    assert [b["label"] for b in result["by_team"]] == ["Support"]
    own = report(world, "lead", month="2026-03", team_id=world.ids["support"])
    assert own["total"] == result["total"]
    assert own["team_id"] == world.ids["support"]
    refused = world.client.get(
        URL,
        params={"month": "2026-03", "team_id": world.ids["network"]},
        headers=world.headers("lead"),
    )
    assert refused.status_code == 403
    assert refused.json()["message"] == "You can only see the reports of your own teams."


def test_an_admin_may_narrow_the_report_to_one_team(world: World, month: dict[str, Any]) -> None:
    result = report(world, "admin", month="2026-03", team_id=world.ids["network"])
    assert counts(result["total"]) == (0, 1, 0, 0, 1, 0)


def test_agents_are_refused_with_a_clear_message(world: World) -> None:
    response = world.client.get(URL, params={"month": "2026-03"}, headers=world.headers("alice"))
    assert response.status_code == 403
    assert response.json()["message"] == (
        "Only team leads and administrators can see SLA compliance reports."
    )


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"month": "2026-13"},
        {"month": "2026-03", "start": "2026-03-01T00:00:00Z"},
        {"start": "2026-03-02T00:00:00Z", "end": "2026-03-01T00:00:00Z"},
        {"start": "2026-03-01T00:00:00", "end": "2026-03-02T00:00:00"},
        {"start": "2024-01-01T00:00:00Z", "end": "2026-03-01T00:00:00Z"},
    ],
)
def test_a_bad_period_is_refused(world: World, params: dict[str, str]) -> None:
    response = world.client.get(URL, params=params, headers=world.headers("lead"))
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"


def test_an_unknown_team_is_not_found_and_an_empty_period_has_no_rates(world: World) -> None:
    missing = world.client.get(
        URL, params={"month": "2026-03", "team_id": 9999}, headers=world.headers("admin")
    )
    assert missing.status_code == 404
    empty = report(world, "admin", month="2026-01")
    assert counts(empty["total"]) == (0,) * 6
    assert empty["total"]["response_rate"] is None
    assert empty["total"]["response_p90_seconds"] is None
    assert empty["by_priority"] == []
    assert empty["weeks"] == []
    assert empty["breached"] == []


def test_a_ticket_pending_past_its_target_is_listed_with_its_due_instant(world: World) -> None:
    # Enterprise P1/blocking: 1 h to respond, 4 h to resolve
    ticket = create(world, paris(2, 10), priority="P1", severity="blocking")
    act(world, paris(2, 10, 30), "lead", ticket, "acknowledge")
    act(world, paris(2, 15), "lead", ticket, "set_status", status="pending")  # 5 h: 1 h late
    world.clock.now = paris(4, 12)  # still pending: the clock stands still
    result = report(world, "lead", month="2026-03")
    assert counts(result["total"]) == (1, 0, 0, 0, 1, 0)
    [late] = result["breached"]
    assert (late["clock"], late["due_at"], late["overdue_seconds"]) == (
        "resolution",
        z(paris(2, 14)),
        1 * HOUR,
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"month": "9999-12"}, "month"),
        ({"month": "0001-01"}, "month"),
        ({"start": "0001-01-01T00:00:00+14:00", "end": "0001-01-02T00:00:00+14:00"}, "start"),
        ({"start": "2026-03-01T00:00:00Z", "end": "9999-12-31T23:59:59-14:00"}, "end"),
    ],
)
def test_edge_dates_are_refused_naming_the_field(
    world: World, params: dict[str, str], field: str
) -> None:
    response = world.client.get(URL, params=params, headers=world.headers("admin"))
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_request"
    assert [error["field"] for error in response.json()["errors"]] == [field]
