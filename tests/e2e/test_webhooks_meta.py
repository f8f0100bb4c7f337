"""``/webhooks/meta`` end to end: the real ``wawindow serve``, real HTTP, a real database.

Each test sets its tenant and lines up with the real command line
(``tests/support/server.py``) and reads the database directly only to count what
was stored.
"""

from __future__ import annotations

import json
import random
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.conftest import NewDatabase
from tests.e2e.state import assert_same_state, snapshot
from tests.e2e.timelines import (
    FREE_SERVICE,
    MARKETING,
    encode,
    entry_ids,
    fixture_bodies,
    iso,
    now,
    phone_number_ids,
    three_users_timeline,
)
from tests.support.scenario import LINE, inbound, status
from tests.support.server import (
    Database,
    Tenant,
    create_tenant,
    post_concurrently,
    sha256,
    signature,
    wawindow_server,
)

PROBLEM = "application/problem+json"
LIMIT = 3 * 1024 * 1024  # the default WAWINDOW_MAX_WEBHOOK_BYTES

# --------------------------------------------------------------------------- fixtures


def test_every_pywa_fixture_body_is_accepted_when_signed(tmp_path: Path, sqlite_url: str) -> None:
    bodies = fixture_bodies()
    assert len(bodies) >= 74, "the shared fixtures were not found"
    lines = sorted(set().union(*(phone_number_ids(raw) for _, raw in bodies)))
    assert {"1122334455667", "106540352242922", "<BUSINESS_PHONE_NUMBER_ID>"} <= set(lines)
    # Bodies that name a line first, so that the lines learn their accounts (entry ids)
    # before the template and account bodies, which name only the account.
    ordered = [b for b in bodies if phone_number_ids(b[1])] + [
        b for b in bodies if not phone_number_ids(b[1])
    ]

    with wawindow_server(sqlite_url, tmp_path, phone_number_ids=lines) as server:
        answers = {name: server.post_webhook(raw) for name, raw in ordered}
        refused = {
            name: (answer.status_code, answer.text[:300])
            for name, answer in answers.items()
            if answer.status_code != 200
        }
        assert not refused, f"{refused}\nserver log:\n{server.log()[-3000:]}"

        db = Database(sqlite_url)
        accounts = {row[0] for row in db.rows("SELECT account_id FROM lines") if row[0]}
        assert "102290129340398" in accounts  # learnt from edited_message / user preferences
        stored = db.inbox_hashes()
        for name, raw in ordered:
            known = bool(phone_number_ids(raw)) or bool(entry_ids(raw) & accounts)
            assert (sha256(raw) in stored) == known, name
        # Once more: every body is a duplicate now, still 200, nothing new stored.
        inbox_count, facts_count = db.count("inbox"), db.count("facts")
        for name, raw in ordered:
            again = server.post_webhook(raw)
            assert again.status_code == 200, (name, again.text)
            if sha256(raw) in stored:
                assert again.json()["duplicate"] is True, name
        assert (db.count("inbox"), db.count("facts")) == (inbox_count, facts_count)
        assert server.conversations(), "the inbound fixtures started no conversation"


# --------------------------------------------------------------------------- signatures


def test_forged_unsigned_and_tampered_bodies_are_refused_and_change_nothing(
    tmp_path: Path, sqlite_url: str
) -> None:
    with wawindow_server(sqlite_url, tmp_path) as server:
        genuine = encode(inbound(iso(now() - timedelta(minutes=5)), "wamid.genuine", "15550000001"))
        assert server.post_webhook(genuine).status_code == 200
        db = Database(sqlite_url)
        before = (server.conversations(), db.count("inbox"), db.count("facts"))

        attack = encode(inbound(iso(now() - timedelta(minutes=1)), "wamid.attack", "15550000666"))
        tampered = attack.replace(b"15550000666", b"15550000667")
        assert tampered != attack
        attempts: dict[str, tuple[bytes, dict[str, str]]] = {
            "forged": (attack, {"X-Hub-Signature-256": signature(attack, "not-the-secret")}),
            "unsigned": (attack, {}),
            "tampered": (tampered, {"X-Hub-Signature-256": signature(attack, server.app_secret)}),
            "signature of another body": (
                attack,
                {"X-Hub-Signature-256": signature(genuine, server.app_secret)},
            ),
            "malformed": (attack, {"X-Hub-Signature-256": "sha256=zz"}),
            "sha1": (attack, {"X-Hub-Signature-256": "sha1=" + "0" * 40}),
            "empty": (attack, {"X-Hub-Signature-256": ""}),
            "stored body replayed unsigned": (genuine, {}),
        }
        for name, (raw, headers) in attempts.items():
            response = server.post_webhook(raw, sign=False, headers=headers)
            assert response.status_code == 401, (name, response.text)
            assert response.headers["content-type"].startswith(PROBLEM), name

        assert (server.conversations(), db.count("inbox"), db.count("facts")) == before
        assert "wamid.attack" not in json.dumps(db.rows("SELECT id FROM messages"))


