"""``wawindow ratecard load|show``: a tenant's card from CSV, replaced whole, errors by row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wawindow.adapters.db.engine import make_engine
from wawindow.adapters.db.rate_store import SqlRateStore
from wawindow.adapters.rate_card_files import example_rate_card
from wawindow.domain.rate_card import RateCard, parse_rate_card_csv
from wawindow.entrypoints.cli import app

CARD = """\
market,category,currency,price,effective_from,countries
North America,marketing,USD,0.025,2024-11-01,US CA
BR,marketing,USD,0.0625,2024-11-01,
BR,utility,USD,0.0068,2025-07-01,
"""


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'ww.db'}"
    monkeypatch.setenv("WAWINDOW_DATABASE_URL", url)
    return url


def tenant(name: str = "acme") -> str:
    created = CliRunner().invoke(app, ["tenant", "create", name, "--json"])
    assert created.exit_code == 0, created.output
    found: str = json.loads(created.stdout)["tenant_id"]
    return found


def card_of(url: str, tenant_id: str) -> RateCard:
    engine = make_engine(url)
    try:
        with SqlRateStore(engine, read_only=True) as store:
            return store.rate_card(tenant_id)
    finally:
        engine.dispose()


def write(tmp_path: Path, text: str, name: str = "card.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_load_replaces_the_tenants_card(tmp_path: Path, database: str) -> None:
    acme, globex = tenant("acme"), tenant("globex")
    code, out, _ = run("ratecard", "load", str(write(tmp_path, CARD)), "--tenant", acme)
    assert code == 0, out
    assert "3 rates in 2 markets" in out
    assert card_of(database, acme) == parse_rate_card_csv(CARD)
    smaller = "market,category,currency,price,effective_from\nDE,marketing,EUR,0.13,2024-11-01\n"
    code, out, _ = run("ratecard", "load", str(write(tmp_path, smaller)), "--tenant", acme)
    assert code == 0, out
    assert card_of(database, acme) == parse_rate_card_csv(smaller)
    assert card_of(database, globex) == RateCard()


def test_example_loads_the_bundled_card(database: str) -> None:
    acme = tenant()
    code, out, _ = run("ratecard", "load", "--example", "--tenant", acme)
    assert code == 0, out
    assert "EXAMPLE" in out
    assert card_of(database, acme) == example_rate_card()
    code, out, _ = run("ratecard", "show", "--tenant", acme)
    assert code == 0
    assert "USD" in out


def test_a_bad_row_is_named_and_nothing_changes(tmp_path: Path, database: str) -> None:
    acme = tenant()
    assert run("ratecard", "load", str(write(tmp_path, CARD)), "--tenant", acme)[0] == 0
    bad = CARD + "BR,authentication,USD,cheap,2024-11-01,\n"
    path = write(tmp_path, bad, "bad.csv")
    code, _, err = run("ratecard", "load", str(path), "--tenant", acme)
    assert code == 1
    assert "row 5" in err
    assert "column price" in err
    assert "bad.csv" in err
    assert card_of(database, acme) == parse_rate_card_csv(CARD)


def test_unknown_tenant_missing_file_and_bad_arguments(tmp_path: Path, database: str) -> None:
    code, _, err = run("ratecard", "load", str(write(tmp_path, CARD)), "--tenant", "tn_nobody")
    assert code == 1
    assert "no tenant" in err
    acme = tenant()
    assert run("ratecard", "load", str(tmp_path / "missing.csv"), "--tenant", acme)[0] == 1
    assert run("ratecard", "load", "--tenant", acme)[0] == 2  # neither FILE nor --example
    both = run("ratecard", "load", str(write(tmp_path, CARD)), "--example", "--tenant", acme)
    assert both[0] == 2
    code, out, _ = run("ratecard", "show", "--tenant", acme)
    assert code == 0
    assert "no rate card" in out
