"""The nine worked examples of DESIGN section 5, through the real ``wawindow replay``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.scenario import Replay, inbound, message, outbound, status


@pytest.fixture
def replay(tmp_path: Path) -> Replay:
    return Replay(tmp_path)


def test_1_each_inbound_resets_the_window_and_it_closes_24h_after_the_last(replay: Replay) -> None:
    replay.add(inbound("2026-03-10T10:00:00", "in1"), inbound("2026-03-10T15:00:00", "in2"))
    first = replay.thread("2026-03-10T12:00:00")["service_window"]
    assert first == {
        "open": True,
        "last_inbound_at": "2026-03-10T10:00:00Z",
        "expires_at": "2026-03-11T10:00:00Z",
    }
    later = replay.thread("2026-03-11T14:58:00")
    assert later["service_window"]["expires_at"] == "2026-03-11T15:00:00Z"
    assert later["can_send"] == {"free_form": True, "template": True}
    closed = replay.thread("2026-03-11T15:00:30")
    assert closed["service_window"]["open"] is False
    assert closed["can_send"] == {"free_form": False, "template": True}


def test_1_free_form_is_refused_within_the_send_margin(replay: Replay) -> None:
    replay.add(inbound("2026-03-10T10:00:00", "in1"))
    thread = replay.thread("2026-03-11T09:59:30")
    assert thread["service_window"]["open"] is True
    assert thread["can_send"]["free_form"] is False  # 60 s margin: it would race the end


def test_2_a_template_does_not_open_the_window_and_is_billed_in_pmp1(replay: Replay) -> None:
    replay.add(
        outbound("2026-03-10T09:00:00", "out1", template="order_update", category="utility"),
        status("2026-03-10T09:00:05", "out1", "sent"),
        status("2026-03-10T09:00:09", "out1", "delivered"),
    )
    thread = replay.thread("2026-03-10T10:00:00")
    assert thread["service_window"]["open"] is False
    assert thread["service_window"]["last_inbound_at"] is None
    (conversation,) = thread["conversations"]
    assert conversation["initiated_by"] == "business"
    assert conversation["origin"] == "business_initiated"
    assert message(thread, "out1")["billing"] == {
        "model": "PMP",
        "category": "utility",
        "type": "regular",
        "billable": True,
        "source": "estimated",
    }


def _utility_then_marketing(day: str) -> list[dict[str, object]]:
    return [
        inbound(f"{day}T09:00:00", "in1"),
        outbound(f"{day}T09:30:00", "util", template="receipt", category="utility"),
        status(f"{day}T09:30:02", "util", "delivered"),
        outbound(f"{day}T09:40:00", "mkt", template="promo", category="marketing"),
        status(f"{day}T09:40:02", "mkt", "delivered"),
    ]


def test_3_pmp1_utility_inside_the_window_is_free_marketing_is_not(replay: Replay) -> None:
    thread = Replay(replay.tmp_path, _utility_then_marketing("2026-03-10")).thread(
        "2026-03-10T10:00:00"
    )
    util, mkt = message(thread, "util")["billing"], message(thread, "mkt")["billing"]
    assert (util["type"], util["billable"]) == ("free_customer_service", False)
    assert (mkt["type"], mkt["billable"], mkt["category"]) == ("regular", True, "marketing")


def test_3_pmp2_utility_inside_the_window_is_billable(replay: Replay) -> None:
    thread = Replay(replay.tmp_path, _utility_then_marketing("2026-11-10")).thread(
        "2026-11-10T10:00:00"
    )
    util = message(thread, "util")["billing"]
    assert (util["model"], util["type"], util["billable"]) == ("PMP", "regular", True)
    assert message(thread, "mkt")["billing"]["billable"] is True


def test_4_the_1001st_service_message_of_the_month_is_billable(replay: Replay) -> None:
    lines: list[dict[str, object]] = []
    # 1,001 replies to several users of one line, spread over November 2026.
    for n in range(1001):
        user = f"1650555{n % 7:04d}"
        day = 2 + n // 50
        minute = n % 50
        lines.append(inbound(f"2026-11-{day:02d}T08:{minute:02d}:00", f"in{n}", user))
        lines.append(outbound(f"2026-11-{day:02d}T09:{minute:02d}:00", f"r{n}", user))
        lines.append(status(f"2026-11-{day:02d}T09:{minute:02d}:03", f"r{n}", "delivered", user))
    document = Replay(replay.tmp_path, lines).run("2026-11-30T00:00:00")
    billing = {
        m["id"]: m["billing"]
        for t in document["threads"]
        for m in t["messages"]
        if m["direction"] == "outbound"
    }
    assert billing["r1000"] == {
        "model": "PMP",
        "category": "service",
        "type": "regular",
        "billable": True,
        "source": "estimated",
    }
    free = [b for i, b in billing.items() if i != "r1000"]
    assert len(free) == 1000
    assert all(b["type"] == "free_customer_service" and not b["billable"] for b in free)


def test_5_free_entry_point_from_an_ad(replay: Replay) -> None:
    # Monday 2026-03-09.
    replay.add(
        inbound("2026-03-09T08:00:00", "ad_in", referral=True),
        outbound("2026-03-09T09:00:00", "reply"),
        status("2026-03-09T09:00:03", "reply", "delivered"),
        outbound("2026-03-11T12:00:00", "promo", template="promo", category="marketing"),
        status("2026-03-11T12:00:04", "promo", "delivered"),
    )
    thread = replay.thread("2026-03-11T12:30:00")
    assert thread["free_entry_point"] == {
        "open": True,
        "opened_at": "2026-03-09T09:00:00Z",
        "expires_at": "2026-03-12T09:00:00Z",
        "unanswered": False,
    }
    assert message(thread, "promo")["billing"]["type"] == "free_entry_point"
    assert message(thread, "promo")["billing"]["billable"] is False
    assert thread["service_window"]["open"] is False  # closed Tuesday 08:00
    assert thread["can_send"]["free_form"] is False


def test_6_statuses_out_of_order_and_twice(replay: Replay) -> None:
    replay.add(
        inbound("2026-03-10T09:00:00", "in1"),
        outbound("2026-03-10T09:10:00", "out1", template="receipt", category="marketing"),
        status("2026-03-10T09:12:00", "out1", "read"),
        status("2026-03-10T09:10:01", "out1", "sent"),
        status("2026-03-10T09:10:05", "out1", "delivered"),
        status("2026-03-10T09:10:05", "out1", "delivered"),
    )
    thread = replay.thread("2026-03-10T10:00:00")
    out = message(thread, "out1")
    assert out["status"] == "read"
    assert out["status_times"] == {
        "delivered": "2026-03-10T09:10:05Z",
        "read": "2026-03-10T09:12:00Z",
        "sent": "2026-03-10T09:10:01Z",
    }
    billable = [m for m in thread["messages"] if m["billing"] and m["billing"]["billable"]]
    assert [m["id"] for m in billable] == ["out1"]


def test_7_inactive_reactivated_then_ended_by_timeout(replay: Replay) -> None:
    replay.add(inbound("2026-03-10T12:00:00", "m1"), outbound("2026-03-10T12:10:00", "m2"))
    (conversation,) = replay.thread("2026-03-10T12:45:00")["conversations"]
    assert conversation["status"] == "inactive"
    replay.add(inbound("2026-03-10T13:00:00", "m3"))
    (conversation,) = replay.thread("2026-03-10T13:05:00")["conversations"]
    assert conversation["status"] == "active"
    assert conversation["messages_count"] == 3
    (ended,) = replay.thread("2026-03-11T13:00:00")["conversations"]
    assert ended["status"] == "ended"
    assert ended["ended_at"] == "2026-03-11T13:00:00Z"
    assert ended["ended_reason"] == "timeout"
    assert ended["id"] == conversation["id"]


def test_8_hidden_number_then_both_ids_is_one_contact(replay: Replay) -> None:
    bsuid = "US.13491208655302741918"
    replay.add(
        inbound("2026-05-10T10:00:00", "m1", wa_id=None, user_id=bsuid),
        inbound("2026-05-10T11:00:00", "m2", wa_id="16505551234", user_id=bsuid),
    )
    thread = replay.thread("2026-05-10T12:00:00")
    assert thread["contact"]["wa_id"] == "16505551234"
    assert thread["contact"]["bsuid"] == bsuid
    assert thread["service_window"]["last_inbound_at"] == "2026-05-10T11:00:00Z"
    assert len(thread["conversations"]) == 1
    assert thread["conversations"][0]["messages_count"] == 2


def test_9_cbp_service_then_utility_conversation_billed_once(replay: Replay) -> None:
    replay.add(
        inbound("2025-03-05T10:00:00", "in1"),
        outbound("2025-03-05T10:05:00", "reply"),
        status("2025-03-05T10:05:02", "reply", "delivered"),
        outbound("2025-03-05T11:00:00", "util1", template="receipt", category="utility"),
        status("2025-03-05T11:00:02", "util1", "delivered"),
        outbound("2025-03-05T15:00:00", "util2", template="receipt", category="utility"),
        status("2025-03-05T15:00:02", "util2", "delivered"),
    )
    thread = replay.thread("2025-03-05T16:00:00")
    reply, util1, util2 = (message(thread, i)["billing"] for i in ("reply", "util1", "util2"))
    assert (reply["model"], reply["category"], reply["billable"]) == ("CBP", "service", False)
    assert (util1["category"], util1["billable"]) == ("utility", True)
    assert (util2["category"], util2["billable"]) == ("utility", False)
