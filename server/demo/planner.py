"""What happens to each demo ticket: its life as steps in business time.

A pure function of the directory, the SLA settings, ``now`` and a seed
(:func:`plan_tickets`): nothing here touches the database.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, TypeVar

from server.demo.corpus import CONTEXTS, FIRST_NAMES, LAST_NAMES, NOTES, SUBJECTS, domain, slug
from server.ticket_sla import SlaSettings
from sla.calendar import from_us, to_us
from sla.policy import Rules

DEMO_SEED: Final = 20260318
DEMO_TICKETS: Final = 600
#: How far back the oldest demo ticket goes (calendar days).
WINDOW_DAYS: Final = 26

_MINUTE: Final = 60_000_000
_HOUR: Final = 60 * _MINUTE

_WEIGHTS_PRIORITY: Final = (("P1", 6), ("P2", 20), ("P3", 50), ("P4", 24))
_WEIGHTS_SEVERITY: Final = (("blocking", 12), ("major", 38), ("minor", 50))
_WEIGHTS_STATUS: Final = (
    ("new", 12),
    ("open", 33),
    ("pending", 12),
    ("resolved", 15),
    ("closed", 28),
)
_WEIGHTS_TEAM: Final = ((0, 50), (1, 30), (2, 20))

#: A history entry's field, value before and value after.
HistoryField = tuple[str, str | None, str | None]
#: A comment's body, and whether it is public (a reply) or internal (a note).
CommentText = tuple[str, bool]

_T = TypeVar("_T")


@dataclass
class Step:
    """One change of a ticket (one version): history fields, maybe a comment first."""

    at: dt.datetime
    actor_id: int | None
    fields: list[HistoryField]
    comment: CommentText | None = None


@dataclass
class TicketPlan:
    """A ticket as it ends up, and the steps that made it (the first one creates it)."""

    subject: str
    description: str
    requester_name: str
    requester_email: str
    organisation_id: int
    plan: str
    priority: str
    severity: str
    status: str
    team_id: int
    assignee_id: int | None
    tags: list[str]
    created_by_id: int | None
    steps: list[Step] = field(default_factory=list)

    @property
    def created_at(self) -> dt.datetime:
        return self.steps[0].at


@dataclass(frozen=True)
class Directory:
    """Ids of what the tickets refer to."""

    teams: list[int]
    members: dict[int, list[int]]  # team id -> agent ids
    leads: dict[int, int]  # team id -> lead id
    organisations: list[tuple[int, str, str]]  # id, name, plan


@dataclass(frozen=True)
class _Cast:
    """Who takes part in a ticket's life, and what it was opened with."""

    first_name: str  # the requester's, for the replies
    lead: int
    assignee: int  # whoever gets it, should it be assigned
    creator: int
    initial_priority: str  # before triage
    opening: HistoryField  # the "created" entry


@dataclass(frozen=True)
class _Life:
    """A ticket's milestones, in business time from its creation."""

    total: int  # its age now
    respond_at: int | None = None  # the first response
    gap: tuple[int, int, str] | None = None  # pending (or resolved) from, to, kind
    end_at: int | None = None  # resolved or closed


class _Timeline:
    """A ticket's steps after its creation, at offsets from it (put in order later)."""

    def __init__(self) -> None:
        self.steps: list[tuple[int, int | None, list[HistoryField], CommentText | None]] = []

    def add(
        self,
        offset: int,
        actor: int | None,
        fields: list[HistoryField],
        comment: CommentText | None = None,
    ) -> None:
        self.steps.append((offset, actor, fields, comment))


def _pick(rng: random.Random, weighted: Sequence[tuple[_T, int]]) -> _T:
    return rng.choices([value for value, _ in weighted], [weight for _, weight in weighted])[0]


