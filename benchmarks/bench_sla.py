"""Speed of the SLA engine: business-time addition and a 100,000-ticket queue.

Run with ``python benchmarks/bench_sla.py`` (pandas is needed for the
comparison: ``pip install -e '.[bench]'``).  It prints, from one run on the same
inputs:

* the per-call time of :meth:`BusinessCalendar.add` on the default calendar
  (France, Monday-Friday 09:00-18:00, French public holidays; index pre-built)
  and of pandas' ``CustomBusinessHour`` with the same hours and holidays (the
  best of several runs of each, taken in turn), after checking that both give
  the same instants; and the ratio (target: ours at least 20x faster);
* the time to evaluate the full SLA state (both clocks' state, remaining time
  and due instant) of 100,000 synthetic tickets with realistic histories, into
  the columns a queue sorts and filters on (``sla.queue.QueueSla``; target:
  under 1 s), and, for comparison, the same as one ``TicketSla`` object a ticket
  with every due instant and remaining time built as datetime/timedelta
  objects (a console builds those for the visible rows only).

``--profile`` adds a cProfile summary of the 100,000-ticket evaluation.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import os
import pstats
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sla.calendar import BusinessCalendar
from sla.clock import ClockKind, TicketSla
from sla.events import (
    Created,
    Event,
    PriorityChanged,
    Responded,
    SeverityChanged,
    Status,
    StatusChanged,
)
from sla.policy import Priority, Severity, SlaPolicy, default_calendar, default_policy
from sla.queue import NO_DUE, QueueSla, evaluate_many

ADD_TARGET_RATIO = 20.0
QUEUE_TARGET_S = 1.0
TICKETS = 100_000
ADD_CALLS = 5_000
ADD_ROUNDS = 3  # ours and pandas timed in turn, the best of each kept
SEED = 20260318
UTC = dt.UTC


def best_of(repeat: int, run: Callable[[], object]) -> float:
    """The fastest of ``repeat`` timed runs, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


# -- add: ours against pandas ----------------------------------------------------


def add_inputs(rng: random.Random, count: int) -> list[tuple[dt.datetime, int]]:
    """Naive local start instants over 2025-2027 (any minute, open or not) and whole hours."""
    first = dt.datetime(2025, 1, 1)  # noqa: DTZ001 - naive local times, as pandas takes them
    minutes = 3 * 365 * 24 * 60
    return [
        (first + dt.timedelta(minutes=rng.randrange(minutes)), rng.choice((1, 2, 4, 9, 18, 27, 45)))
        for _ in range(count)
    ]


