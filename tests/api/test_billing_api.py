"""``/v1/billing/summary`` and ``/v1/drift``: counts, costs, the free tier, drift, isolation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.api.client import LINE, ApiWorld
from wawindow.adapters.db.message_store import SqlMessageStore
from wawindow.adapters.db.rate_store import SqlRateStore
from wawindow.adapters.db.tenant_store import SqlTenantStore
from wawindow.domain.facts import (
    Fact,
    InboundMessage,
    OutboundMessage,
    ProviderError,
    ProviderPricing,
    StatusUpdate,
    TemplateRef,
)
from wawindow.domain.identity import Identity
from wawindow.domain.rate_card import parse_rate_card_csv
from wawindow.service.billing import replace_rate_card
from wawindow.service.tenants import LineSpec, add_line

NOW = datetime(2026, 3, 12, 12, 0, tzinfo=UTC)
DAY = datetime(2026, 3, 10, tzinfo=UTC)  # PMP-1
ALICE = Identity.of(wa_id="5511998765432", name="Alice")  # BR
BOB = Identity.of(wa_id="16505551234", name="Bob")  # US
SUMMARY, DRIFT = "/v1/billing/summary", "/v1/drift"
MARCH = {"since": "2026-03-01T00:00:00Z", "until": "2026-04-01T00:00:00Z"}
SAO_PAULO_LINE = "555000333"

CARD = """\
market,category,currency,price,effective_from,countries
BR,marketing,USD,0.0625,2024-11-01,
BR,utility,USD,0.0080,2024-11-01,
BR,utility,USD,0.0068,2025-07-01,
BR,service,USD,0.0040,2026-10-01,
North America,marketing,USD,0.0250,2024-11-01,US CA
DE,marketing,EUR,0.1300,2024-11-01,
"""


@pytest.fixture
def world(tmp_path: Path) -> Iterator[ApiWorld]:
    with ApiWorld.open(f"sqlite:///{tmp_path / 'ww.db'}", now=NOW) as opened:
        yield opened


def load_card(world: ApiWorld) -> None:
    with SqlRateStore(world.services.engine) as store:
        replace_rate_card(store, world.mine.id, parse_rate_card_csv(CARD))


def ok(world: ApiWorld, path: str, **params: Any) -> dict[str, Any]:
    response = world.get(path, **params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def problem_fields(response: Any, status: int = 422) -> list[str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return [error["field"] for error in response.json().get("errors", [])]


def at(hour: int, minute: int = 0, day: datetime = DAY) -> datetime:
    return day.replace(hour=hour, minute=minute)


def sent(
    message_id: str,
    when: datetime,
    category: str | None,
    user: Identity = ALICE,
    line: str = LINE,
    pricing: ProviderPricing | None = None,
) -> list[Fact]:
    """A template (or, without a category, a free-form message) delivered 5 s later."""
    if category is None:
        message = OutboundMessage(line, message_id, when, user, "text")
    else:
        ref = TemplateRef(f"{category}_tpl", "en")
        message = OutboundMessage(line, message_id, when, user, "template", ref, category)
    status = StatusUpdate(
        line, message_id, "delivered", when + timedelta(seconds=5), user, pricing=pricing
    )
    return [message, status]


def regular(category: str) -> ProviderPricing:
    return ProviderPricing(billable=True, model="PMP", category=category, type="regular")


def totals(summary: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = summary["totals"]
    return found


# --------------------------------------------------------------------------- the free tier


def add_sao_paulo_line(world: ApiWorld) -> None:
    spec = LineSpec(world.mine.id, SAO_PAULO_LINE, "s", "v", timezone="America/Sao_Paulo")
    with SqlTenantStore(world.services.engine) as store:
        add_line(store, spec, NOW)


def service_month(line: str) -> list[Fact]:
    """1,000 free-form replies delivered in November 2026 (São Paulo time) to 10 users,
    the 1,000th billed by the provider; one more on 30 November at 22:00 local
    (1 December in UTC); and one on 31 October at 23:00 local (1 November in UTC)."""
    users = [Identity.of(wa_id=f"55119987600{n:02d}") for n in range(10)]
    start = datetime(2026, 11, 2, 12, tzinfo=UTC)
    facts: list[Fact] = [
        InboundMessage(line, f"wamid.in{n}", start - timedelta(hours=1), user, "text")
        for n, user in enumerate(users)
    ]
    for n in range(1000):
        when = start + timedelta(minutes=n)
        pricing = regular("service") if n == 999 else None
        facts += sent(f"wamid.s{n:04d}", when, None, users[n % 10], line, pricing)
    late = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    facts += sent("wamid.late", late, None, users[0], line, pricing=regular("service"))
    early = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
    facts += sent("wamid.october", early, None, users[1], line)
    return facts


def test_the_1001st_service_message_of_the_month_is_billable(world: ApiWorld) -> None:
    add_sao_paulo_line(world)
    load_card(world)
    world.ingest(*service_month(SAO_PAULO_LINE))
    november = {"since": "2026-11-01T03:00:00Z", "until": "2026-12-01T03:00:00Z"}
    summary = ok(world, SUMMARY, **november, group_by="line")
    assert totals(summary)["messages_count"] == 1001
    assert totals(summary)["billable_count"] == 2  # the 1,001st, and the one the provider billed
    assert totals(summary)["free_count"] == 999
    assert totals(summary)["estimated_cost"] == {"USD": "0.008"}  # 2 x 0.0040
    assert [group["key"] for group in summary["groups"]] == [SAO_PAULO_LINE]
    late = ok(world, "/v1/messages/wamid.late")["billing"]
    assert (late["type"], late["billable"], late["source"]) == ("regular", True, "provider")
    assert late["drift"] == []  # the provider agrees with the estimate past the allowance
    assert (late["price"], late["currency"]) == ("0.004", "USD")
    last_free = ok(world, "/v1/messages/wamid.s0998")["billing"]
    assert (last_free["type"], last_free["billable"]) == ("free_customer_service", False)
    assert last_free["price"] == "0"
    october = ok(world, "/v1/messages/wamid.october")["billing"]
    assert october["billable"] is False  # October's allowance covers it
    drift = ok(world, DRIFT)["items"]
    assert [(d["message_id"], d["kind"]) for d in drift] == [("wamid.s0999", "billing")]
    assert drift[0]["computed"] == "PMP service free_customer_service free"
    assert drift[0]["provider"] == "PMP service regular billable"
    assert drift[0]["phone_number_id"] == SAO_PAULO_LINE
    assert summary["drift"] == {"billing": 1, "window": 0, "total": 1}
    assert totals(summary)["drift_count"] == 1


# --------------------------------------------------------------------------- counts and costs


def provider_and_estimates(world: ApiWorld) -> None:
    """PMP-1: the provider bills the utility template inside the window (we said free),
    agrees on one marketing template, and has not reported the other yet."""
    world.ingest(
        InboundMessage(LINE, "wamid.in", at(9), ALICE, "text"),
        *sent("wamid.utility", at(9, 30), "utility", pricing=regular("utility")),
        *sent("wamid.marketing", at(9, 40), "marketing", pricing=regular("marketing")),
        *sent("wamid.marketing2", at(9, 50), "marketing"),
        *sent("wamid.reply", at(9, 55), None),
    )


def test_provider_reported_and_estimated_counts_and_a_billing_drift(world: ApiWorld) -> None:
    load_card(world)
    provider_and_estimates(world)
    summary = ok(world, SUMMARY, **MARCH)
    assert summary["since"] == "2026-03-01T00:00:00Z"
    assert summary["until"] == "2026-04-01T00:00:00Z"
    assert summary["rate_card_loaded"] is True
    assert summary["groups"] == []
    assert totals(summary) == {
        "key": None,
        "messages_count": 4,
        "billable_count": 3,
        "free_count": 1,
        "provider_reported_count": 2,
        "estimated_count": 2,
        "unpriced_count": 0,
        "drift_count": 1,
        "estimated_cost": {"USD": "0.1318"},  # 0.0068 + 2 x 0.0625
    }
    drift = ok(world, DRIFT)
    assert drift["total"] == 1
    item = drift["items"][0]
    assert item["message_id"] == "wamid.utility"
    assert item["kind"] == "billing"
    assert item["at"] == "2026-03-10T09:30:05Z"
    assert item["computed"] == "PMP utility free_customer_service free"
    assert item["provider"] == "PMP utility regular billable"
    assert item["contact_id"] == ok(world, "/v1/messages/wamid.in")["contact_id"]
    assert ok(world, DRIFT, kind="window")["items"] == []
    assert ok(world, DRIFT, kind="billing", since="2026-03-10T09:31:00Z")["items"] == []
    billing = ok(world, "/v1/messages/wamid.utility")["billing"]
    assert billing["source"] == "provider"
    assert [d["provider"] for d in billing["drift"]] == ["PMP utility regular billable"]


def test_window_drift_is_listed_and_counted(world: ApiWorld) -> None:
    error = ProviderError(131047, "Re-engagement message")
    world.ingest(
        InboundMessage(LINE, "wamid.in", at(9), ALICE, "text"),
        OutboundMessage(LINE, "wamid.late", at(10), ALICE, "text"),
        StatusUpdate(LINE, "wamid.late", "failed", at(10, 1), ALICE, errors=(error,)),
    )
    drift = ok(world, DRIFT, kind="window")["items"]
    assert [(d["message_id"], d["computed"], d["provider"]) for d in drift] == [
        ("wamid.late", "open", "closed")
    ]
    assert drift[0]["at"] == "2026-03-10T10:00:00Z"
    summary = ok(world, SUMMARY, **MARCH)
    assert summary["drift"] == {"billing": 0, "window": 1, "total": 1}
    assert totals(summary)["messages_count"] == 0  # never delivered


def test_groups_by_line_market_category_and_day(world: ApiWorld) -> None:
    load_card(world)
    world.ingest(
        *sent("wamid.a", at(9), "marketing"),
        *sent("wamid.b", at(10), "utility"),
        *sent("wamid.c", at(11), "marketing", BOB),
        *sent("wamid.d", at(9, day=DAY + timedelta(days=1)), "marketing", BOB),
        *sent("wamid.unknown", at(12), "marketing", Identity.of(wa_id="80012345678")),
    )

    def groups(group_by: str) -> dict[str | None, tuple[int, dict[str, str]]]:
        found = ok(world, SUMMARY, **MARCH, group_by=group_by)
        assert found["group_by"] == group_by
        return {g["key"]: (g["billable_count"], g["estimated_cost"]) for g in found["groups"]}

    assert groups("market") == {
        "BR": (2, {"USD": "0.0693"}),
        "US": (2, {"USD": "0.05"}),
        None: (1, {}),  # no country: priced by no rate (the card has no '*')
    }
    assert groups("category") == {
        "marketing": (4, {"USD": "0.1125"}),
        "utility": (1, {"USD": "0.0068"}),
    }
    assert groups("day") == {
        "2026-03-10": (4, {"USD": "0.0943"}),
        "2026-03-11": (1, {"USD": "0.025"}),
    }
    assert groups("line") == {LINE: (5, {"USD": "0.1193"})}
    assert totals(ok(world, SUMMARY, **MARCH))["unpriced_count"] == 1


def test_cbp_counts_each_paid_conversation_once(world: ApiWorld) -> None:
    """Worked example 9 (2025-03-05): a free service conversation, then one utility
    conversation billed once though two utility templates went out in it."""
    load_card(world)
    day = datetime(2025, 3, 5, tzinfo=UTC)
    world.ingest(
        InboundMessage(LINE, "wamid.in", at(10, day=day), ALICE, "text"),
        *sent("wamid.reply", at(10, 5, day=day), None),
        *sent("wamid.u1", at(11, day=day), "utility"),
        *sent("wamid.u2", at(15, day=day), "utility"),
    )
    summary = ok(world, SUMMARY, since="2025-03-01T00:00:00Z", until="2025-04-01T00:00:00Z")
    assert totals(summary)["billable_count"] == 1
    assert totals(summary)["free_count"] == 2
    assert totals(summary)["estimated_cost"] == {"USD": "0.008"}
    first = ok(world, "/v1/messages/wamid.u1")["billing"]
    assert (first["model"], first["billable"], first["price"]) == ("CBP", True, "0.008")
    second = ok(world, "/v1/messages/wamid.u2")["billing"]
    assert (second["billable"], second["price"]) == (False, "0")


def test_the_default_period_is_the_current_month(world: ApiWorld) -> None:
    provider_and_estimates(world)
    summary = ok(world, SUMMARY)
    assert (summary["since"], summary["until"]) == ("2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z")
    assert totals(summary)["messages_count"] == 4
    assert summary["rate_card_loaded"] is False
    assert totals(summary)["unpriced_count"] == 3
    assert totals(summary)["estimated_cost"] == {}
    later = ok(world, SUMMARY, since="2026-03-10T09:45:00Z")  # one bound: open on the other
    assert later["until"] == "9999-12-31T23:59:59Z"
    assert totals(later)["messages_count"] == 2
    earlier = ok(world, SUMMARY, until="2026-03-10T09:45:00Z")
    assert earlier["since"] == "1970-01-01T00:00:00Z"
    assert totals(earlier)["messages_count"] == 2


# --------------------------------------------------------------------------- errors, isolation


def test_bad_parameters_are_problems_naming_the_field(world: ApiWorld) -> None:
    assert problem_fields(world.get(SUMMARY, since="last week")) == ["query.since"]
    assert problem_fields(world.get(SUMMARY, until="2026-02-30T00:00:00Z")) == ["query.until"]
    assert problem_fields(world.get(SUMMARY, group_by="week")) == ["query.group_by"]
    backwards = world.get(SUMMARY, since="2026-03-02T00:00:00Z", until="2026-03-01T00:00:00Z")
    assert problem_fields(backwards) == ["query.until"]
    assert problem_fields(world.get(DRIFT, kind="price")) == ["query.kind"]
    assert problem_fields(world.get(DRIFT, since="soon")) == ["query.since"]
    assert problem_fields(world.get(DRIFT, page_size=0)) == ["query.page_size"]
    assert world.get(SUMMARY, key="").status_code == 401
    assert world.get(DRIFT, key="ww_wrong").status_code == 401


def test_another_tenant_sees_none_of_it(world: ApiWorld) -> None:
    load_card(world)
    provider_and_estimates(world)
    theirs = world.theirs.key
    summary = ok(world, SUMMARY, **MARCH, key=theirs, group_by="market")
    assert totals(summary)["messages_count"] == 0
    assert summary["groups"] == []
    assert summary["rate_card_loaded"] is False
    assert ok(world, DRIFT, key=theirs) == {"items": [], "total": 0, "page": 1, "page_size": 100}


def test_billing_on_every_database(db_url: str) -> None:
    with ApiWorld.open(db_url, now=NOW) as world:
        load_card(world)
        provider_and_estimates(world)
        summary = ok(world, SUMMARY, **MARCH, group_by="category")
        assert totals(summary)["estimated_cost"] == {"USD": "0.1318"}
        assert totals(summary)["provider_reported_count"] == 2
        assert {g["key"]: g["billable_count"] for g in summary["groups"]} == {
            "marketing": 2,
            "service": 0,
            "utility": 1,
        }
        assert [d["message_id"] for d in ok(world, DRIFT)["items"]] == ["wamid.utility"]
        assert ok(world, DRIFT, key=world.theirs.key)["total"] == 0


def test_delivered_messages_are_read_in_batches_that_split_no_tie(db_url: str) -> None:
    # Messages delivered at the same second are ordered by id; a batch may end inside
    # such a tie, and the next must start right after its last message, on every database.
    with ApiWorld.open(db_url, now=NOW) as world:
        facts: list[Fact] = [InboundMessage(LINE, "wamid.in", at(8), ALICE, "text")]
        for n in range(7):
            facts += sent(f"wamid.t{n}", at(9, n // 3), "utility")  # ties of 3, 3 and 1
        world.ingest(*facts)
        engine, since, until = world.services.engine, DAY, DAY + timedelta(days=1)

        def read(batch: int) -> list[tuple[datetime, str]]:
            with SqlMessageStore(engine, delivered_batch=batch) as store:
                found = store.delivered(world.mine.id, since, until)
                return [(m.delivered_at, m.id) for m in found if m.delivered_at]

        everything = read(1000)
        assert everything == sorted(everything)
        assert [message_id for _, message_id in everything] == [f"wamid.t{n}" for n in range(7)]
        for batch in (1, 2, 3, 4):
            assert read(batch) == everything, batch
