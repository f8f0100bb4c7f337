"""Durations as people and APIs write them: ISO 8601 (``PT30M``) and the short ``30m``.

The HTTP API speaks ISO 8601 only, in the subset that has a fixed length:
days, hours, minutes and whole seconds (``P1D``, ``PT2H``, ``PT1H30M``,
``PT45S``); years, months and weeks are refused because their length depends
on the calendar. The command line also takes the short form: a number and a
unit, repeated (``30m``, ``2h``, ``1h30m``, ``90s``, ``0s``).

``format_duration`` writes the ISO form back with the largest units, hours at
most (``PT24H`` rather than ``P1D``), so a value reads the same way it is set.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Final

_ISO: Final = re.compile(
    r"P(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?"
)
_SHORT: Final = re.compile(
    r"(?:(?P<days>\d+)d)?(?:(?P<hours>\d+)h)?(?:(?P<minutes>\d+)m)?(?:(?P<seconds>\d+)s)?"
)
_LONGEST_DIGITS: Final = 9  # no tenant setting needs more; keeps timedelta from overflowing


class DurationError(ValueError):
    """Not a duration in the accepted forms; the message shows them."""


def parse_iso_duration(text: str) -> timedelta:
    """``PT30M``, ``PT2H``, ``P1DT2H``, ``PT90S`` (upper-case designators, as ISO 8601)."""
    match = _ISO.fullmatch(text.strip())
    if match is None or text.strip() in ("P", "PT"):
        raise DurationError(
            f"{text!r} is not an ISO 8601 duration such as PT30M, PT2H or PT90S "
            "(days, hours, minutes and whole seconds only)"
        )
    return _from_parts(match.groupdict())


def parse_duration(text: str) -> timedelta:
    """ISO 8601 (``PT30M``) or the short form (``30m``, ``2h``, ``1h30m``, ``60s``)."""
    value = text.strip()
    if value.upper().startswith("P"):
        return parse_iso_duration(value.upper())
    match = _SHORT.fullmatch(value.lower())
    if not value or match is None:
        raise DurationError(
            f"{text!r} is not a duration: write e.g. 30m, 2h, 1h30m, 90s, or PT30M (ISO 8601)"
        )
    return _from_parts(match.groupdict())


def format_duration(value: timedelta) -> str:
    """ISO 8601 with hours, minutes and seconds: ``PT1H30M``, ``PT45S``, ``PT0S``."""
    seconds = int(value.total_seconds())
    if seconds < 0:
        raise DurationError("a negative duration has no ISO 8601 form here")
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n]
    return "PT" + ("".join(parts) or "0S")


def _from_parts(parts: dict[str, str | None]) -> timedelta:
    numbers = {unit: value for unit, value in parts.items() if value is not None}
    if any(len(value) > _LONGEST_DIGITS for value in numbers.values()):
        raise DurationError("that duration is far too long")
    return timedelta(**{unit: int(value) for unit, value in numbers.items()})
