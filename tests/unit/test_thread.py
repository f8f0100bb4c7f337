"""The fold of one thread (``thread.evolve``): windows, provider evidence, placement, billing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from wawindow.domain.conversations import Origin, conversation_id
from wawindow.domain.drift import DriftKind
from wawindow.domain.events import DomainEvent
from wawindow.domain.facts import (
    InboundMessage,
    OutboundMessage,
    ProviderError,
    ProviderPricing,
    Referral,
    StatusUpdate,
    TemplateRef,
    ThreadFact,
    UserCall,
)
from wawindow.domain.identity import Identity
from wawindow.domain.messages import merge_fact
from wawindow.domain.policy import Policy
from wawindow.domain.pricing import BillingType, Model
from wawindow.domain.thread import ThreadState, evolve
from wawindow.domain.timeline import ThreadLog

LINE = "106540352242922"
USER = Identity.of(wa_id="16505551234")
START = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)  # PMP-1
SENT = START + timedelta(hours=2)


def later(minutes: float, base: datetime = START) -> datetime:
    return base + timedelta(minutes=minutes)


def inbound(message_id: str, at: datetime) -> InboundMessage:
    return InboundMessage(LINE, message_id, at, USER, "text")


def free_form(message_id: str, at: datetime) -> OutboundMessage:
    return OutboundMessage(LINE, message_id, at, USER, "text")


def template(message_id: str, at: datetime, category: str = "utility") -> OutboundMessage:
    return OutboundMessage(LINE, message_id, at, USER, "template", TemplateRef("t"), category)


def failed(message_id: str, at: datetime, code: int = 131047) -> StatusUpdate:
    return StatusUpdate(LINE, message_id, "failed", at, USER, (ProviderError(code, "closed"),))


def delivered(
    message_id: str, at: datetime, pricing: ProviderPricing | None = None
) -> StatusUpdate:
    return StatusUpdate(LINE, message_id, "delivered", at, USER, pricing=pricing)


def fold(*facts: ThreadFact) -> tuple[ThreadLog, list[DomainEvent]]:
    log = ThreadLog(LINE, Policy())
    events = log.extend(facts)
    return log, events


# -- the service window -----------------------------------------------------------------


def test_inbound_opens_the_window_and_is_received() -> None:
    step = evolve(ThreadState(LINE), inbound("in1", START), {}, Policy())
    assert step.state.window.last_inbound_at == START
    assert [e.type for e in step.events] == [
        "window.opened",
        "message.received",
        "conversation.created",
    ]
    assert step.events[0].data["expires_at"] == later(24 * 60).isoformat()
    assert step.placed == ("in1", conversation_id(LINE, "in1"))


def test_an_inbound_in_an_open_window_extends_it() -> None:
    _, events = fold(inbound("in1", START), inbound("in2", later(60)))
    assert [e.type for e in events if e.type.startswith("window.")] == [
        "window.opened",
        "window.extended",
    ]


def test_templates_do_not_open_the_window() -> None:
    log, _ = fold(template("out1", START), delivered("out1", later(1)))
    assert log.state.window.last_inbound_at is None
    (conversation,) = log.conversations()
    assert conversation.initiated_by == "business"


def test_a_user_call_opens_the_window_but_is_not_a_message() -> None:
    log, events = fold(UserCall(LINE, "call1", START, USER))
    assert log.state.window.is_open(later(60))
    assert log.state.window.expires_at == later(24 * 60)
    assert [(e.type, e.subject) for e in events] == [("window.opened", "call1")]
    assert log.conversations() == []
    assert log.records == {}


def test_a_user_call_extends_an_open_window() -> None:
    log, events = fold(inbound("in1", START), UserCall(LINE, "call1", later(90), USER))
    assert log.state.window.expires_at == later(90 + 24 * 60)
    assert events[-1].type == "window.extended"
    (conversation,) = log.conversations()
    assert conversation.messages_count == 1


# -- provider evidence about the window -------------------------------------------------


@pytest.mark.parametrize("code", [131047, 470])
def test_a_re_engagement_failure_closes_the_window_from_the_send_time(code: int) -> None:
    log, events = fold(
        inbound("in1", START), free_form("out1", SENT), failed("out1", later(1, SENT), code)
    )
    window = log.state.window
    assert window.ends_at == SENT
    assert not window.is_open(SENT)
    (drift,) = log.drift()
    assert (drift.kind, drift.message_id, drift.at) == (DriftKind.WINDOW, "out1", SENT)
    assert (drift.computed, drift.provider) == ("open", "closed")
    (drift_event,) = [e for e in events if e.type == "window.drift"]
    assert drift_event.subject == "out1"
    assert drift_event.at == SENT


def test_the_next_inbound_reopens_a_window_the_provider_closed() -> None:
    log, _ = fold(
        inbound("in1", START),
        free_form("out1", SENT),
        failed("out1", later(1, SENT)),
        inbound("in2", later(30, SENT)),
    )
    assert log.state.window.is_open(later(31, SENT))
    assert log.state.window.expires_at == later(30 + 24 * 60, SENT)


def test_a_re_engagement_failure_in_a_closed_window_is_no_drift() -> None:
    sent = later(25 * 60)
    log, _ = fold(inbound("in1", START), free_form("out1", sent), failed("out1", later(1, sent)))
    assert log.drift() == []
    assert log.state.window.closed_by_provider_at is None


def test_other_failures_say_nothing_about_the_window() -> None:
    log, _ = fold(
        inbound("in1", START), free_form("out1", SENT), failed("out1", later(1, SENT), 131026)
    )
    assert log.drift() == []
    assert log.state.window.is_open(later(5, SENT))


def test_a_failure_about_a_window_the_user_reopened_since_is_ignored() -> None:
    # sent 12:00, the user wrote 12:01, the failure came 12:02: the window is open again.
    log, _ = fold(
        inbound("in1", START),
        free_form("out1", SENT),
        inbound("in2", later(1, SENT)),
        failed("out1", later(2, SENT)),
    )
    assert log.drift() == []
    assert log.state.window.is_open(later(3, SENT))


def test_free_customer_service_pricing_while_computed_closed_is_window_drift() -> None:
    pricing = ProviderPricing(False, "PMP", "utility", "free_customer_service")
    log, events = fold(template("out1", SENT), delivered("out1", later(1, SENT), pricing))
    window_drift = [d for d in log.drift() if d.kind is DriftKind.WINDOW]
    assert [(d.message_id, d.at, d.computed, d.provider) for d in window_drift] == [
        ("out1", SENT, "closed", "open")
    ]
    assert "window.drift" in [e.type for e in events]


def test_free_customer_service_pricing_inside_the_window_is_no_drift() -> None:
    pricing = ProviderPricing(False, "PMP", "utility", "free_customer_service")
    log, _ = fold(
        inbound("in1", START), template("out1", SENT), delivered("out1", later(1, SENT), pricing)
    )
    assert log.drift() == []


# -- placing messages ---------------------------------------------------------------------


def test_a_status_only_message_enters_a_conversation_at_its_first_status() -> None:
    log, events = fold(
        StatusUpdate(LINE, "echo1", "delivered", later(2), USER),
        StatusUpdate(LINE, "echo1", "sent", later(1), USER),
    )
    (conversation,) = log.conversations()
    assert conversation.started_at == later(1)
    assert conversation.initiated_by == "business"
    assert conversation.origin is Origin.BUSINESS_INITIATED
    assert log.placements() == {"echo1": conversation.id}
    assert [e.type for e in events].count("conversation.created") == 1


def test_a_status_before_the_send_record_places_the_message_at_the_status() -> None:
    log, _ = fold(
        StatusUpdate(LINE, "out1", "sent", later(1), USER),
        template("out1", later(2), "marketing"),
    )
    (conversation,) = log.conversations()
    assert conversation.started_at == later(1)
    assert conversation.messages_count == 1


def test_a_send_record_timed_after_its_first_status_still_gives_category_and_billing() -> None:
    # The send record (an echo, an import line) carries a timestamp a little after
    # WhatsApp's delivery receipt. All facts are known: the message is a delivered
    # marketing template in PMP-1, so its conversation is marketing and it is billable.
    log, _ = fold(
        delivered("out1", later(1)),
        template("out1", later(2), "marketing"),
    )
    (conversation,) = log.conversations()
    assert conversation.category == "marketing"
    assert "out1" in log.estimates()
    assert log.estimates()["out1"].billable


def test_a_status_of_an_inbound_message_changes_nothing() -> None:
    state = ThreadState(LINE)
    record = merge_fact(None, inbound("in1", START))
    step = evolve(state, delivered("in1", later(1)), {"in1": record}, Policy())
    assert step.state == state
    assert step.events == ()


def test_a_status_with_no_record_changes_nothing() -> None:
    state = ThreadState(LINE)
    assert evolve(state, delivered("ghost", later(1)), {}, Policy()).state == state


def test_each_status_emits_message_status() -> None:
    _, events = fold(template("out1", START), delivered("out1", later(1)))
    (status_event,) = [e for e in events if e.type == "message.status"]
    assert (status_event.subject, status_event.data["status"]) == ("out1", "delivered")


# -- billing at delivery --------------------------------------------------------------------


def test_a_message_is_billed_once_at_its_delivery() -> None:
    log, _ = fold(
        inbound("in1", START),
        template("out1", later(30)),
        StatusUpdate(LINE, "out1", "read", later(33), USER),
        delivered("out1", later(32)),
        StatusUpdate(LINE, "out1", "sent", later(31), USER),
    )
    billing = log.estimates()["out1"]
    assert (billing.model, billing.type, billing.billable) == (
        Model.PMP,
        BillingType.FREE_CUSTOMER_SERVICE,
        False,
    )


def test_read_without_delivered_bills_at_the_read() -> None:
    log, _ = fold(
        template("out1", START, "marketing"), StatusUpdate(LINE, "out1", "read", later(3), USER)
    )
    assert log.estimates()["out1"].billable


def test_an_undelivered_message_is_not_billed() -> None:
    log, _ = fold(template("out1", START), StatusUpdate(LINE, "out1", "sent", later(1), USER))
    assert log.estimates() == {}


def test_the_era_is_that_of_the_delivery() -> None:
    sent = datetime(2025, 6, 30, 23, 59, 50, tzinfo=UTC)
    log, _ = fold(
        template("out1", sent), delivered("out1", datetime(2025, 7, 1, 0, 0, 5, tzinfo=UTC))
    )
    assert log.estimates()["out1"].era == "PMP-1"


def test_no_estimate_before_the_first_era() -> None:
    at = datetime(2024, 10, 20, 12, 0, tzinfo=UTC)
    log, _ = fold(template("out1", at), delivered("out1", later(1, at)))
    assert log.estimates() == {}


def test_no_estimate_for_a_message_of_unknown_type() -> None:
    log, _ = fold(delivered("echo1", START))
    assert log.estimates() == {}


def test_cbp_service_then_utility_is_one_charge() -> None:
    # DESIGN 5.9 (2025-03-05)
    day = datetime(2025, 3, 5, 10, 0, tzinfo=UTC)
    log, _ = fold(
        inbound("in1", day),
        free_form("out1", later(5, day)),
        delivered("out1", later(6, day)),
        template("out2", later(60, day)),
        delivered("out2", later(61, day)),
        template("out3", later(300, day)),
        delivered("out3", later(301, day)),
    )
    estimates = log.estimates()
    assert [estimates[m].billable for m in ("out1", "out2", "out3")] == [False, True, False]
    assert {estimates[m].model for m in estimates} == {Model.CBP}
    assert sorted(log.state.cbp.open_at(later(302, day))) == ["service", "utility"]


def test_pmp2_service_counts_toward_the_monthly_free_tier() -> None:
    day = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
    log, _ = fold(
        inbound("in1", day), free_form("out1", later(5, day)), delivered("out1", later(6, day))
    )
    billing = log.estimates()["out1"]
    assert billing.counts_toward_free_tier
    assert billing.era == "PMP-2"


def test_fep_makes_a_marketing_template_free_after_the_window_closed() -> None:
    # DESIGN 5.5: ad lead Monday 08:00, reply 09:00, marketing Wednesday 12:00.
    monday = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)
    wednesday = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)
    log, _ = fold(
        InboundMessage(LINE, "in1", monday, USER, "text", Referral(source_type="ad")),
        free_form("out1", later(60, monday)),
        template("out2", wednesday, "marketing"),
        delivered("out2", later(1, wednesday)),
    )
    assert not log.state.window.is_open(wednesday)
    billing = log.estimates()["out2"]
    assert (billing.type, billing.billable) == (BillingType.FREE_ENTRY_POINT, False)
