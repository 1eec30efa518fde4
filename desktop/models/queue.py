"""The ticket queue: a table model over the local cache, with live SLA clocks.

The queue is kept in columns, one Python list (or array) a field and one entry
a ticket ("slot", in ticket id order): a single SQL query reads only the
columns shown, repeated strings are interned, and no per-ticket object and no
raw server JSON is kept.  Views (My tickets, Breached, …) and search results are
lists of slots; sorting sorts them on precomputed integer keys, so 100,000
tickets need no proxy model and no per-comparison Python.

Each ticket's SLA is derived from its cached history with :mod:`sla.clock`
(:func:`sla.clock.evaluate_many`, in batches) as of "now" (our clock corrected
by the server clock offset).  What the queue keeps of it is columnar too: both
clock states, the sort keys and the instant the ticket's clocks next change
state.  A large cache is evaluated lazily: the tickets of the view on screen
first, the others in the background, in slices between events (views that
depend on every clock, and :meth:`QueueModel.counts`, finish the work first).

Time moves only through :meth:`QueueModel.tick`: it emits ``dataChanged`` for
the SLA cells of the rows the view shows (it tells the model which, through
:meth:`QueueModel.set_visible_rows`) whose clocks run, re-evaluates the
tickets whose clocks change state (a per-ticket wake-up instant, kept in a
heap) and re-sorts or re-filters when that changes the order.  After a sync,
:meth:`QueueModel.refresh_tickets` (or :meth:`QueueModel.refresh_changed`, which
finds them) re-reads only the tickets that changed.
"""

from __future__ import annotations

import bisect
import datetime as dt
import heapq
import json
import logging
import sys
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import Any, Final, NamedTuple

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

import i18n
from desktop.models import sla_memo
from desktop.models.sla_cells import (
    MINUTES_GRID,
    UNKNOWN_GROUP,
    SlaRules,
    clock_due_us,
    clock_sort_key,
    clock_style,
    clock_text,
    clock_tooltip,
    evaluate_safely,
    evaluate_since,
    events_from_history,
    on_minutes_grid,
    read_sla_history,
    shown_until_us,
    wording,
)
from desktop.models.sla_memo import Facts
from i18n import N_, gettext
from sla.calendar import duration_to_us, to_us
from sla.clock import (
    NO_DUE,
    ClockState,
    ClockStatus,
    Event,
    QueueSla,
    Status,
    TicketSla,
    evaluate_many,
)
from sla.policy import Priority, Severity, plan_label
from sync import schema
from sync.cache import Cache, collector_paused, utc_now

__all__ = ["Column", "QueueModel", "QueueRow", "QueueTicket", "QueueView", "Watched"]

Index = QModelIndex | QPersistentModelIndex
Clock = Callable[[], dt.datetime]

_SECOND_US: Final = 1_000_000
_RECENT: Final = dt.timedelta(hours=24)
#: Up to this many tickets, every clock is evaluated at once; beyond, lazily.
EAGER_LIMIT: Final = 5_000
#: Tickets evaluated per background slice (a few tens of milliseconds).
_SLICE: Final = 1_500
#: Tickets whose clocks changed state evaluated in one go, the rest in slices after
#: (a few tens of milliseconds each: each reads its history).
_WAKE_SLICE = 1_000
#: The background evaluation starts this long after a (re)load, once the queue is painted.
_BACKGROUND_DELAY_MS: Final = 100
#: Ticket ids per ``IN (…)`` query.
_CHUNK: Final = 500


log = logging.getLogger(__name__)


class Column(IntEnum):
    TRACKING = 0
    SUBJECT = 1
    ORGANISATION = 2
    PRIORITY = 3
    SEVERITY = 4
    STATUS = 5
    ASSIGNEE = 6
    RESPONSE_SLA = 7
    RESOLUTION_SLA = 8
    UPDATED = 9


SLA_COLUMNS: Final = (Column.RESPONSE_SLA, Column.RESOLUTION_SLA)
_COLUMN_COUNT: Final = len(Column)
#: How long a new order may wait while it changes no row on screen (see
#: :meth:`QueueModel._follow_clocks`).  A relayout repaints every cell shown (a
#: tenth of the CPU a second of ticking may take), and with 100,000 tickets some
#: clock breaches every few seconds below the screen: once a minute at most.
ORDER_WAIT: Final = dt.timedelta(minutes=1)
_ORDER_WAIT_US: Final = duration_to_us(ORDER_WAIT)
#: How often the clocks of tickets not on screen are brought to their new state
#: (at risk, breached…): the counts, the views and the order follow them this
#: late at most.  With 100,000 tickets some clock changes state every second;
#: each change costs a read of its history, an evaluation and the counts shown
#: again, so they are taken together.  The rows on screen follow to the second.
#: On the instants of :data:`MINUTES_GRID`, with the cells that show minutes.
OFF_SCREEN_STEP: Final = MINUTES_GRID
_OFF_SCREEN_STEP_US: Final = duration_to_us(OFF_SCREEN_STEP)

_HEADERS: Final = {
    Column.TRACKING: N_("Ticket"),
    Column.SUBJECT: N_("Subject"),
    Column.ORGANISATION: N_("Organisation"),
    Column.PRIORITY: N_("Priority"),
    Column.SEVERITY: N_("Severity"),
    Column.STATUS: N_("Status"),
    Column.ASSIGNEE: N_("Assignee"),
    Column.RESPONSE_SLA: N_("First response"),
    Column.RESOLUTION_SLA: N_("Resolution"),
    Column.UPDATED: N_("Updated"),
}


class QueueView(StrEnum):
    """The queues of the navigation pane."""

    MY_TICKETS = "mine"
    UNASSIGNED = "unassigned"
    MY_TEAMS = "teams"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    PENDING = "pending"
    RECENT = "recent"
    ALL = "all"

    @property
    def label(self) -> str:
        return gettext(_VIEW_LABELS[self])


_VIEW_LABELS: Final = {
    QueueView.MY_TICKETS: N_("My tickets"),
    QueueView.UNASSIGNED: N_("Unassigned"),
    QueueView.MY_TEAMS: N_("My teams"),
    QueueView.AT_RISK: N_("At risk"),
    QueueView.BREACHED: N_("Breached"),
    QueueView.PENDING: N_("Pending"),
    QueueView.RECENT: N_("Recently updated"),
    QueueView.ALL: N_("All tickets"),
}

#: Views whose membership depends on the clocks (a tick may move rows in or out).
_CLOCK_VIEWS: Final = frozenset({QueueView.AT_RISK, QueueView.BREACHED})
_STATUS_ORDER: Final = {status.value: rank for rank, status in enumerate(Status)}
_DONE: Final = frozenset({Status.RESOLVED.value, Status.CLOSED.value})
_PRIORITY_RANK: Final = {priority.value: priority.rank for priority in Priority}
_SEVERITY_RANK: Final = {severity.value: severity.rank for severity in Severity}

#: Clock states as stored in the state columns (one byte a ticket and a clock).
_STATES: Final = tuple(ClockStatus)
_STATE_CODE: Final = {state: code for code, state in enumerate(_STATES)}
_NO_STATE: Final = 255
_AT_RISK: Final = _STATE_CODE[ClockStatus.AT_RISK]
_STOPPED_CODES: Final = frozenset({_STATE_CODE[ClockStatus.MET], _STATE_CODE[ClockStatus.MISSED]})
#: Priority.rank by the priority's index in Priority (QueueSla's priority column)
_PRIORITY_RANKS: Final = tuple(priority.rank for priority in Priority)
_BREACHED: Final = _STATE_CODE[ClockStatus.BREACHED]

#: Custom roles: the plan code of the organisation column, the row's ticket id.
PLAN_ROLE: Final = int(Qt.ItemDataRole.UserRole) + 1
TICKET_ID_ROLE: Final = int(Qt.ItemDataRole.UserRole) + 2
CLOCK_STATE_ROLE: Final = int(Qt.ItemDataRole.UserRole) + 3
#: A cell's look in one call, :class:`Cell` (what the queue's delegate paints).
CELL_ROLE: Final = int(Qt.ItemDataRole.UserRole) + 4

#: Every cell's flags (asked for each cell painted: built once).
_ROW_FLAGS: Final = (
    Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
)

_SLA_ROLES: Final = [
    CELL_ROLE,
    Qt.ItemDataRole.DisplayRole,
    Qt.ItemDataRole.ToolTipRole,
    Qt.ItemDataRole.ForegroundRole,
    Qt.ItemDataRole.BackgroundRole,
    Qt.ItemDataRole.FontRole,
]

# -- integer sort keys -------------------------------------------------------------
# Every column sorts on one integer a ticket: comparing two Python ints is much
# cheaper than comparing tuples.  The lowest bits hold the slot (ticket id order),
# so no two keys are equal; above them, the next SLA due (the tie-breaker of most
# columns), above that the column's own rank.
_SLOT_BITS: Final = 24
#: Columns whose keys do not depend on the clocks.
_CLOCK_FREE: Final = frozenset(
    {Column.TRACKING, Column.SUBJECT, Column.ORGANISATION, Column.UPDATED}
)
_VALUE_BITS: Final = 64
_VALUE_OFFSET: Final = 1 << 63
_DUE_BITS: Final = _SLOT_BITS + _VALUE_BITS + 8  # a packed next-SLA-due key
_LOW_64: Final = (1 << _VALUE_BITS) - 1


def _states_of(first: int, second: int) -> tuple[ClockStatus | None, ClockStatus | None]:
    """Both clocks' states from their codes (None: not known)."""
    return (
        None if first == _NO_STATE else _STATES[first],
        None if second == _NO_STATE else _STATES[second],
    )


