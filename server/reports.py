"""SLA compliance reports: ``GET /api/v1/reports/compliance``.

The tickets created in [``start``, ``end``) are replayed as of ``end`` (or now,
when ``end`` is still to come) with the same :mod:`sla` code and the same
history→events adapter as every other SLA figure (:mod:`sla.history`, as
:mod:`server.ticket_sla` uses it, with its stored policy and calendar):

- a clock is **met** when it stopped (first response; resolution) at or before
  its due instant, **missed** when it stopped after it or is still running (or
  paused) past it, **open** otherwise;
- durations are business time: to the first response over the tickets that
  had one (a ticket resolved without any reply: to its resolution, which the
  SLA takes as the answer), to the resolution over the resolved ones (a
  reopened ticket counts the business time of all its open spans, a pending
  one none of its waiting time); the 90th percentile is the nearest-rank one;
- a ticket is grouped by its priority, severity and plan as of the report's
  end, and by its current team and assignee;
- weeks start on Monday, in the business calendar's time zone, as does
  ``month=YYYY-MM``.

Who sees what: admins every team; team leads their own teams (another team's
``team_id`` is refused with 403); agents get 403.
"""

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Final, Literal

from fastapi import APIRouter, Depends, Query
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from i18n import N_, _
from protocol import (
    API_PREFIX,
    MAX_ID,
    BreachCount,
    BreachedTicket,
    ComplianceBucket,
    ComplianceReport,
    ComplianceWeek,
    Role,
)
from server import dates
from server.db import transaction
from server.errors import ServiceError
from server.models import Team, Ticket, TicketHistory, User
from server.router_context import RouterContext
from server.ticket_sla import SlaSettings, load_settings
from sla.clock import ClockState, ClockStatus, TicketSla, TimelineKind, evaluate
from sla.history import SLA_FIELDS, HistoryRow, events_from_history
from sla.policy import Priority, Severity, plan_label

if TYPE_CHECKING:
    from _typeshed import SupportsRichComparison

__all__ = ["MAX_PERIOD", "compliance_report", "make_router", "month_period"]

#: The longest period one report may cover.
MAX_PERIOD: Final = dt.timedelta(days=400)
_SECOND_US: Final = 1_000_000

_AGENTS_REFUSED = N_("Only team leads and administrators can see SLA compliance reports.")
_OTHER_TEAM = N_("You can only see the reports of your own teams.")
_UNASSIGNED = N_("Unassigned")

ClockName = Literal["response", "resolution"]


