"""``wawindow tenant settings``: show or change a tenant's settings from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from wawindow.entrypoints.cli import app

DEFAULTS = {
    "inactive_after": "PT30M",
    "window_expiring_leads": ["PT1H"],
    "lead_unanswered_warning": "PT2H",
    "send_margin": "PT1M",
}


@pytest.fixture
def tenant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    for name in ("WAWINDOW_ENV_FILE", "WAWINDOW_WORKER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WAWINDOW_DATABASE_URL", f"sqlite:///{tmp_path / 'ww.db'}")
    created = CliRunner().invoke(app, ["tenant", "create", "acme", "--json"])
    assert created.exit_code == 0, created.output
    tenant_id: str = json.loads(created.stdout)["tenant_id"]
    return tenant_id


def settings(*args: str) -> Result:
    return CliRunner().invoke(app, ["tenant", "settings", *args])


def test_without_options_it_shows_the_settings(tenant: str) -> None:
    result = settings(tenant, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"tenant_id": tenant, **DEFAULTS}
    table = settings(tenant)
    assert "inactive_after" in table.stdout
    assert "PT30M" in table.stdout


def test_short_and_iso_durations_both_work(tenant: str) -> None:
    result = settings(
        tenant,
        "--inactive-after",
        "10m",
        "--window-expiring-leads",
        "15m,PT2H",
        "--lead-unanswered-warning",
        "6h",
        "--send-margin",
        "0s",
    )
    assert result.exit_code == 0, result.output
    assert "re-planned" in result.stdout
    assert json.loads(settings(tenant, "--json").stdout) == {
        "tenant_id": tenant,
        "inactive_after": "PT10M",
        "window_expiring_leads": ["PT2H", "PT15M"],
        "lead_unanswered_warning": "PT6H",
        "send_margin": "PT0S",
    }


def test_none_turns_the_window_warnings_off(tenant: str) -> None:
    assert settings(tenant, "--window-expiring-leads", "none").exit_code == 0
    assert json.loads(settings(tenant, "--json").stdout)["window_expiring_leads"] == []


def test_a_bad_value_names_its_option_and_changes_nothing(tenant: str) -> None:
    unreadable = settings(tenant, "--inactive-after", "soon")
    assert unreadable.exit_code == 2
    assert "--inactive-after" in unreadable.output
    out_of_bounds = settings(tenant, "--send-margin", "1h")
    assert out_of_bounds.exit_code == 1
    assert "--send-margin" in out_of_bounds.stderr
    assert json.loads(settings(tenant, "--json").stdout) == {"tenant_id": tenant, **DEFAULTS}


def test_an_unknown_tenant_is_an_error(tenant: str) -> None:
    result = settings("tn_nobody")
    assert result.exit_code == 1
    assert "no tenant" in result.stderr
