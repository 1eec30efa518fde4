"""What the status bar says about synchronization, and the dialogs behind its counters.

:class:`SyncStatusWidgets` shows a :class:`sync.engine.SyncStatus` (state, initial
sync progress, last sync, pending / conflicts / rejected counters, "Sync now");
:class:`PendingDialog` lists the queued commands (and the requests waiting for the
server), :class:`ConflictsPanel` offers the store's resolutions of each conflict,
:class:`RejectedDialog` shows why the server refused a change.  The dialogs follow
the change bus while open, and change data through local operations.  Everything
is described in words, never as field names.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Final

from PySide6.QtCore import QObject, Qt, QTimer, Signal, SignalInstance
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QStatusBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

import i18n
from desktop.operations import Cache, Operations, SyncState, SyncStatus, utc_now
from i18n import N_, _, ngettext
from protocol import (
    AcknowledgeCommand,
    AddCommentCommand,
    AddTagCommand,
    AssignCommand,
    Command,
    RemoveTagCommand,
    SetPriorityCommand,
    SetSeverityCommand,
    SetStatusCommand,
    SetTeamCommand,
)
from sla.events import Status as SlaStatus
from sla.policy import Priority as SlaPriority
from sla.policy import Severity as SlaSeverity
from sync.changes import Changes
from sync.deferred import CallKind, DeferredCall
from sync.store import ConflictView, RejectedView, Resolution, Store

__all__ = [
    "ConflictsPanel",
    "PendingDialog",
    "RejectedDialog",
    "SyncStatusWidgets",
    "conflict_text",
    "describe_call",
    "describe_command",
]

_STATE_LABELS: Final = {
    SyncState.ONLINE: N_("Online"),
    SyncState.OFFLINE: N_("Offline"),
    SyncState.CONNECTING: N_("Connecting…"),
    SyncState.SYNCING: N_("Syncing…"),
    SyncState.AUTH_REQUIRED: N_("Sign-in required"),
    SyncState.ERROR: N_("Sync problem"),
}
_STATE_COLOURS: Final = {
    SyncState.ONLINE: "#107c10",
    SyncState.OFFLINE: "#6b6f76",
    SyncState.CONNECTING: "#6b6f76",
    SyncState.SYNCING: "#005a9e",
    SyncState.AUTH_REQUIRED: "#a4262c",
    SyncState.ERROR: "#a4262c",
}
_EXCERPT: Final = 60
#: A next try further than this says its time of day rather than counting down.
_COUNTDOWN_LIMIT: Final = dt.timedelta(minutes=1)


def _user_name(cache: Cache, user_id: int | None) -> str:
    if user_id is None:
        return _("nobody")
    for user in cache.users():
        if user.id == user_id:
            return user.display_name or user.username
    return _("user #{id}").format(id=user_id)


def _label(enum: type[SlaStatus] | type[SlaPriority] | type[SlaSeverity], code: str) -> str:
    try:
        member = enum(code)
    except ValueError:
        return code
    return member.display if isinstance(member, SlaPriority) else member.label


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _EXCERPT else flat[: _EXCERPT - 1] + "…"


def _tracking(cache: Cache, ticket_id: int) -> str:
    ticket = cache.ticket(ticket_id)
    return ticket.tracking_number if ticket is not None else f"#{ticket_id}"


def describe_command(command: Command, cache: Cache) -> str:
    """One queued change in words: "INC-2026-000101: status to Pending"."""
    ticket = _tracking(cache, command.ticket_id)
    if isinstance(command, AssignCommand):
        if command.assignee_id is None:
            what = _("unassign")
        else:
            what = _("assign to {name}").format(name=_user_name(cache, command.assignee_id))
    elif isinstance(command, SetTeamCommand):
        team = next((t.name for t in cache.teams() if t.id == command.team_id), None)
        team = team or _("team #{id}").format(id=command.team_id)
        if command.assignee_id is None:
            what = _("move to team {team}").format(team=team)
        else:
            what = _("move to team {team}, assigned to {name}").format(
                team=team, name=_user_name(cache, command.assignee_id)
            )
    elif isinstance(command, SetStatusCommand):
        what = _("status to {status}").format(status=_label(SlaStatus, command.status.value))
    elif isinstance(command, SetPriorityCommand):
        what = _("priority to {priority}").format(
            priority=_label(SlaPriority, command.priority.value)
        )
    elif isinstance(command, SetSeverityCommand):
        what = _("severity to {severity}").format(
            severity=_label(SlaSeverity, command.severity.value)
        )
    elif isinstance(command, AddCommentCommand):
        template = _("reply “{text}”") if command.public else _("internal note “{text}”")
        what = template.format(text=_excerpt(command.body))
    elif isinstance(command, AcknowledgeCommand):
        what = _("acknowledge")
    elif isinstance(command, AddTagCommand):
        what = _("add tag {tag}").format(tag=command.tag)
    elif isinstance(command, RemoveTagCommand):
        what = _("remove tag {tag}").format(tag=command.tag)
    else:  # pragma: no cover - the union is closed
        what = str(command.type)
    return _("{ticket}: {change}").format(ticket=ticket, change=what)


def describe_call(call: DeferredCall) -> str:
    """One request waiting for the server in words: "Publish the announcement “…”"."""
    if call.kind is CallKind.CREATE_ANNOUNCEMENT:
        return _("Publish the announcement “{title}”").format(title=call.announcement().title)
    return str(call.kind)  # pragma: no cover - the enum is closed


def _your_change(command: Command, cache: Cache) -> str:
    if isinstance(command, AssignCommand | SetTeamCommand):
        return _("your assignment was not applied")
    if isinstance(command, SetStatusCommand):
        return _("your status change was not applied")
    if isinstance(command, SetPriorityCommand):
        return _("your priority change was not applied")
    if isinstance(command, SetSeverityCommand):
        return _("your severity change was not applied")
    return _("your change was not applied")


def _server_side(conflict: ConflictView, cache: Cache) -> str:
    """What happened on the server, with who did it when the cache's history says."""
    server = conflict.server_ticket
    actor: int | None = None
    for entry in cache.history(conflict.ticket_id):
        if entry.field in conflict.fields and (entry.version or 0) > conflict.command.base_version:
            actor = entry.actor_id
    by = _user_name(cache, actor) if actor is not None else None
    parts: list[str] = []
    for name in conflict.fields:
        if name in ("assignee", "assignee_id"):
            if server.assignee_id is None:
                parts.append(_("Unassigned"))
            else:
                parts.append(
                    _("Reassigned to {name}").format(name=_user_name(cache, server.assignee_id))
                )
        elif name == "status":
            parts.append(_("Status set to {status}").format(status=server.status.label))
        elif name == "priority":
            parts.append(
                _("Priority set to {priority}").format(
                    priority=_label(SlaPriority, server.priority.value)
                )
            )
        elif name == "severity":
            parts.append(
                _("Severity set to {severity}").format(
                    severity=_label(SlaSeverity, server.severity.value)
                )
            )
        else:
            parts.append(_("Changed on the server"))
    text = "; ".join(dict.fromkeys(parts)) or _("Changed on the server")
    if by is not None:
        return _("{change} by {name}").format(change=text, name=by)
    return text


