"""Indexes for the query API's lookups.

Conversations by status (a range of ``last_message_at``), by contact, and a
thread's latest; a contact's threads; contacts by ``external_ref``. Two indexes
become the first columns of wider ones and are dropped.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# name, table, columns
INDEXES = (
    (
        "ix_conversations_tenant_id_last_message_at_closed_at",
        "conversations",
        ["tenant_id", "last_message_at", "closed_at"],
    ),
    ("ix_conversations_tenant_id_contact_id", "conversations", ["tenant_id", "contact_id"]),
    ("ix_conversations_thread_id_started_at", "conversations", ["thread_id", "started_at"]),
    ("ix_threads_tenant_id_contact_id", "threads", ["tenant_id", "contact_id"]),
    ("ix_contacts_tenant_id_external_ref", "contacts", ["tenant_id", "external_ref"]),
)
REPLACED = (
    ("ix_conversations_thread_id", "conversations", ["thread_id"]),
    ("ix_contacts_tenant_id", "contacts", ["tenant_id"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)
    for name, table, _ in REPLACED:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    for name, table, columns in REPLACED:
        op.create_index(name, table, columns)
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table)
