"""``wawindow replay``: input handling, output forms, exit codes."""

from __future__ import annotations

import json
import random
from pathlib import Path

from typer.testing import CliRunner

from tests.support.scenario import Replay, inbound, message, outbound, status
from wawindow.entrypoints.cli import app

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "meta-webhooks" / "pywa"


def _timeline() -> list[dict[str, object]]:
    return [
        inbound("2026-03-10T09:00:00", "in1", user_id="US.13491208655302741918"),
        outbound("2026-03-10T09:05:00", "o1"),
        status("2026-03-10T09:05:02", "o1", "sent"),
        status("2026-03-10T09:05:04", "o1", "delivered"),
        status("2026-03-10T09:06:00", "o1", "read"),
        outbound("2026-03-10T09:30:00", "o2", template="receipt", category="utility"),
        status("2026-03-10T09:30:03", "o2", "delivered"),
        inbound("2026-03-10T10:00:00", "in2", "27821234567"),
    ]


def test_malformed_lines_are_reported_with_their_number_and_skipped(tmp_path: Path) -> None:
    lines: list[dict[str, object] | str] = [
        inbound("2026-03-10T09:00:00", "in1"),
        "{not json",
        '{"kind": "outbound", "phone_number_id": "1", "id": "x", "timestamp": "1"}',
        "[1, 2]",
        '{"hello": "world"}',
        inbound("2026-03-10T10:00:00", "in2"),
    ]
    code, document, stderr = Replay(tmp_path).run_raw("2026-03-10T12:00:00", lines)
    assert code == 1
    assert ":2: skipped" in stderr
    assert ":3: skipped" in stderr
    assert "'to'" in stderr  # says which field is missing
    assert ":4: skipped" in stderr
    assert ":5: skipped" in stderr
    assert ":1:" not in stderr
    assert ":6:" not in stderr
    (thread,) = document["threads"]
    assert thread["service_window"]["last_inbound_at"] == "2026-03-10T10:00:00Z"


def test_blank_lines_are_not_errors(tmp_path: Path) -> None:
    lines: list[dict[str, object] | str] = [inbound("2026-03-10T09:00:00", "in1"), "", "   "]
    code, _, stderr = Replay(tmp_path).run_raw("2026-03-10T12:00:00", lines)
    assert code == 0, stderr


def test_output_does_not_depend_on_line_order_or_duplicates(tmp_path: Path) -> None:
    lines = _timeline()
    expected = Replay(tmp_path, list(lines)).run("2026-03-10T12:00:00")
    rng = random.Random(7)
    for _ in range(5):
        shuffled = lines + rng.sample(lines, 4)
        rng.shuffle(shuffled)
        assert Replay(tmp_path, list(shuffled)).run("2026-03-10T12:00:00") == expected


def test_facts_after_at_are_not_known_yet(tmp_path: Path) -> None:
    replay = Replay(tmp_path, list(_timeline()))
    thread = replay.run("2026-03-10T09:05:03")["threads"][0]
    assert message(thread, "o1")["status"] == "sent"
    assert message(thread, "o1")["billing"] is None  # not delivered yet
    assert [m["id"] for m in thread["messages"]] == ["in1", "o1"]


def test_threads_are_sorted_by_line_then_first_identifier(tmp_path: Path) -> None:
    lines = [
        inbound("2026-03-10T09:00:00", "a", "27821234567", line="2"),
        inbound("2026-03-10T09:00:00", "b", "16505551234", line="2"),
        inbound("2026-03-10T09:00:00", "c", "27821234567", line="1"),
    ]
    threads = Replay(tmp_path, list(lines)).run("2026-03-10T12:00:00")["threads"]
    assert [(t["phone_number_id"], t["contact"]["wa_id"]) for t in threads] == [
        ("1", "27821234567"),
        ("2", "16505551234"),
        ("2", "27821234567"),
    ]


