"""The ticket queue as a Qt table model: the current view and search, sorted, with live
SLA cells.

The tickets, their clocks and their orders are a :class:`QueueState` (no Qt);
this model shows some of them as rows, and moves them through time.  A large
cache is evaluated lazily: the tickets of the view on screen first, the others
in the background, in slices between events (views that depend on every
clock, and :meth:`QueueModel.counts`, finish the work first).

Time moves only through :meth:`QueueModel.tick`: it emits ``dataChanged`` for
the SLA cells of the rows the view shows (it tells the model which, through
:meth:`QueueModel.set_visible_rows`) that now show something else,
re-evaluates the tickets whose clocks change state (their wake-up instants)
and re-sorts or re-filters when that changes the order.  After a sync,
:meth:`QueueModel.refresh_tickets` (or :meth:`QueueModel.refresh_changed`,
which finds them) re-reads only the tickets that changed.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable
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

from desktop.models.queue.cells import SLA_ROLES, TICKET_ID_ROLE, QueueCells, header
from desktop.models.queue.clocks import SLICE
from desktop.models.queue.ordering import CLOCK_VIEWS, SLA_COLUMNS, Column, QueueView
from desktop.models.queue.state import (
    EAGER_LIMIT,
    Clock,
    Earlier,
    QueueRow,
    QueueState,
    Watched,
)
from desktop.models.queue.wakeups import OFF_SCREEN_STEP, WakeUps
from desktop.models.sla_cells import SlaRules
from sla.calendar import duration_to_us
from sync.cache import Cache, utc_now

__all__ = ["OFF_SCREEN_STEP", "ORDER_WAIT", "QueueModel", "QueueRow", "Watched"]

Index = QModelIndex | QPersistentModelIndex

#: The background evaluation starts this long after a (re)load, once the queue is painted.
_BACKGROUND_DELAY_MS: Final = 100
_COLUMN_COUNT: Final = len(Column)
#: How long a new order may wait while it changes no row on screen (see
#: :meth:`QueueModel._follow_clocks`).  A relayout repaints every cell shown (a
#: tenth of the CPU a second of ticking may take), and with 100,000 tickets some
#: clock breaches every few seconds below the screen: once a minute at most.
ORDER_WAIT: Final = dt.timedelta(minutes=1)
_ORDER_WAIT_US: Final = duration_to_us(ORDER_WAIT)

#: Every cell's flags (asked for each cell painted: built once).
_ROW_FLAGS: Final = (
    Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
)


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
        self._state = QueueState(cache, me=me, clock=clock, eager_limit=eager_limit)
        self._state.clocks.on_complete = self._every_clock_known
        self._cells = QueueCells(self._state)
        self._rows: list[int] = []  # the slots shown, in order
        self._view = view
        self._search: set[int] | None = None
        self._sort_column = -1
        self._descending = False
        self._visible = (0, -1)
        #: when a clock-driven order was left waiting (see :meth:`_follow_clocks`)
        self._order_waits_since: int | None = None
        self._wake_ups = WakeUps(self._state.columns, self._state.clocks)
        self._catch_up = QTimer(self)
        self._catch_up.setSingleShot(True)
        self._catch_up.timeout.connect(self._catch_up_slice)
        self._background = QTimer(self)
        self._background.setSingleShot(True)
        self._background.timeout.connect(self._evaluate_slice)
        self._memo_timer = QTimer(self)
        self._memo_timer.setSingleShot(True)
        self._memo_timer.timeout.connect(self.save_memo)
        self.reload()

    # -- time and state -------------------------------------------------------------

    @property
    def state(self) -> QueueState:
        """The tickets and their evaluated clocks (the workload reads them too)."""
        return self._state

    def now(self) -> dt.datetime:
        """The server's time as we best know it: our clock plus the measured offset."""
        return self._state.now()

    @property
    def evaluated_at(self) -> dt.datetime:
        return self._state.clocks.now

    @property
    def rules(self) -> SlaRules:
        return self._state.rules

    @property
    def recalled(self) -> int:
        """Tickets whose clocks the last (re)load took from the memo of an earlier run."""
        return self._state.recalled

    @property
    def fully_evaluated(self) -> bool:
        """Whether every ticket's clocks are known (else the background is at it)."""
        return self._state.clocks.fully_evaluated

    # -- loading ----------------------------------------------------------------------

    def reload(self) -> None:
        """Read every ticket from the cache again (after an initial sync, say)."""
        self._background.stop()
        self._catch_up.stop()
        self._memo_timer.stop()
        self.beginResetModel()
        try:
            self._cells.forget()  # slots are numbered again
            self._wake_ups.forget()
            self._state.reload()
            self._rows = self._select()
        finally:
            self.endResetModel()
        if not self.fully_evaluated:  # after the queue on screen is painted
            self._background.start(_BACKGROUND_DELAY_MS)
        self.countsChanged.emit()
        self.clocksMoved.emit(None)

    def _every_clock_known(self) -> None:
        """The last clock not known yet was evaluated (by whoever asked): the next start
        need not evaluate them all again, and the views that depend on every clock
        can be counted (the background's next slice says so)."""
        self._memo_timer.start(0)  # once the work under way is done
        if self._background.isActive():
            self._background.start(0)

    def _evaluate_slice(self) -> None:
        clocks = self._state.clocks
        batch = clocks.unevaluated_slots(SLICE)
        if batch:
            clocks.evaluate(batch)
        if not clocks.fully_evaluated:
            self._background.start(0)
            return
        self.countsChanged.emit()
        self.clocksMoved.emit(None)

    def save_memo(self) -> bool:
        """Write the facts of every evaluated ticket for the next start (see
        :meth:`QueueState.save_memo`)."""
        return self._state.save_memo()

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

    def counts(self) -> dict[QueueView, int]:
        """How many tickets each view holds now (search aside); every clock evaluated."""
        if not self.fully_evaluated:
            self._state.clocks.ensure_all()
            self._background.stop()
        found = self.known_counts()
        return {view: count or 0 for view, count in found.items()}

    def known_counts(self) -> dict[QueueView, int | None]:
        """How many tickets each view holds, None for the clock views while not known yet."""
        return self._state.ordering.known_counts()

    def _select(self) -> list[int]:
        return self._state.ordering.select(
            self._view, self._search, self._sort_column, descending=self._descending
        )

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
        self._state.clocks.forget_whole_clocks()
        self._cells.forget_texts()
        self.endResetModel()

    def _come_and_go(self, slots: list[int]) -> None:
        """Tickets whose clock states moved enter the view or leave it (At risk,
        Breached), each at its place in the order: rows inserted or removed, the
        others (and the selection) left as they are, the queue not scanned."""
        ordering = self._state.ordering
        wanted = set(ordering.view_slots(self._view, slots))
        search, ids = self._search, self._state.columns.ids
        ordering.sync_keys()
        keys = ordering.sort_keys(self._sort_column)
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
        due = self._state.clocks.due
        bottom = self._rows[last]
        limit = due[bottom]
        return all(
            slot != bottom and before > limit and due[slot] > limit for slot, before in moved
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
            self._state.ordering.sort_slots(rows, self._sort_column, descending=self._descending)
            if rows == self._rows:
                self._order_waits_since = None
                return
            first, last = self._visible
            unseen = first <= last and rows[first : last + 1] == self._rows[first : last + 1]
            waiting = waiting and unseen
        if not waiting:
            self._relayout(rows)
        elif self._order_waits_since is None:
            self._order_waits_since = self._state.clocks.now_us

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

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not -1 <= column < _COLUMN_COUNT:
            return
        self._sort_column = column
        self._descending = order == Qt.SortOrder.DescendingOrder
        rows = list(self._rows)
        self._state.ordering.sort_slots(rows, column, descending=self._descending)
        if rows != self._rows:
            self._relayout(rows)

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

    def _shown_slots(self) -> list[int]:
        first, last = self._visible
        return self._rows[first : last + 1]

    def tick(self, now: dt.datetime | None = None) -> None:
        """Move the queue to ``now`` (server time; default: :meth:`now`): the cells on
        screen follow their clocks to the second, the counts with them; the other
        clocks, and the rows, at the off-screen step (see :mod:`.wakeups`)."""
        clocks, wake_ups = self._state.clocks, self._wake_ups
        clocks.move_to(now if now is not None else self.now(), same_histories=True)
        self._cells.forget_texts()
        woken, step = wake_ups.due(self._shown_slots())
        if wake_ups.backlog:
            self._catch_up.start(0)
        self._wake_up(woken)
        if step and not wake_ups.backlog:
            self._move_rows()
        waits = self._order_waits_since
        if waits is not None and clocks.now_us - waits >= _ORDER_WAIT_US:
            self._follow_clocks()
        self._visible = (self._visible[0], min(self._visible[1], len(self._rows) - 1))
        first = self._visible[0]
        for column, top, bottom in self._cells.changed_runs(self._shown_slots(), set(woken)):
            self.dataChanged.emit(
                self.index(first + top, column), self.index(first + bottom, column), SLA_ROLES
            )

    def _wake_up(self, woken: list[int]) -> None:
        """Bring these tickets' clocks to their new state (counts and notifications
        at once; their rows move at the next step, see :meth:`_move_rows`)."""
        moved = self._wake_ups.wake(woken)
        if moved:
            self.countsChanged.emit()
            self.clocksMoved.emit(moved)

    def _move_rows(self) -> None:
        """The rows whose clocks moved since the last step take their places."""
        held_states, held_keys = self._wake_ups.take_held()
        if self._view in CLOCK_VIEWS and held_states:
            self._come_and_go(sorted(held_states))
        if held_keys and self._sort_column in (-1, *SLA_COLUMNS):
            self._follow_clocks(list(held_keys.items()))

    @property
    def catching_up(self) -> bool:
        """Whether clocks that changed state at once are still being taken in slices."""
        return bool(self._wake_ups.backlog)

    def _catch_up_slice(self) -> None:
        self._wake_up(self._wake_ups.next_slice())
        if self._wake_ups.backlog:
            self._catch_up.start(0)
        else:
            self._move_rows()

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
        clocks = self._state.clocks
        step = int(granularity / dt.timedelta(microseconds=1))
        soonest = clocks.now_us + step * 49 // 50
        candidates = [] if also is None else [also]
        if self._order_waits_since is not None:
            candidates.append(self._order_waits_since + _ORDER_WAIT_US)
        candidates.extend(self._wake_ups.next_instants())
        candidates.extend(self._cells.next_changes(self._shown_slots()))
        if not candidates:
            return None
        later = max(min(candidates), soonest) - clocks.now_us
        return clocks.now + dt.timedelta(microseconds=later)

    # -- refreshing after a sync or a local change -------------------------------------

    def refresh_tickets(self, ticket_ids: Iterable[int]) -> None:
        """Read these tickets again (changed, added or gone); the others stay as they are."""
        self._cells.forget_texts()  # histories change
        earlier = self._state.refresh_tickets(ticket_ids)
        if earlier is None:
            self.reload()  # tickets came or went: slots move
            return
        self._apply_refresh(earlier)

    def _apply_refresh(self, earlier: Earlier) -> None:
        """Show the tickets re-read (their slots, with the states their clocks had)."""
        rows = self._select()
        if rows != self._rows:
            self._replace_rows(rows)
        if rows:  # the cells of the tickets re-read that stayed where they were
            changed = set(earlier)
            for position, slot in enumerate(rows):
                if slot in changed:
                    self.dataChanged.emit(
                        self.index(position, 0), self.index(position, _COLUMN_COUNT - 1)
                    )
        self.countsChanged.emit()
        if earlier:
            ids = self._state.columns.ids
            self.clocksMoved.emit({ids[slot]: states for slot, states in earlier.items()})

    def refresh_changed(self) -> int:
        """Re-read the tickets that changed in the cache since the queue last read it.

        Changes show as new history or comment rows (a pull, a rebase, an
        optimistic command) and as a ticket's pending work starting or ending.
        Returns how many tickets were re-read; a cache whose tickets came or went
        is reloaded whole.
        """
        changed = self._state.changed_tickets()
        if changed is None:
            self.reload()
            return len(self._state.columns)
        self.refresh_tickets(changed)  # and every ticket's provisional mark
        return len(changed)

    # -- access -------------------------------------------------------------------------

    def ticket_id_at(self, position: int) -> int:
        """The id of the ticket shown at row ``position``."""
        return self._state.columns.ids[self._rows[position]]

    def row_at(self, position: int) -> QueueRow:
        return self._state.row(self._rows[position])

    def watch(self, user_id: int, ticket_ids: Iterable[int] | None = None) -> dict[int, Watched]:
        """The clock states of the open tickets assigned to ``user_id`` (see
        :meth:`QueueState.watch`)."""
        return self._state.watch(user_id, ticket_ids)

    def ticket_ids(self) -> list[int]:
        ids = self._state.columns.ids
        return [ids[slot] for slot in self._rows]

    def position_of(self, ticket_id: int) -> int | None:
        slot = self._state.columns.slot_of.get(ticket_id)
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
        return header(section, role)

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
            return self._state.columns.ids[slot]
        return self._cells.data(slot, column, role)
