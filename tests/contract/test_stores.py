"""The SQL stores behind the service's ports, on SQLite and on PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, event, func, select

from wawindow.adapters.db import schema as t
from wawindow.adapters.db.engine import make_engine
from wawindow.adapters.db.ingest_store import SqlIngestStore
from wawindow.adapters.db.migrate import upgrade
from wawindow.adapters.db.query_store import SqlQueryStore
from wawindow.adapters.db.tenant_store import SqlTenantStore
from wawindow.domain.conversations import ConversationStatus
from wawindow.domain.facts import InboundMessage, ManualClose, OutboundMessage, StatusUpdate
from wawindow.domain.identity import Identifier, Identity
from wawindow.domain.policy import DEFAULT_POLICY
from wawindow.service.ingest import Ingestor, ThreadCache
from wawindow.service.queries import ConversationFilter, list_conversations, status_window
from wawindow.service.tenants import (
    LineSpec,
    TenantError,
    add_line,
    create_key,
    create_tenant,
    revoke_key,
    tenant_of_key,
)

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
LINE = "106540352242922"
ALICE = Identity.of(wa_id="16505551234", name="Alice")


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def tenant(engine: Engine) -> str:
    with SqlTenantStore(engine) as store:
        key = create_tenant(store, "acme", NOW)
    with SqlTenantStore(engine) as store:
        add_line(store, LineSpec(key.tenant_id, LINE, "secret", "token"), NOW)
    return key.tenant_id


def _count(engine: Engine, table: t.Table) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def _ingest(engine: Engine, body: bytes, *facts: object, ingestor: Ingestor | None = None) -> int:
    with SqlIngestStore(engine) as store:
        outcome = (ingestor or Ingestor()).ingest(store, "meta", body, facts, (), NOW)  # type: ignore[arg-type]
    return outcome.stored


def test_keys_are_hashed_shown_once_and_revocable(engine: Engine) -> None:
    with SqlTenantStore(engine) as store:
        key = create_tenant(store, "acme", NOW)
    with engine.connect() as connection:
        stored = connection.execute(select(t.api_keys.c.key_hash)).scalar_one()
    assert key.api_key not in stored
    with SqlTenantStore(engine) as store:
        assert tenant_of_key(store, key.api_key) == key.tenant_id
        second = create_key(store, key.tenant_id, NOW)
    with SqlTenantStore(engine) as store:
        revoke_key(store, key.key_id, NOW)
    with SqlTenantStore(engine) as store:
        assert tenant_of_key(store, key.api_key) is None
        assert tenant_of_key(store, second.api_key) == key.tenant_id
        with pytest.raises(TenantError, match="no active key"):
            revoke_key(store, key.key_id, NOW)


def test_a_line_belongs_to_one_tenant_and_needs_a_known_zone(engine: Engine, tenant: str) -> None:
    with SqlTenantStore(engine) as store, pytest.raises(TenantError, match="exists already"):
        add_line(store, LineSpec(tenant, LINE, "s", "v"), NOW)
    with SqlTenantStore(engine) as store, pytest.raises(TenantError, match="timezone"):
        add_line(store, LineSpec(tenant, "999", "s", "v", timezone="Mars/Olympus"), NOW)
    with SqlTenantStore(engine) as store, pytest.raises(TenantError, match="no tenant"):
        add_line(store, LineSpec("tn_nobody", "998", "s", "v"), NOW)


def test_a_body_and_its_facts_are_stored_once(engine: Engine, tenant: str) -> None:
    fact = InboundMessage(LINE, "wamid.1", NOW, ALICE, "text")
    assert _ingest(engine, b"body-1", fact) == 1
    assert _ingest(engine, b"body-1", fact) == 0  # the same body again: a retry
    assert _ingest(engine, b"body-2", fact) == 0  # another body with the same fact
    assert _count(engine, t.inbox) == 2
    assert _count(engine, t.facts) == 1
    assert _count(engine, t.messages) == 1


def test_a_failed_ingest_leaves_nothing_behind(engine: Engine, tenant: str) -> None:
    class Broken(Exception):
        pass

    class FailingStore(SqlIngestStore):
        def save_thread(self, *args: object, **kwargs: object) -> None:
            raise Broken

    fact = InboundMessage(LINE, "wamid.1", NOW, ALICE, "text")
    with FailingStore(engine) as store, pytest.raises(Broken):
        Ingestor().ingest(store, "meta", b"body", [fact], (), NOW)
    assert _count(engine, t.inbox) == 0
    assert _count(engine, t.facts) == 0
    assert _ingest(engine, b"body", fact) == 1  # WhatsApp's retry then succeeds


def test_unknown_lines_are_dropped_and_counted(engine: Engine, tenant: str) -> None:
    fact = InboundMessage("000000", "wamid.1", NOW, ALICE, "text")
    with SqlIngestStore(engine) as store:
        outcome = Ingestor().ingest(store, "meta", b"body", [fact], (), NOW)
    assert outcome.dropped == {"unknown_line": 1}
    assert _count(engine, t.facts) == 0
    assert _count(engine, t.inbox) == 1  # the body itself is kept


def test_two_identifiers_in_one_payload_merge_two_contacts(engine: Engine, tenant: str) -> None:
    hidden = Identity.of(bsuid="US.13491208655302741918")
    _ingest(engine, b"1", InboundMessage(LINE, "m1", NOW, hidden, "text"))
    _ingest(engine, b"2", InboundMessage(LINE, "m2", NOW + timedelta(minutes=1), ALICE, "text"))
    assert _count(engine, t.threads) == 2
    both = Identity.of(wa_id="16505551234", bsuid="US.13491208655302741918")
    _ingest(engine, b"3", InboundMessage(LINE, "m3", NOW + timedelta(minutes=2), both, "text"))
    assert _count(engine, t.threads) == 1
    with engine.connect() as connection:
        owners = connection.execute(select(t.contact_identifiers.c.contact_id)).scalars().all()
        conversations = connection.execute(select(t.conversations)).all()
    assert len(set(owners)) == 1
    assert len(conversations) == 1
    assert conversations[0].messages_count == 3
    with SqlIngestStore(engine) as store:
        assert len(set(store.contacts_of(tenant, both.identifiers).values())) == 1


def test_a_cold_cache_gives_the_same_read_models(engine: Engine, tenant: str) -> None:
    """The cache is only a cache: refolding from stored facts keeps ids and results."""
    facts = [
        InboundMessage(LINE, "m2", NOW + timedelta(minutes=10), ALICE, "text"),
        InboundMessage(LINE, "m1", NOW, ALICE, "text"),  # late, before the first
        OutboundMessage(LINE, "o1", NOW + timedelta(minutes=11), ALICE, "text"),
        StatusUpdate(LINE, "o1", "delivered", NOW + timedelta(minutes=12), ALICE),
    ]
    warm = Ingestor(ThreadCache())
    _ingest(engine, b"a", facts[0], ingestor=warm)
    _ingest(engine, b"b", facts[1], ingestor=warm)
    with engine.connect() as connection:
        first_ids = connection.execute(select(t.conversations.c.id)).scalars().all()
    _ingest(engine, b"c", facts[2], ingestor=Ingestor(ThreadCache(size=0)))
    _ingest(engine, b"d", facts[3], ingestor=Ingestor(ThreadCache(size=0)))
    with engine.connect() as connection:
        ids = connection.execute(select(t.conversations.c.id)).scalars().all()
        billing = connection.execute(
            select(t.messages.c.billing).where(t.messages.c.id == "o1")
        ).scalar_one()
    assert ids == first_ids
    assert billing["type"] == "free_customer_service"


def test_conversations_are_listed_newest_first_with_status_now(engine: Engine, tenant: str) -> None:
    bob = Identity.of(wa_id="27821234567")
    _ingest(engine, b"1", InboundMessage(LINE, "m1", NOW - timedelta(hours=30), ALICE, "text"))
    _ingest(engine, b"2", InboundMessage(LINE, "m2", NOW - timedelta(minutes=5), bob, "text"))
    with SqlQueryStore(engine) as store:
        listing = list_conversations(store, tenant, NOW, page=1, page_size=10)
        other = list_conversations(store, "tn_someone_else", NOW)
    assert listing.total == 2
    (newest, newest_view), (_oldest, oldest_view) = listing.items
    assert newest.contact_phone == "27821234567"
    assert newest_view.status.value == "active"
    assert oldest_view.status.value == "ended"
    assert other.total == 0


def test_the_status_filters_agree_with_the_status_shown_at_every_boundary(
    engine: Engine, tenant: str
) -> None:
    # Last messages on each side of the 30-minute and 24-hour marks, and a close.
    ages = [timedelta(minutes=30), timedelta(minutes=30) - timedelta(seconds=1), timedelta(0)]
    ages += [timedelta(hours=24), timedelta(hours=24) - timedelta(seconds=1)]
    for n, age in enumerate(ages):
        user = Identity.of(wa_id=f"2782123450{n}")
        _ingest(engine, f"b{n}".encode(), InboundMessage(LINE, f"m{n}", NOW - age, user, "text"))
    closing = Identity.of(wa_id="27821234599")
    _ingest(engine, b"c1", InboundMessage(LINE, "m99", NOW - timedelta(minutes=2), closing, "text"))
    _ingest(engine, b"c2", ManualClose(LINE, "close-1", NOW - timedelta(minutes=1), closing))
    with SqlQueryStore(engine) as store:
        shown = {
            row.conversation.id: view.status
            for row, view in list_conversations(store, tenant, NOW, page_size=50).items
        }
        for status in ConversationStatus:
            where = ConversationFilter(status=status_window(status, NOW, DEFAULT_POLICY))
            listed = list_conversations(store, tenant, NOW, where, page_size=50)
            expected = {cid for cid, view_status in shown.items() if view_status is status}
            assert {row.conversation.id for row, _ in listed.items} == expected, status
            assert listed.total == len(expected)
    assert sorted(shown.values()) == sorted(
        ["inactive", "active", "active", "ended", "inactive", "ended"]
    )


def test_identifiers_are_unique_per_tenant(engine: Engine, tenant: str) -> None:
    with SqlTenantStore(engine) as store:
        other = create_tenant(store, "globex", NOW).tenant_id
    with SqlTenantStore(engine) as store:
        add_line(store, LineSpec(other, "222", "s", "v"), NOW)
    _ingest(engine, b"1", InboundMessage(LINE, "m1", NOW, ALICE, "text"))
    _ingest(engine, b"2", InboundMessage("222", "m9", NOW, ALICE, "text"))
    with SqlIngestStore(engine) as store:
        mine = store.contacts_of(tenant, [Identifier.wa_id("16505551234")])
        theirs = store.contacts_of(other, [Identifier.wa_id("16505551234")])
    assert mine
    assert theirs
    assert set(mine.values()) != set(theirs.values())


def test_ranking_no_contacts_sends_no_statement(engine: Engine, tenant: str) -> None:
    # An empty IN list makes SQLite walk every contact of the tenant: a user writing
    # for the first time (nobody to rank) would cost time linear in the contacts.
    sent: list[str] = []

    def keep(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        sent.append(statement)

    with SqlIngestStore(engine) as store:
        event.listen(engine, "before_cursor_execute", keep)
        try:
            assert store.contact_ages(tenant, []) == {}
        finally:
            event.remove(engine, "before_cursor_execute", keep)
    assert sent == []
