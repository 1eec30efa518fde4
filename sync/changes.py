"""What a write to the cache changed, said once by the writer, for whoever shows it.

Every write of :class:`sync.store.Store` (a command, a page of the feed, the
answers to a push…) returns or carries a :class:`Changes` and publishes it to
the store's subscribers: a table refreshes the tickets named, a status bar
counts the outbox again when it changed, a panel of announcements reads them
again when they changed, and nobody guesses what a write did from differences
in counts or by scanning the cache.  Changes merge with ``|``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Changes"]


@dataclass(frozen=True, slots=True)
class Changes:
    """What one write changed.  Falsy when it changed nothing."""

    #: tickets whose row, comments or history changed (added, updated or removed)
    tickets: frozenset[int] = frozenset()
    #: every ticket may have changed: read them all again (``tickets`` is then moot)
    all_tickets: bool = False
    #: commands were queued, sent, answered or withdrawn: the outbox's counts moved
    outbox: bool = False
    #: users, teams or organisations (names, roles, memberships, plans)
    directory: bool = False
    announcements: bool = False
    articles: bool = False
    #: a conflict was detected or resolved
    conflicts: bool = False
    #: a command was refused by the server, or the user dismissed a refusal
    rejections: bool = False

    @classmethod
    def of_tickets(cls, ticket_ids: Iterable[int], *, outbox: bool = False) -> Changes:
        """These tickets changed (and, with ``outbox``, the outbox too)."""
        return cls(tickets=frozenset(ticket_ids), outbox=outbox)

    @classmethod
    def everything(cls) -> Changes:
        """Anything may have changed (the cache was rebuilt, say)."""
        return cls(
            all_tickets=True,
            outbox=True,
            directory=True,
            announcements=True,
            articles=True,
            conflicts=True,
            rejections=True,
        )

    def touches(self, ticket_id: int) -> bool:
        """Whether ``ticket_id`` may have changed."""
        return self.all_tickets or ticket_id in self.tickets

    def __or__(self, other: Changes) -> Changes:
        if not isinstance(other, Changes):
            return NotImplemented
        return Changes(
            tickets=self.tickets | other.tickets,
            all_tickets=self.all_tickets or other.all_tickets,
            outbox=self.outbox or other.outbox,
            directory=self.directory or other.directory,
            announcements=self.announcements or other.announcements,
            articles=self.articles or other.articles,
            conflicts=self.conflicts or other.conflicts,
            rejections=self.rejections or other.rejections,
        )

    def __bool__(self) -> bool:
        return bool(
            self.tickets
            or self.all_tickets
            or self.outbox
            or self.directory
            or self.announcements
            or self.articles
            or self.conflicts
            or self.rejections
        )
