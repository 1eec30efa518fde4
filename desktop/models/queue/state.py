"""The queue's tickets, their evaluated clocks and their orders, read from the cache and
kept current: everything the queue table shows, and the team lead's workload counts.

:class:`QueueState` reads every cached ticket in columns (:mod:`sync.queries`),
evaluates their clocks (:mod:`.clocks`: the tickets of a small cache at once,
those of a large one when needed, the rest taken from the memo of an earlier
run, see :mod:`desktop.models.sla_memo`), and re-reads only the tickets that
changed after a sync or a command.  It keeps a short log of what it re-read, so
that whoever reads it (the workload) follows the same changes without reading
the cache again.

No Qt here: :class:`desktop.models.queue.model.QueueModel` shows it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, NamedTuple

from desktop.models import sla_memo
from desktop.models.queue.clocks import QueueClocks
from desktop.models.queue.columns import QueueColumns, QueueTicket
from desktop.models.queue.ordering import QueueOrdering, clock_of
from desktop.models.sla_cells import SlaRules
from sla.clock import ClockState, ClockStatus, TicketSla
from sync.cache import Cache, utc_now
from sync.collector import collector_paused

__all__ = ["EAGER_LIMIT", "QueueRow", "QueueState", "Watched"]

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]

#: Up to this many tickets, every clock is evaluated at once; beyond, lazily.
EAGER_LIMIT: Final = 5_000
#: Refreshes remembered for :meth:`QueueState.changes_since` (an older reader reads all).
_LOG_LENGTH: Final = 64

#: Each ticket re-read, by slot: the states its clocks had before.
Earlier = dict[int, tuple[ClockStatus | None, ClockStatus | None]]


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
        return clock_of(self.sla, column)


class Watched(NamedTuple):
    """What :meth:`QueueState.watch` tells of a ticket."""

    tracking_number: str
    subject: str
    states: tuple[ClockStatus | None, ClockStatus | None]  # first response, resolution


class QueueState:
    """Every cached ticket in columns, with its clocks (as of :attr:`QueueClocks.now`).

    Made empty: :meth:`reload` reads the cache.
    """

    def __init__(
        self,
        cache: Cache,
        *,
        me: int | None = None,
        clock: Clock = utc_now,
        eager_limit: int = EAGER_LIMIT,
    ) -> None:
        self.cache = cache
        self._clock = clock
        self.eager_limit = eager_limit
        #: server clock minus ours, as the cache last measured it
        self.offset = dt.timedelta(0)
        self.columns = QueueColumns()
        self.clocks = QueueClocks(cache, self.columns, self.now())
        self.ordering = QueueOrdering(self.columns, self.clocks, me)
        #: tickets whose clocks the last (re)load took from the memo of an earlier run
        self.recalled = 0
        # what the state has read of the cache (see changed_tickets)
        self._history_mark = 0
        self._comment_mark = 0
        #: bumped by each reload: the slots are numbered again
        self.generation = 0
        self._edition = 0
        self._log: deque[tuple[int, frozenset[int]]] = deque(maxlen=_LOG_LENGTH)
        #: called after each reload, and each refresh that re-read tickets
        self._listeners: tuple[Callable[[], None], ...] = ()

    def now(self) -> dt.datetime:
        """The server's time as we best know it: our clock plus the measured offset."""
        return self._clock() + self.offset

    @property
    def me(self) -> int | None:
        return self.ordering.me

    @property
    def rules(self) -> SlaRules:
        return self.clocks.rules

    # -- reading ----------------------------------------------------------------------

    def reload(self) -> None:
        """Read every ticket from the cache again (after an initial sync, say)."""
        self.offset = self.cache.clock_offset()
        clocks = self.clocks
        with collector_paused():  # every ticket's columns: many objects, no cycle
            # the calendar is indexed before the read, not beside it on a thread: both
            # build Python objects under the interpreter's lock, a thread would save nothing
            rules = SlaRules.from_cache(self.cache)
            rules.calendar.index()
            clocks.rules = rules
            path = self._memo_file()
            header = None if path is None else sla_memo.read_header(path)
            changed: set[int] | None = None
            with self.cache.snapshot() as snapshot:
                tickets = snapshot.ticket_columns()
                pending = snapshot.pending_ticket_ids()
                directory = snapshot.directory(self.me)
                self._history_mark = snapshot.history_mark()
                self._comment_mark = snapshot.comment_mark()
                if header is not None and len(tickets) > self.eager_limit:
                    changed = snapshot.tickets_with_sla_history_after(header.history_mark)
            self.columns.load(tickets, pending, directory)
            clocks.reset()
            clocks.move_to(self.now(), same_histories=False)
            self.ordering.reset()
            self.recalled = 0
            if changed is not None:  # facts computed earlier that may still hold
                self._recall(changed)
            if len(tickets) <= self.eager_limit:
                clocks.evaluate(range(len(tickets)))
        self.generation += 1
        self._log.clear()
        self._tell()

    def changed_tickets(self) -> set[int] | None:
        """The tickets that changed in the cache since the state last read it (new history
        or comments: a pull, a rebase, an optimistic command); None when tickets came or
        went (read everything again).  The marks move on: ask once, then re-read them."""
        with self.cache.snapshot() as snapshot:
            changed = snapshot.tickets_with_history_after(self._history_mark)
            changed |= snapshot.tickets_with_comments_after(self._comment_mark)
            count = snapshot.ticket_count()
            history_mark, comment_mark = snapshot.history_mark(), snapshot.comment_mark()
        slot_of = self.columns.slot_of
        if count != len(self.columns) or any(i not in slot_of for i in changed):
            return None
        self._history_mark = max(self._history_mark, history_mark)
        self._comment_mark = max(self._comment_mark, comment_mark)
        return changed

    def refresh_tickets(self, ticket_ids: Iterable[int]) -> Earlier | None:
        """Read these tickets again (changed, added or gone), and every ticket's pending
        work; the others stay as they are.  The slots re-read, with the states their
        clocks had before; None when tickets came or went (read everything again)."""
        wanted = sorted(set(ticket_ids))  # none: the provisional marks only
        columns, clocks, ordering = self.columns, self.clocks, self.ordering
        clocks.move_to(self.now(), same_histories=False)  # histories change
        teams = columns.my_teams
        with self.cache.snapshot() as snapshot:
            columns.set_directory(snapshot.directory(self.me))
            found = snapshot.ticket_columns(wanted)
            pending = snapshot.pending_ticket_ids()
        if columns.my_teams != teams:  # my teams' views hold other tickets
            ordering.forget_field_counts()
        slot_of = columns.slot_of
        if any(ticket_id not in slot_of for ticket_id in found.ids) or len(found) != sum(
            ticket_id in slot_of for ticket_id in wanted
        ):
            return None  # tickets came or went: slots move
        slots: list[int] = []
        for row, ticket_id in enumerate(found.ids):
            slot = slot_of[ticket_id]
            slots.append(slot)
            ordering.count_fields(slot, -1)  # the counts move with the fields, not recounted
            columns.set_fields(slot, found, row)
            columns.pending[slot] = ticket_id in pending
            clocks.forget_history(slot)
            ordering.count_fields(slot, +1)
        # the provisional marks of the others: those pending before or now
        for slot in {slot_of[i] for i in columns.pending_ids | pending if i in slot_of}:
            flag = columns.ids[slot] in pending
            if columns.pending[slot] != flag:
                columns.pending[slot] = flag
                slots.append(slot)
        columns.pending_ids = pending
        earlier = {slot: clocks.states(slot) for slot in slots}
        if slots:
            ordering.forget_keys(slots)
            clocks.evaluate(slots)
            self._edition += 1
            self._log.append((self._edition, frozenset(columns.ids[slot] for slot in earlier)))
            self._tell()
        return earlier

    def refresh_changed(self) -> int:
        """Re-read what changed in the cache since the state last read it (reloading it
        all when tickets came or went); how many tickets were re-read."""
        changed = self.changed_tickets()
        if changed is None or self.refresh_tickets(changed) is None:
            self.reload()
            return len(self.columns)
        return len(changed)

    # -- one ticket ---------------------------------------------------------------------

    def row(self, slot: int) -> QueueRow:
        """One ticket, whole: its fields, names and clocks as of now."""
        columns, clocks = self.columns, self.clocks
        sla, problem = clocks.clocks(slot)
        return QueueRow(
            ticket=columns.ticket(slot),
            organisation=columns.organisation_name(slot),
            plan=columns.plan(slot),
            assignee=columns.assignee_name(columns.assignee[slot]),
            sla=sla,
            problem=problem,
            states=clocks.states(slot),
        )

    def watch(self, user_id: int, ticket_ids: Iterable[int] | None = None) -> dict[int, Watched]:
        """The clock states of the open tickets assigned to ``user_id``, by ticket id:
        all of them (``ticket_ids`` None, their clocks evaluated first if need be),
        or those among ``ticket_ids`` whose clocks are known.  From the columns: no
        history read, no clock object built."""
        columns, clocks = self.columns, self.clocks
        assignee, done, evaluated = columns.assignee, columns.done, clocks.evaluated
        if ticket_ids is None:
            slots = [
                slot for slot, owner in enumerate(assignee) if owner == user_id and not done[slot]
            ]
            clocks.ensure(slots)
        else:
            slot_of = columns.slot_of
            slots = [
                slot
                for slot in (slot_of.get(ticket_id) for ticket_id in ticket_ids)
                if slot is not None
                and assignee[slot] == user_id
                and not done[slot]
                and evaluated[slot]
            ]
        ids, tracking, subject = columns.ids, columns.tracking, columns.subject
        return {
            ids[slot]: Watched(tracking[slot], subject[slot], clocks.states(slot)) for slot in slots
        }

    # -- what changed, for the readers of the state ----------------------------------

    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` after each reload, and after each refresh that re-read
        tickets (whoever asked for it); returns the unsubscriber.  A reader of the
        state follows what the queue read this way, in whatever order the console's
        panels hear of a change."""
        self._listeners = (*self._listeners, callback)

        def unsubscribe() -> None:
            self._listeners = tuple(other for other in self._listeners if other != callback)

        return unsubscribe

    def _tell(self) -> None:
        for callback in self._listeners:
            callback()

    @property
    def edition(self) -> int:
        """Moves with each refresh that re-read tickets (see :meth:`changes_since`)."""
        return self._edition

    def changes_since(self, edition: int) -> set[int] | None:
        """The ids of the tickets re-read since :attr:`edition` was ``edition`` (in this
        :attr:`generation`); None when the log does not reach back so far."""
        if edition == self._edition:
            return set()
        log = self._log
        if not log or log[0][0] > edition + 1:
            return None
        found: set[int] = set()
        for at, ids in log:
            if at > edition:
                found |= ids
        return found

    # -- the memo of facts (see desktop.models.sla_memo) --------------------------------

    def _memo_file(self) -> Path | None:
        path = getattr(self.cache, "path", None)
        return sla_memo.memo_path(Path(path)) if path is not None else None

    def _digest(self) -> str:
        plans = ((key, plan) for key, (_name, plan) in self.columns.organisations.items())
        return sla_memo.rules_digest(self.rules.source, plans)

    def _recall(self, changed: set[int]) -> None:
        """Take the facts the memo still vouches for (see :mod:`desktop.models.sla_memo`):
        tickets without pending work, at the same version, without new SLA history."""
        path = self._memo_file()
        memo = None if path is None else sla_memo.load(path, self._digest())
        if memo is None or self.clocks.now_us < memo.header.computed_at_us:
            return
        columns = self.columns
        # the slots whose memo entry cannot hold, whatever it says
        excluded = {slot for slot in range(len(columns)) if columns.pending[slot]}
        slot_of = columns.slot_of
        excluded.update(slot_of[i] for i in changed if i in slot_of)
        self.recalled = self.clocks.recall(memo, excluded)

    def save_memo(self) -> bool:
        """Write the facts of every evaluated ticket for the next start (a large queue
        only); False when not written (nothing worth it, or the cache moved since the
        queue last read it: the facts would not match what it holds)."""
        path = self._memo_file()
        if path is None or len(self.columns) <= self.eager_limit:
            return False
        columns = self.columns
        shown = {ticket_id for slot, ticket_id in enumerate(columns.ids) if columns.pending[slot]}
        try:
            with self.cache.snapshot() as snapshot:
                if snapshot.history_mark() != self._history_mark:
                    return False
                if snapshot.pending_ticket_ids() != shown:
                    return False
        except Exception as error:  # a memo not written costs a slower start, no more
            log.warning("the queue's SLA memo was not written: %s", error)
            return False
        header = sla_memo.Header(self._digest(), 0, self.clocks.now_us, self._history_mark)
        sla_memo.save(path, header, self.clocks.memo_entries())
        return True
