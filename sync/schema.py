"""The local cache's tables (SQLAlchemy Core), as of the newest migration.

The schema itself is created and evolved by the Alembic revisions in
``sync/migrations``; this module describes the head revision so queries are
written against typed columns (a test checks that the two agree).

Server state and local work live side by side: ``tickets`` rows carry the
server's raw row (``server_row``) so a rebase can always go back to "what the
server said" before re-applying the outbox; comments and history rows written
optimistically have no ``server_id`` yet and carry the ``mutation_id`` of the
command that made them.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator

__all__ = [
    "FTS_TABLE",
    "UTCDateTime",
    "announcements",
    "articles",
    "comments",
    "conflicts",
    "deferred_calls",
    "include_name",
    "metadata",
    "organisations",
    "outbox",
    "parked",
    "rejected_commands",
    "sla_documents",
    "sync_state",
    "teams",
    "ticket_history",
    "tickets",
    "users",
    "utc_text",
]

#: The FTS5 table over ticket subject, description and comments (rowid = ticket id).
FTS_TABLE: Final = "ticket_search"

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Schema comparisons leave the FTS5 table and its shadow tables alone (raw DDL)."""
    return not (type_ == "table" and name is not None and name.startswith(FTS_TABLE))


_NO_OFFSET: Final = dt.timedelta(0)


