"""What each cell of the queue shows, and which SLA cells on screen change as time passes.

A ticking countdown repaints only what changed on screen: :class:`QueueCells`
notes what each SLA cell showed when it was last painted (its text, its clock's
state, and until when that holds), so a tick finds the cells that now show
something else (:meth:`QueueCells.changed_runs`) and when the next one will
(:meth:`QueueCells.next_changes`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Final, NamedTuple

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont

import i18n
from desktop.models.queue.columns import parse_instant
from desktop.models.queue.facts import NO_STATE, STATES
from desktop.models.queue.ordering import SLA_COLUMNS, Column, clock_of
from desktop.models.queue.state import QueueState
from desktop.models.sla_cells import (
    clock_style,
    clock_text,
    clock_tooltip,
    shown_until_us,
    wording,
)
from i18n import N_, gettext
from sla.events import Status
from sla.policy import Priority, Severity, plan_label

__all__ = [
    "CELL_ROLE",
    "CLOCK_STATE_ROLE",
    "PLAN_ROLE",
    "SLA_ROLES",
    "TICKET_ID_ROLE",
    "Cell",
    "QueueCells",
    "header",
]

#: Custom roles: the plan code of the organisation column, the row's ticket id.
PLAN_ROLE: Final = int(Qt.ItemDataRole.UserRole) + 1
TICKET_ID_ROLE: Final = int(Qt.ItemDataRole.UserRole) + 2
CLOCK_STATE_ROLE: Final = int(Qt.ItemDataRole.UserRole) + 3
#: A cell's look in one call, :class:`Cell` (what the queue's delegate paints).
CELL_ROLE: Final = int(Qt.ItemDataRole.UserRole) + 4

#: The roles an SLA cell's look depends on (a tick that changes it says these).
SLA_ROLES: Final = [
    CELL_ROLE,
    Qt.ItemDataRole.DisplayRole,
    Qt.ItemDataRole.ToolTipRole,
    Qt.ItemDataRole.ForegroundRole,
    Qt.ItemDataRole.BackgroundRole,
    Qt.ItemDataRole.FontRole,
]
_LEFT: Final = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)

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


def header(section: int, role: int) -> str | None:
    """A column header's text (``DisplayRole``) or tooltip."""
    if role == Qt.ItemDataRole.DisplayRole:
        return gettext(_HEADERS[Column(section)])
    if role == Qt.ItemDataRole.ToolTipRole and section in SLA_COLUMNS:
        return gettext("Business time left before the target; sorted most urgent first")
    return None


class Cell(NamedTuple):
    """How a cell looks: its text, colours (None: the view's) and font."""

    text: str
    foreground: QBrush | None
    background: QBrush | None
    font: QFont | None


def _label(code: str, kind: type[Status] | type[Priority] | type[Severity]) -> str:
    """A code's label in the user's language (the code itself when this console does
    not know it)."""
    try:
        value = kind(code)
    except ValueError:
        return code
    return value.display if isinstance(value, Priority) else value.label


_BRUSHES: dict[str, QBrush] = {}


def _brush(colour: str | None) -> QBrush | None:
    """One brush a colour, made once (cells ask for them on every repaint)."""
    if colour is None:
        return None
    found = _BRUSHES.get(colour)
    if found is None:
        found = _BRUSHES[colour] = QBrush(QColor(colour))
    return found