@dataclass
class _Tally:
    """Counts and durations of one group of tickets."""

    met: dict[ClockName, int] = field(default_factory=lambda: {"response": 0, "resolution": 0})
    missed: dict[ClockName, int] = field(default_factory=lambda: {"response": 0, "resolution": 0})
    open: dict[ClockName, int] = field(default_factory=lambda: {"response": 0, "resolution": 0})
    seconds: dict[ClockName, list[float]] = field(
        default_factory=lambda: {"response": [], "resolution": []}
    )
    tickets: int = 0

    def add(self, outcomes: dict[ClockName, tuple[str, float | None]]) -> None:
        self.tickets += 1
        for name, (outcome, seconds) in outcomes.items():
            getattr(self, outcome)[name] += 1
            if seconds is not None:
                self.seconds[name].append(seconds)

    def rate(self, name: ClockName) -> float | None:
        judged = self.met[name] + self.missed[name]
        return None if judged == 0 else self.met[name] / judged

    def bucket(self, key: str, label: str) -> ComplianceBucket:
        response, resolution = self.seconds["response"], self.seconds["resolution"]
        return ComplianceBucket(
            key=key,
            label=label,
            response_met=self.met["response"],
            response_missed=self.missed["response"],
            response_open=self.open["response"],
            resolution_met=self.met["resolution"],
            resolution_missed=self.missed["resolution"],
            resolution_open=self.open["resolution"],
            response_rate=self.rate("response"),
            resolution_rate=self.rate("resolution"),
            response_mean_seconds=_mean(response),
            response_p90_seconds=_p90(response),
            resolution_mean_seconds=_mean(resolution),
            resolution_p90_seconds=_p90(resolution),
        )


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _p90(values: Sequence[float]) -> float | None:
    """The nearest-rank 90th percentile (the smallest value with 90 % at or below it)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def _outcome(clock: ClockState) -> tuple[str, float | None]:
    """``met``/``missed``/``open`` and, for a stopped clock, its business seconds."""
    state = clock.state
    seconds = clock.elapsed_us / _SECOND_US if clock.stopped else None
    if state is ClockStatus.MET:
        return "met", seconds
    if state in (ClockStatus.MISSED, ClockStatus.BREACHED):
        return "missed", seconds
    return "open", None


def _sla_histories(
    session: Session, period: list[ColumnElement[bool]]
) -> dict[int, list[HistoryRow]]:
    """The SLA entries of the report's tickets, in one query of plain rows.

    The same entries :func:`server.ticket_sla.history_by_ticket` gives, reduced to
    what :func:`events_from_history` reads (loading ORM objects for a month of
    tickets would cost more than replaying them).
    """
    h = TicketHistory
    rows = session.execute(
        select(h.ticket_id, h.at, h.field, h.after)
        .join(Ticket, Ticket.id == h.ticket_id)
        .where(*period, h.field.in_(SLA_FIELDS))
        .order_by(h.ticket_id, h.id)
    )
    found: dict[int, list[HistoryRow]] = defaultdict(list)
    for ticket_id, at, name, after in rows:
        found[ticket_id].append(HistoryRow(at, name, after))
    return found


def _due(clock: ClockState) -> dt.datetime:
    """When a clock past its target reached it (also while paused, where ``due`` is None)."""
    if clock.due is not None:
        return clock.due
    crossed = [entry.at for entry in clock.timeline() if entry.kind is TimelineKind.BREACHED]
    return crossed[0]


def month_period(month: str, zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """[first instant of ``month`` (``YYYY-MM``), first instant of the next) in ``zone``."""
    try:
        year, number = (int(part) for part in month.split("-"))
        first = dt.datetime(year, number, 1, tzinfo=zone)
    except ValueError:
        raise ServiceError(
            422,
            "invalid_request",
            _("The month must be written YYYY-MM, for example 2026-11."),
            "month",
        ) from None
    if not dates.FIRST_YEAR <= year <= dates.LAST_YEAR:
        raise dates.out_of_range("month")
    following = dt.datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone)
    return first, following


def _allowed_teams(session: Session, user: User, team_id: int | None) -> list[int] | None:
    """The teams the report covers (``None``: all of them), or refuse."""
    if user.role == Role.AGENT:
        raise ServiceError(403, "forbidden", _(_AGENTS_REFUSED))
    if team_id is not None:
        if session.get(Team, team_id) is None:
            raise ServiceError(
                404, "team_not_found", _("There is no team {id}.").format(id=team_id), "team_id"
            )
        if user.role != Role.ADMIN and team_id not in user.team_ids:
            raise ServiceError(403, "forbidden", _(_OTHER_TEAM), "team_id")
        return [team_id]
    return None if user.role == Role.ADMIN else user.team_ids


def _monday(when: dt.datetime, zone: dt.tzinfo) -> dt.date:
    day = when.astimezone(zone).date()
    return day - dt.timedelta(days=day.weekday())


def compliance_report(
    session: Session,
    user: User,
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
    team_id: int | None = None,
) -> ComplianceReport:
    """The compliance of the tickets created in [``start``, ``end``) that ``user`` may see."""
    teams = _allowed_teams(session, user, team_id)
    settings: SlaSettings = load_settings(session)
    zone = settings.calendar.zone
    as_of = min(end, now)
    period = [Ticket.created_at >= start, Ticket.created_at < end]
    if teams is not None:
        period.append(Ticket.team_id.in_(teams))
    tickets = session.execute(
        select(
            Ticket.id,
            Ticket.tracking_number,
            Ticket.subject,
            Ticket.team_id,
            Ticket.assignee_id,
            Ticket.created_at,
        )
        .where(*period)
        .order_by(Ticket.id)
    ).all()
    histories = _sla_histories(session, period)

    total = _Tally()
    groups: dict[str, dict[str, _Tally]] = defaultdict(lambda: defaultdict(_Tally))
    weeks: dict[dt.date, _Tally] = defaultdict(_Tally)
    breaches: dict[tuple[Priority, Severity], int] = defaultdict(int)
    breached: list[BreachedTicket] = []
    for ticket in tickets:
        sla: TicketSla = evaluate(
            events_from_history(histories[ticket.id]), settings.policy, settings.calendar, as_of
        )
        clocks: dict[ClockName, ClockState] = {
            "response": sla.response,
            "resolution": sla.resolution,
        }
        outcomes = {name: _outcome(clock) for name, clock in clocks.items()}
        total.add(outcomes)
        groups["priority"][sla.priority.value].add(outcomes)
        groups["severity"][sla.severity.value].add(outcomes)
        groups["plan"][sla.plan].add(outcomes)
        groups["team"][str(ticket.team_id)].add(outcomes)
        groups["agent"]["none" if ticket.assignee_id is None else str(ticket.assignee_id)].add(
            outcomes
        )
        weeks[_monday(ticket.created_at, zone)].add(outcomes)
        missed = [name for name, (outcome, _seconds) in outcomes.items() if outcome == "missed"]
        if missed:
            breaches[(sla.priority, sla.severity)] += 1
        for name in missed:
            clock = clocks[name]
            due = _due(clock)
            breached.append(
                BreachedTicket(
                    id=ticket.id,
                    number=ticket.tracking_number,
                    subject=ticket.subject,
                    priority=sla.priority,
                    severity=sla.severity,
                    team_id=ticket.team_id,
                    assignee_id=ticket.assignee_id,
                    clock=name,
                    due_at=due.astimezone(dt.UTC),
                    overdue_seconds=-clock.remaining_us / _SECOND_US,
                )
            )

    labels = _labels(session, groups)
    order: dict[str, Callable[[str], SupportsRichComparison]] = {
        "priority": lambda key: Priority(key).rank,
        "severity": lambda key: Severity(key).rank,
        "plan": lambda key: key,
        "team": lambda key: labels["team"].get(key, key).casefold(),
        "agent": lambda key: (key == "none", labels["agent"].get(key, key).casefold()),
    }

    def buckets(kind: str) -> list[ComplianceBucket]:
        keys = sorted(groups[kind], key=order[kind])
        return [groups[kind][key].bucket(key, labels[kind].get(key, key)) for key in keys]

    breached.sort(key=lambda item: (-item.overdue_seconds, item.id, item.clock))
    return ComplianceReport(
        start=start.astimezone(dt.UTC),
        end=end.astimezone(dt.UTC),
        generated_at=now.astimezone(dt.UTC),
        team_id=team_id,
        total=total.bucket("all", _("All tickets")),
        by_priority=buckets("priority"),
        by_severity=buckets("severity"),
        by_plan=buckets("plan"),
        by_team=buckets("team"),
        by_agent=buckets("agent"),
        weeks=[
            ComplianceWeek(
                week_start=monday,
                tickets=tally.tickets,
                response_rate=tally.rate("response"),
                resolution_rate=tally.rate("resolution"),
            )
            for monday, tally in sorted(weeks.items())
        ],
        breaches=[
            BreachCount(priority=priority, severity=severity, count=count)
            for (priority, severity), count in sorted(
                breaches.items(), key=lambda item: (item[0][0].rank, item[0][1].rank)
            )
        ],
        breached=breached,
    )


def _ids(keys: Iterable[str]) -> list[int]:
    return [int(key) for key in keys if key.isdigit()]


def _labels(session: Session, groups: dict[str, dict[str, _Tally]]) -> dict[str, dict[str, str]]:
    """Display names: teams and agents by name, plans by label, codes as they are."""
    teams = _ids(groups["team"])
    agents = _ids(groups["agent"])
    team_names = {
        str(row.id): row.name
        for row in session.execute(select(Team.id, Team.name).where(Team.id.in_(teams)))
    }
    agent_names = {
        str(row.id): row.display_name
        for row in session.execute(select(User.id, User.display_name).where(User.id.in_(agents)))
    }
    agent_names["none"] = _(_UNASSIGNED)
    return {
        "priority": {},
        "severity": {},
        "plan": {key: plan_label(key) for key in groups["plan"]},
        "team": team_names,
        "agent": agent_names,
    }


def make_router(context: RouterContext) -> APIRouter:
    factory, clock, authenticate = context.factory, context.clock, context.authenticate
    router = APIRouter(prefix=f"{API_PREFIX}/reports", tags=["reports"])
    Token = Annotated[str, Depends(context.bearer)]

    @router.get("/compliance", response_model=ComplianceReport)
    def compliance(
        token: Token,
        start: Annotated[
            dt.datetime | None, Query(description="first instant (ISO 8601, with a time zone)")
        ] = None,
        end: Annotated[
            dt.datetime | None, Query(description="instant after the last (ISO 8601)")
        ] = None,
        month: Annotated[
            str | None,
            Query(
                pattern=r"^\d{4}-\d{2}$",
                description="instead of start and end: a month (YYYY-MM), business time zone",
            ),
        ] = None,
        team_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    ) -> ComplianceReport:
        now = clock()
        with transaction(factory) as session:
            user = authenticate(session, token)
            if user.role == Role.AGENT:
                raise ServiceError(403, "forbidden", _(_AGENTS_REFUSED))
            if month is not None:
                if start is not None or end is not None:
                    raise ServiceError(
                        422,
                        "invalid_request",
                        _("Give either a month or a start and an end, not both."),
                        "month",
                    )
                start, end = month_period(month, load_settings(session).calendar.zone)
            elif start is None or end is None:
                raise ServiceError(
                    422,
                    "invalid_request",
                    _("Give the period of the report: a start and an end, or a month."),
                    "start" if start is None else "end",
                )
            else:
                start = dates.instant(start, "start")
                end = dates.instant(end, "end")
            if end <= start:
                raise ServiceError(
                    422, "invalid_request", _("The end must come after the start."), "end"
                )
            if end - start > MAX_PERIOD:
                raise ServiceError(
                    422,
                    "invalid_request",
                    _("A report covers at most {days} days.").format(days=MAX_PERIOD.days),
                    "end",
                )
            return compliance_report(session, user, start, end, now, team_id)

    return router
