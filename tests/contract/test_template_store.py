"""The template registry on SQLite and PostgreSQL: the store, the use cases, and
template webhooks folded into it by ingestion (any order, every line of the account)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from wawindow.adapters.db.engine import make_engine
from wawindow.adapters.db.ingest_store import SqlIngestStore
from wawindow.adapters.db.migrate import upgrade
from wawindow.adapters.db.template_store import SqlTemplateStore
from wawindow.adapters.db.tenant_store import SqlTenantStore
from wawindow.adapters.meta.payload import parse_webhook
from wawindow.domain.templates import Template
from wawindow.service.ingest import Ingestor
from wawindow.service.templates_registry import (
    LineNotFound,
    StoredTemplate,
    TemplateEdit,
    TemplateExists,
    TemplateFilter,
    TemplateNotFound,
    create_template,
    import_templates,
    list_templates,
    update_template,
)
from wawindow.service.tenants import LineSpec, add_line, create_tenant

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
WABA = "102290129340398"
LINE, SECOND_LINE, OTHER_LINE = "106540352242922", "106540352242923", "999000111"
TEMPLATE_ID = "1689556908129832"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def _tenant(engine: Engine, name: str, *lines: str) -> str:
    with SqlTenantStore(engine) as store:
        key = create_tenant(store, name, NOW)
    for line in lines:
        with SqlTenantStore(engine) as store:
            add_line(store, LineSpec(key.tenant_id, line, "secret", "token"), NOW)
    return key.tenant_id


@pytest.fixture
def mine(engine: Engine) -> str:
    return _tenant(engine, "acme", LINE, SECOND_LINE)


@pytest.fixture
def theirs(engine: Engine) -> str:
    return _tenant(engine, "globex", OTHER_LINE)


def _rows(engine: Engine, tenant_id: str, **where: Any) -> list[StoredTemplate]:
    with SqlTemplateStore(engine) as store:
        return list_templates(store, tenant_id, TemplateFilter(**where))


def _only(engine: Engine, tenant_id: str, line: str = LINE) -> StoredTemplate:
    rows = _rows(engine, tenant_id, line=line)
    assert len(rows) == 1, rows
    return rows[0]


# --------------------------------------------------------------------------- webhooks

_bodies = itertools.count(1)


def _envelope(field: str, value: dict[str, Any], at: datetime | None) -> bytes:
    entry: dict[str, Any] = {"id": WABA, "changes": [{"field": field, "value": value}]}
    if at is not None:
        entry["time"] = int(at.timestamp())
    return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()


def message_webhook(line: str, at: datetime) -> bytes:
    """An inbound message for ``line`` under the WABA: ingesting it teaches the line's account."""
    n = next(_bodies)
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": line},
        "contacts": [{"profile": {"name": "Sheena"}, "wa_id": "16505551234"}],
        "messages": [
            {
                "from": "16505551234",
                "id": f"wamid.in{n}",
                "timestamp": str(int(at.timestamp())),
                "type": "text",
                "text": {"body": "hello"},
            }
        ],
    }
    return _envelope("messages", value, None)


def _template_value(**extra: Any) -> dict[str, Any]:
    return {
        "message_template_id": int(TEMPLATE_ID),
        "message_template_name": "order_confirmation",
        "message_template_language": "en_US",
        **extra,
    }


def status_webhook(event: str, at: datetime | None, reason: str = "NONE") -> bytes:
    value = _template_value(event=event, reason=reason, message_template_category="UTILITY")
    return _envelope("message_template_status_update", value, at)


def category_webhook(category: str, at: datetime) -> bytes:
    value = _template_value(previous_category="UTILITY", new_category=category)
    return _envelope("template_category_update", value, at)


def quality_webhook(score: str, at: datetime) -> bytes:
    value = _template_value(previous_quality_score="GREEN", new_quality_score=score)
    return _envelope("message_template_quality_update", value, at)


