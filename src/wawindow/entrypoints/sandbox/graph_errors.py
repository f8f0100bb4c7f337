"""The Graph API's errors, as the sandbox gives them. Pure: no I/O.

Two shapes, both Meta's:

- the answer to a request that failed at once (HTTP 4xx/5xx)::

    {"error": {"message": "(#100) Invalid parameter", "type": "OAuthException",
               "code": 100, "error_data": {"messaging_product": "whatsapp",
               "details": "..."}, "fbtrace_id": "..."}}

- an entry of ``errors[]`` in a ``failed`` status webhook (131047 and the like)::

    {"code": 131047, "title": "Re-engagement message", "message": "Re-engagement message",
     "error_data": {"details": "..."}, "href": "https://developers.facebook.com/..."}

``KNOWN_ERRORS`` holds the codes the sandbox can give (by request validation, by its
rules, or on demand through ``POST /sandbox/faults``), each with Meta's wording.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Final

ERROR_CODES_URL: Final = (
    "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"
)


@dataclass(frozen=True, slots=True)
class GraphError:
    """One error: its code, Meta's title, details, and the HTTP status it comes with."""

    code: int
    title: str
    details: str | None = None
    http_status: int = 400
    type: str = "OAuthException"
    is_transient: bool | None = None
    subcode: int | None = None
    message: str | None = None  # the request error's message when it is not "(#code) title"

    def with_details(self, details: str) -> GraphError:
        return replace(self, details=details)

    def response_document(self, fbtrace_id: str) -> dict[str, Any]:
        """The body of an HTTP answer carrying this error."""
        error: dict[str, Any] = {
            "message": self.message or f"(#{self.code}) {self.title}",
            "type": self.type,
            "code": self.code,
        }
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.is_transient is not None:
            error["is_transient"] = self.is_transient
        if self.details is not None:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        error["fbtrace_id"] = fbtrace_id
        return {"error": error}

    def status_entry(self) -> dict[str, Any]:
        """The ``errors[]`` entry of a ``failed`` status webhook."""
        entry: dict[str, Any] = {"code": self.code, "title": self.title, "message": self.title}
        if self.details is not None:
            entry["error_data"] = {"details": self.details}
        entry["href"] = ERROR_CODES_URL
        return entry


RE_ENGAGEMENT: Final = GraphError(
    131047,
    "Re-engagement message",
    "Message failed to send because more than 24 hours have passed since the customer "
    "last replied to this number.",
)
TEMPLATE_NOT_FOUND: Final = GraphError(
    132001, "Template name does not exist in the translation", http_status=404
)
TEMPLATE_PARAMS: Final = GraphError(
    132000, "Number of parameters does not match the expected number of params"
)
TEMPLATE_PAUSED: Final = GraphError(132015, "Template is Paused")
TEMPLATE_DISABLED: Final = GraphError(132016, "Template is disabled")

KNOWN_ERRORS: Final[dict[int, GraphError]] = {
    error.code: error
    for error in (
        GraphError(
            1,
            "An unknown error occurred",
            http_status=500,
            is_transient=True,
            message="An unknown error occurred",
        ),
        GraphError(
            2,
            "Service temporarily unavailable",
            http_status=503,
            is_transient=True,
            message="Service temporarily unavailable",
        ),
        GraphError(4, "Application request limit reached", details="Too many API calls."),
        GraphError(100, "Invalid parameter"),
        GraphError(
            190,
            "Invalid OAuth access token - Cannot parse access token",
            http_status=401,
            message="Invalid OAuth access token - Cannot parse access token",
        ),
        GraphError(368, "Temporarily blocked for policies violations"),
        GraphError(130429, "Rate limit hit", "Cloud API message throughput has been reached."),
        GraphError(131000, "Something went wrong", http_status=500, is_transient=True),
        GraphError(
            131026,
            "Message undeliverable",
            "Message failed to send because the recipient cannot receive it.",
        ),
        GraphError(
            131048,
            "Spam rate limit hit",
            "Message failed to send because there are restrictions on how many messages "
            "can be sent from this phone number.",
        ),
        GraphError(
            131056,
            "(Business Account, Consumer Account) pair rate limit hit",
            "Too many messages sent from the sender phone number to the same recipient "
            "phone number in a short period of time.",
        ),
        RE_ENGAGEMENT,
        TEMPLATE_PARAMS,
        TEMPLATE_NOT_FOUND,
        TEMPLATE_PAUSED,
        TEMPLATE_DISABLED,
    )
}


def error_for_code(code: int, http_status: int | None = None) -> GraphError:
    """The error WhatsApp gives with ``code``; an unknown code gets a generic title."""
    known = KNOWN_ERRORS.get(code) or GraphError(code, "Simulated error")
    return known if http_status is None else replace(known, http_status=http_status)


def error_for_status(http_status: int) -> GraphError:
    """What the Graph API answers with a bare HTTP error status (for faults)."""
    if http_status == 503:
        return KNOWN_ERRORS[2]
    if http_status >= 500:
        return replace(KNOWN_ERRORS[1], http_status=http_status)
    if http_status == 401:
        return KNOWN_ERRORS[190]
    return replace(KNOWN_ERRORS[4], http_status=http_status)


def invalid_parameter(details: str) -> GraphError:
    """The answer to a request with a missing or invalid field; ``details`` names it."""
    return replace(KNOWN_ERRORS[100], details=details)


def bad_access_token(missing: bool) -> GraphError:
    """401: no bearer token, or not the one the sandbox was started with."""
    if missing:
        message = "An access token is required to request this resource."
        return replace(KNOWN_ERRORS[190], message=message, title=message)
    return KNOWN_ERRORS[190]


def unknown_object(object_id: str) -> GraphError:
    """A path naming something that is not a phone number id."""
    message = (
        f"Unsupported post request. Object with ID '{object_id}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation."
    )
    return GraphError(100, message, subcode=33, type="GraphMethodException", message=message)