class QueueCells:
    """The look of each cell of a :class:`QueueState`'s tickets, by slot and column."""

    def __init__(self, state: QueueState) -> None:
        self._state = state
        self._bold = QFont()
        self._bold.setBold(True)
        self._italic = QFont()
        self._italic.setItalic(True)
        self._bold_italic = QFont(self._bold)
        self._bold_italic.setItalic(True)
        self.forget()

    def forget(self) -> None:
        """The slots are numbered again: nothing is known of what they show."""
        #: what each SLA cell showed when last painted (its text and clock state) and
        #: until when it holds (µs, None: until an event or a change of state), by
        #: slot * 2 + (0 response, 1 resolution): a tick repaints the cells that change
        self.painted: dict[int, tuple[str, int, int | None]] = {}
        self.forget_texts()

    def forget_texts(self) -> None:
        """The instant moved (or the clocks did): SLA cells are worded again."""
        #: what SLA cells say as of now and until when, by slot * 2 + side: a tick that
        #: finds a cell changed has worked it out, its paint takes that (see shown)
        self._texts: dict[int, tuple[str, int | None]] = {}
        self._texts_wording = wording()  # the language they are in, and so on

    @property
    def _zone(self) -> dt.tzinfo:
        return self._state.rules.calendar.zone

    # -- the cells ------------------------------------------------------------------

    def data(self, slot: int, column: int, role: int) -> Any:
        """What ``role`` of the cell of ``slot`` in ``column`` holds."""
        if column in SLA_COLUMNS:
            return self._sla_data(slot, column, role)
        if role == Qt.ItemDataRole.DisplayRole:
            return self.text(slot, column)
        if role == CELL_ROLE:
            return Cell(
                self.text(slot, column),
                self._foreground(slot, column),
                None,
                self._font(slot, column),
            )
        columns = self._state.columns
        if role == PLAN_ROLE and column == Column.ORGANISATION:
            return columns.plan(slot)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(slot, column)
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._foreground(slot, column)
        if role == Qt.ItemDataRole.FontRole:
            return self._font(slot, column)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _LEFT
        return None

    def text(self, slot: int, column: int) -> str:
        """A field cell's text."""
        columns = self._state.columns
        if column == Column.TRACKING:
            return columns.tracking[slot]
        if column == Column.SUBJECT:
            return columns.subject[slot]
        if column == Column.ORGANISATION:
            return columns.organisation_name(slot)
        if column == Column.PRIORITY:
            return _label(columns.priority[slot], Priority)
        if column == Column.SEVERITY:
            return _label(columns.severity[slot], Severity)
        if column == Column.STATUS:
            return _label(columns.status[slot], Status)
        if column == Column.ASSIGNEE:
            name = columns.assignee_name(columns.assignee[slot])
            return name if name is not None else gettext("Unassigned")
        if column == Column.UPDATED:
            return self._updated_text(parse_instant(columns.updated[slot]))
        return ""

    def _tooltip(self, slot: int, column: int) -> str | None:
        columns = self._state.columns
        if column == Column.SUBJECT:
            return columns.subject[slot]
        if column == Column.ORGANISATION:
            plan = columns.plan(slot)
            if not plan:
                return None
            return gettext("{organisation} — {plan} plan").format(
                organisation=columns.organisation_name(slot), plan=plan_label(plan)
            )
        if column == Column.UPDATED:
            updated = parse_instant(columns.updated[slot])
            return i18n.format_datetime(updated.astimezone(self._zone), "full")
        return None

    def _foreground(self, slot: int, column: int) -> QBrush | None:
        """A field cell's text colour: a critical priority, a blocking severity and
        "Unassigned" stand out; None for the view's."""
        columns = self._state.columns
        if column == Column.PRIORITY and columns.priority[slot] == Priority.P1.value:
            return _brush("#a4262c")
        if column == Column.SEVERITY and columns.severity[slot] == Severity.BLOCKING.value:
            return _brush("#a4262c")
        if column == Column.ASSIGNEE and columns.assignee[slot] is None:
            return _brush("#6b6f76")
        return None

    def _font(self, slot: int, column: int) -> QFont | None:
        columns = self._state.columns
        if column == Column.ASSIGNEE and columns.assignee[slot] is None:
            return self._italic
        if column == Column.PRIORITY and columns.priority[slot] == Priority.P1.value:
            return self._bold
        return None

    def _updated_text(self, when: dt.datetime) -> str:
        zone = self._zone
        local = when.astimezone(zone)
        today = self._state.clocks.now.astimezone(zone).date()
        if local.date() == today:
            return i18n.format_clock(local)
        if today - local.date() < dt.timedelta(days=6):
            return i18n.format_weekday_time(local)
        if local.year == today.year:
            return i18n.format_day(local)
        return i18n.format_day(local, year=True)

    # -- SLA cells ----------------------------------------------------------------------

    def state_code(self, slot: int, column: int) -> int:
        """The code of one SLA cell's clock state, as last evaluated."""
        clocks = self._state.clocks
        states = clocks.response_state if column == Column.RESPONSE_SLA else clocks.resolution_state
        return states[slot]

    def _sla_data(self, slot: int, column: int, role: int) -> Any:
        clocks = self._state.clocks
        if role == CLOCK_STATE_ROLE:
            if not clocks.evaluated[slot]:
                clocks.clocks(slot)
            code = self.state_code(slot, column)
            return None if code == NO_STATE else STATES[code].value
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _LEFT
        if role not in SLA_ROLES:
            return None
        sla, problem = clocks.clocks(slot)
        clock = clock_of(sla, column)
        provisional = bool(self._state.columns.pending[slot])
        if role == Qt.ItemDataRole.DisplayRole:
            return self.shown(slot, column)[0]
        if role == Qt.ItemDataRole.ToolTipRole:
            return clock_tooltip(
                clock, clocks.now, self._zone, provisional=provisional, problem=problem
            )
        style = clock_style(clock)
        if role == CELL_ROLE:  # the delegate paints the cell: what it shows is noted
            text, until = self.shown(slot, column)
            self.painted[slot << 1 | (column - Column.RESPONSE_SLA)] = (
                text,
                self.state_code(slot, column),
                until,
            )
            return Cell(
                text,
                _brush(style.foreground),
                _brush(style.background),
                self._sla_font(style.bold, provisional),
            )
        if role == Qt.ItemDataRole.ForegroundRole:
            return _brush(style.foreground)
        if role == Qt.ItemDataRole.BackgroundRole:
            return _brush(style.background)
        return self._sla_font(style.bold, provisional)  # FontRole

    def shown(self, slot: int, column: int) -> tuple[str, int | None]:
        """What one SLA cell shows as of now (:func:`clock_text`) and until when
        (:func:`shown_until_us`), worked out once an instant (a tick that finds a
        cell changed, then its paint)."""
        now_wording = wording()
        if now_wording != self._texts_wording:
            self._texts, self._texts_wording = {}, now_wording
        key = slot << 1 | (column - Column.RESPONSE_SLA)
        found = self._texts.get(key)
        if found is None:
            clocks = self._state.clocks
            clock = clock_of(clocks.clocks(slot)[0], column)
            pending = bool(self._state.columns.pending[slot])
            text = clock_text(clock, clocks.now, provisional=pending)
            found = self._texts[key] = (text, shown_until_us(clock, clocks.now_us))
        return found

    def _sla_font(self, bold: bool, provisional: bool) -> QFont | None:
        if bold:
            return self._bold_italic if provisional else self._bold
        return self._italic if provisional else None

    # -- what a tick changes on screen ------------------------------------------------

    def changed_runs(self, shown: Sequence[int], woken: set[int]) -> list[tuple[int, int, int]]:
        """The runs of SLA cells of the slots ``shown`` (the rows on screen) that now show
        something else than when they were painted: (column, first and last index).

        A ticket whose clocks are both stopped or paused ("Met", "Pending
        customer") shows the same until an event changes it, which refreshes its
        row; only a clock that runs has a wake-up instant.  A running clock's cell
        changes each second while it shows seconds, else each minute ("Overdue
        2 h 05 min"), or when its state does (``woken``: the slots re-evaluated
        now): only then is what it shows computed again, and maybe painted.
        """
        clocks = self._state.clocks
        wake, evaluated, painted, now_us = (
            clocks.wake,
            clocks.evaluated,
            self.painted,
            clocks.now_us,
        )
        runs: list[tuple[int, int, int]] = []
        for column in SLA_COLUMNS:
            side = column - Column.RESPONSE_SLA
            start = -1
            for position, slot in enumerate(shown):
                seen = painted.get(slot << 1 | side)
                if slot in woken or not evaluated[slot]:
                    check = True
                elif seen is None:
                    check = wake[slot] >= 0
                else:
                    check = seen[2] is not None and seen[2] <= now_us
                changed = False
                if check:
                    text, until = self.shown(slot, column)
                    state = self.state_code(slot, column)
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
                runs.append((column, start, len(shown) - 1))
        return runs

    def next_changes(self, shown: Sequence[int]) -> list[int]:
        """The instants (µs) when the SLA cells of the slots ``shown`` next change: a
        change of state, to the second; a countdown, when what it shows does."""
        clocks = self._state.clocks
        wake, evaluated, painted = clocks.wake, clocks.evaluated, self.painted
        found: list[int] = []
        for slot in shown:
            if wake[slot] >= 0:
                found.append(wake[slot])  # a change of state on screen: to the second
            elif evaluated[slot]:
                continue  # no clock runs: nothing changes until an event (see changed_runs)
            for column in SLA_COLUMNS:
                seen = painted.get(slot << 1 | (column - Column.RESPONSE_SLA))
                # painted: until when it holds was noted
                until = self.shown(slot, column)[1] if seen is None else seen[2]
                if until is not None:
                    found.append(until)
        return found