def bench_add(calendar: BusinessCalendar, rng: random.Random) -> float | None:
    inputs = add_inputs(rng, ADD_CALLS)
    zone = calendar.zone
    # ours: aware datetimes in, aware datetimes out (the public API)
    ours_in = [(start.replace(tzinfo=zone), dt.timedelta(hours=n)) for start, n in inputs]
    add = calendar.add
    ours_out: list[dt.datetime] = []

    def run_ours() -> None:
        ours_out.clear()
        ours_out.extend([add(start, duration) for start, duration in ours_in])

    calendar.index()  # built once, outside the timing
    try:
        import pandas as pd
        from pandas.tseries.offsets import CustomBusinessHour
    except ImportError:
        ours_s = best_of(5, run_ours) / len(inputs)
        print(f"  ours   BusinessCalendar.add:  {ours_s * 1e6:9.2f} µs/call  ({len(inputs)} calls)")
        print("  pandas is not installed (pip install -e '.[bench]'): no comparison")
        return None
    # pandas works on naive local times; offsets built once per duration, outside the timing
    holidays = sorted(calendar.holidays)
    offsets = {
        n: CustomBusinessHour(n, start="09:00", end="18:00", holidays=holidays)
        for n in {n for _, n in inputs}
    }
    pandas_in = [(pd.Timestamp(start), offsets[n]) for start, n in inputs]
    pandas_out: list[dt.datetime] = []

    def run_pandas() -> None:
        pandas_out.clear()
        pandas_out.extend([(start + offset).to_pydatetime() for start, offset in pandas_in])

    # Timed in alternation, so that both see the same load on a shared machine (ours
    # takes milliseconds, pandas most of a second: timed one after the other, a
    # burst of load elsewhere skews the ratio either way).
    ours_s = pandas_s = float("inf")
    for _ in range(ADD_ROUNDS):
        ours_s = min(ours_s, best_of(5, run_ours) / len(inputs))
        pandas_s = min(pandas_s, best_of(1, run_pandas) / len(inputs))
    print(f"  ours   BusinessCalendar.add:  {ours_s * 1e6:9.2f} µs/call  ({len(inputs)} calls)")
    print(f"  pandas CustomBusinessHour:    {pandas_s * 1e6:9.2f} µs/call")

    # pandas rolls a result that lands on closing time (Friday 18:00) to the next
    # opening (Monday 09:00); ours gives the earliest instant.  Both are the same
    # business instant: compare business positions, and count the convention apart.
    rolled = 0
    disagree: list[tuple[dt.datetime, int, dt.datetime, dt.datetime]] = []
    for (start, n), mine, theirs in zip(inputs, ours_out, pandas_out, strict=True):
        if mine.replace(tzinfo=None) == theirs:
            continue
        theirs_aware = theirs.replace(tzinfo=zone)
        if theirs_aware > mine and calendar.between(mine, theirs_aware) == dt.timedelta(0):
            rolled += 1
        else:
            disagree.append((start, n, mine, theirs))
    if disagree:
        start, n, mine, theirs = disagree[0]
        print(
            f"  DISAGREE on {len(disagree)} of {len(inputs)}: e.g. {start} + {n} h: "
            f"ours {mine.replace(tzinfo=None)}, pandas {theirs}"
        )
    else:
        print(
            f"  both agree on all {len(inputs)} results ({rolled} of them land on closing "
            "time, which pandas writes as the next opening: the same business instant)"
        )
    ratio = pandas_s / ours_s
    verdict = "OK" if ratio >= ADD_TARGET_RATIO else "MISSED"
    print(f"  ratio: ours is {ratio:,.0f}x faster   (target >= {ADD_TARGET_RATIO:.0f}x: {verdict})")
    return ratio


# -- 100,000 tickets ---------------------------------------------------------------

T = TypeVar("T")

PRIORITY_WEIGHTS = ((Priority.P1, 5), (Priority.P2, 20), (Priority.P3, 50), (Priority.P4, 25))
SEVERITY_WEIGHTS = ((Severity.BLOCKING, 10), (Severity.MAJOR, 35), (Severity.MINOR, 55))
PLAN_WEIGHTS = (("enterprise", 40), ("business", 35), ("professional", 25))


def pick(rng: random.Random, weighted: Sequence[tuple[T, int]]) -> T:
    values = [value for value, _ in weighted]
    weights = [weight for _, weight in weighted]
    return rng.choices(values, weights)[0]


def synthetic_history(rng: random.Random, now: dt.datetime) -> list[Event]:
    """One ticket created over the past six weeks, with a plausible life so far."""
    created = now - dt.timedelta(seconds=rng.uniform(0, 42 * 86_400))
    events: list[Event] = [
        Created(
            created,
            pick(rng, PRIORITY_WEIGHTS),
            pick(rng, SEVERITY_WEIGHTS),
            pick(rng, PLAN_WEIGHTS),
        )
    ]
    at = created

    def later(mean_hours: float) -> dt.datetime:
        nonlocal at
        at += dt.timedelta(seconds=rng.expovariate(1 / (mean_hours * 3600)))
        return at

    if rng.random() < 0.1:  # re-triaged early
        if rng.random() < 0.6:
            events.append(PriorityChanged(later(3), pick(rng, PRIORITY_WEIGHTS)))
        else:
            events.append(SeverityChanged(later(3), pick(rng, SEVERITY_WEIGHTS)))
    if rng.random() < 0.85:  # answered (or acknowledged)
        events.append(Responded(later(6)))
        events.append(StatusChanged(at, Status.OPEN))
        for _ in range(rng.choice((0, 0, 1, 1, 2))):  # waits on the customer
            events.append(StatusChanged(later(10), Status.PENDING))
            events.append(StatusChanged(later(30), Status.OPEN))
            events.append(Responded(later(2)))
        if rng.random() < 0.7:
            events.append(StatusChanged(later(24), Status.RESOLVED))
            if rng.random() < 0.08:  # the fix did not hold
                events.append(StatusChanged(later(48), Status.OPEN))
                if rng.random() < 0.3:
                    events.append(PriorityChanged(later(1), Priority.P1))
                events.append(StatusChanged(later(12), Status.RESOLVED))
            if rng.random() < 0.6:
                events.append(StatusChanged(later(72), Status.CLOSED))
    elif rng.random() < 0.2:  # closed as a duplicate, without a reply
        events.append(StatusChanged(later(8), Status.CLOSED))
    return [event for event in events if event.at <= now]


