"""The events a tenant can subscribe to, as tenants see them (DESIGN 1.9, 2.4).

Inside wawindow an event type has no prefix (``conversation.created``, as the
outbox stores it); towards tenants it is ``whatsapp.conversation.created``, as
in the reference documents. ``ping`` is the test event of one endpoint: it is
sent only to the endpoint that asked for it, never through a subscription.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

TENANT_PREFIX: Final = "whatsapp."
PING: Final = "ping"

EVENT_TYPES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "conversation.created": "A conversation started (first message of a new thread).",
        "conversation.reactivated": "An inactive conversation got a new message.",
        "conversation.updated": "A late fact changed a conversation already reported.",
        "conversation.merged": "A late fact joined two conversations into one.",
        "conversation.inactive": "A conversation went quiet (the tenant's inactive_after).",
        "conversation.ended": "A conversation ended (timeout or closed by the business).",
        "window.opened": "A user message opened the 24-hour customer service window.",
        "window.extended": "A user message moved the open window's end 24 hours on.",
        "window.expiring": "The window closes within one of the tenant's lead times.",
        "window.closed": "The customer service window closed.",
        "fep.opened": "A reply to an ad's message opened the 72-hour free entry point.",
        "fep.closed": "The free entry point window closed.",
        "lead.unanswered_soon": "A lead from an ad is close to going unanswered.",
        "lead.unanswered": "A lead from an ad got no reply in time.",
        "message.received": "A user message arrived.",
        "message.status": "A message's status moved on (sent, delivered, read, failed).",
        "contact.merged": "Two contacts turned out to be one user.",
        "window.drift": "WhatsApp's view of the window disagrees with wawindow's.",
        "billing.drift": "WhatsApp's pricing of a message disagrees with the estimate.",
        "template.updated": "A message template changed status, category or quality.",
    }
)


def tenant_name(event_type: str) -> str:
    """``conversation.created`` → ``whatsapp.conversation.created``."""
    return TENANT_PREFIX + event_type


def internal_name(tenant_event_type: str) -> str | None:
    """``whatsapp.conversation.created`` → ``conversation.created``; ``None`` if unprefixed."""
    if not tenant_event_type.startswith(TENANT_PREFIX):
        return None
    return tenant_event_type[len(TENANT_PREFIX) :]


def families() -> frozenset[str]:
    """``conversation``, ``window``, ``fep``…: what ``whatsapp.<family>.*`` may name."""
    return frozenset(name.split(".", 1)[0] for name in EVENT_TYPES)
