"""``offimizer-console``: the agent console.

``--demo`` starts the reference server in-process with demo data and signs in as
the demo agent (a cache-seeded demo when the server has no demo data); without
it, the last account opens, or the sign-in dialog; ``--view workload`` / ``report``
opens the team lead's workload panel or compliance report (the demo signed in as its
lead) once the first sync has brought the user's role; ``--screenshot FILE.png``
saves that window after load and exits;
``--text-demo`` prints the SLA engine at work on a small queue in the terminal.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import i18n
from i18n import _
from sla.clock import (
    ClockState,
    Created,
    Event,
    Responded,
    Status,
    StatusChanged,
    evaluate,
)
from sla.policy import Priority, Severity, default_calendar, default_policy, plan_label


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


def run_sla_demo(now: dt.datetime | None = None, out: TextIO | None = None) -> int:
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
    parser = argparse.ArgumentParser(prog="offimizer-console", description=_("Offimizer Console"))
    parser.add_argument("--demo", action="store_true", help=_("run against demo data"))
    parser.add_argument(
        "--text-demo",
        action="store_true",
        help=_("print a small demo queue with its SLA clocks in the terminal, and exit"),
    )
    parser.add_argument(
        "--screenshot",
        metavar="FILE.png",
        type=Path,
        help=_("save a screenshot of the main window once loaded, and exit"),
    )
    parser.add_argument(
        "--view",
        choices=("queue", "workload", "report"),
        default="queue",
        help=_(
            "what to open: the queue, the team workload or the SLA compliance report, in "
            "the window or in the screenshot (--demo signs in as the team lead for the last two)"
        ),
    )
    parser.add_argument("--language", choices=sorted(i18n.LANGUAGES), help=_("interface language"))
    parser.add_argument(
        "--settings",
        metavar="FILE.ini",
        type=Path,
        help=_("read and write the settings in this file instead of the usual place"),
    )
    args = parser.parse_args(argv)
    i18n.set_language(args.language)
    if args.text_demo:
        return run_sla_demo()
    from desktop.app import run  # Qt loads only for the console itself

    return run(
        demo=args.demo,
        screenshot=args.screenshot,
        language=args.language,
        settings_path=None if args.settings is None else str(args.settings),
        view=args.view,
    )


if __name__ == "__main__":
    sys.exit(main())
