"""plugin records and artifacts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plugin_records",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("plugin", sa.String(length=64), nullable=False),
        sa.Column("collection", sa.String(length=64), nullable=False),
        sa.Column("tenant_key", sa.String(length=128), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plugin_records")),
        sa.UniqueConstraint(
            "plugin",
            "collection",
            "tenant_key",
            "key",
            name=op.f("uq_plugin_records_plugin_collection_tenant_key_key"),
        ),
    )
    op.create_index(
        "ix_plugin_records_listing",
        "plugin_records",
        ["plugin", "collection", "tenant_key", "updated_at"],
    )
    op.create_index("ix_plugin_records_lookup", "plugin_records", ["plugin", "collection", "key"])
    op.create_table(
        "artifacts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant_key", sa.String(length=128), nullable=True),
        sa.Column("plugin", sa.String(length=64), nullable=True),
        sa.Column("filename", sa.String(length=256), nullable=False),
        sa.Column("content_type", sa.String(length=128), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artifacts")),
    )
    op.create_index(op.f("ix_artifacts_tenant_key"), "artifacts", ["tenant_key"])


def downgrade() -> None:
    op.drop_index(op.f("ix_artifacts_tenant_key"), table_name="artifacts")
    op.drop_table("artifacts")
    op.drop_index("ix_plugin_records_lookup", table_name="plugin_records")
    op.drop_index("ix_plugin_records_listing", table_name="plugin_records")
    op.drop_table("plugin_records")
