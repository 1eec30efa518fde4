"""The ticket queue: a table model over the local cache, with live SLA clocks.

Rows are plain Python objects loaded from the cache in a few bulk reads; views
(My tickets, Breached, …), search results and sorting are list operations, so
100,000 tickets need no proxy model.  Each row's SLA is derived from its cached
history with :mod:`sla.clock` as of "now" (our clock corrected by the server
clock offset) and re-evaluated lazily when a cell is painted.

Time moves only through :meth:`QueueModel.tick`: it emits ``dataChanged`` for the
SLA cells of the rows the view shows (it tells the model which, through
:meth:`QueueModel.set_visible_rows`), re-evaluates the rows whose clocks change
state (a per-row wake-up instant from :meth:`sla.clock.TicketSla.next_change_us`,
kept in a heap) and re-sorts or re-filters when that changes the order.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any, Final

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont
from sqlalchemy import select

import i18n
from desktop.models.sla_cells import (
    HistoryRow,
    SlaRules,
    clock_sort_key,
    clock_style,
    clock_text,
    clock_tooltip,
    evaluate_safely,
    events_from_history,
    ticket_sort_key,
)
from i18n import N_, gettext
from sla.calendar import to_us
from sla.clock import ClockState, ClockStatus, Event, Status, TicketSla
from sla.policy import Priority, Severity, plan_label
from sync import schema
from sync.cache import Cache, TicketView, utc_now

__all__ = ["Column", "QueueModel", "QueueRow", "QueueView"]

Index = QModelIndex | QPersistentModelIndex
Clock = Callable[[], dt.datetime]

_SECOND_US: Final = 1_000_000
#: A granularity larger than any target: next_change_us then gives state changes only.
_STATE_ONLY_US: Final = 10**15
_RECENT: Final = dt.timedelta(hours=24)


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

#: Custom roles: the plan code of the organisation column, the row's ticket id.
PLAN_ROLE: Final = int(Qt.ItemDataRole.UserRole) + 1
TICKET_ID_ROLE: Final = int(Qt.ItemDataRole.UserRole) + 2
CLOCK_STATE_ROLE: Final = int(Qt.ItemDataRole.UserRole) + 3


@dataclass(slots=True, eq=False)
class QueueRow:
    """One ticket as the queue shows it."""

    ticket: TicketView
    organisation: str
    plan: str
    assignee: str | None
    events: list[Event]
    sla: TicketSla | None = None
    problem: str | None = None
    evaluated_us: int = -1
    key: tuple[int, int, int] = (0, 0, 0)
    states: tuple[ClockStatus | None, ClockStatus | None] = (None, None)
    wake_us: int | None = None
    done: bool = field(init=False)

    def __post_init__(self) -> None:
        self.done = self.ticket.status in (Status.RESOLVED.value, Status.CLOSED.value)

    def clock(self, column: int) -> ClockState | None:
        if self.sla is None:
            return None
        return self.sla.response if column == Column.RESPONSE_SLA else self.sla.resolution


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


def _rank(enum: type[Priority] | type[Severity], code: str) -> int:
    try:
        return enum(code).rank
    except ValueError:
        return 9


class QueueModel(QAbstractTableModel):
    """Tickets of the current view and search, sorted, with live SLA cells."""

    #: the number of tickets in some view may have changed (clock states, reload)
    countsChanged = Signal()

    def __init__(
        self,
        cache: Cache,
        *,
        me: int | None = None,
        clock: Clock = utc_now,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._cache = cache
        self._me = me
        self._clock = clock
        self._offset = dt.timedelta(0)
        self._rules = SlaRules.defaults()
        self._my_teams: set[int] | None = None
        self._all: list[QueueRow] = []
        self._by_id: dict[int, QueueRow] = {}
        self._rows: list[QueueRow] = []
        self._wakes: list[tuple[int, int]] = []  # (instant, ticket id), stale entries skipped
        self._view = QueueView.ALL
        self._search: set[int] | None = None
        self._sort_column = -1
        self._sort_order = Qt.SortOrder.AscendingOrder
        self._visible = (0, -1)
        self._now = self.now()
        self._now_us = to_us(self._now)
        self._bold = QFont()
        self._bold.setBold(True)
        self._italic = QFont()
        self._italic.setItalic(True)
        self._bold_italic = QFont(self._bold)
        self._bold_italic.setItalic(True)
        self.reload()

    # -- time -----------------------------------------------------------------------

    def now(self) -> dt.datetime:
        """The server's time as we best know it: our clock plus the measured offset."""
        return self._clock() + self._offset

    @property
    def evaluated_at(self) -> dt.datetime:
        return self._now

    @property
    def rules(self) -> SlaRules:
        return self._rules

    # -- loading ----------------------------------------------------------------------

    def reload(self) -> None:
        """Read every ticket from the cache again (after a sync, say)."""
        self.beginResetModel()
        try:
            self._offset = self._cache.clock_offset()
            self._rules = SlaRules.from_cache(self._cache)
            self._now = self.now()
            self._now_us = to_us(self._now)
            self._load()
            self._rows = self._select()
        finally:
            self.endResetModel()
        self.countsChanged.emit()

    def _load(self) -> None:
        cache = self._cache
        tickets = cache.tickets()
        organisations = {o.id: o for o in cache.organisations()}
        users = {u.id: u for u in cache.users()}
        if self._me is not None and self._me in users:
            self._my_teams = set(users[self._me].team_ids)
        else:
            self._my_teams = None
        history: dict[int, list[HistoryRow]] = {}
        h = schema.ticket_history.c
        with cache.read() as connection:
            for ticket_id, at, name, after in connection.execute(
                select(h.ticket_id, h.at, h.field, h.after)
                .where(h.field.in_(("created", "status", "priority", "severity", "responded")))
                .order_by(h.ticket_id, h.at, h.server_id.is_(None), h.server_id, h.local_id)
            ):
                history.setdefault(ticket_id, []).append(HistoryRow(at, name, after))
        rows: list[QueueRow] = []
        for ticket in tickets:
            organisation = organisations.get(ticket.organisation_id)
            plan = organisation.plan.value if organisation is not None else ""
            assignee = users.get(ticket.assignee_id) if ticket.assignee_id is not None else None
            events = events_from_history(
                history.get(ticket.id, ()),
                created_at=ticket.created_at,
                priority=ticket.priority,
                severity=ticket.severity,
                plan=plan,
            )
            rows.append(
                QueueRow(
                    ticket=ticket,
                    organisation=organisation.name if organisation is not None else "",
                    plan=plan,
                    assignee=(
                        assignee.display_name
                        if assignee is not None
                        else (None if ticket.assignee_id is None else f"#{ticket.assignee_id}")
                    ),
                    events=events,
                )
            )
        self._all = rows
        self._by_id = {row.ticket.id: row for row in rows}
        self._wakes = []
        for row in rows:
            self._evaluate(row)

    def _evaluate(self, row: QueueRow) -> bool:
        """Bring ``row``'s clocks to the model's instant; True when its order or states moved."""
        row.sla, row.problem = evaluate_safely(row.events, self._rules, self._now)
        row.evaluated_us = self._now_us
        sla = row.sla
        key = ticket_sort_key(sla)
        states = (None, None) if sla is None else (sla.response.state, sla.resolution.state)
        moved = key != row.key or states != row.states
        row.key, row.states = key, states
        wake = None if sla is None else sla.next_change_us(self._now_us, _STATE_ONLY_US)
        if wake is not None and wake != row.wake_us:
            heapq.heappush(self._wakes, (wake, row.ticket.id))
        row.wake_us = wake
        return moved

    def _fresh(self, row: QueueRow) -> QueueRow:
        if row.evaluated_us != self._now_us:
            self._evaluate(row)
        return row

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

    def _in_view(self, row: QueueRow, view: QueueView) -> bool:
        ticket = row.ticket
        teams = self._my_teams
        if view is QueueView.MY_TICKETS:
            return not row.done and self._me is not None and ticket.assignee_id == self._me
        if view is QueueView.UNASSIGNED:
            return (
                not row.done
                and ticket.assignee_id is None
                and (teams is None or ticket.team_id in teams)
            )
        if view is QueueView.MY_TEAMS:
            return not row.done and (teams is None or ticket.team_id in teams)
        if view is QueueView.AT_RISK:
            return ClockStatus.AT_RISK in row.states
        if view is QueueView.BREACHED:
            return ClockStatus.BREACHED in row.states
        if view is QueueView.PENDING:
            return ticket.status == Status.PENDING.value
        if view is QueueView.RECENT:
            return ticket.updated_at >= self._now - _RECENT
        return True

    def counts(self) -> dict[QueueView, int]:
        """How many tickets each view holds now (search aside)."""
        found = dict.fromkeys(QueueView, 0)
        for row in self._all:
            for view in QueueView:
                if self._in_view(row, view):
                    found[view] += 1
        return found

    def _select(self) -> list[QueueRow]:
        search = self._search
        rows = [
            row
            for row in self._all
            if (search is None or row.ticket.id in search) and self._in_view(row, self._view)
        ]
        rows.sort(key=self._sort_key(self._sort_column), reverse=self._descending)
        return rows

    @property
    def _descending(self) -> bool:
        return self._sort_order == Qt.SortOrder.DescendingOrder

    def _refilter(self) -> None:
        self._replace_rows(self._select())

    def _replace_rows(self, rows: list[QueueRow]) -> None:
        """Show ``rows``: a layout change when the same tickets, else a reset."""
        if len(rows) == len(self._rows) and {id(r) for r in rows} == {id(r) for r in self._rows}:
            if [id(r) for r in rows] != [id(r) for r in self._rows]:
                self._relayout(rows)
            return
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def _relayout(self, rows: list[QueueRow]) -> None:
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        where = {id(row): position for position, row in enumerate(rows)}
        new = []
        for index in old:
            row = self._rows[index.row()]
            new.append(self.index(where[id(row)], index.column()))
        self._rows = rows
        self.changePersistentIndexList(old, new)
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
        if not -1 <= column < len(Column):
            return
        self._sort_column = column
        self._sort_order = order
        rows = list(self._rows)
        rows.sort(key=self._sort_key(column), reverse=self._descending)
        if [id(r) for r in rows] != [id(r) for r in self._rows]:
            self._relayout(rows)

    def _sort_key(self, column: int) -> Callable[[QueueRow], Any]:
        if column == Column.TRACKING:
            return lambda r: (r.ticket.tracking_number, r.ticket.id)
        if column == Column.SUBJECT:
            return lambda r: (r.ticket.subject.casefold(), r.ticket.id)
        if column == Column.ORGANISATION:
            return lambda r: (r.organisation.casefold(), r.plan, r.ticket.id)
        if column == Column.PRIORITY:
            return lambda r: (
                _rank(Priority, r.ticket.priority),
                _rank(Severity, r.ticket.severity),
                r.key,
                r.ticket.id,
            )
        if column == Column.SEVERITY:
            return lambda r: (
                _rank(Severity, r.ticket.severity),
                _rank(Priority, r.ticket.priority),
                r.key,
                r.ticket.id,
            )
        if column == Column.STATUS:
            return lambda r: (_STATUS_ORDER.get(r.ticket.status, 9), r.key, r.ticket.id)
        if column == Column.ASSIGNEE:
            return lambda r: ((r.assignee or "").casefold(), r.key, r.ticket.id)
        if column in SLA_COLUMNS:
            return lambda r: (clock_sort_key(r.clock(column)), r.key, r.ticket.id)
        if column == Column.UPDATED:
            return lambda r: (r.ticket.updated_at, r.ticket.id)
        return lambda r: (r.key, r.ticket.id)

    # -- ticking ------------------------------------------------------------------------

    def set_visible_rows(self, first: int, last: int) -> None:
        """The rows the view shows now (inclusive); ticks repaint these only."""
        self._visible = (max(first, 0), min(last, len(self._rows) - 1))

    @property
    def visible_rows(self) -> tuple[int, int]:
        return self._visible

    def tick(self, now: dt.datetime | None = None) -> None:
        """Move the queue to ``now`` (server time; default: :meth:`now`)."""
        self._now = now if now is not None else self.now()
        self._now_us = to_us(self._now)
        moved = False
        wakes = self._wakes
        while wakes and wakes[0][0] <= self._now_us:
            instant, ticket_id = heapq.heappop(wakes)
            row = self._by_id.get(ticket_id)
            if row is None or row.wake_us != instant:
                continue  # superseded
            row.wake_us = None
            moved = self._evaluate(row) or moved
        if moved:
            sorted_by_clock = self._sort_column in (-1, *SLA_COLUMNS)
            if self._view in _CLOCK_VIEWS or sorted_by_clock:
                self._refilter()
            self.countsChanged.emit()
        self._visible = (self._visible[0], min(self._visible[1], len(self._rows) - 1))
        first, last = self._visible
        if first <= last:
            self.dataChanged.emit(
                self.index(first, Column.RESPONSE_SLA),
                self.index(last, Column.RESOLUTION_SLA),
                [
                    Qt.ItemDataRole.DisplayRole,
                    Qt.ItemDataRole.ToolTipRole,
                    Qt.ItemDataRole.ForegroundRole,
                    Qt.ItemDataRole.BackgroundRole,
                    Qt.ItemDataRole.FontRole,
                ],
            )

    def next_tick(self, granularity: dt.timedelta = dt.timedelta(seconds=1)) -> dt.datetime | None:
        """When the queue next needs a tick: a visible countdown or a state change."""
        step = int(granularity / dt.timedelta(microseconds=1))
        candidates = []
        if self._wakes:
            candidates.append(self._wakes[0][0])
        first, last = self._visible
        for position in range(first, min(last, len(self._rows) - 1) + 1):
            sla = self._fresh(self._rows[position]).sla
            if sla is not None:
                found = sla.next_change_us(self._now_us, step)
                if found is not None:
                    candidates.append(found)
        if not candidates:
            return None
        return self._now + dt.timedelta(microseconds=min(candidates) - self._now_us)

    # -- access -------------------------------------------------------------------------

    def row_at(self, position: int) -> QueueRow:
        return self._fresh(self._rows[position])

    def all_rows(self) -> list[QueueRow]:
        """Every cached ticket's row (whatever the view), clocks as of the last tick."""
        return self._all

    def ticket_ids(self) -> list[int]:
        return [row.ticket.id for row in self._rows]

    def position_of(self, ticket_id: int) -> int | None:
        for position, row in enumerate(self._rows):
            if row.ticket.id == ticket_id:
                return position
        return None

    def retranslate(self) -> None:
        """The language changed: every label (headers and cells) is shown again."""
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(Column) - 1)
        if self._rows:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._rows) - 1, len(Column) - 1)
            )

    # -- QAbstractTableModel ----------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(Column)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(Column):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return gettext(_HEADERS[Column(section)])
        if role == Qt.ItemDataRole.ToolTipRole and section in SLA_COLUMNS:
            return gettext("Business time left before the target; sorted most urgent first")
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemNeverHasChildren
        )

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        column = index.column()
        if not 0 <= column < len(Column):
            return None
        row = self._rows[index.row()]
        if column in SLA_COLUMNS:
            return self._sla_data(self._fresh(row), column, role)
        ticket = row.ticket
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(row, column)
        if role == TICKET_ID_ROLE:
            return ticket.id
        if role == PLAN_ROLE and column == Column.ORGANISATION:
            return row.plan
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == Column.SUBJECT:
                return ticket.subject
            if column == Column.ORGANISATION and row.plan:
                return gettext("{organisation} — {plan} plan").format(
                    organisation=row.organisation, plan=plan_label(row.plan)
                )
            if column == Column.UPDATED:
                return i18n.format_datetime(ticket.updated_at.astimezone(self._zone), "full")
            return None
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == Column.PRIORITY and ticket.priority == Priority.P1.value:
                return QBrush(QColor("#a4262c"))
            if column == Column.SEVERITY and ticket.severity == Severity.BLOCKING.value:
                return QBrush(QColor("#a4262c"))
            if column == Column.ASSIGNEE and row.assignee is None:
                return QBrush(QColor("#6b6f76"))
            return None
        if role == Qt.ItemDataRole.FontRole:
            if column == Column.ASSIGNEE and row.assignee is None:
                return self._italic
            if column == Column.PRIORITY and ticket.priority == Priority.P1.value:
                return self._bold
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        return None

    @property
    def _zone(self) -> dt.tzinfo:
        return self._rules.calendar.zone

    def _text(self, row: QueueRow, column: int) -> str:
        ticket = row.ticket
        if column == Column.TRACKING:
            return ticket.tracking_number
        if column == Column.SUBJECT:
            return ticket.subject
        if column == Column.ORGANISATION:
            return row.organisation
        if column == Column.PRIORITY:
            return _priority_label(ticket.priority)
        if column == Column.SEVERITY:
            return _severity_label(ticket.severity)
        if column == Column.STATUS:
            return _status_label(ticket.status)
        if column == Column.ASSIGNEE:
            return row.assignee if row.assignee is not None else gettext("Unassigned")
        if column == Column.UPDATED:
            return self._updated_text(ticket.updated_at)
        return ""

    def _updated_text(self, when: dt.datetime) -> str:
        local = when.astimezone(self._zone)
        today = self._now.astimezone(self._zone).date()
        if local.date() == today:
            return i18n.format_time(local, "short")
        if today - local.date() < dt.timedelta(days=6):
            return i18n.format_datetime(local, "EEE HH:mm")
        if local.year == today.year:
            return i18n.format_date(local, "d MMM")
        return i18n.format_date(local, "d MMM y")

    def _sla_data(self, row: QueueRow, column: int, role: int) -> Any:
        clock = row.clock(column)
        provisional = row.ticket.pending
        if role == Qt.ItemDataRole.DisplayRole:
            return clock_text(clock, self._now, provisional=provisional)
        if role == Qt.ItemDataRole.ToolTipRole:
            return clock_tooltip(
                clock, self._now, self._zone, provisional=provisional, problem=row.problem
            )
        if role == CLOCK_STATE_ROLE:
            return None if clock is None else clock.state.value
        if role == TICKET_ID_ROLE:
            return row.ticket.id
        style = clock_style(clock)
        if role == Qt.ItemDataRole.ForegroundRole:
            return None if style.foreground is None else QBrush(QColor(style.foreground))
        if role == Qt.ItemDataRole.BackgroundRole:
            return None if style.background is None else QBrush(QColor(style.background))
        if role == Qt.ItemDataRole.FontRole:
            if style.bold:
                return self._bold_italic if provisional else self._bold
            return self._italic if provisional else None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        return None
