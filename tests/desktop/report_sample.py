"""The report tests' sample: a month of compliance figures for two teams (a few tickets
late), and the text a PDF of it shows."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any
from zoneinfo import ZoneInfo

from pypdf import PdfReader

from desktop.models.report import Names, month_range
from protocol import (
    BreachCount,
    BreachedTicket,
    ComplianceBucket,
    ComplianceReport,
    ComplianceWeek,
    TeamOut,
)

PARIS = ZoneInfo("Europe/Paris")
#: Saturday 28 November 2026, 11:00 in Paris.
NOW = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)
TEAMS = [
    TeamOut(id=1, name="Support N1", member_ids=[5, 6]),
    TeamOut(id=2, name="N2", member_ids=[7]),
]
NAMES = Names(teams={1: "Support N1", 2: "N2"}, users={5: "Camille Durand", 6: "Bob Lefèvre"})


def bucket(key: str, label: str = "", **figures: Any) -> ComplianceBucket:
    values: dict[str, Any] = {
        "response_met": 0,
        "response_missed": 0,
        "response_open": 0,
        "resolution_met": 0,
        "resolution_missed": 0,
        "resolution_open": 0,
        "response_mean_seconds": None,
        "response_p90_seconds": None,
        "resolution_mean_seconds": None,
        "resolution_p90_seconds": None,
    }
    values.update(figures)
    for clock in ("response", "resolution"):
        met, missed = values[f"{clock}_met"], values[f"{clock}_missed"]
        values[f"{clock}_rate"] = met / (met + missed) if met + missed else None
    return ComplianceBucket(key=key, label=label, **values)


def sample_report(
    start: dt.datetime | None = None, end: dt.datetime | None = None
) -> ComplianceReport:
    """November 2026 of two teams: 20 tickets, a few late."""
    first, following = month_range(2026, 11, PARIS)
    start = start or first
    end = end or following
    p1 = bucket(
        "P1",
        response_met=3,
        response_missed=1,
        resolution_met=2,
        resolution_missed=2,
        response_mean_seconds=1500,
        response_p90_seconds=3300,
        resolution_mean_seconds=4 * 3600,
        resolution_p90_seconds=7 * 3600 + 1800,
    )
    p3 = bucket(
        "P3",
        response_met=15,
        response_open=1,
        resolution_met=12,
        resolution_missed=1,
        resolution_open=3,
        response_mean_seconds=2 * 3600,
        response_p90_seconds=5 * 3600,
        resolution_mean_seconds=20 * 3600,
        resolution_p90_seconds=31 * 3600 + 300,
    )
    total = bucket(
        "all",
        response_met=18,
        response_missed=1,
        response_open=1,
        resolution_met=14,
        resolution_missed=3,
        resolution_open=3,
        response_mean_seconds=6000,
        response_p90_seconds=4 * 3600 + 900,
        resolution_mean_seconds=18 * 3600,
        resolution_p90_seconds=30 * 3600,
    )
    severities = [
        bucket(
            "blocking", response_met=2, response_missed=1, resolution_met=1, resolution_missed=2
        ),
        bucket("minor", response_met=16, response_open=1, resolution_met=13, resolution_missed=1),
    ]
    plans = [bucket("enterprise", "Enterprise", response_met=18, response_missed=1)]
    teams = [
        bucket("1", "Support N1", response_met=12, resolution_met=10, resolution_missed=1),
        bucket("2", "N2", response_met=6, response_missed=1, resolution_met=4, resolution_missed=2),
    ]
    agents = [
        bucket("5", "Camille Durand", response_met=10, resolution_met=9),
        bucket("6", "Bob Lefèvre", response_met=8, response_missed=1, resolution_missed=3),
        bucket("none", "", response_open=1),
    ]
    weeks = [
        ComplianceWeek(
            week_start=dt.date(2026, 10, 26), tickets=3, response_rate=1.0, resolution_rate=1.0
        ),
        ComplianceWeek(
            week_start=dt.date(2026, 11, 2), tickets=6, response_rate=5 / 6, resolution_rate=0.5
        ),
        ComplianceWeek(
            week_start=dt.date(2026, 11, 9), tickets=5, response_rate=1.0, resolution_rate=0.8
        ),
        ComplianceWeek(
            week_start=dt.date(2026, 11, 16), tickets=4, response_rate=1.0, resolution_rate=None
        ),
        ComplianceWeek(
            week_start=dt.date(2026, 11, 23), tickets=2, response_rate=None, resolution_rate=None
        ),
    ]
    breached = [
        BreachedTicket(
            id=11,
            number="INC-2026-000011",
            subject="Payroll export fails",
            priority="P1",
            severity="blocking",
            team_id=1,
            assignee_id=5,
            clock="resolution",
            due_at=dt.datetime(2026, 11, 4, 16, 0, tzinfo=dt.UTC),
            overdue_seconds=2 * 3600 + 600,
        ),
        BreachedTicket(
            id=12,
            number="INC-2026-000012",
            subject="Réseau lent, « urgent »",
            priority="P1",
            severity="blocking",
            team_id=2,
            assignee_id=None,
            clock="response",
            due_at=dt.datetime(2026, 11, 5, 9, 30, tzinfo=dt.UTC),
            overdue_seconds=45 * 60,
        ),
        BreachedTicket(
            id=13,
            number="INC-2026-000013",
            subject="Printer offline",
            priority="P3",
            severity="minor",
            team_id=1,
            assignee_id=6,
            clock="resolution",
            due_at=dt.datetime(2026, 11, 20, 17, 0, tzinfo=dt.UTC),
            overdue_seconds=26 * 3600,
        ),
    ]
    return ComplianceReport(
        start=start,
        end=end,
        generated_at=NOW,
        team_id=None,
        total=total,
        by_priority=[p1, p3],
        by_severity=severities,
        by_plan=plans,
        by_team=teams,
        by_agent=agents,
        weeks=weeks,
        breaches=[
            BreachCount(priority="P1", severity="blocking", count=2),
            BreachCount(priority="P3", severity="minor", count=1),
        ],
        breached=breached,
    )


def pdf_text(data: bytes) -> tuple[int, str]:
    """Pages of a PDF and the text it draws, as a reader extracts it."""
    document = PdfReader(io.BytesIO(data))
    return len(document.pages), "".join(page.extract_text() for page in document.pages)
