"""``/webhooks/meta``: the Cloud API's verification handshake and its webhook posts.

A post is answered 200 only after its raw body and facts are committed; a
failure to store answers 503 so that WhatsApp retries. The signature
(``X-Hub-Signature-256``) is checked with the app secret of the line the body
names; a body for a line nobody owns is acknowledged and dropped, since WhatsApp
would otherwise retry it for days.
"""

from __future__ import annotations

import logging
import time
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from wawindow.adapters.meta.payload import ParsedWebhook, PayloadError, parse_webhook
from wawindow.adapters.meta.signature import verify_signature
from wawindow.bootstrap import Services
from wawindow.entrypoints.api.deps import ServicesDep
from wawindow.entrypoints.api.problems import Problem, problem_responses
from wawindow.service.ingest import IngestOutcome
from wawindow.service.ports import LineInfo

router = APIRouter(tags=["webhooks"])
log = logging.getLogger("wawindow.webhooks")
PROVIDER = "meta"


class WebhookReceipt(BaseModel):
    received: bool = True
    duplicate: bool = False
    facts_stored: int = 0
    facts_repeated: int = 0
    facts_dropped: dict[str, int] = {}


@router.get(
    "/webhooks/meta",
    summary="Verification handshake",
    response_class=PlainTextResponse,
    responses=problem_responses(403),
)
async def verify(
    svc: ServicesDep,
    mode: Annotated[str | None, Query(alias="hub.mode")] = None,
    token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
    challenge: Annotated[str, Query(alias="hub.challenge")] = "",
) -> PlainTextResponse:
    """Answers ``hub.challenge`` when ``hub.verify_token`` is a line's verify token."""

    def known() -> bool:
        with svc.tenant_store() as store:
            return token is not None and store.has_verify_token(token)

    if mode != "subscribe" or not await run_in_threadpool(known):
        raise Problem(403, "verification_failed", "Verification failed", "unknown verify token")
    return PlainTextResponse(challenge)


@router.post(
    "/webhooks/meta",
    summary="Receive a Cloud API webhook",
    response_model=WebhookReceipt,
    responses=problem_responses(400, 401, 413, 503),
)
async def receive(
    request: Request,
    svc: ServicesDep,
    signature: Annotated[str | None, Header(alias="X-Hub-Signature-256")] = None,
) -> WebhookReceipt:
    started = time.perf_counter()
    svc.metrics.webhooks_received.labels(provider=PROVIDER).inc()
    body = await _read_limited(request, svc)
    try:
        parsed = parse_webhook(body)
    except PayloadError as error:
        raise _rejected(svc, 400, "invalid_json", "Invalid JSON", str(error), "body") from error
    lines = await run_in_threadpool(_lines_named, svc, parsed)
    if not lines:
        return _unknown_line(svc, parsed)
    signed_for = _signed_lines(body, signature, lines)
    if not signed_for:
        detail = "missing or wrong X-Hub-Signature-256 for this line's app secret"
        raise _rejected(
            svc, 401, "bad_signature", "Invalid signature", detail, "X-Hub-Signature-256"
        )
    outcome = await run_in_threadpool(_store, svc, body, parsed, signed_for)
    svc.metrics.ingest_seconds.observe(time.perf_counter() - started)
    return WebhookReceipt(
        duplicate=outcome.duplicate,
        facts_stored=outcome.stored,
        facts_repeated=outcome.repeated,
        facts_dropped=outcome.dropped,
    )


async def _read_limited(request: Request, svc: Services) -> bytes:
    limit = svc.settings.max_webhook_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(svc, limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(svc, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(svc: Services, limit: int) -> Problem:
    detail = f"webhook bodies are limited to {limit} bytes"
    return _rejected(svc, 413, "body_too_large", "Body too large", detail, "body")


def _rejected(
    svc: Services, status: int, reason: str, title: str, detail: str, field: str
) -> Problem:
    svc.metrics.webhooks_rejected.labels(provider=PROVIDER, reason=reason).inc()
    return Problem(status, reason, title, detail, field=field)


def _lines_named(svc: Services, parsed: ParsedWebhook) -> list[LineInfo]:
    """The known lines a body is for: by phone_number_id, or by account for templates."""
    with svc.ingest_store() as store:
        found = [line for pnid in parsed.lines if (line := store.line(pnid)) is not None]
        if not found:
            for account in parsed.accounts:
                found.extend(store.lines_of_account(account))
        return found


def _signed_lines(body: bytes, signature: str | None, lines: list[LineInfo]) -> frozenset[str]:
    """The lines whose app secret signed this body: only their facts are taken."""
    valid = {
        secret
        for secret in {line.app_secret for line in lines}
        if verify_signature(body, signature, secret)
    }
    return frozenset(line.phone_number_id for line in lines if line.app_secret in valid)


def _unknown_line(svc: Services, parsed: ParsedWebhook) -> WebhookReceipt:
    named = ", ".join(parsed.lines or parsed.accounts) or "nothing"
    log.warning("webhook dropped: no tenant owns %s", named)
    svc.metrics.webhooks_dropped_facts.labels(provider=PROVIDER, reason="unknown_line").inc(
        len(parsed.facts)
    )
    return WebhookReceipt(facts_dropped={"unknown_line": len(parsed.facts)} if parsed.facts else {})


def _store(
    svc: Services, body: bytes, parsed: ParsedWebhook, signed_for: frozenset[str]
) -> IngestOutcome:
    try:
        with svc.ingest_store() as store:
            outcome = svc.ingestor.ingest(
                store, PROVIDER, body, parsed.facts, parsed.accounts, svc.clock(), signed_for
            )
    except SQLAlchemyError as error:
        log.exception("webhook not stored")
        svc.metrics.webhooks_rejected.labels(provider=PROVIDER, reason="storage_failed").inc()
        raise Problem(503, "storage_failed", "Not stored", "the database failed; retry") from error
    metrics = svc.metrics
    if outcome.duplicate:
        metrics.webhooks_duplicate.labels(provider=PROVIDER).inc()
    else:
        metrics.webhooks_stored.labels(provider=PROVIDER).inc()
    for kind, count in outcome.stored_kinds.items():
        metrics.facts_stored.labels(kind=kind).inc(count)
    for reason, count in outcome.dropped.items():
        metrics.webhooks_dropped_facts.labels(provider=PROVIDER, reason=reason).inc(count)
    return outcome
