"""Which country (market) a WhatsApp user is in, and phone numbers in E.164.

A user's market decides the price of a message (see ``domain.rate_card``). It comes
from the phone number (``wa_id``) through ``phonenumbers``, or, when WhatsApp gave
no number, from the country prefix of the business-scoped user id (BSUID
``US.13491208655302741918``, parent BSUID ``US.ENT.1234…``).

Numbers are checked for a *possible* length, not full validity: WhatsApp ids are
numbers WhatsApp has already verified, Meta's own test numbers (``+1 555…``) are
not "valid", and libphonenumber's metadata trails newly opened number ranges. A
possible number on a calling code used by one country (``+972`` → ``IL``) gets
that country; on a shared calling code (``+1``, ``+44``, ``+7``) the number must
fall in a known range of one of its countries, else the market is unknown.
"""

from __future__ import annotations

import re

import phonenumbers

_BSUID = re.compile(r"([A-Za-z]{2})\.(?:ENT\.)?[A-Za-z0-9]+", re.IGNORECASE)
_PHONE_CHARS = re.compile(r"\+?[0-9\s\-().]+")
_UNKNOWN_REGIONS = frozenset({"ZZ", "001"})
_REASONS = {
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "has no valid country calling code",
    phonenumbers.ValidationResult.TOO_SHORT: "is too short",
    phonenumbers.ValidationResult.TOO_LONG: "is too long",
    phonenumbers.ValidationResult.INVALID_LENGTH: "has an impossible length",
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "lacks an area code",
}


class InvalidPhoneNumber(ValueError):
    """A value that is not a phone number; the message says why, naming the value."""


def market_of(identifier: str) -> str | None:
    """The ISO alpha-2 country of a WhatsApp id, phone number or (parent) BSUID, or ``None``.

    ``16505551234`` / ``+1 650 555 1234`` → ``US``; ``US.13491208655302741918`` →
    ``US``; ``BR.ENT.99887766`` → ``BR`` (the prefix must be a region
    ``phonenumbers`` knows). Not a number, an impossible number, or a number of no
    known country (e.g. ``+800`` freephone) → ``None``.
    """
    value = identifier.strip()
    bsuid = _BSUID.fullmatch(value)
    if bsuid is not None:
        country = bsuid.group(1).upper()
        return country if country in phonenumbers.SUPPORTED_REGIONS else None
    if not _PHONE_CHARS.fullmatch(value):
        return None
    digits = "".join(ch for ch in value if ch.isdigit())
    try:
        number = phonenumbers.parse("+" + digits)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    region = phonenumbers.region_code_for_number(number)
    if region is None or region in _UNKNOWN_REGIONS:
        return None
    return str(region)


def normalise_phone(value: str, default_region: str | None = None) -> str:
    """A phone number in any common format → E.164 (``+16505551234``).

    With a ``+`` (or ``00``) the number is international. Without one it is read
    as a national number of ``default_region`` when one is given (``(650) 555-1234``
    with ``US``); bare digits that are not a national number of that region, and
    any number when no region is given, are read as international digits the way
    WhatsApp writes them (``16505551234``). Raises :class:`InvalidPhoneNumber` when
    no reading gives a possible number, or for an unknown ``default_region``.
    """
    text = value.strip()
    if not text:
        raise InvalidPhoneNumber("phone number is empty")
    if not _PHONE_CHARS.fullmatch(text):
        raise InvalidPhoneNumber(
            f"{value!r} is not a phone number (only digits, spaces, '+', '-', '(', ')', '.')"
        )
    region = _region(default_region)
    if text.startswith("00"):
        text = "+" + text[2:]
    attempts: list[tuple[str, str | None]] = []
    if region is not None and not text.startswith("+"):
        attempts.append((text, region))
    if text.startswith("+") or region is None or text.isdigit():
        attempts.append(("+" + text.lstrip("+"), None))
    reason = "is not a phone number"
    for attempt, attempt_region in attempts:
        try:
            number = phonenumbers.parse(attempt, attempt_region)
        except phonenumbers.NumberParseException as error:
            reason = _parse_reason(error, attempt)
            continue
        result = phonenumbers.is_possible_number_with_reason(number)
        if result == phonenumbers.ValidationResult.IS_POSSIBLE:
            return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
        reason = _REASONS.get(result, "is not a possible phone number")
    raise InvalidPhoneNumber(f"{value!r} {reason}")


def _region(default_region: str | None) -> str | None:
    if not default_region:
        return None
    region = default_region.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidPhoneNumber(f"{default_region!r} is not a known region for phone numbers")
    return region


def _parse_reason(error: phonenumbers.NumberParseException, text: str) -> str:
    if error.error_type == phonenumbers.NumberParseException.NOT_A_NUMBER and any(
        ch.isdigit() for ch in text
    ):
        return "is too short"
    if error.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
        return "has no valid country calling code"
    if error.error_type in (
        phonenumbers.NumberParseException.TOO_SHORT_NSN,
        phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD,
    ):
        return "is too short"
    if error.error_type == phonenumbers.NumberParseException.TOO_LONG:
        return "is too long"
    return "is not a phone number"
