"""The sandbox's clock (on a wall clock the test moves) and its seeded ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from wawindow.entrypoints.sandbox.clock import SandboxClock, parse_duration
from wawindow.entrypoints.sandbox.ids import IdSource


class Wall:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


START = datetime(2026, 3, 10, 10, 0, 0, 500000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("24h", 86400),
        ("-3d", -259200),
        ("+90m", 5400),
        ("1d12h", 129600),
        ("45s", 45),
        ("3600", 3600),
        ("1.5h", 5400),
        (" 2D ", 172800),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "soon", "1 day", "h", "1h-2m", "--1h"])
def test_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_a_running_clock_follows_the_wall_clock_at_its_offset() -> None:
    wall = Wall(START)
    clock = SandboxClock(wall, offset=timedelta(hours=24))
    assert clock.now() == datetime(2026, 3, 11, 10, 0, tzinfo=UTC)  # whole seconds
    wall.at += timedelta(seconds=30)
    assert clock.now() == datetime(2026, 3, 11, 10, 0, 30, tzinfo=UTC)
    clock.advance(-3600)
    assert clock.now() == datetime(2026, 3, 11, 9, 0, 30, tzinfo=UTC)
    clock.set_offset(0)
    assert clock.now() == datetime(2026, 3, 10, 10, 0, 30, tzinfo=UTC)
    clock.set_at(datetime(2025, 3, 5, 10, 0, tzinfo=UTC))
    wall.at += timedelta(seconds=5)
    assert clock.now() == datetime(2025, 3, 5, 10, 0, 5, tzinfo=UTC)


def test_a_frozen_clock_moves_only_when_told_and_restarts_where_it_stands() -> None:
    wall = Wall(START)
    clock = SandboxClock(wall)
    clock.freeze()
    wall.at += timedelta(hours=1)
    assert clock.now() == datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
    assert clock.frozen
    clock.advance(60)
    clock.set_at(datetime(2026, 3, 12, 9, 0, tzinfo=UTC))
    assert clock.now() == datetime(2026, 3, 12, 9, 0, tzinfo=UTC)
    clock.thaw()
    wall.at += timedelta(seconds=10)
    assert clock.now() == datetime(2026, 3, 12, 9, 0, 10, tzinfo=UTC)
    assert not clock.frozen


def test_ids_depend_only_on_the_seed_and_how_many_of_their_kind_came_before() -> None:
    one, two, other = IdSource(5), IdSource(5), IdSource(6)
    two.conversation_id()  # another kind does not shift the message ids
    first = [one.message_id() for _ in range(3)]
    assert first == [two.message_id() for _ in range(3)]
    assert first != [other.message_id() for _ in range(3)]
    assert all(i.startswith("wamid.HBgL") and i[6:].isalnum() for i in first)
    assert len(one.conversation_id()) == 32
    assert one.call_id().startswith("wacid.")
    assert one.bsuid_for("16505551234", "US") == IdSource(5).bsuid_for("16505551234", "US")
    assert one.bsuid_for("16505551234", "US") != other.bsuid_for("16505551234", "US")
    assert one.bsuid_for("16505551234", "US").startswith("US.")
    assert IdSource().seed != IdSource().seed
