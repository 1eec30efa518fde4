"""From cached history to SLA clocks, and from clocks to what a queue cell shows.

The cache keeps every ticket's history as rows (``field``, ``at``, ``after``);
:meth:`sync.cache.Cache.sla_history` reads those the SLA replays, in bulk, and
:func:`events_from_history` turns them into :mod:`sla.events` events, the same
events the server replays, so the console and the server agree on every clock.
The policy and calendar come from the cache's SLA documents, or the contract's
defaults when the cache has none (or holds a document that cannot be read).

No Qt here: text, colours (as ``#rrggbb``) and sort keys only.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import i18n
from desktop.models import sla_memo
from i18n import N_, gettext
from sla.calendar import BusinessCalendar, CalendarError, duration_to_us, to_us
from sla.clock import ClockState, ClockStatus, HistoryError, TicketSla, evaluate
from sla.events import Event
from sla.history import HistoryEntry, HistoryEntryError, events_from_cached_history
from sla.policy import (
    SlaConfigError,
    SlaPolicy,
    calendar_from_dict,
    default_calendar,
    default_policy,
)
from sync.cache import Cache

__all__ = [
    "CellStyle",
    "SlaRules",
    "clock_due_us",
    "clock_sort_key",
    "clock_style",
    "clock_text",
    "clock_text_samples",
    "clock_text_step",
    "clock_tooltip",
    "evaluate_safely",
    "events_from_history",
    "on_minutes_grid",
    "shown_until_us",
    "ticket_sort_key",
    "wording",
]

log = logging.getLogger(__name__)

#: The last key group: a ticket whose clocks cannot be computed.
UNKNOWN_GROUP: Final = 4


@dataclass(frozen=True, slots=True)
class SlaRules:
    """The policy and calendar the console computes clocks with."""

    policy: SlaPolicy
    calendar: BusinessCalendar
    #: why the cache's own documents were not used, when they were not
    problem: str | None = None
    #: the documents as the cache holds them (JSON), or "" for the contract's defaults
    source: str = ""

    @classmethod
    def defaults(cls, problem: str | None = None) -> SlaRules:
        policy, calendar = _default_documents()
        return cls(policy, calendar, problem)

    @classmethod
    def from_cache(cls, cache: Cache) -> SlaRules:
        """The cache's SLA documents, or the contract's defaults (the reason kept)."""
        try:
            config = cache.sla_config()
        except Exception as error:  # a corrupt row must not keep the queue from opening
            log.warning("cannot read the cached SLA configuration: %s", error)
            return cls.defaults(str(error))
        if config is None:
            return cls.defaults()
        source = _source(config.policy, config.calendar)
        path = getattr(cache, "path", None)
        kept = None if path is None else sla_memo.calendar_path(Path(path))
        try:
            policy, calendar = _documents(source, config.policy, config.calendar, kept)
        except SlaConfigError as error:
            log.warning("the cached SLA configuration is invalid: %s", error)
            return cls.defaults(str(error))
        return cls(policy, calendar, source=source)


#: Rules built from the cache's documents, by their JSON text: a calendar indexes its
#: business hours once (which takes a while), so a reload with the same documents
#: (every reload but the one after an SLA change) reuses it.
_RULES: dict[str, tuple[SlaPolicy, BusinessCalendar]] = {}


@functools.cache
def _default_documents() -> tuple[SlaPolicy, BusinessCalendar]:
    return default_policy(), default_calendar()


def _source(policy: Any, calendar: Any) -> str:
    return json.dumps([policy, calendar], sort_keys=True, default=str)


def _documents(
    key: str, policy: Any, calendar: Any, kept: Path | None = None
) -> tuple[SlaPolicy, BusinessCalendar]:
    """The rules of these documents, built once a process; the calendar, built once
    for all starts when ``kept`` names where to keep it (see ``sla_memo``)."""
    found = _RULES.get(key)
    if found is None:
        built = None if kept is None else sla_memo.load_calendar(kept, calendar)
        if built is None:
            built = calendar_from_dict(calendar)
            if kept is not None:
                built.index()
                sla_memo.save_calendar(kept, calendar, built)
        found = (SlaPolicy.from_dict(policy), built)
        if len(_RULES) >= 4:
            _RULES.clear()
        _RULES[key] = found
    return found


def events_from_history(
    rows: Iterable[HistoryEntry],
    *,
    created_at: dt.datetime,
    priority: str,
    severity: str,
    plan: str,
) -> list[Event]:
    """The SLA events of one cached ticket (see :func:`sla.history.events_from_cached_history`).

    An entry this console cannot read is skipped (and logged), never fatal.
    """
    return events_from_cached_history(
        rows,
        created_at=created_at,
        priority=priority,
        severity=severity,
        plan=plan,
        on_skip=_skipped,
    )


def _skipped(entry: HistoryEntry, error: HistoryEntryError) -> None:
    log.warning("history entry %s at %s skipped: %s", entry.field, entry.at, error)


def evaluate_safely(
    events: list[Event], rules: SlaRules, now: dt.datetime
) -> tuple[TicketSla | None, str | None]:
    """Both clocks as of ``now`` (or of the latest event, if our clock is behind it)."""
    latest = max(event.at for event in events)
    try:
        return evaluate(events, rules.policy, rules.calendar, max(now, latest)), None
    except (HistoryError, SlaConfigError, CalendarError) as error:
        return None, str(error)


def evaluate_since(
    earlier: tuple[TicketSla | None, str | None] | None,
    events: Callable[[], list[Event]],
    rules: SlaRules,
    now: dt.datetime,
) -> tuple[TicketSla | None, str | None]:
    """:func:`evaluate_safely` of ``events()`` at ``now``, given what it returned at an
    earlier instant for the same history and rules (None: nothing known): that
    evaluation moved forward when it can, else a replay.  (A history with an event
    after the earlier instant is replayed: our clock is behind the server's, and
    :func:`evaluate_safely` evaluates it as of that event.)"""
    if earlier is not None and earlier[0] is not None and earlier[0].next_event_us is None:
        try:
            moved = earlier[0].advanced_us(to_us(now))
        except CalendarError:
            moved = None
        if moved is not None:
            return moved, None
    return evaluate_safely(events(), rules, now)


# -- sort keys ----------------------------------------------------------------------


def clock_due_us(clock: ClockState) -> int:
    """The clock's due instant (µs) as a sort key: 0 when it has none (paused) or the
    calendar cannot place it."""
    try:
        return clock.due_us or 0
    except CalendarError:
        return 0


def clock_sort_key(clock: ClockState | None) -> tuple[int, int]:
    """Most urgent first: overdue (most overdue first), running by due time, paused, stopped."""
    if clock is None:
        return (UNKNOWN_GROUP, 0)
    if clock.stopped:
        return (3, clock_due_us(clock))
    if clock.paused:
        return (2, clock.remaining_us)
    if clock.remaining_us < 0:
        return (0, clock_due_us(clock))
    return (1, clock_due_us(clock))


def ticket_sort_key(sla: TicketSla | None) -> tuple[int, int, int]:
    """The queue's default order, by the next SLA due.

    Tickets with a running clock past its target come first (the most urgent
    priority, then the most overdue), then those with running clocks by their
    earliest due time; then tickets waiting on the customer, then those whose
    clocks have stopped.
    """
    if sla is None:
        return (UNKNOWN_GROUP, 0, 0)
    running = [clock for clock in (sla.response, sla.resolution) if clock.running]
    overdue = [clock for clock in running if clock.remaining_us < 0]
    if overdue:
        return (0, sla.priority.rank, min(clock_due_us(clock) for clock in overdue))
    if running:
        return (1, min(clock_due_us(clock) for clock in running), 0)
    paused = [clock for clock in (sla.response, sla.resolution) if clock.paused]
    if paused:
        return (2, min(clock.remaining_us for clock in paused), 0)
    return (3, 0, 0)


def clock_outline(clock: ClockState | None, now: dt.datetime) -> tuple[object, ...]:
    """What a clock's wording depends on, its countdown aside: its state, its due
    instant (or the business time left while paused, which then stands still), and
    ``now`` to the minute (wall-clock instants are worded relative to it).

    Two equal outlines of the same history word its due time, stop and timeline
    alike: a panel redoes that wording (babel's, costly) only when this changes.
    """
    minute = to_us(now) // 60_000_000
    if clock is None:
        return (minute,)
    if clock.paused and clock.stopped_us is None:
        return (minute, clock.state, clock.remaining_us)
    return (minute, clock.state, clock.stopped_us, clock_due_us(clock))


# -- what a cell shows ---------------------------------------------------------------

_OVERDUE = N_("Overdue {duration}")
_RESUMES = N_("Resumes {when}")
_PENDING_CUSTOMER = N_("Pending customer")
_PROVISIONAL = N_("~ {text}")


#: A wide instant to show ("Wed 12:55 PM"), for the samples below.
_SAMPLE_INSTANT: Final = dt.datetime(2026, 3, 4, 12, 55, tzinfo=dt.UTC)


def clock_text_samples() -> list[str]:
    """Clock texts as wide as they commonly get, in the current language: what an
    SLA column, or a countdown, is made wide enough to show whole."""
    return [
        gettext(_OVERDUE).format(duration="9 h 21 min"),
        gettext(_RESUMES).format(when=i18n.format_weekday_time(_SAMPLE_INSTANT)),
    ]


@dataclass(frozen=True, slots=True)
class CellStyle:
    foreground: str | None
    background: str | None
    bold: bool = False


_STYLES: Final = {
    ClockStatus.RUNNING: CellStyle(None, None),
    ClockStatus.AT_RISK: CellStyle("#7a4d00", "#fff1c2", bold=True),
    ClockStatus.BREACHED: CellStyle("#a4262c", "#fde7e9", bold=True),
    ClockStatus.PAUSED: CellStyle("#5c5f66", "#eef0f3"),
    ClockStatus.OUTSIDE_HOURS: CellStyle("#3b5b8c", None),
    ClockStatus.MET: CellStyle("#107c10", None),
    ClockStatus.MISSED: CellStyle("#a4262c", None),
}


def clock_style(clock: ClockState | None) -> CellStyle:
    if clock is None:
        return CellStyle("#5c5f66", None)
    return _STYLES[clock.state]


def _wall(when: dt.datetime, now: dt.datetime) -> str:
    """A short wall-clock instant: weekday and time within a week, else the date too."""
    if abs(when - now) < dt.timedelta(days=6):
        return i18n.format_weekday_time(when)
    return i18n.format_day_time(when)


_DISPLAY = {"seconds": True}


def set_show_seconds(show: bool) -> None:
    """Whether running countdowns show seconds ("1 h 42 min 09 s") or not ("1 h 42 min")."""
    _DISPLAY["seconds"] = show


def wording() -> tuple[str, bool]:
    """What :func:`clock_text` depends on besides the clock and the instant: the
    language and whether seconds show (a text kept is good while this holds)."""
    return i18n.current_language(), _DISPLAY["seconds"]


def clock_text_step(clock: ClockState | None) -> dt.timedelta | None:
    """How often :func:`clock_text` of this clock changes: each second while it shows
    seconds, else each minute; None while it stands still (stopped, paused).  With
    :meth:`ClockState.next_change`, when to show it again."""
    if clock is None or not clock.running:
        return None
    remaining = clock.remaining
    if remaining < dt.timedelta(0):  # "Overdue 42 min 09 s", from an hour "Overdue 1 h 05 min"
        seconds = -remaining < dt.timedelta(hours=1)
    else:  # "9 h 59 min 59 s", from ten hours "27 h 05 min" (see format_business_duration)
        seconds = _DISPLAY["seconds"] and remaining <= dt.timedelta(hours=10)
    return _SECOND if seconds else _MINUTE


_SECOND: Final = dt.timedelta(seconds=1)
_MINUTE: Final = dt.timedelta(minutes=1)
_SECOND_US: Final = duration_to_us(_SECOND)

#: A clock that shows minutes ("Overdue 2 h 05 min", "27 h 05 min") is shown again
#: on this grid of instants, a few seconds after its minute turns at most: every
#: such clock on screen changes at once (one tick, one repaint) instead of each
#: at its own second.  Countdowns that show seconds, and changes of state ("at
#: risk", "breached"), keep their own instant.
MINUTES_GRID: Final = dt.timedelta(seconds=30)
_MINUTES_GRID_US: Final = duration_to_us(MINUTES_GRID)


def on_minutes_grid(instant_us: int) -> int:
    """The first instant of :data:`MINUTES_GRID` at or after ``instant_us``."""
    return -(-instant_us // _MINUTES_GRID_US) * _MINUTES_GRID_US


def shown_until_us(clock: ClockState | None, now_us: int) -> int | None:
    """Until when :func:`clock_text` of this clock, as of ``now_us``, holds (µs): its
    next second, or its next minute on :data:`MINUTES_GRID`, or its next change
    of state, whichever comes first; None while it stands still (only an event
    changes it then)."""
    shown = clock_text_step(clock)
    if clock is None or shown is None:
        return None
    step = duration_to_us(shown)
    found = clock.next_change_us(now_us, step)
    if found is None or step <= _SECOND_US:
        return found
    state = clock.next_change_us(now_us, None)
    found = on_minutes_grid(found)
    return found if state is None else min(found, state)


def clock_text(clock: ClockState | None, now: dt.datetime, *, provisional: bool = False) -> str:
    """ "1 h 42 min 09 s", "Overdue 1 h 05 min", "Resumes Mon 9:00 AM", "Pending customer"…"""
    if clock is None:
        return "—"
    state = clock.state
    if state is ClockStatus.MET or state is ClockStatus.MISSED:
        text = state.label
    elif state is ClockStatus.BREACHED:
        overdue = -clock.remaining
        duration = i18n.format_business_duration(overdue, seconds=overdue < dt.timedelta(hours=1))
        text = gettext(_OVERDUE).format(duration=duration)
    elif state is ClockStatus.PAUSED:
        text = gettext(_PENDING_CUSTOMER)
    elif state is ClockStatus.OUTSIDE_HOURS and clock.resumes_at is not None:
        text = gettext(_RESUMES).format(when=_wall(clock.resumes_at, now))
    else:  # a countdown rounds up: "1 s" until it breaches (as next_change counts)
        unit = clock_text_step(clock) or _SECOND
        left = -(-clock.remaining // unit) * unit
        text = i18n.format_business_duration(left, seconds=_DISPLAY["seconds"])
    return gettext(_PROVISIONAL).format(text=text) if provisional else text


def clock_tooltip(
    clock: ClockState | None,
    now: dt.datetime,
    zone: dt.tzinfo,
    *,
    provisional: bool = False,
    problem: str | None = None,
) -> str:
    """The clock's state, business time left, and the wall-clock due time."""
    if clock is None:
        return gettext("SLA unavailable: {problem}").format(problem=problem or "?")
    lines = [f"{clock.kind.label}: {clock.state.label}"]
    try:
        due = clock.due
    except CalendarError:
        due = None
    if due is not None:
        when = i18n.format_datetime(due.astimezone(zone), "medium")
        if clock.stopped:
            lines.append(
                gettext("Stopped: {when}").format(
                    when=i18n.format_datetime((clock.stopped_at or due).astimezone(zone), "medium")
                )
            )
            lines.append(gettext("Was due: {when}").format(when=when))
        else:
            lines.append(gettext("Due: {when}").format(when=when))
    elif clock.paused:
        lines.append(gettext("No due time while the ticket waits on the customer"))
    if not clock.stopped:
        remaining = clock.remaining
        duration = i18n.format_business_duration(remaining)
        if remaining < dt.timedelta(0):
            lines.append(
                gettext("Overdue by {duration} of business time").format(duration=duration)
            )
        else:
            lines.append(gettext("{duration} of business time left").format(duration=duration))
    if clock.resumes_at is not None:
        lines.append(
            gettext("Resumes {when}").format(
                when=i18n.format_datetime(clock.resumes_at.astimezone(zone), "medium")
            )
        )
    lines.append(
        gettext("Target: {duration} of business time").format(
            duration=i18n.format_business_duration(clock.target, seconds=False)
        )
    )
    if provisional:
        lines.append(gettext("Provisional: this ticket has changes not synced yet"))
    return "\n".join(lines)
