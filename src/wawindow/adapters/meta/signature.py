"""Meta webhook signatures: ``X-Hub-Signature-256: sha256=<hex>``.

Meta signs every webhook ``POST`` with HMAC-SHA256 of the **raw request body**,
keyed with the app secret. The signature must be checked on the exact bytes that
came over the wire, before any JSON parsing: re-serialising a parsed body changes
whitespace, key order and escapes, and the digest with them.

``verify_signature`` never raises on bad input. A missing, malformed or wrong
header is simply "not signed by Meta", and the webhook endpoint answers 401
without storing anything; an attacker must not be able to turn a forged header
into a 5xx (which Meta, and a fuzzer, would retry).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

SIGNATURE_HEADER: Final = "X-Hub-Signature-256"
"""The request header that carries the signature."""

_PREFIX: Final = "sha256="
_HEX_DIGEST_LENGTH: Final = hashlib.sha256().digest_size * 2
_HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")


def _digest(body: bytes, app_secret: str) -> bytes:
    return hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).digest()


def _parse_header(header: str) -> bytes | None:
    """The 32 digest bytes named by a header value, or ``None`` if it is malformed.

    The ``sha256=`` prefix is matched case-insensitively and the hex may be upper
    case: HTTP intermediaries and hand-written test tools are not always careful,
    and accepting either costs nothing in security (the digest still has to match).
    """
    value = header.strip()
    if value[: len(_PREFIX)].lower() != _PREFIX:
        return None
    hex_digest = value[len(_PREFIX) :]
    # Checked explicitly: bytes.fromhex would also accept spaces inside the hex.
    if len(hex_digest) != _HEX_DIGEST_LENGTH or not _HEX_DIGITS.issuperset(hex_digest):
        return None
    return bytes.fromhex(hex_digest)


def verify_signature(body: bytes, header: str | None, app_secret: str) -> bool:
    """Whether ``header`` is a valid ``X-Hub-Signature-256`` value for ``body``.

    Compares digests with ``hmac.compare_digest`` so that the time taken does not
    reveal how many leading bytes of a forged signature were right. An empty
    ``app_secret`` never verifies: it means a line was configured without its
    secret, and accepting anything signed with the empty key would let anyone
    forge webhooks for it.
    """
    if header is None or not app_secret:
        return False
    claimed = _parse_header(header)
    if claimed is None:
        return False
    return hmac.compare_digest(claimed, _digest(body, app_secret))


def sign(body: bytes, app_secret: str) -> str:
    """The full ``X-Hub-Signature-256`` header value Meta would send for ``body``.

    Used by tests and by the sandbox, which posts webhooks exactly as Meta does.
    Raises ``ValueError`` for an empty secret, which ``verify_signature`` would
    refuse anyway.
    """
    if not app_secret:
        raise ValueError("app_secret must not be empty")
    return _PREFIX + _digest(body, app_secret).hex()