def utc_text(value: dt.datetime | None) -> str | None:
    """How :class:`UTCDateTime` stores an aware instant: ISO 8601 text in UTC."""
    if value is None:
        return None
    offset = value.utcoffset()
    if offset is None:
        raise ValueError("naive datetimes are not stored: attach a time zone")
    if offset != _NO_OFFSET:
        value = value.astimezone(dt.UTC)
    return value.isoformat(timespec="microseconds")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """An aware instant stored as ISO 8601 text in UTC (sorts as text, reads back aware)."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> str | None:
        return utc_text(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return dt.datetime.fromisoformat(value).astimezone(dt.UTC)


def _json() -> JSON:
    return JSON(none_as_null=True)


tickets = Table(
    "tickets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("tracking_number", String(32), nullable=False, unique=True),
    Column("subject", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("requester_name", Text, nullable=False),
    Column("requester_email", Text, nullable=False),
    Column("organisation_id", Integer, nullable=False),
    Column("priority", String(8), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("team_id", Integer, nullable=False),
    Column("assignee_id", Integer, nullable=True),
    Column("tags", _json(), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # the ticket exactly as the server last sent it: what a rebase starts from
    Column("server_row", _json(), nullable=False),
    Index("ix_tickets_status", "status"),
    Index("ix_tickets_team_id", "team_id"),
    Index("ix_tickets_assignee_id", "assignee_id"),
    Index("ix_tickets_updated_at", "updated_at"),
)

comments = Table(
    "comments",
    metadata,
    Column("local_id", Integer, primary_key=True),
    Column("server_id", Integer, nullable=True, unique=True),
    Column("ticket_id", Integer, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False),
    Column("author_id", Integer, nullable=True),
    Column("body", Text, nullable=False),
    Column("public", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # set on comments written optimistically by a pending add_comment command
    Column("mutation_id", String(36), nullable=True, unique=True),
    Index("ix_comments_ticket_id", "ticket_id"),
)

ticket_history = Table(
    "ticket_history",
    metadata,
    Column("local_id", Integer, primary_key=True),
    Column("server_id", Integer, nullable=True, unique=True),
    Column("ticket_id", Integer, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=True),
    Column("actor_id", Integer, nullable=True),
    Column("at", UTCDateTime, nullable=False),
    Column("field", String(32), nullable=False),
    Column("before", Text, nullable=True),
    Column("after", Text, nullable=True),
    Column("mutation_id", String(36), nullable=True),
    Index("ix_ticket_history_ticket_id", "ticket_id"),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("username", String(150), nullable=False),
    Column("display_name", Text, nullable=False),
    Column("email", Text, nullable=False),
    Column("role", String(16), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("team_ids", _json(), nullable=False),
    Column("server_row", _json(), nullable=False),
)

teams = Table(
    "teams",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", Text, nullable=False),
    Column("member_ids", _json(), nullable=False),
    Column("server_row", _json(), nullable=False),
)

organisations = Table(
    "organisations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", Text, nullable=False),
    Column("plan", String(32), nullable=False),
    Column("server_row", _json(), nullable=False),
)

sla_documents = Table(
    "sla_documents",
    metadata,
    # "policy" or "calendar": the sla.policy JSON documents in force
    Column("kind", String(16), primary_key=True),
    Column("document", _json(), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

announcements = Table(
    "announcements",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("starts_at", UTCDateTime, nullable=True),
    Column("ends_at", UTCDateTime, nullable=True),
    Column("server_row", _json(), nullable=False),
)

articles = Table(
    "articles",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("tags", _json(), nullable=False),
    Column("updated_at", UTCDateTime, nullable=True),
    Column("server_row", _json(), nullable=False),
)

sync_state = Table(
    "sync_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("cursor", Text, nullable=True),
    Column("last_sync_at", UTCDateTime, nullable=True),
    # server clock minus local clock, from the responses' Date headers
    Column("clock_offset_seconds", Float, nullable=False, server_default="0"),
    # true only inside the transaction that stores a page: the tickets insert trigger
    # leaves the full-text rows to that transaction, which writes them in one statement
    Column("search_deferred", Boolean, nullable=False, server_default="0"),
    CheckConstraint("id = 1", name="single_row"),
)

outbox = Table(
    "outbox",
    metadata,
    # AUTOINCREMENT: a sequence number is never reused, so order is send order
    Column("seq", Integer, primary_key=True),
    Column("mutation_id", String(36), nullable=False, unique=True),
    Column("ticket_id", Integer, nullable=False),
    Column("type", String(32), nullable=False),
    Column("base_version", Integer, nullable=False),
    # the protocol command, as sent on the wire
    Column("payload", _json(), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # pending: not yet applied by the server; applied: waiting for the pull that shows it
    Column("state", String(16), nullable=False, server_default="pending"),
    Column("applied_version", Integer, nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_attempt_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    CheckConstraint("state IN ('pending', 'applied')", name="state"),
    Index("ix_outbox_ticket_id", "ticket_id"),
    Index("ix_outbox_state_seq", "state", "seq"),
    sqlite_autoincrement=True,
)

# requests other than ticket commands that wait for the server (an announcement published
# offline, say): sent after the outbox, in order, each under its key (sync.deferred)
deferred_calls = Table(
    "deferred_calls",
    metadata,
    # AUTOINCREMENT: a sequence number is never reused, so order is send order
    Column("seq", Integer, primary_key=True),
    # the idempotency key the request carries: a re-send is answered, not done again
    Column("key", String(36), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    # the request's body, as sent on the wire (its key included)
    Column("payload", _json(), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_attempt_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    # set once the server refused it: kept, not sent again, until the user has read why
    Column("refused_at", UTCDateTime, nullable=True),
    Column("refusal", Text, nullable=True),
    sqlite_autoincrement=True,
)

# comments and history entries of a ticket not held yet, kept until it arrives (or
# the server says it is not ours to see): what the feed sends is never dropped
parked = Table(
    "parked",
    metadata,
    Column("entity", String(16), primary_key=True),
    Column("server_id", Integer, primary_key=True, autoincrement=False),
    Column("ticket_id", Integer, nullable=False),
    Column("data", _json(), nullable=False),
    Index("ix_parked_ticket_id", "ticket_id"),
)

conflicts = Table(
    "conflicts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("mutation_id", String(36), nullable=False, unique=True),
    Column("ticket_id", Integer, nullable=False),
    Column("command", _json(), nullable=False),
    Column("server_ticket", _json(), nullable=False),
    Column("fields", _json(), nullable=False),
    Column("detected_at", UTCDateTime, nullable=False),
    # null while the user has not chosen; reapplied, discarded, reapplied_automatically
    Column("resolution", String(32), nullable=True),
    Column("resolved_at", UTCDateTime, nullable=True),
    Column("replacement_mutation_id", String(36), nullable=True),
    Index("ix_conflicts_resolution", "resolution"),
)

rejected_commands = Table(
    "rejected_commands",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("mutation_id", String(36), nullable=False, unique=True),
    Column("ticket_id", Integer, nullable=False),
    Column("command", _json(), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("message", Text, nullable=False),
    Column("rejected_at", UTCDateTime, nullable=False),
    Column("dismissed_at", UTCDateTime, nullable=True),
)
