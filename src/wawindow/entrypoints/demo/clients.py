"""The HTTP calls the demo makes: to wawindow's API (with the demo's key) and to the sandbox.

Both raise ``UnexpectedAnswer`` (status and body) for an answer the demo does not
expect, so a failure shows what the server said.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Final

import httpx

from wawindow.domain.times import iso_z, parse_iso

TIMEOUT: Final = 30.0
SETTLE_TIMEOUT: Final = 30.0
CLOCK_TIMEOUT: Final = 10.0

Document = dict[str, Any]


class UnexpectedAnswer(RuntimeError):
    def __init__(self, what: str, response: httpx.Response) -> None:
        super().__init__(f"{what}: HTTP {response.status_code} {response.text[:2000]}")
        self.response = response


def _document(what: str, response: httpx.Response, *expected: int) -> Document:
    if response.status_code not in (expected or (200,)):
        raise UnexpectedAnswer(what, response)
    document: Document = response.json()
    return document


class WawindowApi:
    """wawindow's HTTP API, as the demo tenant."""

    def __init__(self, base_url: str, api_key: str, line: str) -> None:
        self.line = line
        self._http = httpx.Client(
            base_url=base_url, timeout=TIMEOUT, headers={"X-API-Key": api_key}
        )

    def close(self) -> None:
        self._http.close()

    def session_status(self, phone: str) -> Document | None:
        """The session status with the user of ``phone``; ``None`` before they ever wrote."""
        answer = self._http.get(
            "/v1/session-status", params={"phone_number_id": self.line, "contact_phone": phone}
        )
        if answer.status_code == 404:
            return None
        return _document("GET /v1/session-status", answer)

    def latest_message(self, contact_id: str | None = None) -> Document | None:
        """The newest message (of the contact, or of the whole tenant)."""
        params: dict[str, Any] = {"page_size": 1}
        if contact_id is not None:
            params["contact_id"] = contact_id
        items = _document("GET /v1/messages", self._http.get("/v1/messages", params=params))
        found: list[Document] = items["items"]
        return found[0] if found else None

    def message(self, message_id: str) -> Document:
        return _document("GET /v1/messages/{id}", self._http.get(f"/v1/messages/{message_id}"))

    def send(self, body: Document) -> httpx.Response:
        """``POST /v1/messages``; the answer as it came (a refusal is part of the story)."""
        return self._http.post("/v1/messages", json={"phone_number_id": self.line, **body})

    def reply(self, contact_id: str, text: str) -> httpx.Response:
        return self._http.post(f"/v1/contacts/{contact_id}/reply", json={"text": text})

    def now(self, phone: str) -> datetime:
        """wawindow's clock (it follows the sandbox's): the time of a dry-run decision."""
        answer = self._http.post(
            "/v1/messages",
            params={"dry_run": "true"},
            json={"phone_number_id": self.line, "to": phone, "text": "what time is it?"},
        )
        return parse_iso(_document("POST /v1/messages?dry_run=true", answer)["decision"]["at"])

    def wait_for_clock(self, at: datetime, phone: str) -> None:
        """Until wawindow's clock reads ``at`` (it reads the sandbox's every 0.2 s)."""
        deadline = time.monotonic() + CLOCK_TIMEOUT
        while self.now(phone) != at:
            if time.monotonic() > deadline:
                raise TimeoutError(f"wawindow's clock did not follow the sandbox to {iso_z(at)}")
            time.sleep(0.05)


class SandboxApi:
    """The sandbox's control API: users write, the clock moves, webhooks settle."""

    def __init__(self, base_url: str) -> None:
        self._http = httpx.Client(base_url=base_url, timeout=TIMEOUT)

    def close(self) -> None:
        self._http.close()

    def inbound(self, fields: Document) -> Document:
        """A user writes; the answer comes once wawindow took (or refused) the webhook."""
        answer = self._http.post("/sandbox/inbound", json=fields)
        posted = _document("POST /sandbox/inbound", answer)
        webhook = posted["webhook"]
        if webhook["state"] != "delivered":
            raise RuntimeError(
                f"wawindow did not take the sandbox's webhook: HTTP {webhook['status_code']} "
                f"{webhook['error'] or ''}".rstrip()
            )
        return posted

    def set_clock(self, at: datetime) -> datetime:
        answer = self._http.post("/sandbox/clock", json={"at": iso_z(at)})
        return parse_iso(_document("POST /sandbox/clock", answer)["now"])

    def now(self) -> datetime:
        return parse_iso(_document("GET /sandbox/clock", self._http.get("/sandbox/clock"))["now"])

    def thaw(self) -> None:
        """Let the clock run on from where it stands."""
        _document("POST /sandbox/clock", self._http.post("/sandbox/clock", json={"frozen": False}))

    def load_templates(self, listing: Document) -> None:
        loaded = _document(
            "POST /sandbox/templates", self._http.post("/sandbox/templates", json=listing)
        )
        if loaded["errors"]:
            raise RuntimeError(f"the sandbox refused demo templates: {loaded['errors']}")

    def settle(self) -> None:
        """Until every webhook the sandbox queued (statuses of sends) has been posted;
        ``RuntimeError`` when wawindow refused one."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while self._pending() > 0:
            if time.monotonic() > deadline:
                raise TimeoutError("the sandbox's webhooks did not all go out")
            time.sleep(0.05)
        posts = _document("GET /sandbox/webhooks", self._http.get("/sandbox/webhooks"))["data"]
        failed = [post for post in posts if post["state"] == "failed"]
        if failed:
            post = failed[0]
            raise RuntimeError(
                f"wawindow did not take the sandbox's webhook {post['number']}: "
                f"HTTP {post['status_code']} {post['error'] or ''}".rstrip()
            )

    def _pending(self) -> int:
        listing = self._http.get("/sandbox/messages", params={"direction": "outbound"})
        pending: int = _document("GET /sandbox/messages", listing)["pending_webhooks"]
        return pending
