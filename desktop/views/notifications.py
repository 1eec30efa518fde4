"""Desktop notifications: a ticket assigned to me became at risk or breached.

:func:`decide` is the whole policy, pure and testable: it compares each of my
tickets' worst SLA state with the one seen last time and returns the alerts to
show — only for worsening states, only while the business calendar is open, only
when notifications are on, never for the first look at a ticket (no storm of
old news at start-up).  :class:`SlaNotifier` feeds it from the queue model (the
tickets whose clocks moved, as the model says: never a scan of the whole queue
a second) and shows the alerts in the system tray when there is one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QStyle, QSystemTrayIcon

from desktop.models.queue import QueueModel
from i18n import _, ngettext
from sla.clock import ClockStatus

__all__ = ["Alert", "Level", "SlaNotifier", "decide", "level_of"]

#: The notifier takes its first look this long after it is made (the window painted).
_FIRST_LOOK_DELAY_MS = 100


class Level(IntEnum):
    FINE = 0
    AT_RISK = 1
    BREACHED = 2


#: A ticket's clock states: first response, resolution (None: not known).
States = tuple[ClockStatus | None, ...]


def level_of(states: States) -> Level:
    if ClockStatus.BREACHED in states:
        return Level.BREACHED
    if ClockStatus.AT_RISK in states:
        return Level.AT_RISK
    return Level.FINE


@dataclass(frozen=True, slots=True)
class Alert:
    ticket_id: int
    tracking_number: str
    subject: str
    level: Level

    @property
    def title(self) -> str:
        if self.level is Level.BREACHED:
            return _("SLA breached: {ticket}").format(ticket=self.tracking_number)
        return _("SLA at risk: {ticket}").format(ticket=self.tracking_number)


@dataclass(frozen=True, slots=True)
class Seen:
    tracking_number: str
    subject: str
    level: Level


def decide(
    previous: Mapping[int, Level],
    current: Mapping[int, Seen],
    *,
    enabled: bool,
    calendar_open: bool,
) -> list[Alert]:
    """The alerts for my tickets whose state got worse since ``previous``."""
    if not enabled or not calendar_open:
        return []
    alerts = []
    for ticket_id, seen in current.items():
        before = previous.get(ticket_id)
        if before is None or seen.level <= before or seen.level is Level.FINE:
            continue
        alerts.append(Alert(ticket_id, seen.tracking_number, seen.subject, seen.level))
    return sorted(alerts, key=lambda alert: (-alert.level, alert.tracking_number))


class SlaNotifier(QObject):
    """Watches my tickets in the queue model; shows alerts in the tray."""

    def __init__(
        self,
        model: QueueModel,
        me: int | None,
        *,
        enabled: bool = True,
        show: Callable[[list[Alert]], None] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.me = me
        self.enabled = enabled
        self.tray: QSystemTrayIcon | None = None
        self._show = show if show is not None else self._tray_message
        self._levels: dict[int, Level] = {}
        self.sent: list[Alert] = []
        model.clocksMoved.connect(self._clocks_moved)
        # the first look at my tickets only records where they stand (it alerts about
        # nothing) and costs tens of milliseconds with 30,000 of them: it waits until
        # the window is painted
        self._first_look = QTimer(self)
        self._first_look.setSingleShot(True)
        self._first_look.timeout.connect(lambda: self.check())
        self._first_look.start(_FIRST_LOOK_DELAY_MS)

    def _mine(self, ticket_ids: Iterable[int] | None) -> dict[int, Seen]:
        if self.me is None:
            return {}
        return {
            ticket_id: Seen(watched.tracking_number, watched.subject, level_of(watched.states))
            for ticket_id, watched in self.model.watch(self.me, ticket_ids).items()
        }

    def calendar_open(self, now: dt.datetime | None = None) -> bool:
        return self.model.rules.calendar.is_open(now or self.model.evaluated_at)

    @property
    def looked(self) -> bool:
        """Whether the first look at my tickets was taken (see the constructor)."""
        return not self._first_look.isActive()

    def _clocks_moved(self, earlier: Mapping[int, States] | None) -> None:
        if self._first_look.isActive():
            # the first look has not been taken yet: take it now, and record these
            # tickets as they stood before they moved, so that their move can alert
            self._first_look.stop()
            self.check()
            if earlier is not None:
                for ticket_id, states in earlier.items():
                    # a ticket whose clocks were not evaluated yet had no known state:
                    # what the first look saw stays its last known state
                    if ticket_id in self._levels and any(states):
                        self._levels[ticket_id] = level_of(states)
        self.check(None if earlier is None else list(earlier))

    def check(self, ticket_ids: list[int] | None = None) -> list[Alert]:
        """Alerts for my tickets among ``ticket_ids`` (None: all of them) whose state
        got worse since the last look; those no longer mine are forgotten."""
        current = self._mine(ticket_ids)
        alerts = decide(
            self._levels, current, enabled=self.enabled, calendar_open=self.calendar_open()
        )
        levels = {ticket_id: seen.level for ticket_id, seen in current.items()}
        if ticket_ids is None:
            self._levels = levels
        else:
            for ticket_id in ticket_ids:
                self._levels.pop(ticket_id, None)
            self._levels.update(levels)
        if alerts:
            self.sent.extend(alerts)
            self._show(alerts)
        return alerts

    def _tray_message(self, alerts: list[Alert]) -> None:
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return
        if self.tray is None:
            app = QApplication.instance()
            icon = QIcon()
            if isinstance(app, QApplication):
                icon = app.windowIcon()
                if icon.isNull():
                    icon = app.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
            self.tray = QSystemTrayIcon(icon, self)
            self.tray.setToolTip(_("Offimizer Console"))
            self.tray.show()
        if len(alerts) == 1:
            title, body = alerts[0].title, alerts[0].subject
        else:
            title = ngettext(
                "{count} ticket needs attention", "{count} tickets need attention", len(alerts)
            ).format(count=len(alerts))
            body = "\n".join(f"{alert.title} — {alert.subject}" for alert in alerts[:5])
        icon_kind = (
            QSystemTrayIcon.MessageIcon.Critical
            if any(alert.level is Level.BREACHED for alert in alerts)
            else QSystemTrayIcon.MessageIcon.Warning
        )
        self.tray.showMessage(title, body, icon_kind, 10_000)