def _clock_of(sla: TicketSla | None, column: int) -> ClockState | None:
    """The clock an SLA column shows."""
    if sla is None:
        return None
    return sla.response if column == Column.RESPONSE_SLA else sla.resolution


def _due_key(key: tuple[int, int, int], slot: int) -> int:
    """``ticket_sort_key``'s (group, a, b) as one integer, the slot last."""
    group, first, second = key
    if group == 0:  # overdue: priority rank, then the most overdue
        head, value = group << 4 | first, second
    else:
        head, value = group << 4, first
    return ((head << _VALUE_BITS | (value + _VALUE_OFFSET)) << _SLOT_BITS) | slot


def _clock_key(clock: ClockState | None) -> int:
    group, value = clock_sort_key(clock)
    return group << _VALUE_BITS | (value + _VALUE_OFFSET)


#: Both clock keys of a ticket whose clocks cannot be computed.
_NO_CLOCK_KEYS: Final = (_clock_key(None), _clock_key(None))


def _facts(sla: TicketSla) -> tuple[tuple[int, int, int], tuple[int, int], int, int]:
    """What the queue keeps of a ticket's clocks, each due instant computed once.

    The same as :func:`ticket_sort_key`, both clocks' states and both
    :func:`clock_sort_key` (packed), which would each compute the due instants again.
    """
    overdue: list[int] = []
    running: list[int] = []
    paused: list[int] = []
    clock_keys: list[int] = []
    for clock in (sla.response, sla.resolution):
        remaining = clock.target_us - clock.elapsed_us
        if clock.stopped_us is not None:
            clock_keys.append(3 << _VALUE_BITS | (clock_due_us(clock) + _VALUE_OFFSET))
        elif clock.paused:
            paused.append(remaining)
            clock_keys.append(2 << _VALUE_BITS | (remaining + _VALUE_OFFSET))
        else:
            due = clock_due_us(clock)
            running.append(due)
            if remaining < 0:
                overdue.append(due)
                clock_keys.append(due + _VALUE_OFFSET)
            else:
                clock_keys.append(1 << _VALUE_BITS | (due + _VALUE_OFFSET))
    if overdue:
        key = (0, sla.priority.rank, min(overdue))
    elif running:
        key = (1, min(running), 0)
    elif paused:
        key = (2, min(paused), 0)
    else:
        key = (3, 0, 0)
    states = (_STATE_CODE[sla.response.state], _STATE_CODE[sla.resolution.state])
    return key, states, clock_keys[0], clock_keys[1]


@dataclass(frozen=True, slots=True)
class QueueTicket:
    """The fields of a ticket the queue shows (server state with pending work)."""

    id: int
    tracking_number: str
    subject: str
    organisation_id: int
    priority: str
    severity: str
    status: str
    team_id: int
    assignee_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    #: commands of this ticket not yet seen in a pull: its SLA is provisional
    pending: bool


