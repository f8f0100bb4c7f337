"""Markets from phone numbers and BSUIDs; phone numbers in E.164."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wawindow.adapters.markets import InvalidPhoneNumber, market_of, normalise_phone


@pytest.mark.parametrize(
    ("identifier", "country"),
    [
        ("16505551234", "US"),
        ("+16505551234", "US"),
        ("+1 (650) 555-1234", "US"),
        ("14165550123", "CA"),
        ("5511987654321", "BR"),
        ("919876543210", "IN"),
        ("27821234567", "ZA"),
        ("447400123456", "GB"),
        ("4915123456789", "DE"),
        ("33612345678", "FR"),
        # Possible but not "valid" for libphonenumber (as in Meta's sample payloads):
        # a calling code of one country still names it.
        ("972987654321", "IL"),
    ],
)
def test_market_from_phone_numbers(identifier: str, country: str) -> None:
    assert market_of(identifier) == country


@pytest.mark.parametrize(
    ("identifier", "country"),
    [
        ("US.13491208655302741918", "US"),
        ("br.13491208655302741918", "BR"),
        ("IN.ENT.11815799212886844830", "IN"),
        ("ZA.ent.99887766", "ZA"),
        (" GB.AbC123 ", "GB"),
    ],
)
def test_market_from_bsuid_prefixes(identifier: str, country: str) -> None:
    assert market_of(identifier) == country


@pytest.mark.parametrize(
    "identifier",
    [
        "",
        "   ",
        "+",
        "12345",  # too short
        "1122334455667",  # too long for +1
        "80012345678",  # +800 freephone: no country
        "15550783881",  # +1 555: no North American country claims it
        "999123456789",  # no such calling code
        "hello",
        "USA.123",
        "U1.123",
        "US.",
        "US.12 34",
        "ZZ.12345",  # two letters, but no country
        "US.XYZ.123",
        "user@example.com",
    ],
)
def test_invalid_identifiers_have_no_market(identifier: str) -> None:
    assert market_of(identifier) is None


@given(st.text(max_size=30))
def test_market_of_never_crashes(text: str) -> None:
    result = market_of(text)
    assert result is None or (len(result) == 2 and result.isupper())


@pytest.mark.parametrize(
    ("value", "region", "expected"),
    [
        ("16505551234", None, "+16505551234"),
        ("+1 650-555-1234", None, "+16505551234"),
        ("+1 (650) 555.1234", None, "+16505551234"),
        ("001 650 555 1234", None, "+16505551234"),
        ("(650) 555-1234", "US", "+16505551234"),
        ("(650) 555-1234", "us", "+16505551234"),
        ("16505551234", "US", "+16505551234"),
        ("447400123456", "US", "+447400123456"),
        ("07400 123456", "GB", "+447400123456"),
        ("+55 11 98765-4321", "GB", "+5511987654321"),
        ("15550783881", None, "+15550783881"),  # Meta's test numbers are possible, not valid
    ],
)
def test_normalise_phone(value: str, region: str | None, expected: str) -> None:
    assert normalise_phone(value, region) == expected


@pytest.mark.parametrize(
    ("value", "region", "words"),
    [
        ("", None, "empty"),
        ("   ", None, "empty"),
        ("call me", None, "not a phone number"),
        ("+1 650 555 1234 ext. 5", None, "not a phone number"),
        ("12", None, "too short"),
        ("+1 650 555 1234 5678", None, "too long"),
        ("+999 123456", None, "country calling code"),
        ("(650) 555-1234", "XX", "'XX' is not a known region"),
        ("555-12", "US", "'555-12' is too short"),
        ("650 555 1234 99", "US", "too long"),
    ],
)
def test_normalise_phone_refuses_non_numbers_clearly(
    value: str, region: str | None, words: str
) -> None:
    with pytest.raises(InvalidPhoneNumber, match=words.replace("(", r"\(").replace(")", r"\)")):
        normalise_phone(value, region)


def test_invalid_phone_number_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="'abc'"):
        normalise_phone("abc")