class _Planner:
    """Builds ticket plans in business time relative to ``now``.

    Every draw comes from one seeded generator, in a fixed order: changing the
    order of the draws below changes the whole demo.
    """

    def __init__(
        self, rng: random.Random, settings: SlaSettings, now: dt.datetime, directory: Directory
    ) -> None:
        self.rng = rng
        self.policy = settings.policy
        self.calendar = settings.calendar
        self.zone = self.calendar.zone
        self.now_us = to_us(now)
        self.now_pos = self.calendar.position_us(self.now_us)
        floor = self.calendar.position_us(to_us(now - dt.timedelta(days=WINDOW_DAYS)))
        self.span = max(self.now_pos - floor, 8 * _HOUR)  # business time available
        self.directory = directory

    # -- helpers ----------------------------------------------------------------

    def at(self, position: int) -> dt.datetime:
        """The instant of a business position (whole seconds), never after now."""
        micros = min(self.calendar.locate_us(max(position, 0)), self.now_us)
        return from_us(micros - micros % 1_000_000, dt.UTC)

    def fraction(self, low: float, high: float, of: int) -> int:
        return int(self.rng.uniform(low, high) * of)

    def clock_elapsed(self, target: int, risk: int, outcome: str, cap: int) -> int:
        """Business time elapsed on a running clock for the outcome wanted (bounded by cap)."""
        rng = self.rng
        if outcome == "breached" and target * 1.1 < cap:
            return min(int(target * rng.uniform(1.1, 3.0)), cap)
        if outcome in ("breached", "at_risk") and target - risk // 8 < cap:
            return target - int(risk * rng.uniform(0.15, 0.85))
        safe = max(target - risk - 10 * _MINUTE, target // 20)
        return min(int(safe * rng.uniform(0.05, 0.95)), cap)

    # -- one ticket -------------------------------------------------------------

    def ticket(self, priority: str, severity: str, status: str) -> TicketPlan:
        ticket, cast = self._open(priority, severity, status)
        life = self._life(status, self.policy.rules(ticket.plan, priority, severity))
        created = max(self.now_pos - min(life.total, self.span), 0)  # 0: a calendar starting now
        timeline = self._timeline(ticket, cast, life)
        self._date(ticket, cast, created, timeline)
        return ticket

    def _open(self, priority: str, severity: str, status: str) -> tuple[TicketPlan, _Cast]:
        """The ticket as it ends up, but for its assignee and tags (see :meth:`_timeline`)."""
        rng = self.rng
        directory = self.directory
        team_index = _pick(rng, _WEIGHTS_TEAM)
        team_id = directory.teams[team_index]
        subject, description, tags = rng.choice(SUBJECTS[team_index])
        context = rng.choice(CONTEXTS)
        organisation_id, organisation, plan = rng.choice(directory.organisations)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{slug(first)}.{slug(last)}@{domain(organisation)}"
        agents = directory.members[team_id]
        lead = directory.leads[team_id]
        assignee = rng.choice(agents)
        creator = rng.choice([lead, *agents])
        initial_priority = priority
        if rng.random() < 0.12:  # re-prioritized at triage
            initial_priority = rng.choice([p for p, _ in _WEIGHTS_PRIORITY if p != priority])
        ticket = TicketPlan(
            subject=subject,
            description=f"{description} {context}".strip(),
            requester_name=f"{first} {last.replace('-', ' ')}",
            requester_email=email,
            organisation_id=organisation_id,
            plan=plan,
            priority=priority,
            severity=severity,
            status=status,
            team_id=team_id,
            assignee_id=None,
            tags=sorted(tags),
            created_by_id=creator,
        )
        opened = {
            "status": "new",
            "priority": initial_priority,
            "severity": severity,
            "plan": plan,
            "team_id": team_id,
            "assignee_id": None,
            "tags": sorted(tags),
        }
        opening = ("created", None, json.dumps(opened, sort_keys=True))
        return ticket, _Cast(first, lead, assignee, creator, initial_priority, opening)

    # -- its milestones -----------------------------------------------------------

    def _life(self, status: str, rules: Rules) -> _Life:
        """Milestones that leave each clock in the state wanted for a ticket in ``status``."""
        rng = self.rng
        if status == "new":
            outcome = _pick(rng, (("running", 45), ("at_risk", 30), ("breached", 25)))
            cap = self.span * 9 // 10
            return _Life(self.clock_elapsed(rules.response, rules.response_risk, outcome, cap))
        # first response: met mostly, sometimes late
        late = rng.random() < 0.2
        respond = self.fraction(1.05, 2.0, rules.response) if late else 0
        respond = respond or self.fraction(0.1, 0.9, rules.response)
        if status in ("open", "pending"):
            return self._in_progress(status, rules, respond)
        return self._finished(status, rules, respond)

    def _in_progress(self, status: str, rules: Rules, respond: int) -> _Life:
        """An open or pending ticket: the resolution clock runs (or waits on the customer)."""
        rng = self.rng
        span = self.span
        weights: tuple[tuple[str, int], ...] = (
            (("running", 45), ("at_risk", 25), ("breached", 30))
            if status == "open"
            else (("running", 85), ("breached", 15))
        )
        outcome = _pick(rng, weights)
        cap = span * 9 // 10
        worked = self.clock_elapsed(rules.resolution, rules.resolution_risk, outcome, cap)
        worked = max(worked, 20 * _MINUTE)
        respond_at = min(respond, worked * 6 // 10)
        if status == "pending":
            room = max(span - worked, _MINUTE)
            since = min(self.fraction(0.05, 3.0, 9 * _HOUR), self.fraction(0.3, 0.95, room))
            total = worked + since
            return _Life(total, respond_at, (worked, total, "pending"))
        if rng.random() < 0.3 and worked + 2 * _HOUR < span:  # it waited once, earlier
            room = span - worked
            length = min(self.fraction(0.2, 2.5, 9 * _HOUR), self.fraction(0.3, 0.95, room))
            start = respond_at + (worked - respond_at) * rng.randint(2, 8) // 10
            kind = "resolved" if rng.random() < 0.25 else "pending"
            return _Life(worked + length, respond_at, (start, start + length, kind))
        return _Life(worked, respond_at)

    def _finished(self, status: str, rules: Rules, respond: int) -> _Life:
        """A resolved or closed ticket: both clocks stopped, mostly in time."""
        rng = self.rng
        span = self.span
        late_fix = rng.random() < 0.2
        worked = self.fraction(1.05, 1.8, rules.resolution) if late_fix else 0
        worked = worked or self.fraction(0.15, 0.95, rules.resolution)
        worked = max(worked, 30 * _MINUTE)
        pending = self.fraction(0.2, 2.0, 9 * _HOUR) if rng.random() < 0.3 else 0
        if status == "resolved":
            after = self.fraction(0.03, 1.9, 9 * _HOUR)
        else:
            after = self.fraction(0.1, 2.0, 9 * _HOUR)
        needed = worked + pending + after
        if needed > span:  # too long a life for the window: squeeze it
            scale = span / needed * 0.95
            worked, pending, after = (int(v * scale) for v in (worked, pending, after))
        respond_at = min(respond, worked * 6 // 10)
        gap = None
        if pending:
            start = respond_at + (worked - respond_at) * rng.randint(2, 8) // 10
            gap = (start, start + pending, "pending")
        end_at = worked + pending
        if status == "closed":
            slack = span - (worked + pending + after)
            total = end_at + after + (rng.randrange(slack) if slack > 0 else 0)
        else:
            total = end_at + after
        return _Life(total, respond_at, gap, end_at)

    # -- its steps ----------------------------------------------------------------

    def _timeline(self, ticket: TicketPlan, cast: _Cast, life: _Life) -> _Timeline:
        """The steps that live ``life``; assigns and tags ``ticket`` as they do."""
        rng = self.rng
        steps = _Timeline()
        assigned = ticket.status != "new" or rng.random() < 0.5
        triage = self.fraction(0.02, 0.15, life.respond_at or max(life.total, _MINUTE))
        if cast.initial_priority != ticket.priority:
            steps.add(triage, cast.lead, [("priority", cast.initial_priority, ticket.priority)])
        if assigned:
            assigner = cast.lead if rng.random() < 0.6 else cast.assignee
            steps.add(triage + _MINUTE, assigner, [("assignee", None, str(cast.assignee))])
            ticket.assignee_id = cast.assignee
        responder = cast.assignee if assigned else cast.lead
        self._response(steps, ticket.status, cast, life, responder)
        if life.gap is not None:
            _gap(steps, cast.first_name, life.total, life.gap, responder)
        self._tag(steps, ticket, life, responder)
        if life.end_at is not None:
            self._resolution(steps, ticket.status, cast.first_name, life, responder)
        return steps

    def _response(
        self, steps: _Timeline, status: str, cast: _Cast, life: _Life, responder: int
    ) -> None:
        """The first response, and maybe a note after it (or, on a new ticket, the lead's)."""
        rng = self.rng
        respond_at, total, gap = life.respond_at, life.total, life.gap
        if respond_at is not None:
            steps.add(
                respond_at,
                responder,
                [("responded", None, "reply")],
                (
                    f"Bonjour {cast.first_name}, merci pour votre message. Nous avons bien pris "
                    "en compte votre demande et revenons vers vous dès que possible.",
                    True,
                ),
            )
            steps.add(respond_at + _MINUTE, responder, [("status", "new", "open")])
            if rng.random() < 0.6:
                note_at = respond_at + (total - respond_at) // 3
                if gap is None or not gap[0] <= note_at <= gap[1]:
                    steps.add(note_at, responder, [], (rng.choice(NOTES), False))
        elif status == "new" and rng.random() < 0.3:
            steps.add(total // 2, cast.lead, [], (rng.choice(NOTES), False))

    def _tag(self, steps: _Timeline, ticket: TicketPlan, life: _Life, responder: int) -> None:
        """Sometimes a tag, soon after the first response."""
        rng = self.rng
        if rng.random() < 0.25 and life.respond_at is not None:
            tag = rng.choice(("escalade", "rappel-client", "bug-confirme", "vip"))
            if tag not in ticket.tags:
                steps.add(life.respond_at + 2 * _MINUTE, responder, [("tag_added", None, tag)])
                ticket.tags = sorted([*ticket.tags, tag])

    def _resolution(
        self, steps: _Timeline, status: str, first_name: str, life: _Life, responder: int
    ) -> None:
        """The fix and its reply at ``life.end_at``; a closed ticket's closure after it."""
        assert life.end_at is not None
        end_at, total = life.end_at, life.total
        steps.add(
            end_at - _MINUTE,
            responder,
            [],
            (
                f"Bonjour {first_name}, le correctif a été déployé et le fonctionnement "
                "est rétabli. N'hésitez pas à nous recontacter si le problème réapparaît.",
                True,
            ),
        )
        steps.add(end_at, responder, [("status", "open", "resolved")])
        if status != "closed":
            return
        close_at = end_at + (total - end_at) // 3 if total > end_at else end_at
        if self.rng.random() < 0.5:
            steps.add(
                close_at,
                None,
                [],
                (
                    "Clôture automatique : aucune réponse du client sous deux jours ouvrés.",
                    False,
                ),
            )
            steps.add(close_at + _MINUTE, None, [("status", "resolved", "closed")])
        else:
            steps.add(close_at, responder, [], ("Le client confirme la résolution.", False))
            steps.add(close_at + _MINUTE, responder, [("status", "resolved", "closed")])

    def _date(self, ticket: TicketPlan, cast: _Cast, created: int, timeline: _Timeline) -> None:
        """Turn the offsets into instants: creation first, the rest in order, a minute
        apart at least, none after now."""
        ticket.steps.append(Step(self.at(created), cast.creator, [cast.opening]))
        previous = created
        for offset, by, changed, comment in sorted(timeline.steps, key=lambda step: step[0]):
            position = max(created + offset, previous + _MINUTE)
            position = min(position, self.now_pos)
            previous = position
            ticket.steps.append(Step(self.at(position), by, changed, comment))


def _gap(
    steps: _Timeline, first_name: str, total: int, gap: tuple[int, int, str], responder: int
) -> None:
    """The ticket waits on the customer, or is resolved too early and reopened."""
    start, stop, kind = gap
    if kind == "pending":
        steps.add(
            start,
            responder,
            [],
            (
                f"Bonjour {first_name}, pourriez-vous nous transmettre une capture "
                "d'écran et l'heure approximative du problème ? Nous mettons la "
                "demande en attente de votre retour.",
                True,
            ),
        )
        steps.add(start + _MINUTE, responder, [("status", "open", "pending")])
        if stop < total:  # the customer answered
            steps.add(
                stop,
                responder,
                [],
                ("Le client a répondu par e-mail avec les éléments demandés.", False),
            )
            steps.add(stop + _MINUTE, responder, [("status", "pending", "open")])
    else:  # resolved too early: reopened by the customer
        steps.add(
            start,
            responder,
            [],
            (
                f"Bonjour {first_name}, le correctif est en place : pouvez-vous "
                "confirmer que tout fonctionne ?",
                True,
            ),
        )
        steps.add(start + _MINUTE, responder, [("status", "open", "resolved")])
        steps.add(stop, responder, [], ("Le client signale que le problème persiste.", False))
        steps.add(stop + _MINUTE, responder, [("status", "resolved", "open")])


def _duplicate(planner: _Planner, ticket: TicketPlan, earlier: TicketPlan) -> None:
    """Make ``ticket`` a duplicate of ``earlier``, closed by the lead without a reply."""
    created = ticket.steps[0]
    initial = json.loads(created.fields[0][2] or "{}")
    at = created.at + dt.timedelta(minutes=planner.rng.randint(5, 90))
    at = min(at, planner.at(planner.now_pos))
    lead = planner.directory.leads[ticket.team_id]
    day = earlier.created_at.astimezone(planner.zone)
    ticket.steps = [
        created,
        Step(at, lead, [], (f"Doublon de la demande « {earlier.subject} » du {day:%d/%m}.", False)),
        Step(at, lead, [("tag_added", None, "doublon")]),
        Step(at, lead, [("status", "new", "closed")]),
    ]
    ticket.status = "closed"
    ticket.assignee_id = None
    ticket.priority = initial["priority"]
    ticket.tags = sorted({*initial["tags"], "doublon"})


def plan_tickets(
    directory: Directory,
    settings: SlaSettings,
    now: dt.datetime,
    *,
    seed: int = DEMO_SEED,
    count: int = DEMO_TICKETS,
) -> list[TicketPlan]:
    """The demo tickets, oldest first (a pure function of its arguments)."""
    rng = random.Random(seed)
    planner = _Planner(rng, settings, now, directory)
    combos = [(p, s) for p, _ in _WEIGHTS_PRIORITY for s, _ in _WEIGHTS_SEVERITY]
    statuses = [s for s, _ in _WEIGHTS_STATUS]
    tickets: list[TicketPlan] = []
    for index in range(count):
        if index < 2 * len(combos) * len(statuses) and index < count // 2:
            # every priority x severity in every status, then the natural mix
            priority, severity = combos[index % len(combos)]
            status = statuses[(index // len(combos)) % len(statuses)]
        else:
            priority = _pick(rng, _WEIGHTS_PRIORITY)
            severity = _pick(rng, _WEIGHTS_SEVERITY)
            status = _pick(rng, _WEIGHTS_STATUS)
        tickets.append(planner.ticket(priority, severity, status))
    tickets.sort(key=lambda ticket: ticket.created_at)
    # a few closed tickets were duplicates of an earlier request
    for position, ticket in enumerate(tickets):
        if ticket.status == "closed" and position > 0 and rng.random() < 0.1:
            earlier = tickets[rng.randrange(position)]
            _duplicate(planner, ticket, earlier)
    return tickets
