"""``python -m sla``: the SLA engine at work on a small demo queue, printed in the terminal.

Each ticket's first-response and resolution clocks, evaluated now in the business
hours of the default calendar and policy: an example of the engine's use.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from typing import TextIO

import i18n
from i18n import _
from sla.clock import ClockState, evaluate
from sla.events import Created, Event, Responded, Status, StatusChanged
from sla.policy import Priority, Severity, default_calendar, default_policy, plan_label

__all__ = ["demo_queue", "main", "print_demo_queue"]


def _remaining(clock: ClockState) -> str:
    if clock.stopped:
        return clock.state.label
    if clock.resumes_at is not None:
        resumes = i18n.format_weekday_time(clock.resumes_at)
        text = _("{state}: {duration}, resumes {when}")
        return text.format(
            state=clock.state.label,
            duration=i18n.format_business_duration(clock.remaining, seconds=False),
            when=resumes,
        )
    remaining = clock.remaining
    text = i18n.format_business_duration(remaining, seconds=False)
    if remaining < dt.timedelta(0):
        return _("{state}: overdue {duration}").format(state=clock.state.label, duration=text)
    return _("{state}: {duration} left").format(state=clock.state.label, duration=text)


def demo_queue(now: dt.datetime) -> list[tuple[str, str, list[Event]]]:
    """A few tickets as they stand in a real queue at ``now``."""
    hour = dt.timedelta(hours=1)
    return [
        (
            "INC-2026-000101",
            "enterprise",
            [Created(now - 2 * hour, Priority.P1, Severity.BLOCKING, "enterprise")],
        ),
        (
            "INC-2026-000102",
            "business",
            [
                Created(now - 30 * hour, Priority.P2, Severity.MAJOR, "business"),
                Responded(now - 29 * hour),
                StatusChanged(now - 28 * hour, Status.PENDING),
            ],
        ),
        (
            "INC-2026-000103",
            "enterprise",
            [
                Created(now - 5 * hour, Priority.P3, Severity.MINOR, "enterprise"),
                Responded(now - 4 * hour),
            ],
        ),
        (
            "INC-2026-000104",
            "professional",
            [Created(now - 20 * hour, Priority.P4, Severity.MINOR, "professional")],
        ),
    ]


def print_demo_queue(now: dt.datetime | None = None, out: TextIO | None = None) -> int:
    """Print :func:`demo_queue` as of ``now`` (default: the present), a ticket a line."""
    stream = out if out is not None else sys.stdout
    calendar = default_calendar()
    policy = default_policy()
    moment = now or dt.datetime.now(calendar.zone)
    header = (
        _("Ticket"),
        _("Plan"),
        _("Priority"),
        _("Severity"),
        _("First response"),
        _("Resolution"),
    )
    rows = [header]
    for number, plan, history in demo_queue(moment):
        sla = evaluate(history, policy, calendar, moment)
        rows.append(
            (
                number,
                plan_label(plan),
                sla.priority.display,
                sla.severity.label,
                _remaining(sla.response),
                _remaining(sla.resolution),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    print(i18n.format_datetime(moment, "full"), file=stream)
    for row in rows:
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print(line.rstrip(), file=stream)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sla",
        description=_("print a small demo queue with its SLA clocks in the terminal, and exit"),
    )
    parser.add_argument("--language", choices=sorted(i18n.LANGUAGES), help=_("interface language"))
    args = parser.parse_args(argv)
    i18n.set_language(args.language)
    return print_demo_queue()


if __name__ == "__main__":
    sys.exit(main())