def components_webhook(body: str, at: datetime) -> bytes:
    return _envelope(
        "message_template_components_update",
        _template_value(message_template_element=body),
        at,
    )


def ingest(
    engine: Engine, body: bytes, now: datetime = NOW, trusted: frozenset[str] | None = None
) -> None:
    parsed = parse_webhook(body)
    with SqlIngestStore(engine) as store:
        Ingestor().ingest(store, "meta", body, parsed.facts, parsed.accounts, now, trusted)


def _at(minutes: int) -> datetime:
    return NOW + timedelta(minutes=minutes)


def test_a_status_webhook_creates_the_row_on_every_line_of_the_account(
    engine: Engine, mine: str, theirs: str
) -> None:
    ingest(engine, message_webhook(LINE, _at(-60)))
    ingest(engine, message_webhook(SECOND_LINE, _at(-60)))
    ingest(engine, status_webhook("APPROVED", _at(0)))

    for line in (LINE, SECOND_LINE):
        row = _only(engine, mine, line)
        assert row.template == Template(
            template_id=TEMPLATE_ID,
            name="order_confirmation",
            language="en_US",
            category="utility",
            status="APPROVED",
            body=None,
            param_count=0,
            param_names=(),
            quality=None,
        )
        assert row.updated_at == _at(0)
    assert _rows(engine, theirs) == []  # another tenant's line is not of that account


def test_a_template_webhook_before_the_account_is_known_changes_nothing(
    engine: Engine, mine: str
) -> None:
    ingest(engine, status_webhook("APPROVED", _at(0)))
    assert _rows(engine, mine) == []


def test_status_category_quality_and_body_follow_the_webhooks(engine: Engine, mine: str) -> None:
    ingest(engine, message_webhook(LINE, _at(-60)))
    ingest(engine, status_webhook("APPROVED", _at(0)))
    ingest(engine, category_webhook("MARKETING", _at(1)))
    ingest(engine, quality_webhook("YELLOW", _at(2)))
    ingest(engine, components_webhook("Thanks {{1}}! Order {{2}}.", _at(3)))
    ingest(engine, status_webhook("PAUSED", _at(4), reason="LOW_QUALITY"))

    row = _only(engine, mine)
    assert row.template.category == "utility"  # the status update of 00:04 said UTILITY
    assert row.template.quality == "YELLOW"
    assert (row.template.body, row.template.param_count) == ("Thanks {{1}}! Order {{2}}.", 2)
    assert (row.template.status, row.template.status_reason) == ("PAUSED", "LOW_QUALITY")
    assert row.updated_at == _at(4)


def test_a_quality_webhook_for_an_unknown_template_creates_it_with_status_unknown(
    engine: Engine, mine: str
) -> None:
    ingest(engine, message_webhook(LINE, _at(-60)))
    ingest(engine, quality_webhook("RED", _at(0)))
    row = _only(engine, mine)
    assert (row.template.status, row.template.quality) == ("UNKNOWN", "RED")


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_status_webhooks_in_any_order_give_the_latest_status(
    engine: Engine, mine: str, order: tuple[int, ...]
) -> None:
    bodies = [
        status_webhook("APPROVED", _at(0)),
        status_webhook("FLAGGED", _at(5)),
        status_webhook("PAUSED", _at(10), reason="LOW_QUALITY"),
    ]
    ingest(engine, message_webhook(LINE, _at(-60)))
    for index in order:
        ingest(engine, bodies[index])
    row = _only(engine, mine)
    assert (row.template.status, row.template.status_reason) == ("PAUSED", "LOW_QUALITY")
    assert row.updated_at == _at(10)


@pytest.mark.parametrize("order", list(itertools.permutations(range(2))))
def test_category_webhooks_in_any_order_give_the_latest_category(
    engine: Engine, mine: str, order: tuple[int, ...]
) -> None:
    bodies = [category_webhook("MARKETING", _at(0)), category_webhook("UTILITY", _at(5))]
    ingest(engine, message_webhook(LINE, _at(-60)))
    for index in order:
        ingest(engine, bodies[index])
    assert _only(engine, mine).template.category == "utility"


