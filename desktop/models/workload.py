"""Team workload and breach forecast over the cache, and reassignments with their undo.

Everything here is derived from the local cache with :mod:`sla` (so it works
offline): :func:`load_open_tickets` reads the open tickets of some teams with
their SLA events, :func:`snapshot` computes both clocks of all of them at one
instant (:func:`sla.clock.evaluate_many`) and derives their flags at any later
instant by arithmetic (a tick replays no history), and
:class:`WorkloadModel` counts per team and agent: open, at risk, breached,
pending, and the breaches to expect within the next four business hours if
nothing moves (a running clock whose remaining business time is shorter than
the horizon).

A reassignment (:func:`reassign`) is one command a ticket through the
:class:`~sync.store.Store` (``assign`` within the team, ``set_team`` across
teams), queued and shown at once like every command.  :func:`undo` takes back
the last one: commands still waiting in the outbox are withdrawn (never sent);
commands the server already applied are answered by the inverse commands,
compare-and-set against the version the reassignment produced.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Final, NamedTuple
from uuid import UUID, uuid4

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
from sqlalchemy import delete, select

import i18n
from desktop.models.sla_cells import SlaRules, events_from_history, read_sla_history
from i18n import N_, gettext, ngettext
from protocol import PresenceOut, Role, TeamOut, UserOut
from sla.calendar import to_us
from sla.clock import ClockState, Event, Status, evaluate_many
from sync import schema
from sync.cache import Cache, collector_paused
from sync.outbox import apply_optimistically, enqueue, make_command, rebase
from sync.store import Store

__all__ = [
    "FORECAST_HORIZON",
    "LEAD_ROLES",
    "LOAD_SLICE",
    "MovePreview",
    "OpenTicket",
    "Reassignment",
    "Target",
    "TicketFlags",
    "WorkloadColumn",
    "WorkloadModel",
    "WorkloadRow",
    "evaluate_tickets",
    "is_lead",
    "load_open_tickets",
    "open_ticket_ids",
    "preview_move",
    "reassign",
    "undo",
]

Index = QModelIndex | QPersistentModelIndex

#: The forecast looks this far ahead, in business time.
FORECAST_HORIZON: Final = dt.timedelta(hours=4)
#: "will breach within the hour" in the reassignment preview, in business time.
SOON: Final = dt.timedelta(hours=1)
LEAD_ROLES: Final = frozenset({Role.TEAM_LEAD, Role.ADMIN})
_DONE: Final = tuple(status.value for status in Status if status.is_done)
_CHUNK: Final = 500
#: Open tickets read and evaluated in one slice of a load in the background (some
#: tens of milliseconds: the window answers between two).
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


# -- the open tickets and their clocks -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpenTicket:
    id: int
    team_id: int
    assignee_id: int | None
    status: str
    version: int
    events: list[Event]


#: Open tickets: not resolved or closed.
_OPEN: Final = schema.tickets.c.status.not_in(_DONE)


def open_ticket_ids(cache: Cache, team_ids: Iterable[int]) -> list[int]:
    """The ids of the open tickets of these teams, in order."""
    t = schema.tickets.c
    with cache.read() as connection:
        query = select(t.id).where(t.team_id.in_(list(team_ids)), _OPEN).order_by(t.id)
        return list(connection.execute(query).scalars())


def load_open_tickets(
    cache: Cache, *, team_ids: Iterable[int] | None = None, ticket_ids: Iterable[int] | None = None
) -> list[OpenTicket]:
    """Open tickets (not resolved or closed) of ``team_ids`` (None: all) or of ``ticket_ids``,
    with their SLA events, in a few bulk reads."""
    t, o = schema.tickets.c, schema.organisations.c
    query = (
        select(
            t.id, t.team_id, t.assignee_id, t.status, t.version, t.created_at, t.priority,
            t.severity, o.plan,
        )
        .select_from(schema.tickets.outerjoin(schema.organisations, o.id == t.organisation_id))
        .where(_OPEN)
    )  # fmt: skip
    rows: list[Any] = []
    with cache.read() as connection:
        if ticket_ids is not None:
            wanted = sorted(set(ticket_ids))
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                rows.extend(connection.execute(query.where(t.id.in_(chunk))).all())
        elif team_ids is not None:
            rows = list(connection.execute(query.where(t.team_id.in_(list(team_ids)))).all())
        else:
            rows = list(connection.execute(query).all())
        history = read_sla_history(connection, sorted(row.id for row in rows))
    found = [
        OpenTicket(
            row.id,
            row.team_id,
            row.assignee_id,
            row.status,
            row.version,
            events_from_history(
                history[row.id],
                created_at=row.created_at,
                priority=row.priority,
                severity=row.severity,
                plan=row.plan or "",
            ),
        )
        for row in rows
    ]
    found.sort(key=lambda ticket: ticket.id)
    return found


@dataclass(frozen=True, slots=True)
class TicketFlags:
    """What the workload counts of one open ticket, as of one instant."""

    breached: bool
    at_risk: bool
    pending: bool
    #: not breached now, and a running clock breaches within the forecast horizon
    forecast: bool
    #: not breached now, and a running clock breaches within :data:`SOON`
    soon: bool


@dataclass(frozen=True, slots=True)
class ClockSnapshot:
    """The clocks of some tickets as of one business position, enough to know their flags
    at any later instant without replaying their histories: while nothing happens to a
    ticket, a running clock's remaining time falls with business time, a paused or
    stopped one stays (the ``sla`` rules: breached past the target, at risk within the
    policy's threshold while running)."""

    calendar: Any
    position_us: int
    ids: tuple[int, ...]
    pending: tuple[bool, ...]
    #: per ticket, per clock: (0 running / 1 paused / 2 stopped, remaining µs, at-risk µs)
    clocks: tuple[tuple[tuple[int, int, int], tuple[int, int, int]], ...]

    def thresholds(self) -> list[tuple[int, int, int]]:
        """Per ticket, the business positions from which it is (at risk, breached,
        forecast to breach), if nothing happens to it: the flags of :meth:`flags` at
        a position ``p`` are ``at_risk = a <= p < b``, ``breached = b <= p`` and
        ``forecast = f <= p < b`` (``a <= b`` and ``f <= b``), so a table can count
        them at any instant by binary search, without a pass over the tickets."""
        horizon = FORECAST_HORIZON // dt.timedelta(microseconds=1)
        never, always = 2**62, -(2**62)
        found: list[tuple[int, int, int]] = []
        for clocks in self.clocks:
            at_risk = breached = forecast = never
            for mode, remaining, risk in clocks:
                if mode == 1 and remaining < 0:  # paused past its target: breached for good
                    at_risk = breached = forecast = always
                    break
                if mode == 0:  # running: left = due - p; breached once left < 0
                    due = self.position_us + remaining
                    breached = min(breached, due + 1)
                    at_risk = min(at_risk, due - risk)
                    forecast = min(forecast, due - horizon + 1)
            found.append((at_risk, breached, forecast))
        return found

    def position_at(self, now: dt.datetime) -> int:
        """The business position of ``now``, never before the snapshot's."""
        position: int = self.calendar.position_us(to_us(now))
        return max(self.position_us, position)

    def flags(self, now: dt.datetime) -> list[TicketFlags]:
        """Every ticket's flags at ``now`` (at or after the snapshot), by arithmetic."""
        passed = self.position_at(now) - self.position_us
        horizon = FORECAST_HORIZON // dt.timedelta(microseconds=1)
        soon = SOON // dt.timedelta(microseconds=1)
        flags: list[TicketFlags] = []
        for pending, clocks in zip(self.pending, self.clocks, strict=True):
            breached = at_risk = forecast = soon_ = False
            for mode, remaining, risk in clocks:
                if mode == 2:  # stopped: met or missed, nothing more to come
                    continue
                left = remaining - passed if mode == 0 else remaining
                if left < 0:
                    breached = True
                elif mode == 0:
                    at_risk = at_risk or left <= risk
                    forecast = forecast or left < horizon
                    soon_ = soon_ or left < soon
            flags.append(
                TicketFlags(
                    breached=breached,
                    at_risk=not breached and at_risk,
                    pending=pending,
                    forecast=not breached and forecast,
                    soon=not breached and soon_,
                )
            )
        return flags


def snapshot(tickets: Sequence[OpenTicket], rules: SlaRules, now: dt.datetime) -> ClockSnapshot:
    """Both clocks of every ticket at ``now``, with :func:`sla.clock.evaluate_many`."""
    latest = max((max(event.at for event in ticket.events) for ticket in tickets), default=now)
    at = max(now, latest)
    slas = evaluate_many([ticket.events for ticket in tickets], rules.policy, rules.calendar, at)

    def clock(state: ClockState) -> tuple[int, int, int]:
        mode = 2 if state.stopped_us is not None else 1 if state.paused else 0
        return (mode, state.remaining_us, state.risk_us)

    return ClockSnapshot(
        rules.calendar,
        rules.calendar.position_us(to_us(at)),
        tuple(ticket.id for ticket in tickets),
        tuple(ticket.status == "pending" for ticket in tickets),
        tuple((clock(sla.response), clock(sla.resolution)) for sla in slas),
    )


def evaluate_tickets(
    tickets: Sequence[OpenTicket], rules: SlaRules, now: dt.datetime
) -> list[TicketFlags]:
    """The flags of each ticket at ``now``."""
    return snapshot(tickets, rules, now).flags(now)


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
    #: the row's tickets' thresholds (see ClockSnapshot.thresholds), each list sorted
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


class _Placed(NamedTuple):
    """What the workload keeps of one open ticket once its clocks are evaluated (not
    its history): where it counts, and from when it is at risk, breached or forecast
    to breach (see :meth:`ClockSnapshot.thresholds`: business positions, which hold
    whenever they were computed, as long as nothing happens to the ticket)."""

    team_id: int
    assignee_id: int | None
    pending: bool
    thresholds: tuple[int, int, int]


def _directory_of(teams: Sequence[TeamOut], users: Sequence[UserOut]) -> tuple[object, ...]:
    """What the workload's rows are laid out from: the teams, and the users' names."""
    return (tuple(teams), tuple((user.id, user.display_name, user.active) for user in users))


def _insert(row: WorkloadRow, ticket_id: int, placed: _Placed) -> None:
    at_risk, breached, forecast = placed.thresholds
    insort(row.ticket_ids, ticket_id)
    insort(row.at_risk_from, at_risk)
    insort(row.breached_from, breached)
    insort(row.forecast_from, forecast)
    row.open += 1
    row.pending += placed.pending


def _remove(row: WorkloadRow, ticket_id: int, placed: _Placed) -> None:
    for values, value in zip(
        (row.ticket_ids, row.at_risk_from, row.breached_from, row.forecast_from),
        (ticket_id, *placed.thresholds),
        strict=True,
    ):
        del values[bisect_left(values, value)]
    row.open -= 1
    row.pending -= placed.pending


class WorkloadModel(QAbstractTableModel):
    """Per team the user leads: each agent's load, and the team's unassigned tickets.

    The clocks of every open ticket are evaluated once, at :meth:`reload`; after a
    sync, :meth:`refresh_changed` evaluates only the tickets whose history grew and
    moves them between the rows, which stay (and a selection in them): a sync of a
    hundred tickets costs milliseconds, not a pass over the teams' tens of thousands.

    With ``slice_size``, a load of more open tickets than that is done in slices
    between events (:attr:`loading`, :attr:`loadProgress`): tens of thousands of
    tickets take seconds to evaluate, and the window stays alive meanwhile.
    """

    #: a load in slices moved on, or ended (see :attr:`loading`)
    loadProgress = Signal()

    def __init__(
        self,
        cache: Cache,
        *,
        me: int | None,
        now: Callable[[], dt.datetime],
        rules: Callable[[], SlaRules] | None = None,
        slice_size: int | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._slice_size = slice_size
        #: the open tickets a load in slices has still to read, and what it read so far
        self._queued: list[int] = []
        self._loading_total = 0
        self._next: dict[int, _Placed] = {}
        self._refresh_after_load = False
        self._slicer = QTimer(self)
        self._slicer.setSingleShot(True)
        self._slicer.timeout.connect(self._load_slice)
        self._cache = cache
        self._me = me
        self._now = now
        self._rules = rules or (lambda: SlaRules.from_cache(cache))
        self._placed: dict[int, _Placed] = {}
        self._loaded = False
        self._team_ids: list[int] = []
        #: the teams and users the rows were laid out from (a change: laid out again)
        self._directory: tuple[object, ...] = ()
        #: the cache's history rows read up to this one (see Cache.history_since)
        self._history_mark = 0
        #: the tickets in the cache then (fewer now: some were dropped, see refresh_changed)
        self._ticket_total = 0
        self._calendar: Any = None
        #: the business position of the latest evaluation: counts never go back before it
        self._floor = 0
        self._rows: list[WorkloadRow] = []
        self._presence: dict[int, tuple[bool, dt.datetime]] | None = None
        self._sort: tuple[int, Qt.SortOrder] = (-1, Qt.SortOrder.AscendingOrder)

    # -- loading and time ---------------------------------------------------------------

    @property
    def loading(self) -> tuple[int, int] | None:
        """While a load in slices runs: the open tickets read so far, and in all."""
        if not self._slicer.isActive():
            return None
        return self._loading_total - len(self._queued), self._loading_total

    def reload(self) -> None:
        """Read the teams, agents and open tickets from the cache again (in slices
        with ``slice_size``, when they are more)."""
        self._history_mark = self._cache.history_mark()
        self._ticket_total = self._cache.ticket_count()
        teams = led_teams(self._cache, self._me)
        self._team_ids = [team.id for team in teams]
        slices = self._slice_size
        if slices is None:
            # every open ticket of the teams, its history and clocks: many objects at once
            placed: dict[int, _Placed] = {}
            with collector_paused():
                self._place(placed, load_open_tickets(self._cache, team_ids=self._team_ids))
            self._loaded_with(placed, teams)
            return
        self._slicer.stop()  # a load still running starts over
        self._refresh_after_load = False
        self._queued = open_ticket_ids(self._cache, self._team_ids)
        self._loading_total, self._next = len(self._queued), {}
        if len(self._queued) <= slices:
            self._load_slice()  # few: at once
        else:
            self._slicer.start(0)
            self.loadProgress.emit()

    def _load_slice(self) -> None:
        assert self._slice_size is not None
        chunk = self._queued[: self._slice_size]
        self._queued = self._queued[self._slice_size :]
        team_ids = set(self._team_ids)
        with collector_paused():
            self._place(
                self._next,
                [  # (a ticket moved to another team since the load began is left out)
                    ticket
                    for ticket in load_open_tickets(self._cache, ticket_ids=chunk)
                    if ticket.team_id in team_ids
                ],
            )
        if self._queued:
            self._slicer.start(0)
            self.loadProgress.emit()
            return
        teams = led_teams(self._cache, self._me)
        if [team.id for team in teams] != self._team_ids:  # the lead's teams changed
            self.reload()
            return
        placed, self._next = self._next, {}
        self._loaded_with(placed, teams)
        if self._refresh_after_load:  # a sync landed meanwhile
            self._refresh_after_load = False
            self.refresh_changed()
        self.loadProgress.emit()

    def _loaded_with(self, placed: dict[int, _Placed], teams: Sequence[TeamOut]) -> None:
        """A load done: these tickets, laid out in rows (many objects at once)."""
        self._placed, self._loaded = placed, True
        with collector_paused():
            self._lay_out(teams)

    def refresh_changed(self) -> int:
        """Read again only the tickets whose history grew since the last read (after a
        sync, a command); how many.  Their clocks are evaluated, the others' are not.
        During a load in slices: once it is done."""
        if self._slicer.isActive():
            self._refresh_after_load = True
            return 0
        changed, mark = self._cache.history_since(self._history_mark)
        teams = led_teams(self._cache, self._me)
        total = self._cache.ticket_count()
        if (
            not self._loaded
            or [team.id for team in teams] != self._team_ids
            # tickets leave the cache without a history row only when the user's
            # access changes (Store._drop_out_of_sight), and only those of teams the
            # user no longer sees: a lead's teams change then (above); fewer tickets
            # than before is one more sign, read all again
            or total < self._ticket_total
            or len(changed) > len(self._placed) // 4 + 1000
        ):
            self.reload()
            return len(self._placed)
        self._history_mark, self._ticket_total = mark, total
        team_ids = set(self._team_ids)
        fresh = (
            [
                ticket
                for ticket in load_open_tickets(self._cache, ticket_ids=changed)
                if ticket.team_id in team_ids
            ]
            if changed
            else []
        )
        rows = {(row.team_id, row.agent_id): row for row in self._rows}
        users = self._cache.users()
        in_place = self._directory == _directory_of(teams, users)
        for ticket_id in changed:
            placed = self._placed.pop(ticket_id, None)
            if placed is not None and in_place:
                _remove(rows[placed.team_id, placed.assignee_id], ticket_id, placed)
        self._place(self._placed, fresh)
        for ticket in fresh if in_place else ():
            row = rows.get((ticket.team_id, ticket.assignee_id))
            if row is None:  # assigned to someone outside the team: a row of their own
                in_place = False
                break
            _insert(row, ticket.id, self._placed[ticket.id])
        if not in_place or any(row.former and not row.open for row in self._rows):
            self._lay_out(teams, users)
        elif changed:
            self._count_at(self._now())
            self._counts_moved()
        return len(changed)

    def _place(self, placed: dict[int, _Placed], tickets: Sequence[OpenTicket]) -> None:
        """Evaluate these tickets' clocks now, and keep in ``placed`` where and when
        they count."""
        if not tickets:
            return
        shot = snapshot(tickets, self._rules(), self._now())
        self._calendar = shot.calendar
        self._floor = max(self._floor, shot.position_us)
        for ticket, thresholds in zip(tickets, shot.thresholds(), strict=True):
            placed[ticket.id] = _Placed(
                ticket.team_id, ticket.assignee_id, ticket.status == "pending", thresholds
            )

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
        # each row's tickets in id order, and their thresholds (one pass, no attribute
        # look-up a ticket: tens of thousands of them)
        found: dict[tuple[int, int | None], list[int]] = {}
        for ticket_id, (team_id, assignee_id, _pending, _thresholds) in self._placed.items():
            key = (team_id, assignee_id)
            ids = found.get(key)
            if ids is None:
                ids = found[key] = []
            ids.append(ticket_id)
        placed = self._placed
        for key, ids in found.items():
            ids.sort()
            row = by_key.get(key)
            if row is None:  # assigned to someone who left the team
                former = users.get(key[1] or 0)
                name = former.display_name if former else f"#{key[1]}"
                row = by_key[key] = WorkloadRow(key[0], names[key[0]], key[1], name)
                row.former = True
                rows.append(row)
            entries = [placed[ticket_id] for ticket_id in ids]
            at_risk, breached, forecast = (
                zip(*(entry[3] for entry in entries), strict=True) if entries else ((), (), ())
            )
            row.ticket_ids = ids
            row.at_risk_from = sorted(at_risk)
            row.breached_from = sorted(breached)
            row.forecast_from = sorted(forecast)
            row.open = len(ids)
            row.pending = sum(entry[2] for entry in entries)
        self.beginResetModel()
        self._rows = rows
        self._apply_presence()
        self._count_at(self._now())
        self._rows = self._sorted(self._rows)
        self.endResetModel()

    def _count_at(self, now: dt.datetime) -> None:
        """The rows' figures at ``now``: binary searches in their thresholds."""
        if self._calendar is None:  # no open ticket was ever placed: nothing to count
            return
        position = max(self._floor, self._calendar.position_us(to_us(now)))
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


# -- reassignment ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """Where tickets go: an agent of a team, or a team (nobody assigned)."""

    team_id: int
    agent_id: int | None
    label: str


@dataclass(frozen=True, slots=True)
class MovePreview:
    """What a reassignment does: how many tickets move, and how their SLA stands."""

    count: int
    breached: int
    soon: int
    forecast: int

    def text(self) -> str:
        """ "3 tickets, 1 will breach within the hour", and so on."""
        parts = [ngettext("{count} ticket", "{count} tickets", self.count).format(count=self.count)]
        if self.breached:
            parts.append(
                ngettext(
                    "{count} already breached", "{count} already breached", self.breached
                ).format(count=self.breached)
            )
        if self.soon:
            parts.append(
                ngettext(
                    "{count} will breach within the hour",
                    "{count} will breach within the hour",
                    self.soon,
                ).format(count=self.soon)
            )
        later = self.forecast - self.soon
        if later:
            parts.append(
                ngettext(
                    "{count} more within 4 business hours",
                    "{count} more within 4 business hours",
                    later,
                ).format(count=later)
            )
        if len(parts) == 1 and self.count:
            parts.append(gettext("none at risk of breaching soon"))
        return ", ".join(parts)


def preview_move(
    cache: Cache, ticket_ids: Iterable[int], rules: SlaRules, now: dt.datetime
) -> MovePreview:
    """The SLA of the tickets about to move, computed with :mod:`sla` from the cache."""
    wanted = list(dict.fromkeys(ticket_ids))
    tickets = load_open_tickets(cache, ticket_ids=wanted)
    flags = evaluate_tickets(tickets, rules, now)
    return MovePreview(
        count=len(wanted),
        breached=sum(f.breached for f in flags),
        soon=sum(f.soon for f in flags),
        forecast=sum(f.forecast for f in flags),
    )


@dataclass(frozen=True, slots=True)
class Move:
    ticket_id: int
    from_team: int
    from_agent: int | None
    to_team: int
    to_agent: int | None
    mutation_id: UUID


@dataclass(frozen=True, slots=True)
class Reassignment:
    target: Target
    moves: tuple[Move, ...]
    #: tickets left alone: already there, or not cached any more
    skipped: int = 0


def reassign(store: Store, ticket_ids: Iterable[int], target: Target) -> Reassignment:
    """One command a ticket (``assign`` within the team, ``set_team`` across), queued."""
    moves: list[Move] = []
    wanted = list(dict.fromkeys(ticket_ids))
    tickets = store.cache.tickets(wanted)
    for ticket in tickets:
        if ticket.team_id == target.team_id and ticket.assignee_id == target.agent_id:
            continue
        if ticket.team_id == target.team_id:
            mutation = store.assign(ticket.id, target.agent_id)
        else:
            mutation = store.set_team(ticket.id, target.team_id, target.agent_id)
        moves.append(
            Move(
                ticket.id,
                ticket.team_id,
                ticket.assignee_id,
                target.team_id,
                target.agent_id,
                mutation,
            )
        )
    return Reassignment(target, tuple(moves), skipped=len(wanted) - len(moves))


@dataclass(frozen=True, slots=True)
class UndoOutcome:
    withdrawn: int = 0  # still queued: taken out of the outbox, never sent
    reverted: int = 0  # already applied: the inverse command is queued
    unchanged: int = 0  # moved again since, or refused by the server: left as it is
    #: on their way to the server right now: to undo again once it has answered
    deferred: tuple[Move, ...] = ()


def undo(store: Store, reassignment: Reassignment) -> UndoOutcome:
    """Take back ``reassignment``: withdraw what is still queued, revert what was applied.

    A ticket moved again since (by anyone) is left alone: an undo never
    overwrites someone else's later change.
    """
    o, t = schema.outbox.c, schema.tickets.c
    withdrawn = reverted = unchanged = 0
    deferred: list[Move] = []
    now = store.clock()
    with store.withdrawing() as in_flight, store.cache.write() as connection:
        withdraw: list[int] = []
        for move in reassignment.moves:
            queued = connection.execute(
                select(o.seq, o.state, o.applied_version, o.attempts).where(
                    o.mutation_id == str(move.mutation_id)
                )
            ).first()
            current = connection.execute(
                select(t.team_id, t.assignee_id, t.version).where(t.id == move.ticket_id)
            ).first()
            if current is None or (current.team_id, current.assignee_id) != (
                move.to_team,
                move.to_agent,
            ):
                unchanged += 1
                continue
            later = (
                queued is not None
                and connection.execute(
                    select(o.seq).where(
                        o.ticket_id == move.ticket_id,
                        o.seq > queued.seq,
                        o.type.in_(("assign", "set_team")),
                    )
                ).first()
                is not None
            )
            if later:
                unchanged += 1
                continue
            if queued is not None and queued.state == "pending":
                if in_flight(move.mutation_id) or queued.attempts:
                    # the server may be applying it, or may have (a push that got no
                    # answer): neither withdrawn (it would stand all the same) nor
                    # reverted (against which version?) until the server has answered
                    deferred.append(move)
                    continue
                connection.execute(delete(schema.outbox).where(o.seq == queued.seq))
                withdraw.append(move.ticket_id)
                withdrawn += 1
                continue
            base = current.version
            if queued is not None and queued.applied_version is not None:
                base = max(base, queued.applied_version)
            fields: dict[str, Any]
            if move.from_team == move.to_team:
                kind, fields = "assign", {"assignee_id": move.from_agent}
            else:
                kind = "set_team"
                fields = {"team_id": move.from_team, "assignee_id": move.from_agent}
            command = make_command(kind, move.ticket_id, base, mutation_id=uuid4(), **fields)
            enqueue(connection, command, now)
            apply_optimistically(connection, command, now, store.user_id)
            reverted += 1
        if withdraw:
            rebase(connection, withdraw, store.user_id)
    return UndoOutcome(withdrawn, reverted, unchanged, tuple(deferred))
