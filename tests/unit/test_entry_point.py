"""The free entry point window (DESIGN 1.4): a reply within 24h of an ad lead opens 72h."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from wawindow.domain.entry_point import EntryPoint
from wawindow.domain.facts import (
    InboundMessage,
    OutboundMessage,
    ProviderConversation,
    ProviderPricing,
    Referral,
    StatusUpdate,
)
from wawindow.domain.identity import Identity
from wawindow.domain.policy import Policy
from wawindow.domain.timeline import ThreadLog

SECOND = timedelta(seconds=1)
LINE = "106540352242922"
USER = Identity.of(wa_id="16505551234")
LEAD = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)  # Monday 08:00
REPLY = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)  # Monday 09:00


def lead() -> EntryPoint:
    return EntryPoint().on_referral(LEAD, "in1")


def test_a_referral_alone_opens_nothing() -> None:
    fep = lead()
    assert fep.lead_at == LEAD
    assert fep.lead_message_id == "in1"
    assert fep.opened_at is None
    assert not fep.is_open(LEAD)


def test_reply_within_24h_opens_at_the_reply_for_72h() -> None:
    fep = lead().on_business_message(REPLY)
    assert fep.answered
    assert fep.opened_at == REPLY
    assert fep.expires_at == REPLY + timedelta(hours=72)  # Thursday 09:00


def test_fep_open_from_the_reply_until_just_before_expiry() -> None:
    fep = lead().on_business_message(REPLY)
    expiry = REPLY + timedelta(hours=72)
    assert not fep.is_open(REPLY - SECOND)
    assert fep.is_open(REPLY)
    assert fep.is_open(expiry - SECOND)
    assert not fep.is_open(expiry)


def test_reply_one_second_before_24h_still_opens() -> None:
    reply = LEAD + timedelta(hours=24) - SECOND
    assert lead().on_business_message(reply).opened_at == reply


def test_reply_at_exactly_24h_does_not_open() -> None:
    fep = lead()
    assert fep.on_business_message(LEAD + timedelta(hours=24)) is fep


def test_business_message_before_the_lead_does_not_open() -> None:
    fep = lead()
    assert fep.on_business_message(LEAD - SECOND) is fep


def test_business_message_without_a_lead_does_nothing() -> None:
    fep = EntryPoint()
    assert fep.on_business_message(REPLY) is fep
    assert fep.lead_deadline is None
    assert not fep.is_unanswered(REPLY + timedelta(days=3))


def test_unanswered_lead_becomes_unanswered_at_24h() -> None:
    fep = lead()
    assert fep.lead_deadline == LEAD + timedelta(hours=24)
    assert not fep.is_unanswered(LEAD + timedelta(hours=24) - SECOND)
    assert fep.is_unanswered(LEAD + timedelta(hours=24))
    assert fep.is_unanswered(LEAD + timedelta(days=5))


def test_an_answered_lead_is_never_unanswered() -> None:
    fep = lead().on_business_message(REPLY)
    assert fep.lead_deadline is None
    assert not fep.is_unanswered(LEAD + timedelta(days=2))


def test_a_second_reply_does_not_restart_the_fep() -> None:
    fep = lead().on_business_message(REPLY)
    assert fep.on_business_message(REPLY + timedelta(hours=2)) is fep


def test_referral_during_an_open_fep_is_ignored() -> None:
    fep = lead().on_business_message(REPLY)
    assert fep.on_referral(REPLY + timedelta(hours=30), "in2") is fep


def test_referral_after_the_fep_closed_is_a_new_lead() -> None:
    fep = lead().on_business_message(REPLY)
    later = REPLY + timedelta(days=4)
    again = fep.on_referral(later, "in2")
    assert again.lead_at == later
    assert again.lead_message_id == "in2"
    assert not again.answered
    reopened = again.on_business_message(later + timedelta(hours=1))
    assert reopened.opened_at == later + timedelta(hours=1)
    assert reopened.is_open(later + timedelta(hours=2))


def test_provider_expiry_wins_over_72h() -> None:
    fep = lead().on_business_message(REPLY)
    seven_days = REPLY + timedelta(days=7)
    extended = fep.on_provider_expiry(REPLY + timedelta(hours=1), seven_days)
    assert extended.opened_at == REPLY
    assert extended.expires_at == seven_days
    assert extended.is_open(REPLY + timedelta(days=5))
    assert not extended.is_open(seven_days)


def test_the_same_provider_expiry_twice_changes_nothing() -> None:
    expiry = REPLY + timedelta(days=7)
    fep = lead().on_business_message(REPLY).on_provider_expiry(REPLY, expiry)
    assert fep.on_provider_expiry(REPLY + timedelta(hours=1), expiry) is fep


def test_provider_evidence_with_no_known_referral_opens_it() -> None:
    expiry = REPLY + timedelta(hours=72)
    fep = EntryPoint().on_provider_expiry(REPLY, expiry)
    assert fep.opened_at == REPLY
    assert fep.expires_at == expiry
    assert fep.is_open(REPLY + timedelta(hours=1))


def test_provider_evidence_for_a_later_fep_opens_it_at_that_send() -> None:
    # An FEP ran Monday–Thursday; a second ad click (its webhook lost) led to a reply ten
    # days later that the provider says is in an FEP. The old FEP's dates must not stretch.
    old = lead().on_business_message(REPLY)
    sent = REPLY + timedelta(days=10)
    fep = old.on_provider_expiry(sent, sent + timedelta(hours=72))
    assert fep.opened_at == sent
    assert not fep.is_open(REPLY + timedelta(days=5))
    assert fep.is_open(sent)


# -- through the fold ----------------------------------------------------------------


def inbound_with_referral(at: datetime, message_id: str = "in1") -> InboundMessage:
    referral = Referral(source_type="ad", source_id="AD1", source_url="https://fb.me/x")
    return InboundMessage(LINE, message_id, at, USER, "text", referral=referral)


def test_fold_opens_the_fep_at_the_reply_and_emits_fep_opened() -> None:
    log = ThreadLog(LINE, Policy())
    log.add(inbound_with_referral(LEAD))
    events = log.add(OutboundMessage(LINE, "out1", REPLY, USER, "text"))
    assert log.state.entry_point.opened_at == REPLY
    (opened,) = [e for e in events if e.type == "fep.opened"]
    assert opened.at == REPLY
    assert opened.subject == "out1"
    assert opened.data["expires_at"] == (REPLY + timedelta(hours=72)).isoformat()


def test_fold_takes_the_providers_seven_day_expiry_from_a_status() -> None:
    seven_days = REPLY + timedelta(days=7)
    log = ThreadLog(LINE, Policy())
    log.extend(
        [
            inbound_with_referral(LEAD),
            OutboundMessage(LINE, "out1", REPLY, USER, "text"),
            StatusUpdate(
                LINE,
                "out1",
                "delivered",
                REPLY + timedelta(seconds=5),
                USER,
                conversation=ProviderConversation("c1", seven_days, "referral_conversion"),
            ),
        ]
    )
    assert log.state.entry_point.expires_at == seven_days


def test_fold_opens_an_fep_from_free_entry_point_pricing_without_a_referral() -> None:
    expiry = REPLY + timedelta(hours=72)
    log = ThreadLog(LINE, Policy())
    log.extend(
        [
            OutboundMessage(LINE, "out1", REPLY, USER, "template", category="marketing"),
            StatusUpdate(
                LINE,
                "out1",
                "sent",
                REPLY + timedelta(seconds=2),
                USER,
                conversation=ProviderConversation("c1", expiry, None),
                pricing=ProviderPricing(False, "PMP", "marketing", "free_entry_point"),
            ),
        ]
    )
    assert log.state.entry_point.opened_at == REPLY
    assert log.state.entry_point.expires_at == expiry


def test_fold_ignores_a_conversation_expiry_that_is_not_an_fep() -> None:
    log = ThreadLog(LINE, Policy())
    log.extend(
        [
            OutboundMessage(LINE, "out1", REPLY, USER, "template", category="utility"),
            StatusUpdate(
                LINE,
                "out1",
                "sent",
                REPLY + timedelta(seconds=2),
                USER,
                conversation=ProviderConversation("c1", REPLY + timedelta(hours=24), "utility"),
            ),
        ]
    )
    assert log.state.entry_point.opened_at is None


def test_fold_ignores_an_fep_expiry_before_the_send() -> None:
    log = ThreadLog(LINE, Policy())
    log.extend(
        [
            OutboundMessage(LINE, "out1", REPLY, USER, "template", category="utility"),
            StatusUpdate(
                LINE,
                "out1",
                "sent",
                REPLY + timedelta(seconds=2),
                USER,
                conversation=ProviderConversation("c1", REPLY, "free_entry_point"),
            ),
        ]
    )
    assert log.state.entry_point.opened_at is None
