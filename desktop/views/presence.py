"""Presence: who is online, and who else is viewing or replying to the open ticket.

:class:`PresenceTracker` tells the server what the user is doing with the ticket
shown in the workspace (``viewing``, or ``replying`` while a reply is being
written) and shows, above the ticket, the other agents on it ("Alice Martin is
replying to this ticket"), so two agents do not answer the same customer.  The
same answer (the users of the caller's teams) feeds the workload panel's
presence column.  The reports are online operations (:mod:`desktop.operations`),
run as asyncio tasks on the Qt loop (qasync), never on the UI thread's critical
path; offline, refused or failed, everything stays quiet and the presence shows
as unknown.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Final

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QLabel

from desktop.operations import Operations
from i18n import _
from protocol import PresenceActivity, PresenceEntry, PresenceOut

__all__ = ["PresenceTracker", "presence_text"]

log = logging.getLogger(__name__)

#: How often the console says it is still on the ticket (the server forgets after 2 min).
_REPORT_MS: Final = 30_000


def presence_text(entries: list[PresenceEntry], ticket_id: int, me: int | None) -> str:
    """ "Alice Martin is replying to this ticket" for the other users on ``ticket_id``."""
    lines: list[str] = []
    others = [
        entry
        for entry in entries
        if entry.online and entry.ticket_id == ticket_id and entry.user_id != me
    ]
    # replying first: that is the one that matters
    for entry in sorted(others, key=lambda e: (e.activity != "replying", e.display_name)):
        if entry.activity == "replying":
            lines.append(_("{name} is replying to this ticket").format(name=entry.display_name))
        else:
            lines.append(_("{name} is viewing this ticket").format(name=entry.display_name))
    return " · ".join(lines)


class PresenceTracker(QObject):
    """Reports the user's presence on the open ticket; shows the others'."""

    #: the latest answer of the server (None: unknown, offline)
    presenceChanged = Signal(object)

    def __init__(
        self,
        label: QLabel,
        operations: Operations,
        *,
        me: int | None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.label = label
        self.operations = operations
        self.me = me
        self.ticket_id: int | None = None
        self.activity: PresenceActivity | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(_REPORT_MS)
        self.timer.timeout.connect(self.report_soon)
        self.label.hide()

    # -- what the user does -------------------------------------------------------------

    def set_ticket(self, ticket_id: int | None) -> None:
        if ticket_id == self.ticket_id:
            return
        self.ticket_id = ticket_id
        self.activity = None if ticket_id is None else "viewing"
        self.label.hide()
        self.report_soon()

    def set_replying(self, replying: bool) -> None:
        if self.ticket_id is None:
            return
        activity: PresenceActivity = "replying" if replying else "viewing"
        if activity != self.activity:
            self.activity = activity
            self.report_soon()

    # -- the server ---------------------------------------------------------------------

    def report_soon(self) -> None:
        """Tell the server (in a task on the running loop; none: nothing to do)."""
        if not self.operations.connected:
            self.show(None)
            return
        if self.operations.start(self.report(), owner=self) is None:
            return
        if not self.timer.isActive():
            self.timer.start()

    async def report(self) -> PresenceOut | None:
        """Report and show; None when not done (offline, say: shown as unknown)."""
        ticket_id, activity = self.ticket_id, self.activity
        outcome = await self.operations.online(
            lambda client: client.report_presence(ticket_id, activity)
        )
        if outcome.value is None:
            log.debug("presence not reported: %s", outcome.message)
        self.show(outcome.value)
        return outcome.value

    def show(self, presence: PresenceOut | None) -> None:
        text = (
            ""
            if presence is None or self.ticket_id is None
            else presence_text(presence.users, self.ticket_id, self.me)
        )
        with contextlib.suppress(RuntimeError):  # the label went with its window
            self.label.setText(text)
            self.label.setVisible(bool(text))
        self.presenceChanged.emit(presence)

    async def wait_reported(self) -> None:
        """Until no report is in flight."""
        await self.operations.wait(self)

    def stop(self) -> None:
        self.timer.stop()
        self.operations.cancel(self)
