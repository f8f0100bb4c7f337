"""Webhook endpoints, deliveries and their attempts; the fan-out queue and its trigger.

Frozen copy of the "Webhooks out" tables of ``wawindow.adapters.db.schema`` as of
this revision. Besides the tables, a trigger on ``outbox`` queues every new event
for fan-out in the transaction that writes it (see ``adapters/db/delivery_queue.py``
for why a queue rather than a cursor over outbox ids). Events written before this
revision have no endpoint to go to (there were no endpoints), so none are queued.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TRIGGER = "trg_outbox_webhook_fanout"
_FUNCTION = "webhook_fanout_enqueue"


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


def _outbox_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["outbox_id"], ["outbox.id"], name=f"fk_{table}_outbox_id_outbox"
    )


def upgrade() -> None:
    _endpoints()
    _deliveries()
    _fanout_queue()


def _endpoints() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", _id(), nullable=False),
        sa.Column("tenant_id", _id(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("previous_secret", sa.Text(), nullable=True),
        sa.Column("previous_secret_until", _when(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_at", _when(), nullable=True),
        sa.Column("disabled_reason", sa.String(200), nullable=True),
        sa.Column("failing_since", _when(), nullable=True),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("updated_at", _when(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_endpoints"),
        _tenant_fk("webhook_endpoints"),
    )
    op.create_index("ix_webhook_endpoints_tenant_id", "webhook_endpoints", ["tenant_id"])


def _deliveries() -> None:
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", _id(), nullable=False),
        sa.Column("tenant_id", _id(), nullable=False),
        sa.Column("endpoint_id", _id(), nullable=False),
        sa.Column("outbox_id", _serial(), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("ordering_key", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("round_attempts", sa.Integer(), nullable=False),
        sa.Column("round_started_at", _when(), nullable=True),
        sa.Column("next_attempt_at", _when(), nullable=True),
        sa.Column("lease_until", _when(), nullable=True),
        sa.Column("lease_token", sa.String(64), nullable=True),
        sa.Column("last_attempt_at", _when(), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("updated_at", _when(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
        sa.UniqueConstraint(
            "endpoint_id", "outbox_id", name="uq_webhook_deliveries_endpoint_id_outbox_id"
        ),
        _tenant_fk("webhook_deliveries"),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name="fk_webhook_deliveries_endpoint_id_webhook_endpoints",
        ),
        _outbox_fk("webhook_deliveries"),
    )
    op.create_index(
        "ix_webhook_deliveries_status_next_attempt_at_outbox_id",
        "webhook_deliveries",
        ["status", "next_attempt_at", "outbox_id"],
    )
    active = sa.text("status IN ('pending', 'delivering')")
    op.create_index(
        "ix_webhook_deliveries_active",
        "webhook_deliveries",
        ["endpoint_id", "ordering_key", "outbox_id"],
        postgresql_where=active,
        sqlite_where=active,
    )
    op.create_index(
        "ix_webhook_deliveries_tenant_id_outbox_id",
        "webhook_deliveries",
        ["tenant_id", "outbox_id"],
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", _serial(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", _id(), nullable=False),
        sa.Column("delivery_id", _id(), nullable=False),
        sa.Column("at", _when(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("response_excerpt", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_attempts"),
        _tenant_fk("webhook_attempts"),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["webhook_deliveries.id"],
            name="fk_webhook_attempts_delivery_id_webhook_deliveries",
        ),
    )
    op.create_index("ix_webhook_attempts_delivery_id", "webhook_attempts", ["delivery_id"])


def _fanout_queue() -> None:
    op.create_table(
        "webhook_fanout_queue",
        sa.Column("outbox_id", _serial(), autoincrement=False, nullable=False),
        sa.Column("tenant_id", _id(), nullable=False),
        sa.PrimaryKeyConstraint("outbox_id", name="pk_webhook_fanout_queue"),
        _outbox_fk("webhook_fanout_queue"),
        _tenant_fk("webhook_fanout_queue"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE FUNCTION {_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN "
            "INSERT INTO webhook_fanout_queue (outbox_id, tenant_id) "
            "VALUES (NEW.id, NEW.tenant_id); "
            "RETURN NULL; "
            "END $$"
        )
        op.execute(
            f"CREATE TRIGGER {_TRIGGER} AFTER INSERT ON outbox "
            f"FOR EACH ROW EXECUTE FUNCTION {_FUNCTION}()"
        )
    else:
        op.execute(
            f"CREATE TRIGGER {_TRIGGER} AFTER INSERT ON outbox BEGIN "
            "INSERT INTO webhook_fanout_queue (outbox_id, tenant_id) "
            "VALUES (NEW.id, NEW.tenant_id); "
            "END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {_TRIGGER} ON outbox")
        op.execute(f"DROP FUNCTION IF EXISTS {_FUNCTION}()")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {_TRIGGER}")
    # Dependants first; dropping a table drops its indexes.
    for table in (
        "webhook_fanout_queue",
        "webhook_attempts",
        "webhook_deliveries",
        "webhook_endpoints",
    ):
        op.drop_table(table)
