"""Build webhook bodies and outbound records like WhatsApp sends them, for replay scenarios."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from wawindow.entrypoints.cli import app

LINE = "106540352242922"
USER = "16505551234"


def ts(text: str) -> str:
    """Unix seconds (as WhatsApp writes them) of an ISO time like ``2026-03-10T09:00``."""
    at = datetime.fromisoformat(text).replace(tzinfo=UTC)
    return str(int(at.timestamp()))


def _envelope(value: dict[str, Any], field_name: str = "messages") -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "WABA1", "changes": [{"field": field_name, "value": value}]}],
    }


def inbound(
    at: str,
    message_id: str,
    wa_id: str | None = USER,
    *,
    line: str = LINE,
    user_id: str | None = None,
    referral: bool = False,
    name: str = "Sheena",
    type_: str = "text",
) -> dict[str, Any]:
    contact: dict[str, Any] = {"profile": {"name": name}}
    message: dict[str, Any] = {"id": message_id, "timestamp": ts(at), "type": type_}
    if wa_id:
        contact["wa_id"] = wa_id
        message["from"] = wa_id
    if user_id:
        contact["user_id"] = user_id
        message["from_user_id"] = user_id
    if type_ == "text":
        message["text"] = {"body": "hello"}
    if referral:
        message["referral"] = {
            "source_type": "ad",
            "source_id": "AD1",
            "source_url": "https://fb.me/x",
        }
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": line},
        "contacts": [contact],
        "messages": [message],
    }
    return _envelope(value)


def outbound(
    at: str,
    message_id: str,
    to: str = USER,
    *,
    line: str = LINE,
    template: str | None = None,
    category: str | None = None,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "kind": "outbound",
        "phone_number_id": line,
        "to": to,
        "id": message_id,
        "timestamp": ts(at),
        "type": "template" if template else "text",
    }
    if template:
        record["template"] = {"name": template, "language": {"code": "en_US"}}
        record["category"] = category
    return record


def status(
    at: str,
    message_id: str,
    status_: str,
    to: str = USER,
    *,
    line: str = LINE,
    errors: list[dict[str, Any]] | None = None,
    pricing: dict[str, Any] | None = None,
    conversation: dict[str, Any] | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": message_id,
        "status": status_,
        "timestamp": ts(at),
        "recipient_id": to,
    }
    if errors:
        item["errors"] = errors
    if pricing:
        item["pricing"] = pricing
    if conversation:
        item["conversation"] = conversation
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": line},
        "statuses": [item],
    }
    return _envelope(value)


@dataclass
class Replay:
    """Runs the real ``wawindow replay --json`` on a list of lines."""

    tmp_path: Path
    lines: list[dict[str, Any] | str] = field(default_factory=list)

    def add(self, *items: dict[str, Any] | str) -> Replay:
        self.lines.extend(items)
        return self

    def run(self, at: str, lines: Iterable[dict[str, Any] | str] | None = None) -> dict[str, Any]:
        code, document, _ = self.run_raw(at, lines)
        assert code == 0, document
        return document

    def run_raw(
        self, at: str, lines: Iterable[dict[str, Any] | str] | None = None
    ) -> tuple[int, dict[str, Any], str]:
        path = self.tmp_path / "facts.ndjson"
        chosen = self.lines if lines is None else list(lines)
        path.write_text(
            "\n".join(x if isinstance(x, str) else json.dumps(x) for x in chosen) + "\n"
        )
        result = CliRunner().invoke(app, ["replay", str(path), "--at", at + "Z", "--json"])
        document = json.loads(result.stdout) if result.stdout.strip() else {}
        return result.exit_code, document, result.stderr

    def thread(self, at: str) -> dict[str, Any]:
        threads = self.run(at)["threads"]
        assert len(threads) == 1, threads
        thread: dict[str, Any] = threads[0]
        return thread


def message(thread: dict[str, Any], message_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(m for m in thread["messages"] if m["id"] == message_id)
    return found
