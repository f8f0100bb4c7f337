"""The customer service window (DESIGN 1.3): last inbound + 24h, provider evidence wins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from wawindow.domain.service_window import ServiceWindow

SECOND = timedelta(seconds=1)
INBOUND = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
EXPIRY = datetime(2026, 3, 11, 10, 0, tzinfo=UTC)


def test_no_inbound_means_no_window() -> None:
    window = ServiceWindow()
    assert window.expires_at is None
    assert window.ends_at is None
    assert not window.is_open(INBOUND)


def test_inbound_opens_it_for_24_hours() -> None:
    window = ServiceWindow().on_inbound(INBOUND)
    assert window.last_inbound_at == INBOUND
    assert window.expires_at == EXPIRY
    assert window.ends_at == EXPIRY


def test_open_from_the_inbound_instant() -> None:
    window = ServiceWindow().on_inbound(INBOUND)
    assert window.is_open(INBOUND)
    assert not window.is_open(INBOUND - SECOND)


def test_open_one_second_before_expiry() -> None:
    assert ServiceWindow().on_inbound(INBOUND).is_open(EXPIRY - SECOND)


def test_closed_exactly_at_expiry() -> None:
    window = ServiceWindow().on_inbound(INBOUND)
    assert not window.is_open(EXPIRY)
    assert not window.is_open(EXPIRY + SECOND)


def test_each_later_inbound_resets_the_expiry() -> None:
    later = INBOUND + timedelta(hours=5)
    window = ServiceWindow().on_inbound(INBOUND).on_inbound(later)
    assert window.expires_at == later + timedelta(hours=24)
    assert window.is_open(EXPIRY)


def test_an_earlier_inbound_does_not_move_the_window_back() -> None:
    window = ServiceWindow().on_inbound(INBOUND)
    assert window.on_inbound(INBOUND - timedelta(hours=1)) is window


def test_provider_closure_ends_it_at_the_send_time() -> None:
    sent = INBOUND + timedelta(hours=2)
    window = ServiceWindow().on_inbound(INBOUND).closed_by_provider(sent)
    assert window.closed_by_provider_at == sent
    assert window.expires_at == EXPIRY  # the arithmetic is unchanged
    assert window.ends_at == sent
    assert window.is_open(sent - SECOND)
    assert not window.is_open(sent)


def test_provider_closure_after_expiry_does_not_extend_it() -> None:
    window = ServiceWindow().on_inbound(INBOUND).closed_by_provider(EXPIRY + timedelta(hours=3))
    assert window.ends_at == EXPIRY


def test_earliest_provider_closure_wins() -> None:
    early, late = INBOUND + timedelta(hours=1), INBOUND + timedelta(hours=2)
    window = ServiceWindow().on_inbound(INBOUND)
    assert window.closed_by_provider(early).closed_by_provider(late).ends_at == early
    assert window.closed_by_provider(late).closed_by_provider(early).ends_at == early
    first = window.closed_by_provider(early)
    assert first.closed_by_provider(late) is first


def test_next_inbound_reopens_after_provider_closure() -> None:
    closed = ServiceWindow().on_inbound(INBOUND).closed_by_provider(INBOUND + timedelta(hours=1))
    again = INBOUND + timedelta(hours=3)
    reopened = closed.on_inbound(again)
    assert reopened.closed_by_provider_at is None
    assert reopened.is_open(again)
    assert reopened.ends_at == again + timedelta(hours=24)


def test_can_judge_any_time_without_inbound() -> None:
    assert ServiceWindow().can_judge(INBOUND)


def test_can_judge_at_or_after_the_last_inbound_only() -> None:
    window = ServiceWindow().on_inbound(INBOUND)
    assert window.can_judge(INBOUND)
    assert window.can_judge(EXPIRY + timedelta(days=3))
    assert not window.can_judge(INBOUND - SECOND)
