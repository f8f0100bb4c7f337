"""One tenant's worth of data behind every query endpoint, for the whole-API tests.

``seed(world)`` gives the tenant ``mine`` of an ``ApiWorld`` contacts (one with
an ``external_ref``, two merged into one), conversations (active, ended by
timeout, closed through the API), messages with a status timeline, an error, the
provider's billing and a billing drift, a template, and a rate card, all through
the API and the ingest service as a tenant's systems and WhatsApp would. The
tenant ``theirs`` gets nothing. ``Seeded`` lists the ids the data was given, so
tests can name real objects in paths and queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tests.api.client import LINE, ApiWorld
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
    contact_phone: str = f"+{THANDI_PHONE}"
    contact_bsuid: str = THANDI_BSUID
    customer_id: str = CUSTOMER_ID


def seed(world: ApiWorld) -> Seeded:
    """Fill the tenant ``mine`` of ``world`` (its clock at ``world.now``)."""
    now = world.now
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
    return Seeded(
        line=LINE,
        contact_id=contact["id"],
        merged_contact_id=hidden["id"],
        conversation_id=thandi["id"],
        closed_conversation_id=bob["id"],
        message_id="wamid.out.2",
        failed_message_id="wamid.out.3",
        template={k: TEMPLATE[k] for k in ("phone_number_id", "name", "language")},
    )


def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body