def conflict_text(conflict: ConflictView, cache: Cache) -> str:
    """Both sides in words: "Reassigned to Bob by Carol while you were offline: your status
    change was not applied"."""
    return _("{server} while you were offline: {yours}").format(
        server=_server_side(conflict, cache), yours=_your_change(conflict.command, cache)
    )


class _ClickableLabel(QLabel):
    clicked = Signal()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.clicked.emit()


class SyncStatusWidgets(QObject):
    """The status bar's sync part: fed a :class:`SyncStatus`, emits what the user asks."""

    signInRequested = Signal()
    pendingRequested = Signal()
    conflictsRequested = Signal()
    rejectedRequested = Signal()
    syncNowRequested = Signal()

    def __init__(
        self,
        bar: QStatusBar,
        zone: Callable[[], dt.tzinfo],
        now: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        super().__init__(bar)
        self._zone = zone
        self._now = now
        self.status = SyncStatus(SyncState.OFFLINE)
        self.state_label = _ClickableLabel()
        self.state_label.setObjectName("connection")
        self.state_label.clicked.connect(self._state_clicked)
        #: when the engine tries again by itself ("Next try in 3 s"), counting down
        self.retry_label = QLabel()
        self.retry_label.setObjectName("next-try")
        self.retry_label.setContentsMargins(0, 0, 12, 0)  # apart from the last sync
        self.retry_label.hide()
        self._retry_timer = QTimer(self)
        self._retry_timer.setInterval(1000)
        self._retry_timer.timeout.connect(self._show_retry)
        self.progress = QProgressBar()
        self.progress.setObjectName("sync-progress")
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.last_sync_label = QLabel()
        self.last_sync_label.setObjectName("last-sync")
        self.pending_button = self._button("pending", self.pendingRequested)
        self.conflicts_button = self._button("conflicts", self.conflictsRequested)
        self.rejected_button = self._button("rejected", self.rejectedRequested)
        self.sync_button = self._button("sync-now", self.syncNowRequested)
        bar.addWidget(self.state_label)
        bar.addWidget(self.retry_label)
        bar.addWidget(self.progress)
        bar.addWidget(self.last_sync_label)
        bar.addPermanentWidget(self.conflicts_button)
        bar.addPermanentWidget(self.rejected_button)
        bar.addPermanentWidget(self.pending_button)
        bar.addPermanentWidget(self.sync_button)

    def _button(self, name: str, signal: SignalInstance) -> QToolButton:
        button = QToolButton()
        button.setObjectName(name)
        button.setAutoRaise(True)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        button.clicked.connect(lambda _checked=False: signal.emit())
        return button

    def _state_clicked(self) -> None:
        if self.status.state in (SyncState.AUTH_REQUIRED, SyncState.OFFLINE, SyncState.ERROR):
            if self.status.state is SyncState.AUTH_REQUIRED:
                self.signInRequested.emit()
            else:
                self.syncNowRequested.emit()

    def show_status(self, status: SyncStatus) -> None:
        self.status = status
        self.retranslate()

    def retranslate(self) -> None:
        status = self.status
        state = status.state
        self.state_label.setText(_(_STATE_LABELS[state]))
        colour = _STATE_COLOURS[state]
        self.state_label.setStyleSheet(f"QLabel {{ color: {colour}; font-weight: bold; }}")
        clickable = state in (SyncState.AUTH_REQUIRED, SyncState.OFFLINE, SyncState.ERROR)
        self.state_label.setCursor(
            Qt.CursorShape.PointingHandCursor if clickable else Qt.CursorShape.ArrowCursor
        )
        tips = [status.error] if status.error else []
        if state is SyncState.AUTH_REQUIRED:
            tips.append(_("Click to sign in."))
        elif clickable:
            tips.append(_("Click to try again now."))
        if status.retry_at is not None and state is not SyncState.AUTH_REQUIRED:
            tips.append(
                _("Next try at {when}.").format(
                    when=i18n.format_clock(status.retry_at.astimezone(self._zone()), seconds=True)
                )
            )
        self.state_label.setToolTip("\n".join(tips))
        self.state_label.setAccessibleName(
            _("Connection: {state}").format(state=_(_STATE_LABELS[state]))
        )
        self._show_retry()

        progress = status.progress
        if progress is not None and state is SyncState.SYNCING:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(progress.fraction * 1000))
            self.progress.setFormat(
                _("{tickets} of about {estimate} tickets").format(
                    tickets=i18n.format_decimal(progress.tickets),
                    estimate=i18n.format_decimal(max(progress.estimate, progress.tickets)),
                )
            )
            self.progress.setToolTip(
                ngettext(
                    "Initial synchronization: {pages} page read",
                    "Initial synchronization: {pages} pages read",
                    progress.pages,
                ).format(pages=progress.pages)
            )
            sample = self.progress.format().replace(" ", "  ")
            self.progress.setMinimumWidth(
                self.progress.fontMetrics().horizontalAdvance(sample) + 24
            )
            self.progress.setAccessibleName(_("Initial synchronization"))
            self.progress.show()
        else:
            self.progress.hide()

        if status.last_sync_at is None:
            self.last_sync_label.setText(_("Never synced"))
            self.last_sync_label.setToolTip("")
        else:
            local = status.last_sync_at.astimezone(self._zone())
            self.last_sync_label.setText(
                _("Last sync: {when}").format(when=i18n.format_datetime(local, "short"))
            )
            self.last_sync_label.setToolTip(i18n.format_datetime(local, "full"))

        self.pending_button.setText(
            ngettext("{count} pending change", "{count} pending changes", status.pending).format(
                count=status.pending
            )
        )
        self.pending_button.setToolTip(_("Show the changes waiting to be sent"))
        self.conflicts_button.setText(
            ngettext("{count} conflict", "{count} conflicts", status.conflicts).format(
                count=status.conflicts
            )
        )
        self.conflicts_button.setToolTip(_("Resolve the changes that clashed with the server's"))
        self.conflicts_button.setVisible(status.conflicts > 0)
        self.conflicts_button.setStyleSheet("QToolButton { color: #a4262c; font-weight: bold; }")
        self.rejected_button.setText(
            ngettext("{count} refused change", "{count} refused changes", status.rejected).format(
                count=status.rejected
            )
        )
        self.rejected_button.setToolTip(_("Show why the server refused these changes"))
        self.rejected_button.setVisible(status.rejected > 0)
        self.sync_button.setText(_("Sync now"))
        self.sync_button.setToolTip(_("Synchronize with the server now (F5)"))
        self.sync_button.setEnabled(state not in (SyncState.SYNCING, SyncState.CONNECTING))

    def _show_retry(self) -> None:
        """When the engine tries again by itself, in the bar: a countdown for a try
        within the minute, else its time of day."""
        status = self.status
        if status.retry_at is None or status.state in (SyncState.AUTH_REQUIRED, SyncState.ONLINE):
            self._retry_timer.stop()
            self.retry_label.hide()
            return
        left = status.retry_at - self._now()
        if left > _COUNTDOWN_LIMIT:
            when = i18n.format_clock(status.retry_at.astimezone(self._zone()))
            text = _("Next try at {when}").format(when=when)
            self._retry_timer.stop()
        elif left > dt.timedelta(0):
            seconds = math.ceil(left.total_seconds())
            text = _("Next try in {seconds} s").format(seconds=seconds)
            self._retry_timer.start()
        else:
            text = _("Trying again…")
            self._retry_timer.stop()
        self.retry_label.setText(text)
        self.retry_label.show()


