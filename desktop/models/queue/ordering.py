"""The queue's views (My tickets, Breached…), their counts, and its orders.

Views and search results are lists of slots; sorting sorts them on one
precomputed integer a slot (see :mod:`desktop.models.queue.facts`), so 100,000
tickets need no proxy model and no per-comparison Python.  Each column's order
of every slot is kept once sorted, and mended when a few clocks move (a clock
breaching moves its ticket in the SLA orders); a large selection is the kept
order filtered down to it.  The counts of the views that depend on the tickets'
fields are kept and moved with each change of a ticket; those that depend on
the clocks are counted from the state columns.

No Qt here.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable, Sequence
from enum import IntEnum, StrEnum
from typing import Any, Final

from desktop.models.queue.clocks import QueueClocks
from desktop.models.queue.columns import QueueColumns
from desktop.models.queue.facts import AT_RISK_CODE, BREACHED_CODE, DUE_BITS, SLOT_BITS
from i18n import N_, gettext
from sla.clock import ClockState, TicketSla
from sla.events import Status
from sla.policy import Priority, Severity

__all__ = ["CLOCK_VIEWS", "SLA_COLUMNS", "Column", "QueueOrdering", "QueueView", "clock_of"]


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


def clock_of(sla: TicketSla | None, column: int) -> ClockState | None:
    """The clock an SLA column shows."""
    if sla is None:
        return None
    return sla.response if column == Column.RESPONSE_SLA else sla.resolution


#: Columns whose keys do not depend on the clocks.
_CLOCK_FREE: Final = frozenset(
    {Column.TRACKING, Column.SUBJECT, Column.ORGANISATION, Column.UPDATED}
)


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
CLOCK_VIEWS: Final = frozenset({QueueView.AT_RISK, QueueView.BREACHED})
#: "Recently updated": this long.
RECENT: Final = dt.timedelta(hours=24)
_STATUS_ORDER: Final = {status.value: rank for rank, status in enumerate(Status)}
_PRIORITY_RANK: Final = {priority.value: priority.rank for priority in Priority}
_SEVERITY_RANK: Final = {severity.value: severity.rank for severity in Severity}


def stamp(when: dt.datetime) -> str:
    """An instant as the cache stores it (ISO text in UTC: sorts as text)."""
    return when.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _ranks(values: Sequence[Any]) -> list[int]:
    """Each value's rank among the distinct values (equal values share a rank)."""
    order = {value: rank for rank, value in enumerate(sorted(set(values)))}
    return [order[value] for value in values]


