"""``wawindow demo`` for real: a subprocess that starts serve and the sandbox on free ports.

The story runs with ``--pace 0``; the summary it writes (``--json``) gives the API key
and the URLs. While the demo keeps running, wawindow's own API is asked where each
customer stands. Afterwards no child may be left: neither a process whose command
line names the demo's ports, nor one of the pids the summary gave.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.sandbox import wait_until
from tests.support.server import HOST, free_port, wawindow_command
from wawindow.domain.times import parse_iso

LINE = "106540352242922"
ADA, QUINN, RITA = "+5511998765432", "+16505550102", "+4915112345678"
STORY_TIMEOUT = 180.0  # seconds for a whole --pace 0 run on a busy machine
STOP_TIMEOUT = 30.0
STEPS = 14


@dataclass
class Demo:
    """One ``wawindow demo`` process, its ports, its output and its summary file."""

    process: subprocess.Popen[bytes]
    port: int
    sandbox_port: int
    workdir: Path
    name: str

    @property
    def summary_path(self) -> Path:
        return self.workdir / f"{self.name}.json"

    def stdout(self) -> str:
        return (self.workdir / f"{self.name}.out").read_text(errors="replace")

    def stderr(self) -> str:
        return (self.workdir / f"{self.name}.err").read_text(errors="replace")

    def summary(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.summary_path.read_text())
        return document

    def wait(self, timeout: float = STORY_TIMEOUT) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired as late:
            self.process.kill()
            self.process.wait()
            output = f"{self.stdout()}\n{self.stderr()}"
            raise AssertionError(f"the demo did not end:\n{output}") from late

    def wait_for_summary(self) -> dict[str, Any]:
        def written() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"the demo ended early:\n{self.stdout()}\n{self.stderr()}")
            return self.summary_path.exists()

        wait_until(written, STORY_TIMEOUT, "the demo's summary")
        return self.summary()

    def wait_for_output(self, text: str) -> None:
        wait_until(lambda: text in self.stdout(), STORY_TIMEOUT, f"{text!r} in the demo's output")


def start_demo(
    workdir: Path,
    database_url: str,
    *args: str,
    name: str = "demo",
    port: int | None = None,
    sandbox_port: int | None = None,
) -> Demo:
    """``wawindow demo --port P [--sandbox-port S] --database URL --json NAME.json ARGS``."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    ports = ["--sandbox-port", str(sandbox_port)] if sandbox_port else []
    command = [
        *wawindow_command(), "demo",
        "--port", str(port), *ports,
        "--database", database_url,
        "--json", f"{name}.json",
        *args,
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAWINDOW_")}
    env["COLUMNS"] = "200"  # one line per row of the board
    with (workdir / f"{name}.out").open("wb") as out, (workdir / f"{name}.err").open("wb") as err:
        process = subprocess.Popen(
            command, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err
        )
    return Demo(process, port, sandbox_port or 0, workdir, name)


@pytest.fixture
def demos() -> Iterator[list[Demo]]:
    """Demos a test started; any still running at the end is killed (and so its children)."""
    started: list[Demo] = []
    yield started
    for demo in started:
        if demo.process.poll() is None:
            demo.process.kill()
            demo.process.wait(timeout=STOP_TIMEOUT)


# --------------------------------------------------------------------------- processes


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return False


def processes_on(ports: Sequence[int], but: int | None = None) -> list[str]:
    """Command lines of live processes (but pid ``but``) started with ``--port P`` for one
    of ``ports``."""
    wanted = [f"--port\0{port}\0".encode() for port in ports]
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or entry.name == str(but):
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if any(w in cmdline + b"\0" for w in wanted) and alive(int(entry.name)):
            found.append(cmdline.replace(b"\0", b" ").decode(errors="replace"))
    return found


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex((HOST, port)) == 0


def assert_no_child_left(demo: Demo, pids: Sequence[int] = ()) -> None:
    ports = [demo.port, demo.sandbox_port]

    def gone() -> bool:
        left = processes_on(ports, but=demo.process.pid)
        return not left and not any(alive(pid) for pid in pids)

    wait_until(gone, STOP_TIMEOUT, f"the children on ports {ports} to stop")
    assert not any(listening(port) for port in ports)


# --------------------------------------------------------------------------- the API


class Api:
    def __init__(self, summary: dict[str, Any]) -> None:
        self.http = httpx.Client(
            base_url=summary["wawindow_url"],
            headers={"X-API-Key": summary["api_key"]},
            timeout=30.0,
        )

    def get(self, path: str, **params: Any) -> Any:
        answer = self.http.get(path, params=params)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def session(self, phone: str) -> Any:
        return self.get("/v1/session-status", phone_number_id=LINE, contact_phone=phone)

    def messages(self, phone: str) -> list[Any]:
        contact_id = self.session(phone)["contact_id"]
        items: list[Any] = self.get("/v1/messages", contact_id=contact_id, page_size=100)["items"]
        return items


def last_board(output: str) -> list[str]:
    """The rows of the board printed after the last step."""
    board = output.split(f"{STEPS}/{STEPS}", 1)[1]
    return [line for line in board.splitlines() if line.startswith("│ ")][:3]


def cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip("│").split("│")]


