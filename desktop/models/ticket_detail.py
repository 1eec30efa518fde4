"""One ticket as the workspace shows it: header, clocks, what-if due times, history, KB.

:func:`load_detail` reads a ticket and its satellites from the cache in a few
reads; :func:`preview_change` evaluates the SLA on the ticket's history plus the
events a change *would* add, so the agent sees the new due times before
applying it; :class:`HistoryModel` is the history tab (a table model that
passes ``qtmodeltester``); :func:`search_articles` is the knowledge-base search
over the cached articles.

Models never import views.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Final

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont

import i18n
from desktop.models.sla_cells import SlaRules, evaluate_safely, events_from_history
from i18n import N_, gettext
from protocol import UserOut
from sla.calendar import CalendarError
from sla.clock import ClockKind, ClockState, ClockStatus, TicketSla, TimelineEntry, TimelineKind
from sla.events import Event, PriorityChanged, SeverityChanged, Status, StatusChanged
from sla.history import HistoryRow
from sla.policy import Priority, Severity, plan_label
from sync.cache import Cache
from sync.queries import CommentView, HistoryView, TicketView

__all__ = [
    "KB_URL",
    "Article",
    "DueChange",
    "HistoryColumn",
    "HistoryModel",
    "StagedChange",
    "TicketDetail",
    "article_link",
    "due_phrase",
    "field_label",
    "load_detail",
    "preview_change",
    "search_articles",
    "timeline_label",
    "value_label",
]

#: Where the support site shows a knowledge-base article.
KB_URL: Final = "https://offimizer/support/kb/{id}"

_SLA_FIELDS: Final = frozenset({"created", "status", "priority", "severity", "responded"})


# -- the ticket ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TicketDetail:
    """A ticket with everything its workspace shows."""

    ticket: TicketView
    organisation: str
    plan: str
    team: str
    events: list[Event]
    comments: list[CommentView]
    history: list[HistoryView]
    #: every cached user, by id (authors, actors, assignees)
    users: dict[int, UserOut]
    #: the active users of the ticket's team, by display name
    team_members: list[UserOut]

    def user_name(self, user_id: int | None) -> str | None:
        if user_id is None:
            return None
        user = self.users.get(user_id)
        return user.display_name if user is not None else f"#{user_id}"

    @property
    def assignee(self) -> str | None:
        return self.user_name(self.ticket.assignee_id)

    def author(self, comment: CommentView) -> str:
        """Who wrote a comment: an agent, else the requester."""
        return self.user_name(comment.author_id) or self.ticket.requester_name

    @property
    def plan_text(self) -> str:
        return plan_label(self.plan) if self.plan else ""


def load_detail(cache: Cache, ticket_id: int) -> TicketDetail | None:
    """The ticket ``ticket_id`` as cached (with pending work), or None when not cached."""
    ticket = cache.ticket(ticket_id)
    if ticket is None:
        return None
    organisation = next((o for o in cache.organisations() if o.id == ticket.organisation_id), None)
    team = next((t for t in cache.teams() if t.id == ticket.team_id), None)
    users = {user.id: user for user in cache.users()}
    members = sorted(
        (u for u in users.values() if u.active and ticket.team_id in u.team_ids),
        key=lambda u: u.display_name.casefold(),
    )
    history = cache.history(ticket_id)
    plan = organisation.plan.value if organisation is not None else ""
    events = events_from_history(
        (HistoryRow(h.at, h.field, h.after) for h in history if h.field in _SLA_FIELDS),
        created_at=ticket.created_at,
        priority=ticket.priority,
        severity=ticket.severity,
        plan=plan,
    )
    return TicketDetail(
        ticket=ticket,
        organisation=organisation.name if organisation is not None else "",
        plan=plan,
        team=team.name if team is not None else "",
        events=events,
        comments=cache.comments(ticket_id),
        history=history,
        users=users,
        team_members=members,
    )


# -- what-if: the due times a change would give ---------------------------------------


@dataclass(frozen=True, slots=True)
class StagedChange:
    """Changes chosen in the workspace and not applied yet (None: unchanged)."""

    status: Status | None = None
    priority: Priority | None = None
    severity: Severity | None = None
    #: ``(True, id or None)`` when the assignee changes
    assignee: tuple[bool, int | None] = (False, None)

    @property
    def empty(self) -> bool:
        return (
            self.status is None
            and self.priority is None
            and self.severity is None
            and not self.assignee[0]
        )


@dataclass(frozen=True, slots=True)
class DueChange:
    """One clock before and after a staged change."""

    kind: ClockKind
    before: ClockState | None
    after: ClockState | None

    @property
    def changed(self) -> bool:
        if self.before is None or self.after is None:
            return self.before is not self.after
        return (self.before.state, _due_us(self.before)) != (self.after.state, _due_us(self.after))


def _due_us(clock: ClockState) -> int | None:
    try:
        return clock.due_us
    except CalendarError:
        return None


def hypothetical_events(
    events: Sequence[Event], change: StagedChange, at: dt.datetime
) -> list[Event]:
    """``events`` plus those ``change`` would add at ``at`` (never before the last event)."""
    when = max([at, *(event.at for event in events)])
    added: list[Event] = []
    if change.priority is not None:
        added.append(PriorityChanged(when, change.priority))
    if change.severity is not None:
        added.append(SeverityChanged(when, change.severity))
    if change.status is not None:
        added.append(StatusChanged(when, change.status))
    return [*events, *added]


def preview_change(
    events: Sequence[Event], change: StagedChange, rules: SlaRules, now: dt.datetime
) -> list[DueChange]:
    """Both clocks now, and as they would be were ``change`` applied now."""
    before, _problem = evaluate_safely(list(events), rules, now)
    after, _problem = evaluate_safely(hypothetical_events(events, change, now), rules, now)
    return [
        DueChange(
            kind,
            None if before is None else _clock(before, kind),
            None if after is None else _clock(after, kind),
        )
        for kind in ClockKind
    ]


def _clock(sla: TicketSla, kind: ClockKind) -> ClockState:
    return sla.response if kind is ClockKind.RESPONSE else sla.resolution


def short_instant(when: dt.datetime, now: dt.datetime, zone: dt.tzinfo) -> str:
    """ "Mon 2:00 PM" within the week, "Mar 14, 2:00 PM" further (in English)."""
    local = when.astimezone(zone)
    if abs(when - now) < dt.timedelta(days=6):
        return i18n.format_weekday_time(local)
    return i18n.format_day_time(local)


def due_phrase(clock: ClockState | None, now: dt.datetime, zone: dt.tzinfo) -> str:
    """When a clock is due, in a few words: "Mon 2:00 PM", "Met", "pending customer"."""
    if clock is None:
        return "—"
    if clock.stopped:
        return clock.state.label
    due = None if clock.paused else _due_or_none(clock)
    if due is None:
        return gettext(N_("Pending customer"))
    return short_instant(due, now, zone)


def _due_or_none(clock: ClockState) -> dt.datetime | None:
    try:
        return clock.due
    except CalendarError:
        return None


# -- the timeline -------------------------------------------------------------------

_TIMELINE_LABELS: Final = {
    TimelineKind.STARTED: N_("Started"),
    TimelineKind.PAUSED: N_("Paused"),
    TimelineKind.RESUMED: N_("Resumed"),
    TimelineKind.STOPPED: N_("Stopped"),
    TimelineKind.BREACHED: N_("Breached"),
}


def timeline_label(entry: TimelineEntry, clock: ClockState) -> str:
    """What happened at a timeline instant; a stop is "Met" or "Missed"."""
    if entry.kind is TimelineKind.STOPPED:
        return ClockStatus.MET.label if clock.remaining_us >= 0 else ClockStatus.MISSED.label
    return gettext(_TIMELINE_LABELS[entry.kind])


# -- history --------------------------------------------------------------------------

_FIELD_LABELS: Final = {
    "created": N_("Created"),
    "status": N_("Status"),
    "priority": N_("Priority"),
    "severity": N_("Severity"),
    "assignee_id": N_("Assignee"),
    "assignee": N_("Assignee"),
    "team": N_("Team"),
    "team_id": N_("Team"),
    "responded": N_("Public reply"),
    "tags": N_("Tags"),
}


def field_label(name: str) -> str:
    label = _FIELD_LABELS.get(name)
    return gettext(label) if label else name


def value_label(name: str, value: str | None, users: dict[int, UserOut]) -> str:
    """A history value as people read it ("Open", "P1 Critical", "Camille Durand")."""
    if value is None or value == "":
        if name in ("assignee_id", "assignee"):
            return gettext(N_("Unassigned"))
        return ""
    try:
        if name == "status":
            return Status(value).label
        if name == "priority":
            return Priority(value).display
        if name == "severity":
            return Severity(value).label
        if name in ("assignee_id", "assignee"):
            user = users.get(int(value))
            return user.display_name if user is not None else f"#{value}"
    except ValueError:
        return value
    if name in ("created", "responded"):
        return ""
    return value


class HistoryColumn(IntEnum):
    WHEN = 0
    WHO = 1
    FIELD = 2
    CHANGE = 3


_HISTORY_HEADERS: Final = {
    HistoryColumn.WHEN: N_("When"),
    HistoryColumn.WHO: N_("Who"),
    HistoryColumn.FIELD: N_("Field"),
    HistoryColumn.CHANGE: N_("Change"),
}

Index = QModelIndex | QPersistentModelIndex


class HistoryModel(QAbstractTableModel):
    """The ticket's history, newest first: who changed what, when, before → after."""

    def __init__(self, zone: Callable[[], dt.tzinfo], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._zone = zone
        self._rows: list[HistoryView] = []
        self._users: dict[int, UserOut] = {}
        self._italic = QFont()
        self._italic.setItalic(True)

    def set_detail(self, detail: TicketDetail | None) -> None:
        self.beginResetModel()
        if detail is None:
            self._rows, self._users = [], {}
        else:
            self._rows = list(reversed(detail.history))
            self._users = detail.users
        self.endResetModel()

    def entry(self, row: int) -> HistoryView:
        return self._rows[row]

    def retranslate(self) -> None:
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(HistoryColumn) - 1)
        if self._rows:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._rows) - 1, len(HistoryColumn) - 1)
            )

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HistoryColumn)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(HistoryColumn):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return gettext(_HISTORY_HEADERS[HistoryColumn(section)])
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemNeverHasChildren
        )

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        if not 0 <= index.column() < len(HistoryColumn):
            return None
        entry = self._rows[index.row()]
        column = HistoryColumn(index.column())
        pending = entry.server_id is None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(entry, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if pending:
                return gettext(N_("Not synced yet: sending…"))
            if column is HistoryColumn.WHEN:
                return i18n.format_datetime(entry.at.astimezone(self._zone()), "full")
            return None
        if role == Qt.ItemDataRole.FontRole:
            return self._italic if pending else None
        if role == Qt.ItemDataRole.ForegroundRole:
            return QBrush(QColor("#5c5f66")) if pending else None
        return None

    def _text(self, entry: HistoryView, column: HistoryColumn) -> str:
        if column is HistoryColumn.WHEN:
            text = i18n.format_day_time(entry.at.astimezone(self._zone()))
            if entry.server_id is None:
                return gettext(N_("{when} (sending…)")).format(when=text)
            return text
        if column is HistoryColumn.WHO:
            if entry.actor_id is None:
                return gettext(N_("System"))
            user = self._users.get(entry.actor_id)
            return user.display_name if user is not None else f"#{entry.actor_id}"
        if column is HistoryColumn.FIELD:
            return field_label(entry.field)
        before = value_label(entry.field, entry.before, self._users)
        after = value_label(entry.field, entry.after, self._users)
        if entry.field == "tags":
            if after:
                return gettext(N_("Added {tag}")).format(tag=after)
            return gettext(N_("Removed {tag}")).format(tag=before)
        if not before and not after:
            return ""
        if not before:
            return after
        return f"{before} → {after}"


# -- knowledge base -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Article:
    id: int
    title: str
    body: str
    tags: tuple[str, ...]

    @property
    def link(self) -> str:
        return article_link(self)


def article_link(article: Article) -> str:
    """What a reply shows for an article: its address and title."""
    return f"{KB_URL.format(id=article.id)} — {article.title}"


def _article(raw: dict[str, Any]) -> Article | None:
    try:
        return Article(
            int(raw["id"]),
            str(raw.get("title", "")),
            str(raw.get("body", "")),
            tuple(str(tag) for tag in raw.get("tags") or ()),
        )
    except (KeyError, TypeError, ValueError):
        return None


def search_articles(
    articles: Iterable[dict[str, Any]], text: str, *, limit: int = 50
) -> list[Article]:
    """Articles where every word appears in the title, tags or body; title hits first.

    Case- and accent-insensitive enough for agents (``casefold``); an empty
    query lists every article by title.
    """
    words = text.casefold().split()
    found: list[tuple[int, str, Article]] = []
    for raw in articles:
        article = _article(raw)
        if article is None:
            continue
        title = article.title.casefold()
        tags = " ".join(article.tags).casefold()
        body = article.body.casefold()
        if not all(word in title or word in tags or word in body for word in words):
            continue
        score = sum(2 if word in title else 1 if word in tags else 0 for word in words)
        found.append((-score, title, article))
    found.sort(key=lambda item: (item[0], item[1]))
    return [article for _score, _title, article in found[:limit]]
