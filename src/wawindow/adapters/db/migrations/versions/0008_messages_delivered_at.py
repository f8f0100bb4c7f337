"""Delivered messages by time: the billing summary reads its period, not the tenant.

``GET /v1/billing/summary`` and the free tier's cutoffs read a tenant's messages
delivered in a period, in ``(delivered_at, id)`` order. Without this index they
read every message of the tenant.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEX = "ix_messages_tenant_id_delivered_at"


def upgrade() -> None:
    op.create_index(_INDEX, "messages", ["tenant_id", "delivered_at"])


def downgrade() -> None:
    op.drop_index(_INDEX, table_name="messages")
