"""How replay shows threads: the JSON document of DESIGN 2.6, or Rich tables for people."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table

from wawindow.domain.facts import Direction
from wawindow.domain.identity import IdentifierKind, Identity
from wawindow.domain.pricing import Billing
from wawindow.domain.rate_card import Cost
from wawindow.domain.thread_view import ConversationView, MessageView, ThreadView
from wawindow.domain.times import iso_z
from wawindow.service.replay import ReplayResult

Json = dict[str, Any]
Costing = Callable[[ThreadView, MessageView], Cost | None]
"""Prices a billed message (market, price, currency) when a rate card is loaded."""


def replay_document(result: ReplayResult, costing: Costing | None = None) -> Json:
    threads = [thread_document(t, costing) for t in result.threads]
    return {"at": iso_z(result.at), "threads": threads}


def thread_document(view: ThreadView, costing: Costing | None = None) -> Json:
    window, fep = view.window, view.entry_point
    return {
        "phone_number_id": view.line,
        "contact": contact_document(view.contact),
        "service_window": {
            "open": window.open,
            "last_inbound_at": iso_z(window.last_inbound_at),
            "expires_at": iso_z(window.expires_at),
        },
        "free_entry_point": {
            "open": fep.open,
            "opened_at": iso_z(fep.opened_at),
            "expires_at": iso_z(fep.expires_at),
            "unanswered": fep.unanswered,
        },
        "can_send": {"free_form": view.can_send_free_form, "template": True},
        "conversations": [conversation_document(c) for c in view.conversations],
        "messages": [message_document(m, _cost(costing, view, m)) for m in view.messages],
        "drift": [
            {
                "kind": d.kind.value,
                "message_id": d.message_id,
                "at": iso_z(d.at),
                "computed": d.computed,
                "provider": d.provider,
                "detail": d.detail,
            }
            for d in view.drift
        ],
    }


def contact_document(identity: Identity) -> Json:
    return {
        "wa_id": identity.first(IdentifierKind.WA_ID),
        "bsuid": identity.first(IdentifierKind.BSUID),
        "username": identity.first(IdentifierKind.USERNAME),
        "name": identity.name,
    }


def conversation_document(view: ConversationView) -> Json:
    c = view.conversation
    return {
        "id": c.id,
        "started_at": iso_z(c.started_at),
        "ended_at": iso_z(view.ended_at),
        "status": view.status.value,
        "ended_reason": view.ended_reason.value if view.ended_reason else None,
        "initiated_by": c.initiated_by,
        "origin": c.origin.value,
        "category": c.category or "service",
        "messages_count": c.messages_count,
        "last_inbound_at": iso_z(c.last_inbound_at),
        "last_outbound_at": iso_z(c.last_outbound_at),
    }


def _cost(costing: Costing | None, thread: ThreadView, message: MessageView) -> Cost | None:
    return costing(thread, message) if costing is not None and message.billing else None


def message_document(view: MessageView, cost: Cost | None = None) -> Json:
    record = view.record
    document: Json = {
        "id": record.message_id,
        "direction": record.direction.value,
        "at": iso_z(record.at),
        "type": record.type,
        "status": record.status,
        "billing": billing_document(view.billing, cost),
        "conversation_id": view.conversation_id,
    }
    if record.direction is Direction.OUTBOUND:
        document["category"] = record.category
        document["status_times"] = {s: iso_z(t) for s, t in record.status_times.items()}
        document["errors"] = [
            {"code": e.code, "title": e.title, "details": e.details or e.message}
            for e in record.errors
        ]
    return document


def billing_document(billing: Billing | None, cost: Cost | None = None) -> Json | None:
    if billing is None:
        return None
    document: Json = {
        "model": billing.model,
        "category": billing.category,
        "type": billing.type,
        "billable": billing.billable,
        "source": billing.source.value,
    }
    if cost is not None:
        price = None if cost.price is None else str(cost.price)
        document.update(market=cost.market, price=price, currency=cost.currency)
    return document


def print_tables(result: ReplayResult, console: Console) -> None:
    console.print(
        f"[bold]wawindow replay[/bold] at {iso_z(result.at)}: {len(result.threads)} thread(s)"
    )
    for view in result.threads:
        console.print(_thread_panel(view))


def _thread_panel(view: ThreadView) -> Panel:
    contact = contact_document(view.contact)
    who = contact["wa_id"] or contact["bsuid"] or contact["username"] or "(unidentified)"
    window, fep = view.window, view.entry_point
    summary = Table.grid(padding=(0, 2))
    state = "OPEN" if window.open else "closed"
    last, expires = iso_z(window.last_inbound_at) or "—", iso_z(window.expires_at) or "—"
    summary.add_row("service window", f"{state} · last inbound {last} · expires {expires}")
    fep_text = "OPEN" if fep.open else ("unanswered lead" if fep.unanswered else "closed")
    summary.add_row("free entry point", f"{fep_text} · expires {iso_z(fep.expires_at) or '—'}")
    summary.add_row(
        "can send", f"free-form {'yes' if view.can_send_free_form else 'no'} · template yes"
    )
    parts: list[Any] = [summary, _conversation_table(view), _message_table(view)]
    if view.drift:
        parts.append(f"[yellow]{len(view.drift)} drift record(s)[/yellow]")
    title = f"line {view.line} · {who}" + (f" ({contact['name']})" if contact["name"] else "")
    return Panel(Group(*parts), title=title, title_align="left")


def _conversation_table(view: ThreadView) -> Table:
    table = Table(title="conversations", title_justify="left", expand=False)
    for column in ("id", "status", "started", "ended", "reason", "origin", "messages"):
        table.add_column(column)
    for c in view.conversations:
        table.add_row(
            c.conversation.id,
            c.status.value,
            iso_z(c.conversation.started_at),
            iso_z(c.ended_at) or "",
            c.ended_reason.value if c.ended_reason else "",
            c.conversation.origin.value,
            str(c.conversation.messages_count),
        )
    return table


def _message_table(view: ThreadView) -> Table:
    table = Table(title="messages", title_justify="left", expand=False)
    for column in ("at", "dir", "id", "type", "status", "billing"):
        table.add_column(column)
    for m in view.messages:
        b = m.billing
        billing = "" if b is None else _billing_text(b)
        table.add_row(
            iso_z(m.record.at),
            "in" if m.record.direction is Direction.INBOUND else "out",
            m.record.message_id,
            m.record.type or "",
            m.record.status,
            billing,
        )
    return table


def _billing_text(billing: Billing) -> str:
    charged = "billable" if billing.billable else "free"
    return f"{billing.model} {billing.category} {billing.type} {charged} ({billing.source.value})"