def test_a_body_for_two_tenants_needs_each_lines_secret(tmp_path: Path, sqlite_url: str) -> None:
    """Signing with one line's secret must not let a body write to another tenant.

    Tenant "attacker" owns line A (secret sA); tenant "victim" owns line B (secret
    sB) of the account WABA_B. A body signed with sA that carries, beside a change
    for A, a message for B and a template update for WABA_B is not signed by B's
    app: nothing of it may reach the victim. (Refusing the whole body with 401, or
    taking only A's part, both keep that; a 5xx does not.)
    """
    with wawindow_server(
        sqlite_url, tmp_path, phone_number_ids=["100000000000001"], app_secret="secret-A"
    ) as attacker:
        victim = create_tenant(
            sqlite_url,
            tmp_path,
            name="victim",
            phone_number_ids=["200000000000002"],
            app_secret="secret-B",
            verify_token="token-B",
        )
        db = Database(sqlite_url)
        at = now() - timedelta(minutes=3)
        genuine = inbound(iso(at), "wamid.victim", "15552220001", line="200000000000002")
        genuine["entry"][0]["id"] = "WABA_B"  # B learns its account from this body
        assert attacker.post_webhook(encode(genuine), secret="secret-B").status_code == 200
        before = (attacker.conversations(api_key=victim.api_key), _facts_of(db, victim))

        body = inbound(iso(at), "wamid.mine", "15551110001", line="100000000000001")
        forged = inbound(iso(at), "wamid.forged", "15552220002", line="200000000000002")
        template = {
            "id": "WABA_B",
            "time": int(at.timestamp()),
            "changes": [
                {
                    "field": "message_template_status_update",
                    "value": {
                        "event": "DISABLED",
                        "message_template_id": 4242,
                        "message_template_name": "order_update",
                        "message_template_language": "en_US",
                        "reason": "NONE",
                    },
                }
            ],
        }
        body["entry"] += [forged["entry"][0], template]
        response = attacker.post_webhook(encode(body), secret="secret-A")

        assert response.status_code in (200, 401), response.text
        after = (attacker.conversations(api_key=victim.api_key), _facts_of(db, victim))
        assert after == before, f"forged into the victim's tenant (answer {response.text})"


def _facts_of(db: Database, tenant: Tenant) -> list[str]:
    rows = db.rows("SELECT natural_key FROM facts WHERE tenant_id = ?", tenant.tenant_id)
    return sorted(row[0] for row in rows)


# --------------------------------------------------------------------------- handshake


def test_verification_handshake(tmp_path: Path, sqlite_url: str) -> None:
    with wawindow_server(sqlite_url, tmp_path) as server:
        challenge = "1158201444"
        right = {
            "hub.mode": "subscribe",
            "hub.verify_token": server.verify_token,
            "hub.challenge": challenge,
        }
        answer = server.client.get("/webhooks/meta", params=right)
        assert answer.status_code == 200
        assert answer.text == challenge
        assert answer.headers["content-type"].startswith("text/plain")

        wrong = [
            {**right, "hub.verify_token": "not-the-token"},
            {**right, "hub.verify_token": ""},
            {k: v for k, v in right.items() if k != "hub.verify_token"},
            {**right, "hub.mode": "unsubscribe"},
            {k: v for k, v in right.items() if k != "hub.mode"},
        ]
        for params in wrong:
            answer = server.client.get("/webhooks/meta", params=params)
            assert answer.status_code == 403, params
            assert challenge not in answer.text


