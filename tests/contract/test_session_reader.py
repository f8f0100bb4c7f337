"""``SqlSessionReader.thread_snapshot``: the thread and the conversation its state names
come in one statement; a state that names none, or one that is not there, falls back
to the thread's latest conversation. On every database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine

from wawindow.adapters.db import schema as t
from wawindow.adapters.db.engine import make_engine
from wawindow.adapters.db.migrate import upgrade
from wawindow.adapters.db.session_reader import SqlSessionReader

NOW = datetime(2026, 3, 10, 12, 0, 0, 250000, tzinfo=UTC)
FEP_OPENED = NOW - timedelta(hours=2)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(
            t.tenants.insert().values(id="tn", name="t", settings={}, created_at=NOW)
        )
        for line in ("L1", "L2"):
            connection.execute(
                t.lines.insert().values(
                    phone_number_id=line,
                    tenant_id="tn",
                    app_secret="s",
                    verify_token=f"v{line}",
                    created_at=NOW,
                )
            )
        for contact in ("named", "stale", "unnamed", "none"):
            connection.execute(
                t.contacts.insert().values(id=contact, tenant_id="tn", created_at=NOW)
            )
        _thread(connection, "named", {"conversation_id": "named-older"})
        _thread(connection, "stale", {"conversation_id": "gone"})
        _thread(connection, "unnamed", {})
        _thread(connection, "none", {"conversation_id": "gone"})
        for thread, conversation, hours_ago in (
            ("named", "named-older", 30),
            ("named", "named-newer", 1),
            ("stale", "stale-older", 30),
            ("stale", "stale-newer", 1),
            ("unnamed", "unnamed-only", 3),
        ):
            _conversation(connection, thread, conversation, NOW - timedelta(hours=hours_ago))
    yield engine
    engine.dispose()


def _thread(connection: Connection, contact: str, state: dict[str, Any]) -> None:
    free_entry_point = {"opened_at": FEP_OPENED.isoformat(), "expires_at": None}
    connection.execute(
        t.threads.insert().values(
            id=contact,
            tenant_id="tn",
            line="L1",
            contact_id=contact,
            state={**state, "free_entry_point": free_entry_point},
            last_inbound_at=NOW,
            window_ends_at=NOW + timedelta(hours=24),
            updated_at=NOW,
        )
    )


def _conversation(connection: Connection, thread: str, id_: str, started: datetime) -> None:
    connection.execute(
        t.conversations.insert().values(
            id=id_,
            tenant_id="tn",
            thread_id=thread,
            line="L1",
            contact_id=thread,
            started_at=started,
            last_message_at=started + timedelta(minutes=5),
            initiated_by="user",
            origin="user_initiated",
            messages_count=2,
            last_inbound_at=started,
        )
    )


def _conversation_of(engine: Engine, contact: str) -> str | None:
    with SqlSessionReader(engine) as reader:
        snapshot = reader.thread_snapshot("tn", "L1", contact)
    assert snapshot is not None
    return None if snapshot.conversation is None else snapshot.conversation.id


def test_the_conversation_the_state_names_comes_with_the_thread(engine: Engine) -> None:
    with SqlSessionReader(engine) as reader:
        snapshot = reader.thread_snapshot("tn", "L1", "named")
    assert snapshot is not None
    assert snapshot.last_inbound_at == NOW
    assert snapshot.window_ends_at == NOW + timedelta(hours=24)
    assert snapshot.fep_opened_at == FEP_OPENED
    assert snapshot.fep_expires_at is None
    conversation = snapshot.conversation
    # The named one, though a newer one exists: the state says which is current.
    assert conversation is not None
    assert conversation.id == "named-older"
    assert conversation.started_at == NOW - timedelta(hours=30)
    assert conversation.last_message_at == NOW - timedelta(hours=30, minutes=-5)
    assert conversation.messages_count == 2


def test_a_state_naming_no_conversation_or_a_missing_one_gives_the_latest(
    engine: Engine,
) -> None:
    assert _conversation_of(engine, "stale") == "stale-newer"
    assert _conversation_of(engine, "unnamed") == "unnamed-only"
    assert _conversation_of(engine, "none") is None


def test_no_thread_on_the_line_is_none(engine: Engine) -> None:
    with SqlSessionReader(engine) as reader:
        assert reader.thread_snapshot("tn", "L2", "named") is None
        assert reader.thread_snapshot("other", "L1", "named") is None
        assert reader.has_line("tn", "L2")
        assert not reader.has_line("other", "L2")
