"""SLA policies: which response and resolution targets apply to which ticket.

A policy maps (plan, priority, severity) to a first-response target and a
resolution target, both in business time of a named calendar, plus the rule that
says when a running clock is "at risk".  Policies and calendars load from and
dump to JSON; a malformed document raises :class:`SlaConfigError` naming the field.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Final, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from i18n import N_, gettext
from sla.calendar import (
    MON_FRI_9_18,
    BusinessCalendar,
    CalendarError,
    WeeklyHours,
    duration_to_us,
)

__all__ = [
    "ANY_PLAN",
    "DEFAULT_CALENDAR_NAME",
    "PLAN_LABELS",
    "Priority",
    "Severity",
    "SlaConfigError",
    "SlaPolicy",
    "Targets",
    "calendar_from_json",
    "calendar_to_json",
    "default_calendar",
    "default_policy",
    "plan_label",
]


class Priority(StrEnum):
    """Ticket priority; the code is stable data, :attr:`label` is for people."""

    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"

    @property
    def label(self) -> str:
        return gettext(_PRIORITY_LABELS[self])

    @property
    def display(self) -> str:
        """E.g. "P1 Critical" / "P1 Critique"."""
        return f"{self.value} {self.label}"

    @property
    def rank(self) -> int:
        """1 for the most urgent."""
        return int(self.value[1])


class Severity(StrEnum):
    """Incident severity, "blocking" being the worst."""

    BLOCKING = "blocking"
    MAJOR = "major"
    MINOR = "minor"

    @property
    def label(self) -> str:
        return gettext(_SEVERITY_LABELS[self])

    @property
    def rank(self) -> int:
        """1 for the worst."""
        return _SEVERITY_RANKS[self]


_PRIORITY_LABELS: Final = {
    Priority.P1: N_("Critical"),
    Priority.P2: N_("High"),
    Priority.P3: N_("Normal"),
    Priority.P4: N_("Low"),
}
_SEVERITY_LABELS: Final = {
    Severity.BLOCKING: N_("Blocking"),
    Severity.MAJOR: N_("Major"),
    Severity.MINOR: N_("Minor"),
}
_SEVERITY_RANKS: Final = {Severity.BLOCKING: 1, Severity.MAJOR: 2, Severity.MINOR: 3}

#: Plan code that matches any plan without targets of its own.
ANY_PLAN: Final = "*"
PLAN_LABELS: Final[dict[str, str]] = {
    "enterprise": N_("Enterprise"),
    "business": N_("Business"),
    "professional": N_("Professional"),
}
DEFAULT_CALENDAR_NAME: Final = "fr-paris-business"


def plan_label(plan: str) -> str:
    """The display name of a plan code (the code itself when unknown)."""
    label = PLAN_LABELS.get(plan)
    return gettext(label) if label else plan


class SlaConfigError(ValueError):
    """A calendar or policy document is malformed; the message names the field."""


@dataclass(frozen=True, slots=True)
class Targets:
    """First-response and resolution targets, in business time."""

    response: dt.timedelta
    resolution: dt.timedelta


@dataclass(frozen=True, slots=True)
class Rules:
    """Targets and at-risk thresholds in microseconds, for the hot path."""

    response: int
    resolution: int
    response_risk: int
    resolution_risk: int


@dataclass(frozen=True)
class SlaPolicy:
    """Targets per plan, priority and severity, in business time of ``calendar``.

    ``targets`` maps a plan code (or :data:`ANY_PLAN`) to a complete matrix of
    (priority, severity) → :class:`Targets`.  A clock is at risk when its
    remaining time is at most ``at_risk_fraction`` of its target or
    ``at_risk_minimum``, whichever comes first (the larger of the two).
    """

    name: str
    calendar: str
    targets: Mapping[str, Mapping[tuple[Priority, Severity], Targets]]
    at_risk_fraction: float = 0.25
    at_risk_minimum: dt.timedelta = dt.timedelta(minutes=30)
    _flat: dict[tuple[str, str, str], Rules] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        if not self.name:
            raise SlaConfigError("name: a policy needs a name")
        if not 0 <= self.at_risk_fraction <= 1:
            raise SlaConfigError("at_risk.fraction: must be between 0 and 1")
        if self.at_risk_minimum < dt.timedelta(0):
            raise SlaConfigError("at_risk.minimum: must not be negative")
        if not self.targets:
            raise SlaConfigError("plans: a policy needs targets for at least one plan")
        minimum = duration_to_us(self.at_risk_minimum)
        for plan, matrix in self.targets.items():
            for priority in Priority:
                for severity in Severity:
                    where = f"plans.{plan}.{priority.value}.{severity.value}"
                    targets = matrix.get((priority, severity))
                    if targets is None:
                        raise SlaConfigError(f"{where}: missing")
                    for name in ("response", "resolution"):
                        if getattr(targets, name) <= dt.timedelta(0):
                            raise SlaConfigError(f"{where}.{name}: must be positive")
                    response = duration_to_us(targets.response)
                    resolution = duration_to_us(targets.resolution)
                    self._flat[(plan, priority.value, severity.value)] = Rules(
                        response,
                        resolution,
                        max(int(response * self.at_risk_fraction), minimum),
                        max(int(resolution * self.at_risk_fraction), minimum),
                    )

    def rules(self, plan: str, priority: str, severity: str) -> Rules:
        flat = self._flat
        found = flat.get((plan, priority, severity)) or flat.get((ANY_PLAN, priority, severity))
        if found is None:
            raise SlaConfigError(
                f"policy {self.name!r} has no targets for plan {plan!r} "
                f"({priority}, {severity}) and no '*' entry for other plans"
            )
        return found

    def targets_for(self, plan: str, priority: Priority, severity: Severity) -> Targets:
        resolved = self.rules(plan, priority, severity)
        return Targets(
            dt.timedelta(microseconds=resolved.response),
            dt.timedelta(microseconds=resolved.resolution),
        )

    def at_risk_threshold(self, target: dt.timedelta) -> dt.timedelta:
        """Remaining time at or below which a clock with ``target`` is at risk."""
        return max(target * self.at_risk_fraction, self.at_risk_minimum)

    # -- JSON -----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return _PolicyDoc(
            name=self.name,
            calendar=self.calendar,
            at_risk=_AtRiskDoc(fraction=self.at_risk_fraction, minimum=self.at_risk_minimum),
            plans={
                plan: {
                    priority: {
                        severity: _TargetsDoc(
                            response=matrix[(priority, severity)].response,
                            resolution=matrix[(priority, severity)].resolution,
                        )
                        for severity in Severity
                    }
                    for priority in Priority
                }
                for plan, matrix in self.targets.items()
            },
        ).model_dump(mode="json")

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    @classmethod
    def from_dict(cls, document: object) -> SlaPolicy:
        doc = _validate(_PolicyDoc, document, "policy")
        return cls(
            name=doc.name,
            calendar=doc.calendar,
            targets={
                plan: {
                    (priority, severity): Targets(targets.response, targets.resolution)
                    for priority, by_severity in matrix.items()
                    for severity, targets in by_severity.items()
                }
                for plan, matrix in doc.plans.items()
            },
            at_risk_fraction=doc.at_risk.fraction,
            at_risk_minimum=doc.at_risk.minimum,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> SlaPolicy:
        return cls.from_dict(_parse_json(text, "policy"))


# -- wire documents (pydantic) ------------------------------------------------

DocT = TypeVar("DocT", bound=BaseModel)

_Duration = Annotated[dt.timedelta, Field(gt=dt.timedelta(0))]
_Clock = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _TargetsDoc(_Strict):
    response: _Duration
    resolution: _Duration


class _AtRiskDoc(_Strict):
    fraction: float = Field(default=0.25, ge=0, le=1)
    minimum: dt.timedelta = Field(default=dt.timedelta(minutes=30), ge=dt.timedelta(0))


class _PolicyDoc(_Strict):
    format: Literal["offimizer.sla-policy/1"] = "offimizer.sla-policy/1"
    name: str = Field(min_length=1)
    calendar: str = Field(min_length=1)
    at_risk: _AtRiskDoc = _AtRiskDoc()
    plans: dict[str, dict[Priority, dict[Severity, _TargetsDoc]]] = Field(min_length=1)


class _CalendarDoc(_Strict):
    format: Literal["offimizer.calendar/1"] = "offimizer.calendar/1"
    name: str = ""
    timezone: str = Field(min_length=1)
    weekly_hours: dict[int, list[tuple[_Clock, _Clock]]]
    country: str | None = None
    subdiv: str | None = None
    holidays: list[dt.date] = []

    @field_validator("weekly_hours")
    @classmethod
    def _weekdays(cls, value: dict[int, list[tuple[str, str]]]) -> dict[int, list[tuple[str, str]]]:
        for weekday in value:
            if not 0 <= weekday <= 6:
                raise ValueError(f"weekday {weekday} is not from 0 (Monday) to 6 (Sunday)")
        return value


def _parse_json(text: str | bytes, what: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SlaConfigError(f"{what}: not valid JSON ({exc})") from exc


def _validate(model: type[DocT], document: object, what: str) -> DocT:
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or what}: {error['msg']}"
            for error in exc.errors()
        )
        raise SlaConfigError(f"{what}: {problems}") from exc


def _parse_clock(text: str) -> dt.time:
    return dt.time.fromisoformat(text)


def calendar_to_dict(calendar: BusinessCalendar) -> dict[str, Any]:
    """A calendar as a JSON-able document (country holidays by reference)."""
    if calendar.country:
        probe = BusinessCalendar.for_country(
            calendar.country,
            calendar.subdiv,
            timezone=calendar.timezone,
            weekly_hours=calendar.weekly_hours,
            horizon=calendar.horizon,
        )
        extra = sorted(calendar.holidays - probe.holidays)
    else:
        extra = sorted(calendar.holidays)
    return _CalendarDoc(
        name=calendar.name,
        timezone=calendar.timezone,
        weekly_hours={
            day: [(start.strftime("%H:%M"), end.strftime("%H:%M")) for start, end in intervals]
            for day, intervals in calendar.weekly_hours.items()
        },
        country=calendar.country,
        subdiv=calendar.subdiv,
        holidays=extra,
    ).model_dump(mode="json")


def calendar_to_json(calendar: BusinessCalendar) -> str:
    return json.dumps(calendar_to_dict(calendar), indent=2, ensure_ascii=False)


def calendar_from_dict(
    document: object, *, known_holidays: Iterable[dt.date] | None = None
) -> BusinessCalendar:
    """The calendar a document defines.

    ``known_holidays``: every date it is closed on, as an earlier build of the
    same document found them (its :attr:`~BusinessCalendar.holidays`); the
    country's public holidays are then not looked up again (the ``holidays``
    package is slow to import).
    """
    doc = _validate(_CalendarDoc, document, "calendar")
    hours: WeeklyHours = {
        day: [(_parse_clock(start), _parse_clock(end)) for start, end in intervals]
        for day, intervals in doc.weekly_hours.items()
    }
    try:
        if doc.country and known_holidays is not None:
            calendar = BusinessCalendar(doc.timezone, hours, known_holidays, name=doc.name)
            calendar.country, calendar.subdiv = doc.country, doc.subdiv
            return calendar
        if doc.country:
            return BusinessCalendar.for_country(
                doc.country,
                doc.subdiv,
                timezone=doc.timezone,
                weekly_hours=hours,
                extra_holidays=doc.holidays,
                name=doc.name,
            )
        return BusinessCalendar(doc.timezone, hours, doc.holidays, name=doc.name)
    except CalendarError as exc:
        raise SlaConfigError(f"calendar: {exc}") from exc


def calendar_from_json(text: str | bytes) -> BusinessCalendar:
    return calendar_from_dict(_parse_json(text, "calendar"))


# -- the contract's defaults --------------------------------------------------

#: Enterprise targets in business hours (response, resolution).
_ENTERPRISE_HOURS: Final = {
    Priority.P1: {Severity.BLOCKING: (1, 4), Severity.MAJOR: (2, 9), Severity.MINOR: (4, 27)},
    Priority.P2: {Severity.BLOCKING: (2, 9), Severity.MAJOR: (4, 18), Severity.MINOR: (9, 45)},
    Priority.P3: {Severity.BLOCKING: (4, 18), Severity.MAJOR: (9, 45), Severity.MINOR: (18, 90)},
    Priority.P4: {Severity.BLOCKING: (9, 27), Severity.MAJOR: (18, 90), Severity.MINOR: (27, 180)},
}


def default_calendar() -> BusinessCalendar:
    """France, Monday to Friday 09:00-18:00, Europe/Paris, French public holidays."""
    return BusinessCalendar.for_country(
        "FR", timezone="Europe/Paris", weekly_hours=MON_FRI_9_18, name=DEFAULT_CALENDAR_NAME
    )


def default_policy() -> SlaPolicy:
    """The contract's policy: Enterprise targets; other paid plans get them doubled."""

    def matrix(factor: int) -> dict[tuple[Priority, Severity], Targets]:
        return {
            (priority, severity): Targets(
                dt.timedelta(hours=response * factor), dt.timedelta(hours=resolution * factor)
            )
            for priority, row in _ENTERPRISE_HOURS.items()
            for severity, (response, resolution) in row.items()
        }

    return SlaPolicy(
        name="default",
        calendar=DEFAULT_CALENDAR_NAME,
        targets={"enterprise": matrix(1), ANY_PLAN: matrix(2)},
    )
