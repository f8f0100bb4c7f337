"""``wawindow templates import``: WhatsApp's template listing into a line's registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from wawindow.adapters.db.engine import make_engine
from wawindow.adapters.db.template_store import SqlTemplateStore
from wawindow.entrypoints.cli import app
from wawindow.service.templates_registry import StoredTemplate, TemplateFilter

LINE = "106540352242922"

LISTING: dict[str, Any] = {
    "data": [
        {
            "name": "order_confirmation",
            "parameter_format": "POSITIONAL",
            "components": [
                {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}"},
                {"type": "BODY", "text": "Thanks {{1}}! Your order {{2}} is confirmed."},
                {"type": "FOOTER", "text": "Lucky Shrub"},
            ],
            "language": "en_US",
            "status": "APPROVED",
            "category": "UTILITY",
            "id": "1689556908129832",
            "quality_score": {"score": "GREEN", "date": 1751247548},
        },
        {
            "name": "abandoned_cart",
            "parameter_format": "NAMED",
            "components": [{"type": "BODY", "text": "Hi {{first_name}}, still want it?"}],
            "language": "en",
            "status": "REJECTED",
            "rejected_reason": "INVALID_FORMAT",
            "category": "MARKETING",
            "id": "1689556908129835",
        },
    ],
    "paging": {"cursors": {"before": "MAZDZD", "after": "MjQZD"}},
}


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'ww.db'}"
    monkeypatch.setenv("WAWINDOW_DATABASE_URL", url)
    runner = CliRunner()
    created = runner.invoke(app, ["tenant", "create", "acme", "--json"])
    assert created.exit_code == 0, created.output
    tenant = json.loads(created.stdout)["tenant_id"]
    args = ["line", "add", "--tenant", tenant, "--phone-number-id", LINE]
    added = runner.invoke(app, [*args, "--app-secret", "s", "--verify-token", "v"])
    assert added.exit_code == 0, added.output
    return url


def run(tmp_path: Path, document: Any, line: str = LINE) -> Result:
    path = tmp_path / "templates.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return CliRunner().invoke(app, ["templates", "import", str(path), "--phone-number-id", line])


def rows(url: str) -> dict[tuple[str, str], StoredTemplate]:
    engine = make_engine(url)
    with SqlTemplateStore(engine) as store:
        owner = store.line_owner(LINE)
        assert owner is not None
        found = store.templates(owner, TemplateFilter(line=LINE))
    engine.dispose()
    return {(row.template.name, row.template.language): row for row in found}


def test_import_adds_every_template_of_the_listing(tmp_path: Path, database: str) -> None:
    result = run(tmp_path, LISTING)
    assert result.exit_code == 0, result.output
    assert "2 added, 0 updated, 0 unchanged" in result.stdout

    found = rows(database)
    confirmation = found["order_confirmation", "en_US"].template
    assert confirmation.body == "Thanks {{1}}! Your order {{2}} is confirmed."
    assert (confirmation.param_count, confirmation.status) == (2, "APPROVED")
    assert (confirmation.category, confirmation.quality) == ("utility", "GREEN")
    assert confirmation.template_id == "1689556908129832"
    cart = found["abandoned_cart", "en"].template
    assert (cart.param_count, cart.param_names) == (1, ("first_name",))
    assert (cart.status, cart.status_reason) == ("REJECTED", "INVALID_FORMAT")


def test_importing_again_updates_what_changed(tmp_path: Path, database: str) -> None:
    assert run(tmp_path, LISTING).exit_code == 0
    changed = json.loads(json.dumps(LISTING["data"]))
    changed[0]["status"] = "PAUSED"
    changed.append({"name": "welcome", "language": "es", "status": "APPROVED"})
    result = run(tmp_path, changed)  # a bare list is read too
    assert result.exit_code == 0, result.output
    assert "1 added, 1 updated, 1 unchanged" in result.stdout
    found = rows(database)
    assert found["order_confirmation", "en_US"].template.status == "PAUSED"
    assert found["welcome", "es"].template.body is None


def test_malformed_entries_are_reported_and_skipped(tmp_path: Path, database: str) -> None:
    entries = [
        LISTING["data"][0],
        "not an object",
        {"language": "en_US", "status": "APPROVED"},
        {"name": "x", "language": "en_US", "components": "BODY"},
        {"name": "y", "language": 7},
        LISTING["data"][1],
    ]
    result = run(tmp_path, {"data": entries})
    assert result.exit_code == 1
    assert "2 added" in result.stdout
    assert "4 skipped" in result.stdout
    for index in (1, 2, 3, 4):
        assert f"entry {index}: skipped" in result.stderr
    assert "entry 0" not in result.stderr
    assert "name is missing" in result.stderr
    assert set(rows(database)) == {("order_confirmation", "en_US"), ("abandoned_cart", "en")}


def test_an_unknown_line_is_refused(tmp_path: Path, database: str) -> None:
    result = run(tmp_path, LISTING, line="123")
    assert result.exit_code == 1
    assert "no line '123'" in result.stderr
    assert rows(database) == {}


@pytest.mark.parametrize("document", ["{not json", '{"paging": {}}', "42"])
def test_a_file_that_is_no_listing_is_refused(tmp_path: Path, database: str, document: str) -> None:
    result = run(tmp_path, document)
    assert result.exit_code == 1
    assert "not a template listing" in result.stderr
    assert rows(database) == {}
