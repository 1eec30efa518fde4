"""The console's heartbeat: one timer that ticks the queue's countdowns and the open
ticket's clocks at the same instant, when the next of them changes on screen (not
at a fixed period)."""

from __future__ import annotations

import datetime as dt
from typing import Final

from PySide6.QtCore import QObject, Qt, QTimer

from desktop.models.queue import QueueModel
from desktop.views.queue_table import QueueTable
from desktop.views.workspace.view import TicketWorkspace

__all__ = ["Heartbeat"]

_MAX_TICK_MS: Final = 60_000
_MIN_TICK_MS: Final = 20


class Heartbeat(QObject):
    """Ticks ``model`` (the rows ``table`` shows) and ``workspace`` together: one
    wake-up for both, so the workspace's countdown changes with its row's."""

    def __init__(
        self,
        table: QueueTable,
        model: QueueModel,
        workspace: TicketWorkspace,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._table = table
        self._model = model
        self._workspace = workspace
        self._in_tick = False
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self.tick)
        workspace.drive_by(self._workspace_rescheduled)

    def tick(self) -> None:
        """The queue, and the workspace when its clocks change, at the same instant."""
        self._table.update_visible_rows()
        self._model.tick()
        self._in_tick = True
        try:
            self._workspace.tick_if_due(self._model.evaluated_at)
        finally:
            self._in_tick = False
        self.schedule()

    def _workspace_rescheduled(self) -> None:
        if not self._in_tick:  # else the tick schedules the next one as it ends
            self.schedule()

    def schedule(self) -> None:
        """The next beat at the next change of the queue's cells or the workspace's clocks."""
        following = self._model.next_tick(also=self._workspace.due_us)
        if following is None:
            delay = _MAX_TICK_MS
        else:
            delay = int((following - self._model.now()) / dt.timedelta(milliseconds=1)) + 1
            delay = min(max(delay, _MIN_TICK_MS), _MAX_TICK_MS)
        self.timer.start(delay)

    def stop(self) -> None:
        self.timer.stop()
