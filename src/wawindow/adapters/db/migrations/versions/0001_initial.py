"""The initial schema: tenants, lines, contacts, threads, facts, read models, timers, outbox.

Frozen copy of ``wawindow.adapters.db.schema`` as of this revision (a migration must
not import the live schema, which later revisions change). Constraint and index
names follow the schema's naming convention.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.String:
    return sa.String(64)


def _when() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _serial() -> sa.types.TypeEngine[int]:
    # SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets BIGSERIAL.
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant_id_tenants"
    )


def _thread_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["thread_id"], ["threads.id"], name=f"fk_{table}_thread_id_threads"
    )


def upgrade() -> None:
    _accounts()
    _threads()
    _thread_records()
    _timers_and_outbox()


def _accounts() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", _id(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tenants"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", _id(), nullable=False),
        sa.Column("tenant_id", _id(), nullable=False),
        sa.Column("key_hash", sa.String(128), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("revoked_at", _when(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
        _tenant_fk("api_keys"),
    )
    op.create_index("ix_api_keys_tenant_id", "api_keys", ["tenant_id"])
    op.create_table(
        "lines",
        sa.Column("phone_number_id", sa.String(64), nullable=False),
        sa.Column("tenant_id", _id(), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=True),
        sa.Column("display_phone", sa.String(32), nullable=True),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("app_secret", sa.Text(), nullable=False),
        sa.Column("verify_token", sa.Text(), nullable=False),
        sa.Column("access_token", sa.Text(), nullable=True),
        sa.Column("graph_base_url", sa.Text(), nullable=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.PrimaryKeyConstraint("phone_number_id", name="pk_lines"),
        _tenant_fk("lines"),
    )
    op.create_index("ix_lines_tenant_id", "lines", ["tenant_id"])
    op.create_table(
        "inbox",
        sa.Column("id", _serial(), autoincrement=True, nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", _when(), nullable=False),
        sa.Column("facts_count", sa.Integer(), nullable=False),
        sa.Column("dropped_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_inbox"),
        sa.UniqueConstraint("body_sha256", name="uq_inbox_body_sha256"),
    )
    op.create_table(
        "contacts",
        sa.Column("id", _id(), nullable=False),
        sa.Column("tenant_id", _id(), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("name_at", _when(), nullable=True),
        sa.Column("external_ref", sa.String(200), nullable=True),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("merged_into", _id(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_contacts"),
        _tenant_fk("contacts"),
    )
    op.create_index("ix_contacts_tenant_id", "contacts", ["tenant_id"])
    op.create_table(
        "contact_identifiers",
        sa.Column("tenant_id", _id(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("contact_id", _id(), nullable=False),
        sa.Column("observed_at", _when(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "kind", "value", name="pk_contact_identifiers"),
        _tenant_fk("contact_identifiers"),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name="fk_contact_identifiers_contact_id_contacts"
        ),
    )
    op.create_index("ix_contact_identifiers_contact_id", "contact_identifiers", ["contact_id"])


def _threads() -> None:
    op.create_table(
        "threads",
        sa.Column("id", _id(), nullable=False),
        sa.Column("tenant_id", _id(), nullable=False),
        sa.Column("line", sa.String(64), nullable=False),
        sa.Column("contact_id", _id(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("last_inbound_at", _when(), nullable=True),
        sa.Column("window_ends_at", _when(), nullable=True),
        sa.Column("updated_at", _when(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_threads"),
        sa.UniqueConstraint(
            "tenant_id", "line", "contact_id", name="uq_threads_tenant_id_line_contact_id"
        ),
        _tenant_fk("threads"),
        sa.ForeignKeyConstraint(["line"], ["lines.phone_number_id"], name="fk_threads_line_lines"),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name="fk_threads_contact_id_contacts"
        ),
    )
    op.create_table(
        "facts",
        sa.Column("id", _serial(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", _id(), nullable=False),
        sa.Column("natural_key", sa.String(400), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("thread_id", _id(), nullable=True),
        sa.Column("at", _when(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("inbox_id", _serial(), nullable=True),
        sa.Column("recorded_at", _when(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_facts"),
        sa.UniqueConstraint("tenant_id", "natural_key", name="uq_facts_tenant_id_natural_key"),
        _tenant_fk("facts"),
        _thread_fk("facts"),
        sa.ForeignKeyConstraint(["inbox_id"], ["inbox.id"], name="fk_facts_inbox_id_inbox"),
    )
    op.create_index("ix_facts_thread_id_at", "facts", ["thread_id", "at"])


def _thread_records() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", _id(), nullable=False),
        sa.Column("tenant_id", _id(), nullable=False),
        sa.Column("thread_id", _id(), nullable=False),
        sa.Column("line", sa.String(64), nullable=False),
        sa.Column("contact_id", _id(), nullable=False),
        sa.Column("started_at", _when(), nullable=False),
        sa.Column("last_message_at", _when(), nullable=False),
        sa.Column("closed_at", _when(), nullable=True),
        sa.Column("closed_reason", sa.String(32), nullable=True),
        sa.Column("initiated_by", sa.String(16), nullable=False),
        sa.Column("origin", sa.String(32), nullable=False),
        sa.Column("category", sa.String(64), nullable=True),
        sa.Column("messages_count", sa.Integer(), nullable=False),
        sa.Column("last_inbound_at", _when(), nullable=True),
        sa.Column("last_outbound_at", _when(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_conversations"),
        _tenant_fk("conversations"),
        _thread_fk("conversations"),
    )
    op.create_index("ix_conversations_thread_id", "conversations", ["thread_id"])
    op.create_index(
        "ix_conversations_tenant_id_started_at", "conversations", ["tenant_id", "started_at"]
    )
    op.create_table(
        "conversation_aliases",
        sa.Column("absorbed_id", _id(), nullable=False),
        sa.Column("tenant_id", _id(), nullable=False),
        sa.Column("survivor_id", _id(), nullable=False),
        sa.PrimaryKeyConstraint("absorbed_id", name="pk_conversation_aliases"),
        _tenant_fk("conversation_aliases"),
    )
    op.create_table(
        "messages",
        sa.Column("tenant_id", _id(), nullable=False),
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("thread_id", _id(), nullable=False),
        sa.Column("conversation_id", _id(), nullable=True),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("at", _when(), nullable=True),
        sa.Column("type", sa.String(64), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("billing", sa.JSON(), nullable=True),
        sa.Column("delivered_at", _when(), nullable=True),
        sa.Column("free_tier_candidate", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_messages"),
        _tenant_fk("messages"),
        _thread_fk("messages"),
    )
    op.create_index("ix_messages_thread_id", "messages", ["thread_id"])
    op.create_table(
        "drift",
        sa.Column("tenant_id", _id(), nullable=False),
        sa.Column("message_id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("thread_id", _id(), nullable=False),
        sa.Column("at", _when(), nullable=False),
        sa.Column("computed", sa.Text(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "message_id", "kind", name="pk_drift"),
        _tenant_fk("drift"),
        _thread_fk("drift"),
    )


def _timers_and_outbox() -> None:
    op.create_table(
        "due_times",
        sa.Column("thread_id", _id(), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("tenant_id", _id(), nullable=False),
        sa.Column("due_at", _when(), nullable=False),
        sa.PrimaryKeyConstraint("thread_id", "type", "subject", name="pk_due_times"),
        _thread_fk("due_times"),
        _tenant_fk("due_times"),
    )
    op.create_index("ix_due_times_due_at", "due_times", ["due_at"])
    op.create_table(
        "outbox",
        sa.Column("id", _serial(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", _id(), nullable=False),
        sa.Column("event_key", sa.String(400), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("thread_id", _id(), nullable=True),
        sa.Column("occurred_at", _when(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("tenant_id", "event_key", name="uq_outbox_tenant_id_event_key"),
        _tenant_fk("outbox"),
    )


def downgrade() -> None:
    # Dependants first; dropping a table drops its indexes.
    for table in (
        "outbox",
        "due_times",
        "drift",
        "messages",
        "conversation_aliases",
        "conversations",
        "facts",
        "threads",
        "contact_identifiers",
        "contacts",
        "inbox",
        "lines",
        "api_keys",
        "tenants",
    ):
        op.drop_table(table)
