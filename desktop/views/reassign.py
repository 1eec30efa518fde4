"""Reassigning tickets: pick an agent or a team (filtered as you type), see the effect first.

Before anything is queued the dialog says what the move does to SLA ("3 tickets,
1 will breach within the hour", computed with :mod:`sla` from the cache) and how
loaded the chosen agent already is (open / at risk / breached).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable, Sequence
from typing import Final

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.models.forecast import MovePreview, evaluate_tickets, load_open_tickets, preview_move
from desktop.models.sla_cells import SlaRules
from desktop.models.workload import Target, WorkloadRow, led_teams
from desktop.operations import Cache
from i18n import _, ngettext

__all__ = ["ReassignDialog", "reassign_targets"]

_TARGET_ROLE: Final = int(Qt.ItemDataRole.UserRole) + 1


def _folded(text: str) -> str:
    """Lower case without accents: "lefevre" finds "Lefèvre"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def reassign_targets(cache: Cache, me: int | None) -> list[tuple[Target, str]]:
    """Agents of the teams the user leads, then every team (unassigned), with their labels."""
    users = {user.id: user for user in cache.users()}
    found: list[tuple[Target, str]] = []
    led = led_teams(cache, me)
    for team in led:
        members = [users[i] for i in team.member_ids if i in users and users[i].active]
        for user in sorted(members, key=lambda u: (u.display_name.casefold(), u.id)):
            found.append(
                (
                    Target(team.id, user.id, user.display_name),
                    _("{agent} · {team}").format(agent=user.display_name, team=team.name),
                )
            )
    for team in sorted(cache.teams(), key=lambda t: (t.name.casefold(), t.id)):
        found.append(
            (
                Target(team.id, None, team.name),
                _("{team} (team, nobody assigned)").format(team=team.name),
            )
        )
    return found


def target_load(cache: Cache, target: Target, rules: SlaRules, now: dt.datetime) -> WorkloadRow:
    """The open tickets the target already holds, counted like the workload panel."""
    tickets = [
        ticket
        for ticket in load_open_tickets(cache, team_ids=[target.team_id])
        if ticket.assignee_id == target.agent_id
    ]
    flags = evaluate_tickets(tickets, rules, now)
    row = WorkloadRow(target.team_id, "", target.agent_id, target.label)
    row.ticket_ids = [ticket.id for ticket in tickets]
    row.open = len(tickets)
    row.at_risk = sum(f.at_risk for f in flags)
    row.breached = sum(f.breached for f in flags)
    row.pending = sum(f.pending for f in flags)
    row.forecast = sum(f.forecast for f in flags)
    return row


