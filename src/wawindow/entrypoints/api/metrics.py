"""Prometheus metrics for ``GET /metrics``.

Each ``Metrics`` owns its own ``CollectorRegistry`` instead of using the
process-global one: the global registry refuses a second collector with the same
name, and tests (and the ``demo`` command) build many apps in one process.

Label values must come from small fixed sets (provider names, reason codes, fact
kinds), never from ids or phone numbers: every distinct value is a new time series.
Suggested values:

- ``provider``: ``meta``, ``sinch``, ``channel360``;
- ``webhooks_rejected_total{reason}``: ``bad_signature``, ``missing_signature``,
  ``too_large``, ``invalid_json``, ``store_failed``;
- ``webhooks_dropped_facts_total{reason}``: ``unknown_line`` (a ``phone_number_id``
  no tenant owns), ``unparsed`` (a part of the payload that gave no fact);
- ``facts_stored_total{kind}``: the fact kinds of DESIGN §1.2 (``inbound``,
  ``outbound``, ``status``, ``call``, ...);
- ``events_emitted_total{type}``: the timed event types (``window.closed``, ...);
- ``worker_tick_seconds{job}``, ``worker_errors_total{job}``: job names (``scheduler``).

Names carry the ``wawindow_`` namespace, as Prometheus naming practice asks, so the
series are ``wawindow_webhooks_received_total`` and so on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.exposition import choose_encoder

from wawindow.service.timed_events import TIMED_EVENT_TYPES, OutboxEvent

NAMESPACE: Final = "wawindow"
KNOWN_PROVIDERS: Final = ("meta", "sinch", "channel360")

# Ingestion is a parse plus one durable transaction: milliseconds normally, seconds
# when the disk or the database is in trouble; the buckets cover both.
INGEST_BUCKETS: Final = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


class Metrics:
    """The service's counters and histograms, registered in a private registry.

    ``providers`` pre-creates the provider-labelled series at zero, so that a
    dashboard shows ``0`` rather than "no data" and ``rate()`` works from the first
    webhook. ``process_metrics`` adds the standard ``process_*``/``python_*``
    collectors (off by default: they read ``/proc`` and are the same in every test).
    """

    def __init__(
        self, *, providers: Iterable[str] = KNOWN_PROVIDERS, process_metrics: bool = False
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.webhooks_received = Counter(
            "webhooks_received",
            "Webhook requests received, before any check.",
            ["provider"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.webhooks_rejected = Counter(
            "webhooks_rejected",
            "Webhook requests refused (nothing stored), by reason.",
            ["provider", "reason"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.webhooks_stored = Counter(
            "webhooks_stored",
            "Webhook bodies stored durably (the 200 was sent after this).",
            ["provider"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.webhooks_duplicate = Counter(
            "webhooks_duplicate",
            "Webhook bodies already stored before (provider retries).",
            ["provider"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.webhooks_dropped_facts = Counter(
            "webhooks_dropped_facts",
            "Facts in accepted webhooks that were not recorded, by reason.",
            ["provider", "reason"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.facts_stored = Counter(
            "facts_stored",
            "New facts recorded (duplicates of known facts are not counted).",
            ["kind"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.ingest_seconds = Histogram(
            "ingest_seconds",
            "Time to parse and durably store one webhook body.",
            namespace=NAMESPACE,
            buckets=INGEST_BUCKETS,
            registry=self.registry,
        )
        self.events_emitted = Counter(
            "events_emitted",
            "Timed events the scheduler wrote to the outbox, by type.",
            ["type"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.worker_tick_seconds = Histogram(
            "worker_tick_seconds",
            "Time of one tick of a background job (one batch), by job.",
            ["job"],
            namespace=NAMESPACE,
            buckets=INGEST_BUCKETS,
            registry=self.registry,
        )
        self.worker_errors = Counter(
            "worker_errors",
            "Ticks of a background job that failed (retried on the next tick), by job.",
            ["job"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        for kind in TIMED_EVENT_TYPES:
            self.events_emitted.labels(type=kind)
        for provider in providers:
            for counter in (
                self.webhooks_received,
                self.webhooks_stored,
                self.webhooks_duplicate,
            ):
                counter.labels(provider=provider)
        if process_metrics:
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)

    def count_emitted(self, events: Sequence[OutboxEvent]) -> None:
        for item in events:
            self.events_emitted.labels(type=item.type).inc()

    def render(self, accept: str | None = None) -> tuple[bytes, str]:
        """The exposition body and its ``Content-Type``, for ``GET /metrics``.

        Without ``accept`` this is the classic text format 0.0.4, which every
        Prometheus version scrapes. Pass the request's ``Accept`` header to let a
        scraper that asks for OpenMetrics (or text 1.0.0) get it.
        """
        if accept is None:
            return generate_latest(self.registry), CONTENT_TYPE_PLAIN_0_0_4
        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type