def test_the_order_guard_is_per_row_an_older_change_of_another_aspect_is_ignored(
    engine: Engine, mine: str
) -> None:
    """Documented limitation: rows keep one updated_at, not one per aspect."""
    ingest(engine, message_webhook(LINE, _at(-60)))
    ingest(engine, status_webhook("APPROVED", _at(5)))
    ingest(engine, quality_webhook("YELLOW", _at(1)))  # older than the row: ignored
    assert _only(engine, mine).template.quality is None
    ingest(engine, quality_webhook("RED", _at(5)))  # as old as the row: applied
    assert _only(engine, mine).template.quality == "RED"


def test_a_webhook_without_time_counts_at_its_reception(engine: Engine, mine: str) -> None:
    ingest(engine, message_webhook(LINE, _at(-60)))
    ingest(engine, status_webhook("PAUSED", None), now=_at(7))
    row = _only(engine, mine)
    assert (row.template.status, row.updated_at) == ("PAUSED", _at(7))


def test_a_webhook_finds_a_template_added_through_the_api_by_name_and_language(
    engine: Engine, mine: str
) -> None:
    ingest(engine, message_webhook(LINE, _at(-60)))
    added = Template.of("order_confirmation", "en_US", "Hi {{1}}", category="utility")
    with SqlTemplateStore(engine) as store:
        create_template(store, mine, LINE, added, _at(0))
    ingest(engine, status_webhook("REJECTED", _at(1), reason="INVALID_FORMAT"))

    row = _only(engine, mine)
    assert row.template.template_id == TEMPLATE_ID
    assert (row.template.status, row.template.status_reason) == ("REJECTED", "INVALID_FORMAT")
    assert (row.template.body, row.template.param_count) == ("Hi {{1}}", 1)


def test_webhooks_are_applied_only_to_lines_whose_secret_signed_them(
    engine: Engine, mine: str
) -> None:
    ingest(engine, message_webhook(LINE, _at(-60)))
    ingest(engine, message_webhook(SECOND_LINE, _at(-60)))
    ingest(engine, status_webhook("APPROVED", _at(0)), trusted=frozenset({SECOND_LINE}))
    assert _rows(engine, mine, line=LINE) == []
    assert _only(engine, mine, SECOND_LINE).template.status == "APPROVED"


def test_a_redelivered_webhook_changes_nothing(engine: Engine, mine: str) -> None:
    ingest(engine, message_webhook(LINE, _at(-60)))
    body = status_webhook("APPROVED", _at(0))
    ingest(engine, body)
    ingest(engine, status_webhook("PAUSED", _at(3)))
    ingest(engine, body)  # the same body again
    ingest(engine, body.replace(b'"entry"', b'"entry" ', 1))  # same fact, another body
    assert _only(engine, mine).template.status == "PAUSED"


def test_a_long_reason_from_a_webhook_is_cut_to_fit_not_refused(engine: Engine, mine: str) -> None:
    ingest(engine, message_webhook(LINE, _at(-60)))
    ingest(engine, status_webhook("REJECTED", _at(0), reason="X" * 500))
    assert _only(engine, mine).template.status_reason == "X" * 200


# --------------------------------------------------------------------------- use cases