def outcome(summary: dict[str, Any], title: str) -> Any:
    (step,) = [step for step in summary["steps"] if step["title"] == title]
    return step["outcome"]


def assert_story_told(summary: dict[str, Any]) -> None:
    """What the demo's own steps saw, as its summary kept it."""
    assert [step["number"] for step in summary["steps"]] == list(range(1, STEPS + 1))
    reply = outcome(summary, "You reply to Ada")
    assert reply["billing"]["type"] == "free_entry_point"
    assert reply["free_entry_point"]["active"] is True
    assert outcome(summary, "You answer Quinn")["billing"]["type"] == "free_customer_service"
    quinn = outcome(summary, "The windows close")["quinn"]
    assert quinn["window_active"] is False
    assert quinn["conversation"]["status"] == "ended"
    refusal = outcome(summary, "A free-form message to Quinn")["refusal"]
    assert refusal["status"] == 403
    assert refusal["type"].endswith("/window_closed")
    assert {t["name"] for t in refusal["templates"]} == {"order_update", "back_in_stock"}
    rita = outcome(summary, "A template to Rita")["billing"]
    assert (rita["category"], rita["billable"], rita["type"]) == ("marketing", True, "regular")
    assert outcome(summary, "Rita answers")["window_active"] is True
    ada = outcome(summary, "A template to Ada")
    assert (ada["billing"]["category"], ada["billing"]["billable"]) == ("utility", False)
    assert ada["billing"]["type"] == "free_entry_point"


# --------------------------------------------------------------------------- tests


def test_the_demo_keeps_running_and_the_api_shows_where_each_customer_stands(
    db_url: str, tmp_path: Path, demos: list[Demo], request: pytest.FixtureRequest
) -> None:
    demo = start_demo(tmp_path, db_url, "--pace", "0", sandbox_port=free_port())
    demos.append(demo)
    summary = demo.wait_for_summary()
    assert_story_told(summary)
    api = Api(summary)
    request.addfinalizer(api.http.close)

    ada = api.session(ADA)
    assert ada["window_active"] is False  # she last wrote the day before
    assert ada["free_entry_point"]["active"] is True
    ada_messages = api.messages(ADA)
    assert ada_messages[0]["template"]["name"] == "order_update"
    assert ada_messages[0]["billing"]["type"] == "free_entry_point"
    assert ada_messages[0]["billing"]["source"] == "provider"  # the sandbox's pricing
    assert ada_messages[0]["drift"] == []
    assert [m["direction"] for m in reversed(ada_messages)] == [
        "inbound", "outbound", "inbound", "outbound",
    ]  # fmt: skip

    quinn = api.session(QUINN)
    assert quinn["window_active"] is False
    assert quinn["conversation"]["status"] == "ended"
    assert quinn["conversation"]["ended_reason"] == "timeout"
    assert {t["name"] for t in quinn["templates"]} == {"order_update", "back_in_stock"}
    refused = api.http.post(
        "/v1/messages", json={"phone_number_id": LINE, "to": QUINN, "text": "Still there?"}
    )
    assert refused.status_code == 403, refused.text
    assert refused.json()["type"].endswith("/window_closed")

    rita = api.session(RITA)
    assert rita["window_active"] is True
    assert rita["can_send"]["free_form"] is True
    assert rita["conversation"]["status"] in ("active", "inactive")
    last, template = api.messages(RITA)[:2]
    assert (last["direction"], last["type"]) == ("inbound", "button")
    assert template["template"]["name"] == "back_in_stock"
    assert template["billing"]["billable"] is True
    assert template["conversation_id"] == last["conversation_id"]

    conversations = api.get("/v1/conversations", page_size=100)
    per_phone: dict[str, int] = {}
    for item in conversations["items"]:
        per_phone[item["contact_phone"]] = per_phone.get(item["contact_phone"], 0) + 1
    assert per_phone == {ADA[1:]: 2, QUINN[1:]: 1, RITA[1:]: 2}  # wa_ids: digits

    assert demo.process.poll() is None  # --keep-running is the default
    demo.process.send_signal(signal.SIGINT)  # Ctrl-C
    assert demo.wait(STOP_TIMEOUT) == 0
    assert "serve and the sandbox are stopped" in demo.stdout()
    assert_no_child_left(demo, list(summary["pids"].values()))


