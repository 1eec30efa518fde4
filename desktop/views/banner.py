"""The announcement banner above the queue: active notices, blocking incidents in red.

It shows the cache's announcements in force now (started, not ended, before
their expected end) and hides itself when there are none.  It reads them again
when the change bus says announcements changed (a sync brought some) and, by
itself, at the next start or expected end the cache knows of: no polling.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Final

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

import i18n
from desktop.models.bus import ChangeBus
from desktop.operations import Cache
from i18n import _
from sync.changes import Changes

__all__ = ["AnnouncementBanner", "active_announcements", "is_blocking"]

_STYLE = (
    'QFrame#announcements[blocking="true"] '
    "{ background: #fde7e9; border: 1px solid #a4262c; border-radius: 4px; }"
    'QFrame#announcements[blocking="true"] QLabel { color: #a4262c; }'
    'QFrame#announcements[blocking="false"] '
    "{ background: #fff4ce; border: 1px solid #8a6d00; border-radius: 4px; }"
    'QFrame#announcements[blocking="false"] QLabel { color: #5c4a00; }'
)


def _instant(value: Any) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def is_blocking(item: dict[str, Any]) -> bool:
    """Announcements are blocking-incident notices unless they say they are less."""
    level = str(item.get("severity") or item.get("level") or "blocking").lower()
    return level in ("blocking", "bloquant", "critical", "incident")


#: an announcement published "now" on a server whose clock runs a moment ahead of this
#: console's estimate of it still shows at once
START_TOLERANCE = dt.timedelta(seconds=2)
#: the banner reads the cache again at least this often, whatever it expects (a
#: computer woken from sleep, whose timers stood still, catches up)
RECHECK: Final = dt.timedelta(minutes=5)


def active_announcements(cache: Cache, now: dt.datetime) -> list[dict[str, Any]]:
    """Those in force at ``now``: started (give or take :data:`START_TOLERANCE`), not
    ended, blocking ones first."""
    found = []
    for item in cache.announcements(active_at=now + START_TOLERANCE):
        ended = _instant(item.get("ended_at"))
        if ended is not None and ended <= now:
            continue
        found.append(item)
    return sorted(found, key=lambda item: not is_blocking(item))


class AnnouncementBanner(QFrame):
    def __init__(
        self,
        cache: Cache,
        now: Callable[[], dt.datetime],
        zone: Callable[[], dt.tzinfo],
        parent: QWidget | None = None,
        *,
        bus: ChangeBus | None = None,
    ) -> None:
        """With ``bus``, it follows the announcements a sync brings."""
        super().__init__(parent)
        self.setObjectName("announcements")
        self.setStyleSheet(_STYLE)
        self._cache = cache
        self._now = now
        self._zone = zone
        self.label = QLabel()
        self.label.setObjectName("announcement-text")
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addWidget(self.label)
        self.items: list[dict[str, Any]] = []
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self.refresh)
        if bus is not None:
            bus.changed.connect(self._changes_arrived)
        self.refresh()

    def stop(self) -> None:
        self.timer.stop()

    def _changes_arrived(self, changes: Changes) -> None:
        if changes.announcements:
            self.refresh()

    def refresh(self) -> None:
        now = self._now()
        self.items = active_announcements(self._cache, now)
        self._schedule(now)
        if not self.items:
            self.hide()
            return
        lines = []
        for item in self.items:
            text = str(item.get("title", ""))
            body = str(item.get("body", "")).strip()
            if body:
                text = _("{title}: {body}").format(title=text, body=body)
            ends = _instant(item.get("ends_at"))
            if ends is not None:
                when = i18n.format_datetime(ends.astimezone(self._zone()), "short")
                text = _("{text} (expected end {when})").format(text=text, when=when)
            lines.append(text)
        blocking = any(is_blocking(item) for item in self.items)
        self.setProperty("blocking", "true" if blocking else "false")
        self.style().unpolish(self)
        self.style().polish(self)
        self.label.setText("\n".join(lines))
        self.setAccessibleName(_("Announcements"))
        self.show()

    def next_change(self, now: dt.datetime) -> dt.datetime:
        """When the banner must read the cache again by the clock alone: when an
        announcement starts or ends (as :func:`active_announcements` tells them,
        with its tolerance), or one shown is marked ended; within :data:`RECHECK`."""
        following = now + RECHECK
        upcoming = self._cache.next_announcement_change(now + START_TOLERANCE)
        if upcoming is not None:
            following = min(following, upcoming - START_TOLERANCE)
        for item in self.items:
            ended = _instant(item.get("ended_at"))
            if ended is not None and ended > now:
                following = min(following, ended)
        return following

    def _schedule(self, now: dt.datetime) -> None:
        delay = (self.next_change(now) - now) / dt.timedelta(milliseconds=1)
        self.timer.start(max(int(delay) + 1, 0))
