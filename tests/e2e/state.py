"""What a server knows, with every generated id replaced by what it stands for.

Two servers that received the same facts (in any order, any number of times)
must give equal ``snapshot``s: the conversations the API lists, and the
``contacts``, ``threads``, ``conversations``, ``messages`` and ``facts`` rows. Tenant, thread,
contact and conversation ids are random, so they are replaced by stable keys: a
contact by its identifiers, a thread by (line, contact), a conversation by
(line, contact, start). The inbox is compared by the hashes of the bodies.
"""

from __future__ import annotations

import json
from typing import Any

from tests.support.server import Database, Server, json_value


def snapshot(server: Server) -> dict[str, Any]:
    db = Database(server.database_url)
    tenant = server.tenant_id
    contacts = _contact_keys(db, tenant)
    threads = {
        row[0]: f"{row[1]}|{contacts.get(row[2], row[2])}"
        for row in db.rows("SELECT id, line, contact_id FROM threads WHERE tenant_id = ?", tenant)
    }
    conversations = {
        row[0]: f"{row[1]}|{contacts.get(row[2], row[2])}|{row[3]}"
        for row in db.rows(
            "SELECT id, line, contact_id, started_at FROM conversations WHERE tenant_id = ?",
            tenant,
        )
    }
    return {
        "contacts": _contacts(db, tenant, contacts),
        "api_conversations": api_conversations(server),
        "threads": _threads(db, tenant, contacts, conversations),
        "conversations": _conversations(db, tenant, threads, contacts),
        "messages": _messages(db, tenant, threads, conversations),
        "facts": _facts(db, tenant, threads),
        "inbox": sorted(db.inbox_hashes()),
    }


def api_conversations(server: Server) -> list[dict[str, Any]]:
    """``GET /v1/conversations`` without the ids (random per server)."""
    ignored = {"id", "contact_id", "tenant_id"}
    items = [{k: v for k, v in item.items() if k not in ignored} for item in server.conversations()]
    return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))


def _contact_keys(db: Database, tenant: str) -> dict[str, str]:
    found: dict[str, list[str]] = {}
    rows = db.rows(
        "SELECT contact_id, kind, value FROM contact_identifiers WHERE tenant_id = ?", tenant
    )
    for contact_id, kind, value in rows:
        found.setdefault(contact_id, []).append(f"{kind}:{value}")
    return {contact_id: ",".join(sorted(ids)) for contact_id, ids in found.items()}


def _contacts(db: Database, tenant: str, contacts: dict[str, str]) -> list[str]:
    """Every contact not merged into another, by its identifiers ("" when it has none)."""
    rows = db.rows("SELECT id FROM contacts WHERE tenant_id = ? AND merged_into IS NULL", tenant)
    return sorted(contacts.get(row[0], "") for row in rows)


def _threads(
    db: Database, tenant: str, contacts: dict[str, str], conversations: dict[str, str]
) -> list[tuple[Any, ...]]:
    rows = db.rows(
        "SELECT line, contact_id, version, state, last_inbound_at, window_ends_at"
        " FROM threads WHERE tenant_id = ?",
        tenant,
    )
    out = []
    for line, contact_id, version, state, last_inbound_at, window_ends_at in rows:
        state = dict(json_value(state))
        state["conversation_id"] = conversations.get(state.get("conversation_id") or "")
        out.append(
            (
                line,
                contacts.get(contact_id, contact_id),
                version,
                json.dumps(state, sort_keys=True),
                str(last_inbound_at),
                str(window_ends_at),
            )
        )
    return sorted(out)


def _conversations(
    db: Database, tenant: str, threads: dict[str, str], contacts: dict[str, str]
) -> list[tuple[Any, ...]]:
    rows = db.rows(
        "SELECT thread_id, line, contact_id, started_at, last_message_at, closed_at,"
        " closed_reason, initiated_by, origin, category, messages_count, last_inbound_at,"
        " last_outbound_at FROM conversations WHERE tenant_id = ?",
        tenant,
    )
    out = [
        (threads.get(row[0], row[0]), row[1], contacts.get(row[2], row[2]), *map(str, row[3:]))
        for row in rows
    ]
    return sorted(out)


def _messages(
    db: Database, tenant: str, threads: dict[str, str], conversations: dict[str, str]
) -> list[tuple[Any, ...]]:
    rows = db.rows(
        "SELECT id, thread_id, conversation_id, direction, at, type, status, record, billing,"
        " delivered_at, free_tier_candidate FROM messages WHERE tenant_id = ?",
        tenant,
    )
    out = []
    for row in rows:
        message_id, thread_id, conversation_id, direction, at, type_, status = row[:7]
        record, billing, delivered_at, free_tier = row[7:]
        out.append(
            (
                message_id,
                threads.get(thread_id, thread_id),
                conversations.get(conversation_id or "", conversation_id),
                direction,
                str(at),
                type_,
                status,
                json.dumps(json_value(record), sort_keys=True),
                json.dumps(json_value(billing), sort_keys=True),
                str(delivered_at),
                bool(free_tier),
            )
        )
    return sorted(out, key=str)


def _facts(db: Database, tenant: str, threads: dict[str, str]) -> list[tuple[Any, ...]]:
    rows = db.rows(
        "SELECT natural_key, kind, thread_id, at, payload FROM facts WHERE tenant_id = ?", tenant
    )
    out = [
        (
            key,
            kind,
            threads.get(thread_id or "", thread_id),
            str(at),
            json.dumps(json_value(payload), sort_keys=True),
        )
        for key, kind, thread_id, at, payload in rows
    ]
    return sorted(out, key=str)


def assert_same_state(expected: dict[str, Any], actual: dict[str, Any]) -> None:
    """Every part that differs is named, with the rows found on one side only."""
    assert expected.keys() == actual.keys()
    report = []
    for part in expected:
        if actual[part] != expected[part]:
            want = [_line(item) for item in expected[part]]
            got = [_line(item) for item in actual[part]]
            missing = "\n    ".join(item for item in want if item not in got) or "none"
            extra = "\n    ".join(item for item in got if item not in want) or "none"
            report.append(
                f"{part} differ ({len(want)} expected, {len(got)} actual)\n"
                f"  expected only:\n    {missing}\n  actual only:\n    {extra}"
            )
    assert not report, "\n".join(report)


def _line(item: Any) -> str:
    return json.dumps(item, sort_keys=True, default=str)
