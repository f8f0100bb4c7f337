"""The database schema (SQLAlchemy Core). Alembic migrations must produce exactly this.

Every row that belongs to a tenant carries ``tenant_id`` (and thread rows their
``thread_id``), so the tables can be distributed by tenant (e.g. Citus) without a
redesign. Times are stored as timezone-aware UTC timestamps.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite's DATETIME keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Id = String(64)
When = UtcDateTime()
# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGSERIAL.
Serial = BigInteger().with_variant(Integer(), "sqlite")

tenants = Table(
    "tenants",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("settings", JSON, nullable=False, default=dict),
    Column("created_at", When, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Id, primary_key=True),
    Column("tenant_id", Id, ForeignKey("tenants.id"), nullable=False, index=True),
    Column("key_hash", String(128), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("created_at", When, nullable=False),
    Column("revoked_at", When),
)

lines = Table(
    "lines",
    metadata,
    Column("phone_number_id", String(64), primary_key=True),
    Column("tenant_id", Id, ForeignKey("tenants.id"), nullable=False, index=True),
    Column("account_id", String(64)),  # the WhatsApp Business Account (WABA) id
    Column("display_phone", String(32)),
    Column("provider", String(32), nullable=False, default="meta"),
    Column("app_secret", Text, nullable=False),
    Column("verify_token", Text, nullable=False),
    Column("access_token", Text),
    Column("graph_base_url", Text),
    Column("timezone", String(64), nullable=False, default="UTC"),
    Column("created_at", When, nullable=False),
)

# Every webhook body as received, before anything else: nothing acknowledged is lost.
inbox = Table(
    "inbox",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("provider", String(32), nullable=False),
    Column("body_sha256", String(64), nullable=False, unique=True),
    Column("body", LargeBinary, nullable=False),
    Column("received_at", When, nullable=False),
    Column("facts_count", Integer, nullable=False, default=0),
    Column("dropped_count", Integer, nullable=False, default=0),
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("tenant_id", Id, ForeignKey("tenants.id"), nullable=False),
    Column("name", String(200)),
    Column("name_at", When),  # the time of the fact the name came from: the latest wins
    Column("external_ref", String(200)),
    Column("created_at", When, nullable=False),
    Column("merged_into", Id),  # set when absorbed by a merge; the id keeps resolving
    # Conversations by customer_id; also serves every lookup by tenant alone.
    Index("ix_contacts_tenant_id_external_ref", "tenant_id", "external_ref"),
)

contact_identifiers = Table(
    "contact_identifiers",
    metadata,
    Column("tenant_id", Id, ForeignKey("tenants.id"), primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("value", String(200), primary_key=True),
    Column("contact_id", Id, ForeignKey("contacts.id"), nullable=False, index=True),
    Column("observed_at", When, nullable=False),
)

threads = Table(
    "threads",
    metadata,
    Column("id", Id, primary_key=True),
    Column("tenant_id", Id, ForeignKey("tenants.id"), nullable=False),
    Column("line", String(64), ForeignKey("lines.phone_number_id"), nullable=False),
    Column("contact_id", Id, ForeignKey("contacts.id"), nullable=False),
    Column("version", Integer, nullable=False, default=0),  # facts folded so far
    Column("state", JSON, nullable=False),  # the thread's window, FEP, latest conversation
    Column("last_inbound_at", When),
    Column("window_ends_at", When),
    Column("updated_at", When, nullable=False),
    UniqueConstraint("tenant_id", "line", "contact_id"),
    Index("ix_threads_tenant_id_contact_id", "tenant_id", "contact_id"),  # a contact's threads
)

facts = Table(
    "facts",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("tenant_id", Id, ForeignKey("tenants.id"), nullable=False),
    Column("natural_key", String(400), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("thread_id", Id, ForeignKey("threads.id")),  # null for account-level facts
    Column("at", When),
    Column("payload", JSON, nullable=False),
    Column("inbox_id", Serial, ForeignKey("inbox.id")),
    Column("recorded_at", When, nullable=False),
    UniqueConstraint("tenant_id", "natural_key"),
    Index("ix_facts_thread_id_at", "thread_id", "at"),
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", Id, primary_key=True),
    Column("tenant_id", Id, ForeignKey("tenants.id"), nullable=False),
    Column("thread_id", Id, ForeignKey("threads.id"), nullable=False),
    Column("line", String(64), nullable=False),
    Column("contact_id", Id, nullable=False),
    Column("started_at", When, nullable=False),
    Column("last_message_at", When, nullable=False),
    Column("closed_at", When),
    Column("closed_reason", String(32)),
    Column("initiated_by", String(16), nullable=False),
    Column("origin", String(32), nullable=False),
    Column("category", String(64)),
    Column("messages_count", Integer, nullable=False),
    Column("last_inbound_at", When),
    Column("last_outbound_at", When),
    Index("ix_conversations_tenant_id_started_at", "tenant_id", "started_at"),  # newest first
    # status=active|inactive: a bounded range of recent last messages; with closed_at, the
    # statuses are counted from the index alone, and with started_at and id a page of
    # them is sorted from it too (only the page's rows are read).
    Index(
        "ix_conversations_status_window",
        "tenant_id",
        "last_message_at",
        "closed_at",
        "started_at",
        "id",
    ),
    Index("ix_conversations_tenant_id_contact_id", "tenant_id", "contact_id"),  # by customer
    Index("ix_conversations_thread_id_started_at", "thread_id", "started_at"),  # a thread's latest
)

conversation_aliases = Table(
    "conversation_aliases",
    metadata,
    Column("absorbed_id", Id, primary_key=True),
    Column("tenant_id", Id, ForeignKey("tenants.id"), nullable=False),
    Column("survivor_id", Id, nullable=False),
)

messages = Table(
    "messages",
    metadata,
    Column("tenant_id", Id, ForeignKey("tenants.id"), primary_key=True),
    Column("id", String(200), primary_key=True),  # the wamid
    Column("thread_id", Id, ForeignKey("threads.id"), nullable=False, index=True),
    Column("conversation_id", Id),
    Column("direction", String(16), nullable=False),
    Column("at", When),
    Column("type", String(64)),
    Column("status", String(32), nullable=False),
    Column("record", JSON, nullable=False),  # status times, errors, provider pricing
    Column("billing", JSON),  # the billing shown (estimate or provider's)
    Column("delivered_at", When),
    Column("free_tier_candidate", Boolean, nullable=False, default=False),
    # The billing summary and the free tier read a period of deliveries.
    Index("ix_messages_tenant_id_delivered_at", "tenant_id", "delivered_at"),
)

drift = Table(
    "drift",
    metadata,
    Column("tenant_id", Id, ForeignKey("tenants.id"), primary_key=True),
    Column("message_id", String(200), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("thread_id", Id, ForeignKey("threads.id"), nullable=False),
    Column("at", When, nullable=False),
    Column("computed", Text, nullable=False),
    Column("provider", Text, nullable=False),
    Column("detail", Text, nullable=False),
)

# The time-driven events of each thread still to emit, for the scheduler. The time is
# part of the key: one window warns at each of the tenant's lead times, and a due time
# that came true before a later fact stays until it is emitted beside its successor.
due_times = Table(
    "due_times",
    metadata,
    Column("thread_id", Id, ForeignKey("threads.id"), primary_key=True),
    Column("type", String(64), primary_key=True),
    Column("subject", String(200), primary_key=True),
    Column("due_at", When, primary_key=True, index=True),
    Column("tenant_id", Id, ForeignKey("tenants.id"), nullable=False),
)

# Events for the tenant's systems, written in the same transaction as their cause.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("tenant_id", Id, ForeignKey("tenants.id"), nullable=False),
    Column("event_key", String(400), nullable=False),
    Column("type", String(64), nullable=False),
    Column("thread_id", Id),
    Column("occurred_at", When, nullable=False),
    Column("data", JSON, nullable=False),
    Column("created_at", When, nullable=False),
    UniqueConstraint("tenant_id", "event_key"),
)

# A line's message templates (kept current by template webhooks and the API).
templates = Table(
    "templates",
    metadata,
    Column("tenant_id", Id, ForeignKey("tenants.id"), primary_key=True),
    Column("line", String(64), ForeignKey("lines.phone_number_id"), primary_key=True),
    Column("name", String(512), primary_key=True),
    Column("language", String(16), primary_key=True),
    Column("template_id", String(64)),  # Meta's id, when known
    Column("category", String(64)),
    Column("status", String(32), nullable=False),
    Column("status_reason", String(200)),
    Column("quality", String(32)),
    Column("body", Text),
    Column("param_count", Integer, nullable=False, default=0),
    Column("param_names", JSON, nullable=False, default=list),
    Column("updated_at", When, nullable=False),
    Index("ix_templates_tenant_id_template_id", "tenant_id", "template_id"),
)

# The prices a tenant loaded (``wawindow ratecard load``): one row per dated rate.
rates = Table(
    "rates",
    metadata,
    Column("tenant_id", Id, ForeignKey("tenants.id"), primary_key=True),
    Column("market", String(64), primary_key=True),
    Column("category", String(64), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("effective_from", Date, primary_key=True),
    Column("price", Numeric(18, 6), nullable=False),
)

# Country codes that belong to a named market of a tenant's rate card.
rate_markets = Table(
    "rate_markets",
    metadata,
    Column("tenant_id", Id, ForeignKey("tenants.id"), primary_key=True),
    Column("country", String(2), primary_key=True),
    Column("market", String(64), nullable=False),
)

# ---- Sending (POST /v1/messages, the Graph proxy): tables below this line ----

# One row per send request that passed the gate: its idempotency key and outcome.
sends = Table(
    "sends",
    metadata,
    Column("id", Id, primary_key=True),
    Column("tenant_id", Id, ForeignKey("tenants.id"), nullable=False),
    Column("line", String(64), ForeignKey("lines.phone_number_id"), nullable=False),
    Column("contact_id", Id),  # null until the recipient is a known contact
    Column("recipient", String(200), nullable=False),  # the wa_id or BSUID sent to
    Column("source", String(16), nullable=False),  # api, reply or proxy
    Column("idempotency_key", String(255)),
    Column("request_hash", String(64), nullable=False),
    Column("state", String(16), nullable=False),  # queued, accepted, failed or unknown
    Column("wamid", String(200)),
    Column("decision", JSON, nullable=False),
    Column("error", JSON),
    Column("response_status", Integer),  # what the first request was answered
    Column("response", JSON),
    Column("created_at", When, nullable=False),
    Column("updated_at", When, nullable=False),
    UniqueConstraint("tenant_id", "idempotency_key"),
    Index("ix_sends_tenant_id_wamid", "tenant_id", "wamid"),
)

# (end of the sending tables)

# ---- Webhooks out (endpoints, deliveries, attempts): tables below this line ----

# A tenant's subscriptions (``/v1/webhook-endpoints``). The signing secret must be
# recoverable to sign, so it is stored as given out (``whsec_…``); see docs/webhooks.md.
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", Id, primary_key=True),
    Column("tenant_id", Id, ForeignKey("tenants.id"), nullable=False, index=True),
    Column("url", Text, nullable=False),
    Column("events", JSON, nullable=False),  # patterns: "*", "whatsapp.window.*", …
    Column("description", String(500), nullable=False, default=""),
    Column("secret", Text, nullable=False),
    Column("previous_secret", Text),  # still signs, next to the new one, after a rotation
    Column("previous_secret_until", When),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("disabled_at", When),
    Column("disabled_reason", String(200)),
    Column("failing_since", When),  # the first failed attempt since the last success
    Column("created_at", When, nullable=False),
    Column("updated_at", When, nullable=False),
)

# Outbox rows not yet fanned out to endpoints. A trigger on ``outbox`` adds a row here
# in the transaction that writes the event (migration 0005); fan-out deletes it.
webhook_fanout_queue = Table(
    "webhook_fanout_queue",
    metadata,
    Column("outbox_id", Serial, ForeignKey("outbox.id"), primary_key=True, autoincrement=False),
    Column("tenant_id", Id, ForeignKey("tenants.id"), nullable=False),
)

# Deliveries still to be done (domain.delivery_order.ACTIVE), as SQL.
ACTIVE_DELIVERY_SQL = "status IN ('pending', 'delivering')"

# One row per (endpoint, event): its id is the Standard Webhooks ``webhook-id``.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Id, primary_key=True),
    Column("tenant_id", Id, ForeignKey("tenants.id"), nullable=False),
    Column("endpoint_id", Id, ForeignKey("webhook_endpoints.id"), nullable=False),
    Column("outbox_id", Serial, ForeignKey("outbox.id"), nullable=False),
    Column("event_type", String(64), nullable=False),  # as in the outbox (no prefix)
    Column("ordering_key", String(200), nullable=False),  # see domain/delivery_order.py
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("round_attempts", Integer, nullable=False, default=0),  # since (re)delivery
    Column("round_started_at", When),
    Column("next_attempt_at", When),
    Column("lease_until", When),  # a worker's claim, while delivering
    Column("lease_token", String(64)),
    Column("last_attempt_at", When),
    Column("last_status_code", Integer),
    Column("last_error", Text),
    Column("created_at", When, nullable=False),
    Column("updated_at", When, nullable=False),
    UniqueConstraint("endpoint_id", "outbox_id"),
    # Claims walk this in order: pending, due earliest, recorded earliest.
    Index(
        "ix_webhook_deliveries_status_next_attempt_at_outbox_id",
        "status",
        "next_attempt_at",
        "outbox_id",
    ),
    # "Is an earlier delivery of this contact still to do?" without reading its history.
    # Queries must spell the condition the same way for SQLite to use the index.
    Index(
        "ix_webhook_deliveries_active",
        "endpoint_id",
        "ordering_key",
        "outbox_id",
        postgresql_where=text(ACTIVE_DELIVERY_SQL),
        sqlite_where=text(ACTIVE_DELIVERY_SQL),
    ),
    Index("ix_webhook_deliveries_tenant_id_outbox_id", "tenant_id", "outbox_id"),
)

# Every attempt at a delivery: when, the answer (or the error) and how long it took.
webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("tenant_id", Id, ForeignKey("tenants.id"), nullable=False),
    Column("delivery_id", Id, ForeignKey("webhook_deliveries.id"), nullable=False, index=True),
    Column("at", When, nullable=False),
    Column("status_code", Integer),
    Column("latency_ms", Integer),
    Column("response_excerpt", Text),
    Column("error", Text),
)


# (end of the webhook tables)

# ---- The scheduler: tables below this line ----


# (end of the scheduler tables)
