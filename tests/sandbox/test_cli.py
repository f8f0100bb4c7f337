"""The real ``wawindow sandbox`` command line, as a subprocess, posting to a real receiver."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.support.sandbox import SECRET, WebhookReceiver, sandbox_process
from tests.support.server import CLI_TIMEOUT, wawindow_command

USER = "16505551234"
LISTING = {
    "data": [
        {
            "name": "appointment_reminder",
            "language": "en_GB",
            "status": "APPROVED",
            "category": "UTILITY",
            "components": [{"type": "BODY", "text": "See you at {{1}}."}],
        }
    ]
}


def scripted_run(workdir: Path, receiver: WebhookReceiver, templates: Path) -> list[Any]:
    args = [
        "--webhook-url", receiver.url,
        "--app-secret", SECRET,
        "--seed", "2026",
        "--start-at", "2026-03-10T10:00:00Z",
        "--frozen-clock",
        "--status-delay", "0",
        "--access-token", "EAAG-sandbox",
        "--templates", str(templates),
    ]  # fmt: skip
    with sandbox_process(workdir, *args) as sandbox:
        answers: list[Any] = [sandbox.inbound(**{"from": USER, "text": "hi"})["id"]]
        reminder = {
            "messaging_product": "whatsapp",
            "to": USER,
            "type": "template",
            "template": {
                "name": "appointment_reminder",
                "language": {"code": "en_GB"},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": "9:00"}]}],
            },
        }
        refused = sandbox.send(reminder, token="wrong")
        answers.append((refused.status_code, refused.json()["error"]["code"]))
        answers.append(sandbox.send(reminder, token="EAAG-sandbox").json())
        sandbox.settle()
        answers.append(sandbox.client.get("/sandbox/clock").json()["now"])
    return answers


def test_the_command_line_sandbox_is_deterministic_with_a_seed(tmp_path: Path) -> None:
    templates = tmp_path / "templates.json"
    templates.write_text(json.dumps(LISTING))
    runs = []
    for run in ("first", "second"):
        with WebhookReceiver().running() as receiver:
            answers = scripted_run(tmp_path / run, receiver, templates)
            runs.append((answers, receiver.bodies()))
    (answers, bodies), (again, bodies_again) = runs
    assert answers == again
    assert bodies == bodies_again
    assert len(bodies) == 4  # the inbound message, sent, delivered, read
    assert answers[1] == (401, 190)
    assert answers[2]["messages"][0]["message_status"] == "accepted"
    assert answers[3] == "2026-03-10T10:00:00Z"
    delivered = json.loads(bodies[2])["entry"][0]["changes"][0]["value"]["statuses"][0]
    assert delivered["pricing"] == {
        "billable": False,
        "pricing_model": "PMP",
        "type": "free_customer_service",
        "category": "utility",
    }


def test_time_offset_starts_the_clock_ahead_or_behind(tmp_path: Path) -> None:
    with WebhookReceiver().running() as receiver:
        for offset, seconds in (("24h", 86400), ("-1d12h", -129600)):
            args = [
                "--webhook-url",
                receiver.url,
                "--app-secret",
                SECRET,
                f"--time-offset={offset}",
            ]
            with sandbox_process(tmp_path, *args) as sandbox:
                clock = sandbox.client.get("/sandbox/clock").json()
                assert seconds - 2 <= clock["offset_seconds"] <= seconds
                assert clock["frozen"] is False


def test_bad_options_are_refused_before_serving(tmp_path: Path) -> None:
    bad_listing = tmp_path / "bad.json"
    bad_listing.write_text("{not json")
    cases = [
        (["--time-offset", "soon"], "not a duration"),
        (["--start-at", "yesterday"], "not an ISO 8601 time"),
        (["--templates", str(bad_listing)], "not a template listing"),
    ]
    for extra, message in cases:
        command = [
            *wawindow_command(), "sandbox", "--webhook-url", "http://127.0.0.1:9/x",
            "--app-secret", "s", "--port", "9", *extra,
        ]  # fmt: skip
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=CLI_TIMEOUT, check=False
        )
        assert result.returncode == 2, result.stdout + result.stderr
        assert message in " ".join((result.stdout + result.stderr).split())
