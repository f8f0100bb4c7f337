"""One tenant's worth of data behind every query endpoint, for the whole-API tests.

``seed(world)`` gives the tenant ``mine`` of an ``ApiWorld`` contacts (one with
an ``external_ref``, two merged into one), conversations (active, ended by
timeout, closed through the API), messages with a status timeline, an error, the
provider's billing and a billing drift, a template, a rate card, settings of
its own, a message sent through the gate, and two webhook endpoints (one with a
``whatsapp.ping`` delivery), all through the API and the ingest service as a
tenant's systems and WhatsApp would. The tenant ``theirs`` gets nothing.
``Seeded`` lists the ids the data was given, so tests can name real objects in
paths and queries.

``mine``'s line gets an access token and sends to ``graph_base_url``: a local
``GraphServer`` (tests/support/graph_server.py), so no send leaves this machine.
Webhook endpoints point at ``UNROUTABLE``, a local port nothing listens on, and
nothing here runs the dispatcher.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update

from tests.api.client import LINE, ApiWorld
from wawindow.adapters.db import schema as t
from wawindow.adapters.db.rate_store import SqlRateStore
from wawindow.domain.facts import (
    IdentityObserved,
    InboundMessage,
    OutboundMessage,
    ProviderError,
    ProviderPricing,
    StatusUpdate,
    TemplateRef,
)
from wawindow.domain.identity import Identity
from wawindow.domain.rate_card import parse_rate_card_csv
from wawindow.service.billing import replace_rate_card

THANDI_PHONE, THANDI_BSUID = "27821234567", "ZA.13491208655302741918"
BOB_PHONE, HIDDEN_BSUID = "16505551234", "US.8830193827741"
THANDI = Identity.of(wa_id=THANDI_PHONE, bsuid=THANDI_BSUID, name="Thandi")
BOB = Identity.of(wa_id=BOB_PHONE, name="Bob")
HIDDEN = Identity.of(bsuid=HIDDEN_BSUID, name="Hidden")
CUSTOMER_ID = "customer_12345"
TEMPLATE = {
    "phone_number_id": LINE,
    "name": "order_update",
    "language": "en_US",
    "category": "utility",
    "body": "Hi {{1}}, your order {{2}} has shipped.",
}
RATE_CARD = """\
market,category,currency,price,effective_from,countries
ZA,marketing,USD,0.0379,2025-07-01,
ZA,utility,USD,0.0076,2025-07-01,
North America,marketing,USD,0.0250,2025-07-01,US CA
"""
# A local port nothing listens on (the discard service): a delivery there fails at
# once, on this machine.
UNROUTABLE = "http://127.0.0.1:9/hooks/whatsapp"
# ``mine``'s own settings, none of them a default (so another tenant's view tells).
SETTINGS = {"inactive_after": "PT45M", "lead_unanswered_warning": "PT3H"}


@dataclass(frozen=True)
class Seeded:
    line: str
    contact_id: str  # Thandi, with CUSTOMER_ID as external_ref
    merged_contact_id: str  # absorbed into Bob's contact by a merge
    conversation_id: str  # Thandi's, active
    closed_conversation_id: str  # Bob's, closed through the API
    message_id: str  # a template, delivered, billed by the provider
    failed_message_id: str  # outbound, failed with an error
    template: dict[str, str]  # phone_number_id, name, language
    send_id: str  # a text to Thandi through POST /v1/messages, accepted
    sent_message_id: str  # its wamid, given by the local Cloud API
    endpoint_id: str  # subscribed to everything, with the delivery below
    spare_endpoint_id: str  # for the calls that delete an endpoint
    endpoint_secret: str
    delivery_id: str  # a whatsapp.ping to endpoint_id, pending
    contact_phone: str = f"+{THANDI_PHONE}"
    contact_bsuid: str = THANDI_BSUID
    customer_id: str = CUSTOMER_ID


def seed(world: ApiWorld, graph_base_url: str) -> Seeded:
    """Fill the tenant ``mine`` of ``world`` (its clock at ``world.now``); its line
    sends to the Cloud API at ``graph_base_url``."""
    now = world.now
    _connect_line(world, graph_base_url)
    contact = _ok(
        world.post("/v1/contacts", {"phone": f"+{THANDI_PHONE}", "external_ref": CUSTOMER_ID})
    )
    hidden = _ok(world.post("/v1/contacts", {"bsuid": HIDDEN_BSUID}))
    _ok(world.post("/v1/templates", TEMPLATE))
    with SqlRateStore(world.services.engine) as store:
        replace_rate_card(store, world.mine.id, parse_rate_card_csv(RATE_CARD))

    def minutes_ago(minutes: float) -> datetime:
        return now - timedelta(minutes=minutes)

    utility = TemplateRef("order_update", "en_US")
    world.ingest(
        InboundMessage(LINE, "wamid.bob.1", minutes_ago(3 * 24 * 60), BOB, "text"),
        InboundMessage(LINE, "wamid.hidden.1", minutes_ago(2 * 24 * 60), HIDDEN, "text"),
        InboundMessage(LINE, "wamid.thandi.1", minutes_ago(30), THANDI, "text"),
        OutboundMessage(LINE, "wamid.out.1", minutes_ago(20), THANDI, "text"),
        StatusUpdate(LINE, "wamid.out.1", "sent", minutes_ago(19.9), THANDI),
        StatusUpdate(LINE, "wamid.out.1", "delivered", minutes_ago(19.8), THANDI),
        StatusUpdate(LINE, "wamid.out.1", "read", minutes_ago(19), THANDI),
        OutboundMessage(
            LINE, "wamid.out.2", minutes_ago(10), THANDI, "template", utility, "utility"
        ),
        StatusUpdate(
            LINE,
            "wamid.out.2",
            "delivered",
            minutes_ago(9.9),
            THANDI,
            pricing=ProviderPricing(True, "PMP", "utility", "regular"),
        ),
        OutboundMessage(LINE, "wamid.out.3", minutes_ago(5), BOB, "text"),
        StatusUpdate(
            LINE,
            "wamid.out.3",
            "failed",
            minutes_ago(4.9),
            BOB,
            errors=(ProviderError(131047, "Re-engagement message", "More than 24 hours"),),
        ),
    )
    # WhatsApp names Bob's phone number with the hidden user's BSUID: one person.
    both = Identity.of(wa_id=BOB_PHONE, bsuid=HIDDEN_BSUID)
    world.ingest(IdentityObserved(LINE, minutes_ago(1), both))
    thandi = _ok(world.get("/v1/conversations", customer_id=CUSTOMER_ID))["items"][0]
    bob = _ok(world.get("/v1/conversations", contact_phone=f"+{BOB_PHONE}"))["items"][0]
    _ok(world.post(f"/v1/conversations/{bob['id']}/close", {"reason": "agent_close"}))
    _ok(world.request("PATCH", "/v1/settings", json=SETTINGS))
    sent = _ok(
        world.post(
            "/v1/messages",
            {"phone_number_id": LINE, "contact_id": contact["id"], "text": "On its way"},
        )
    )
    endpoint = _ok(
        world.post(
            "/v1/webhook-endpoints", {"url": UNROUTABLE, "events": ["*"], "description": "CRM"}
        )
    )
    spare = _ok(
        world.post("/v1/webhook-endpoints", {"url": UNROUTABLE, "events": ["whatsapp.window.*"]})
    )
    ping = _ok(world.post(f"/v1/webhook-endpoints/{endpoint['id']}/test", None))
    return Seeded(
        line=LINE,
        contact_id=contact["id"],
        merged_contact_id=hidden["id"],
        conversation_id=thandi["id"],
        closed_conversation_id=bob["id"],
        message_id="wamid.out.2",
        failed_message_id="wamid.out.3",
        template={k: TEMPLATE[k] for k in ("phone_number_id", "name", "language")},
        send_id=sent["id"],
        sent_message_id=sent["message_id"],
        endpoint_id=endpoint["id"],
        spare_endpoint_id=spare["id"],
        endpoint_secret=endpoint["secret"],
        delivery_id=ping["id"],
    )


def _connect_line(world: ApiWorld, graph_base_url: str) -> None:
    """Give ``mine``'s line an access token and its own Graph base URL."""
    with world.services.engine.begin() as connection:
        connection.execute(
            update(t.lines)
            .where(t.lines.c.phone_number_id == LINE)
            .values(access_token="EAAG-seeded-token", graph_base_url=graph_base_url)
        )


def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code in (200, 201, 202), response.text
    body: dict[str, Any] = response.json()
    return body
