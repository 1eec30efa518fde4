"""The server's tables (SQLAlchemy 2, typed).

Tickets carry a ``version`` bumped by every change; ``ticket_history`` is
append-only and records every change from creation to closure (the SLA clocks
are replayed from it, never stored).  ``change_log`` is the change feed: its
``seq`` is taken at the end of each writing transaction, under a lock, so the
order of ``seq`` is the order of commits.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, UTCDateTime


def _check_in(column: str, values: list[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


ROLES = ["agent", "team_lead", "admin"]
PLANS = ["enterprise", "business", "professional"]
PRIORITIES = ["P1", "P2", "P3", "P4"]
SEVERITIES = ["blocking", "major", "minor"]
STATUSES = ["new", "open", "pending", "resolved", "closed"]


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_check_in("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    memberships: Mapped[list[TeamMember]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def team_ids(self) -> list[int]:
        return sorted(m.team_id for m in self.memberships)


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)

    members: Mapped[list[TeamMember]] = relationship(
        back_populates="team", cascade="all, delete-orphan", lazy="selectin"
    )


class TeamMember(Base):
    __tablename__ = "team_members"

    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)

    team: Mapped[Team] = relationship(back_populates="members")
    user: Mapped[User] = relationship(back_populates="memberships")


class Organisation(Base):
    __tablename__ = "organisations"
    __table_args__ = (CheckConstraint(_check_in("plan", PLANS), name="plan"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    plan: Mapped[str] = mapped_column(String(32))
    #: The language of the e-mails its requesters receive (``fr`` or ``en``).
    language: Mapped[str] = mapped_column(String(8), default="fr", server_default="fr")


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint(_check_in("priority", PRIORITIES), name="priority"),
        CheckConstraint(_check_in("severity", SEVERITIES), name="severity"),
        CheckConstraint(_check_in("status", STATUSES), name="status"),
        Index("ix_tickets_team_status", "team_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tracking_number: Mapped[str] = mapped_column(String(32), unique=True)
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    requester_name: Mapped[str] = mapped_column(String(200))
    requester_email: Mapped[str] = mapped_column(String(320))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    priority: Mapped[str] = mapped_column(String(2))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    tags: Mapped[list[str]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Comment(Base):
    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    public: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class TicketHistory(Base):
    """Append-only: one row per changed field, with the ticket version it produced."""

    __tablename__ = "ticket_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    field: Mapped[str] = mapped_column(String(32))
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)


class AuthToken(Base):
    """A bearer token, known only by its SHA-256."""

    __tablename__ = "auth_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class LoginFailure(Base):
    """A failed login, counted per account (``user:``) and per address (``addr:``)."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_login_failures_key_at", "key", "at"),)


class AppliedMutation(Base):
    """The first answer to a client mutation id: a re-send gets it again."""

    __tablename__ = "applied_mutations"

    mutation_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    ticket_id: Mapped[int] = mapped_column(Integer)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Counter(Base):
    """Named counters (the change-feed sequence, tracking numbers per year)."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class ChangeLog(Base):
    """The change feed; ``team_id`` scopes visibility (null: visible to every user)."""

    __tablename__ = "change_log"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entity: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[int] = mapped_column(Integer)
    op: Mapped[str] = mapped_column(String(8))
    team_id: Mapped[int | None] = mapped_column(Integer, index=True)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: the last sequence number of this row's group: a ticket and what came with it in
    #: one commit, which a page never splits (null: a group of one row)
    group_end: Mapped[int | None] = mapped_column(BigInteger)


class SlaConfig(Base):
    """The SLA policy and calendar in force (``sla.policy`` JSON documents); one row."""

    __tablename__ = "sla_config"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    policy_json: Mapped[str] = mapped_column(Text)
    calendar_json: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Announcement(Base):
    """A blocking-incident notice shown to every user, from ``starts_at`` until ended.

    ``ends_at`` is the expected end announced to users; ``ended_at`` is when a
    lead actually ended it (null while it runs).
    """

    __tablename__ = "announcements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer)
    #: the publisher's key (``AnnouncementIn.mutation_id``): publishing again with it
    #: returns this announcement rather than a second one
    mutation_id: Mapped[str | None] = mapped_column(String(36), unique=True)


class Article(Base):
    """A knowledge-base article; ``search_text`` is its folded text (no case, no accents)."""

    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON)
    search_text: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer)


EMAIL_STATES = ["queued", "sent", "failed"]


class OutboundEmail(Base):
    """A requester notification, queued in the transaction of the change it reports.

    A worker claims a row by setting ``lease_token``/``lease_until`` (counting an
    attempt), sends it outside any transaction, then records the outcome if it
    still holds the lease.
    """

    __tablename__ = "email_outbox"
    __table_args__ = (
        CheckConstraint(_check_in("state", EMAIL_STATES), name="state"),
        Index("ix_email_outbox_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    recipient: Mapped[str] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(400))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(8))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    lease_token: Mapped[str | None] = mapped_column(String(36))
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


PRESENCE_ACTIVITIES = ["viewing", "replying"]


class Presence(Base):
    """When a user was last seen (a presence report or a change-feed pull), and on what.

    ``ticket_id``/``activity`` are what the user last reported, at ``activity_at``;
    one row per user, shared by every server process on the database.
    """

    __tablename__ = "presence"
    __table_args__ = (
        CheckConstraint(
            f"activity IS NULL OR {_check_in('activity', PRESENCE_ACTIVITIES)}", name="activity"
        ),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ticket_id: Mapped[int | None] = mapped_column(Integer, index=True)
    activity: Mapped[str | None] = mapped_column(String(16))
    activity_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