def test_the_document_has_the_documented_shape(tmp_path: Path) -> None:
    document = Replay(tmp_path, list(_timeline())).run("2026-03-10T12:00:00")
    assert document["at"] == "2026-03-10T12:00:00Z"
    thread = next(t for t in document["threads"] if t["contact"]["wa_id"] == "16505551234")
    assert set(thread) >= {
        "phone_number_id",
        "contact",
        "service_window",
        "free_entry_point",
        "can_send",
        "conversations",
        "messages",
        "drift",
    }
    assert thread["contact"] == {
        "wa_id": "16505551234",
        "bsuid": "US.13491208655302741918",
        "username": None,
        "name": "Sheena",
    }
    (conversation,) = thread["conversations"]
    assert conversation["messages_count"] == 3
    assert conversation["last_outbound_at"] == "2026-03-10T09:30:00Z"
    inbound_message = message(thread, "in1")
    assert inbound_message["direction"] == "inbound"
    assert inbound_message["billing"] is None
    assert message(thread, "o1")["billing"]["type"] == "free_customer_service"


def test_human_readable_tables(tmp_path: Path) -> None:
    path = tmp_path / "facts.ndjson"
    path.write_text("\n".join(json.dumps(x) for x in _timeline()) + "\n")
    result = CliRunner().invoke(
        app, ["replay", str(path), "--at", "2026-03-10T12:00:00Z"], env={"COLUMNS": "160"}
    )
    assert result.exit_code == 0, result.output
    assert "2 thread(s)" in result.stdout
    assert "service window" in result.stdout
    assert "OPEN" in result.stdout
    assert "free_customer_service" in result.stdout


def test_a_bad_at_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "facts.ndjson"
    path.write_text("")
    result = CliRunner().invoke(app, ["replay", str(path), "--at", "yesterday"])
    assert result.exit_code == 2
    assert "ISO 8601" in result.output


def test_every_fixture_body_replays(tmp_path: Path) -> None:
    bodies = [
        json.dumps(body)
        for fixture in sorted(FIXTURES.glob("*.json"))
        for body in json.loads(fixture.read_text()).values()
    ]
    assert len(bodies) == 74
    code, document, stderr = Replay(tmp_path).run_raw("2030-01-01T00:00:00", bodies)
    assert code == 0, stderr
    assert document["threads"]


def test_example_rate_card_adds_prices(tmp_path: Path) -> None:
    path = tmp_path / "facts.ndjson"
    path.write_text("\n".join(json.dumps(x) for x in _timeline()) + "\n")
    args = ["replay", str(path), "--at", "2026-03-10T12:00:00Z", "--json"]
    result = CliRunner().invoke(app, [*args, "--example-rate-card"])
    assert result.exit_code == 0, result.output
    (thread,) = [
        t for t in json.loads(result.stdout)["threads"] if t["contact"]["wa_id"] == "16505551234"
    ]
    free = message(thread, "o1")["billing"]
    assert (free["market"], free["price"], free["currency"]) == ("US", "0", "USD")
    plain = json.loads(CliRunner().invoke(app, args).stdout)["threads"][0]
    assert "price" not in message(plain, "o1")["billing"]


def test_a_rate_card_prices_billable_messages(tmp_path: Path) -> None:
    card = tmp_path / "card.csv"
    card.write_text(
        "market,category,currency,price,effective_from\n"
        "US,utility,EUR,0.0123,2025-07-01\n"
        "*,utility,EUR,0.0500,2025-07-01\n"
    )
    lines = [
        outbound("2026-03-10T09:00:00", "u1", template="receipt", category="utility"),
        status("2026-03-10T09:00:03", "u1", "delivered"),
    ]
    path = tmp_path / "facts.ndjson"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    args = ["replay", str(path), "--at", "2026-03-10T12:00:00Z", "--json", "--rate-card", str(card)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    billing = message(json.loads(result.stdout)["threads"][0], "u1")["billing"]
    assert (billing["billable"], billing["price"], billing["currency"]) == (True, "0.0123", "EUR")


def test_a_bad_rate_card_is_a_usage_error_naming_the_row(tmp_path: Path) -> None:
    card = tmp_path / "card.csv"
    card.write_text(
        "market,category,currency,price,effective_from\nUS,utility,EUR,abc,2025-07-01\n"
    )
    path = tmp_path / "facts.ndjson"
    path.write_text("")
    args = ["replay", str(path), "--at", "2026-03-10T12:00:00Z", "--rate-card", str(card)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "2" in result.output
    assert "price" in result.output
