"""The workspace's header: the ticket's number, subject and requester, its two live SLA
clocks and their timeline."""

from __future__ import annotations

import datetime as dt
import html
from typing import Final

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

import i18n
from desktop.models.sla_cells import (
    clock_outline,
    clock_style,
    clock_text,
    clock_text_samples,
    clock_tooltip,
)
from desktop.models.ticket_detail import TicketDetail, due_phrase, short_instant, timeline_label
from desktop.views.widgets import CountdownText, scaled, tinted
from i18n import _
from sla.calendar import CalendarError
from sla.clock import ClockKind, ClockState, ClockStatus, TicketSla, TimelineKind

__all__ = ["ClockPanel", "TicketHeader", "clock_of"]

_NEUTRAL_BACKGROUND: Final = "#f3f5f8"
_TIMELINE_COLOURS: Final = {
    TimelineKind.STARTED: "#3b5b8c",
    TimelineKind.PAUSED: "#5c5f66",
    TimelineKind.RESUMED: "#3b5b8c",
    TimelineKind.BREACHED: "#a4262c",
}


def clock_of(sla: TicketSla, kind: ClockKind) -> ClockState:
    return sla.response if kind is ClockKind.RESPONSE else sla.resolution


class ClockPanel(QFrame):
    """One SLA clock: its name and state, business time left, and when it is due."""

    def __init__(self, kind: ClockKind, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        self.setObjectName(f"clock-{kind.value}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel()
        self.title.setWordWrap(True)  # "Resolution · Outside business hours", when narrow
        self.value = CountdownText()
        self.value.setObjectName("clock-value")
        scaled(self.value, 1.35, bold=True)
        self.detail = QLabel()
        self.detail.setObjectName("clock-detail")
        self.detail.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.setSpacing(1)
        layout.addWidget(self.title)
        layout.addWidget(self.value)
        layout.addWidget(self.detail)
        self.state: ClockStatus | None = None
        self._colours: tuple[str, str] | None = None  # the tint in force
        #: what is on show: the clock, now, zone, provisional, problem
        self._shown: tuple[ClockState | None, dt.datetime, dt.tzinfo, bool, str | None] | None = (
            None
        )
        self._outline: tuple[object, ...] | None = None  # what the wording was made from
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def show_clock(
        self,
        clock: ClockState | None,
        now: dt.datetime,
        zone: dt.tzinfo,
        *,
        provisional: bool,
        problem: str | None = None,
    ) -> None:
        self.state = None if clock is None else clock.state
        self.value.setText(clock_text(clock, now, provisional=provisional))
        # the tooltip (to the second) is worded when asked for; the rest when it changes
        self._shown = (clock, now, zone, provisional, problem)
        outline = (clock_outline(clock, now), zone, provisional, problem, i18n.current_language())
        if outline == self._outline:
            return
        self._outline = outline
        # the value says "Met", "Missed", "Overdue…", "Pending customer" by itself
        said = (ClockStatus.MET, ClockStatus.MISSED, ClockStatus.BREACHED, ClockStatus.PAUSED)
        if clock is None or clock.state in said:
            self.title.setText(self.kind.label)
        else:
            self.title.setText(f"{self.kind.label} · {clock.state.label}")
        self.detail.setText(self._detail(clock, now, zone))
        self.setToolTip(self._tooltip())
        self.setAccessibleName(_("{clock} SLA").format(clock=self.kind.label))
        self.setAccessibleDescription(
            ", ".join(text for text in (self.title.text(), self.detail.text()) if text)
        )
        style = clock_style(clock)
        colours = (style.background or _NEUTRAL_BACKGROUND, style.foreground or "#1f2328")
        if colours != self._colours:  # a new palette repaints the whole panel: not each second
            self._colours = colours
            tinted(self, *colours)

    def _tooltip(self) -> str:
        if self._shown is None:
            return ""
        clock, now, zone, provisional, problem = self._shown
        return clock_tooltip(clock, now, zone, provisional=provisional, problem=problem)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            self.setToolTip(self._tooltip())  # business time left, as of the last tick
        return super().event(event)

    @staticmethod
    def _detail(clock: ClockState | None, now: dt.datetime, zone: dt.tzinfo) -> str:
        if clock is None:
            return ""
        if clock.stopped:
            stopped = clock.stopped_at or now
            return _("Stopped: {when}").format(when=short_instant(stopped, now, zone))
        if clock.paused:
            return _("{duration} of business time left").format(
                duration=i18n.format_business_duration(clock.remaining, seconds=False)
            )
        try:
            due = clock.due
        except CalendarError:
            due = None
        if due is None:
            return ""
        return _("Due: {when}").format(when=short_instant(due, now, zone))


class TicketHeader(QWidget):
    """Who asked what, and how long is left: the top of the workspace."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tracking_label = QLabel()
        self.tracking_label.setObjectName("tracking-number")
        self.tracking_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        scaled(self.tracking_label, 1.0, bold=True)
        self.provisional_label = QLabel()
        self.provisional_label.setObjectName("provisional")
        tinted(self.provisional_label, "#fff1c2", "#7a4d00")
        self.provisional_label.setContentsMargins(6, 1, 6, 1)
        self.provisional_label.setWordWrap(True)  # beside the number, in a narrow workspace
        self.subject_label = QLabel()
        self.subject_label.setObjectName("subject")
        self.subject_label.setWordWrap(True)
        self.subject_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        scaled(self.subject_label, 1.3, bold=True)
        self.meta_label = QLabel()
        self.meta_label.setObjectName("ticket-meta")
        self.meta_label.setWordWrap(True)
        self.meta_label.setTextFormat(Qt.TextFormat.RichText)
        self.clocks = {kind: ClockPanel(kind) for kind in ClockKind}
        self.timeline_label = QLabel()
        self.timeline_label.setObjectName("sla-timeline")
        self.timeline_label.setTextFormat(Qt.TextFormat.RichText)
        self.timeline_label.setWordWrap(True)
        #: what the timeline's wording was made from
        self._timeline_outline: tuple[object, ...] | None = None

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.tracking_label)
        top.addWidget(self.provisional_label)
        top.addStretch(1)
        clocks = QHBoxLayout()
        clocks.setContentsMargins(0, 0, 0, 0)
        clocks.setSpacing(8)
        for panel in self.clocks.values():
            clocks.addWidget(panel, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addWidget(self.subject_label)
        layout.addWidget(self.meta_label)
        layout.addLayout(clocks)
        layout.addWidget(self.timeline_label)

    def retranslate(self) -> None:
        samples = clock_text_samples()
        for panel in self.clocks.values():
            panel.value.set_samples(samples)
        self.tracking_label.setAccessibleName(_("Tracking number"))
        self.subject_label.setAccessibleName(_("Subject"))
        self.meta_label.setAccessibleName(_("Organisation and requester"))
        self.timeline_label.setAccessibleName(_("SLA timeline"))
        self.provisional_label.setText(_("Provisional: changes not synced yet"))
        self.provisional_label.setAccessibleName(_("Provisional: changes not synced yet"))

    def show_detail(self, detail: TicketDetail | None) -> None:
        """The ticket's number, subject, organisation and requester (None: nothing)."""
        if detail is None:
            self.tracking_label.clear()
            self.subject_label.setText(_("No ticket selected"))
            self.meta_label.clear()
            self.timeline_label.clear()
            self.provisional_label.hide()
            return
        ticket = detail.ticket
        self.tracking_label.setText(ticket.tracking_number)
        self.subject_label.setText(ticket.subject)
        self.subject_label.setToolTip(ticket.description)
        organisation = html.escape(detail.organisation or "—")
        if detail.plan:
            organisation = _("{organisation} · {plan} plan").format(
                organisation=organisation, plan=f"<b>{html.escape(detail.plan_text)}</b>"
            )
        requester = html.escape(ticket.requester_name)
        if ticket.requester_email:
            requester += (
                f" &lt;<a href='mailto:{html.escape(ticket.requester_email)}'>"
                f"{html.escape(ticket.requester_email)}</a>&gt;"
            )
        parts = [
            organisation,
            _("Requester: {name}").format(name=requester),
        ]
        if detail.team:
            parts.append(_("Team: {team}").format(team=html.escape(detail.team)))
        self.meta_label.setText(" &nbsp;·&nbsp; ".join(parts))
        self.meta_label.setOpenExternalLinks(True)
        self.provisional_label.setVisible(ticket.pending)

    def show_sla(
        self,
        sla: TicketSla | None,
        problem: str | None,
        evaluated_for: object,
        now: dt.datetime,
        zone: dt.tzinfo,
        *,
        provisional: bool,
    ) -> None:
        """Both clocks and the timeline as of ``now`` (``sla`` None: why in ``problem``);
        ``evaluated_for`` names what ``sla`` was evaluated from (a new one: worded again)."""
        for kind, panel in self.clocks.items():
            clock = None if sla is None else clock_of(sla, kind)
            panel.show_clock(clock, now, zone, provisional=provisional, problem=problem)
        self.show_timeline(sla, problem, evaluated_for, now, zone)

    def show_timeline(
        self,
        sla: TicketSla | None,
        problem: str | None,
        evaluated_for: object,
        now: dt.datetime,
        zone: dt.tzinfo,
    ) -> None:
        # worded again when the history, a clock's state or due time, or the minute moves
        outline = (
            evaluated_for,
            problem,
            *(
                clock_outline(None if sla is None else clock_of(sla, kind), now)
                for kind in ClockKind
            ),
            zone,
            i18n.current_language(),
        )
        if outline == self._timeline_outline:
            return
        self._timeline_outline = outline
        if sla is None:
            self.timeline_label.setText(
                html.escape(_("SLA unavailable: {problem}").format(problem=problem or "?"))
            )
            return
        lines = []
        for kind in ClockKind:
            clock = clock_of(sla, kind)
            items = []
            for entry in clock.timeline():
                label = timeline_label(entry, clock)
                if entry.kind is TimelineKind.STOPPED:
                    colour = "#107c10" if clock.remaining_us >= 0 else "#a4262c"
                else:
                    colour = _TIMELINE_COLOURS.get(entry.kind, "#3b5b8c")
                when = short_instant(entry.at, now, zone)
                items.append(
                    f"<span style='color:{colour}'>●</span>&nbsp;{html.escape(label)}"
                    f"&nbsp;<span style='color:#5c5f66'>{html.escape(when)}</span>"
                )
            if not clock.stopped and clock.remaining_us >= 0:
                due = html.escape(_("due {when}").format(when=due_phrase(clock, now, zone)))
                items.append(f"<span style='color:#5c5f66'>○&nbsp;{due}</span>")
            lines.append(f"<b>{html.escape(kind.label)}</b>: " + " &nbsp;→&nbsp; ".join(items))
        self.timeline_label.setText("<br>".join(lines))
