"""initial cache schema: tickets and their satellites, the outbox, full-text search

Revision ID: 0001
Revises:
Create Date: 2026-11-28 04:19:16.885788
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Full-text search over subject, description and comments: one FTS5 row per ticket
# (rowid = ticket id), kept in step with every write by triggers.  unicode61 with
# diacritics removed, so "resolu" finds "résolu".
_COMMENTS_OF = "coalesce((SELECT group_concat(body, ' ') FROM comments WHERE ticket_id = {}), '')"
SEARCH_DDL = (
    "CREATE VIRTUAL TABLE ticket_search USING fts5("
    "subject, description, comments, tokenize = 'unicode61 remove_diacritics 2')",
    "CREATE TRIGGER tickets_search_insert AFTER INSERT ON tickets BEGIN "
    "INSERT INTO ticket_search (rowid, subject, description, comments) "
    f"VALUES (new.id, new.subject, new.description, {_COMMENTS_OF.format('new.id')}); END",
    "CREATE TRIGGER tickets_search_update AFTER UPDATE OF subject, description ON tickets "
    "WHEN old.subject IS NOT new.subject OR old.description IS NOT new.description BEGIN "
    "UPDATE ticket_search SET subject = new.subject, description = new.description "
    "WHERE rowid = new.id; END",
    "CREATE TRIGGER tickets_search_delete AFTER DELETE ON tickets BEGIN "
    "DELETE FROM ticket_search WHERE rowid = old.id; END",
    "CREATE TRIGGER comments_search_insert AFTER INSERT ON comments BEGIN "
    f"UPDATE ticket_search SET comments = {_COMMENTS_OF.format('new.ticket_id')} "
    "WHERE rowid = new.ticket_id; END",
    "CREATE TRIGGER comments_search_update AFTER UPDATE OF body, ticket_id ON comments BEGIN "
    f"UPDATE ticket_search SET comments = {_COMMENTS_OF.format('old.ticket_id')} "
    "WHERE rowid = old.ticket_id; "
    f"UPDATE ticket_search SET comments = {_COMMENTS_OF.format('new.ticket_id')} "
    "WHERE rowid = new.ticket_id; END",
    "CREATE TRIGGER comments_search_delete AFTER DELETE ON comments BEGIN "
    f"UPDATE ticket_search SET comments = {_COMMENTS_OF.format('old.ticket_id')} "
    "WHERE rowid = old.ticket_id; END",
)
SEARCH_DROP = (
    "DROP TRIGGER IF EXISTS comments_search_delete",
    "DROP TRIGGER IF EXISTS comments_search_update",
    "DROP TRIGGER IF EXISTS comments_search_insert",
    "DROP TRIGGER IF EXISTS tickets_search_delete",
    "DROP TRIGGER IF EXISTS tickets_search_update",
    "DROP TRIGGER IF EXISTS tickets_search_insert",
    "DROP TABLE IF EXISTS ticket_search",
)


def upgrade() -> None:
    op.create_table(
        "announcements",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.String(length=32), nullable=True),
        sa.Column("ends_at", sa.String(length=32), nullable=True),
        sa.Column("server_row", sa.JSON(none_as_null=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_announcements")),
    )
    op.create_table(
        "articles",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=True),
        sa.Column("server_row", sa.JSON(none_as_null=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_articles")),
    )
    op.create_table(
        "conflicts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mutation_id", sa.String(length=36), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("command", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("server_ticket", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("fields", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("detected_at", sa.String(length=32), nullable=False),
        sa.Column("resolution", sa.String(length=32), nullable=True),
        sa.Column("resolved_at", sa.String(length=32), nullable=True),
        sa.Column("replacement_mutation_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conflicts")),
        sa.UniqueConstraint("mutation_id", name=op.f("uq_conflicts_mutation_id")),
    )
    with op.batch_alter_table("conflicts", schema=None) as batch_op:
        batch_op.create_index("ix_conflicts_resolution", ["resolution"], unique=False)

    op.create_table(
        "organisations",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("plan", sa.String(length=32), nullable=False),
        sa.Column("server_row", sa.JSON(none_as_null=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
    )
    op.create_table(
        "outbox",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("mutation_id", sa.String(length=36), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=False),
        sa.Column("payload", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("applied_version", sa.Integer(), nullable=True),
        sa.CheckConstraint("state IN ('pending', 'applied')", name=op.f("ck_outbox_state")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_outbox")),
        sa.UniqueConstraint("mutation_id", name=op.f("uq_outbox_mutation_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_ticket_id", ["ticket_id"], unique=False)

    op.create_table(
        "rejected_commands",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mutation_id", sa.String(length=36), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("command", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("rejected_at", sa.String(length=32), nullable=False),
        sa.Column("dismissed_at", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejected_commands")),
        sa.UniqueConstraint("mutation_id", name=op.f("uq_rejected_commands_mutation_id")),
    )
    op.create_table(
        "sla_documents",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("document", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_sla_documents")),
    )
    op.create_table(
        "sync_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("last_sync_at", sa.String(length=32), nullable=True),
        sa.Column("clock_offset_seconds", sa.Float(), server_default="0", nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_sync_state_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_state")),
    )
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("member_ids", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("server_row", sa.JSON(none_as_null=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
    )
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tracking_number", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("requester_name", sa.Text(), nullable=False),
        sa.Column("requester_email", sa.Text(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("priority", sa.String(length=8), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("tags", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.Column("server_row", sa.JSON(none_as_null=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
        sa.UniqueConstraint("tracking_number", name=op.f("uq_tickets_tracking_number")),
    )
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index("ix_tickets_assignee_id", ["assignee_id"], unique=False)
        batch_op.create_index("ix_tickets_status", ["status"], unique=False)
        batch_op.create_index("ix_tickets_team_id", ["team_id"], unique=False)
        batch_op.create_index("ix_tickets_updated_at", ["updated_at"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("username", sa.String(length=150), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("team_ids", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("server_row", sa.JSON(none_as_null=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_table(
        "comments",
        sa.Column("local_id", sa.Integer(), nullable=False),
        sa.Column("server_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("mutation_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_comments_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("local_id", name=op.f("pk_comments")),
        sa.UniqueConstraint("mutation_id", name=op.f("uq_comments_mutation_id")),
        sa.UniqueConstraint("server_id", name=op.f("uq_comments_server_id")),
    )
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.create_index("ix_comments_ticket_id", ["ticket_id"], unique=False)

    op.create_table(
        "ticket_history",
        sa.Column("local_id", sa.Integer(), nullable=False),
        sa.Column("server_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("mutation_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_history_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("local_id", name=op.f("pk_ticket_history")),
        sa.UniqueConstraint("server_id", name=op.f("uq_ticket_history_server_id")),
    )
    with op.batch_alter_table("ticket_history", schema=None) as batch_op:
        batch_op.create_index("ix_ticket_history_ticket_id", ["ticket_id"], unique=False)

    for statement in SEARCH_DDL:
        op.execute(statement)


def downgrade() -> None:
    for statement in SEARCH_DROP:
        op.execute(statement)
    with op.batch_alter_table("ticket_history", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_history_ticket_id")

    op.drop_table("ticket_history")
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_index("ix_comments_ticket_id")

    op.drop_table("comments")
    op.drop_table("users")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_updated_at")
        batch_op.drop_index("ix_tickets_team_id")
        batch_op.drop_index("ix_tickets_status")
        batch_op.drop_index("ix_tickets_assignee_id")

    op.drop_table("tickets")
    op.drop_table("teams")
    op.drop_table("sync_state")
    op.drop_table("sla_documents")
    op.drop_table("rejected_commands")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_ticket_id")

    op.drop_table("outbox")
    op.drop_table("organisations")
    with op.batch_alter_table("conflicts", schema=None) as batch_op:
        batch_op.drop_index("ix_conflicts_resolution")

    op.drop_table("conflicts")
    op.drop_table("articles")
    op.drop_table("announcements")