class Cell(NamedTuple):
    """How a cell looks: its text, colours (None: the view's) and font."""

    text: str
    foreground: QBrush | None
    background: QBrush | None
    font: QFont | None


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One ticket as the queue shows it (built on request; the queue keeps columns)."""

    ticket: QueueTicket
    organisation: str
    plan: str
    assignee: str | None
    sla: TicketSla | None
    problem: str | None
    states: tuple[ClockStatus | None, ClockStatus | None]

    def clock(self, column: int) -> ClockState | None:
        return _clock_of(self.sla, column)


def _status_label(code: str) -> str:
    try:
        return Status(code).label
    except ValueError:
        return code


def _priority_label(code: str) -> str:
    try:
        return Priority(code).display
    except ValueError:
        return code


def _severity_label(code: str) -> str:
    try:
        return Severity(code).label
    except ValueError:
        return code


def _parse_instant(text: str) -> dt.datetime:
    when = dt.datetime.fromisoformat(text)
    return when if when.tzinfo is dt.UTC else when.astimezone(dt.UTC)


def _stamp(when: dt.datetime) -> str:
    """An instant as the cache stores it (ISO text in UTC: sorts as text)."""
    return when.astimezone(dt.UTC).isoformat(timespec="microseconds")


_BRUSHES: dict[str, QBrush] = {}


def _brush(colour: str) -> QBrush:
    """One brush a colour, made once (cells ask for them on every repaint)."""
    found = _BRUSHES.get(colour)
    if found is None:
        found = _BRUSHES[colour] = QBrush(QColor(colour))
    return found


def _driver(connection: Connection) -> Any:
    """The SQLite connection under SQLAlchemy's (inside its transaction): bulk reads
    of plain tuples, without a result row object a row."""
    return connection.connection.driver_connection


_TICKET_COLUMNS: Final = (
    "id, tracking_number, subject, organisation_id, priority, severity, status, "
    "team_id, assignee_id, created_at, updated_at, version"
)


#: a ticket's clocks (None when they cannot be computed) and why not
_Clocks = tuple[TicketSla | None, str | None]


class Watched(NamedTuple):
    """What :meth:`QueueModel.watch` tells of a ticket."""

    tracking_number: str
    subject: str
    states: tuple[ClockStatus | None, ClockStatus | None]  # first response, resolution


class QueueModel(QAbstractTableModel):
    """Tickets of the current view and search, sorted, with live SLA cells."""

    #: the number of tickets in some view may have changed (clock states, reload)
    countsChanged = Signal()
    #: the clock states, assignee or status of these tickets may have moved: a dict of
    #: their ids to the states their clocks had before (see :meth:`watch`); None: of
    #: any ticket (the queue was read again)
    clocksMoved = Signal(object)

    def __init__(
        self,
        cache: Cache,
        *,
        me: int | None = None,
        clock: Clock = utc_now,
        view: QueueView = QueueView.ALL,
        eager_limit: int = EAGER_LIMIT,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._cache = cache
        self._me = me
        self._clock = clock
        self._eager_limit = eager_limit
        self._offset = dt.timedelta(0)
        self._rules: SlaRules | None = None
        self._my_teams: set[int] | None = None
        self._organisations: dict[int, tuple[str, str]] = {}
        self._users: dict[int, str] = {}
        self._clear_columns()
        #: tickets whose clocks the last (re)load took from the memo of an earlier run
        self.recalled = 0
        self._rows: list[int] = []  # the slots shown, in order
        self._view = view
        self._search: set[int] | None = None
        self._sort_column = -1
        self._sort_order = Qt.SortOrder.AscendingOrder
        self._visible = (0, -1)
        #: what each SLA cell showed when last painted (its text and clock state) and
        #: until when it holds (µs, None: until an event or a change of state), by
        #: slot * 2 + (0 response, 1 resolution): a tick repaints the cells that change
        self._painted: dict[int, tuple[str, int, int | None]] = {}
        #: when a clock-driven order was left waiting (see :meth:`_follow_clocks`)
        self._order_waits_since: int | None = None
        self._now = self.now()
        self._now_us = to_us(self._now)
        #: when the clocks off screen are next brought to their state (OFF_SCREEN_STEP)
        self._off_screen_due = on_minutes_grid(self._now_us)
        #: tickets on screen whose states (or keys: the key before) moved since the
        #: last step: their rows move at the next one (see tick)
        self._held_states: set[int] = set()
        self._held_keys: dict[int, int] = {}
        #: tickets whose clocks changed state, still to evaluate (see tick)
        self._backlog: list[int] = []
        self._catch_up = QTimer(self)
        self._catch_up.setSingleShot(True)
        self._catch_up.timeout.connect(self._catch_up_slice)
        self._bold = QFont()
        self._bold.setBold(True)
        self._italic = QFont()
        self._italic.setItalic(True)
        self._bold_italic = QFont(self._bold)
        self._bold_italic.setItalic(True)
        self._background = QTimer(self)
        self._background.setSingleShot(True)
        self._background.timeout.connect(self._evaluate_slice)
        self._memo_timer = QTimer(self)
        self._memo_timer.setSingleShot(True)
        self._memo_timer.timeout.connect(self.save_memo)
        self.reload()

    def _clear_columns(self) -> None:
        self._ids: list[int] = []
        self._slot_of: dict[int, int] = {}
        self._tracking: list[str] = []
        self._subject: list[str] = []
        self._organisation: list[int] = []
        self._priority: list[str] = []
        self._severity: list[str] = []
        self._status: list[str] = []
        self._team: list[int] = []
        self._assignee: list[int | None] = []
        self._created: list[str] = []
        self._updated: list[str] = []
        self._version: list[int] = []  # the server's version of each ticket
        self._pending = bytearray()
        #: the ids of the tickets with pending work, as last read
        self._pending_now: set[int] = set()
        self._done = bytearray()
        # the SLA, in columns
        self._events: list[list[Event] | None] = []
        self._evaluated = bytearray()  # 1 once the slot's clocks are known
        self._unevaluated = 0
        self._due: list[int] = []  # packed next-SLA-due keys
        self._response_key: list[int] = []
        self._resolution_key: list[int] = []
        self._response_state = bytearray()
        self._resolution_state = bytearray()
        #: tickets with either clock in a state, by state code: counted once, then
        #: kept up to date as states move (see _put)
        self._state_counts: dict[int, int] = {}
        self._wake = array("q")  # next state change (µs), -1 for none
        self._problems: dict[int, str] = {}
        self._wakes: list[tuple[int, int]] = []  # (instant, slot), stale entries skipped
        self._current: dict[int, _Clocks] = {}  # clocks as of now
        #: what SLA cells say as of now and until when, by slot * 2 + side: a tick
        #: that finds a cell changed has worked it out, its paint takes that (_shown)
        self._texts: dict[int, tuple[str, int | None]] = {}
        self._texts_wording = wording()  # the language they are in, and so on
        self._earlier: dict[int, _Clocks] = {}  # those of the tick before (moved forward)
        self._keys: dict[int, list[int]] = {}  # sort keys by column, until the data changes
        #: the counts of the views that depend on the tickets' fields only (not on time)
        self._field_counts: dict[QueueView, int] | None = None
        #: every ticket's last update, sorted: "Recently updated" counted by bisection
        self._updated_sorted: list[str] | None = None
        self._orders: dict[int, list[int]] = {}  # every slot sorted by a column's keys
        #: slots whose clock-dependent keys moved since the orders were mended, and
        #: their due key then (to find them in the orders by bisection)
        self._dirty: dict[int, int] = {}
        # watermarks of what the queue has read (for refresh_changed)
        self._history_mark = 0
        self._comment_mark = 0

    # -- time -----------------------------------------------------------------------

    def now(self) -> dt.datetime:
        """The server's time as we best know it: our clock plus the measured offset."""
        return self._clock() + self._offset

    @property
    def evaluated_at(self) -> dt.datetime:
        return self._now

    @property
    def rules(self) -> SlaRules:
        if self._rules is None:
            self._rules = SlaRules.from_cache(self._cache)
        return self._rules

    # -- loading ----------------------------------------------------------------------

    def reload(self) -> None:
        """Read every ticket from the cache again (after an initial sync, say)."""
        self._background.stop()
        self._catch_up.stop()
        self._memo_timer.stop()
        self.beginResetModel()
        try:
            self._painted = {}  # slots are numbered again
            self._held_states, self._held_keys, self._backlog = set(), {}, []
            self._offset = self._cache.clock_offset()
            self._now = self.now()
            self._now_us = to_us(self._now)
            with collector_paused():
                # (reading the tickets on a thread while the calendar was indexed saved
                # nothing: both build Python objects, under the interpreter's lock)
                self._rules = SlaRules.from_cache(self._cache)
                self._rules.calendar.index()
                read = self._read_tickets()
                self._load(*read[:4])
                self.recalled = 0
                if read[4] is not None:  # facts computed earlier that may still hold
                    self._recall(read[4])
                if len(self._ids) <= self._eager_limit:
                    self._evaluate_slots(range(len(self._ids)))
                self._rows = self._select()
        finally:
            self.endResetModel()
        self._schedule_background()
        self.countsChanged.emit()
        self.clocksMoved.emit(None)

    def _read_directory(self, connection: Connection) -> None:
        organisations: dict[int, tuple[str, str]] = {}
        for organisation_id, name, plan in connection.exec_driver_sql(
            f"SELECT id, name, plan FROM {schema.organisations.name}"
        ):
            organisations[organisation_id] = (sys.intern(name), sys.intern(plan))
        self._organisations = organisations
        users: dict[int, str] = {}
        teams: set[int] | None = None
        for user_id, display_name, team_ids in connection.exec_driver_sql(
            f"SELECT id, display_name, team_ids FROM {schema.users.name}"
        ):
            users[user_id] = display_name
            if user_id == self._me:
                found = json.loads(team_ids) if isinstance(team_ids, str) else team_ids
                teams = {int(team) for team in found or ()}
        self._users = users
        self._my_teams = teams

    def _read_tickets(
        self,
    ) -> tuple[list[tuple[Any, ...]], set[int], int, int, set[int] | None]:
        """The shown columns of every ticket, those with pending work, the watermarks,
        and (for a large queue with a memo of its clocks) the tickets whose SLA history
        grew since the memo was written."""
        path = self._memo_file()
        with self._cache.read() as connection:
            rows = (
                _driver(connection)
                .execute(f"SELECT {_TICKET_COLUMNS} FROM {schema.tickets.name} ORDER BY id")
                .fetchall()
            )
            pending = self._pending_ids(connection)
            history_mark = self._max_id(connection, schema.ticket_history.name)
            comment_mark = self._max_id(connection, schema.comments.name)
            changed: set[int] | None = None
            if path is not None and len(rows) > self._eager_limit:
                header = sla_memo.read_header(path)
                if header is not None:
                    changed = sla_memo.changed_since(connection, header.history_mark)
        return rows, pending, history_mark, comment_mark, changed

    def _load(
        self, rows: list[tuple[Any, ...]], pending: set[int], history_mark: int, comment_mark: int
    ) -> None:
        self._clear_columns()
        self._history_mark, self._comment_mark = history_mark, comment_mark
        intern = sys.intern
        with self._cache.read() as connection:
            self._read_directory(connection)
        count = len(rows)
        if count:
            (
                ids,
                tracking,
                subject,
                organisation,
                priority,
                severity,
                status,
                team,
                assignee,
                created,
                updated,
                version,
            ) = zip(*rows, strict=True)
            self._ids = list(ids)
            self._tracking = list(tracking)
            self._subject = list(subject)
            self._organisation = list(organisation)
            self._priority = [intern(code) for code in priority]
            self._severity = [intern(code) for code in severity]
            self._status = [intern(code) for code in status]
            self._team = list(team)
            self._assignee = list(assignee)
            self._created = list(created)
            self._updated = list(updated)
            self._version = list(version)
        self._slot_of = {ticket_id: slot for slot, ticket_id in enumerate(self._ids)}
        self._pending = bytearray(ticket_id in pending for ticket_id in self._ids)
        self._pending_now = pending
        self._done = bytearray(code in _DONE for code in self._status)
        self._events = [None] * count
        self._evaluated = bytearray(count)
        self._unevaluated = count
        self._due = [0] * count
        self._response_key = [0] * count
        self._resolution_key = [0] * count
        self._response_state = bytearray([_NO_STATE]) * count
        self._resolution_state = bytearray([_NO_STATE]) * count
        self._state_counts = {}
        self._wake = array("q", [-1]) * count

    @staticmethod
    def _max_id(connection: Connection, table: str) -> int:
        found = connection.exec_driver_sql(f"SELECT max(local_id) FROM {table}").scalar()
        return int(found or 0)

    @staticmethod
    def _pending_ids(connection: Connection) -> set[int]:
        """The tickets with commands in the outbox (their SLA is provisional)."""
        return {
            ticket_id
            for (ticket_id,) in connection.exec_driver_sql(
                f"SELECT DISTINCT ticket_id FROM {schema.outbox.name} WHERE ticket_id IS NOT NULL"
            )
        }

    def _events_of(self, slots: Sequence[int]) -> list[list[Event]]:
        missing = [slot for slot in slots if self._events[slot] is None]
        if missing:
            ids = self._ids
            with self._cache.quick_read() as connection:
                history = read_sla_history(connection, [ids[slot] for slot in missing])
            organisations = self._organisations
            for slot in missing:
                known = organisations.get(self._organisation[slot])
                self._events[slot] = events_from_history(
                    history[ids[slot]],
                    created_at=_parse_instant(self._created[slot]),
                    priority=self._priority[slot],
                    severity=self._severity[slot],
                    plan=known[1] if known is not None else "",
                )
        return [self._events[slot] or [] for slot in slots]

    # -- evaluation -------------------------------------------------------------------

    def _evaluate_slots(
        self,
        slots: Iterable[int],
        keep: dict[int, _Clocks] | None = None,
    ) -> bool:
        """Bring these tickets' clocks to the model's instant; True when an order or state moved.

        ``keep`` receives the clocks themselves (the queue keeps only states and keys).
        """
        before = self._unevaluated
        with collector_paused():
            moved = self._evaluate_many(list(slots), keep)
        if before and not self._unevaluated:  # every ticket known: the next start need
            self._memo_timer.start(0)  # not evaluate them all again (once this is done)
        return moved

    def _evaluate_many(self, slots: list[int], keep: dict[int, _Clocks] | None) -> bool:
        moved = False
        rules = self.rules
        now, now_us = self._now, self._now_us
        for start in range(0, len(slots), _SLICE):
            chunk = slots[start : start + _SLICE]
            histories = self._events_of(chunk)
            results: dict[int, _Clocks] = {}
            simple: list[int] = []
            simple_histories: list[list[Event]] = []
            for slot, events in zip(chunk, histories, strict=True):
                if events and max(event.at_us for event in events) <= now_us:
                    simple.append(slot)
                    simple_histories.append(events)
                else:  # an event after our "now" (a skewed clock): evaluated as of it
                    results[slot] = evaluate_safely(events, rules, now)
            if keep is None:  # the facts only: in columns, no clock object a ticket
                try:
                    queue = QueueSla(
                        simple_histories, rules.policy, rules.calendar, now, granularity=None
                    )
                except Exception:  # one history that cannot be replayed: each on its own
                    for slot, events in zip(simple, simple_histories, strict=True):
                        results[slot] = evaluate_safely(events, rules, now)
                else:
                    moved = self._put_columns(simple, queue) or moved
                for slot, result in results.items():
                    moved = self._store(slot, *result) or moved
                continue
            try:
                evaluated = evaluate_many(simple_histories, rules.policy, rules.calendar, now)
            except Exception:  # one history that cannot be replayed: each ticket on its own
                for slot, events in zip(simple, simple_histories, strict=True):
                    results[slot] = evaluate_safely(events, rules, now)
            else:
                for slot, sla in zip(simple, evaluated, strict=True):
                    results[slot] = (sla, None)
            for slot in chunk:
                moved = self._store(slot, *results[slot]) or moved
            keep.update(results)
        return moved

    def _put_columns(self, slots: list[int], queue: QueueSla) -> bool:
        """:meth:`_store` of these tickets, from their :class:`QueueSla` columns (the
        same facts as :func:`_facts` of each ticket's evaluation)."""
        moved = False
        problems, put = self._problems, self._put_parts
        response_states, resolution_states = queue.response_state, queue.resolution_state
        response_left, resolution_left = queue.response_remaining_us, queue.resolution_remaining_us
        response_due, resolution_due = queue.response_due_us, queue.resolution_due_us
        priorities, changes = queue.priority, queue.next_change_us
        stopped, offset, ranks = _STOPPED_CODES, _VALUE_OFFSET, _PRIORITY_RANKS
        for row, slot in enumerate(slots):
            if problems:
                problems.pop(slot, None)
            response_state, resolution_state = response_states[row], resolution_states[row]
            # first response: stopped, else running (never paused)
            due = response_due[row]
            if response_state in stopped:
                response_key = 3 << 64 | (due + offset)
                overdue = running = 0
                has_running = False
            else:
                running = due
                has_running = True
                if response_left[row] < 0:
                    response_key = due + offset
                    overdue = due
                else:
                    response_key = 1 << 64 | (due + offset)
                    overdue = 0
            has_overdue = has_running and response_left[row] < 0
            # resolution: stopped, paused (no due instant) or running
            due = resolution_due[row]
            left = resolution_left[row]
            paused = False
            if resolution_state in stopped:
                resolution_key = 3 << 64 | (due + offset)
            elif due == NO_DUE:
                resolution_key = 2 << 64 | (left + offset)
                paused = True
            else:
                if not has_running or due < running:
                    running = due
                has_running = True
                if left < 0:
                    resolution_key = due + offset
                    if not has_overdue or due < overdue:
                        overdue = due
                    has_overdue = True
                else:
                    resolution_key = 1 << 64 | (due + offset)
            if has_overdue:
                key = (0, ranks[priorities[row]], overdue)
            elif has_running:
                key = (1, running, 0)
            elif paused:
                key = (2, left, 0)
            else:
                key = (3, 0, 0)
            states = (response_state, resolution_state)
            moved = put(slot, key, states, response_key, resolution_key, changes[row]) or moved
        return moved

    def _store(self, slot: int, sla: TicketSla | None, problem: str | None) -> bool:
        """Keep what the queue needs of one ticket's clocks; True when its order or states moved."""
        if problem is None:
            self._problems.pop(slot, None)
        else:
            self._problems[slot] = problem
        if sla is None:
            facts = Facts((UNKNOWN_GROUP, 0, 0), (_NO_STATE, _NO_STATE), *_NO_CLOCK_KEYS, -1)
        else:
            key, states, response_key, resolution_key = _facts(sla)
            found = sla.next_change_us(self._now_us, None)  # changes of state only
            wake = -1 if found is None else found
            facts = Facts(key, states, response_key, resolution_key, wake)
        return self._put(slot, facts)

    def _put(self, slot: int, facts: Facts) -> bool:
        """Keep these facts of one ticket's clocks; True when its order or states moved."""
        return self._put_parts(
            slot, facts.key, facts.states, facts.response_key, facts.resolution_key, facts.wake
        )

    def _put_parts(
        self,
        slot: int,
        key: tuple[int, int, int],
        states: tuple[int, int],
        response_key: int,
        resolution_key: int,
        wake: int,
    ) -> bool:
        """:meth:`_put` of a :class:`Facts` given field by field."""
        due = _due_key(key, slot)
        # the sort keys hang on the due key and the clock keys, not on the states (a
        # clock turning "at risk", the most frequent change, mends no order)
        if (
            not self._evaluated[slot]
            or due != self._due[slot]
            or response_key != self._response_key[slot]
            or resolution_key != self._resolution_key[slot]
        ):
            self._dirty.setdefault(slot, self._due[slot])
        if not self._evaluated[slot]:
            self._evaluated[slot] = 1
            self._unevaluated -= 1
            self._state_counts.clear()  # counted again once every clock is known
            moved = True
        else:
            response, resolution = self._response_state[slot], self._resolution_state[slot]
            moved = due != self._due[slot]
            if states[0] != response or states[1] != resolution:
                moved = True
                counts = self._state_counts
                for code in counts:
                    counts[code] += (states[0] == code or states[1] == code) - (
                        response == code or resolution == code
                    )
        self._due[slot] = due
        self._response_key[slot] = response_key
        self._resolution_key[slot] = resolution_key
        self._response_state[slot], self._resolution_state[slot] = states
        if wake >= 0 and wake != self._wake[slot]:
            heapq.heappush(self._wakes, (wake, slot))
        self._wake[slot] = wake
        return moved

    def _clock_facts(self, slot: int) -> tuple[tuple[int, int, int], tuple[int, int]]:
        """A slot's sort keys and clock states (to tell what a re-evaluation moved)."""
        return (
            (self._due[slot], self._response_key[slot], self._resolution_key[slot]),
            (self._response_state[slot], self._resolution_state[slot]),
        )

    def _facts_of(self, slot: int) -> Facts:
        """What :meth:`_put` kept of an evaluated slot."""
        due = self._due[slot] >> _SLOT_BITS
        value = (due & _LOW_64) - _VALUE_OFFSET
        head = due >> _VALUE_BITS
        group = head >> 4
        key = (group, head & 15, value) if group == 0 else (group, value, 0)
        return Facts(
            key,
            (self._response_state[slot], self._resolution_state[slot]),
            self._response_key[slot],
            self._resolution_key[slot],
            self._wake[slot],
        )

    # -- the memo of facts (see desktop.models.sla_memo) --------------------------------

    def _memo_file(self) -> Path | None:
        path = getattr(self._cache, "path", None)
        return sla_memo.memo_path(Path(path)) if path is not None else None

    def _digest(self) -> str:
        plans = ((key, plan) for key, (_name, plan) in self._organisations.items())
        return sla_memo.rules_digest(self.rules.source, plans)

    def _recall(self, changed: set[int]) -> None:
        """Take the facts the memo still vouches for (see :mod:`desktop.models.sla_memo`):
        tickets without pending work, at the same version, without new SLA history."""
        path = self._memo_file()
        memo = None if path is None else sla_memo.load(path, self._digest())
        now_us = self._now_us
        if memo is None or now_us < memo.header.computed_at_us:
            return
        c = memo.columns
        ids = self._ids
        # the slots whose memo entry cannot hold, whatever it says
        excluded = {slot for slot in range(len(ids)) if self._pending[slot]}
        slot_of = self._slot_of
        excluded.update(slot_of[i] for i in changed if i in slot_of)
        # each slot's entry: the same tickets as when it was written (the usual case)
        # line up; else by ticket id
        if c["ids"].tolist() == ids:
            entries: Iterable[int] = range(len(ids))
        else:
            where = memo.where
            entries = [where.get(ticket_id, -1) for ticket_id in ids]
        versions, wakes_at = c["versions"], c["wake"]
        group, first, second = c["group"], c["first"], c["second"]
        response_high, response_low = c["response_high"], c["response_low"]
        resolution_high, resolution_low = c["resolution_high"], c["resolution_low"]
        response_states, resolution_states = c["response_state"], c["resolution_state"]
        version, evaluated = self._version, self._evaluated
        due, wake, wakes = self._due, self._wake, self._wakes
        response_key, resolution_key = self._response_key, self._resolution_key
        response_state, resolution_state = self._response_state, self._resolution_state
        recalled = 0
        for slot, at in enumerate(entries):
            if at < 0 or versions[at] != version[slot] or slot in excluded:
                continue
            when = wakes_at[at]
            if 0 <= when <= now_us:
                continue  # a state changed since: evaluated again
            due[slot] = _due_key((group[at], first[at], second[at]), slot)
            response_key[slot] = response_high[at] << 64 | response_low[at]
            resolution_key[slot] = resolution_high[at] << 64 | resolution_low[at]
            response_state[slot] = response_states[at]
            resolution_state[slot] = resolution_states[at]
            wake[slot] = when
            if when >= 0:
                wakes.append((when, slot))
            evaluated[slot] = 1
            recalled += 1
        heapq.heapify(wakes)
        self._state_counts.clear()
        self._unevaluated -= recalled
        self.recalled = recalled

    def save_memo(self) -> bool:
        """Write the facts of every evaluated ticket for the next start (a large queue
        only); False when not written (nothing worth it, or the cache moved since the
        queue last read it: the facts would not match what it holds)."""
        path = self._memo_file()
        if path is None or len(self._ids) <= self._eager_limit or self._rules is None:
            return False
        ids, pending = self._ids, self._pending
        try:
            with self._cache.read() as connection:
                if Cache._history_mark(connection) != self._history_mark:
                    return False
                shown = {ticket_id for slot, ticket_id in enumerate(ids) if pending[slot]}
                if self._pending_ids(connection) != shown:
                    return False
        except SQLAlchemyError as error:  # a memo not written costs a slower start, no more
            log.warning("the queue's SLA memo was not written: %s", error)
            return False
        evaluated, problems, version = self._evaluated, self._problems, self._version
        header = sla_memo.Header(self._digest(), 0, self._now_us, self._history_mark)
        sla_memo.save(
            path,
            header,
            (
                (ids[slot], version[slot], self._facts_of(slot))
                for slot in range(len(ids))
                if evaluated[slot] and not pending[slot] and slot not in problems
            ),
        )
        return True

    def _ensure(self, slots: Iterable[int]) -> None:
        """These tickets' clocks known (evaluated now if they never were)."""
        if self._unevaluated:
            evaluated = self._evaluated
            missing = [slot for slot in slots if not evaluated[slot]]
            if missing:
                self._evaluate_slots(missing)

    def _ensure_all(self) -> None:
        if self._unevaluated:
            self._ensure(range(len(self._ids)))
            self._background.stop()

    @property
    def fully_evaluated(self) -> bool:
        """Whether every ticket's clocks are known (else the background is at it)."""
        return self._unevaluated == 0

    def _schedule_background(self) -> None:
        if self._unevaluated:  # after the queue on screen is painted
            self._background.start(_BACKGROUND_DELAY_MS)

    def _evaluate_slice(self) -> None:
        if not self._unevaluated:
            return
        evaluated = self._evaluated
        batch: list[int] = []
        for slot in range(len(self._ids)):
            if not evaluated[slot]:
                batch.append(slot)
                if len(batch) >= _SLICE:
                    break
        self._evaluate_slots(batch)
        if self._unevaluated:
            self._background.start(0)
        else:
            self.countsChanged.emit()
            self.clocksMoved.emit(None)

    def _clocks(self, slot: int) -> _Clocks:
        """Both clocks of one ticket as of the model's instant."""
        found = self._current.get(slot)
        if found is None:
            if not self._evaluated[slot]:
                self._evaluate_slots([slot], keep=self._current)
                return self._current[slot]
            found = evaluate_since(
                self._earlier.get(slot), lambda: self._events_of([slot])[0], self.rules, self._now
            )
            self._current[slot] = found
        return found

    # -- views, search, counts ------------------------------------------------------

    @property
    def view(self) -> QueueView:
        return self._view

    def set_view(self, view: QueueView) -> None:
        if view is not self._view:
            self._view = view
            self._refilter()

    def set_search(self, ticket_ids: Iterable[int] | None) -> None:
        """Restrict the queue to these tickets (a search's results); None shows all."""
        wanted = None if ticket_ids is None else set(ticket_ids)
        if wanted != self._search:
            self._search = wanted
            self._refilter()

    def _view_slots(self, view: QueueView, among: Iterable[int] | None = None) -> list[int]:
        """The slots of ``view`` (among these slots, else all), in slot order."""
        slots: Iterable[int] = range(len(self._ids)) if among is None else among
        done = self._done
        if view is QueueView.MY_TICKETS:
            me = self._me
            if me is None:
                return []
            assignee = self._assignee
            return [s for s in slots if assignee[s] == me and not done[s]]
        teams = self._my_teams
        if view is QueueView.UNASSIGNED:
            assignee = self._assignee
            if teams is None:
                return [s for s in slots if assignee[s] is None and not done[s]]
            team = self._team
            return [s for s in slots if assignee[s] is None and not done[s] and team[s] in teams]
        if view is QueueView.MY_TEAMS:
            if teams is None:
                return [s for s in slots if not done[s]]
            team = self._team
            return [s for s in slots if not done[s] and team[s] in teams]
        if view in _CLOCK_VIEWS:
            slots = list(slots)
            self._ensure(slots)
            code = _AT_RISK if view is QueueView.AT_RISK else _BREACHED
            response, resolution = self._response_state, self._resolution_state
            return [s for s in slots if response[s] == code or resolution[s] == code]
        if view is QueueView.PENDING:
            status = self._status
            pending = Status.PENDING.value
            return [s for s in slots if status[s] == pending]
        if view is QueueView.RECENT:
            cutoff = _stamp(self._now - _RECENT)
            updated = self._updated
            return [s for s in slots if updated[s] >= cutoff]
        return list(slots)

    def counts(self) -> dict[QueueView, int]:
        """How many tickets each view holds now (search aside); every clock evaluated."""
        self._ensure_all()
        found = self.known_counts()
        return {view: count or 0 for view, count in found.items()}

    def known_counts(self) -> dict[QueueView, int | None]:
        """How many tickets each view holds, None for the clock views while not known yet."""
        found: dict[QueueView, int | None] = {}
        known = self._field_counts
        if known is None:  # once a change of the tickets, not each minute
            known = self._field_counts = {
                view: len(self._view_slots(view))
                for view in QueueView
                if view not in _CLOCK_VIEWS and view not in (QueueView.ALL, QueueView.RECENT)
            }
        for view in QueueView:
            if view in _CLOCK_VIEWS:
                code = _AT_RISK if view is QueueView.AT_RISK else _BREACHED
                found[view] = None if self._unevaluated else self._state_count(code)
            elif view is QueueView.ALL:
                found[view] = len(self._ids)
            elif view is QueueView.RECENT:
                found[view] = self._recent_count()
            else:
                found[view] = known[view]
        return found

    def _count_fields(self, slot: int, sign: int) -> None:
        """Take one ticket out of (-1), or into (+1), the counts kept of the views that
        depend on its fields, as they are now."""
        known = self._field_counts
        if known is not None:
            for view in known:
                known[view] += sign * len(self._view_slots(view, (slot,)))
        stamps = self._updated_sorted
        if stamps is not None:
            if sign < 0:
                del stamps[bisect.bisect_left(stamps, self._updated[slot])]
            else:
                bisect.insort(stamps, self._updated[slot])

    def _recent_count(self) -> int:
        """Tickets updated in the last 24 hours (their stamps sort as their instants)."""
        stamps = self._updated_sorted
        if stamps is None:
            stamps = self._updated_sorted = sorted(self._updated)
        return len(stamps) - bisect.bisect_left(stamps, _stamp(self._now - _RECENT))

    def _state_count(self, code: int) -> int:
        """Tickets with either clock in state ``code``, counted at C speed: each state
        column becomes a bit mask (one byte 0 or 1 a ticket), the two masks are or-ed
        as integers and the bits counted.  Kept, and moved with each state change."""
        found = self._state_counts.get(code)
        if found is None:
            table = bytes(1 if value == code else 0 for value in range(256))
            first = int.from_bytes(self._response_state.translate(table), "little")
            second = int.from_bytes(self._resolution_state.translate(table), "little")
            found = self._state_counts[code] = (first | second).bit_count()
        return found

    def _select(self) -> list[int]:
        among: list[int] | None = None
        if self._search is not None:
            slot_of = self._slot_of
            among = sorted(slot_of[i] for i in self._search if i in slot_of)
        rows = self._view_slots(self._view, among)
        self._sort_slots(rows, self._sort_column)
        return rows

    @property
    def _descending(self) -> bool:
        return self._sort_order == Qt.SortOrder.DescendingOrder

    def _refilter(self) -> None:
        self._replace_rows(self._select())

    def _replace_rows(self, rows: list[int]) -> None:
        """Show ``rows``: a layout change when the same tickets, else a reset."""
        if rows == self._rows:
            return
        if len(rows) == len(self._rows) and set(rows) == set(self._rows):
            self._relayout(rows)
            return
        self.beginResetModel()
        self._rows = rows
        self._current, self._texts = {}, {}
        self.endResetModel()

    def _come_and_go(self, slots: list[int]) -> None:
        """Tickets whose clock states moved enter the view or leave it (At risk,
        Breached), each at its place in the order: rows inserted or removed, the
        others (and the selection) left as they are, the queue not scanned."""
        wanted = set(self._view_slots(self._view, slots))
        search, ids = self._search, self._ids
        self._sync_keys()
        keys = self._sort_keys(self._sort_column)
        sign = -1 if self._descending else 1
        rows = self._rows
        shown = set(rows)
        for slot in slots:
            belongs = slot in wanted and (search is None or ids[slot] in search)
            if slot in shown and not belongs:
                position = rows.index(slot)
                self.beginRemoveRows(QModelIndex(), position, position)
                del rows[position]
                self.endRemoveRows()
            elif belongs and slot not in shown:
                position = bisect.bisect_left(
                    rows, sign * keys[slot], key=lambda other: sign * keys[other]
                )
                self.beginInsertRows(QModelIndex(), position, position)
                rows.insert(position, slot)
                self.endInsertRows()

    def _stays_below(self, moved: list[tuple[int, int]]) -> bool:
        """Whether tickets whose due keys moved (slot, key before) were below the rows on
        screen and still are, in the default order: then the rows on screen stay as
        they are, and the new order can wait without even being computed."""
        first, last = self._visible
        if self._sort_column != -1 or self._descending or not first <= last < len(self._rows):
            return False
        bottom = self._rows[last]
        limit = self._due[bottom]
        return all(
            slot != bottom and before > limit and self._due[slot] > limit for slot, before in moved
        )

    def _follow_clocks(self, moved: list[tuple[int, int]] | None = None) -> None:
        """Clocks moved in the order (one breached, say): the queue's rows follow.

        With many tickets a clock breaches every few seconds, mostly one far below
        the rows on screen; a new order repaints every cell shown.  When the rows
        on screen stay as they are, the new order waits (at most
        ``_ORDER_WAIT_US``, or until the view scrolls): nothing visible changes
        meanwhile, and one relayout serves several breaches.  ``moved`` (slot, key
        before) are the tickets whose keys moved; None: the wait is over, follow now.
        """
        waiting = moved is not None
        if moved is not None and self._stays_below(moved):
            rows = self._rows  # no need to sort to know the screen stays as it is
        else:
            rows = list(self._rows)  # the same tickets, maybe in another order
            self._sort_slots(rows, self._sort_column)
            if rows == self._rows:
                self._order_waits_since = None
                return
            first, last = self._visible
            unseen = first <= last and rows[first : last + 1] == self._rows[first : last + 1]
            waiting = waiting and unseen
        if not waiting:
            self._relayout(rows)
        elif self._order_waits_since is None:
            self._order_waits_since = self._now_us

    def _relayout(self, rows: list[int]) -> None:
        self._order_waits_since = None
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        if old:
            shown = self._rows
            if len(old) > 64:
                where = dict(zip(rows, range(len(rows)), strict=True))
            else:  # a few indexes (the current row): no map of every row
                where = {}
                for index in old:
                    slot = shown[index.row()]
                    if slot not in where:
                        where[slot] = rows.index(slot)
            new = [self.index(where[shown[index.row()]], index.column()) for index in old]
            self.changePersistentIndexList(old, new)
        self._rows = rows
        self.layoutChanged.emit()

    # -- sorting ------------------------------------------------------------------------

    @property
    def sort_column(self) -> int:
        """The column sorted by, or -1 for the default order (next SLA due)."""
        return self._sort_column

    @property
    def sort_order(self) -> Qt.SortOrder:
        return self._sort_order

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not -1 <= column < _COLUMN_COUNT:
            return
        self._sort_column = column
        self._sort_order = order
        rows = list(self._rows)
        self._sort_slots(rows, column)
        if rows != self._rows:
            self._relayout(rows)

    def _sort_slots(self, rows: list[int], column: int) -> None:
        """Sort ``rows`` (slots) by ``column``, in the model's order.

        A large selection is not sorted at all: the slots sorted once by the
        column (kept, and mended when a few clocks move) are filtered down to it.
        """
        self._ensure(rows)
        self._sync_keys()
        count = len(self._ids)
        if len(rows) * 8 < count:
            keys = self._sort_keys(column)
            rows.sort(key=keys.__getitem__, reverse=self._descending)
            return
        order = self._order(column)
        if len(rows) == count:
            rows[:] = order
        else:
            member = bytearray(count)
            for slot in rows:
                member[slot] = 1
            rows[:] = [slot for slot in order if member[slot]]
        if self._descending:
            rows.reverse()

    def _order(self, column: int) -> list[int]:
        order = self._orders.get(column)
        if order is None:
            keys = self._sort_keys(column)
            order = self._orders[column] = sorted(range(len(self._ids)), key=keys.__getitem__)
        return order

    def _sync_keys(self) -> None:
        """Mend the kept keys and orders of the slots whose clocks moved: each found
        by bisection with its key before (the order is sorted by those), taken out,
        and put back by its key now."""
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, {}
        for column in list(self._keys):
            if column in _CLOCK_FREE:
                continue
            keys = self._keys[column]
            if column == -1:  # the default order's keys are the due keys themselves
                before = dirty
            else:
                before = {slot: keys[slot] for slot in dirty}
                for slot in dirty:
                    keys[slot] = self._key_of(column, slot)
            order = self._orders.get(column)
            if order is None:
                continue
            if len(dirty) * 50 > len(order):
                del self._orders[column]  # sorting again is cheaper than mending
                continue

            def key_before(
                slot: int, before: dict[int, int] = before, keys: list[int] = keys
            ) -> int:
                found = before.get(slot)
                return keys[slot] if found is None else found

            for slot, key in before.items():
                at = bisect.bisect_left(order, key, key=key_before)
                if at < len(order) and order[at] == slot:
                    del order[at]
                else:  # keys shared (slots never evaluated): looked for in full
                    del order[order.index(slot)]
            for slot in dirty:
                bisect.insort(order, slot, key=keys.__getitem__)

    def _forget_keys(self, slots: Iterable[int]) -> None:
        """These tickets' fields changed: keys of text columns are built again when needed."""
        for column in _CLOCK_FREE:
            self._keys.pop(column, None)
            self._orders.pop(column, None)
        for slot in slots:
            self._dirty.setdefault(slot, self._due[slot])

    def _key_of(self, column: int, slot: int) -> int:
        """A clock-dependent column's key of one slot (as :meth:`_sort_keys` builds them)."""
        due = self._due[slot]
        if column == Column.PRIORITY:
            rank = _PRIORITY_RANK.get(self._priority[slot], 9) << 4 | _SEVERITY_RANK.get(
                self._severity[slot], 9
            )
        elif column == Column.SEVERITY:
            rank = _SEVERITY_RANK.get(self._severity[slot], 9) << 4 | _PRIORITY_RANK.get(
                self._priority[slot], 9
            )
        elif column == Column.STATUS:
            rank = _STATUS_ORDER.get(self._status[slot], 9)
        elif column == Column.ASSIGNEE:
            # ranks of names cannot be mended one by one: the column is built again
            self._keys.pop(column, None)
            self._orders.pop(column, None)
            return 0
        elif column == Column.RESPONSE_SLA:
            rank = self._response_key[slot]
        elif column == Column.RESOLUTION_SLA:
            rank = self._resolution_key[slot]
        else:
            return due
        return rank << _DUE_BITS | due

    def _ranks(self, values: Sequence[Any]) -> list[int]:
        """Each value's rank among the distinct values (equal values share a rank)."""
        order = {value: rank for rank, value in enumerate(sorted(set(values)))}
        return [order[value] for value in values]

    def _sort_keys(self, column: int) -> list[int]:
        """One integer a slot, in the order of ``column`` (cached until the data changes)."""
        keys = self._keys.get(column)
        if keys is not None:
            return keys
        due = self._due
        shift = _DUE_BITS
        if column == -1:
            keys = due
        elif column == Column.TRACKING:
            keys = [r << _SLOT_BITS | s for s, r in enumerate(self._ranks(self._tracking))]
        elif column == Column.SUBJECT:
            ranks = self._ranks([subject.casefold() for subject in self._subject])
            keys = [r << _SLOT_BITS | s for s, r in enumerate(ranks)]
        elif column == Column.ORGANISATION:
            organisations = self._organisations
            names = {key: (name.casefold(), plan) for key, (name, plan) in organisations.items()}
            ranks = self._ranks([names.get(o, ("", "")) for o in self._organisation])
            keys = [r << _SLOT_BITS | s for s, r in enumerate(ranks)]
        elif column == Column.PRIORITY:
            p, v = _PRIORITY_RANK, _SEVERITY_RANK
            keys = [
                (p.get(a, 9) << 4 | v.get(b, 9)) << shift | d
                for a, b, d in zip(self._priority, self._severity, due, strict=True)
            ]
        elif column == Column.SEVERITY:
            p, v = _PRIORITY_RANK, _SEVERITY_RANK
            keys = [
                (v.get(b, 9) << 4 | p.get(a, 9)) << shift | d
                for a, b, d in zip(self._priority, self._severity, due, strict=True)
            ]
        elif column == Column.STATUS:
            order = _STATUS_ORDER
            keys = [order.get(a, 9) << shift | d for a, d in zip(self._status, due, strict=True)]
        elif column == Column.ASSIGNEE:
            users = self._users
            ranks = self._ranks(
                ["" if a is None else users.get(a, f"#{a}").casefold() for a in self._assignee]
            )
            keys = [r << shift | d for r, d in zip(ranks, due, strict=True)]
        elif column in SLA_COLUMNS:
            clock = self._response_key if column == Column.RESPONSE_SLA else self._resolution_key
            keys = [c << shift | d for c, d in zip(clock, due, strict=True)]
        else:  # Column.UPDATED
            keys = [r << _SLOT_BITS | s for s, r in enumerate(self._ranks(self._updated))]
        self._keys[column] = keys
        return keys

    # -- ticking ------------------------------------------------------------------------

    def set_visible_rows(self, first: int, last: int) -> None:
        """The rows the view shows now (inclusive); ticks repaint these only."""
        visible = (max(first, 0), min(last, len(self._rows) - 1))
        moved, self._visible = visible != self._visible, visible
        if moved and self._order_waits_since is not None:
            self._follow_clocks()  # other rows come into view: in their order

    @property
    def visible_rows(self) -> tuple[int, int]:
        return self._visible

    def tick(self, now: dt.datetime | None = None) -> None:
        """Move the queue to ``now`` (server time; default: :meth:`now`).

        The cells on screen follow their clocks to the second, and the counts
        with them; the clocks of the other tickets change state together, every
        :data:`OFF_SCREEN_STEP`.  Rows move then too: a ticket on screen that
        breaches turns red at once, and takes its new place in the order (or
        leaves the At risk view) at the step, with the others, instead of the
        rows jumping under the agent's eyes each second.
        """
        self._now = now if now is not None else self.now()
        self._now_us = to_us(self._now)
        self._earlier, self._current, self._texts = self._current, {}, {}
        woken: list[int] = []
        wake = self._wake
        step = self._now_us >= self._off_screen_due
        if step:
            self._off_screen_due = on_minutes_grid(self._now_us + _OFF_SCREEN_STEP_US)
            wakes = self._wakes
            while wakes and wakes[0][0] <= self._now_us:
                instant, slot = heapq.heappop(wakes)
                if slot < len(wake) and wake[slot] == instant:
                    wake[slot] = -1
                    woken.append(slot)
        else:  # the rows on screen only (their entries in the heap go stale)
            first, last = self._visible
            for slot in self._rows[first : last + 1]:
                if 0 <= wake[slot] <= self._now_us:
                    wake[slot] = -1
                    woken.append(slot)
        if step and (self._backlog or len(woken) > _WAKE_SLICE):
            # at the opening and closing of business hours every running clock changes
            # state at once: taken in slices between events, the window kept alive
            woken = self._backlog + woken
            self._backlog = woken[_WAKE_SLICE:]
            woken = woken[:_WAKE_SLICE]
            self._catch_up.start(0)
        self._wake_up(woken)
        if step and not self._backlog:
            self._move_rows()
        waits = self._order_waits_since
        if waits is not None and self._now_us - waits >= _ORDER_WAIT_US:
            self._follow_clocks()
        self._visible = (self._visible[0], min(self._visible[1], len(self._rows) - 1))
        for column, top, bottom in self._changed_runs(set(woken)):
            self.dataChanged.emit(self.index(top, column), self.index(bottom, column), _SLA_ROLES)

    def _wake_up(self, woken: list[int]) -> None:
        """Bring these tickets' clocks to their new state (counts and notifications
        at once; their rows move at the next step, see :meth:`_move_rows`)."""
        if not woken:
            return
        held_states, held_keys = self._held_states, self._held_keys
        before = [self._clock_facts(slot) for slot in woken]
        self._evaluate_slots(woken)
        after = [self._clock_facts(slot) for slot in woken]
        # most wake-ups are a clock turning "at risk": its state moves, its order not
        states_moved = [
            slot for slot, b, a in zip(woken, before, after, strict=True) if b[1] != a[1]
        ]
        held_states.update(states_moved)
        for slot, b, a in zip(woken, before, after, strict=True):
            if b[0] != a[0]:
                held_keys.setdefault(slot, b[0][0])  # its key before the first move
        if states_moved:
            self.countsChanged.emit()
            ids, earlier = self._ids, dict(zip(woken, before, strict=True))
            self.clocksMoved.emit(
                {ids[slot]: _states_of(*earlier[slot][1]) for slot in states_moved}
            )

    def _move_rows(self) -> None:
        """The rows whose clocks moved since the last step take their places."""
        held_states, held_keys = self._held_states, self._held_keys
        if not held_states and not held_keys:
            return
        self._held_states, self._held_keys = set(), {}
        if self._view in _CLOCK_VIEWS and held_states:
            self._come_and_go(sorted(held_states))
        if held_keys and self._sort_column in (-1, *SLA_COLUMNS):
            self._follow_clocks(list(held_keys.items()))

    @property
    def catching_up(self) -> bool:
        """Whether clocks that changed state at once are still being taken in slices."""
        return bool(self._backlog)

    def _catch_up_slice(self) -> None:
        woken, self._backlog = self._backlog[:_WAKE_SLICE], self._backlog[_WAKE_SLICE:]
        self._wake_up(woken)
        if self._backlog:
            self._catch_up.start(0)
        else:
            self._move_rows()

    def _changed_runs(self, woken: set[int]) -> list[tuple[int, int, int]]:
        """The runs of visible SLA cells that now show something else than when they
        were painted (column, first and last row).

        A ticket whose clocks are both stopped or paused ("Met", "Pending
        customer") shows the same until an event changes it, which refreshes its
        row; only a clock that runs has a wake-up instant.  A running clock's cell
        changes each second while it shows seconds, else each minute ("Overdue
        2 h 05 min"), or when its state does (``woken``: the slots re-evaluated
        now): only then is what it shows computed again, and maybe painted.
        """
        first, last = self._visible
        rows, wake, evaluated, painted = self._rows, self._wake, self._evaluated, self._painted
        now_us = self._now_us
        runs: list[tuple[int, int, int]] = []
        for column in SLA_COLUMNS:
            side = column - Column.RESPONSE_SLA
            start = -1
            for position in range(first, last + 1):
                slot = rows[position]
                seen = painted.get(slot << 1 | side)
                if slot in woken or not evaluated[slot]:
                    check = True
                elif seen is None:
                    check = wake[slot] >= 0
                else:
                    check = seen[2] is not None and seen[2] <= now_us
                changed = False
                if check:
                    text, until = self._shown(slot, column)
                    state = self._state_code(slot, column)
                    changed = seen is None or seen[:2] != (text, state)
                    if changed:  # repainted soon: what it will show, and until when
                        painted[slot << 1 | side] = (text, state, until)
                if changed:
                    if start < 0:
                        start = position
                elif start >= 0:
                    runs.append((column, start, position - 1))
                    start = -1
            if start >= 0:
                runs.append((column, start, last))
        return runs

    def next_tick(
        self, granularity: dt.timedelta = dt.timedelta(seconds=1), *, also: int | None = None
    ) -> dt.datetime | None:
        """When the queue next needs a tick: a visible countdown or a state change.

        At most about once a ``granularity``: every countdown on screen changes
        its seconds at its own instant within the second, and with 100,000
        tickets some clock changes state every few moments; a tick for each
        would never let the console rest.  One tick a second shows them all.
        A countdown that shows minutes only ("27 h 05 min") asks for a tick
        when its minutes change.  ``also``: another instant that wants a tick
        (µs; the workspace's clocks), at the same pace.
        """
        step = int(granularity / dt.timedelta(microseconds=1))
        soonest = self._now_us + step * 49 // 50
        candidates = [] if also is None else [also]
        if self._order_waits_since is not None:
            candidates.append(self._order_waits_since + _ORDER_WAIT_US)
        if self._held_states or self._held_keys:  # rows to move at the next step
            candidates.append(self._off_screen_due)
        elif self._wakes:  # off screen: together, every OFF_SCREEN_STEP
            candidates.append(max(self._wakes[0][0], self._off_screen_due))
        first, last = self._visible
        rows, wake, evaluated, painted = self._rows, self._wake, self._evaluated, self._painted
        for position in range(first, min(last, len(rows) - 1) + 1):
            slot = rows[position]
            if wake[slot] >= 0:
                candidates.append(wake[slot])  # a change of state on screen: to the second
            elif evaluated[slot]:
                continue  # no clock runs: nothing changes until an event (see _changed_runs)
            for column in SLA_COLUMNS:
                seen = painted.get(slot << 1 | (column - Column.RESPONSE_SLA))
                # painted: until when it holds was noted
                until = self._shown(slot, column)[1] if seen is None else seen[2]
                if until is not None:
                    candidates.append(until)
        if not candidates:
            return None
        return self._now + dt.timedelta(microseconds=max(min(candidates), soonest) - self._now_us)

    # -- refreshing after a sync or a local change -------------------------------------

    def refresh_tickets(self, ticket_ids: Iterable[int]) -> None:
        """Read these tickets again (changed, added or gone); the others stay as they are."""
        wanted = sorted(set(ticket_ids))  # none: the provisional marks only
        self._now = self.now()
        self._now_us = to_us(self._now)
        self._current, self._earlier, self._texts = {}, {}, {}  # histories change
        found: dict[int, tuple[Any, ...]] = {}
        teams = self._my_teams
        with self._cache.read() as connection:
            self._read_directory(connection)
            if self._my_teams != teams:  # my teams' views hold other tickets
                self._field_counts = None
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                marks = ", ".join("?" * len(chunk))
                for read in connection.exec_driver_sql(
                    f"SELECT {_TICKET_COLUMNS} FROM {schema.tickets.name} WHERE id IN ({marks})",
                    tuple(chunk),
                ):
                    found[read[0]] = tuple(read)
            pending = self._pending_ids(connection)
        if any(ticket_id not in self._slot_of for ticket_id in found) or any(
            ticket_id not in found for ticket_id in wanted if ticket_id in self._slot_of
        ):
            self.reload()  # tickets came or went: slots move
            return
        intern = sys.intern
        slots: list[int] = []
        for ticket_id, row in found.items():
            slot = self._slot_of[ticket_id]
            slots.append(slot)
            self._count_fields(slot, -1)  # the counts move with the fields, not recounted
            (_, tracking, subject, organisation, priority, severity, status) = row[:7]
            team, assignee, created, updated, version = row[7:]
            self._tracking[slot] = tracking
            self._subject[slot] = subject
            self._organisation[slot] = organisation
            self._priority[slot] = intern(priority)
            self._severity[slot] = intern(severity)
            self._status[slot] = intern(status)
            self._team[slot] = team
            self._assignee[slot] = assignee
            self._created[slot] = created
            self._updated[slot] = updated
            self._version[slot] = version
            self._pending[slot] = ticket_id in pending
            self._done[slot] = status in _DONE
            self._events[slot] = None
            self._count_fields(slot, +1)
        # the provisional marks of the others: those pending before or now
        slot_of = self._slot_of
        for slot in {slot_of[i] for i in self._pending_now | pending if i in slot_of}:
            flag = self._ids[slot] in pending
            if self._pending[slot] != flag:
                self._pending[slot] = flag
                slots.append(slot)
        self._pending_now = pending
        earlier = {slot: self._states(slot) for slot in slots}
        if slots:
            self._forget_keys(slots)
            self._evaluate_slots(slots)
        self._apply_refresh(earlier)

    def _apply_refresh(
        self, earlier: dict[int, tuple[ClockStatus | None, ClockStatus | None]]
    ) -> None:
        """Show the tickets re-read (their slots, with the states their clocks had)."""
        slots = list(earlier)
        rows = self._select()
        if rows != self._rows:
            self._replace_rows(rows)
        if rows:  # the cells of the tickets re-read that stayed where they were
            changed = set(slots)
            for position, slot in enumerate(rows):
                if slot in changed:
                    self.dataChanged.emit(
                        self.index(position, 0), self.index(position, _COLUMN_COUNT - 1)
                    )
        self.countsChanged.emit()
        if slots:
            ids = self._ids
            self.clocksMoved.emit({ids[slot]: states for slot, states in earlier.items()})

    def refresh_changed(self) -> int:
        """Re-read the tickets that changed in the cache since the queue last read it.

        Changes show as new history or comment rows (a pull, a rebase, an
        optimistic command) and as a ticket's pending work starting or ending.
        Returns how many tickets were re-read; a cache whose tickets came or went
        is reloaded whole.
        """
        changed, history_mark = self._cache.history_since(self._history_mark)
        with self._cache.read() as connection:
            changed.update(
                ticket_id
                for (ticket_id,) in connection.exec_driver_sql(
                    "SELECT DISTINCT ticket_id FROM comments WHERE local_id > ?",
                    (self._comment_mark,),
                )
            )
            count = connection.exec_driver_sql(
                f"SELECT count(*) FROM {schema.tickets.name}"
            ).scalar()
            comment_mark = self._max_id(connection, schema.comments.name)
        if count != len(self._ids) or any(i not in self._slot_of for i in changed):
            self.reload()
            return len(self._ids)
        self._history_mark = history_mark  # history_since never goes back
        self._comment_mark = max(self._comment_mark, comment_mark)
        self.refresh_tickets(changed)  # and every ticket's provisional mark
        return len(changed)

    # -- access -------------------------------------------------------------------------

    def ticket_id_at(self, position: int) -> int:
        """The id of the ticket shown at row ``position``."""
        return self._ids[self._rows[position]]

    def row_at(self, position: int) -> QueueRow:
        return self._row(self._rows[position])

    def _row(self, slot: int) -> QueueRow:
        sla, problem = self._clocks(slot)
        organisation = self._organisations.get(self._organisation[slot])
        assignee = self._assignee[slot]
        return QueueRow(
            ticket=QueueTicket(
                id=self._ids[slot],
                tracking_number=self._tracking[slot],
                subject=self._subject[slot],
                organisation_id=self._organisation[slot],
                priority=self._priority[slot],
                severity=self._severity[slot],
                status=self._status[slot],
                team_id=self._team[slot],
                assignee_id=assignee,
                created_at=_parse_instant(self._created[slot]),
                updated_at=_parse_instant(self._updated[slot]),
                pending=bool(self._pending[slot]),
            ),
            organisation=organisation[0] if organisation is not None else "",
            plan=organisation[1] if organisation is not None else "",
            assignee=self._assignee_name(assignee),
            sla=sla,
            problem=problem,
            states=self._states(slot),
        )

    def _states(self, slot: int) -> tuple[ClockStatus | None, ClockStatus | None]:
        return _states_of(self._response_state[slot], self._resolution_state[slot])

    def watch(self, user_id: int, ticket_ids: Iterable[int] | None = None) -> dict[int, Watched]:
        """The clock states of the open tickets assigned to ``user_id``, by ticket id:
        all of them (``ticket_ids`` None, their clocks evaluated first if need be),
        or those among ``ticket_ids`` whose clocks are known.  From the queue's
        columns: no history read, no clock object built."""
        assignee, done, evaluated = self._assignee, self._done, self._evaluated
        if ticket_ids is None:
            slots = [
                slot for slot, owner in enumerate(assignee) if owner == user_id and not done[slot]
            ]
            self._ensure(slots)
        else:
            slot_of = self._slot_of
            slots = [
                slot
                for slot in (slot_of.get(ticket_id) for ticket_id in ticket_ids)
                if slot is not None
                and assignee[slot] == user_id
                and not done[slot]
                and evaluated[slot]
            ]
        ids, tracking, subject = self._ids, self._tracking, self._subject
        return {
            ids[slot]: Watched(tracking[slot], subject[slot], self._states(slot)) for slot in slots
        }

    def ticket_ids(self) -> list[int]:
        ids = self._ids
        return [ids[slot] for slot in self._rows]

    def position_of(self, ticket_id: int) -> int | None:
        slot = self._slot_of.get(ticket_id)
        if slot is None:
            return None
        try:
            return self._rows.index(slot)
        except ValueError:
            return None

    def retranslate(self) -> None:
        """The language changed: every label (headers and cells) is shown again."""
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, _COLUMN_COUNT - 1)
        if self._rows:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._rows) - 1, _COLUMN_COUNT - 1)
            )

    # -- QAbstractTableModel ----------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else _COLUMN_COUNT  # asked for every index made

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < _COLUMN_COUNT:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return gettext(_HEADERS[Column(section)])
        if role == Qt.ItemDataRole.ToolTipRole and section in SLA_COLUMNS:
            return gettext("Business time left before the target; sorted most urgent first")
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        return _ROW_FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        column = index.column()
        if not 0 <= column < _COLUMN_COUNT:
            return None
        slot = self._rows[index.row()]
        if role == TICKET_ID_ROLE:
            return self._ids[slot]
        if column in SLA_COLUMNS:
            return self._sla_data(slot, column, role)
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(slot, column)
        if role == CELL_ROLE:
            return Cell(
                self._text(slot, column),
                self._foreground(slot, column),
                None,
                self._font(slot, column),
            )
        if role == PLAN_ROLE and column == Column.ORGANISATION:
            known = self._organisations.get(self._organisation[slot])
            return known[1] if known is not None else ""
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == Column.SUBJECT:
                return self._subject[slot]
            if column == Column.ORGANISATION:
                known = self._organisations.get(self._organisation[slot])
                if known is not None and known[1]:
                    return gettext("{organisation} — {plan} plan").format(
                        organisation=known[0], plan=plan_label(known[1])
                    )
                return None
            if column == Column.UPDATED:
                updated = _parse_instant(self._updated[slot])
                return i18n.format_datetime(updated.astimezone(self._zone), "full")
            return None
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._foreground(slot, column)
        if role == Qt.ItemDataRole.FontRole:
            return self._font(slot, column)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _foreground(self, slot: int, column: int) -> QBrush | None:
        """A field cell's text colour: a critical priority, a blocking severity and
        "Unassigned" stand out; None for the view's."""
        if column == Column.PRIORITY and self._priority[slot] == Priority.P1.value:
            return _brush("#a4262c")
        if column == Column.SEVERITY and self._severity[slot] == Severity.BLOCKING.value:
            return _brush("#a4262c")
        if column == Column.ASSIGNEE and self._assignee[slot] is None:
            return _brush("#6b6f76")
        return None

    def _font(self, slot: int, column: int) -> QFont | None:
        if column == Column.ASSIGNEE and self._assignee[slot] is None:
            return self._italic
        if column == Column.PRIORITY and self._priority[slot] == Priority.P1.value:
            return self._bold
        return None

    @property
    def _zone(self) -> dt.tzinfo:
        return self.rules.calendar.zone

    def _assignee_name(self, assignee: int | None) -> str | None:
        if assignee is None:
            return None
        name = self._users.get(assignee)
        return name if name is not None else f"#{assignee}"

    def _text(self, slot: int, column: int) -> str:
        if column == Column.TRACKING:
            return self._tracking[slot]
        if column == Column.SUBJECT:
            return self._subject[slot]
        if column == Column.ORGANISATION:
            known = self._organisations.get(self._organisation[slot])
            return known[0] if known is not None else ""
        if column == Column.PRIORITY:
            return _priority_label(self._priority[slot])
        if column == Column.SEVERITY:
            return _severity_label(self._severity[slot])
        if column == Column.STATUS:
            return _status_label(self._status[slot])
        if column == Column.ASSIGNEE:
            name = self._assignee_name(self._assignee[slot])
            return name if name is not None else gettext("Unassigned")
        if column == Column.UPDATED:
            return self._updated_text(_parse_instant(self._updated[slot]))
        return ""

    def _updated_text(self, when: dt.datetime) -> str:
        local = when.astimezone(self._zone)
        today = self._now.astimezone(self._zone).date()
        if local.date() == today:
            return i18n.format_clock(local)
        if today - local.date() < dt.timedelta(days=6):
            return i18n.format_weekday_time(local)
        if local.year == today.year:
            return i18n.format_day(local)
        return i18n.format_day(local, year=True)

    def _state_code(self, slot: int, column: int) -> int:
        """The code of one SLA cell's clock state, as last evaluated."""
        states = self._response_state if column == Column.RESPONSE_SLA else self._resolution_state
        return states[slot]

    def _sla_data(self, slot: int, column: int, role: int) -> Any:
        if role == CLOCK_STATE_ROLE:
            code = self._state_code(slot, column)
            if not self._evaluated[slot]:
                self._clocks(slot)
                return self._sla_data(slot, column, role)
            return None if code == _NO_STATE else _STATES[code].value
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        if role not in _SLA_ROLES:
            return None
        sla, problem = self._clocks(slot)
        clock = _clock_of(sla, column)
        provisional = bool(self._pending[slot])
        if role == Qt.ItemDataRole.DisplayRole:
            return self._shown(slot, column)[0]
        if role == Qt.ItemDataRole.ToolTipRole:
            return clock_tooltip(
                clock, self._now, self._zone, provisional=provisional, problem=problem
            )
        style = clock_style(clock)
        if role == CELL_ROLE:  # the delegate paints the cell: what it shows is noted
            text, until = self._shown(slot, column)
            self._painted[slot << 1 | (column - Column.RESPONSE_SLA)] = (
                text,
                self._state_code(slot, column),
                until,
            )
            return Cell(
                text,
                None if style.foreground is None else _brush(style.foreground),
                None if style.background is None else _brush(style.background),
                self._sla_font(style.bold, provisional),
            )
        if role == Qt.ItemDataRole.ForegroundRole:
            return None if style.foreground is None else _brush(style.foreground)
        if role == Qt.ItemDataRole.BackgroundRole:
            return None if style.background is None else _brush(style.background)
        return self._sla_font(style.bold, provisional)  # FontRole

    def _shown(self, slot: int, column: int) -> tuple[str, int | None]:
        """What one SLA cell shows as of now (:func:`clock_text`) and until when
        (:func:`shown_until_us`), worked out once an instant (a tick that finds a
        cell changed, then its paint)."""
        now_wording = wording()
        if now_wording != self._texts_wording:
            self._texts, self._texts_wording = {}, now_wording
        key = slot << 1 | (column - Column.RESPONSE_SLA)
        found = self._texts.get(key)
        if found is None:
            clock = _clock_of(self._clocks(slot)[0], column)
            text = clock_text(clock, self._now, provisional=bool(self._pending[slot]))
            found = self._texts[key] = (text, shown_until_us(clock, self._now_us))
        return found

    def _sla_font(self, bold: bool, provisional: bool) -> QFont | None:
        if bold:
            return self._bold_italic if provisional else self._bold
        return self._italic if provisional else None
