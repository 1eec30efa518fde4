"""Realistic demo tickets in a local cache, for ``offimizer-console --demo``.

Until the embedded demo server exists, the demo console opens a temporary
cache filled here through the sync layer's public API: one page of the change
feed (:meth:`sync.store.Store.apply_page`) carrying agents, teams,
organisations on every plan, ~200 tickets of every priority, severity and
status, with histories placed in *business* time so that, whatever the hour,
some clocks run, some are at risk, some are breached, some wait on the customer
and some are met or missed; then a few commands queued by the demo agent, so
the provisional mark and the pending count show.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from dataclasses import dataclass
from typing import Any, Final

from protocol import SlaConfigOut
from protocol.pages import PageBuilder
from sla.calendar import BusinessCalendar, from_us, to_us
from sla.clock import evaluate
from sla.events import Created, Event, PriorityChanged, Responded, Status, StatusChanged
from sla.policy import (
    Priority,
    Severity,
    SlaPolicy,
    calendar_to_dict,
    default_calendar,
    default_policy,
)
from sync.cache import Cache
from sync.store import Store

__all__ = ["DEMO_AGENT_ID", "DemoInfo", "seed_demo", "seed_demo_until"]

DEMO_AGENT_ID: Final = 1
_HOUR_US: Final = 3_600_000_000

_AGENTS: Final = [
    # id, username, display name, role, teams
    (1, "camille", "Camille Durand", "agent", [1, 2]),
    (2, "bob", "Bob Lefèvre", "agent", [1]),
    (3, "carol", "Carol Nguyen", "team_lead", [1, 2]),
    (4, "dmitri", "Dmitri Moreau", "agent", [2]),
    (5, "eva", "Eva Rossi", "agent", [3]),
    (6, "farid", "Farid Benali", "agent", [2, 3]),
]
_TEAMS: Final = [(1, "Service desk"), (2, "Applications"), (3, "Infrastructure")]
_ORGANISATIONS: Final = [
    (1, "Banque Mirabeau", "enterprise"),
    (2, "Transports Armor", "enterprise"),
    (3, "Clinique Saint-Roch", "enterprise"),
    (4, "Groupe Vauban", "enterprise"),
    (5, "Librairie Colbert", "business"),
    (6, "Atelier Lumen", "business"),
    (7, "Brasserie du Port", "business"),
    (8, "Cabinet Delorme", "business"),
    (9, "Ferme Bio Solenne", "professional"),
    (10, "Studio Kairos", "professional"),
    (11, "Pharmacie Centrale", "professional"),
    (12, "Agence Horizon", "professional"),
]
_SUBJECTS: Final = [
    "Cannot sign in to the customer portal",
    "Invoices export fails with error 500",
    "Mail server rejects attachments over 10 MB",
    "VPN drops every few minutes",
    "Printer queue stuck on the second floor",
    "Password reset email never arrives",
    "Dashboard shows yesterday's figures",
    "Mobile app crashes when opening a ticket",
    "Payroll batch did not run overnight",
    "SSO login loops back to the start page",
    "Slow response times on the order screen",
    "New employee needs an account and a laptop",
    "Shared drive is read-only since this morning",
    "Calendar invitations arrive twice",
    "Backup job reports missing files",
    "Certificate expired on the intranet",
    "Barcode scanners no longer pair",
    "CSV import rejects accented names",
    "Two-factor codes are refused",
    "Website contact form sends nothing",
    "Database disk almost full",
    "Wi-Fi unavailable in meeting rooms",
    "Licence renewal for the design suite",
    "Cash registers offline in the Brest shop",
    "Report totals differ from the ledger",
    "API token expired for the warehouse link",
    "Cannot attach files to quotes",
    "Time zone wrong on exported timesheets",
]
_REQUESTERS: Final = [
    ("Alice Martin", "alice.martin"),
    ("Hugo Bernard", "hugo.bernard"),
    ("Léa Petit", "lea.petit"),
    ("Nathan Robert", "nathan.robert"),
    ("Chloé Richard", "chloe.richard"),
    ("Lucas Dubois", "lucas.dubois"),
    ("Inès Garnier", "ines.garnier"),
    ("Jules Fontaine", "jules.fontaine"),
]
_REPLIES: Final = [
    "Thanks for the details, we are looking into it now.",
    "Could you send us a screenshot of the error message?",
    "We restarted the service; can you confirm it works again?",
    "A fix is being deployed this afternoon.",
]


@dataclass(frozen=True, slots=True)
class DemoInfo:
    me: int
    tickets: int
    pending_commands: int


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat()


def _clock_out(clock: Any) -> dict[str, Any]:
    due = clock.due
    return {
        "state": clock.state.value,
        "target_seconds": clock.target_us // 1_000_000,
        "elapsed_seconds": clock.elapsed_us // 1_000_000,
        "remaining_seconds": clock.remaining_us // 1_000_000,
        "due": None if due is None else _iso(due),
    }


class _Ticket:
    """One demo ticket's story, in business time back from now."""

    def __init__(self, calendar: BusinessCalendar, now_us: int, elapsed_us: int) -> None:
        self.calendar = calendar
        self.now_pos = calendar.position_us(now_us)
        self.created_pos = self.now_pos - elapsed_us
        self.entries: list[tuple[int, str, str | None, str | None, int | None]] = []

    def at(self, fraction: float) -> dt.datetime:
        """The instant ``fraction`` of the way (in business time) from creation to now."""
        position = self.created_pos + int((self.now_pos - self.created_pos) * fraction)
        return from_us(self.calendar.locate_us(position), dt.UTC)