# --------------------------------------------------------------------------- size, JSON, lines


def test_a_body_over_3_mb_is_refused_with_413(tmp_path: Path, sqlite_url: str) -> None:
    with wawindow_server(sqlite_url, tmp_path) as server:
        db = Database(sqlite_url)
        base = encode(inbound(iso(now() - timedelta(minutes=3)), "wamid.big", "15550000002"))
        too_big = base + b" " * (LIMIT + 1 - len(base))  # valid JSON, one byte too many
        answer = server.post_webhook(too_big)
        assert answer.status_code == 413, answer.text
        assert answer.headers["content-type"].startswith(PROBLEM)

        # Without a Content-Length (chunked), the limit holds as the body streams in.
        chunks = [too_big[i : i + 65536] for i in range(0, len(too_big), 65536)]
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": signature(too_big, server.app_secret),
        }
        with server.new_client() as client:
            streamed = client.post("/webhooks/meta", content=iter(chunks), headers=headers)
        assert streamed.status_code == 413, streamed.text
        assert db.count("inbox") == 0
        assert server.conversations() == []

        # 3,000,000 bytes is not over 3 MB, whichever way a megabyte is counted.
        fits = base + b" " * (3_000_000 - len(base))
        assert server.post_webhook(fits).status_code == 200
        assert db.count("inbox") == 1


def test_invalid_json_is_a_400_problem(tmp_path: Path, sqlite_url: str) -> None:
    invalid = {
        "garbage": b"{not json",
        "empty": b"",
        "truncated": b'{"object": "whatsapp_business_account", "entry": [',
        "array": b"[1, 2]",
    }
    with wawindow_server(sqlite_url, tmp_path) as server:
        for name, raw in invalid.items():
            answer = server.post_webhook(raw)
            assert answer.status_code == 400, (name, answer.text)
            assert answer.headers["content-type"].startswith(PROBLEM), name
            document = answer.json()
            assert document["status"] == 400, name
            assert document["type"].startswith("https://"), name
            assert document["title"], name
        assert Database(sqlite_url).count("inbox") == 0
        assert server.client.get("/readyz").status_code == 200


def test_a_body_that_is_not_utf8_is_a_400_not_a_500(tmp_path: Path, sqlite_url: str) -> None:
    """JSON is UTF-8 (RFC 8259): other bytes in a string make the body invalid JSON.

    Unsigned on purpose: anyone on the internet can send this, and a 5xx makes Meta
    (and any sender) retry.
    """
    with wawindow_server(sqlite_url, tmp_path) as server:
        for raw in (b'{"object": "\xff"}', b'{"entry": [{"id": "\xc3\x28"}]}'):
            for sign in (True, False):
                answer = server.post_webhook(raw, sign=sign)
                assert answer.status_code == 400, (raw, sign, answer.text)
                assert answer.headers["content-type"].startswith(PROBLEM)
        assert Database(sqlite_url).count("inbox") == 0


def test_unknown_phone_number_id_is_acknowledged_and_dropped(
    tmp_path: Path, sqlite_url: str
) -> None:
    with wawindow_server(sqlite_url, tmp_path) as server:
        db = Database(sqlite_url)
        at = iso(now() - timedelta(minutes=4))
        stranger = inbound(at, "wamid.stranger", "15550000003", line="999999999999999")
        for sign in (True, False):  # nobody owns the line: no secret to check it against
            answer = server.post_webhook(encode(stranger), sign=sign)
            assert answer.status_code == 200, answer.text
            assert answer.json()["facts_stored"] == 0
        assert db.count("inbox") == 0
        assert db.count("facts") == 0
        assert server.conversations() == []
        assert "999999999999999" in server.log()  # the log line names the line
        metrics = server.client.get("/metrics").text
        dropped = re.search(
            r'^wawindow_webhooks_dropped_facts_total\{[^}]*reason="unknown_line"[^}]*\} (\S+)$',
            metrics,
            re.MULTILINE,
        )
        assert dropped is not None, metrics
        assert float(dropped.group(1)) >= 2

        # A body for a known line and an unknown one: the known part only.
        mixed = inbound(at, "wamid.known", "15550000004")
        mixed["entry"].append(stranger["entry"][0])
        answer = server.post_webhook(encode(mixed))
        assert answer.status_code == 200, answer.text
        phones = {c["contact_phone"] for c in server.conversations()}
        assert phones == {"15550000004"}
        lines = {row[0] for row in db.rows("SELECT line FROM threads")}
        assert lines == {LINE}
        assert not db.rows("SELECT 1 FROM contact_identifiers WHERE value = '15550000003'")