class ReassignDialog(QDialog):
    """Where should these tickets go?  :attr:`target` once accepted."""

    def __init__(
        self,
        cache: Cache,
        ticket_ids: Sequence[int],
        *,
        me: int | None,
        rules: SlaRules,
        now: Callable[[], dt.datetime],
        target: Target | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("reassign-dialog")
        self.setWindowTitle(_("Reassign tickets"))
        self.cache = cache
        self.ticket_ids = list(dict.fromkeys(ticket_ids))
        self._rules = rules
        self._now = now
        self.preview: MovePreview = preview_move(cache, self.ticket_ids, rules, now())

        self.intro = QLabel()
        self.intro.setWordWrap(True)
        self.filter_edit = QLineEdit()
        self.filter_edit.setObjectName("reassign-filter")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setPlaceholderText(_("Type a name to filter agents and teams"))
        self.filter_edit.setAccessibleName(_("Filter agents and teams"))
        self.filter_edit.installEventFilter(self)
        self.targets = QListWidget()
        self.targets.setObjectName("reassign-targets")
        self.targets.setAccessibleName(_("Agents and teams"))
        self.targets.setUniformItemSizes(True)
        self.targets.setStyleSheet("QListWidget::item { padding: 3px 2px; }")
        for found, label in reassign_targets(cache, me):
            item = QListWidgetItem(label, self.targets)
            item.setData(_TARGET_ROLE, found)
        self.impact_label = QLabel()
        self.impact_label.setObjectName("reassign-impact")
        self.impact_label.setWordWrap(True)
        self.load_label = QLabel()
        self.load_label.setObjectName("reassign-load")
        self.load_label.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(_("Reassign"))
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(_("Cancel"))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.setSpacing(8)
        layout.addWidget(self.intro)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.targets, 1)
        layout.addWidget(self.impact_label)
        layout.addWidget(self.load_label)
        layout.addWidget(self.buttons)

        self.intro.setText(
            ngettext(
                "Reassign {count} ticket to:", "Reassign {count} tickets to:", len(self.ticket_ids)
            ).format(count=len(self.ticket_ids))
        )
        self.impact_label.setText(self.preview.text())
        self.filter_edit.textChanged.connect(self.apply_filter)
        self.targets.currentItemChanged.connect(lambda _current, _previous: self._target_changed())
        self.targets.itemActivated.connect(lambda _item: self.accept())
        self.resize(max(460, self.sizeHint().width()), 480)
        if target is not None:
            self.select(target)
        self._target_changed()

    # -- choosing ---------------------------------------------------------------------------

    @property
    def target(self) -> Target | None:
        item = self.targets.currentItem()
        if item is None or item.isHidden():
            return None
        found = item.data(_TARGET_ROLE)
        return found if isinstance(found, Target) else None

    def select(self, target: Target) -> None:
        for row in range(self.targets.count()):
            item = self.targets.item(row)
            if item.data(_TARGET_ROLE) == target:
                self.targets.setCurrentItem(item)
                return
        # a drop on an agent this list does not offer (another team's member): add it
        item = QListWidgetItem(target.label, self.targets)
        item.setData(_TARGET_ROLE, target)
        self.targets.setCurrentItem(item)

    def visible_labels(self) -> list[str]:
        return [
            self.targets.item(row).text()
            for row in range(self.targets.count())
            if not self.targets.item(row).isHidden()
        ]

    def apply_filter(self, text: str) -> None:
        """Keep the agents and teams whose name contains every typed word."""
        words = _folded(text).split()
        first: QListWidgetItem | None = None
        for row in range(self.targets.count()):
            item = self.targets.item(row)
            shown = all(word in _folded(item.text()) for word in words)
            item.setHidden(not shown)
            if shown and first is None:
                first = item
        current = self.targets.currentItem()
        if current is None or current.isHidden():
            self.targets.setCurrentItem(first)  # type: ignore[arg-type]
        self._target_changed()

    def _target_changed(self) -> None:
        target = self.target
        self.ok_button.setEnabled(target is not None and bool(self.ticket_ids))
        if target is None:
            self.load_label.setText(_("Choose an agent or a team."))
            return
        load = target_load(self.cache, target, self._rules, self._now())
        if target.agent_id is None:
            text = _("{team} now has {load} without an assignee.")
        else:
            text = _("{agent} now has {load}.")
        self.load_label.setText(
            text.format(agent=target.label, team=target.label, load=load.load_text())
        )

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Up and Down in the filter box move in the list; Enter confirms."""
        if watched is self.filter_edit and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            key = event.key()
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up):
                self._step(1 if key == Qt.Key.Key_Down else -1)
                return True
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                if self.ok_button.isEnabled():
                    self.accept()
                return True
        return super().eventFilter(watched, event)

    def _step(self, step: int) -> None:
        shown = [
            row for row in range(self.targets.count()) if not self.targets.item(row).isHidden()
        ]
        if not shown:
            return
        current = self.targets.currentRow()
        if current not in shown:
            self.targets.setCurrentRow(shown[0])
            return
        position = min(max(shown.index(current) + step, 0), len(shown) - 1)
        self.targets.setCurrentRow(shown[position])
