"""``/v1/messages``: status timeline, errors, billing with price, filters, tenant isolation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.api.client import LINE, OTHER_LINE, ApiWorld
from wawindow.adapters.db.rate_store import SqlRateStore
from wawindow.domain.facts import (
    InboundMessage,
    OutboundMessage,
    ProviderError,
    StatusUpdate,
    TemplateRef,
)
from wawindow.domain.identity import Identity
from wawindow.domain.rate_card import parse_rate_card_csv
from wawindow.service.billing import replace_rate_card

DAY = datetime(2026, 3, 10, tzinfo=UTC)  # PMP-1
NOW = datetime(2026, 3, 12, 12, 0, tzinfo=UTC)
ALICE = Identity.of(wa_id="5511998765432", name="Alice")  # Brazil
BOB = Identity.of(wa_id="16505551234", name="Bob")  # United States
HIDDEN = Identity.of(bsuid="IN.13491208655302741918", name="Hidden")  # no phone number

CARD = """\
# test prices
market,category,currency,price,effective_from,countries
BR,marketing,USD,0.0625,2024-11-01,
BR,utility,USD,0.0080,2024-11-01,
BR,utility,USD,0.0068,2025-07-01,
IN,marketing,USD,0.0118,2025-07-01,
North America,marketing,USD,0.0250,2024-11-01,US CA
"""


def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return DAY.replace(hour=hour, minute=minute, second=second)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[ApiWorld]:
    with ApiWorld.open(f"sqlite:///{tmp_path / 'ww.db'}", now=NOW) as opened:
        yield opened


def load_card(world: ApiWorld, text: str = CARD, tenant: str | None = None) -> None:
    with SqlRateStore(world.services.engine) as store:
        replace_rate_card(store, tenant or world.mine.id, parse_rate_card_csv(text))


def ok(world: ApiWorld, path: str, **params: Any) -> dict[str, Any]:
    response = world.get(path, **params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def problem_fields(response: Any, status: int = 422) -> list[str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return [error["field"] for error in response.json().get("errors", [])]


def template(
    message_id: str, when: datetime, category: str, user: Identity = ALICE
) -> OutboundMessage:
    return OutboundMessage(
        LINE, message_id, when, user, "template", TemplateRef(f"{category}_tpl", "en"), category
    )


def delivered(message_id: str, when: datetime, user: Identity = ALICE) -> StatusUpdate:
    return StatusUpdate(LINE, message_id, "delivered", when, user)


def pmp1_day(world: ApiWorld) -> None:
    """Worked example 3: inbound 09:00, utility 09:30 (free), marketing 09:40 (billable)."""
    world.ingest(
        InboundMessage(LINE, "wamid.in", at(9), ALICE, "text"),
        template("wamid.utility", at(9, 30), "utility"),
        delivered("wamid.utility", at(9, 30, 5)),
        template("wamid.marketing", at(9, 40), "marketing"),
        delivered("wamid.marketing", at(9, 40, 5)),
    )


# --------------------------------------------------------------------------- one message


def test_every_status_time_is_kept_whatever_the_order(world: ApiWorld) -> None:
    world.ingest(template("wamid.1", at(9), "marketing"))
    world.ingest(StatusUpdate(LINE, "wamid.1", "read", at(9, 3), ALICE))
    world.ingest(StatusUpdate(LINE, "wamid.1", "sent", at(9, 0, 2), ALICE))
    world.ingest(StatusUpdate(LINE, "wamid.1", "delivered", at(9, 1), ALICE))
    world.ingest(StatusUpdate(LINE, "wamid.1", "delivered", at(9, 2), ALICE))  # a repeat, later
    world.ingest(StatusUpdate(LINE, "wamid.1", "played", at(9, 4), ALICE))
    message = ok(world, "/v1/messages/wamid.1")
    assert message["status"] == "played"
    assert message["direction"] == "outbound"
    assert message["phone_number_id"] == LINE
    assert message["contact_phone"] == "5511998765432"
    assert message["template"] == {"name": "marketing_tpl", "language": "en"}
    assert message["category"] == "marketing"
    assert message["at"] == "2026-03-10T09:00:00Z"
    assert message["status_times"] == {
        "sent_at": "2026-03-10T09:00:02Z",
        "delivered_at": "2026-03-10T09:01:00Z",
        "read_at": "2026-03-10T09:03:00Z",
        "played_at": "2026-03-10T09:04:00Z",
        "failed_at": None,
    }
    assert [(e["status"], e["at"]) for e in message["timeline"]] == [
        ("sent", "2026-03-10T09:00:02Z"),
        ("delivered", "2026-03-10T09:01:00Z"),
        ("read", "2026-03-10T09:03:00Z"),
        ("played", "2026-03-10T09:04:00Z"),
    ]
    assert message["errors"] == []
    assert message["billing"]["billable"] is True
    assert message["billing"]["category"] == "marketing"


def test_read_implies_delivered(world: ApiWorld) -> None:
    world.ingest(
        template("wamid.1", at(9), "marketing"),
        StatusUpdate(LINE, "wamid.1", "read", at(9, 5), ALICE),
    )
    message = ok(world, "/v1/messages/wamid.1")
    assert message["status"] == "read"
    assert message["status_times"]["delivered_at"] == "2026-03-10T09:05:00Z"
    assert message["status_times"]["read_at"] == "2026-03-10T09:05:00Z"
    assert message["billing"] is not None  # delivered, so billed


def test_a_failed_re_engagement_shows_its_error_and_window_drift(world: ApiWorld) -> None:
    error = ProviderError(
        131047,
        "Re-engagement message",
        "Re-engagement message",
        "Message failed to send because more than 24 hours have passed",
    )
    world.ingest(
        InboundMessage(LINE, "wamid.in", at(9), ALICE, "text"),
        OutboundMessage(LINE, "wamid.late", at(10), ALICE, "text"),
        StatusUpdate(LINE, "wamid.late", "failed", at(10, 0, 3), ALICE, errors=(error,)),
    )
    message = ok(world, "/v1/messages/wamid.late")
    assert message["status"] == "failed"
    assert message["status_times"]["failed_at"] == "2026-03-10T10:00:03Z"
    assert message["status_times"]["delivered_at"] is None
    assert message["errors"] == [
        {
            "code": 131047,
            "title": "Re-engagement message",
            "message": "Re-engagement message",
            "details": "Message failed to send because more than 24 hours have passed",
        }
    ]
    assert message["billing"] is None  # never delivered, never charged
    assert [(d["kind"], d["provider"]) for d in message["drift"]] == [("window", "closed")]


def test_utility_inside_the_window_is_free_marketing_is_billable_at_the_card_price(
    world: ApiWorld,
) -> None:
    load_card(world)
    pmp1_day(world)
    utility = ok(world, "/v1/messages/wamid.utility")["billing"]
    assert utility == {
        "model": "PMP",
        "category": "utility",
        "type": "free_customer_service",
        "billable": False,
        "source": "estimated",
        "era": "PMP-1",
        "market": "BR",
        "price": "0",
        "currency": "USD",
        "drift": [],
    }
    marketing = ok(world, "/v1/messages/wamid.marketing")["billing"]
    assert marketing["type"] == "regular"
    assert marketing["billable"] is True
    assert (marketing["market"], marketing["price"], marketing["currency"]) == (
        "BR",
        "0.0625",
        "USD",
    )
    assert ok(world, "/v1/messages/wamid.in")["billing"] is None  # inbound: never billed


def test_utility_outside_the_window_is_billable_at_the_price_of_its_day(world: ApiWorld) -> None:
    load_card(world)
    world.ingest(template("wamid.u", at(9), "utility"), delivered("wamid.u", at(9, 1)))
    billing = ok(world, "/v1/messages/wamid.u")["billing"]
    assert (billing["billable"], billing["price"], billing["currency"]) == (True, "0.0068", "USD")


def test_the_market_comes_from_the_named_market_or_the_bsuid(world: ApiWorld) -> None:
    load_card(world)
    world.ingest(
        template("wamid.us", at(9), "marketing", BOB),
        delivered("wamid.us", at(9, 1), BOB),
        template("wamid.in", at(9), "marketing", HIDDEN),
        delivered("wamid.in", at(9, 1), HIDDEN),
    )
    us = ok(world, "/v1/messages/wamid.us")["billing"]
    assert (us["market"], us["price"]) == ("US", "0.025")  # US is in "North America"
    hidden = ok(world, "/v1/messages/wamid.in")
    assert hidden["contact_bsuid"] == "IN.13491208655302741918"
    assert (hidden["billing"]["market"], hidden["billing"]["price"]) == ("IN", "0.0118")


def test_without_a_card_or_a_rate_the_price_is_null(world: ApiWorld) -> None:
    pmp1_day(world)
    marketing = ok(world, "/v1/messages/wamid.marketing")["billing"]
    assert (marketing["price"], marketing["currency"]) == (None, None)
    assert ok(world, "/v1/messages/wamid.utility")["billing"]["price"] == "0"  # free is free
    load_card(
        world, "market,category,currency,price,effective_from\nDE,marketing,EUR,0.1,2024-11-01\n"
    )
    marketing = ok(world, "/v1/messages/wamid.marketing")["billing"]
    assert (marketing["price"], marketing["currency"]) == (None, "EUR")  # no rate for BR


# --------------------------------------------------------------------------- the list


def _conversation(world: ApiWorld, message_id: str) -> str:
    found: str = ok(world, f"/v1/messages/{message_id}")["conversation_id"]
    return found


def test_the_list_is_newest_first_and_every_filter_narrows_it(world: ApiWorld) -> None:
    pmp1_day(world)
    world.ingest(
        InboundMessage(LINE, "wamid.bob", at(11), BOB, "text"),
        InboundMessage(LINE, "wamid.next", DAY + timedelta(days=1, hours=12), ALICE, "text"),
    )
    listing = ok(world, "/v1/messages")
    ids = [item["id"] for item in listing["items"]]
    assert ids == ["wamid.next", "wamid.bob", "wamid.marketing", "wamid.utility", "wamid.in"]
    assert (listing["total"], listing["page"], listing["page_size"]) == (5, 1, 50)

    def ids_of(**params: Any) -> list[str]:
        return [item["id"] for item in ok(world, "/v1/messages", **params)["items"]]

    alice = ok(world, "/v1/messages/wamid.in")["contact_id"]
    assert ids_of(contact_id=alice) == [
        "wamid.next",
        "wamid.marketing",
        "wamid.utility",
        "wamid.in",
    ]
    first = _conversation(world, "wamid.in")
    assert ids_of(conversation_id=first) == ["wamid.marketing", "wamid.utility", "wamid.in"]
    assert ids_of(direction="outbound") == ["wamid.marketing", "wamid.utility"]
    assert ids_of(direction="inbound", contact_id=alice) == ["wamid.next", "wamid.in"]
    assert ids_of(status="delivered") == ["wamid.marketing", "wamid.utility"]
    assert ids_of(since="2026-03-10T09:30:00Z", until="2026-03-10T11:00:00Z") == [
        "wamid.marketing",
        "wamid.utility",
    ]
    assert ids_of(since="2026-03-10T12:30:00+02:00") == ["wamid.next", "wamid.bob"]
    assert ids_of(contact_id="ct_nobody") == []
    page = ok(world, "/v1/messages", page=2, page_size=2)
    assert [item["id"] for item in page["items"]] == ["wamid.marketing", "wamid.utility"]
    assert page["total"] == 5


def test_bad_filters_are_problems_naming_the_field(world: ApiWorld) -> None:
    assert problem_fields(world.get("/v1/messages", since="yesterday")) == ["query.since"]
    assert problem_fields(world.get("/v1/messages", until="2026-13-01T00:00:00Z")) == [
        "query.until"
    ]
    assert problem_fields(world.get("/v1/messages", direction="sideways")) == ["query.direction"]
    assert problem_fields(world.get("/v1/messages", status="lost")) == ["query.status"]
    assert problem_fields(world.get("/v1/messages", page=0)) == ["query.page"]
    assert problem_fields(world.get("/v1/messages", page_size=501)) == ["query.page_size"]
    backwards = world.get(
        "/v1/messages", since="2026-03-11T00:00:00Z", until="2026-03-10T00:00:00Z"
    )
    assert problem_fields(backwards) == ["query.until"]
    assert problem_fields(world.get("/v1/messages", since="9999-12-31T23:00:00-05:00")) == [
        "query.since"
    ]


# --------------------------------------------------------------------------- isolation


def test_another_tenants_message_is_a_404(world: ApiWorld) -> None:
    pmp1_day(world)
    theirs = world.theirs.key
    response = world.get("/v1/messages/wamid.marketing", key=theirs)
    assert problem_fields(response, 404) == ["path.message_id"]
    assert ok(world, "/v1/messages", key=theirs)["items"] == []
    alice = ok(world, "/v1/messages/wamid.in")["contact_id"]
    listing = world.get("/v1/messages", key=theirs, contact_id=alice)
    assert listing.json()["total"] == 0
    assert problem_fields(world.get("/v1/messages/wamid.nothing"), 404) == ["path.message_id"]
    assert world.get("/v1/messages", key="").status_code == 401


def test_the_same_message_id_in_two_tenants_stays_apart(world: ApiWorld) -> None:
    load_card(world)
    pmp1_day(world)
    other = Identity.of(wa_id="27821234567")
    world.ingest(
        OutboundMessage(
            OTHER_LINE, "wamid.marketing", at(9), other, "template", TemplateRef("x"), "utility"
        ),
        StatusUpdate(OTHER_LINE, "wamid.marketing", "delivered", at(9, 1), other),
    )
    mine = ok(world, "/v1/messages/wamid.marketing")
    theirs = ok(world, "/v1/messages/wamid.marketing", key=world.theirs.key)
    assert mine["billing"]["category"] == "marketing"
    assert mine["billing"]["price"] == "0.0625"
    assert theirs["billing"]["category"] == "utility"
    assert theirs["billing"]["price"] is None  # their tenant has no card
    assert theirs["phone_number_id"] == OTHER_LINE


# --------------------------------------------------------------------------- both databases


def test_messages_on_every_database(db_url: str) -> None:
    with ApiWorld.open(db_url, now=NOW) as world:
        load_card(world)
        pmp1_day(world)
        world.ingest(StatusUpdate(LINE, "wamid.marketing", "read", at(9, 45), ALICE))
        listing = ok(world, "/v1/messages", direction="outbound")
        assert [item["id"] for item in listing["items"]] == ["wamid.marketing", "wamid.utility"]
        marketing = listing["items"][0]
        assert marketing["status"] == "read"
        assert marketing["status_times"]["delivered_at"] == "2026-03-10T09:40:05Z"
        assert marketing["billing"]["price"] == "0.0625"
        assert listing["items"][1]["billing"]["price"] == "0"
        assert world.get("/v1/messages/wamid.in", key=world.theirs.key).status_code == 404
