"""A worker killed (SIGKILL) while its request is in flight loses nothing: once its claim
lapses another worker sends the delivery again, with the same ``webhook-id``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

from tests.api.client import START, ApiWorld
from tests.support import scenario
from tests.support.receiver import Receiver, running_receiver
from tests.webhooks.conftest import Hooks
from wawindow.domain.times import iso_z
from wawindow.service.delivery_job import DeliverySettings

WAIT = 30.0  # seconds, at most, for the worker's request to arrive

WORKER = """
import sys
from wawindow.adapters.db.delivery_queue import SqlDeliveryQueue
from wawindow.adapters.db.engine import make_engine
from wawindow.adapters.webhook_sender import HttpWebhookSender
from wawindow.domain.times import parse_iso
from wawindow.service.delivery_job import DeliveryJob

engine = make_engine(sys.argv[1])
job = DeliveryJob(lambda: SqlDeliveryQueue(engine), HttpWebhookSender())
job.tick(parse_iso(sys.argv[2]))
"""


def test_a_killed_workers_delivery_is_sent_again_with_the_same_id(tmp_path: Path) -> None:
    arrived, release = threading.Event(), threading.Event()

    def hold_the_first(request: object) -> int:
        if not arrived.is_set():
            arrived.set()
            release.wait(WAIT)  # the worker is killed while this request is in flight
        return 200

    url = f"sqlite:///{tmp_path / 'ww.db'}"
    with ApiWorld.open(url) as world, running_receiver(Receiver()) as (receiver, base):
        hooks = Hooks(world, receiver, base)
        hooks.subscribe(["whatsapp.message.received"])
        receiver.answer = hold_the_first
        hooks.receive(scenario.inbound("2026-03-10T11:00", "wamid.1", "16505551234"))

        worker = subprocess.Popen([sys.executable, "-c", WORKER, url, iso_z(START) or ""])
        try:
            assert arrived.wait(WAIT), "the worker never sent its request"
            os.kill(worker.pid, signal.SIGKILL)
        finally:
            worker.wait(WAIT)
            release.set()
        assert worker.returncode == -signal.SIGKILL

        lease = DeliverySettings().lease
        job = hooks.job()
        assert hooks.drain(START + lease - timedelta(seconds=1), job) == 0  # still its claim
        hooks.drain(START + lease, job)
        job.close()

        first, again = receiver.received
        assert first.webhook_id == again.webhook_id
        assert first.raw == again.raw
        assert again.verified
        (delivery,) = hooks.deliveries()
        assert delivery["status"] == "succeeded"
        assert [a["error"] for a in delivery["attempts"]] == [
            "no result: the worker's claim lapsed before it recorded one",
            None,
        ]