def test_the_demo_exits_at_the_end_and_a_rerun_continues_with_the_same_tenant(
    tmp_path: Path, demos: list[Demo]
) -> None:
    database = f"sqlite:///{tmp_path / 'demo.db'}"
    sandbox_port = free_port()
    first = start_demo(tmp_path, database, "--pace", "0", "--exit", sandbox_port=sandbox_port)
    demos.append(first)
    assert first.wait() == 0, first.stderr()
    summary = first.summary()
    assert_story_told(summary)
    assert summary["reused"] is False
    output = first.stdout()
    assert summary["api_key"] in output
    assert f"http://localhost:{first.port}/docs" in output
    assert f"http://localhost:{sandbox_port}" in output
    assert "curl -H" in output
    assert f"{STEPS}/{STEPS}" in output
    assert "window_closed" in output
    ada, quinn, rita = last_board(output)
    assert cells(ada) == [
        "Ada", "closed", "—", "open · 25h 02m", "active · 1 msg",
        "→ template order_update: read · free_entry_point",
    ]  # fmt: skip
    assert cells(quinn)[1:5] == ["closed", "—", "—", "ended (timeout) · 2 msgs"]
    assert cells(rita)[1:3] == ["open", "1h 45m"]
    assert cells(rita)[5] == "← button received"
    assert_no_child_left(first, list(summary["pids"].values()))

    # no --sandbox-port: the port the demo line was made with
    again = start_demo(tmp_path, database, "--pace", "0", "--exit", name="again")
    again.sandbox_port = sandbox_port
    demos.append(again)
    assert again.wait() == 0, again.stderr()
    rerun = again.summary()
    assert rerun["reused"] is True
    assert rerun["tenant_id"] == summary["tenant_id"]
    assert rerun["api_key"] != summary["api_key"]
    assert rerun["sandbox_url"] == summary["sandbox_url"]
    gap = parse_iso(rerun["started_at"]) - parse_iso(summary["ended_at"])
    assert gap.days >= 8  # everything of the first run has ended
    assert_story_told(rerun)
    assert_no_child_left(again, list(rerun["pids"].values()))

    elsewhere = start_demo(tmp_path, database, "--exit", name="elsewhere", sandbox_port=free_port())
    demos.append(elsewhere)
    assert elsewhere.wait() == 1
    assert f"--sandbox-port {sandbox_port}" in elsewhere.stderr()
    assert not elsewhere.summary_path.exists()


def test_a_child_that_cannot_start_is_reported_with_its_output_and_the_other_stopped(
    tmp_path: Path, demos: list[Demo]
) -> None:
    port = free_port()
    with socket.socket() as squatter:
        # bound, not listening: the demo's check that nothing answers there passes,
        # but serve cannot bind the port
        squatter.bind((HOST, port))
        demo = start_demo(
            tmp_path, f"sqlite:///{tmp_path / 'demo.db'}", "--exit",
            port=port, sandbox_port=free_port(),
        )  # fmt: skip
        demos.append(demo)
        assert demo.wait() == 1
    errors = demo.stderr()
    assert "wawindow serve exited with code" in errors
    assert "address already in use" in errors  # serve's own output
    assert not demo.summary_path.exists()
    assert_no_child_left(demo)


def test_a_port_something_answers_on_is_refused_before_anything_starts(
    tmp_path: Path, demos: list[Demo]
) -> None:
    with socket.socket() as other:
        other.bind((HOST, 0))
        other.listen()
        taken = other.getsockname()[1]
        demo = start_demo(tmp_path, f"sqlite:///{tmp_path / 'demo.db'}", "--exit", port=taken)
        demos.append(demo)
        assert demo.wait() == 1
    assert f"port {taken} is in use" in demo.stderr()
    assert "starting wawindow serve" not in demo.stdout()


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_stopping_the_demo_during_the_story_leaves_no_child(
    how: signal.Signals, tmp_path: Path, demos: list[Demo]
) -> None:
    demo = start_demo(
        tmp_path, f"sqlite:///{tmp_path / 'demo.db'}", "--pace", "100", "--exit",
        sandbox_port=free_port(),
    )  # fmt: skip
    demos.append(demo)
    demo.wait_for_output(f"1/{STEPS}")  # then a pause of 500 s before step 2
    children = processes_on([demo.port, demo.sandbox_port], but=demo.process.pid)
    assert len(children) == 2, children
    demo.process.send_signal(how)
    code = demo.wait(STOP_TIMEOUT)
    # SIGTERM: the demo stops its children itself; SIGKILL: the kernel tells them
    # (PR_SET_PDEATHSIG), and they stop on their own
    assert code == (130 if how == signal.SIGTERM else -signal.SIGKILL)
    assert_no_child_left(demo)
