"""A memo of the queue's SLA facts, so that a cold start need not replay every history.

What the queue keeps of a ticket's clocks (its sort keys, both clocks' states, the
instant of its next state change and the business positions from which it is at
risk and breached) is a pure function of the ticket's SLA
inputs (its SLA history entries, creation, priority, severity and plan), the
policy and calendar, and the instant; and between two state changes it does not
depend on the instant at all.  So facts computed at ``T`` still hold at any
later instant before the ticket's next state change, as long as the inputs are
the same.  Nothing here drifts: the memo is a cache of that function, checked
entry by entry, never a source of truth.

The memo is a file next to the cache (``<cache>.queue-sla``), written when the
queue has evaluated every ticket and on close, read at start.  An entry is used
only when all of these hold, else the ticket is evaluated as usual:

* the file was written by this version of the console, for the same policy,
  calendar and organisations' plans (a digest of them), at an instant not after
  "now";
* the ticket has no pending command (its clocks are then provisional);
* it is at the server version it was at (a ticket row the server changed
  carries a new version), and no SLA history entry of it came into the cache
  since the memo was written (the cache's history marks only grow);
* its next state change, if any, is still to come.

A missing, unreadable or foreign file is no memo at all: the console works
without it, only slower to start.

The calendar built from the cache's SLA documents (its public holidays and the
index of its business hours) is kept the same way, in ``<cache>.calendar``
(see :func:`load_calendar`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import zoneinfo
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any, BinaryIO, Final

from sla.calendar import BusinessCalendar
from sla.policy import calendar_from_dict

log = logging.getLogger(__name__)

#: The file's format; a change makes older files unused.
FORMAT: Final = 2
SUFFIX: Final = ".queue-sla"
_MAGIC: Final = b"offimizer-queue-sla\n"


def memo_path(cache_path: Path) -> Path:
    return cache_path.with_name(cache_path.name + SUFFIX)


def rules_digest(documents: str, plans: Iterable[tuple[int, str]]) -> str:
    """What makes facts comparable: this console's version, the SLA documents (their
    JSON as the cache holds them; "" for the contract's defaults) and the plan of each
    organisation (a ticket's targets depend on its organisation's plan)."""
    try:
        version = metadata.version("offimizer-console")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a checkout
        version = "unknown"
    text = json.dumps([FORMAT, version, documents, sorted(plans)], default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Facts:
    """One ticket's facts as the queue keeps them (see
    :meth:`desktop.models.queue.clocks.QueueClocks.set_facts`)."""

    key: tuple[int, int, int]
    states: tuple[int, int]
    response_key: int
    resolution_key: int
    wake: int
    at_risk_from: int
    breached_from: int


# The file: the magic line, a JSON header line, then one array a column, in this order.
_COLUMNS: Final = (
    ("ids", "q"),
    ("versions", "q"),
    ("group", "q"),
    ("first", "q"),
    ("second", "q"),
    ("response_high", "q"),
    ("response_low", "Q"),
    ("resolution_high", "q"),
    ("resolution_low", "Q"),
    ("response_state", "B"),
    ("resolution_state", "B"),
    ("wake", "q"),
    ("at_risk_from", "q"),
    ("breached_from", "q"),
)
_LOW: Final = (1 << 64) - 1


@dataclass(frozen=True)
class Header:
    digest: str
    count: int
    #: the instant the facts hold from (server time, µs)
    computed_at_us: int
    #: the cache's history mark when they were written (see sync.queries.Snapshot.history_mark)
    history_mark: int


def read_header(path: Path) -> Header | None:
    """The memo's header (None: no usable memo there)."""
    try:
        with path.open("rb") as stream:
            return _header(stream)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:
        log.warning("the queue's SLA memo %s is not usable: %s", path, error)
        return None


def _header(stream: BinaryIO) -> Header | None:
    if stream.readline() != _MAGIC:
        return None
    found = json.loads(stream.readline())
    return Header(
        str(found["digest"]),
        int(found["count"]),
        int(found["computed_at_us"]),
        int(found["history_mark"]),
    )


@dataclass
class Memo:
    """The facts of a file, in columns, by ticket id."""

    header: Header
    columns: dict[str, array[Any]]
    where: dict[int, int]


def load(path: Path, digest: str) -> Memo | None:
    """The memo at ``path`` if it was written for ``digest``; None otherwise."""
    try:
        with path.open("rb") as stream:
            header = _header(stream)
            if header is None or header.digest != digest:
                return None
            columns: dict[str, array[Any]] = {}
            for name, code in _COLUMNS:
                column = array(code)
                column.fromfile(stream, header.count)
                columns[name] = column
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, EOFError) as error:
        log.warning("the queue's SLA memo %s is not usable: %s", path, error)
        return None
    where = dict(zip(columns["ids"], range(header.count), strict=True))
    return Memo(header, columns, where)


