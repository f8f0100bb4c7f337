"""The scheduler's bookkeeping: a thread's due times are keyed by their time too.

One window has a window.expiring per lead time of the tenant (same type and
subject, different times), and a due time that came true before a later fact
may wait for emission beside the one that replaced it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _primary_key(["thread_id", "type", "subject", "due_at"])


def downgrade() -> None:
    # Rows differing only in their time would collide under the old key: keep the earliest.
    op.execute(
        "DELETE FROM due_times WHERE EXISTS (SELECT 1 FROM due_times AS d "
        "WHERE d.thread_id = due_times.thread_id AND d.type = due_times.type "
        "AND d.subject = due_times.subject AND d.due_at < due_times.due_at)"
    )
    _primary_key(["thread_id", "type", "subject"])


def _primary_key(columns: list[str]) -> None:
    # Batch mode: SQLite changes a primary key only by copying the table.
    with op.batch_alter_table("due_times", recreate="auto") as batch:
        batch.drop_constraint("pk_due_times", type_="primary")
        batch.create_primary_key("pk_due_times", columns)
