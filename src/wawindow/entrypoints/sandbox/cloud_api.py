"""The Cloud API face of the sandbox: answered exactly as WhatsApp answers.

``POST /{version}/{phone_number_id}/messages`` sends a message (or marks a user's
message read) and ``GET /{version}/{waba_id}/message_templates`` lists the
templates. Errors are the Graph API's JSON (``{"error": {"message", "type",
"code", "error_data", "fbtrace_id"}}``), never problem documents: a Cloud API
client must not be able to tell the sandbox from WhatsApp.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any, Final, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from wawindow.entrypoints.sandbox.deps import sandbox_of
from wawindow.entrypoints.sandbox.graph_errors import (
    GraphError,
    invalid_parameter,
    unknown_object,
)
from wawindow.entrypoints.sandbox.sandbox import Accepted, Sandbox
from wawindow.entrypoints.sandbox.send_requests import InvalidRequest, ReadReceipt, read_request

VERSION: Final = re.compile(r"v\d{1,3}\.\d{1,2}")

GRAPH_ERROR_EXAMPLE: Final[JsonDict] = {
    "error": {
        "message": "(#100) Invalid parameter",
        "type": "OAuthException",
        "code": 100,
        "error_data": {
            "messaging_product": "whatsapp",
            "details": "The parameter text['body'] is required.",
        },
        "fbtrace_id": "AbCdEfGhIjKlMnOpQrStUvWxYz0",
    }
}


class GraphErrorBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    message: str
    type: str
    code: int
    error_subcode: int | None = None
    error_data: dict[str, Any] | None = None
    fbtrace_id: str


class GraphErrorDocument(BaseModel):
    """WhatsApp's error JSON."""

    model_config = ConfigDict(json_schema_extra={"example": GRAPH_ERROR_EXAMPLE})

    error: GraphErrorBody


class SendContact(BaseModel):
    input: str
    wa_id: str | None = Field(default=None, description="When sent to a phone number (``to``).")
    user_id: str | None = Field(default=None, description="When sent to a BSUID (``recipient``).")


class SentId(BaseModel):
    id: str
    message_status: str | None = Field(default=None, description="``accepted`` for templates.")


class SendAnswer(BaseModel):
    """The Cloud API's answer to a send; ``{"success": true}`` answers a mark-as-read."""

    messaging_product: Literal["whatsapp"] | None = None
    contacts: list[SendContact] | None = None
    messages: list[SentId] | None = None
    success: bool | None = None


GRAPH_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    status: {"model": GraphErrorDocument, "description": description}
    for status, description in (
        (400, "Invalid request (code 100), template errors (132000…), faults (130429…)"),
        (401, "Missing or wrong access token (code 190)"),
        (404, "Template does not exist (code 132001)"),
        (500, "Fault: unknown error (code 1)"),
        (503, "Fault: service temporarily unavailable (code 2)"),
    )
}


def graph_error(sandbox: Sandbox, error: GraphError) -> JSONResponse:
    document = error.response_document(sandbox.ids.fbtrace_id())
    return JSONResponse(document, status_code=error.http_status)


def _token(request: Request) -> str | None:
    token = request.query_params.get("access_token")
    return f"Bearer {token}" if token else request.headers.get("authorization")


router = APIRouter(tags=["Cloud API"])


@router.post(
    "/{version}/{phone_number_id}/messages",
    response_model=SendAnswer,
    response_model_exclude_none=True,
    responses=GRAPH_ERRORS,
    openapi_extra={
        "requestBody": {
            "content": {"application/json": {"schema": {"type": "object"}}},
            "required": True,
        }
    },
)
async def send_message(version: str, phone_number_id: str, request: Request) -> JSONResponse:
    """Send a message (text, media, location, contacts, interactive, reaction, template),
    or mark a user's message read (``{"status": "read", "message_id"}``), as the Cloud API does.
    Statuses follow by webhook."""
    sandbox = sandbox_of(request)
    refused = sandbox.check_token(_token(request))
    if refused is not None:
        return graph_error(sandbox, refused)
    if not VERSION.fullmatch(version) or not phone_number_id.isdigit():
        return graph_error(sandbox, unknown_object(phone_number_id))
    fault = sandbox.next_fault()
    failure = fault.error() if fault else None
    if fault is not None and failure is not None:
        await asyncio.sleep(fault.delay_seconds)
        return graph_error(sandbox, failure)
    answer = _send(sandbox, phone_number_id, await request.body())
    if fault is not None:
        # The message went out already: a client that gives up waiting has still sent it.
        await asyncio.sleep(fault.delay_seconds)
    if isinstance(answer, GraphError):
        return graph_error(sandbox, answer)
    return JSONResponse(answer)


def _send(sandbox: Sandbox, phone_number_id: str, raw: bytes) -> dict[str, Any] | GraphError:
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return invalid_parameter("The request body is not valid JSON.")
    try:
        parsed = read_request(document)
    except InvalidRequest as invalid:
        return invalid_parameter(invalid.details)
    if isinstance(parsed, ReadReceipt):
        return sandbox.mark_read(phone_number_id, parsed)
    result = sandbox.send(phone_number_id, parsed, document)
    return result.answer if isinstance(result, Accepted) else result


@router.get(
    "/{version}/{waba_id}/message_templates",
    responses=GRAPH_ERRORS,
)
async def list_templates(version: str, waba_id: str, request: Request) -> JSONResponse:
    """The sandbox's templates, as WhatsApp lists a business account's templates."""
    sandbox = sandbox_of(request)
    refused = sandbox.check_token(_token(request))
    if refused is not None:
        return graph_error(sandbox, refused)
    if not VERSION.fullmatch(version) or waba_id != sandbox.settings.account_id:
        return graph_error(sandbox, unknown_object(waba_id))
    listing = sandbox.templates.listing()
    listing["paging"] = {"cursors": {"before": "MAZDZD", "after": "MjQZD"}}
    return JSONResponse(listing)
