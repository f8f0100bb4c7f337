"""The rate store (and the message store's free-tier cutoff) on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from wawindow.adapters.db.engine import make_engine
from wawindow.adapters.db.ingest_store import SqlIngestStore
from wawindow.adapters.db.message_store import SqlMessageStore
from wawindow.adapters.db.migrate import upgrade
from wawindow.adapters.db.rate_store import SqlRateStore
from wawindow.adapters.db.tenant_store import SqlTenantStore
from wawindow.adapters.rate_card_files import example_rate_card
from wawindow.domain.facts import Fact, OutboundMessage, StatusUpdate
from wawindow.domain.identity import Identity
from wawindow.domain.rate_card import RateCard, RateCardError, parse_rate_card_csv
from wawindow.service.billing import replace_rate_card
from wawindow.service.ingest import Ingestor
from wawindow.service.messages_query import MessageFilter
from wawindow.service.tenants import LineSpec, TenantError, add_line, create_tenant

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
LINE, OTHER_LINE = "106540352242922", "999000111"

CARD = """\
market,category,currency,price,effective_from,countries
North America,marketing,USD,0.025,2024-11-01,US CA
North America,marketing,USD,0.0250,2025-07-01,
BR,authentication_international,USD,0.000125,2024-11-01,
BR,service,USD,0,2024-11-01,
*,marketing,EUR,123456.5,2024-11-01,
"""


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def new_tenant(engine: Engine, name: str, line: str) -> str:
    with SqlTenantStore(engine) as store:
        tenant_id = create_tenant(store, name, NOW).tenant_id
    with SqlTenantStore(engine) as store:
        add_line(store, LineSpec(tenant_id, line, "s", "v"), NOW)
    return tenant_id


def card_of(engine: Engine, tenant_id: str) -> RateCard:
    with SqlRateStore(engine, read_only=True) as store:
        return store.rate_card(tenant_id)


def load(engine: Engine, tenant_id: str, card: RateCard) -> int:
    with SqlRateStore(engine) as store:
        return replace_rate_card(store, tenant_id, card)


def test_a_card_reads_back_as_it_was_loaded(engine: Engine) -> None:
    tenant = new_tenant(engine, "acme", LINE)
    assert card_of(engine, tenant) == RateCard()
    card = parse_rate_card_csv(CARD)
    assert load(engine, tenant, card) == 5
    stored = card_of(engine, tenant)
    assert stored == card
    assert stored.countries == (("CA", "North America"), ("US", "North America"))
    prices = {(r.market, r.category, r.effective_from): str(r.price) for r in stored.rates}
    assert prices == {  # as written, without the database's trailing zeros
        ("North America", "marketing", date(2024, 11, 1)): "0.025",
        ("North America", "marketing", date(2025, 7, 1)): "0.025",
        ("BR", "authentication_international", date(2024, 11, 1)): "0.000125",
        ("BR", "service", date(2024, 11, 1)): "0",
        ("*", "marketing", date(2024, 11, 1)): "123456.5",
    }
    rate = stored.price("BR", "authentication_international", date(2026, 1, 1), "USD")
    assert rate is not None
    assert rate.price == Decimal("0.000125")


def test_loading_replaces_the_whole_card_of_that_tenant_only(engine: Engine) -> None:
    acme, globex = new_tenant(engine, "acme", LINE), new_tenant(engine, "globex", OTHER_LINE)
    load(engine, acme, parse_rate_card_csv(CARD))
    load(engine, globex, example_rate_card())
    smaller = parse_rate_card_csv(
        "market,category,currency,price,effective_from\nDE,marketing,EUR,0.13,2024-11-01\n"
    )
    load(engine, acme, smaller)
    assert card_of(engine, acme) == smaller  # the North America countries are gone too
    assert card_of(engine, globex) == example_rate_card()
    load(engine, acme, RateCard())
    assert card_of(engine, acme) == RateCard()


def test_an_unknown_tenant_or_an_unstorable_price_changes_nothing(engine: Engine) -> None:
    tenant = new_tenant(engine, "acme", LINE)
    load(engine, tenant, parse_rate_card_csv(CARD))
    with pytest.raises(TenantError, match="no tenant"):
        load(engine, "tn_nobody", parse_rate_card_csv(CARD))
    header = "market,category,currency,price,effective_from\n"
    too_fine = parse_rate_card_csv(header + "BR,marketing,USD,0.0000001,2024-11-01\n")
    with pytest.raises(RateCardError, match="BR / marketing / USD from 2024-11-01"):
        load(engine, tenant, too_fine)
    too_large = parse_rate_card_csv(header + "BR,marketing,USD,1000000000,2024-11-01\n")
    with pytest.raises(RateCardError, match="too large"):
        load(engine, tenant, too_large)
    assert card_of(engine, tenant) == parse_rate_card_csv(CARD)


# --------------------------------------------------------------------------- message store


def service_replies(line: str, ids: list[str], at: datetime, user: Identity) -> list[Fact]:
    """Free-form replies (PMP-2: free-tier candidates), all delivered in the same second."""
    facts: list[Fact] = []
    for message_id in ids:
        facts.append(OutboundMessage(line, message_id, at - timedelta(seconds=5), user, "text"))
        facts.append(StatusUpdate(line, message_id, "delivered", at, user))
    return facts


def test_the_free_tier_cutoff_ranks_by_time_then_id_byte_by_byte(engine: Engine) -> None:
    acme, globex = new_tenant(engine, "acme", LINE), new_tenant(engine, "globex", OTHER_LINE)
    user = Identity.of(wa_id="16505551234")
    same_second = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
    ids = ["wamid.a", "wamid.B", "wamid.Z", "wamid.b"]  # bytes: B < Z < a < b
    facts = service_replies(LINE, ids, same_second, user)
    facts += service_replies(LINE, ["wamid.0"], same_second + timedelta(seconds=1), user)
    facts += service_replies(LINE, ["wamid.dec"], datetime(2026, 12, 1, 0, 0, tzinfo=UTC), user)
    facts += service_replies(OTHER_LINE, ["wamid.A"], same_second, user)
    with SqlIngestStore(engine) as store:
        Ingestor().ingest(store, "meta", b"body", facts, (), NOW)
    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    with SqlMessageStore(engine) as store:
        cutoffs = [store.free_tier_cutoff(acme, LINE, start, end, n) for n in range(1, 7)]
        assert store.free_tier_cutoff(globex, LINE, start, end, 1) is None
        assert store.free_tier_cutoff(globex, OTHER_LINE, start, end, 1) == (
            same_second,
            "wamid.A",
        )
        assert store.free_tier_cutoff(acme, LINE, start, end, 0) is None
        page, total = store.messages(acme, MessageFilter(), 0, 10)
    assert cutoffs == [
        (same_second, "wamid.B"),
        (same_second, "wamid.Z"),
        (same_second, "wamid.a"),
        (same_second, "wamid.b"),
        (same_second + timedelta(seconds=1), "wamid.0"),
        None,  # December's message is not November's
    ]
    assert total == 6
    assert all(message.free_tier_candidate for message in page)
    assert {message.market for message in page} == {"US"}
