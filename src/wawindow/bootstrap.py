"""The composition root: settings → engine → stores → use cases → the HTTP app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from wawindow.adapters.clock import SandboxClock, system_now
from wawindow.adapters.db.delivery_queue import SqlDeliveryQueue
from wawindow.adapters.db.due_store import SqlScheduler
from wawindow.adapters.db.engine import make_engine
from wawindow.adapters.db.ingest_store import SqlIngestStore
from wawindow.adapters.db.migrate import upgrade
from wawindow.adapters.db.send_store import SqlSendStores
from wawindow.adapters.db.tenant_store import SqlTenantStore
from wawindow.adapters.db.webhook_store import SqlWebhookStore
from wawindow.adapters.webhook_sender import HttpWebhookSender
from wawindow.adapters.whatsapp.client import HttpWhatsAppClient
from wawindow.config import Settings, load_settings
from wawindow.entrypoints.api.metrics import Metrics
from wawindow.service.delivery_job import DeliveryJob, DeliverySettings
from wawindow.service.ingest import Ingestor
from wawindow.service.jobs import Job
from wawindow.service.ports import WhatsAppClient
from wawindow.service.scheduler import SchedulerJob
from wawindow.service.sending import Sender


def utc_now() -> datetime:
    return system_now()


@dataclass
class Services:
    """What the entrypoints use; one per process."""

    settings: Settings
    engine: Engine
    ingestor: Ingestor = field(default_factory=Ingestor)
    metrics: Metrics = field(default_factory=Metrics)
    clock: Callable[[], datetime] = utc_now
    whatsapp: WhatsAppClient = field(default_factory=HttpWhatsAppClient)

    def sender(self) -> Sender:
        """Sends through the gate with this process's WhatsApp client and thread cache."""
        return Sender(
            SqlSendStores(self.engine),
            self.ingestor,
            self.whatsapp,
            self.settings.graph_base_url,
            self.settings.graph_api_version,
        )

    def ingest_store(self) -> SqlIngestStore:
        return SqlIngestStore(self.engine)

    def tenant_store(self) -> SqlTenantStore:
        return SqlTenantStore(self.engine)

    def webhook_store(self) -> SqlWebhookStore:
        return SqlWebhookStore(self.engine)

    def delivery_job(self, settings: DeliverySettings | None = None) -> DeliveryJob:
        """The webhook dispatcher, for the worker loop to ``tick``; ``close()`` it after."""
        return DeliveryJob(lambda: SqlDeliveryQueue(self.engine), HttpWebhookSender(), settings)

    def worker_jobs(self) -> list[Job]:
        """The background jobs that ``wawindow worker`` and serve's worker thread run:
        the scheduler first, so an event due now is delivered in the same pass."""
        scheduler = SchedulerJob(
            SqlScheduler(self.engine),
            batch=self.settings.scheduler_batch,
            on_emitted=self.metrics.count_emitted,
        )
        return [scheduler, self.delivery_job()]


def engine_from(settings: Settings) -> Engine:
    """The database engine the settings describe, for every process that opens one."""
    return make_engine(
        settings.database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        pool_timeout=settings.database_pool_timeout,
    )


def build_services(settings: Settings | None = None, migrate: bool | None = None) -> Services:
    settings = settings or load_settings()
    engine = engine_from(settings)
    if settings.migrate_on_start if migrate is None else migrate:
        upgrade(engine)
    services = Services(settings, engine, whatsapp=HttpWhatsAppClient.from_settings(settings))
    if settings.clock_url is not None:
        services.clock = SandboxClock(settings.clock_url)
    return services