class QueueOrdering:
    """Views, counts and sort keys over a queue's columns and clocks (user ``me``'s)."""

    def __init__(self, columns: QueueColumns, clocks: QueueClocks, me: int | None) -> None:
        self._columns = columns
        self._clocks = clocks
        self.me = me
        self.reset()

    def reset(self) -> None:
        """Forget every key, order and count (the slots are numbered again)."""
        self._keys: dict[int, list[int]] = {}  # sort keys by column, until the data changes
        self._orders: dict[int, list[int]] = {}  # every slot sorted by a column's keys
        #: the counts of the views that depend on the tickets' fields only (not on time)
        self._field_counts: dict[QueueView, int] | None = None
        #: every ticket's last update, sorted: "Recently updated" counted by bisection
        self._updated_sorted: list[str] | None = None

    def forget_field_counts(self) -> None:
        """The user's teams changed: the views of their teams hold other tickets."""
        self._field_counts = None

    # -- views --------------------------------------------------------------------------

    def view_slots(self, view: QueueView, among: Iterable[int] | None = None) -> list[int]:
        """The slots of ``view`` (among these slots, else all), in slot order."""
        columns = self._columns
        slots: Iterable[int] = range(len(columns)) if among is None else among
        done = columns.done
        if view is QueueView.MY_TICKETS:
            me = self.me
            if me is None:
                return []
            assignee = columns.assignee
            return [s for s in slots if assignee[s] == me and not done[s]]
        teams = columns.my_teams
        if view is QueueView.UNASSIGNED:
            assignee = columns.assignee
            if teams is None:
                return [s for s in slots if assignee[s] is None and not done[s]]
            team = columns.team
            return [s for s in slots if assignee[s] is None and not done[s] and team[s] in teams]
        if view is QueueView.MY_TEAMS:
            if teams is None:
                return [s for s in slots if not done[s]]
            team = columns.team
            return [s for s in slots if not done[s] and team[s] in teams]
        if view in CLOCK_VIEWS:
            slots = list(slots)
            clocks = self._clocks
            clocks.ensure(slots)
            code = AT_RISK_CODE if view is QueueView.AT_RISK else BREACHED_CODE
            response, resolution = clocks.response_state, clocks.resolution_state
            return [s for s in slots if response[s] == code or resolution[s] == code]
        if view is QueueView.PENDING:
            status = columns.status
            pending = Status.PENDING.value
            return [s for s in slots if status[s] == pending]
        if view is QueueView.RECENT:
            cutoff = stamp(self._clocks.now - RECENT)
            updated = columns.updated
            return [s for s in slots if updated[s] >= cutoff]
        return list(slots)

    def select(
        self,
        view: QueueView,
        search: set[int] | None,
        column: int,
        *,
        descending: bool,
    ) -> list[int]:
        """The slots to show: those of ``view`` (and of the ``search`` results, ticket
        ids, unless None), sorted by ``column``."""
        among: list[int] | None = None
        if search is not None:
            slot_of = self._columns.slot_of
            among = sorted(slot_of[i] for i in search if i in slot_of)
        rows = self.view_slots(view, among)
        self.sort_slots(rows, column, descending=descending)
        return rows

    # -- counts -------------------------------------------------------------------------

    def known_counts(self) -> dict[QueueView, int | None]:
        """How many tickets each view holds, None for the clock views while not known yet."""
        found: dict[QueueView, int | None] = {}
        known = self._field_counts
        if known is None:  # once a change of the tickets, not each minute
            known = self._field_counts = {
                view: len(self.view_slots(view))
                for view in QueueView
                if view not in CLOCK_VIEWS and view not in (QueueView.ALL, QueueView.RECENT)
            }
        clocks = self._clocks
        for view in QueueView:
            if view in CLOCK_VIEWS:
                code = AT_RISK_CODE if view is QueueView.AT_RISK else BREACHED_CODE
                found[view] = None if clocks.unevaluated else clocks.state_count(code)
            elif view is QueueView.ALL:
                found[view] = len(self._columns)
            elif view is QueueView.RECENT:
                found[view] = self._recent_count()
            else:
                found[view] = known[view]
        return found

    def count_fields(self, slot: int, sign: int) -> None:
        """Take one ticket out of (-1), or into (+1), the counts kept of the views that
        depend on its fields, as they are now."""
        known = self._field_counts
        if known is not None:
            for view in known:
                known[view] += sign * len(self.view_slots(view, (slot,)))
        stamps = self._updated_sorted
        if stamps is not None:
            updated = self._columns.updated[slot]
            if sign < 0:
                del stamps[bisect.bisect_left(stamps, updated)]
            else:
                bisect.insort(stamps, updated)

    def _recent_count(self) -> int:
        """Tickets updated in the last 24 hours (their stamps sort as their instants)."""
        stamps = self._updated_sorted
        if stamps is None:
            stamps = self._updated_sorted = sorted(self._columns.updated)
        return len(stamps) - bisect.bisect_left(stamps, stamp(self._clocks.now - RECENT))

    # -- sorting --------------------------------------------------------------------------

    def sort_slots(self, rows: list[int], column: int, *, descending: bool) -> None:
        """Sort ``rows`` (slots) by ``column`` (-1: the next SLA due), in place.

        A large selection is not sorted at all: the slots sorted once by the
        column (kept, and mended when a few clocks move) are filtered down to it.
        """
        self._clocks.ensure(rows)
        self.sync_keys()
        count = len(self._columns)
        if len(rows) * 8 < count:
            keys = self.sort_keys(column)
            rows.sort(key=keys.__getitem__, reverse=descending)
            return
        order = self._order(column)
        if len(rows) == count:
            rows[:] = order
        else:
            member = bytearray(count)
            for slot in rows:
                member[slot] = 1
            rows[:] = [slot for slot in order if member[slot]]
        if descending:
            rows.reverse()

    def _order(self, column: int) -> list[int]:
        order = self._orders.get(column)
        if order is None:
            keys = self.sort_keys(column)
            order = self._orders[column] = sorted(range(len(self._columns)), key=keys.__getitem__)
        return order

    def sync_keys(self) -> None:
        """Mend the kept keys and orders of the slots whose clocks moved: each found
        by bisection with its key before (the order is sorted by those), taken out,
        and put back by its key now."""
        clocks = self._clocks
        if not clocks.moved_keys:
            return
        dirty, clocks.moved_keys = clocks.moved_keys, {}
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

    def forget_keys(self, slots: Iterable[int]) -> None:
        """These tickets' fields changed: keys of text columns are built again when needed."""
        for column in _CLOCK_FREE:
            self._keys.pop(column, None)
            self._orders.pop(column, None)
        due, moved = self._clocks.due, self._clocks.moved_keys
        for slot in slots:
            moved.setdefault(slot, due[slot])

    def _key_of(self, column: int, slot: int) -> int:
        """A clock-dependent column's key of one slot (as :meth:`sort_keys` builds them)."""
        columns, clocks = self._columns, self._clocks
        due = clocks.due[slot]
        if column == Column.PRIORITY:
            rank = _PRIORITY_RANK.get(columns.priority[slot], 9) << 4 | _SEVERITY_RANK.get(
                columns.severity[slot], 9
            )
        elif column == Column.SEVERITY:
            rank = _SEVERITY_RANK.get(columns.severity[slot], 9) << 4 | _PRIORITY_RANK.get(
                columns.priority[slot], 9
            )
        elif column == Column.STATUS:
            rank = _STATUS_ORDER.get(columns.status[slot], 9)
        elif column == Column.ASSIGNEE:
            # ranks of names cannot be mended one by one: the column is built again
            self._keys.pop(column, None)
            self._orders.pop(column, None)
            return 0
        elif column == Column.RESPONSE_SLA:
            rank = clocks.response_key[slot]
        elif column == Column.RESOLUTION_SLA:
            rank = clocks.resolution_key[slot]
        else:
            return due
        return rank << DUE_BITS | due

    def sort_keys(self, column: int) -> list[int]:
        """One integer a slot, in the order of ``column`` (kept until the data changes)."""
        keys = self._keys.get(column)
        if keys is None:
            keys = self._keys[column] = self._build_keys(column)
        return keys

    def _build_keys(self, column: int) -> list[int]:
        columns, clocks = self._columns, self._clocks
        due = clocks.due
        shift = DUE_BITS
        if column == -1:
            return due
        if column in _CLOCK_FREE:
            if column == Column.TRACKING:
                values: Sequence[Any] = columns.tracking
            elif column == Column.SUBJECT:
                values = [subject.casefold() for subject in columns.subject]
            elif column == Column.ORGANISATION:
                names = {
                    key: (name.casefold(), plan)
                    for key, (name, plan) in columns.organisations.items()
                }
                values = [names.get(o, ("", "")) for o in columns.organisation]
            else:  # Column.UPDATED
                values = columns.updated
            return [r << SLOT_BITS | s for s, r in enumerate(_ranks(values))]
        p, v = _PRIORITY_RANK, _SEVERITY_RANK
        if column == Column.PRIORITY:
            return [
                (p.get(a, 9) << 4 | v.get(b, 9)) << shift | d
                for a, b, d in zip(columns.priority, columns.severity, due, strict=True)
            ]
        if column == Column.SEVERITY:
            return [
                (v.get(b, 9) << 4 | p.get(a, 9)) << shift | d
                for a, b, d in zip(columns.priority, columns.severity, due, strict=True)
            ]
        if column == Column.STATUS:
            order = _STATUS_ORDER
            return [order.get(a, 9) << shift | d for a, d in zip(columns.status, due, strict=True)]
        if column == Column.ASSIGNEE:
            users = columns.users
            ranks = _ranks(
                ["" if a is None else users.get(a, f"#{a}").casefold() for a in columns.assignee]
            )
            return [r << shift | d for r, d in zip(ranks, due, strict=True)]
        clock = clocks.response_key if column == Column.RESPONSE_SLA else clocks.resolution_key
        return [c << shift | d for c, d in zip(clock, due, strict=True)]
