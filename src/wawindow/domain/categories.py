"""Message categories as WhatsApp prices them.

Values arrive in several spellings (``UTILITY`` from template webhooks,
``authentication-international`` from pricing objects). Unknown values are kept
as they are, lower-cased, never rejected: Meta adds categories from time to time.
"""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    MARKETING = "marketing"
    MARKETING_LITE = "marketing_lite"
    UTILITY = "utility"
    AUTHENTICATION = "authentication"
    AUTHENTICATION_INTERNATIONAL = "authentication_international"
    SERVICE = "service"
    REFERRAL_CONVERSION = "referral_conversion"


def normalise_category(value: str | None) -> str | None:
    """Spellings folded: ``UTILITY`` → ``utility``, ``a-b`` → ``a_b``.

    Unknown values are kept (lower-cased): Meta adds categories from time to time.
    """
    if value is None:
        return None
    cleaned = value.strip().lower().replace("-", "_")
    return cleaned or None


def price_family(category: str) -> str:
    """The category whose rules apply: ``marketing_lite`` is priced by marketing's rules."""
    if category == Category.MARKETING_LITE:
        return Category.MARKETING
    if category == Category.AUTHENTICATION_INTERNATIONAL:
        return Category.AUTHENTICATION
    return category
