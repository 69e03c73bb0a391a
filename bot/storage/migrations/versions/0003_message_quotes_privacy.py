"""quoted messages and content-free rows for conversations that opted out of storage

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("quote", sa.JSON(), nullable=True))
        batch.add_column(
            sa.Column("redacted", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_index("ix_messages_sent_at", "messages", ["sent_at"])


def downgrade() -> None:
    op.drop_index("ix_messages_sent_at", table_name="messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("redacted")
        batch.drop_column("quote")
