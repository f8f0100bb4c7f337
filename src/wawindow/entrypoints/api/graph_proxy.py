"""The Graph proxy: ``POST /graph/{version}/{phone_number_id}/messages`` for any Cloud API client.

Point a Cloud API client (pywa, heyoo, whatsapp-api-js, plain ``requests``) at
``{wawindow}/graph`` instead of ``https://graph.facebook.com`` and give it a
wawindow API key as its access token. It keeps working as it did, because the
proxy takes exactly the Cloud API's request body and answers exactly WhatsApp's
response or error (JSON and HTTP status):

- a send is forwarded with the line's own access token to the line's Graph base
  URL, recorded like a ``POST /v1/messages`` send (source ``proxy``), and its
  message folded into its thread;
- a free-form message outside the customer service window is refused at once
  with WhatsApp's own error, 131047 "Re-engagement message", instead of failing
  later by webhook. Templates go to WhatsApp, which checks them itself;
- a request that sends nothing (mark as read, typing indicator) is forwarded
  unchanged.

Errors of the proxy itself (no API key, a line of another tenant, a body that is
not a send) are answered in the Graph API's error shape too, so the client's
own error handling applies.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Annotated, Any, Final

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from wawindow.adapters.db.tenant_store import SqlTenantStore
from wawindow.entrypoints.api.deps import ServicesDep
from wawindow.service.cloud_api_messages import NotASend
from wawindow.service.contacts import NotFound
from wawindow.service.idempotency import IdempotencyKeyReused, SendInProgress, request_hash
from wawindow.service.send_records import FailureKind, SendRecord
from wawindow.service.sending import LineCannotSend, ProxyAnswer, SendDenied
from wawindow.service.tenants import tenant_of_key

router = APIRouter(tags=["graph-proxy"])

RE_ENGAGEMENT_DETAILS: Final = (
    "Message failed to send because more than 24 hours have passed since the customer "
    "last replied to this number."
)
_VERSION = re.compile(r"v[0-9]+\.[0-9]+")
_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")


class GraphError(Exception):
    """An answer in the Graph API's error shape."""

    def __init__(
        self, status: int, code: int, message: str, details: str | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details
        self.extra = extra

    def response(self) -> JSONResponse:
        extra = dict(self.extra)
        error: dict[str, Any] = {
            "message": self.message,
            "type": extra.pop("type", "OAuthException"),
            "code": self.code,
        }
        if self.details is not None:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        error.update(extra)
        error["fbtrace_id"] = fbtrace_id()
        return JSONResponse({"error": error}, status_code=self.status)


def fbtrace_id() -> str:
    """A trace id in the style of Graph's ``fbtrace_id``."""
    return "A" + secrets.token_urlsafe(16)


def re_engagement() -> GraphError:
    """WhatsApp's own refusal of free-form outside the window (error 131047)."""
    return GraphError(400, 131047, "(#131047) Re-engagement message", RE_ENGAGEMENT_DETAILS)


class GraphErrorData(BaseModel):
    model_config = ConfigDict(extra="allow")

    messaging_product: str | None = None
    details: str | None = None


class GraphErrorDetail(BaseModel):
    """Graph's error object; WhatsApp's own errors may carry more members."""

    model_config = ConfigDict(extra="allow")

    message: str
    type: str | None = Field(default=None, examples=["OAuthException"])
    code: int = Field(examples=[131047])
    error_subcode: int | None = None
    error_data: GraphErrorData | None = None
    is_transient: bool | None = None
    wawindow_send_id: str | None = Field(
        default=None, description="The send wawindow recorded, when no answer came for it."
    )
    fbtrace_id: str | None = None


class GraphErrorOut(BaseModel):
    """An error in the Graph API's shape, as graph.facebook.com answers it."""

    error: GraphErrorDetail


def _graph_error(description: str) -> dict[str, Any]:
    return {"model": GraphErrorOut, "description": description}


@router.post(
    "/graph/{version}/{phone_number_id}/messages",
    summary="The Cloud API messages endpoint, through the gate",
    response_description="WhatsApp's answer, as it came (or its error shape).",
    responses={
        200: {"description": "WhatsApp's answer: messaging_product, contacts, messages."},
        400: _graph_error(
            "A Graph error: the body is not a send, the line is not yours (100), the version "
            "is unknown (2635), the window is closed (131047), or WhatsApp's own."
        ),
        401: _graph_error(
            "No valid wawindow API key as the bearer token, or no access token for the "
            "line (code 190)."
        ),
        409: _graph_error(
            "The first request with this Idempotency-Key is still being sent (code 2)."
        ),
        503: _graph_error("WhatsApp could not be reached; nothing was sent (code 2)."),
        504: _graph_error("WhatsApp took the request and never answered (131000)."),
        "default": {
            "description": "WhatsApp's answer with its own status (e.g. 404 for a template "
            "it does not have, 429 for a rate limit), as it came.",
            "content": {"application/json": {"schema": {}}},
        },
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "A Cloud API request body, exactly as for graph.facebook.com.",
            "content": {
                "application/json": {
                    "schema": {"type": "object", "additionalProperties": True},
                    "example": {
                        "messaging_product": "whatsapp",
                        "to": "16505551234",
                        "type": "text",
                        "text": {"body": "Your order is on its way"},
                    },
                }
            },
        }
    },
)
async def graph_messages(
    request: Request,
    svc: ServicesDep,
    version: str,
    phone_number_id: str,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    try:
        tenant_id = await _tenant(svc, authorization, x_api_key)
        _check_path(version, phone_number_id)
        payload = _payload(await request.body())
        key = _idempotency_key(idempotency_key)
        hashed = request_hash(
            {"endpoint": "graph", "line": phone_number_id, "version": version, "body": payload}
        )
        sender, now = svc.sender(), svc.clock()
        answer = await run_in_threadpool(
            _proxied,
            lambda: sender.proxy(tenant_id, phone_number_id, version, payload, now, key, hashed),
            phone_number_id,
        )
    except GraphError as error:
        return error.response()
    return _answer(answer)


async def _tenant(svc: ServicesDep, authorization: str | None, x_api_key: str | None) -> str:
    key = x_api_key
    if key is None and authorization and authorization.lower().startswith("bearer "):
        key = authorization[7:].strip()
    if not key:
        raise GraphError(401, 190, "Invalid OAuth access token - Cannot parse access token")

    def lookup() -> str | None:
        with SqlTenantStore.reading(svc.engine) as store:  # a read: not queued behind writers
            return tenant_of_key(store, key)

    found = await run_in_threadpool(lookup)
    if found is None:
        raise GraphError(401, 190, "Invalid OAuth access token - Cannot parse access token")
    return found


def _check_path(version: str, phone_number_id: str) -> None:
    if not _VERSION.fullmatch(version):
        raise GraphError(400, 2635, f"(#2635) Unknown API version {version[:32]!r}")
    if not _ID.fullmatch(phone_number_id):
        raise _unknown_object(phone_number_id[:64])


def _payload(raw: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise GraphError(
            400, 100, "(#100) Invalid parameter", "the request body must be a JSON object"
        )
    return parsed


def _idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not 0 < len(value) <= 255 or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise GraphError(
            400, 100, "(#100) Invalid parameter", "Idempotency-Key: 1 to 255 printable characters"
        )
    return value


def _unknown_object(phone_number_id: str) -> GraphError:
    return GraphError(
        400,
        100,
        f"Unsupported post request. Object with ID '{phone_number_id}' does not exist, cannot "
        "be loaded due to missing permissions, or does not support this operation",
        type="GraphMethodException",
        error_subcode=33,
    )


def _proxied(call: Any, phone_number_id: str) -> ProxyAnswer:
    """Run the proxy use case; its refusals in WhatsApp's error shape."""
    try:
        answer: ProxyAnswer = call()
    except NotFound:
        raise _unknown_object(phone_number_id) from None
    except NotASend as error:
        raise GraphError(400, 100, "(#100) Invalid parameter", f"{error.field}: {error}") from None
    except SendDenied:
        raise re_engagement() from None
    except LineCannotSend:
        raise GraphError(
            401,
            190,
            "(#190) wawindow has no access token for this line: add one with "
            "`wawindow line add … --access-token`",
        ) from None
    except IdempotencyKeyReused as error:
        raise GraphError(
            400,
            100,
            "(#100) Invalid parameter",
            f"Idempotency-Key was used for a different request (send {error.record.id})",
        ) from None
    except SendInProgress:
        raise GraphError(
            409, 2, "(#2) Service temporarily unavailable", is_transient=True
        ) from None
    return answer


def _answer(answer: ProxyAnswer) -> JSONResponse:
    """WhatsApp's answer exactly; when none came, an error in its shape."""
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    if answer.reply is not None:
        return JSONResponse(answer.reply.body, status_code=answer.reply.status)
    record = answer.record
    if record is not None and record.response is not None and record.response_status is not None:
        return JSONResponse(record.response, status_code=record.response_status, headers=headers)
    error = answer.error or (record.error if record is not None else None) or {}
    response = _no_answer(error, record).response()
    if headers:
        response.headers.update(headers)
    return response


def _no_answer(error: dict[str, Any], record: SendRecord | None) -> GraphError:
    send = {"wawindow_send_id": record.id} if record is not None else {}
    if error.get("kind") == FailureKind.UNREACHABLE.value:
        return GraphError(
            503,
            2,
            "(#2) Service temporarily unavailable",
            "WhatsApp could not be reached; nothing was sent",
            is_transient=True,
            **send,
        )
    return GraphError(
        504,
        131000,
        "(#131000) Something went wrong",
        "WhatsApp took the request and no answer came; it is not sent again. If it went "
        "out, its statuses will come by webhook.",
        is_transient=False,
        **send,
    )
