"""The webhook delivery queue on SQLite and PostgreSQL: fan-out misses no event whatever
the order of commits and creates each delivery once; claims follow the ordering rule,
never overlap between workers, and lapse; two dispatchers deliver each event once."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select, text

from tests.support.receiver import running_receiver
from wawindow.adapters.db import schema as t
from wawindow.adapters.db.delivery_queue import SqlDeliveryQueue
from wawindow.adapters.db.engine import make_engine
from wawindow.adapters.db.ingest_store import insert_ignoring
from wawindow.adapters.db.migrate import upgrade
from wawindow.adapters.db.tenant_store import SqlTenantStore
from wawindow.adapters.db.webhook_store import SqlWebhookStore
from wawindow.adapters.webhook_sender import HttpWebhookSender
from wawindow.domain.delivery_order import DeliveryStatus, QueuedDelivery, ready
from wawindow.service.delivery_job import DeliveryJob, DeliverySettings
from wawindow.service.tenants import create_tenant
from wawindow.service.webhook_endpoints import EndpointSpec, create_endpoint, delete_endpoint
from wawindow.service.webhook_fanout import delivery_for, fan_out, targets
from wawindow.service.webhook_ports import Attempt, AttemptOutcome, DeliveryFilter

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
_keys = itertools.count(1)


@dataclass
class Db:
    engine: Engine
    tenant_id: str

    @property
    def postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def endpoint(self, url: str = "http://127.0.0.1:9/hook", events: str = "*") -> str:
        with SqlWebhookStore(self.engine) as store:
            made = create_endpoint(store, self.tenant_id, EndpointSpec(url, [events]), NOW)
        return made.endpoint.id

    def event_values(self, subject: str, type_: str = "message.received") -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "event_key": f"{type_}:{subject}:{next(_keys)}",
            "type": type_,
            "thread_id": None,
            "occurred_at": NOW,
            "data": {"subject": subject},
            "created_at": NOW,
        }

    def add_events(self, *subjects: str) -> list[int]:
        with self.engine.begin() as connection:
            return [
                connection.execute(
                    insert(t.outbox).values(**self.event_values(s)).returning(t.outbox.c.id)
                ).scalar_one()
                for s in subjects
            ]

    def fan_out(self, at: datetime = NOW) -> int:
        with SqlDeliveryQueue(self.engine) as queue:
            count = fan_out(queue, at, 1000)
            queue.commit()
        return count

    def delivered_events(self) -> list[int]:
        query = select(t.webhook_deliveries.c.outbox_id).order_by(t.webhook_deliveries.c.outbox_id)
        with self.engine.connect() as connection:
            return list(connection.execute(query).scalars())

    def queued(self) -> list[int]:
        query = select(t.webhook_fanout_queue.c.outbox_id).order_by("outbox_id")
        with self.engine.connect() as connection:
            return list(connection.execute(query).scalars())


@pytest.fixture
def db(db_url: str) -> Iterator[Db]:
    engine = make_engine(db_url)
    upgrade(engine)
    with SqlTenantStore(engine) as store:
        tenant = create_tenant(store, "acme", NOW)
    yield Db(engine, tenant.tenant_id)
    engine.dispose()


def needs_postgres(db: Db) -> None:
    if not db.postgres:
        pytest.skip("SQLite has one writer at a time: commits cannot interleave")


# -- fan-out ------------------------------------------------------------------------------


def test_the_outbox_trigger_queues_each_new_event_once(db: Db) -> None:
    ids = db.add_events("a", "b")
    values = db.event_values("c")
    with db.engine.begin() as connection:
        assert insert_ignoring(connection, t.outbox, values)
        assert not insert_ignoring(connection, t.outbox, values)  # same event: not written

    queued = db.queued()
    assert queued[:2] == ids
    assert len(queued) == 3


def test_fan_out_makes_one_delivery_per_subscribed_endpoint_and_empties_the_queue(db: Db) -> None:
    everything = db.endpoint(events="*")
    db.endpoint(events="whatsapp.conversation.*")  # not message.received
    ids = db.add_events("a", "b")

    assert db.fan_out() == 2

    assert db.delivered_events() == ids
    assert db.queued() == []
    with SqlWebhookStore(db.engine) as store:
        listed, _ = store.deliveries(db.tenant_id, DeliveryFilter(), 0, 10)
    assert {d.endpoint_id for d in listed} == {everything}


def test_fanning_out_an_event_again_creates_no_second_delivery(db: Db) -> None:
    db.endpoint()
    (event,) = db.add_events("a")
    db.fan_out()
    with db.engine.begin() as connection:  # as if a crash had left it queued
        connection.execute(
            insert(t.webhook_fanout_queue).values(outbox_id=event, tenant_id=db.tenant_id)
        )

    db.fan_out()

    assert db.delivered_events() == [event]
    assert db.queued() == []


def test_an_event_committed_after_a_later_one_is_still_fanned_out(db: Db) -> None:
    # On PostgreSQL ids are handed out at insert and become visible at commit: the event
    # holding the lower id can commit last. A cursor over ids would skip it for ever.
    needs_postgres(db)
    db.endpoint()
    with db.engine.connect() as slow:
        slow_tx = slow.begin()
        lower = slow.execute(
            insert(t.outbox).values(**db.event_values("slow")).returning(t.outbox.c.id)
        ).scalar_one()
        (higher,) = db.add_events("fast")
        assert lower < higher

        assert db.fan_out() == 1
        assert db.delivered_events() == [higher]
        slow_tx.commit()

    assert db.fan_out() == 1
    assert db.delivered_events() == [lower, higher]


def test_one_fan_out_runs_at_a_time(db: Db) -> None:
    needs_postgres(db)
    with SqlDeliveryQueue(db.engine) as first, SqlDeliveryQueue(db.engine) as second:
        assert first.lock_fan_out()
        assert not second.lock_fan_out()


def test_an_endpoint_deleted_during_a_fan_out_goes_with_its_new_deliveries(db: Db) -> None:
    needs_postgres(db)
    endpoint_id = db.endpoint()
    db.add_events("a")
    errors: list[BaseException] = []

    def delete() -> None:
        try:
            with SqlWebhookStore(db.engine) as store:
                delete_endpoint(store, db.tenant_id, endpoint_id)
        except BaseException as error:  # reported by the test thread
            errors.append(error)

    with SqlDeliveryQueue(db.engine) as queue:
        assert queue.lock_fan_out()
        (event,) = queue.queued_events(10)
        endpoints = queue.endpoints_of([db.tenant_id])[db.tenant_id]
        deleting = threading.Thread(target=delete)
        deleting.start()
        _wait_for_a_lock_wait(db)
        queue.add_deliveries([delivery_for(event, e, NOW) for e in targets(event, endpoints)])
        queue.dequeue([event.outbox_id])
        queue.commit()
    deleting.join(30)

    assert errors == []
    assert db.delivered_events() == []
    with SqlWebhookStore(db.engine) as store:
        assert store.endpoints(db.tenant_id) == []


def _wait_for_a_lock_wait(db: Db) -> None:
    """Until another session waits for a row lock (the delete, behind the fan-out)."""
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    with db.engine.connect() as connection:
        for _ in range(600):
            if connection.execute(waiting).scalar_one():
                return
            connection.rollback()
            time.sleep(0.05)
    raise AssertionError("the delete never waited for the fan-out")


def test_a_disabled_endpoint_gets_its_events_as_failed_deliveries(db: Db) -> None:
    endpoint_id = db.endpoint()
    with SqlDeliveryQueue(db.engine) as queue:
        queue.disable_endpoint(endpoint_id, "test", NOW)
        queue.commit()
    db.add_events("a")

    db.fan_out()

    with SqlDeliveryQueue(db.engine) as queue:
        assert queue.claim(NOW, 10, NOW + timedelta(minutes=1)) == []
    query = select(t.webhook_deliveries.c.status, t.webhook_deliveries.c.last_error)
    with db.engine.connect() as connection:
        status, error = connection.execute(query).one()
    assert status == "failed"
    assert error.startswith("endpoint disabled")


# -- claims --------------------------------------------------------------------------------


STATUSES = list(DeliveryStatus)


def _random_deliveries(db: Db, rng: random.Random, endpoints: list[str]) -> list[QueuedDelivery]:
    """Deliveries in random states, written straight to the table, as the pure rule sees them."""
    subjects = ["a", "b", "c", "d"]
    events = db.add_events(*(rng.choice(subjects) for _ in range(30)))
    made: list[QueuedDelivery] = []
    with db.engine.begin() as connection:
        for n, event in enumerate(events):
            endpoint = rng.choice(endpoints)
            status = rng.choice(STATUSES)
            offset = timedelta(seconds=rng.choice([-60, -1, 0, 1, 60]))
            next_at = NOW + offset if status is DeliveryStatus.PENDING else None
            lease = NOW + offset if status is DeliveryStatus.DELIVERING else None
            key = f"subject:{rng.choice(subjects)}"
            delivery = QueuedDelivery(f"msg_{n:03}", endpoint, key, event, status, next_at, lease)
            connection.execute(insert(t.webhook_deliveries).values(**_row(db, delivery)))
            made.append(delivery)
    return made


def _row(db: Db, delivery: QueuedDelivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "tenant_id": db.tenant_id,
        "endpoint_id": delivery.endpoint_id,
        "outbox_id": delivery.sequence,
        "event_type": "message.received",
        "ordering_key": delivery.ordering_key,
        "status": delivery.status.value,
        "attempts": 0,
        "round_attempts": 0,
        "next_attempt_at": delivery.next_attempt_at,
        "lease_until": delivery.lease_until,
        "lease_token": "old" if delivery.lease_until else None,
        "created_at": NOW,
        "updated_at": NOW,
    }


@pytest.mark.parametrize("seed", range(6))
def test_claims_follow_the_pure_ordering_rule(db: Db, seed: int) -> None:
    rng = random.Random(seed)
    endpoints = [db.endpoint(), db.endpoint()]
    deliveries = _random_deliveries(db, rng, endpoints)
    with db.engine.begin() as connection:  # the trigger queued them: not under test here
        connection.execute(t.webhook_fanout_queue.delete())

    with SqlDeliveryQueue(db.engine) as queue:
        claimed = queue.claim(NOW, 1000, NOW + timedelta(minutes=1))
        queue.commit()

    # The same deliveries (the order within one claim does not matter: one per contact).
    assert sorted(c.id for c in claimed) == sorted(d.id for d in ready(deliveries, NOW))
    assert claimed


def test_workers_claiming_at_once_take_different_contacts(db: Db) -> None:
    needs_postgres(db)
    db.endpoint()
    db.add_events("a", "b", "a", "c", "b", "a", "d")
    db.fan_out()
    lease = NOW + timedelta(minutes=1)

    with SqlDeliveryQueue(db.engine) as first, SqlDeliveryQueue(db.engine) as second:
        taken_first = first.claim(NOW, 2, lease)
        taken_second = second.claim(NOW, 10, lease)  # while the first holds its rows
        first.commit()
        second.commit()

    subjects_first = {c.event.subject for c in taken_first}
    subjects_second = {c.event.subject for c in taken_second}
    assert subjects_first == {"a", "b"}
    assert subjects_second == {"c", "d"}
    with SqlDeliveryQueue(db.engine) as third:
        assert third.claim(NOW, 10, lease) == []  # each contact has one in flight


def test_a_lapsed_claim_is_taken_again_and_the_first_worker_cannot_record(db: Db) -> None:
    db.endpoint()
    db.add_events("a")
    db.fan_out()
    lease = timedelta(seconds=60)

    with SqlDeliveryQueue(db.engine) as queue:
        (first,) = queue.claim(NOW, 10, NOW + lease)
        queue.commit()
    with SqlDeliveryQueue(db.engine) as queue:
        assert queue.claim(NOW + lease - timedelta(seconds=1), 10, NOW + 2 * lease) == []
        (second,) = queue.claim(NOW + lease, 10, NOW + 2 * lease)
        queue.commit()
    done = Attempt(NOW + lease, 200, 5, "ok", None)
    outcome = AttemptOutcome(DeliveryStatus.SUCCEEDED, None, done)
    with SqlDeliveryQueue(db.engine) as queue:
        stale = queue.finish([(first, outcome)])
        current = queue.finish([(second, outcome)])
        queue.commit()

    assert second.id == first.id
    assert second.lease_token != first.lease_token
    assert (stale, current) == (0, 1)
    with db.engine.connect() as connection:
        attempts = connection.execute(select(func.count()).select_from(t.webhook_attempts))
        assert attempts.scalar_one() == 3  # the lapsed one, and both results
        status = connection.execute(select(t.webhook_deliveries.c.status)).scalar_one()
    assert status == "succeeded"


# -- two dispatchers ---------------------------------------------------------------------------


def test_two_dispatchers_deliver_every_event_exactly_once_in_order(db: Db) -> None:
    subjects = [f"contact{n}" for n in range(25)]
    with running_receiver() as (receiver, base):
        db.endpoint(url=base + "/hook")
        with SqlWebhookStore(db.engine) as store:
            receiver.secrets.append(store.secrets(store.endpoints(db.tenant_id)[0].id).current)
        events = db.add_events(*(s for _ in range(4) for s in subjects))
        settings = DeliverySettings(claim_batch=10, fan_out_batch=30)
        jobs = [
            DeliveryJob(lambda: SqlDeliveryQueue(db.engine), HttpWebhookSender(), settings)
            for _ in range(2)
        ]
        errors: list[BaseException] = []

        def work(job: DeliveryJob) -> None:
            try:
                idle = 0
                for _ in range(2000):
                    idle = idle + 1 if job.tick(NOW) == 0 else 0
                    if idle >= 3 and len(receiver.received) >= len(events):
                        return
            except BaseException as error:  # reported by the test thread
                errors.append(error)

        workers = [threading.Thread(target=work, args=(job,)) for job in jobs]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(120)
        for job in jobs:
            job.close()

    assert errors == []
    received = receiver.received
    assert len(received) == len(events)
    assert len({r.webhook_id for r in received}) == len(events)
    assert all(r.verified and r.answered == 200 for r in received)
    for subject in subjects:
        keys = [r.body["id"] for r in received if r.body["data"]["subject"] == subject]
        assert len(keys) == 4
    with db.engine.connect() as connection:
        statuses = connection.execute(select(t.webhook_deliveries.c.status).distinct())
        assert list(statuses.scalars()) == ["succeeded"]
        attempts = connection.execute(select(func.count()).select_from(t.webhook_attempts))
        assert attempts.scalar_one() == len(events)
    _assert_in_recorded_order(db, received)


def _assert_in_recorded_order(db: Db, received: list[Any]) -> None:
    """Each subject's events arrived in outbox order."""
    query = select(t.webhook_deliveries.c.id, t.webhook_deliveries.c.outbox_id)
    with db.engine.connect() as connection:
        sequence = {row.id: row.outbox_id for row in connection.execute(query)}
    per_subject: dict[str, list[int]] = {}
    for request in received:
        per_subject.setdefault(request.body["data"]["subject"], []).append(
            sequence[request.webhook_id]
        )
    for subject, order in per_subject.items():
        assert order == sorted(order), subject
