"""The composition root: settings → engine → stores → use cases → the HTTP app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine

from wawindow.adapters.db.delivery_queue import SqlDeliveryQueue
from wawindow.adapters.db.engine import make_engine
from wawindow.adapters.db.ingest_store import SqlIngestStore
from wawindow.adapters.db.migrate import upgrade
from wawindow.adapters.db.tenant_store import SqlTenantStore
from wawindow.adapters.db.webhook_store import SqlWebhookStore
from wawindow.adapters.webhook_sender import HttpWebhookSender
from wawindow.config import Settings, load_settings
from wawindow.entrypoints.api.metrics import Metrics
from wawindow.service.delivery_job import DeliveryJob, DeliverySettings
from wawindow.service.ingest import Ingestor


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class Services:
    """What the entrypoints use; one per process."""

    settings: Settings
    engine: Engine
    ingestor: Ingestor = field(default_factory=Ingestor)
    metrics: Metrics = field(default_factory=Metrics)
    clock: Callable[[], datetime] = utc_now

    def ingest_store(self) -> SqlIngestStore:
        return SqlIngestStore(self.engine)

    def tenant_store(self) -> SqlTenantStore:
        return SqlTenantStore(self.engine)

    def webhook_store(self) -> SqlWebhookStore:
        return SqlWebhookStore(self.engine)

    def delivery_job(self, settings: DeliverySettings | None = None) -> DeliveryJob:
        """The webhook dispatcher, for the worker loop to ``tick``; ``close()`` it after."""
        return DeliveryJob(lambda: SqlDeliveryQueue(self.engine), HttpWebhookSender(), settings)


def build_services(settings: Settings | None = None, migrate: bool | None = None) -> Services:
    settings = settings or load_settings()
    engine = make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    if settings.migrate_on_start if migrate is None else migrate:
        upgrade(engine)
    return Services(settings, engine)
