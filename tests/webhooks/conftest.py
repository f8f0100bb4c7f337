"""Webhooks out, end to end in one process: the real app (``ApiWorld``), facts ingested
through the real ingest path from WhatsApp-shaped bodies (``tests/support/scenario.py``),
a real HTTP receiver on a free port that verifies each request with the
``standardwebhooks`` library, and the real ``DeliveryJob`` ticked with the world's clock.

``Hooks`` bundles them:

- ``subscribe(events, path)`` creates an endpoint through the API and gives the
  receiver its secret;
- ``receive(*bodies)`` ingests webhook bodies at ``world.now``;
- ``drain(at)`` ticks the delivery job until it reports no work;
- ``deliveries(**filters)`` lists deliveries through the API.

The delivery job's random draw is fixed at 0, so retries follow the nominal
schedule and a test can predict them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.api.client import ApiWorld
from tests.support.receiver import Receiver, running_receiver
from wawindow.adapters.db.delivery_queue import SqlDeliveryQueue
from wawindow.adapters.meta.payload import parse_webhook
from wawindow.adapters.webhook_sender import HttpWebhookSender
from wawindow.service.delivery_job import DeliveryJob, DeliverySettings

MAX_TICKS = 500


@dataclass
class Hooks:
    world: ApiWorld
    receiver: Receiver
    base_url: str
    jobs: list[DeliveryJob] = field(default_factory=list)

    def subscribe(
        self, events: list[str] | None = None, path: str = "/hook", key: str | None = None
    ) -> str:
        body = {"url": self.base_url + path, "events": events or ["*"], "description": path}
        response = self.world.post("/v1/webhook-endpoints", body, key)
        assert response.status_code == 201, response.text
        self.receiver.secrets.append(response.json()["secret"])
        endpoint_id: str = response.json()["id"]
        return endpoint_id

    def receive(self, *bodies: dict[str, Any]) -> None:
        for body in bodies:
            parsed = parse_webhook(json.dumps(body).encode())
            self.world.ingest(*parsed.facts)

    def job(self, settings: DeliverySettings | None = None) -> DeliveryJob:
        engine = self.world.services.engine
        job = DeliveryJob(
            lambda: SqlDeliveryQueue(engine),
            HttpWebhookSender(timeout=10.0),
            settings,
            draw=lambda: 0.0,
        )
        self.jobs.append(job)
        return job

    def drain(self, at: datetime | None = None, job: DeliveryJob | None = None) -> int:
        """Tick until there is nothing to do at ``at`` (``world.now``); the work done."""
        job = job or (self.jobs[0] if self.jobs else self.job())
        done = 0
        for _ in range(MAX_TICKS):
            worked = job.tick(at or self.world.now)
            if worked == 0:
                return done
            done += worked
        raise AssertionError(f"still busy after {MAX_TICKS} ticks")

    def deliveries(self, **filters: Any) -> list[dict[str, Any]]:
        response = self.world.get("/v1/webhook-deliveries", page_size=200, **filters)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def contact_id(self, phone: str) -> str:
        found = self.world.get("/v1/contacts", phone=phone).json()["items"]
        assert len(found) == 1, found
        contact: str = found[0]["id"]
        return contact


@pytest.fixture
def hooks(tmp_path: Path) -> Iterator[Hooks]:
    with (
        ApiWorld.open(f"sqlite:///{tmp_path / 'ww.db'}") as world,
        running_receiver() as (receiver, url),
    ):
        made = Hooks(world, receiver, url)
        yield made
        for job in made.jobs:
            job.close()


@pytest.fixture
def hooks_on(db_url: str) -> Iterator[Hooks]:
    """``hooks`` on each backend in turn (SQLite, PostgreSQL)."""
    with ApiWorld.open(db_url) as world, running_receiver() as (receiver, url):
        made = Hooks(world, receiver, url)
        yield made
        for job in made.jobs:
            job.close()
