"""The team lead's workload: per team and agent, open tickets, at risk, breached, pending,
and the breaches to expect within the next four business hours if nothing moves.

The workload evaluates no clock of its own.  It counts on the queue's tickets and
evaluated clocks (:class:`desktop.models.queue.QueueState`: each ticket's team,
assignee and status, and the business positions from which it is at risk and
breached), so opening the panel over tens of thousands of open tickets is a pass
over columns, not a replay of their histories.  Those positions hold whenever
they were computed (as long as nothing happens to a ticket): a tick counts the
rows again by binary search, without a pass over the tickets; a change the queue
read again moves its tickets between the rows (see :meth:`WorkloadModel.follow_queue`).
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Final

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QColor

import i18n
from desktop.models.forecast import forecast_from, forecasts_from
from desktop.models.queue import QueueState
from i18n import N_, gettext, ngettext
from protocol import PresenceOut, Role, TeamOut, UserOut
from sla.calendar import to_us
from sla.events import Status
from sync.cache import Cache
from sync.collector import collector_paused

__all__ = [
    "LEAD_ROLES",
    "LOAD_SLICE",
    "SORT_ROLE",
    "TARGET_ROLE",
    "Target",
    "WorkloadColumn",
    "WorkloadModel",
    "WorkloadRow",
    "is_lead",
    "led_teams",
]

Index = QModelIndex | QPersistentModelIndex

LEAD_ROLES: Final = frozenset({Role.TEAM_LEAD, Role.ADMIN})
#: Open tickets whose clocks are evaluated in one slice of a load in the background,
#: when the queue has not evaluated them yet (some tens of milliseconds: the window
#: answers between two).
LOAD_SLICE: Final = 1_000

#: Custom roles: the sort value of a cell, the (team id, agent id or None) of a row.
SORT_ROLE: Final = int(Qt.ItemDataRole.UserRole) + 1
TARGET_ROLE: Final = int(Qt.ItemDataRole.UserRole) + 2


def is_lead(cache: Cache, me: int | None) -> bool:
    """Whether the signed-in user may reassign, see the workload and edit announcements."""
    if me is None:
        return False
    user = _me(cache.users(), me)
    return user is not None and user.role in LEAD_ROLES


def _me(users: Iterable[UserOut], me: int | None) -> UserOut | None:
    return next((user for user in users if user.id == me), None)


def led_teams(cache: Cache, me: int | None) -> list[TeamOut]:
    """The teams the user leads (an admin: every team), by name."""
    users = cache.users()
    user = _me(users, me)
    teams = cache.teams()
    if user is None or user.role not in LEAD_ROLES:
        return []
    if user.role is not Role.ADMIN:
        teams = [team for team in teams if team.id in user.team_ids]
    return sorted(teams, key=lambda team: (team.name.casefold(), team.id))


@dataclass(frozen=True, slots=True)
class Target:
    """Where tickets go: an agent of a team, or a team (nobody assigned)."""

    team_id: int
    agent_id: int | None
    label: str


# -- the workload table ---------------------------------------------------------------------


class WorkloadColumn(IntEnum):
    TEAM = 0
    AGENT = 1
    PRESENCE = 2
    OPEN = 3
    AT_RISK = 4
    BREACHED = 5
    PENDING = 6
    FORECAST = 7


_HEADERS: Final = {
    WorkloadColumn.TEAM: N_("Team"),
    WorkloadColumn.AGENT: N_("Agent"),
    WorkloadColumn.PRESENCE: N_("Presence"),
    WorkloadColumn.OPEN: N_("Open"),
    WorkloadColumn.AT_RISK: N_("At risk"),
    WorkloadColumn.BREACHED: N_("Breached"),
    WorkloadColumn.PENDING: N_("Pending"),
    WorkloadColumn.FORECAST: N_("Breaches in 4 h"),
}
_TOOLTIPS: Final = {
    WorkloadColumn.OPEN: N_("Tickets not yet resolved or closed"),
    WorkloadColumn.AT_RISK: N_("Open tickets close to a breach"),
    WorkloadColumn.BREACHED: N_("Open tickets past an SLA target"),
    WorkloadColumn.PENDING: N_("Tickets waiting on the customer"),
    WorkloadColumn.FORECAST: N_(
        "Tickets that will breach within the next 4 business hours if nothing moves"
    ),
}
_COUNTS: Final = (
    WorkloadColumn.OPEN,
    WorkloadColumn.AT_RISK,
    WorkloadColumn.BREACHED,
    WorkloadColumn.PENDING,
    WorkloadColumn.FORECAST,
)


@dataclass(slots=True)
class WorkloadRow:
    """One agent of a team (``agent_id`` None: the team's unassigned tickets)."""

    team_id: int
    team: str
    agent_id: int | None
    agent: str
    ticket_ids: list[int] = field(default_factory=list)
    open: int = 0
    at_risk: int = 0
    breached: int = 0
    pending: int = 0
    forecast: int = 0
    #: None: unknown (offline, or no presence data yet)
    online: bool | None = None
    last_seen: dt.datetime | None = None
    #: the row's tickets' thresholds (see _Placed), each list sorted
    at_risk_from: list[int] = field(default_factory=list, repr=False)
    breached_from: list[int] = field(default_factory=list, repr=False)
    forecast_from: list[int] = field(default_factory=list, repr=False)
    #: an agent no longer in the team, whose tickets still are
    former: bool = field(default=False, repr=False)

    def count(self, column: WorkloadColumn) -> int:
        return {
            WorkloadColumn.OPEN: self.open,
            WorkloadColumn.AT_RISK: self.at_risk,
            WorkloadColumn.BREACHED: self.breached,
            WorkloadColumn.PENDING: self.pending,
            WorkloadColumn.FORECAST: self.forecast,
        }[column]

    def load_text(self) -> str:
        """ "5 open, 1 at risk, 0 breached", for the reassignment dialog."""
        return gettext("{open} open, {at_risk} at risk, {breached} breached").format(
            open=self.open, at_risk=self.at_risk, breached=self.breached
        )


#: What the workload keeps of one open ticket: where it counts (team, assignee),
#: whether it waits on the customer, and the business positions from which it is at
#: risk and breached (which hold whenever they were computed, as long as nothing
#: happens to the ticket).  A plain tuple: tens of thousands are made at once.
_Placed = tuple[int, int | None, bool, int, int]


def _directory_of(teams: Sequence[TeamOut], users: Sequence[UserOut]) -> tuple[object, ...]:
    """What the workload's rows are laid out from: the teams, and the users' names."""
    return (tuple(teams), tuple((user.id, user.display_name, user.active) for user in users))


def _insert(row: WorkloadRow, ticket_id: int, placed: _Placed) -> None:
    _team, _assignee, pending, at_risk, breached = placed
    insort(row.ticket_ids, ticket_id)
    insort(row.at_risk_from, at_risk)
    insort(row.breached_from, breached)
    insort(row.forecast_from, forecast_from(breached))
    row.open += 1
    row.pending += pending


def _remove(row: WorkloadRow, ticket_id: int, placed: _Placed) -> None:
    _team, _assignee, pending, at_risk, breached = placed
    for values, value in zip(
        (row.ticket_ids, row.at_risk_from, row.breached_from, row.forecast_from),
        (ticket_id, at_risk, breached, forecast_from(breached)),
        strict=True,
    ):
        del values[bisect_left(values, value)]
    row.open -= 1
    row.pending -= pending


class WorkloadModel(QAbstractTableModel):
    """Per team the user leads: each agent's load, and the team's unassigned tickets.

    Counted on ``queue``, the queue's tickets and evaluated clocks: the workload
    evaluates only what the queue has not yet (a large queue evaluates lazily), in
    slices between events with ``slice_size`` (:attr:`loading`,
    :attr:`loadProgress`), and each ticket once for both.  Once loaded, it follows
    every change the queue reads again (:meth:`follow_queue`, whoever asked the
    queue to read it): the tickets concerned move between the rows, which stay
    (and a selection in them).
    """

    #: a load in slices moved on, or ended (see :attr:`loading`)
    loadProgress = Signal()

    def __init__(
        self,
        cache: Cache,
        *,
        me: int | None,
        now: Callable[[], dt.datetime],
        queue: QueueState,
        slice_size: int | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._cache = cache
        self._me = me
        self._now = now
        self._queue = queue
        self._slice_size = slice_size
        #: the open tickets' slots a load in slices has still to evaluate, of how many
        self._queued: list[int] = []
        self._loading_total = 0
        self._refresh_after_load = False
        self._slicer = QTimer(self)
        self._slicer.setSingleShot(True)
        self._slicer.timeout.connect(self._load_slice)
        #: each open ticket of the lead's teams, by id: where it counts, from when
        self._placed: dict[int, _Placed] = {}
        self._loaded = False
        self._team_ids: list[int] = []
        #: the teams and users the rows were laid out from (a change: laid out again)
        self._directory: tuple[object, ...] = ()
        #: the queue's generation and edition the tickets were placed from
        self._seen = (-1, 0)
        #: the business position of the latest evaluation: counts never go back before it
        self._floor = 0
        self._rows: list[WorkloadRow] = []
        self._presence: dict[int, tuple[bool, dt.datetime]] | None = None
        self._sort: tuple[int, Qt.SortOrder] = (-1, Qt.SortOrder.AscendingOrder)
        unsubscribe = queue.subscribe(self.follow_queue)
        # a model deleted (its window gone) must not be called by the queue
        self.destroyed.connect(lambda _obj=None, off=unsubscribe: off())

    # -- loading and time ---------------------------------------------------------------

    @property
    def loading(self) -> tuple[int, int] | None:
        """While a load in slices runs: the open tickets evaluated so far, and in all."""
        if not self._slicer.isActive():
            return None
        return self._loading_total - len(self._queued), self._loading_total

    def reload(self) -> None:
        """Lay out the teams and agents again, and place every open ticket of the teams
        (their clocks evaluated first where the queue has not yet: in slices with
        ``slice_size``, when they are more)."""
        self._slicer.stop()  # a load still running starts over
        self._refresh_after_load = False
        teams = led_teams(self._cache, self._me)
        self._team_ids = [team.id for team in teams]
        self._seen = (self._queue.generation, -1)
        evaluated = self._queue.clocks.evaluated
        open_slots = self._open_slots()
        self._queued = [slot for slot in open_slots if not evaluated[slot]]
        self._loading_total = len(open_slots)
        slices = self._slice_size
        if slices is None:
            self._place_all(teams, open_slots)
        elif len(self._queued) <= slices:
            self._load_slice()  # few: at once
        else:
            self._slicer.start(0)
            self.loadProgress.emit()

    def _load_slice(self) -> None:
        assert self._slice_size is not None
        if self._queue.generation != self._seen[0]:  # the queue was read again
            self.reload()
            return
        chunk = self._queued[: self._slice_size]
        self._queued = self._queued[self._slice_size :]
        self._queue.clocks.ensure(chunk)
        if self._queued:
            self._slicer.start(0)
            self.loadProgress.emit()
            return
        teams = led_teams(self._cache, self._me)
        if [team.id for team in teams] != self._team_ids:  # the lead's teams changed
            self.reload()
            return
        self._place_all(teams)
        if self._refresh_after_load:  # the queue read changes meanwhile
            self._refresh_after_load = False
            self.refresh_changed()
        self.loadProgress.emit()

    def _open_slots(self) -> list[int]:
        """The queue's slots of the open tickets of the lead's teams."""
        columns = self._queue.columns
        teams, team, done = set(self._team_ids), columns.team, columns.done
        return [slot for slot in range(len(columns)) if not done[slot] and team[slot] in teams]

    def _place_all(self, teams: Sequence[TeamOut], slots: Sequence[int] | None = None) -> None:
        """Every open ticket of the teams placed (``slots``, if just found), and laid
        out in rows (many objects at once)."""
        placed: dict[int, _Placed] = {}
        with collector_paused():
            self._place(placed, self._open_slots() if slots is None else slots)
            self._placed, self._loaded = placed, True
            self._lay_out(teams)

    def _place(self, placed: dict[int, _Placed], slots: Sequence[int]) -> None:
        """Keep in ``placed`` where and from when these tickets count (their clocks
        evaluated first, where the queue has not yet)."""
        queue = self._queue
        queue.clocks.ensure(slots)
        self._seen = (queue.generation, queue.edition)
        columns, clocks = queue.columns, queue.clocks
        status, waiting = columns.status, Status.PENDING.value
        # column by column, the tuples made by zip: tens of thousands of tickets
        facts = zip(
            [columns.team[slot] for slot in slots],
            [columns.assignee[slot] for slot in slots],
            [status[slot] == waiting for slot in slots],
            [clocks.at_risk_from[slot] for slot in slots],
            [clocks.breached_from[slot] for slot in slots],
            strict=True,
        )
        placed.update(zip([columns.ids[slot] for slot in slots], facts, strict=True))
        position = queue.rules.calendar.position_us(clocks.now_us)
        self._floor = max(self._floor, position)

    def follow_queue(self) -> None:
        """The queue read tickets again (or everything): a workload loaded follows."""
        if self._loaded or self._slicer.isActive():
            self.refresh_changed()

    def refresh_changed(self) -> int:
        """Place again the tickets the queue read again since the workload last placed
        them (after a sync, a command); how many.  During a load in slices: once it is
        done.  The teams, agents and names are read again too."""
        if self._slicer.isActive():
            self._refresh_after_load = True
            return 0
        queue = self._queue
        generation, edition = self._seen
        changed = queue.changes_since(edition) if generation == queue.generation else None
        teams = led_teams(self._cache, self._me)
        if (
            not self._loaded
            or changed is None
            or [team.id for team in teams] != self._team_ids
            or len(changed) > len(self._placed) // 4 + 1000
        ):
            self.reload()
            return len(self._placed)
        rows = {(row.team_id, row.agent_id): row for row in self._rows}
        users = self._cache.users()
        in_place = self._directory == _directory_of(teams, users)
        for ticket_id in changed:
            placed = self._placed.pop(ticket_id, None)
            if placed is not None and in_place:
                _remove(rows[placed[0], placed[1]], ticket_id, placed)
        columns, team_ids = queue.columns, set(self._team_ids)
        slot_of, team, done = columns.slot_of, columns.team, columns.done
        slots = [slot_of[i] for i in changed if i in slot_of]
        fresh: dict[int, _Placed] = {}
        self._place(fresh, [slot for slot in slots if not done[slot] and team[slot] in team_ids])
        self._placed.update(fresh)
        for ticket_id, placed in fresh.items() if in_place else ():
            row = rows.get((placed[0], placed[1]))
            if row is None:  # assigned to someone outside the team: a row of their own
                in_place = False
                break
            _insert(row, ticket_id, placed)
        if not in_place or any(row.former and not row.open for row in self._rows):
            self._lay_out(teams, users)
        elif changed:
            self._count_at(self._now())
            self._counts_moved()
        return len(changed)

    def _lay_out(
        self, teams: Sequence[TeamOut], directory: Sequence[UserOut] | None = None
    ) -> None:
        """The rows (a team's agents, then its unassigned tickets), counted and sorted
        (``directory``: the users, if just read)."""
        listed = self._cache.users() if directory is None else directory
        self._directory = _directory_of(teams, listed)
        users = {user.id: user for user in listed}
        rows: list[WorkloadRow] = []
        for team in teams:
            members = [users[i] for i in team.member_ids if i in users and users[i].active]
            members.sort(key=lambda user: (user.display_name.casefold(), user.id))
            for user in members:
                rows.append(WorkloadRow(team.id, team.name, user.id, user.display_name))
            rows.append(WorkloadRow(team.id, team.name, None, ""))
        by_key = {(row.team_id, row.agent_id): row for row in rows}
        names = {team.id: team.name for team in teams}
        # each row's tickets, their thresholds and how many wait on the customer, in
        # one pass (tens of thousands of tickets)
        groups: dict[tuple[int, int | None], tuple[list[int], list[int], list[int], list[int]]]
        groups = {}
        for ticket_id, (team_id, assignee_id, pending, at_risk, breached) in self._placed.items():
            group = groups.get((team_id, assignee_id))
            if group is None:
                group = groups[team_id, assignee_id] = ([], [], [], [0])
            group[0].append(ticket_id)
            group[1].append(at_risk)
            group[2].append(breached)
            if pending:
                group[3][0] += 1
        for key, (ids, at_risk_from, breached_from, waiting) in groups.items():
            row = by_key.get(key)
            if row is None:  # assigned to someone who left the team
                former = users.get(key[1] or 0)
                name = former.display_name if former else f"#{key[1]}"
                row = by_key[key] = WorkloadRow(key[0], names[key[0]], key[1], name)
                row.former = True
                rows.append(row)
            ids.sort()
            at_risk_from.sort()
            breached_from.sort()
            row.ticket_ids = ids
            row.at_risk_from = at_risk_from
            row.breached_from = breached_from
            row.forecast_from = forecasts_from(breached_from)
            row.open = len(ids)
            row.pending = waiting[0]
        self.beginResetModel()
        self._rows = rows
        self._apply_presence()
        self._count_at(self._now())
        self._rows = self._sorted(self._rows)
        self.endResetModel()

    def _count_at(self, now: dt.datetime) -> None:
        """The rows' figures at ``now``: binary searches in their thresholds."""
        calendar = self._queue.rules.calendar
        position = max(self._floor, calendar.position_us(to_us(now)))
        for row in self._rows:
            row.breached = bisect_right(row.breached_from, position)
            row.at_risk = bisect_right(row.at_risk_from, position) - row.breached
            row.forecast = bisect_right(row.forecast_from, position) - row.breached

    def tick(self) -> None:
        """The clocks moved: count again (the rows stay, their numbers change)."""
        if not self._rows:
            return
        before = [tuple(row.count(c) for c in _COUNTS) for row in self._rows]
        now = self._now()
        self._count_at(now)  # no pass over the tickets: a few binary searches a row
        after = [tuple(row.count(c) for c in _COUNTS) for row in self._rows]
        if before != after:
            self._counts_moved()

    def _counts_moved(self) -> None:
        """The rows stay, their numbers changed: shown again, and in order."""
        if self._sort[0] in _COUNTS:
            self.sort(*self._sort)
        self.dataChanged.emit(
            self.index(0, WorkloadColumn.OPEN),
            self.index(len(self._rows) - 1, WorkloadColumn.FORECAST),
            [Qt.ItemDataRole.DisplayRole, SORT_ROLE],
        )

    # -- presence ---------------------------------------------------------------------------

    def set_presence(self, presence: PresenceOut | None) -> None:
        """Who is online (None: unknown, e.g. offline)."""
        self._presence = (
            None
            if presence is None
            else {entry.user_id: (entry.online, entry.last_seen_at) for entry in presence.users}
        )
        self._apply_presence()
        if self._rows:
            self.dataChanged.emit(
                self.index(0, WorkloadColumn.PRESENCE),
                self.index(len(self._rows) - 1, WorkloadColumn.PRESENCE),
            )

    def _apply_presence(self) -> None:
        for row in self._rows:
            if self._presence is None or row.agent_id is None:
                row.online, row.last_seen = None, None
            elif row.agent_id in self._presence:
                row.online, row.last_seen = self._presence[row.agent_id]
            else:  # never seen through a console
                row.online, row.last_seen = False, None

    # -- access ---------------------------------------------------------------------------

    @property
    def rows(self) -> list[WorkloadRow]:
        return list(self._rows)

    def row_at(self, position: int) -> WorkloadRow:
        return self._rows[position]

    def find(self, team_id: int, agent_id: int | None) -> WorkloadRow | None:
        return next(
            (r for r in self._rows if r.team_id == team_id and r.agent_id == agent_id), None
        )

    def retranslate(self) -> None:
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(WorkloadColumn) - 1)
        if self._rows:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._rows) - 1, len(WorkloadColumn) - 1)
            )

    # -- sorting ----------------------------------------------------------------------------

    def _key(self, column: int) -> Callable[[WorkloadRow], Any]:
        def default(row: WorkloadRow) -> Any:
            return (row.team.casefold(), row.team_id, row.agent_id is None, row.agent)

        if column == WorkloadColumn.TEAM or column < 0:
            return default
        if column == WorkloadColumn.AGENT:
            return lambda row: (row.agent_id is None, row.agent.casefold(), default(row))
        if column == WorkloadColumn.PRESENCE:
            return lambda row: ({True: 0, False: 1, None: 2}[row.online], default(row))
        counted = WorkloadColumn(column)
        return lambda row: (row.count(counted), default(row))

    def _sorted(self, rows: list[WorkloadRow]) -> list[WorkloadRow]:
        column, order = self._sort
        return sorted(
            rows,
            key=self._key(column),
            reverse=order == Qt.SortOrder.DescendingOrder and column >= 0,
        )

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._sort = (column, order)
        self.layoutAboutToBeChanged.emit()
        before = list(self._rows)
        self._rows = self._sorted(self._rows)
        position = {id(row): i for i, row in enumerate(self._rows)}
        old = self.persistentIndexList()
        new = [self.index(position[id(before[i.row()])], i.column()) for i in old]
        self.changePersistentIndexList(old, new)
        self.layoutChanged.emit()

    # -- QAbstractTableModel --------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(WorkloadColumn)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(WorkloadColumn):
            return None
        column = WorkloadColumn(section)
        if role == Qt.ItemDataRole.DisplayRole:
            return gettext(_HEADERS[column])
        if role == Qt.ItemDataRole.ToolTipRole and column in _TOOLTIPS:
            return gettext(_TOOLTIPS[column])
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemNeverHasChildren
            | Qt.ItemFlag.ItemIsDropEnabled
        )

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        column = WorkloadColumn(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(row, column)
        if role == SORT_ROLE:
            return row.count(column) if column in _COUNTS else self._text(row, column)
        if role == TARGET_ROLE:
            return (row.team_id, row.agent_id)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in _COUNTS:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == WorkloadColumn.BREACHED and row.breached:
                return QBrush(QColor("#b3261e"))
            if column == WorkloadColumn.FORECAST and row.forecast:
                return QBrush(QColor("#a15c00"))
            if column == WorkloadColumn.AT_RISK and row.at_risk:
                return QBrush(QColor("#a15c00"))
            if column == WorkloadColumn.PRESENCE and row.online:
                return QBrush(QColor("#1e7b34"))
            if row.agent_id is None and column == WorkloadColumn.AGENT:
                return QBrush(QColor("#6b6b6b"))
            return None
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, column)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return gettext("{agent}: {value}").format(
                agent=self._text(row, WorkloadColumn.AGENT), value=self._text(row, column)
            )
        return None

    def _text(self, row: WorkloadRow, column: WorkloadColumn) -> str:
        if column == WorkloadColumn.TEAM:
            return row.team
        if column == WorkloadColumn.AGENT:
            return row.agent if row.agent_id is not None else gettext("Unassigned")
        if column == WorkloadColumn.PRESENCE:
            if row.agent_id is None:
                return ""
            if row.online is None:
                return gettext("Unknown")
            return gettext("Online") if row.online else gettext("Offline")
        return i18n.format_decimal(row.count(column))

    def _tooltip(self, row: WorkloadRow, column: WorkloadColumn) -> str | None:
        if column == WorkloadColumn.PRESENCE and row.agent_id is not None:
            if row.online is None:
                return gettext("Presence is unknown while offline.")
            if row.last_seen is None:
                return gettext("Not seen yet")
            return gettext("Last seen {when}").format(when=i18n.format_datetime(row.last_seen))
        if column == WorkloadColumn.FORECAST:
            return ngettext(
                "{count} ticket will breach within 4 business hours if nothing moves",
                "{count} tickets will breach within 4 business hours if nothing moves",
                row.forecast,
            ).format(count=row.forecast)
        return None
