"""The status index also carries the page's order: a page of running conversations
is sorted from the index alone.

``GET /v1/conversations?status=active|inactive`` reads a range of
``last_message_at`` (the last day's conversations) and sorts it newest first by
``(started_at, id)``. With those two columns in the index, the candidates are
sorted without reading their rows, and only the page's rows are fetched; the
index replaces ``ix_conversations_tenant_id_last_message_at_closed_at``, whose
columns it starts with.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEW = "ix_conversations_status_window"
_OLD = "ix_conversations_tenant_id_last_message_at_closed_at"
_OLD_COLUMNS = ["tenant_id", "last_message_at", "closed_at"]


def upgrade() -> None:
    op.create_index(_NEW, "conversations", [*_OLD_COLUMNS, "started_at", "id"])
    op.drop_index(_OLD, table_name="conversations")


def downgrade() -> None:
    op.create_index(_OLD, "conversations", _OLD_COLUMNS)
    op.drop_index(_NEW, table_name="conversations")
