"""Sends: one record per send request, for idempotency.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sends",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("line", sa.String(64), nullable=False),
        sa.Column("contact_id", sa.String(64), nullable=True),
        sa.Column("recipient", sa.String(200), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("wamid", sa.String(200), nullable=True),
        sa.Column("decision", sa.JSON(), nullable=False),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sends"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_sends_tenant_id_tenants"),
        sa.ForeignKeyConstraint(["line"], ["lines.phone_number_id"], name="fk_sends_line_lines"),
        sa.UniqueConstraint(
            "tenant_id", "idempotency_key", name="uq_sends_tenant_id_idempotency_key"
        ),
    )
    op.create_index("ix_sends_tenant_id_wamid", "sends", ["tenant_id", "wamid"])


def downgrade() -> None:
    op.drop_index("ix_sends_tenant_id_wamid", table_name="sends")
    op.drop_table("sends")
