"""SLA policies: the contract's default targets, labels, and JSON documents."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import i18n
from sla.calendar import MON_FRI_9_18, BusinessCalendar
from sla.policy import (
    ANY_PLAN,
    DEFAULT_CALENDAR_NAME,
    Priority,
    Severity,
    SlaConfigError,
    SlaPolicy,
    Targets,
    calendar_from_json,
    calendar_to_json,
    default_calendar,
    default_policy,
)

ROOT = Path(__file__).resolve().parents[2]
FRENCH_CATALOG = ROOT / "translations" / "fr" / "LC_MESSAGES" / "messages.po"

P1, P2, P3, P4 = Priority.P1, Priority.P2, Priority.P3, Priority.P4
BLOCKING, MAJOR, MINOR = Severity.BLOCKING, Severity.MAJOR, Severity.MINOR


def hours(n: float) -> dt.timedelta:
    return dt.timedelta(hours=n)


# The table, Enterprise plan, business hours (response, resolution).
ENTERPRISE = [
    (P1, BLOCKING, 1, 4),
    (P1, MAJOR, 2, 9),
    (P1, MINOR, 4, 27),
    (P2, BLOCKING, 2, 9),
    (P2, MAJOR, 4, 18),
    (P2, MINOR, 9, 45),
    (P3, BLOCKING, 4, 18),
    (P3, MAJOR, 9, 45),
    (P3, MINOR, 18, 90),
    (P4, BLOCKING, 9, 27),
    (P4, MAJOR, 18, 90),
    (P4, MINOR, 27, 180),
]
# ... and doubled for every other paid plan
DOUBLED = [
    (P1, BLOCKING, 2, 8),
    (P1, MAJOR, 4, 18),
    (P1, MINOR, 8, 54),
    (P2, BLOCKING, 4, 18),
    (P2, MAJOR, 8, 36),
    (P2, MINOR, 18, 90),
    (P3, BLOCKING, 8, 36),
    (P3, MAJOR, 18, 90),
    (P3, MINOR, 36, 180),
    (P4, BLOCKING, 18, 54),
    (P4, MAJOR, 36, 180),
    (P4, MINOR, 54, 360),
]


def cell_id(row: tuple[Priority, Severity, int, int]) -> str:
    return f"{row[0].value}-{row[1].value}"


@pytest.mark.parametrize("row", ENTERPRISE, ids=[cell_id(row) for row in ENTERPRISE])
def test_enterprise_targets(row: tuple[Priority, Severity, int, int]) -> None:
    priority, severity, response, resolution = row
    assert default_policy().targets_for("enterprise", priority, severity) == Targets(
        hours(response), hours(resolution)
    )


@pytest.mark.parametrize("plan", ["business", "professional", "starter-2027"])
@pytest.mark.parametrize("row", DOUBLED, ids=[cell_id(row) for row in DOUBLED])
def test_other_plans_get_doubled_targets(
    plan: str, row: tuple[Priority, Severity, int, int]
) -> None:
    # "starter-2027" is no plan the policy knows: it falls back to '*'
    priority, severity, response, resolution = row
    assert default_policy().targets_for(plan, priority, severity) == Targets(
        hours(response), hours(resolution)
    )


def test_default_policy_shape() -> None:
    policy = default_policy()
    assert policy.calendar == DEFAULT_CALENDAR_NAME
    assert set(policy.targets) == {"enterprise", ANY_PLAN}
    assert policy.at_risk_fraction == 0.25
    assert policy.at_risk_minimum == dt.timedelta(minutes=30)


def test_policy_without_catch_all_refuses_an_unknown_plan() -> None:
    matrix = {(p, s): Targets(hours(1), hours(2)) for p in Priority for s in Severity}
    policy = SlaPolicy("gold-only", "x", {"gold": matrix})
    with pytest.raises(SlaConfigError, match="'silver'"):
        policy.targets_for("silver", P1, BLOCKING)


@pytest.mark.parametrize(
    ("target", "threshold"),
    [
        (hours(1), dt.timedelta(minutes=30)),  # 25 % = 15 min < 30 min minimum
        (hours(2), dt.timedelta(minutes=30)),  # 25 % = 30 min: both agree
        (hours(4), hours(1)),  # 25 % = 1 h
        (hours(27), dt.timedelta(hours=6, minutes=45)),  # 25 % of 27 h
        (hours(360), hours(90)),
    ],
)
def test_at_risk_threshold(target: dt.timedelta, threshold: dt.timedelta) -> None:
    assert default_policy().at_risk_threshold(target) == threshold


def test_at_risk_thresholds_in_the_rules() -> None:
    policy = default_policy()
    minute = 60_000_000
    # P1 blocking enterprise: 1 h / 4 h -> 30 min / 1 h
    rules = policy.rules("enterprise", "P1", "blocking")
    assert (rules.response_risk, rules.resolution_risk) == (30 * minute, 60 * minute)
    # P4 minor business: 54 h / 360 h -> 13h30 / 90 h
    rules = policy.rules("business", "P4", "minor")
    assert (rules.response_risk, rules.resolution_risk) == (810 * minute, 5400 * minute)


def test_at_risk_rule_is_configurable() -> None:
    base = default_policy()
    policy = SlaPolicy(
        "custom", base.calendar, base.targets, at_risk_fraction=0.5, at_risk_minimum=hours(2)
    )
    assert policy.at_risk_threshold(hours(1)) == hours(2)  # the minimum wins
    assert policy.at_risk_threshold(hours(9)) == dt.timedelta(hours=4, minutes=30)


# -- labels -----------------------------------------------------------------------


def test_labels_in_english() -> None:
    assert [p.label for p in Priority] == ["Critical", "High", "Normal", "Low"]
    assert [s.label for s in Severity] == ["Blocking", "Major", "Minor"]
    assert P1.display == "P1 Critical"
    assert [p.rank for p in Priority] == [1, 2, 3, 4]
    assert [s.rank for s in Severity] == [1, 2, 3]


@pytest.mark.skipif(not FRENCH_CATALOG.exists(), reason="fr catalog not written yet")
def test_labels_in_french() -> None:
    i18n.set_language("fr")
    assert [p.label for p in Priority] == ["Critique", "Haute", "Normale", "Basse"]
    assert [s.label for s in Severity] == ["Bloquant", "Majeur", "Mineur"]
    assert P1.display == "P1 Critique"


# -- JSON round trips -------------------------------------------------------------


def test_policy_json_round_trip() -> None:
    policy = default_policy()
    text = policy.to_json()
    document = json.loads(text)
    assert document["format"] == "offimizer.sla-policy/1"
    assert document["plans"]["enterprise"]["P1"]["blocking"] == {
        "response": "PT1H",
        "resolution": "PT4H",
    }
    again = SlaPolicy.from_json(text)
    assert again == policy
    assert again.targets_for("business", P4, MINOR) == Targets(hours(54), hours(360))


def test_custom_policy_json_round_trip() -> None:
    matrix = {
        (p, s): Targets(dt.timedelta(minutes=10 * p.rank + s.rank), hours(p.rank * s.rank))
        for p in Priority
        for s in Severity
    }
    policy = SlaPolicy(
        "custom",
        "my-calendar",
        {"gold": matrix},
        at_risk_fraction=0.1,
        at_risk_minimum=dt.timedelta(minutes=5),
    )
    again = SlaPolicy.from_json(policy.to_json())
    assert again == policy
    assert again.at_risk_minimum == dt.timedelta(minutes=5)
    assert again.targets_for("gold", P3, MAJOR) == Targets(dt.timedelta(minutes=32), hours(6))


def test_default_calendar_json_round_trip() -> None:
    calendar = default_calendar()
    document = json.loads(calendar_to_json(calendar))
    # French holidays are stored by reference to the country, not as a date list
    assert document["country"] == "FR"
    assert document["holidays"] == []
    assert document["weekly_hours"]["0"] == [["09:00", "18:00"]]
    again = calendar_from_json(calendar_to_json(calendar))
    assert again == calendar
    assert again.name == DEFAULT_CALENDAR_NAME
    assert dt.date(2026, 4, 6) in again.holidays  # Easter Monday


def test_calendar_with_extra_holidays_round_trip() -> None:
    extra = [dt.date(2026, 12, 24), dt.date(2026, 12, 31)]
    calendar = BusinessCalendar.for_country(
        "FR", "57", timezone="Europe/Paris", extra_holidays=extra, name="metz"
    )
    document = json.loads(calendar_to_json(calendar))
    assert document["subdiv"] == "57"
    assert document["holidays"] == ["2026-12-24", "2026-12-31"]
    again = calendar_from_json(calendar_to_json(calendar))
    assert again == calendar
    assert dt.date(2026, 4, 3) in again.holidays  # Good Friday in Moselle


def test_calendar_without_country_round_trip() -> None:
    hours_ = {
        0: [(dt.time(8), dt.time(12)), (dt.time(14), dt.time(18))],
        5: [(dt.time(9), dt.time(0))],
    }
    calendar = BusinessCalendar("America/Montreal", hours_, [dt.date(2026, 7, 1)], name="montreal")
    document = json.loads(calendar_to_json(calendar))
    assert document["country"] is None
    assert document["weekly_hours"] == {
        "0": [["08:00", "12:00"], ["14:00", "18:00"]],
        "5": [["09:00", "00:00"]],
    }
    again = calendar_from_json(calendar_to_json(calendar))
    assert again == calendar
    assert again.weekly_hours == calendar.weekly_hours
    assert again != BusinessCalendar("America/Montreal", MON_FRI_9_18)


# -- malformed documents ------------------------------------------------------------


def policy_doc() -> dict[str, Any]:
    return default_policy().to_dict()


def calendar_doc() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(calendar_to_json(default_calendar()))
    return document


def edited(base: dict[str, Any], edit: Callable[[dict[str, Any]], None]) -> str:
    document = copy.deepcopy(base)
    edit(document)
    return json.dumps(document)


def set_target(value: str) -> Callable[[dict[str, Any]], None]:
    def edit(document: dict[str, Any]) -> None:
        document["plans"]["enterprise"]["P1"]["blocking"]["response"] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "field", "why"),
    [
        (set_target("soon"), "plans.enterprise.P1.blocking.response", "timedelta"),
        (set_target("-PT1H"), "plans.enterprise.P1.blocking.response", "greater than 0"),
        (set_target("PT0S"), "plans.enterprise.P1.blocking.response", "greater than 0"),
        (
            lambda d: d["plans"]["enterprise"]["P2"].pop("minor"),
            "plans.enterprise.P2.minor",
            "missing",
        ),
        (
            lambda d: d["plans"]["*"].pop("P3"),
            "plans.*.P3.blocking",
            "missing",
        ),
        (
            lambda d: d["plans"]["enterprise"].update(P5=d["plans"]["enterprise"]["P1"]),
            "plans.enterprise.P5",
            "'P1', 'P2', 'P3' or 'P4'",
        ),
        (
            lambda d: d["plans"]["enterprise"]["P1"].update(critical={}),
            "plans.enterprise.P1.critical",
            "'blocking', 'major' or 'minor'",
        ),
        (lambda d: d.update(colour="red"), "colour", "Extra inputs"),
        (
            lambda d: d["plans"]["enterprise"]["P1"]["major"].update(deadline="PT1H"),
            "plans.enterprise.P1.major.deadline",
            "Extra inputs",
        ),
        (lambda d: d["at_risk"].update(fraction=1.5), "at_risk.fraction", "less than or equal"),
        (lambda d: d["at_risk"].update(minimum="-PT5M"), "at_risk.minimum", "greater than"),
        (lambda d: d.update(plans={}), "plans", "at least 1"),
        (lambda d: d.pop("name"), "name", "required"),
        (lambda d: d.update(format="offimizer.sla-policy/2"), "format", "sla-policy/1"),
    ],
    ids=[
        "bad-duration",
        "negative-target",
        "zero-target",
        "missing-cell",
        "missing-priority",
        "unknown-priority",
        "unknown-severity",
        "extra-field",
        "extra-field-in-cell",
        "fraction-above-1",
        "negative-minimum",
        "no-plans",
        "no-name",
        "other-format",
    ],
)
def test_malformed_policy_names_the_field(
    edit: Callable[[dict[str, Any]], None], field: str, why: str
) -> None:
    with pytest.raises(SlaConfigError) as error:
        SlaPolicy.from_json(edited(policy_doc(), edit))
    message = str(error.value)
    assert field in message
    assert why in message


@pytest.mark.parametrize("text", ["{not json", "", b"\xff\xfe"])
def test_policy_not_json(text: str | bytes) -> None:
    with pytest.raises(SlaConfigError, match="policy: not valid JSON"):
        SlaPolicy.from_json(text)


def test_policy_not_an_object() -> None:
    with pytest.raises(SlaConfigError, match="valid dictionary"):
        SlaPolicy.from_json("[1, 2]")


@pytest.mark.parametrize(
    ("edit", "field", "why"),
    [
        (lambda d: d.update(timezone="Europe/Pariss"), "timezone", "'Europe/Pariss'"),
        (lambda d: d.update(timezone="+01:00"), "timezone", "unknown time zone"),
        (lambda d: d.pop("timezone"), "timezone", "required"),
        (
            lambda d: d["weekly_hours"].update({"7": [["09:00", "18:00"]]}),
            "weekly_hours",
            "weekday 7",
        ),
        (
            lambda d: d["weekly_hours"].update(monday=[["09:00", "18:00"]]),
            "weekly_hours.monday",
            "integer",
        ),
        (
            lambda d: d["weekly_hours"].update({"0": [["9h", "18:00"]]}),
            "weekly_hours.0.0.0",
            "pattern",
        ),
        (
            lambda d: d["weekly_hours"].update({"0": [["18:00", "09:00"]]}),
            "weekly_hours[0]",
            "ends before it starts",
        ),
        (
            lambda d: d["weekly_hours"].update({"0": [["09:00", "13:00"], ["12:00", "18:00"]]}),
            "weekly_hours[0]",
            "overlaps",
        ),
        (lambda d: d.update(weekly_hours={}), "weekly_hours", "no opening hours"),
        (lambda d: d.update(holidays=["2026-13-01"]), "holidays.0", "month"),
        (lambda d: d.update(country="XX"), "country", "'XX'"),
        (lambda d: d.update(subdiv="999"), "subdiv", "999"),
        (lambda d: d.update(opening="09:00"), "opening", "Extra inputs"),
    ],
    ids=[
        "unknown-timezone",
        "offset-is-no-timezone",
        "no-timezone",
        "bad-weekday",
        "weekday-name",
        "bad-clock-time",
        "interval-reversed",
        "intervals-overlap",
        "never-open",
        "bad-holiday",
        "unknown-country",
        "unknown-subdivision",
        "extra-field",
    ],
)
def test_malformed_calendar_names_the_field(
    edit: Callable[[dict[str, Any]], None], field: str, why: str
) -> None:
    with pytest.raises(SlaConfigError) as error:
        calendar_from_json(edited(calendar_doc(), edit))
    message = str(error.value)
    assert field in message
    assert why in message


def test_calendar_not_json() -> None:
    with pytest.raises(SlaConfigError, match="calendar: not valid JSON"):
        calendar_from_json("weekly_hours: 9-18")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": ""}, "name"),
        ({"at_risk_fraction": -0.1}, "at_risk.fraction"),
        ({"at_risk_minimum": dt.timedelta(minutes=-1)}, "at_risk.minimum"),
        ({"targets": {}}, "plans"),
    ],
)
def test_policy_built_in_code_is_checked_too(kwargs: dict[str, Any], field: str) -> None:
    base: dict[str, Any] = {
        "name": "p",
        "calendar": "c",
        "targets": default_policy().targets,
    }
    with pytest.raises(SlaConfigError, match=field.replace(".", r"\.")):
        SlaPolicy(**(base | kwargs))


def test_negative_target_in_code() -> None:
    matrix = {(p, s): Targets(hours(1), hours(2)) for p in Priority for s in Severity}
    matrix[(P2, MAJOR)] = Targets(hours(1), hours(-2))
    with pytest.raises(SlaConfigError, match=r"plans\.gold\.P2\.major\.resolution"):
        SlaPolicy("p", "c", {"gold": matrix})
