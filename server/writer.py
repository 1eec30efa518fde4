"""Changing one ticket within a transaction: its version, its history, its feed rows."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from server import changes as feed
from server.models import Comment, Ticket, TicketHistory, User
from server.ticket_sla import history_by_ticket
from server.tickets import comment_out, history_out, ticket_out


class TicketWriter:
    """Changes to one ticket within one transaction: history, version, feed."""

    def __init__(
        self,
        session: Session,
        changes: feed.ChangeSet,
        ticket: Ticket,
        actor: User | None,
        now: dt.datetime,
    ) -> None:
        self.session = session
        self.ticket = ticket
        self.actor = actor
        self.now = now
        self._entries: list[TicketHistory] = []
        self._comments: list[Comment] = []
        self._bumped = False
        # the ticket's group in the feed: the first writer of the transaction sets the
        # team its readers saw it in
        self._group = changes.ticket(ticket.id, team_before=ticket.team_id)

    def bump(self) -> int:
        if not self._bumped:
            self.ticket.version += 1
            self.ticket.updated_at = self.now
            self._bumped = True
        return self.ticket.version

    def record(self, field: str, before: str | None, after: str | None) -> None:
        entry = TicketHistory(
            ticket_id=self.ticket.id,
            version=self.bump(),
            actor_id=None if self.actor is None else self.actor.id,
            at=self.now,
            field=field,
            before=before,
            after=after,
        )
        self.session.add(entry)
        self._entries.append(entry)

    def change(self, field: Literal["status", "priority", "severity"], value: str) -> bool:
        """Set the ticket's ``field`` to ``value``, in its history if that changes it;
        whether it did."""
        before: str = getattr(self.ticket, field)
        if value == before:
            return False
        setattr(self.ticket, field, value)
        self.record(field, before, value)
        return True

    def comment(self, body: str, public: bool) -> Comment:
        comment = Comment(
            ticket_id=self.ticket.id,
            author_id=None if self.actor is None else self.actor.id,
            body=body,
            public=public,
            created_at=self.now,
        )
        self.session.add(comment)
        self.session.flush()
        self._comments.append(comment)
        self.record("reply" if public else "note", None, str(comment.id))
        return comment

    @property
    def changed(self) -> bool:
        return self._bumped

    def finish(self) -> None:
        """Queue the feed rows for what changed (nothing when nothing did)."""
        if not self._bumped:
            return
        self.session.flush()
        ticket, session, now, group = self.ticket, self.session, self.now, self._group
        group.team_id = ticket.team_id
        # computed once, as the ticket ends the transaction
        group.data = lambda: ticket_out(session, ticket, now).model_dump(mode="json")
        group.everything = self._everything
        for comment in self._comments:
            group.add_child("comment", comment.id, comment_out(comment).model_dump(mode="json"))
        for entry in self._entries:
            group.add_child("history", entry.id, history_out(entry).model_dump(mode="json"))

    def _everything(self) -> list[feed.Child]:
        """Every comment and history entry of the ticket: what a team it arrives in gets."""
        ticket_id = self.ticket.id
        children: list[feed.Child] = [
            ("comment", comment.id, comment_out(comment).model_dump(mode="json"))
            for comment in self.session.scalars(
                select(Comment).where(Comment.ticket_id == ticket_id).order_by(Comment.id)
            )
        ]
        children.extend(
            ("history", entry.id, history_out(entry).model_dump(mode="json"))
            for entry in history_by_ticket(self.session, [ticket_id])[ticket_id]
        )
        return children
