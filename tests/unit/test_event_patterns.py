"""Subscriptions: event patterns are checked against the catalogue and match by family."""

from __future__ import annotations

import pytest

from wawindow.domain.event_catalogue import (
    EVENT_TYPES,
    PING,
    families,
    internal_name,
    tenant_name,
)
from wawindow.domain.event_patterns import (
    MAX_PATTERNS,
    InvalidPattern,
    matches,
    normalise_patterns,
)

DESIGN_EVENTS = {
    "conversation.created",
    "conversation.reactivated",
    "conversation.updated",
    "conversation.merged",
    "conversation.inactive",
    "conversation.ended",
    "window.opened",
    "window.extended",
    "window.expiring",
    "window.closed",
    "fep.opened",
    "fep.closed",
    "lead.unanswered_soon",
    "lead.unanswered",
    "message.received",
    "message.status",
    "contact.merged",
    "window.drift",
    "billing.drift",
    "template.updated",
}


def test_the_catalogue_is_the_designs_list_and_names_them_for_tenants() -> None:
    assert set(EVENT_TYPES) == DESIGN_EVENTS
    assert tenant_name("conversation.created") == "whatsapp.conversation.created"
    assert internal_name("whatsapp.window.closed") == "window.closed"
    assert internal_name("window.closed") is None
    assert families() == {"conversation", "window", "fep", "lead", "message", "contact"} | {
        "billing",
        "template",
    }


@pytest.mark.parametrize(
    "patterns",
    [
        ["*"],
        ["whatsapp.*"],
        ["whatsapp.conversation.*"],
        ["whatsapp.window.closed", "whatsapp.lead.*"],
        ["whatsapp.billing.drift"],
    ],
)
def test_valid_patterns_are_kept(patterns: list[str]) -> None:
    assert normalise_patterns(patterns) == tuple(patterns)


def test_repeats_are_dropped_and_order_kept() -> None:
    given = ["whatsapp.window.*", "*", "whatsapp.window.*"]
    assert normalise_patterns(given) == ("whatsapp.window.*", "*")


@pytest.mark.parametrize(
    ("patterns", "index", "words"),
    [
        ([], None, "at least one"),
        (["conversation.created"], 0, "start with 'whatsapp.'"),
        (["*", "whatsapp.conversation.start"], 1, "no such event type"),
        (["whatsapp.order.*"], 0, "no event family 'order'"),
        (["whatsapp.ping"], 0, "no such event type"),
        (["whatsapp.conversation.created", "WHATSAPP.window.closed"], 1, "start with"),
        (["whatsapp.conversation"], 0, "no such event type"),
        (["whatsapp.conversation.*.x"], 0, "no such event type"),
        (["*"] * (MAX_PATTERNS + 1), None, f"at most {MAX_PATTERNS}"),
    ],
)
def test_invalid_patterns_say_which_and_why(
    patterns: list[str], index: int | None, words: str
) -> None:
    with pytest.raises(InvalidPattern) as raised:
        normalise_patterns(patterns)

    assert raised.value.index == index
    assert words in raised.value.reason


@pytest.mark.parametrize(
    ("patterns", "event_type", "expected"),
    [
        (["*"], "conversation.created", True),
        (["whatsapp.*"], "template.updated", True),
        (["whatsapp.conversation.*"], "conversation.ended", True),
        (["whatsapp.conversation.*"], "contact.merged", False),
        (["whatsapp.window.*"], "window.drift", True),
        (["whatsapp.window.closed"], "window.closed", True),
        (["whatsapp.window.closed"], "window.opened", False),
        (["whatsapp.fep.*"], "window.closed", False),
        (["whatsapp.lead.*", "whatsapp.message.status"], "message.status", True),
        (["conversation.created"], "conversation.created", False),  # never valid: no match
    ],
)
def test_matching(patterns: list[str], event_type: str, expected: bool) -> None:
    assert matches(patterns, event_type) is expected


@pytest.mark.parametrize("event_type", [PING, "order.placed"])
def test_ping_and_unknown_types_match_no_pattern(event_type: str) -> None:
    assert not matches(["*", "whatsapp.*", f"whatsapp.{event_type}"], event_type)


def test_every_catalogue_event_is_matched_by_star_its_family_and_its_name() -> None:
    for event_type in EVENT_TYPES:
        family = event_type.split(".", 1)[0]
        for pattern in ("*", f"whatsapp.{family}.*", tenant_name(event_type)):
            assert matches(normalise_patterns([pattern]), event_type), (pattern, event_type)