class PendingDialog(QDialog):
    """The queued commands and the requests waiting for the server, oldest first, in
    words (kept current while open)."""

    def __init__(self, operations: Operations, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("pending-dialog")
        self.operations = operations
        self.setWindowTitle(_("Pending changes"))
        self.resize(640, 420)
        layout = QVBoxLayout(self)
        self.intro = QLabel()
        self.intro.setWordWrap(True)
        self.list = QListWidget()
        self.list.setAccessibleName(_("Pending changes"))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(self.intro)
        layout.addWidget(self.list, 1)
        layout.addWidget(buttons)
        operations.bus.changed.connect(self._changes_arrived)
        self.refresh()

    def _changes_arrived(self, changes: Changes) -> None:
        if changes.outbox:
            self.refresh()

    def refresh(self) -> None:
        store = self.operations.store
        lines = [describe_command(command, store.cache) for command in store.queued()]
        lines += [describe_call(call) for call in store.deferred_calls()]
        self.list.clear()
        self.list.addItems(lines)
        self.intro.setText(
            ngettext(
                "{count} change is waiting to be sent to the server. Nothing is lost: "
                "it is sent as soon as the server can be reached.",
                "{count} changes are waiting to be sent to the server. Nothing is lost: "
                "they are sent as soon as the server can be reached.",
                len(lines),
            ).format(count=len(lines))
        )


class ConflictsPanel(QDialog):
    """Each unresolved conflict with both sides in words, and the store's choices (kept
    current while open)."""

    def __init__(self, operations: Operations, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("conflicts-panel")
        self.operations = operations
        self.store = operations.store
        self.setWindowTitle(_("Conflicts"))
        self.resize(720, 460)
        layout = QVBoxLayout(self)
        intro = QLabel(
            _(
                "These changes of yours clashed with changes made on the server while you "
                "were offline. For each, apply yours again on top of the new version, or keep "
                "the server's version."
            )
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.rows = QWidget()
        self.rows_layout = QVBoxLayout(self.rows)
        self.rows_layout.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.rows)
        layout.addWidget(scroll, 1)
        self.empty = QLabel(_("No conflicts: every change of yours reached the server."))
        layout.addWidget(self.empty)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        operations.bus.changed.connect(self._changes_arrived)
        self.refresh()

    def _changes_arrived(self, changes: Changes) -> None:
        if changes.conflicts:
            self.refresh()

    def conflict_rows(self) -> list[QFrame]:
        return self.rows.findChildren(QFrame, "conflict")

    def refresh(self) -> None:
        while self.rows_layout.count():
            item = self.rows_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
                widget.setParent(None)
        conflicts = self.store.conflicts()
        for conflict in conflicts:
            self.rows_layout.addWidget(self._row(conflict))
        self.rows_layout.addStretch(1)
        self.empty.setVisible(not conflicts)

    def _row(self, conflict: ConflictView) -> QFrame:
        cache = self.store.cache
        frame = QFrame()
        frame.setObjectName("conflict")
        frame.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(frame)
        title = QLabel(
            f"<b>{conflict.server_ticket.tracking_number}</b> — {conflict.server_ticket.subject}"
        )
        title.setTextFormat(Qt.TextFormat.RichText)
        what = QLabel(conflict_text(conflict, cache))
        what.setObjectName("conflict-text")
        what.setWordWrap(True)
        yours = QLabel(
            _("Your change: {change}").format(change=describe_command(conflict.command, cache))
        )
        yours.setWordWrap(True)
        buttons = QHBoxLayout()
        reapply = QPushButton(_("Apply mine again"))
        reapply.setObjectName("reapply")
        reapply.setToolTip(_("Send your change again, on top of the server's new version"))
        discard = QPushButton(_("Keep the server's version"))
        discard.setObjectName("discard")
        discard.setToolTip(_("Drop your change"))
        reapply.clicked.connect(lambda: self.resolve(conflict.id, Resolution.REAPPLY))
        discard.clicked.connect(lambda: self.resolve(conflict.id, Resolution.DISCARD))
        buttons.addStretch(1)
        buttons.addWidget(discard)
        buttons.addWidget(reapply)
        layout.addWidget(title)
        layout.addWidget(what)
        layout.addWidget(yours)
        layout.addLayout(buttons)
        return frame

    def resolve(self, conflict_id: int, choice: Resolution) -> None:
        """Apply the user's choice (the panel, the queue and the counters follow)."""
        self.operations.local(lambda store: store.resolve_conflict(conflict_id, choice))


class RejectedDialog(QDialog):
    """Changes the server refused, with its reasons; each can be dismissed (kept current
    while open)."""

    def __init__(self, operations: Operations, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("rejected-dialog")
        self.operations = operations
        self.store = operations.store
        self.setWindowTitle(_("Refused changes"))
        self.resize(640, 420)
        layout = QVBoxLayout(self)
        intro = QLabel(_("The server refused these changes; they were undone here."))
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.list = QListWidget()
        self.list.setAccessibleName(_("Refused changes"))
        self.list.setWordWrap(True)
        layout.addWidget(self.list, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.dismiss_button = buttons.addButton(
            _("Dismiss all"), QDialogButtonBox.ButtonRole.ActionRole
        )
        self.dismiss_button.clicked.connect(self.dismiss_all)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._items: list[RejectedView] = []
        self._calls: list[DeferredCall] = []
        operations.bus.changed.connect(self._changes_arrived)
        self.refresh()

    def _changes_arrived(self, changes: Changes) -> None:
        if changes.rejections:
            self.refresh()

    def refresh(self) -> None:
        self.list.clear()
        self._items = self.store.rejected()
        self._calls = self.store.deferred_calls(refused=True)
        for item in self._items:
            self.list.addItem(
                _("{change} — refused: {reason}").format(
                    change=describe_command(item.command, self.store.cache), reason=item.message
                )
            )
        for call in self._calls:
            self.list.addItem(
                _("{change} — refused: {reason}").format(
                    change=describe_call(call), reason=call.refusal or ""
                )
            )
        self.dismiss_button.setEnabled(bool(self._items or self._calls))

    def dismiss_all(self) -> None:
        items, calls = self._items, self._calls

        def dismiss(store: Store) -> None:
            for item in items:
                store.dismiss_rejected(item.id)
            for call in calls:
                store.dismiss_refused_call(call)

        self.operations.local(dismiss)
