"""``wawindow import``: a log of webhook bodies gives what receiving them live gives."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.support.scenario import LINE, inbound, outbound, status
from wawindow.adapters.db import schema as t
from wawindow.adapters.db.engine import make_engine
from wawindow.entrypoints.cli import app


def _timeline() -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for n, user in enumerate(("16505551234", "27821234567", "5511998765432")):
        lines += [
            inbound(f"2026-03-10T0{n + 1}:00:00", f"in{n}", user),
            outbound(f"2026-03-10T0{n + 1}:05:00", f"out{n}", user),
            status(f"2026-03-10T0{n + 1}:05:02", f"out{n}", "sent", user),
            status(f"2026-03-10T0{n + 1}:05:04", f"out{n}", "delivered", user),
            status(f"2026-03-10T0{n + 1}:06:00", f"out{n}", "read", user),
            inbound(f"2026-03-11T0{n + 2}:00:00", f"late{n}", user),  # over 24h later
        ]
    return lines


def _setup(tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / name}.db"
    monkeypatch.setenv("WAWINDOW_DATABASE_URL", url)
    runner = CliRunner()
    created = runner.invoke(app, ["tenant", "create", "acme", "--json"])
    assert created.exit_code == 0, created.output
    tenant = json.loads(created.stdout)["tenant_id"]
    args = ["line", "add", "--tenant", tenant, "--phone-number-id", LINE]
    added = runner.invoke(app, [*args, "--app-secret", "s", "--verify-token", "v"])
    assert added.exit_code == 0, added.output
    return url


def _import(tmp_path: Path, lines: list[dict[str, Any]]) -> None:
    path = tmp_path / "log.ndjson"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    result = CliRunner().invoke(app, ["import", str(path)])
    assert result.exit_code == 0, result.output


def _state(url: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    engine = make_engine(url)
    with engine.connect() as connection:
        c, m = t.conversations.c, t.messages.c
        conversations = connection.execute(
            select(c.started_at, c.last_message_at, c.messages_count, c.initiated_by).order_by(
                c.started_at
            )
        ).all()
        messages = connection.execute(
            select(m.id, m.status, m.billing, m.delivered_at).order_by(m.id)
        ).all()
    engine.dispose()
    return [tuple(r) for r in conversations], [tuple(r) for r in messages]


def test_import_in_any_order_and_twice_gives_the_same_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    timeline = _timeline()
    in_order = _setup(tmp_path, "in_order", monkeypatch)
    _import(tmp_path, timeline)
    expected = _state(in_order)
    assert len(expected[0]) == 6  # each user: a conversation a day
    assert len(expected[1]) == 9

    shuffled = _setup(tmp_path, "shuffled", monkeypatch)
    mixed = timeline + timeline[:5]
    random.Random(3).shuffle(mixed)
    _import(tmp_path, mixed)
    _import(tmp_path, mixed)  # a second import stores nothing new
    assert _state(shuffled) == expected


def test_a_bad_line_is_reported_and_the_rest_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _setup(tmp_path, "bad", monkeypatch)
    path = tmp_path / "log.ndjson"
    path.write_text(json.dumps(inbound("2026-03-10T09:00:00", "in1")) + "\n{oops\n")
    result = CliRunner().invoke(app, ["import", str(path)])
    assert result.exit_code == 1
    assert ":2: skipped" in result.output
    assert len(_state(url)[1]) == 1
