"""The board: every demo customer's session status, as wawindow's HTTP API tells it.

One row per customer, from ``GET /v1/session-status`` (window, time left, free entry
point, conversation) and ``GET /v1/messages`` (the newest message: the last event).
A customer who never wrote has no contact yet: a row of dashes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from rich.table import Table
from rich.text import Text

from wawindow.domain.times import parse_iso
from wawindow.entrypoints.demo.clients import WawindowApi
from wawindow.entrypoints.demo.story import Customer, Document

NONE = "—"


@dataclass(frozen=True, slots=True)
class Row:
    customer: Customer
    status: Document | None  # GET /v1/session-status, None before the first message
    latest: Document | None  # the newest message of the contact

    def document(self) -> Document:
        """The row as the summary (``--json``) keeps it."""
        return {
            "name": self.customer.name,
            "phone": self.customer.phone,
            "session_status": self.status,
            "latest_message": self.latest,
        }


def read_board(api: WawindowApi, customers: Sequence[Customer]) -> list[Row]:
    rows = []
    for customer in customers:
        status = api.session_status(customer.phone)
        latest = api.latest_message(status["contact_id"]) if status is not None else None
        rows.append(Row(customer, status, latest))
    return rows


def board_table(rows: Sequence[Row], title: str) -> Table:
    table = Table(title=title, title_justify="left", expand=False)
    table.add_column("customer")
    table.add_column("window")
    table.add_column("time left", justify="right")
    table.add_column("free entry point")
    table.add_column("conversation")
    table.add_column("last event")
    for row in rows:
        table.add_row(Text(row.customer.name, "bold"), *_cells(row))
    return table


def _cells(row: Row) -> tuple[Text | str, ...]:
    status = row.status
    if status is None:
        return (NONE, NONE, NONE, NONE, "not in touch yet")
    now = parse_iso(status["as_of"])
    window = Text("open", "green") if status["window_active"] else Text("closed", "red")
    left = NONE
    if status["window_active"]:
        left = duration(timedelta(seconds=status["remaining_seconds"]))
    return (
        window,
        left,
        entry_point(status["free_entry_point"], now),
        conversation(status["conversation"]),
        last_event(row.latest),
    )


def duration(span: timedelta) -> str:
    """``71h 59m``, ``5m``, ``0m``: in hours, as windows (24h) and free entry points
    (72h) are counted."""
    hours, minutes = divmod(max(int(span.total_seconds()) // 60, 0), 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m"


def entry_point(fep: Document | None, now: datetime) -> Text | str:
    if fep is None:
        return NONE
    if fep["active"] and fep["expires_at"] is not None:
        left = parse_iso(fep["expires_at"]) - now
        return Text(f"open · {duration(left)}", "green")
    return Text("closed", "red")


def conversation(view: Document | None) -> Text | str:
    if view is None:
        return NONE
    count = view["messages_count"]
    messages = f"{count} msg{'s' if count != 1 else ''}"
    state = view["status"]
    if state == "ended":
        return Text(f"ended ({view['ended_reason']}) · {messages}", "dim")
    return Text(f"{state} · {messages}", "green" if state == "active" else "yellow")


def last_event(message: Document | None) -> str:
    """The newest message: ``← text received``, ``→ text: read · free_customer_service``,
    ``→ template back_in_stock: read · marketing 0.0625 USD``."""
    if message is None:
        return NONE
    if message["direction"] == "inbound":
        return f"← {message['type'] or 'message'} received"
    template = message["template"]
    what = f"template {template['name']}" if template else (message["type"] or "message")
    said = f"→ {what}: {message['status']}"
    if message["status"] == "failed" and message["errors"]:
        return f"{said} ({message['errors'][0]['code']})"
    if message["billing"] is not None:
        return f"{said} · {short_billing(message['billing'])}"
    return said


def short_billing(billing: Document) -> str:
    """``free_entry_point`` (free: why), ``marketing 0.0625 USD`` (billable: what and how much)."""
    if not billing["billable"]:
        return str(billing["type"])
    price = billing.get("price")
    return f"{billing['category']} {price} {billing['currency']}" if price else billing["category"]