def _add_directory(feed: PageBuilder) -> None:
    """The demo's users, teams and organisations."""
    for user_id, username, name, role, teams in _AGENTS:
        feed.add(
            "user",
            user_id,
            {
                "id": user_id,
                "username": username,
                "display_name": name,
                "email": f"{username}@offimizer.example",
                "role": role,
                "active": True,
                "team_ids": teams,
            },
        )
    for team_id, team_name in _TEAMS:
        members = [a[0] for a in _AGENTS if team_id in a[4]]
        feed.add("team", team_id, {"id": team_id, "name": team_name, "member_ids": members})
    for org_id, org_name, plan in _ORGANISATIONS:
        feed.add("organisation", org_id, {"id": org_id, "name": org_name, "plan": plan})


def _clock_fraction(rng: random.Random) -> float:
    """How far along its clock a ticket stands: mostly comfortable, some at risk, some
    breached."""
    bucket = rng.random()
    if bucket < 0.6:
        return rng.uniform(0.05, 0.65)
    if bucket < 0.8:
        return rng.uniform(0.8, 0.97)
    return rng.uniform(1.02, 1.35)


def _assignee(rng: random.Random, status: Status, members: list[int]) -> int | None:
    """Who a demo ticket is given to: the demo agent now and then, else a team member,
    or nobody (most new tickets)."""
    if status is Status.NEW and rng.random() >= 0.3:
        return None
    if rng.random() < 0.3 and DEMO_AGENT_ID in members:
        return DEMO_AGENT_ID
    return rng.choice(members) if rng.random() < 0.8 else None


