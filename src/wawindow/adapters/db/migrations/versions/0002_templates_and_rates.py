"""Templates per line, and tenants' rate cards.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "templates",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("line", sa.String(64), nullable=False),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("template_id", sa.String(64), nullable=True),
        sa.Column("category", sa.String(64), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("status_reason", sa.String(200), nullable=True),
        sa.Column("quality", sa.String(32), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("param_count", sa.Integer(), nullable=False),
        sa.Column("param_names", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "line", "name", "language", name="pk_templates"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_templates_tenant_id_tenants"
        ),
        sa.ForeignKeyConstraint(
            ["line"], ["lines.phone_number_id"], name="fk_templates_line_lines"
        ),
    )
    op.create_index("ix_templates_tenant_id_template_id", "templates", ["tenant_id", "template_id"])
    op.create_table(
        "rates",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("market", sa.String(64), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("price", sa.Numeric(18, 6), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "market", "category", "currency", "effective_from", name="pk_rates"
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_rates_tenant_id_tenants"),
    )
    op.create_table(
        "rate_markets",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("market", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "country", name="pk_rate_markets"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_rate_markets_tenant_id_tenants"
        ),
    )


def downgrade() -> None:
    op.drop_table("rate_markets")
    op.drop_table("rates")
    op.drop_index("ix_templates_tenant_id_template_id", table_name="templates")
    op.drop_table("templates")
