"""The Meta payload adapter: webhook bodies → facts, on real payloads and edge cases."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wawindow.adapters.meta.payload import ParsedWebhook, PayloadError, parse_webhook
from wawindow.domain.facts import (
    BsuidChanged,
    IdentityObserved,
    InboundMessage,
    OutboundMessage,
    OutboundSource,
    ProviderConversation,
    ProviderError,
    ProviderPricing,
    Referral,
    StatusUpdate,
    TemplateChange,
    TemplateRef,
    UserCall,
    natural_key,
)
from wawindow.domain.identity import Identifier, Identity

# The shared fixtures live next to the repository: /work/main/tests/adapters → /work/shared.
FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "meta-webhooks" / "pywa"

LINE = "1122334455667"
WABA = "5467539754836534"
T0 = 1_750_000_000


def _load_cases() -> dict[tuple[str, str], Any]:
    if not FIXTURES.is_dir():
        return {}
    cases: dict[tuple[str, str], Any] = {}
    for path in sorted(FIXTURES.glob("*.json")):
        for name, body in json.loads(path.read_text()).items():
            cases[(path.name, name)] = body
    return cases


CASES = _load_cases()


def _fixture_body(key: tuple[str, str]) -> bytes:
    if not CASES:
        pytest.skip(f"fixture folder missing: {FIXTURES}")
    return msgspec.json.encode(CASES[key])


def _kinds(parsed: ParsedWebhook) -> list[str]:
    return [type(fact).__name__ for fact in parsed.facts]


def _body(*changes: dict[str, Any], entry_id: str = WABA, time: int | None = None) -> bytes:
    entry: dict[str, Any] = {"id": entry_id, "changes": list(changes)}
    if time is not None:
        entry["time"] = time
    return msgspec.json.encode({"object": "whatsapp_business_account", "entry": [entry]})


def _change(field: str = "messages", line: str = LINE, **value: Any) -> dict[str, Any]:
    metadata = {"display_phone_number": "15550001111", "phone_number_id": line}
    return {
        "field": field,
        "value": {"messaging_product": "whatsapp", "metadata": metadata, **value},
    }


def _text_message(msg_id: str = "wamid.A", **extra: Any) -> dict[str, Any]:
    message = {"id": msg_id, "timestamp": str(T0), "type": "text", "text": {"body": "hi"}}
    return {**message, **extra}


def _status(msg_id: str = "wamid.S", status: str = "delivered", **extra: Any) -> dict[str, Any]:
    return {"id": msg_id, "status": status, "timestamp": str(T0), **extra}


def _only(parsed: ParsedWebhook, cls: type[Any]) -> Any:
    found = [fact for fact in parsed.facts if isinstance(fact, cls)]
    assert len(found) == 1, parsed.facts
    return found[0]


# --------------------------------------------------------------------------- fixtures

IO, IN, ST = "IdentityObserved", "InboundMessage", "StatusUpdate"
ACCOUNT_UPDATE_CASES = (
    "account_deleted",
    "account_restriction",
    "account_violation",
    "ad_account_linked",
    "authentication_international_eligibility",
    "account_disabled",
    "mm_api_for_wa_terms_of_service",
    "partner_added",
    "partner_app_installed",
    "partner_app_uninstalled",
    "partner_led_business_verification_status",
    "partner_removed",
    "partner_removed_wa_app_disconnection",
    "primary_business_location_set",
    "pricing_tiering_update",
    "account_offboarded",
    "account_reconnected",
)
INBOUND_CASES = (
    "text",
    "image",
    "media_with_url",
    "video",
    "document",
    "audio",
    "voice",
    "static_sticker",
    "animated_sticker",
    "reaction",
    "unreaction_empty",
    "unreaction_no_emoji",
    "current_location",
    "chosen_location",
    "contacts",
    "order",
    "unsupported",
    "unsupported_with_type",
    "reply",
    "forwarded",
    "forwarded_many_times",
    "interactive_message_with_err",  # an interactive message plus a webhook-level error
    "referral",
)

# Which facts each fixture case gives. Each body with a contacts[] block also gives an
# IdentityObserved (wa_id, user_id, parent_user_id seen together), listed first.
EXPECTED: dict[tuple[str, str], list[str]] = {
    # account updates concern the WABA, not a user thread: no fact, a skip note.
    **{("account_update.json", case): [] for case in ACCOUNT_UPDATE_CASES},
    # Business-initiated calls do not open the window; the user's call does.
    ("call_connect.json", "business_initiated"): [IO],
    ("call_connect.json", "user_initiated"): [IO, "UserCall"],
    # A call permission reply is an interactive message the user sent.
    ("call_permission_update.json", "accept"): [IO, IN],
    ("call_permission_update.json", "reject"): [IO, IN],
    # statuses[] of type "call" track a call, not a message.
    ("call_status.json", "call_status"): [IO],
    ("call_terminate.json", "call_terminate"): [IO],
    ("callback_button.json", "button"): [IO, IN],
    ("callback_button.json", "quick_reply"): [IO, IN],
    ("callback_button.json", "quick_reply_without_context"): [IO, IN],
    ("callback_selection.json", "callback"): [IO, IN],
    ("callback_selection.json", "description"): [IO, IN],
    # A deleted or edited message is not a new message.
    ("deleted_message.json", "revoke"): [IO],
    ("edited_message.json", "image"): [IO],
    ("flow_completion.json", "completion"): [IO, IN],
    ("flow_completion.json", "without_flow_token"): [IO, IN],
    **{("message.json", case): [IO, IN] for case in INBOUND_CASES},
    ("message_status.json", "sent"): [IO, ST],
    ("message_status.json", "delivered"): [IO, ST],
    ("message_status.json", "read"): [IO, ST],
    ("message_status.json", "played"): [IO, ST],
    # The failed status fixture still carries contacts (real ones may not).
    ("message_status.json", "failed"): [IO, ST],
    ("message_status.json", "with_tracker"): [IO, ST],
    # A group message's status: no one-to-one thread, only the contact is observed.
    ("message_status.json", "group"): [IO],
    ("outgoing_message.json", "text"): [IO, "OutboundMessage"],
    ("outgoing_message.json", "delete"): [IO],
    ("outgoing_message.json", "edit"): [IO],
    # No contacts block: the IdentityObserved links the old and the new number.
    ("system.json", "phone_number_change"): [IO],
    ("system.json", "identity_change"): [IO],
    ("template_category_update.json", "marketing"): ["TemplateChange"],
    ("template_components_update.json", "element"): ["TemplateChange"],
    ("template_quality_update.json", "yellow"): ["TemplateChange"],
    ("template_status_update.json", "approved"): ["TemplateChange"],
    ("template_status_update.json", "rejected"): ["TemplateChange"],
    ("user_marketing_preferences.json", "resume"): [IO],
    ("user_marketing_preferences.json", "signup"): [IO],
}


def test_expected_table_covers_every_fixture_case() -> None:
    if not CASES:
        pytest.skip(f"fixture folder missing: {FIXTURES}")
    assert len(EXPECTED) == 74
    assert set(EXPECTED) == set(CASES)


@pytest.mark.parametrize("key", sorted(CASES) or [("missing", "missing")], ids=str)
def test_every_fixture_parses(key: tuple[str, str]) -> None:
    parsed = parse_webhook(_fixture_body(key))
    assert parsed.accounts
    assert parsed.facts or parsed.skipped


@pytest.mark.parametrize(("key", "kinds"), sorted(EXPECTED.items()), ids=str)
def test_fixture_gives_expected_facts(key: tuple[str, str], kinds: list[str]) -> None:
    assert _kinds(parse_webhook(_fixture_body(key))) == kinds


def test_fixture_skips_say_why() -> None:
    skipped = parse_webhook(_fixture_body(("account_update.json", "account_deleted"))).skipped
    assert [(s.field, s.reason) for s in skipped] == [
        ("account_update", "account_update: no fact for this field")
    ]
    call = parse_webhook(_fixture_body(("call_connect.json", "business_initiated"))).skipped
    assert "business_initiated" in call[0].reason
    assert call[0].path == "entry[0].changes[0].value.calls[0]"
    revoke = parse_webhook(_fixture_body(("deleted_message.json", "revoke"))).skipped
    assert "revoke" in revoke[0].reason


def test_fixture_identity_links_wa_id_and_bsuids() -> None:
    parsed = parse_webhook(_fixture_body(("message.json", "text")))
    observed = _only(parsed, IdentityObserved)
    assert observed.user == Identity.of(
        wa_id="972987654321",
        bsuid="US.13491208655302741918",
        parent_bsuid="US.ENT.11815799212886844830",
        name="Test Name",
    )
    assert observed.at == datetime.fromtimestamp(1697043223, tz=UTC)
    inbound = _only(parsed, InboundMessage)
    assert inbound.user == observed.user
    assert (inbound.line, inbound.message_id, inbound.type) == (LINE, "wamid.xyzxyz", "text")


def test_fixture_phone_number_change_links_both_numbers() -> None:
    parsed = parse_webhook(_fixture_body(("system.json", "phone_number_change")))
    observed = _only(parsed, IdentityObserved)
    assert observed.user.identifiers == {
        Identifier.wa_id("972987654321"),
        Identifier.wa_id("972912345678"),
    }


def test_fixture_user_call_and_template_status() -> None:
    call = _only(parse_webhook(_fixture_body(("call_connect.json", "user_initiated"))), UserCall)
    assert (call.call_id, call.event, call.user.bsuid) == (
        "wacid.xxxx=",
        "connect",
        "US.13491208655302741918",
    )
    approved = parse_webhook(_fixture_body(("template_status_update.json", "approved")))
    assert _only(approved, TemplateChange) == TemplateChange(
        account="102290129340398",
        template_id="1689556908129832",
        event="status",
        at=datetime.fromtimestamp(1751247548, tz=UTC),
        name="order_confirmation",
        language="en_US",
        status="APPROVED",
        category="utility",
        reason="NONE",
    )


def test_fixture_template_category_and_quality() -> None:
    category = parse_webhook(_fixture_body(("template_category_update.json", "marketing")))
    change = _only(category, TemplateChange)
    assert (change.event, change.category, change.template_id) == (
        "category",
        "marketing",
        "12345678",
    )
    quality = parse_webhook(_fixture_body(("template_quality_update.json", "yellow")))
    assert _only(quality, TemplateChange).quality == "YELLOW"
    components = parse_webhook(_fixture_body(("template_components_update.json", "element")))
    element = _only(components, TemplateChange)
    assert (element.event, element.body) == ("components", "Hi {{1}}! Welcome to our service.")


def test_fixture_group_status_contact_username() -> None:
    parsed = parse_webhook(_fixture_body(("message_status.json", "group")))
    assert _only(parsed, IdentityObserved).user.username == "<USERNAME>"


@pytest.mark.parametrize("key", sorted(CASES) or [("missing", "missing")], ids=str)
def test_natural_keys_are_stable(key: tuple[str, str]) -> None:
    body = _fixture_body(key)
    first = [natural_key(fact) for fact in parse_webhook(body).facts]
    again = [natural_key(fact) for fact in parse_webhook(body).facts]
    assert first == again
    assert all(isinstance(part, str) for k in first for part in k)


# --------------------------------------------------------------------------- identities


def test_hidden_number_user_has_only_a_bsuid() -> None:
    message = _text_message(from_user_id="US.111")
    parsed = parse_webhook(_body(_change(messages=[message])))
    inbound = _only(parsed, InboundMessage)
    assert inbound.user.identifiers == {Identifier.bsuid("US.111")}
    assert inbound.user.wa_id is None


def test_hidden_number_user_merges_contact_username() -> None:
    contact = {"profile": {"name": "Ann", "username": "@ann"}, "user_id": "US.111"}
    message = _text_message(from_user_id="US.111")
    inbound = _only(
        parse_webhook(_body(_change(contacts=[contact], messages=[message]))), InboundMessage
    )
    assert inbound.user == Identity.of(bsuid="US.111", username="@ann", name="Ann")


def test_username_at_contact_level_is_accepted() -> None:
    contact = {"profile": {"name": "Ann"}, "username": "@ann", "wa_id": "16505551234"}
    message = _text_message(**{"from": "16505551234"})
    inbound = _only(
        parse_webhook(_body(_change(contacts=[contact], messages=[message]))), InboundMessage
    )
    assert inbound.user == Identity.of(wa_id="16505551234", username="@ann", name="Ann")


def test_contact_of_another_user_is_not_merged() -> None:
    contacts = [{"wa_id": "111"}, {"wa_id": "222", "user_id": "US.2"}]
    message = _text_message(**{"from": "222"})
    inbound = _only(
        parse_webhook(_body(_change(contacts=contacts, messages=[message]))), InboundMessage
    )
    assert inbound.user == Identity.of(wa_id="222", bsuid="US.2")


def test_lone_contact_names_a_message_that_names_nobody() -> None:
    message = _text_message()
    change = _change(contacts=[{"wa_id": "333"}], messages=[message])
    assert _only(parse_webhook(_body(change)), InboundMessage).user == Identity.of(wa_id="333")


def test_message_naming_nobody_is_skipped() -> None:
    parsed = parse_webhook(_body(_change(messages=[_text_message()])))
    assert parsed.facts == ()
    assert "names no user" in parsed.skipped[0].reason


def test_contacts_without_items_are_dated_by_entry_time_or_skipped() -> None:
    change = _change(field="user_preferences", contacts=[{"wa_id": "1"}])
    dated = parse_webhook(_body(change, time=T0))
    assert _only(dated, IdentityObserved).at == datetime.fromtimestamp(T0, tz=UTC)
    undated = parse_webhook(_body(change))
    assert undated.facts == ()
    assert any("date the identity" in s.reason for s in undated.skipped)


# --------------------------------------------------------------------------- messages


def test_referral_fields() -> None:
    referral = {
        "source_url": "https://fb.me/ad",
        "source_id": "120200",
        "source_type": "ad",
        "headline": "Sale",
        "ctwa_clid": "ARAkLk",
    }
    message = _text_message(**{"from": "16505551234", "referral": referral})
    inbound = _only(parse_webhook(_body(_change(messages=[message]))), InboundMessage)
    assert inbound.referral == Referral("ad", "120200", "https://fb.me/ad", "ARAkLk")


@pytest.mark.parametrize("kind", ["request_welcome", "brand_new_type", "unsupported", "button"])
def test_any_user_sent_type_is_inbound(kind: str) -> None:
    message = {"from": "1650", "id": "wamid.K", "timestamp": T0, "type": kind}
    assert _only(parse_webhook(_body(_change(messages=[message]))), InboundMessage).type == kind


def test_user_changed_user_id_is_a_bsuid_change() -> None:
    system = {
        "type": "user_changed_user_id",
        "body": "User changed",
        "previous_user_id": "US.1",
        "user_id": "US.2",
    }
    message = {"from": "1650", "id": "wamid.Y", "timestamp": str(T0), "type": "system"}
    parsed = parse_webhook(_body(_change(messages=[{**message, "system": system}])))
    change = _only(parsed, BsuidChanged)
    assert (change.previous_bsuid, change.new_bsuid, change.line) == ("US.1", "US.2", LINE)
    assert change.user.identifiers >= {Identifier.wa_id("1650"), Identifier.bsuid("US.2")}
    assert not [f for f in parsed.facts if isinstance(f, InboundMessage)]


def test_number_change_with_regenerated_bsuid() -> None:
    system = {
        "type": "user_changed_number",
        "wa_id": "2222",
        "previous_user_id": "US.1",
        "user_id": "US.2",
    }
    message = {"from": "1111", "from_user_id": "US.1", "id": "wamid.N", "timestamp": str(T0)}
    parsed = parse_webhook(
        _body(_change(messages=[{**message, "type": "system", "system": system}]))
    )
    assert _kinds(parsed) == ["IdentityObserved", "BsuidChanged"]
    observed = _only(parsed, IdentityObserved)
    assert {Identifier.wa_id("1111"), Identifier.wa_id("2222")} <= observed.user.identifiers
    assert (_only(parsed, BsuidChanged).previous_bsuid, _only(parsed, BsuidChanged).new_bsuid) == (
        "US.1",
        "US.2",
    )


@pytest.mark.parametrize(
    "item",
    [
        {"wa_id": "1650", "user_id": {"previous": "US.1", "current": "US.2"}},
        {"wa_id": "1650", "user_id": {"old": "US.1", "new": "US.2"}},
        {"wa_id": "1650", "previous_user_id": "US.1", "user_id": "US.2"},
        {"wa_id": "1650", "old_user_id": "US.1", "new_user_id": "US.2"},
    ],
)
def test_user_id_update_shapes(item: dict[str, Any]) -> None:
    listed = _change(field="user_id_update", user_id_update=[{**item, "timestamp": str(T0)}])
    flat = _change(field="user_id_update", timestamp=T0, **item)
    for body in (_body(listed), _body(flat)):
        change = _only(parse_webhook(body), BsuidChanged)
        assert (change.previous_bsuid, change.new_bsuid) == ("US.1", "US.2")
        assert change.user.wa_id == "1650"
        assert change.at == datetime.fromtimestamp(T0, tz=UTC)


# --------------------------------------------------------------------------- statuses


def test_status_with_pricing_conversation_errors() -> None:
    status = _status(
        "wamid.F",
        "FAILED",
        recipient_id="16505551234",
        recipient_user_id="US.9",
        conversation={
            "id": "conv1",
            "expiration_timestamp": str(T0 + 86400),
            "origin": {"type": "utility"},
        },
        pricing={
            "billable": True,
            "pricing_model": "PMP",
            "category": "authentication-international",
            "type": "regular",
        },
        errors=[
            {
                "code": 131047,
                "title": "Re-engagement message",
                "message": "Re-engagement message",
                "error_data": {"details": "More than 24 hours have passed"},
            }
        ],
    )
    update = _only(parse_webhook(_body(_change(statuses=[status]))), StatusUpdate)
    assert update == StatusUpdate(
        line=LINE,
        message_id="wamid.F",
        status="failed",
        at=datetime.fromtimestamp(T0, tz=UTC),
        user=Identity.of(wa_id="16505551234", bsuid="US.9"),
        errors=(
            ProviderError(
                131047,
                "Re-engagement message",
                "Re-engagement message",
                "More than 24 hours have passed",
            ),
        ),
        conversation=ProviderConversation(
            "conv1", datetime.fromtimestamp(T0 + 86400, tz=UTC), "utility"
        ),
        pricing=ProviderPricing(True, "PMP", "authentication_international", "regular"),
    )


def test_failed_status_naming_nobody_is_still_a_fact() -> None:
    status = _status("wamid.F", "failed", errors=[{"code": "131026"}])
    update = _only(parse_webhook(_body(_change(statuses=[status]))), StatusUpdate)
    assert update.user == Identity()
    assert update.errors == (ProviderError(131026),)


def test_fifty_statuses_give_fifty_facts() -> None:
    statuses = [_status(f"wamid.{i}", "read", recipient_id="1650") for i in range(50)]
    parsed = parse_webhook(_body(_change(statuses=statuses)))
    assert _kinds(parsed) == ["StatusUpdate"] * 50
    assert len({natural_key(fact) for fact in parsed.facts}) == 50


# --------------------------------------------------------------------------- echoes


def test_template_echo_is_an_outbound_message() -> None:
    echo = {
        "from": "15550001111",
        "to": "16505551234",
        "to_user_id": "US.5",
        "id": "wamid.E",
        "timestamp": str(T0),
        "type": "template",
        "template": {"name": "order_update", "language": {"code": "en_US"}},
    }
    parsed = parse_webhook(_body(_change(field="smb_message_echoes", message_echoes=[echo])))
    outbound = _only(parsed, OutboundMessage)
    assert outbound.source is OutboundSource.ECHO
    assert outbound.template == TemplateRef("order_update", "en_US")
    assert outbound.user == Identity.of(wa_id="16505551234", bsuid="US.5")
    assert outbound.is_template


# --------------------------------------------------------------------------- robustness


@pytest.mark.parametrize("body", [b"", b"{", b"not json", b'{"entry": [}', b"\xff\xfe"])
def test_invalid_json_raises_payload_error(body: bytes) -> None:
    with pytest.raises(PayloadError, match="invalid JSON"):
        parse_webhook(body)


@pytest.mark.parametrize("body", [b"[]", b'[{"entry": []}]', b'"text"', b"42", b"null", b"true"])
def test_non_object_top_level_raises_payload_error(body: bytes) -> None:
    with pytest.raises(PayloadError, match="not an object"):
        parse_webhook(body)


def test_unknown_fields_and_loose_types_do_not_raise() -> None:
    status = _status(
        "wamid.L",
        recipient_id=16505551234,
        timestamp=T0,
        pricing={"billable": "true", "category": "UTILITY", "brand_new": {"x": [1]}},
        surprise={"nested": [1, 2]},
    )
    body = _body(_change(statuses=[status], unknown_list=[{"a": 1}], unknown_value=3), time=T0)
    parsed = parse_webhook(body)
    update = _only(parsed, StatusUpdate)
    assert update.pricing == ProviderPricing(True, None, "utility", None)
    assert update.user == Identity.of(wa_id="16505551234")
    assert parsed.skipped == ()


def test_wrong_typed_field_loses_only_that_field() -> None:
    statuses = [
        _status("wamid.1", pricing={"billable": {"not": "a bool"}, "category": "marketing"}),
        _status("wamid.2", conversation=["not", "an", "object"]),
        _status("wamid.3"),
    ]
    messages: list[Any] = [
        42,
        _text_message("wamid.M", **{"from": ["bad"], "from_user_id": "US.7"}),
    ]
    parsed = parse_webhook(_body(_change(statuses=statuses, messages=messages)))
    assert _kinds(parsed) == ["InboundMessage", "StatusUpdate", "StatusUpdate", "StatusUpdate"]
    first = parsed.facts[1]
    assert isinstance(first, StatusUpdate)
    assert first.pricing == ProviderPricing(None, None, "marketing", None)
    assert _only(parsed, InboundMessage).user == Identity.of(bsuid="US.7")
    paths = {s.path for s in parsed.skipped}
    assert {
        "entry[0].changes[0].value.statuses[0].pricing.billable",
        "entry[0].changes[0].value.statuses[1].conversation",
        "entry[0].changes[0].value.messages[0]",
        "entry[0].changes[0].value.messages[1].from",
    } == paths
    assert all(s.field == "messages" for s in parsed.skipped)


def test_unreadable_timestamp_falls_back_to_entry_time_or_skips() -> None:
    message = _text_message(**{"from": "1650", "timestamp": "soon"})
    with_time = parse_webhook(_body(_change(messages=[message]), time=T0))
    assert _only(with_time, InboundMessage).at == datetime.fromtimestamp(T0, tz=UTC)
    without = parse_webhook(_body(_change(messages=[message])))
    assert without.facts == ()
    assert "timestamp" in without.skipped[0].reason


def test_change_without_line_is_reported() -> None:
    change = {"field": "messages", "value": {"messages": [_text_message(**{"from": "1"})]}}
    parsed = parse_webhook(_body(change))
    assert parsed.facts == ()
    assert parsed.lines == ()
    assert "phone_number_id" in parsed.skipped[0].reason


def test_batch_of_entries_and_changes_is_all_visited() -> None:
    def entry(waba: str, lines: tuple[str, str]) -> dict[str, Any]:
        changes = [
            _change(line=lines[0], messages=[_text_message(f"wamid.{waba}", **{"from": "1"})]),
            _change(line=lines[1], statuses=[_status(f"wamid.{waba}.s", recipient_id="1")]),
        ]
        return {"id": waba, "changes": changes}

    body = {"object": "whatsapp_business_account", "entry": [entry("W1", ("L1", "L2"))]}
    body["entry"].append(entry("W2", ("L2", "L3")))
    parsed = parse_webhook(msgspec.json.encode(body))
    assert _kinds(parsed) == [IN, ST, IN, ST]
    assert [f.line for f in parsed.facts if not isinstance(f, TemplateChange)] == [
        "L1",
        "L2",
        "L2",
        "L3",
    ]
    assert parsed.lines == ("L1", "L2", "L3")
    assert parsed.accounts == ("W1", "W2")


@pytest.mark.parametrize(
    "envelope",
    [
        {"entry": "not a list"},
        {"entry": [None, 3, {"changes": None}]},
        {"entry": [{"id": {"x": 1}, "time": "later", "changes": [{"field": 7, "value": []}]}]},
        {"entry": [{"changes": [{"field": "messages", "value": {"messages": {"id": "x"}}}]}]},
        {"entry": [{"changes": [{"field": "messages", "value": {"metadata": "nope"}}]}]},
        {"object": ["x"], "entry": []},
    ],
)
def test_odd_shapes_are_reported_not_raised(envelope: dict[str, Any]) -> None:
    parsed = parse_webhook(msgspec.json.encode(envelope))
    assert parsed.facts == ()
    assert parsed.skipped


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
KEYS = st.sampled_from(
    ["from", "id", "timestamp", "type", "status", "wa_id", "user_id", "pricing", "errors", "system"]
)


@settings(max_examples=200, deadline=None)
@given(
    items=st.lists(st.dictionaries(KEYS, JSON, max_size=5), max_size=3),
    contacts=st.lists(st.dictionaries(KEYS, JSON, max_size=3), max_size=2),
    list_name=st.sampled_from(
        ["messages", "statuses", "message_echoes", "calls", "user_id_update"]
    ),
)
def test_any_json_in_known_places_never_raises(
    items: list[dict[str, Any]], contacts: list[dict[str, Any]], list_name: str
) -> None:
    change = _change(contacts=contacts, **{list_name: items})
    parsed = parse_webhook(_body(change, time=T0))
    assert parsed.lines == (LINE,)
    assert len(parsed.facts) + len(parsed.skipped) >= 1 or not (items or contacts)


def test_a_body_that_is_not_utf8_is_a_payload_error() -> None:
    with pytest.raises(PayloadError, match="invalid JSON"):
        parse_webhook(b'{"object": "\xff"}')
