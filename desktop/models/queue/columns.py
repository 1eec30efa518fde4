"""The queue's tickets in columns: one list (or byte array) a field, one entry a ticket.

A ticket's entry is its *slot*: its position in ticket id order when the queue
was read.  No object a ticket and no server JSON is kept, and repeated codes
(priority, severity, status) are the interned strings the read API returns, so
100,000 tickets cost a few lists.  The names shown beside the fields (the
organisations, the users) come with them, from the same read.

No Qt here, and no SQL: the columns are filled from :mod:`sync.queries`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

from sla.events import Status
from sync.queries import Directory, TicketColumns

__all__ = ["QueueColumns", "QueueTicket", "parse_instant"]

_DONE: Final = frozenset({Status.RESOLVED.value, Status.CLOSED.value})


@dataclass(frozen=True, slots=True)
class QueueTicket:
    """The fields of a ticket the queue shows (server state with pending work).

    Not :class:`sync.queries.TicketView`: the queue keeps the fields it shows in
    columns, for every cached ticket, and leaves out the description, the
    requester and the tags, which 100,000 tickets would cost memory for.  Its
    instants are parsed (the columns keep the cache's text).
    """

    id: int
    tracking_number: str
    subject: str
    organisation_id: int
    priority: str
    severity: str
    status: str
    team_id: int
    assignee_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    #: commands of this ticket not yet seen in a pull: its SLA is provisional
    pending: bool


def parse_instant(text: str) -> dt.datetime:
    """An instant as the cache keeps it (ISO text in UTC), aware."""
    when = dt.datetime.fromisoformat(text)
    return when if when.tzinfo is dt.UTC else when.astimezone(dt.UTC)


class QueueColumns:
    """Every cached ticket's queue fields, by slot, and the directory's names."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.ids: list[int] = []
        self.slot_of: dict[int, int] = {}
        self.tracking: list[str] = []
        self.subject: list[str] = []
        self.organisation: list[int] = []
        self.priority: list[str] = []
        self.severity: list[str] = []
        self.status: list[str] = []
        self.team: list[int] = []
        self.assignee: list[int | None] = []
        #: instants as the cache's ISO text in UTC, which sorts as the instants do
        self.created: list[str] = []
        self.updated: list[str] = []
        self.version: list[int] = []  # the server's version of each ticket
        #: 1 where the ticket has commands in the outbox (its SLA is provisional)
        self.pending = bytearray()
        #: the ids of the tickets with pending work, as last read
        self.pending_ids: set[int] = set()
        #: 1 where the ticket is resolved or closed
        self.done = bytearray()
        #: organisation id -> (name, plan code)
        self.organisations: dict[int, tuple[str, str]] = {}
        #: user id -> display name
        self.users: dict[int, str] = {}
        #: the teams of the user the queue is for (None: not known)
        self.my_teams: set[int] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def load(self, tickets: TicketColumns, pending: set[int], directory: Directory) -> None:
        """Hold these tickets (every cached one, by id), with pending work on ``pending``."""
        self.clear()
        self.set_directory(directory)
        self.ids = tickets.ids
        self.tracking = tickets.tracking_numbers
        self.subject = tickets.subjects
        self.organisation = tickets.organisation_ids
        self.priority = tickets.priorities
        self.severity = tickets.severities
        self.status = tickets.statuses
        self.team = tickets.team_ids
        self.assignee = tickets.assignee_ids
        self.created = tickets.created_at
        self.updated = tickets.updated_at
        self.version = tickets.versions
        self.slot_of = {ticket_id: slot for slot, ticket_id in enumerate(self.ids)}
        self.pending = bytearray(ticket_id in pending for ticket_id in self.ids)
        self.pending_ids = pending
        self.done = bytearray(code in _DONE for code in self.status)

    def set_directory(self, directory: Directory) -> None:
        self.organisations = directory.organisations
        self.users = directory.user_names
        self.my_teams = directory.my_team_ids

    def set_fields(self, slot: int, tickets: TicketColumns, row: int) -> None:
        """Take one ticket's fields, read again (entry ``row`` of ``tickets``)."""
        status = tickets.statuses[row]
        self.tracking[slot] = tickets.tracking_numbers[row]
        self.subject[slot] = tickets.subjects[row]
        self.organisation[slot] = tickets.organisation_ids[row]
        self.priority[slot] = tickets.priorities[row]
        self.severity[slot] = tickets.severities[row]
        self.status[slot] = status
        self.team[slot] = tickets.team_ids[row]
        self.assignee[slot] = tickets.assignee_ids[row]
        self.created[slot] = tickets.created_at[row]
        self.updated[slot] = tickets.updated_at[row]
        self.version[slot] = tickets.versions[row]
        self.done[slot] = status in _DONE

    def plan(self, slot: int) -> str:
        """The plan code of the ticket's organisation ("" when not cached)."""
        known = self.organisations.get(self.organisation[slot])
        return known[1] if known is not None else ""

    def organisation_name(self, slot: int) -> str:
        known = self.organisations.get(self.organisation[slot])
        return known[0] if known is not None else ""

    def assignee_name(self, assignee: int | None) -> str | None:
        """The display name of ``assignee`` ("#7" when not cached); None for nobody."""
        if assignee is None:
            return None
        name = self.users.get(assignee)
        return name if name is not None else f"#{assignee}"

    def ticket(self, slot: int) -> QueueTicket:
        return QueueTicket(
            id=self.ids[slot],
            tracking_number=self.tracking[slot],
            subject=self.subject[slot],
            organisation_id=self.organisation[slot],
            priority=self.priority[slot],
            severity=self.severity[slot],
            status=self.status[slot],
            team_id=self.team[slot],
            assignee_id=self.assignee[slot],
            created_at=parse_instant(self.created[slot]),
            updated_at=parse_instant(self.updated[slot]),
            pending=bool(self.pending[slot]),
        )
