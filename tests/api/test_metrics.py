"""Metrics: a private registry per instance, all the series /metrics promises."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.parser import text_string_to_metric_families

from wawindow.entrypoints.api.metrics import Metrics


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body, _ = metrics.render()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def test_render_exposes_every_metric_as_prometheus_text() -> None:
    metrics = Metrics()
    metrics.webhooks_received.labels(provider="meta").inc()
    metrics.webhooks_rejected.labels(provider="meta", reason="bad_signature").inc()
    metrics.webhooks_stored.labels(provider="meta").inc()
    metrics.webhooks_duplicate.labels(provider="meta").inc(2)
    metrics.webhooks_dropped_facts.labels(provider="meta", reason="unknown_line").inc(3)
    metrics.facts_stored.labels(kind="inbound").inc(4)
    metrics.ingest_seconds.observe(0.003)

    body, content_type = metrics.render()
    assert content_type == CONTENT_TYPE_PLAIN_0_0_4
    assert isinstance(body, bytes)
    values = samples(metrics)
    meta = (("provider", "meta"),)
    assert values[("wawindow_webhooks_received_total", meta)] == 1
    rejected = (("provider", "meta"), ("reason", "bad_signature"))
    assert values[("wawindow_webhooks_rejected_total", rejected)] == 1
    assert values[("wawindow_webhooks_stored_total", meta)] == 1
    assert values[("wawindow_webhooks_duplicate_total", meta)] == 2
    dropped = (("provider", "meta"), ("reason", "unknown_line"))
    assert values[("wawindow_webhooks_dropped_facts_total", dropped)] == 3
    assert values[("wawindow_facts_stored_total", (("kind", "inbound"),))] == 4
    assert values[("wawindow_ingest_seconds_count", ())] == 1
    assert values[("wawindow_ingest_seconds_bucket", (("le", "0.005"),))] == 1
    assert values[("wawindow_ingest_seconds_bucket", (("le", "0.0025"),))] == 0


def test_known_providers_start_at_zero() -> None:
    values = samples(Metrics())
    for provider in ("meta", "sinch", "channel360"):
        assert values[("wawindow_webhooks_received_total", (("provider", provider),))] == 0


def test_instances_do_not_share_state() -> None:
    first, second = Metrics(), Metrics()
    first.webhooks_received.labels(provider="meta").inc()
    assert samples(second)[("wawindow_webhooks_received_total", (("provider", "meta"),))] == 0
    assert first.registry is not second.registry


def test_openmetrics_on_request() -> None:
    metrics = Metrics()
    body, content_type = metrics.render("application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    assert body.endswith(b"# EOF\n")
    _, plain = metrics.render("text/html")
    assert plain == CONTENT_TYPE_PLAIN_0_0_4


def test_process_metrics_are_optional() -> None:
    assert b"process_" not in Metrics().render()[0]
    assert b"python_info" in Metrics(process_metrics=True).render()[0]