def save(
    path: Path,
    header: Header,
    entries: Iterable[tuple[int, int, Facts]],
) -> None:
    """Write ``(ticket id, version, facts)`` entries (replacing the file at once: a
    reader never sees half of one); ``header.count`` is ignored."""
    columns = {name: array(code) for name, code in _COLUMNS}
    count = 0
    for ticket_id, version, facts in entries:
        columns["ids"].append(ticket_id)
        columns["versions"].append(version)
        group, first, second = facts.key
        columns["group"].append(group)
        columns["first"].append(first)
        columns["second"].append(second)
        columns["response_high"].append(facts.response_key >> 64)
        columns["response_low"].append(facts.response_key & _LOW)
        columns["resolution_high"].append(facts.resolution_key >> 64)
        columns["resolution_low"].append(facts.resolution_key & _LOW)
        columns["response_state"].append(facts.states[0])
        columns["resolution_state"].append(facts.states[1])
        columns["wake"].append(facts.wake)
        columns["at_risk_from"].append(facts.at_risk_from)
        columns["breached_from"].append(facts.breached_from)
        count += 1
    written = {
        "digest": header.digest,
        "count": count,
        "computed_at_us": header.computed_at_us,
        "history_mark": header.history_mark,
    }

    def write(stream: BinaryIO) -> None:
        stream.write(_MAGIC)
        stream.write(json.dumps(written).encode() + b"\n")
        for name, _code in _COLUMNS:
            columns[name].tofile(stream)

    _write_private(path, write, "the queue's SLA memo")


def _write_private(path: Path, write: Callable[[BinaryIO], object], what: str) -> None:
    """Replace the file at ``path`` at once with what ``write`` writes (a reader never
    sees half of it), as private as the cache it comes from; a failure is logged (a
    file not written costs a slower start, nothing more)."""
    partial = path.with_name(path.name + ".partial")
    try:
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as stream:
            write(stream)
        partial.replace(path)
    except OSError as error:
        log.warning("cannot write %s %s: %s", what, path, error)
        with contextlib.suppress(OSError):
            partial.unlink()


# -- the calendar, as built ----------------------------------------------------------
#
# A calendar defined by a country reads its public holidays from the ``holidays``
# package (a tenth of a second to import) and indexes every business day of its
# horizon (as long again).  Both are the same at every start until the calendar's
# document, the holidays package or this console changes: the built calendar is
# kept next to the cache, and taken back when its digest still matches.


def calendar_path(cache_path: Path) -> Path:
    """Where the calendar built from a cache's SLA documents is kept."""
    return cache_path.with_name(cache_path.name + ".calendar")


def calendar_digest(document: Any) -> str:
    """What a kept calendar must match: its document, this console's version (and
    :data:`FORMAT`, moved when the way a calendar is built changes), the holidays
    package's version (its dates may change with it) and the rules of the time
    zone (an update of the time-zone database moves opening hours)."""
    versions = []
    for package in ("offimizer-console", "holidays"):
        try:
            versions.append(metadata.version(package))
        except metadata.PackageNotFoundError:  # pragma: no cover - run from a checkout
            versions.append("unknown")
    zone = document.get("timezone") if isinstance(document, dict) else None
    rules = _zone_rules(zone) if isinstance(zone, str) else "none"
    text = json.dumps([FORMAT, versions, rules, document], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _zone_rules(key: str) -> str:
    """A digest of the time-zone rules ``zoneinfo`` reads for ``key``: the system's
    TZif file, else the ``tzdata`` package's ("unknown" when neither is found)."""
    if ".." in key.split("/"):
        return "unknown"
    for folder in zoneinfo.TZPATH:
        candidate = Path(folder) / key
        if candidate.is_file():
            with contextlib.suppress(OSError):
                return hashlib.sha256(candidate.read_bytes()).hexdigest()
    try:
        data = resources.files("tzdata.zoneinfo").joinpath(*key.split("/")).read_bytes()
    except (ImportError, OSError):
        return "unknown"
    return hashlib.sha256(data).hexdigest()


def load_calendar(path: Path, document: Any) -> BusinessCalendar | None:
    """The calendar kept at ``path`` for ``document``; None when there is none, or
    it was kept for something else, or it cannot be read."""
    try:
        kept = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        log.warning("the kept calendar %s cannot be read: %s", path, error)
        return None
    if not isinstance(kept, dict) or kept.get("digest") != calendar_digest(document):
        return None
    try:
        holidays = [dt.date.fromisoformat(day) for day in kept["holidays"]]
        calendar = calendar_from_dict(document, known_holidays=holidays)
        calendar.adopt_spans(kept["starts"], kept["ends"])
    except (KeyError, TypeError, ValueError) as error:  # CalendarError, SlaConfigError too
        log.warning("the kept calendar %s is not usable: %s", path, error)
        return None
    return calendar


def save_calendar(path: Path, document: Any, calendar: BusinessCalendar) -> None:
    """Keep ``calendar``, built from ``document``, for the next start."""
    starts, ends = calendar.opening_spans()
    kept = {
        "digest": calendar_digest(document),
        "holidays": sorted(day.isoformat() for day in calendar.holidays),
        "starts": starts,
        "ends": ends,
    }
    _write_private(path, lambda stream: stream.write(json.dumps(kept).encode()), "the calendar")
