"""The sandbox's rules (``entrypoints.sandbox.simulation``) called directly: WhatsApp's view
of a chat, and what becomes of each message sent, era by era."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from wawindow.entrypoints.sandbox.simulation import (
    Chat,
    ConversationReport,
    Delivered,
    Outgoing,
    PricingReport,
    Refused,
    Sent,
    call,
    receive,
    send,
)

FREE_FORM = Outgoing(is_template=False)
UTILITY = Outgoing(is_template=True, template_category="UTILITY")
MARKETING = Outgoing(is_template=True, template_category="marketing")
AUTHENTICATION = Outgoing(is_template=True, template_category="AUTHENTICATION")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def delivered(result: Sent) -> Delivered:
    assert isinstance(result.outcome, Delivered), result.outcome
    return result.outcome


def sent(chat: Chat, message: Outgoing, when: str, conversation_id: str = "c1", **kw: int) -> Sent:
    return send(chat, message, at(when), new_conversation_id=conversation_id, **kw)


# --------------------------------------------------------------------------- the window


def test_free_form_to_a_user_who_never_wrote_fails_with_131047() -> None:
    result = sent(Chat(), FREE_FORM, "2026-03-10T09:00")
    assert result.outcome == Refused(131047)


def test_free_form_is_delivered_until_24h_after_the_last_inbound_and_fails_after() -> None:
    chat = receive(Chat(), at("2026-03-10T10:00"), "wamid.in1")
    chat = receive(chat, at("2026-03-10T15:00"), "wamid.in2")
    assert isinstance(sent(chat, FREE_FORM, "2026-03-11T14:59:59").outcome, Delivered)
    assert sent(chat, FREE_FORM, "2026-03-11T15:00:00").outcome == Refused(131047)


def test_a_user_call_opens_the_window_like_a_message() -> None:
    chat = call(Chat(), at("2026-03-10T10:00"))
    assert isinstance(sent(chat, FREE_FORM, "2026-03-10T12:00").outcome, Delivered)
    assert sent(chat, FREE_FORM, "2026-03-11T10:00").outcome == Refused(131047)


def test_templates_go_out_with_the_window_closed_and_do_not_open_it() -> None:
    result = sent(Chat(), UTILITY, "2026-03-10T09:00")
    assert isinstance(result.outcome, Delivered)
    assert not result.chat.window_open(at("2026-03-10T09:00:01"))
    assert sent(result.chat, FREE_FORM, "2026-03-10T09:01").outcome == Refused(131047)


def test_a_refused_message_changes_nothing() -> None:
    chat = receive(Chat(), at("2026-03-10T10:00"), "wamid.ad", from_referral=True)
    late = sent(chat, FREE_FORM, "2026-03-11T10:00")
    assert late.outcome == Refused(131047)
    assert late.chat == chat


# --------------------------------------------------------------------------- PMP


def test_pmp1_service_reply_and_utility_in_the_window_are_free_marketing_is_billed() -> None:
    chat = receive(Chat(), at("2026-03-10T09:00"), "wamid.in")
    reply = delivered(sent(chat, FREE_FORM, "2026-03-10T09:05"))
    assert reply.pricing == PricingReport(False, "PMP", "service", "free_customer_service")
    assert reply.conversation is None
    utility = delivered(sent(chat, UTILITY, "2026-03-10T09:30"))
    assert utility.pricing == PricingReport(False, "PMP", "utility", "free_customer_service")
    marketing = delivered(sent(chat, MARKETING, "2026-03-10T09:40"))
    assert marketing.pricing == PricingReport(True, "PMP", "marketing", "regular")


def test_pmp1_utility_outside_the_window_is_billed() -> None:
    utility = delivered(sent(Chat(), UTILITY, "2026-03-10T09:00"))
    assert utility.pricing == PricingReport(True, "PMP", "utility", "regular")


def test_pmp2_utility_inside_the_window_is_billed() -> None:
    chat = receive(Chat(), at("2026-11-10T09:00"), "wamid.in")
    utility = delivered(sent(chat, UTILITY, "2026-11-10T09:30"))
    assert utility.pricing == PricingReport(True, "PMP", "utility", "regular")


@pytest.mark.parametrize(
    ("service_used", "expected"),
    [
        (0, PricingReport(False, "PMP", "service", "free_customer_service")),
        (999, PricingReport(False, "PMP", "service", "free_customer_service")),
        (1000, PricingReport(True, "PMP", "service", "regular")),
    ],
)
def test_pmp2_service_messages_are_free_up_to_1000_a_month(
    service_used: int, expected: PricingReport
) -> None:
    chat = receive(Chat(), at("2026-11-10T09:00"), "wamid.in")
    reply = delivered(sent(chat, FREE_FORM, "2026-11-10T09:05", service_used=service_used))
    assert reply.pricing == expected
    assert reply.counts_toward_free_tier


def test_pmp1_service_messages_do_not_count_toward_a_free_tier() -> None:
    chat = receive(Chat(), at("2026-03-10T09:00"), "wamid.in")
    assert not delivered(sent(chat, FREE_FORM, "2026-03-10T09:05")).counts_toward_free_tier


# --------------------------------------------------------------------------- free entry point


def test_an_answered_ad_opens_72h_of_free_messages_with_a_referral_conversation() -> None:
    # DESIGN 5.5: ad inbound Monday 08:00, reply 09:00 → FEP until Thursday 09:00.
    chat = receive(Chat(), at("2026-03-09T08:00"), "wamid.ad", from_referral=True)
    reply = sent(chat, FREE_FORM, "2026-03-09T09:00", conversation_id="fep1")
    first = delivered(reply)
    expires = at("2026-03-12T09:00")
    assert first.pricing == PricingReport(False, "PMP", "service", "free_entry_point")
    assert first.conversation == ConversationReport("fep1", expires, "referral_conversion")
    # Wednesday: the window closed on Tuesday 08:00, yet a marketing template is free.
    wednesday = sent(reply.chat, MARKETING, "2026-03-11T12:00", conversation_id="unused")
    assert delivered(wednesday).pricing == PricingReport(
        False, "PMP", "marketing", "free_entry_point"
    )
    assert delivered(wednesday).conversation == ConversationReport(
        "fep1", expires, "referral_conversion"
    )
    assert sent(reply.chat, FREE_FORM, "2026-03-11T12:00").outcome == Refused(131047)
    after = delivered(sent(reply.chat, MARKETING, "2026-03-12T09:00"))
    assert after.pricing == PricingReport(True, "PMP", "marketing", "regular")


def test_an_ad_answered_after_24h_opens_no_free_entry_point() -> None:
    chat = receive(Chat(), at("2026-03-09T08:00"), "wamid.ad", from_referral=True)
    late = delivered(sent(chat, MARKETING, "2026-03-10T08:00"))
    assert late.pricing == PricingReport(True, "PMP", "marketing", "regular")
    assert late.conversation is None


# --------------------------------------------------------------------------- CBP


def test_cbp_service_conversation_then_a_billed_utility_conversation_charged_once() -> None:
    # DESIGN 5.9 (2025-03-05): inbound 10:00, reply 10:05, utility 11:00, utility 15:00.
    chat = receive(Chat(), at("2025-03-05T10:00"), "wamid.in")
    reply = sent(chat, FREE_FORM, "2025-03-05T10:05", conversation_id="service1")
    assert delivered(reply).pricing == PricingReport(False, "CBP", "service", None)
    assert delivered(reply).conversation == ConversationReport(
        "service1", at("2025-03-06T10:05"), "service"
    )
    utility = sent(reply.chat, UTILITY, "2025-03-05T11:00", conversation_id="utility1")
    assert delivered(utility).pricing == PricingReport(True, "CBP", "utility", None)
    assert delivered(utility).conversation == ConversationReport(
        "utility1", at("2025-03-06T11:00"), "utility"
    )
    again = sent(utility.chat, UTILITY, "2025-03-05T15:00", conversation_id="unused")
    # Same conversation (same id): no new charge, though Meta marks it billable.
    assert delivered(again).conversation == delivered(utility).conversation
    assert delivered(again).pricing == PricingReport(True, "CBP", "utility", None)


def test_cbp_service_reply_inside_a_utility_conversation_belongs_to_it() -> None:
    chat = receive(Chat(), at("2025-03-05T10:00"), "wamid.in")
    utility = sent(chat, UTILITY, "2025-03-05T10:01", conversation_id="utility1")
    reply = delivered(sent(utility.chat, FREE_FORM, "2025-03-05T10:02", conversation_id="x"))
    assert reply.conversation is not None
    assert reply.conversation.id == "utility1"
    assert reply.pricing.category == "utility"


def test_cbp_a_conversation_ends_after_24h_and_the_next_message_opens_another() -> None:
    first = sent(Chat(), MARKETING, "2025-03-05T10:00", conversation_id="m1")
    later = sent(first.chat, MARKETING, "2025-03-06T10:00", conversation_id="m2")
    assert delivered(later).conversation == ConversationReport(
        "m2", at("2025-03-07T10:00"), "marketing"
    )
    assert [c.id for c in later.chat.conversations] == ["m2"]


def test_cbp_free_entry_point_conversation_covers_everything_for_free() -> None:
    chat = receive(Chat(), at("2025-03-03T08:00"), "wamid.ad", from_referral=True)
    reply = sent(chat, FREE_FORM, "2025-03-03T09:00", conversation_id="fep1")
    expected = ConversationReport("fep1", at("2025-03-06T09:00"), "referral_conversion")
    assert delivered(reply).conversation == expected
    assert delivered(reply).pricing == PricingReport(False, "CBP", "referral_conversion", None)
    marketing = delivered(sent(reply.chat, MARKETING, "2025-03-05T12:00"))
    assert marketing.conversation == expected
    assert not marketing.pricing.billable


def test_before_the_first_era_the_sandbox_applies_cbp() -> None:
    result = delivered(sent(Chat(), AUTHENTICATION, "2024-06-01T10:00", conversation_id="a1"))
    assert result.pricing == PricingReport(True, "CBP", "authentication", None)


def test_a_template_listed_without_a_category_is_priced_as_utility() -> None:
    result = delivered(sent(Chat(), Outgoing(is_template=True), "2026-03-10T09:00"))
    assert result.pricing.category == "utility"


def test_the_window_expiry_is_exactly_24h() -> None:
    inbound = at("2026-03-10T10:00")
    chat = receive(Chat(), inbound, "wamid.in")
    assert chat.window.expires_at == inbound + timedelta(hours=24)