def test_create_list_and_update(engine: Engine, mine: str, theirs: str) -> None:
    first = Template.of("order_update", "en_US", "Hi {{1}}, order {{2}}", category="utility")
    second = Template.of("welcome", "pt_BR", "Olá {{name}}", category="marketing", status="PAUSED")
    with SqlTemplateStore(engine) as store:
        created = create_template(store, mine, LINE, first, _at(0))
    assert created == StoredTemplate(LINE, first, _at(0))
    with SqlTemplateStore(engine) as store:
        create_template(store, mine, SECOND_LINE, second, _at(1))

    assert [r.template.name for r in _rows(engine, mine)] == ["order_update", "welcome"]
    assert [r.line for r in _rows(engine, mine, status="PAUSED")] == [SECOND_LINE]
    assert [r.line for r in _rows(engine, mine, name="order_update")] == [LINE]
    assert [r.line for r in _rows(engine, mine, language="pt_BR")] == [SECOND_LINE]
    assert [r.line for r in _rows(engine, mine, category="utility")] == [LINE]
    assert _rows(engine, mine, line=SECOND_LINE)[0].template.param_names == ("name",)
    assert _rows(engine, theirs) == []

    edit = TemplateEdit(category="marketing", body="Hello {{1}}", status="paused")
    with SqlTemplateStore(engine) as store:
        updated = update_template(store, mine, LINE, "order_update", "en-us", edit, _at(2))
    assert updated == _rows(engine, mine, line=LINE)[0]
    assert (updated.template.category, updated.template.status) == ("marketing", "PAUSED")
    assert (updated.template.body, updated.template.param_count) == ("Hello {{1}}", 1)
    assert updated.updated_at == _at(2)


def test_a_second_template_of_the_same_name_and_language_is_refused(
    engine: Engine, mine: str
) -> None:
    template = Template.of("order_update", "en_US", "Hi", category="utility")
    with SqlTemplateStore(engine) as store:
        create_template(store, mine, LINE, template, _at(0))
    with SqlTemplateStore(engine) as store, pytest.raises(TemplateExists) as refused:
        create_template(store, mine, LINE, template, _at(1))
    assert refused.value.field == "body.name"
    with SqlTemplateStore(engine) as store:  # another language, or another line: fine
        create_template(store, mine, LINE, Template.of("order_update", "fr", "Salut"), _at(1))
    with SqlTemplateStore(engine) as store:
        create_template(store, mine, SECOND_LINE, template, _at(1))
    assert len(_rows(engine, mine)) == 3


def test_another_tenants_line_and_template_are_not_found(
    engine: Engine, mine: str, theirs: str
) -> None:
    template = Template.of("order_update", "en_US", "Hi", category="utility")
    with SqlTemplateStore(engine) as store:
        create_template(store, theirs, OTHER_LINE, template, _at(0))
    with SqlTemplateStore(engine) as store, pytest.raises(LineNotFound):
        create_template(store, mine, OTHER_LINE, template, _at(1))
    with SqlTemplateStore(engine) as store, pytest.raises(LineNotFound):
        update_template(store, mine, OTHER_LINE, "order_update", "en_US", TemplateEdit(), NOW)
    with SqlTemplateStore(engine) as store, pytest.raises(LineNotFound):
        list_templates(store, mine, TemplateFilter(line=OTHER_LINE))
    with SqlTemplateStore(engine) as store, pytest.raises(TemplateNotFound):
        update_template(store, mine, LINE, "order_update", "en_US", TemplateEdit(), NOW)


def test_an_import_adds_updates_and_leaves_the_rest(engine: Engine, mine: str) -> None:
    first = Template.of("a", "en_US", "Hi {{1}}", category="utility", template_id="1")
    second = Template.of("b", "en_US", "Bye", category="marketing", template_id="2")
    with SqlTemplateStore(engine) as store:
        assert import_templates(store, LINE, [first, second], _at(0)).added == 2
    paused = Template.of("a", "en_US", "Hi {{1}} {{2}}", category="utility", status="PAUSED")
    third = Template.of("c", "es", "Hola")
    with SqlTemplateStore(engine) as store:
        result = import_templates(store, LINE, [paused, second, third], _at(1))
    assert (result.added, result.updated, result.unchanged) == (1, 1, 1)
    a = _rows(engine, mine, name="a")[0]
    assert (a.template.status, a.template.param_count, a.template.template_id) == (
        "PAUSED",
        2,
        "1",
    )
    assert a.updated_at == _at(1)
    with SqlTemplateStore(engine) as store, pytest.raises(LineNotFound):
        import_templates(store, "nope", [first], _at(2))
