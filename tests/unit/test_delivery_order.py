"""Delivery order: per endpoint, each contact's events one at a time; others go on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from wawindow.domain.delivery_order import (
    DeliveryStatus,
    QueuedDelivery,
    is_due,
    ordering_key,
    ready,
)
from wawindow.domain.webhook_message import event_body, event_id

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
PENDING, DELIVERING = DeliveryStatus.PENDING, DeliveryStatus.DELIVERING
SUCCEEDED, FAILED = DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED


def d(
    sequence: int,
    status: DeliveryStatus = PENDING,
    key: str = "contact:a",
    endpoint: str = "ep1",
    due: datetime | None = NOW,
    lease: datetime | None = None,
) -> QueuedDelivery:
    return QueuedDelivery(f"msg_{sequence}_{endpoint}", endpoint, key, sequence, status, due, lease)


def ids(deliveries: list[QueuedDelivery]) -> list[str]:
    return [delivery.id for delivery in deliveries]


def test_only_the_earliest_event_of_a_contact_goes() -> None:
    assert ids(ready([d(3), d(1), d(2)], NOW)) == ["msg_1_ep1"]


def test_a_later_event_waits_while_an_earlier_one_is_retried() -> None:
    retrying = d(1, due=NOW + timedelta(minutes=5))
    assert ready([retrying, d(2)], NOW) == []
    assert ids(ready([retrying, d(2)], NOW + timedelta(minutes=5))) == ["msg_1_ep1"]


def test_a_later_event_waits_while_an_earlier_one_is_in_flight() -> None:
    in_flight = d(1, DELIVERING, due=None, lease=NOW + timedelta(seconds=30))
    assert ready([in_flight, d(2)], NOW) == []


def test_succeeded_and_failed_events_hold_nothing_up() -> None:
    assert ids(ready([d(1, SUCCEEDED), d(2, FAILED), d(3)], NOW)) == ["msg_3_ep1"]


def test_other_contacts_and_other_endpoints_are_not_blocked() -> None:
    stuck = d(1, due=NOW + timedelta(hours=1))
    others = [d(2, key="contact:b"), d(3, endpoint="ep2"), d(4, key="subject:tpl")]
    assert ids(ready([stuck, d(5), *others], NOW)) == ["msg_2_ep1", "msg_3_ep2", "msg_4_ep1"]


def test_a_lapsed_claim_is_ready_again_and_keeps_its_place() -> None:
    lapsed = d(1, DELIVERING, due=None, lease=NOW)
    assert ids(ready([lapsed, d(2)], NOW)) == ["msg_1_ep1"]
    assert is_due(d(1, DELIVERING, due=None, lease=None), NOW)


def test_due_means_pending_with_its_time_come() -> None:
    assert is_due(d(1, due=NOW), NOW)
    assert not is_due(d(1, due=NOW + timedelta(seconds=1)), NOW)
    assert not is_due(d(1, due=None), NOW)
    assert not is_due(d(1, SUCCEEDED), NOW)


def test_the_ordering_key_is_the_contact_else_the_subject() -> None:
    assert ordering_key("ct_1", "conv_1") == "contact:ct_1"
    assert ordering_key(None, "order_update:en_US") == "subject:order_update:en_US"


def test_an_event_has_one_id_for_every_endpoint_and_attempt() -> None:
    key = "conversation.created:conv_1:2026-03-10T12:00:00+00:00"
    assert event_id("tn_1", key) == event_id("tn_1", key)
    assert event_id("tn_1", key) != event_id("tn_2", key)
    assert event_id("tn_1", key).startswith("evt_")


def test_the_body_has_the_standard_members() -> None:
    body = event_body("window.closed", "k", "tn_1", NOW, {"subject": "wamid.1"})
    assert body == {
        "type": "whatsapp.window.closed",
        "id": event_id("tn_1", "k"),
        "created_at": "2026-03-10T12:00:00Z",
        "tenant_id": "tn_1",
        "data": {"subject": "wamid.1"},
    }