def full_state(sla: TicketSla) -> tuple[object, ...]:
    """Both clocks' state, remaining time and due instant, as the queue sorts on them."""
    response, resolution = sla.response, sla.resolution
    return (
        response.state,
        response.remaining_us,
        response.due_us,
        resolution.state,
        resolution.remaining_us,
        resolution.due_us,
    )


def full_state_objects(sla: TicketSla) -> tuple[object, ...]:
    """The same as datetime/timedelta objects (what a cell shows: visible rows only)."""
    response, resolution = sla.response, sla.resolution
    return (
        response.state,
        response.remaining,
        response.due,
        resolution.state,
        resolution.remaining,
        resolution.due,
    )


def bench_queue(
    calendar: BusinessCalendar, policy: SlaPolicy, rng: random.Random, profile: bool
) -> float:
    # a Wednesday afternoon in Paris; instants in UTC, as the server sends them
    now = dt.datetime(2026, 3, 18, 14, 37, 12, tzinfo=calendar.zone).astimezone(UTC)
    queue = [synthetic_history(rng, now) for _ in range(TICKETS)]
    events = sum(len(history) for history in queue)

    def run() -> QueueSla:
        return QueueSla(queue, policy, calendar, now)

    states = run()  # warm-up, and the mix actually measured
    mix: dict[str, int] = {}
    for row in range(len(states)):
        for kind in ClockKind:
            name = states.state(row, kind).value
            mix[name] = mix.get(name, 0) + 1
    # the columns hold exactly what the per-ticket objects say
    for row in range(0, TICKETS, 997):
        assert full_state(states.ticket(row)) == (
            states.state(row, ClockKind.RESPONSE),
            states.response_remaining_us[row],
            states.response_due_us[row] if states.response_due_us[row] != NO_DUE else None,
            states.state(row, ClockKind.RESOLUTION),
            states.resolution_remaining_us[row],
            states.resolution_due_us[row] if states.resolution_due_us[row] != NO_DUE else None,
        )
    seconds = best_of(3, run)

    def run_objects() -> list[tuple[object, ...]]:
        return [full_state_objects(sla) for sla in evaluate_many(queue, policy, calendar, now)]

    seconds_objects = best_of(3, run_objects)
    verdict = "OK" if seconds < QUEUE_TARGET_S else "MISSED"
    print(
        f"  {TICKETS:,} tickets ({events:,} events, {events / TICKETS:.1f} a ticket) "
        f"as of {now.astimezone(calendar.zone):%a %Y-%m-%d %H:%M} Paris"
    )
    print(
        "  clock states: " + ", ".join(f"{name} {count:,}" for name, count in sorted(mix.items()))
    )
    print(
        f"  full SLA state of every ticket: {seconds:.3f} s "
        f"({seconds / TICKETS * 1e6:.2f} µs a ticket)   "
        f"(target < {QUEUE_TARGET_S:.0f} s: {verdict})"
    )
    print(
        f"  the same, with every due instant and remaining time as datetime/timedelta "
        f"objects: {seconds_objects:.3f} s"
    )
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        run()
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
    return seconds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--profile", action="store_true", help="cProfile the queue evaluation")
    args = parser.parse_args(argv)
    print(f"Python {sys.version.split()[0]} on {os.cpu_count()} CPU(s)")
    calendar = default_calendar()
    started = time.perf_counter()
    calendar.index()
    print(f"calendar index (1970-2100) built in {time.perf_counter() - started:.3f} s")
    rng = random.Random(SEED)
    print("add (business-time addition of whole hours):")
    bench_add(calendar, rng)
    print("queue:")
    bench_queue(calendar, default_policy(), rng, args.profile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
