"""X-Hub-Signature-256 verification: only the right secret over the exact bytes passes."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from wawindow.adapters.meta.signature import sign, verify_signature

SECRET = "app-secret-123"
BODY = b'{"object":"whatsapp_business_account","entry":[]}'


def _expected_hex(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_sign_gives_the_header_meta_would_send() -> None:
    assert sign(BODY, SECRET) == "sha256=" + _expected_hex(BODY, SECRET)


def test_good_signature_verifies() -> None:
    assert verify_signature(BODY, sign(BODY, SECRET), SECRET)


def test_wrong_secret_fails() -> None:
    assert not verify_signature(BODY, sign(BODY, "another-secret"), SECRET)


def test_tampered_body_fails() -> None:
    header = sign(BODY, SECRET)
    assert not verify_signature(BODY.replace(b"[]", b"[ ]"), header, SECRET)
    assert not verify_signature(BODY + b"\n", header, SECRET)


def test_missing_header_fails() -> None:
    assert not verify_signature(BODY, None, SECRET)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "sha256=",
        "sha1=" + "0" * 40,
        _expected_hex(BODY, SECRET),  # no prefix
        "sha256=" + _expected_hex(BODY, SECRET)[:-1],  # one hex digit short
        "sha256=" + _expected_hex(BODY, SECRET) + "00",  # too long
        "sha256=" + "zz" * 32,  # not hex
        "sha256=" + " ".join([_expected_hex(BODY, SECRET)[:32], _expected_hex(BODY, SECRET)[32:]]),
        "sha256 = " + _expected_hex(BODY, SECRET),
        "sha256=é" + "0" * 63,
    ],
)
def test_malformed_header_fails_without_raising(header: str) -> None:
    assert not verify_signature(BODY, header, SECRET)


def test_upper_case_hex_and_prefix_verify() -> None:
    header = sign(BODY, SECRET)
    assert verify_signature(BODY, "sha256=" + header.removeprefix("sha256=").upper(), SECRET)
    assert verify_signature(BODY, header.replace("sha256=", "SHA256="), SECRET)


def test_surrounding_whitespace_is_tolerated() -> None:
    assert verify_signature(BODY, f"  {sign(BODY, SECRET)}\t", SECRET)


def test_empty_body_is_signed_and_verified_like_any_other() -> None:
    header = sign(b"", SECRET)
    assert header == "sha256=" + _expected_hex(b"", SECRET)
    assert verify_signature(b"", header, SECRET)
    assert not verify_signature(BODY, header, SECRET)


def test_empty_secret_never_verifies_and_cannot_sign() -> None:
    forged = "sha256=" + _expected_hex(BODY, "")
    assert not verify_signature(BODY, forged, "")
    with pytest.raises(ValueError, match="app_secret"):
        sign(BODY, "")


def test_non_ascii_secret_is_encoded_as_utf8() -> None:
    secret = "sécret-✓"
    assert sign(BODY, secret) == "sha256=" + _expected_hex(BODY, secret)
    assert verify_signature(BODY, sign(BODY, secret), secret)
