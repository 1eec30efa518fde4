"""parked rows: comments and history entries that came before their ticket

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 23:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "parked",
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("server_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(none_as_null=True), nullable=False),
        sa.PrimaryKeyConstraint("entity", "server_id", name=op.f("pk_parked")),
    )
    with op.batch_alter_table("parked", schema=None) as batch_op:
        batch_op.create_index("ix_parked_ticket_id", ["ticket_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("parked", schema=None) as batch_op:
        batch_op.drop_index("ix_parked_ticket_id")
    op.drop_table("parked")