def seed_demo(
    cache: Cache,
    *,
    now: dt.datetime | None = None,
    count: int = 200,
    seed: int = 20260302,
    policy: SlaPolicy | None = None,
    calendar: BusinessCalendar | None = None,
) -> DemoInfo:
    """Fill ``cache`` with a demo queue as it stands at ``now`` (default: the cache's clock)."""
    policy = policy or default_policy()
    calendar = calendar or default_calendar()
    moment = now or cache.clock()
    now_us = to_us(moment)
    rng = random.Random(seed)
    cache.put_sla_config(
        SlaConfigOut(
            policy=policy.to_dict(), calendar=calendar_to_dict(calendar), updated_at=moment
        )
    )
    feed = PageBuilder(cursor_prefix="demo-")
    _add_directory(feed)

    history_id = 0
    comment_id = 0
    year = moment.astimezone(calendar.zone).year
    statuses = [Status.NEW] * 4 + [Status.OPEN] * 9 + [Status.PENDING] * 3
    statuses += [Status.RESOLVED] * 2 + [Status.CLOSED] * 2
    priorities = [Priority.P1] * 2 + [Priority.P2] * 3 + [Priority.P3] * 4 + [Priority.P4] * 2
    severities = [Severity.BLOCKING] * 2 + [Severity.MAJOR] * 4 + [Severity.MINOR] * 5
    for ticket_id in range(1, count + 1):
        org_id, org_name, plan = rng.choice(_ORGANISATIONS)
        status = rng.choice(statuses)
        priority = rng.choice(priorities)
        severity = rng.choice(severities)
        targets = policy.rules(plan, priority.value, severity.value)
        fraction = _clock_fraction(rng)
        if status is Status.NEW:
            elapsed = int(targets.response * fraction)
        else:
            elapsed = int(targets.resolution * fraction)
        elapsed = max(elapsed, 60_000_000 * rng.randint(3, 20))
        story = _Ticket(calendar, now_us, elapsed)
        team_id, _team = rng.choice(_TEAMS)
        members = [a[0] for a in _AGENTS if team_id in a[4]]
        assignee = _assignee(rng, status, members)
        initial_priority = priority
        raised = priority in (Priority.P1, Priority.P2) and rng.random() < 0.25
        if raised:
            initial_priority = Priority.P3
        created = story.at(0.0)
        events: list[Event] = [Created(created, initial_priority, severity, plan)]
        entries: list[tuple[dt.datetime, str, str | None, str | None, int | None]] = [
            (
                created,
                "created",
                None,
                json.dumps(
                    {
                        "status": "new",
                        "priority": initial_priority.value,
                        "severity": severity.value,
                        "plan": plan,
                        "team_id": team_id,
                        "assignee_id": None,
                        "tags": [],
                    }
                ),
                None,
            )
        ]
        if assignee is not None:
            entries.append((story.at(0.02), "assignee", None, str(assignee), 3))
        if raised:
            when = story.at(0.1)
            events.append(PriorityChanged(when, priority))
            entries.append((when, "priority", initial_priority.value, priority.value, 3))
        comments: list[tuple[dt.datetime, str, bool, int | None]] = []
        if status is not Status.NEW:
            # the first response: usually in time, sometimes late
            limit = min(targets.response / elapsed, 1.0)
            reply_fraction = limit * rng.uniform(0.2, 0.9) if rng.random() < 0.85 else 0.5
            when = story.at(min(reply_fraction, 0.6))
            events.append(Responded(when))
            entries.append((when, "status", "new", "open", assignee))
            events.append(StatusChanged(when, Status.OPEN))
            entries.append((when, "responded", None, "reply", assignee))
            comments.append((when, rng.choice(_REPLIES), True, assignee))
        if status is Status.PENDING:
            when = story.at(rng.uniform(0.65, 0.95))
            events.append(StatusChanged(when, Status.PENDING))
            entries.append((when, "status", "open", "pending", assignee))
            comments.append(
                (when, "Waiting for your confirmation before we continue.", True, assignee)
            )
        elif status in (Status.RESOLVED, Status.CLOSED):
            when = story.at(rng.uniform(0.85, 0.95))
            events.append(StatusChanged(when, Status.RESOLVED))
            entries.append((when, "status", "open", "resolved", assignee))
            comments.append(
                (when, "Fixed: the service was restarted and monitored.", True, assignee)
            )
            if status is Status.CLOSED:
                later = story.at(0.98)
                events.append(StatusChanged(later, Status.CLOSED))
                entries.append((later, "status", "resolved", "closed", None))
        sla = evaluate(events, policy, calendar, max(moment, max(e.at for e in events)))
        version = len(entries) + len(comments)
        requester, login = rng.choice(_REQUESTERS)
        subject = rng.choice(_SUBJECTS)
        updated = max([e[0] for e in entries] + [c[0] for c in comments])
        ticket = {
            "id": ticket_id,
            "tracking_number": f"INC-{year}-{ticket_id:06d}",
            "subject": subject,
            "description": f"{subject}. Reported by {requester} of {org_name}.",
            "requester_name": requester,
            "requester_email": f"{login}@example.com",
            "organisation_id": org_id,
            "priority": priority.value,
            "severity": severity.value,
            "status": status.value,
            "team_id": team_id,
            "assignee_id": assignee,
            "tags": [],
            "version": version,
            "created_at": _iso(created),
            "updated_at": _iso(updated),
            "sla": {
                "as_of": _iso(moment),
                "plan": plan,
                "response": _clock_out(sla.response),
                "resolution": _clock_out(sla.resolution),
            },
        }
        feed.add("ticket", ticket_id, ticket)
        for number, (when, name, before, after, actor) in enumerate(entries, start=1):
            history_id += 1
            feed.add(
                "history",
                history_id,
                {
                    "id": history_id,
                    "ticket_id": ticket_id,
                    "version": number,
                    "actor_id": actor,
                    "at": _iso(when),
                    "field": name,
                    "before": before,
                    "after": after,
                },
            )
        for when, body, public, author in comments:
            comment_id += 1
            feed.add(
                "comment",
                comment_id,
                {
                    "id": comment_id,
                    "ticket_id": ticket_id,
                    "author_id": author,
                    "body": body,
                    "public": public,
                    "created_at": _iso(when),
                },
            )

    store = Store(cache, user_id=DEMO_AGENT_ID)
    store.apply_page(feed.page())
    cache.record_sync()
    # a little unsynced work of the demo agent: provisional SLAs, a pending count
    pending = 0
    mine = [t for t in cache.tickets() if t.assignee_id == DEMO_AGENT_ID]
    for view in mine[:3]:
        if view.status == Status.PENDING.value:
            store.set_status(view.id, Status.OPEN)
        else:
            store.add_comment(view.id, "Looking into it now.", public=True)
        pending += 1
    return DemoInfo(DEMO_AGENT_ID, count, pending)


def seed_demo_until(cache: Cache, cached: int, **options: Any) -> DemoInfo:
    """:func:`seed_demo` with enough tickets that the cache keeps at least ``cached``.

    The demo agent's cache keeps the tickets of their teams only (two of the three:
    about two thirds of those generated), as a sync would; benchmarks that promise
    a number of cached tickets fill with this."""
    mine = next(len(teams) for user_id, *_rest, teams in _AGENTS if user_id == DEMO_AGENT_ID)
    count = math.ceil(cached * len(_TEAMS) / mine * 1.02) + 10
    while True:
        info = seed_demo(cache, count=count, **options)
        have = cache.ticket_count()
        if have >= cached:
            return info
        count = math.ceil(count * cached / max(have, 1) * 1.02) + 10