# --------------------------------------------------------------------------- idempotency, order


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_same_bodies_in_any_order_and_twice_give_the_same_state(
    tmp_path: Path, new_database: NewDatabase, backend: str
) -> None:
    timeline = three_users_timeline(now())
    assert 25 <= len(timeline) <= 40
    seed = 20261121
    shuffled = timeline + timeline
    random.Random(seed).shuffle(shuffled)

    with wawindow_server(new_database(backend), tmp_path / "a") as a:
        for raw in timeline:
            answer = a.post_webhook(raw)
            assert answer.status_code == 200, answer.text
        expected = snapshot(a)
    with wawindow_server(new_database(backend), tmp_path / "b") as b:
        duplicates = 0
        for raw in shuffled:
            answer = b.post_webhook(raw)
            assert answer.status_code == 200, answer.text
            duplicates += answer.json()["duplicate"]
        actual = snapshot(b)

    assert duplicates == len(timeline)
    assert len(expected["inbox"]) == len(timeline)
    assert len(expected["api_conversations"]) >= 3
    statuses = {m[6] for m in expected["messages"]}
    assert {"read", "delivered", "failed", "received"} <= statuses, statuses
    assert_same_state(expected, actual)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_concurrent_deliveries_give_the_same_state_as_one_at_a_time(
    tmp_path: Path, new_database: NewDatabase, backend: str
) -> None:
    """Meta delivers in parallel: the first webhooks about a new user may arrive at once.

    Every body is posted twice, 8 or 16 at a time, starting with the first four
    bodies about each of 20 new users (a campaign: the template's sent, delivered
    and read statuses, and the user's reply), side by side so that they arrive
    together. The state must be that of the bodies posted one by one: one contact
    (with its identifiers), one thread, one conversation per user.
    """
    at = now()
    first = []  # a campaign: 20 new users, the statuses of their template and a reply
    for u in range(20):
        user, sent = f"1555777{u:04d}", at - timedelta(minutes=50)
        for minutes, state in ((0, "sent"), (1, "delivered"), (5, "read")):
            when = iso(sent + timedelta(minutes=minutes))
            first.append(encode(status(when, f"wamid.c{u}", state, user, pricing=MARKETING)))
        first.append(encode(inbound(iso(sent + timedelta(minutes=6)), f"wamid.r{u}", user)))
    timeline = first + three_users_timeline(at)

    with wawindow_server(new_database(backend), tmp_path / "a") as a:
        for raw in timeline:
            assert a.post_webhook(raw).status_code == 200
        expected = snapshot(a)
    with wawindow_server(new_database(backend), tmp_path / "b") as b:
        rest = timeline[len(first) :] * 2
        random.Random(7).shuffle(rest)
        codes = post_concurrently(b, first * 2, workers=16)
        codes += post_concurrently(b, rest, workers=8)
        actual = snapshot(b)
    assert codes == [200] * len(codes)
    assert_same_state(expected, actual)


