"""kill -9 under load loses no acknowledged webhook (DESIGN 4, "Reliability").

2,000 distinct signed webhooks go to the real ``wawindow serve`` on SQLite, 16 at
a time. After about 800 answers the server gets SIGKILL. Every body that was
answered 200 must then be in the inbox (by the SHA-256 of its bytes) with its
facts, once ``serve`` is started again on the same database. Posting all 2,000
again must then give the state of a clean server that received each once.
"""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.e2e.state import assert_same_state, snapshot
from tests.e2e.timelines import FREE_SERVICE, encode, iso
from tests.support.scenario import inbound, status
from tests.support.server import (
    Database,
    create_tenant,
    post_concurrently,
    serve,
    sha256,
    wawindow_server,
)

USERS = 100
BODIES_PER_USER = 20  # 5 rounds of: inbound, then sent, delivered, read of the reply
KILL_AFTER = 800
WORKERS = 16


def durability_bodies() -> tuple[list[bytes], list[str]]:
    """2,000 distinct bodies and the message id each one is about."""
    bodies: list[bytes] = []
    message_ids: list[str] = []
    start = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    for user in range(USERS):
        wa_id = f"4915{user:08d}"
        base = start + timedelta(minutes=7 * user)
        for k in range(BODIES_PER_USER):
            at = iso(base + timedelta(minutes=3 * k))
            round_, step = divmod(k, 4)
            if step == 0:
                message_id = f"wamid.d{user}.in{round_}"
                body = inbound(at, message_id, wa_id, name=f"User {user}")
            else:
                message_id = f"wamid.d{user}.out{round_}"
                state = ("sent", "delivered", "read")[step - 1]
                body = status(at, message_id, state, wa_id, pricing=FREE_SERVICE)
            bodies.append(encode(body))
            message_ids.append(message_id)
    order = list(range(len(bodies)))
    random.Random(2000).shuffle(order)  # users interleaved, some statuses before their send
    return [bodies[i] for i in order], [message_ids[i] for i in order]


def test_no_acknowledged_webhook_is_lost_to_kill_9(tmp_path: Path) -> None:
    bodies, message_ids = durability_bodies()
    assert len(set(bodies)) == USERS * BODIES_PER_USER == 2000

    crashed_url = f"sqlite:///{tmp_path / 'crashed.db'}"
    tenant = create_tenant(crashed_url, tmp_path / "crashed")
    killed = threading.Event()
    answered = 0
    lock = threading.Lock()

    with serve(crashed_url, tenant, tmp_path / "crashed") as server:

        def on_answer(index: int, code: int | None) -> None:
            nonlocal answered
            with lock:
                answered += code is not None
                due = answered >= KILL_AFTER and not killed.is_set()
                if due:
                    killed.set()
            if due:
                server.kill()

        codes = post_concurrently(
            server, bodies, WORKERS, on_answer=on_answer, should_stop=killed.is_set
        )
        assert killed.is_set(), "the server was never killed"
        assert server.process.returncode == -9

    acknowledged = [i for i, code in enumerate(codes) if code == 200]
    assert not [code for code in codes if code not in (200, None)], "answers other than 200"
    assert KILL_AFTER <= len(acknowledged) < len(bodies), len(acknowledged)

    with serve(crashed_url, tenant, tmp_path / "crashed") as restarted:
        db = Database(crashed_url)
        facts_per_body = {
            digest: (facts_count, found)
            for digest, facts_count, found in db.rows(
                "SELECT i.body_sha256, i.facts_count, count(f.id) FROM inbox i"
                " LEFT JOIN facts f ON f.inbox_id = i.id GROUP BY i.id"
            )
        }
        messages = {row[0] for row in db.rows("SELECT id FROM messages")}
        lost = [i for i in acknowledged if sha256(bodies[i]) not in facts_per_body]
        assert not lost, f"{len(lost)} acknowledged bodies are not in the inbox"
        factless = [
            i
            for i in acknowledged
            if (counts := facts_per_body[sha256(bodies[i])])[1] < 1 or counts[0] != counts[1]
        ]
        assert not factless, f"{len(factless)} acknowledged bodies lost their facts"
        unknown = [message_ids[i] for i in acknowledged if message_ids[i] not in messages]
        assert not unknown, f"acknowledged messages missing: {unknown[:10]}"

        # Now all 2,000 again, and at the same time all 2,000 once to a clean server.
        with (
            wawindow_server(f"sqlite:///{tmp_path / 'clean.db'}", tmp_path / "clean") as clean,
            ThreadPoolExecutor(max_workers=2) as pool,
        ):
            to_clean = pool.submit(post_concurrently, clean, bodies, WORKERS // 2)
            again = post_concurrently(restarted, bodies, WORKERS // 2)
            assert to_clean.result() == [200] * len(bodies)
            expected = snapshot(clean)
        assert again == [200] * len(bodies)
        assert db.count("inbox") == len(bodies)
        after_crash = snapshot(restarted)

    assert len(expected["api_conversations"]) >= USERS
    assert_same_state(expected, after_crash)