def test_the_earliest_report_of_a_status_wins_whatever_the_arrival_order(
    tmp_path: Path, sqlite_url: str
) -> None:
    """A status reported twice with two times keeps its earliest time (docs/rules.md).

    Message X hears of its delivery early, then late; message Y late, then early.
    Both must show the early time, as ``wawindow replay`` of the same bodies does.
    """
    with wawindow_server(sqlite_url, tmp_path) as server:
        base = now() - timedelta(hours=1)
        user = "15550000005"
        early, late = iso(base + timedelta(minutes=1)), iso(base + timedelta(minutes=9))
        bodies = [
            inbound(iso(base), "wamid.in", user),
            status(iso(base), "wamid.X", "sent", user, pricing=FREE_SERVICE),
            status(iso(base), "wamid.Y", "sent", user, pricing=FREE_SERVICE),
            status(early, "wamid.X", "delivered", user, pricing=FREE_SERVICE),
            status(late, "wamid.X", "delivered", user, pricing=FREE_SERVICE),
            status(late, "wamid.Y", "delivered", user, pricing=FREE_SERVICE),
            status(early, "wamid.Y", "delivered", user, pricing=FREE_SERVICE),
        ]
        for body in bodies:
            assert server.post_webhook(encode(body)).status_code == 200
        rows = Database(sqlite_url).rows(
            "SELECT id, delivered_at FROM messages WHERE id IN ('wamid.X', 'wamid.Y')"
        )
        delivered = {message_id: str(at)[:19] for message_id, at in rows}
        expected = early.replace("T", " ")
        assert delivered == {"wamid.X": expected, "wamid.Y": expected}


def test_the_contact_name_does_not_depend_on_arrival_order(tmp_path: Path, sqlite_url: str) -> None:
    """The profile name is a fact like any other, and the latest one wins.

    User P: inbound (name "Pia") then a status. User Q: a status (which carries no
    name) first, then inbound ("Quinn"). User R renamed herself: the newer message
    ("Rita") arrives before the older one ("Rita old").
    """
    with wawindow_server(sqlite_url, tmp_path) as server:
        at = now() - timedelta(hours=2)
        p, q, r = "15550000011", "15550000012", "15550000013"
        later = iso(at + timedelta(minutes=1))
        bodies = [
            inbound(iso(at), "wamid.p.in", p, name="Pia"),
            status(later, "wamid.p.out", "sent", p),
            status(later, "wamid.q.out", "sent", q),
            inbound(iso(at), "wamid.q.in", q, name="Quinn"),
            inbound(later, "wamid.r.in2", r, name="Rita"),
            inbound(iso(at), "wamid.r.in1", r, name="Rita old"),
        ]
        for body in bodies:
            assert server.post_webhook(encode(body)).status_code == 200
        names = {c["contact_phone"]: c["contact_name"] for c in server.conversations()}
        assert names == {p: "Pia", q: "Quinn", r: "Rita"}


# --------------------------------------------------------------------------- batches, freshness


def test_a_body_with_50_statuses_for_50_recipients_is_stored_whole(
    tmp_path: Path, sqlite_url: str
) -> None:
    at = now() - timedelta(minutes=30)
    body = status(iso(at), "wamid.batch0", "sent", "15560000000", pricing=FREE_SERVICE)
    items = body["entry"][0]["changes"][0]["value"]["statuses"]
    template = items[0]
    items.clear()
    for i in range(50):
        items.append({**template, "id": f"wamid.batch{i}", "recipient_id": f"155600000{i:02d}"})
    with wawindow_server(sqlite_url, tmp_path) as server:
        answer = server.post_webhook(encode(body))
        assert answer.status_code == 200, answer.text
        receipt = answer.json()
        assert receipt["facts_stored"] == 50, receipt
        assert receipt["facts_dropped"] == {}
        db = Database(sqlite_url)
        assert db.count("messages") == 50
        recipients = {
            row[0] for row in db.rows("SELECT value FROM contact_identifiers WHERE kind = 'wa_id'")
        }
        assert recipients == {f"155600000{i:02d}" for i in range(50)}
        assert db.count("threads") == 50


def test_the_conversation_is_there_as_soon_as_the_webhook_is_acknowledged(
    tmp_path: Path, sqlite_url: str
) -> None:
    with wawindow_server(sqlite_url, tmp_path) as server:
        for i in range(5):
            user = f"1555123000{i}"
            at = now() - timedelta(seconds=30 - i)
            answer = server.post_webhook(encode(inbound(iso(at), f"wamid.fresh{i}", user)))
            assert answer.status_code == 200, answer.text
            mine = [c for c in server.conversations() if c["contact_phone"] == user]
            assert len(mine) == 1, f"conversation {i} not visible right after its 200"
            conversation = mine[0]
            assert conversation["status"] == "active"
            assert conversation["initiated_by"] == "user"
            assert conversation["messages_count"] == 1
            assert _instant(conversation["last_inbound_at"]) == at
            assert _instant(conversation["started_at"]) == at


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
