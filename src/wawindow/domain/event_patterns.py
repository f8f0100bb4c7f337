"""Which events an endpoint subscribed to: patterns over the event catalogue.

A pattern is one of

- ``*`` (or ``whatsapp.*``): every event of the catalogue;
- ``whatsapp.<family>.*``, e.g. ``whatsapp.conversation.*``: every event of a family;
- an event's full name, e.g. ``whatsapp.window.closed``.

Patterns are checked against the catalogue when an endpoint is saved, so a typo
is an error the tenant sees at once rather than a subscription that never fires.
The ``ping`` test event matches no pattern: it goes only to the endpoint tested.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from wawindow.domain.event_catalogue import EVENT_TYPES, TENANT_PREFIX, families, internal_name

EVERYTHING: Final = frozenset({"*", TENANT_PREFIX + "*"})
MAX_PATTERNS: Final = 100


class InvalidPattern(ValueError):
    """A pattern names no event of the catalogue; ``index`` is its place in the list."""

    def __init__(self, index: int | None, reason: str) -> None:
        super().__init__(reason)
        self.index = index
        self.reason = reason


def normalise_patterns(patterns: Sequence[str]) -> tuple[str, ...]:
    """The patterns, checked, in their order, without repeats; raises ``InvalidPattern``."""
    if not patterns:
        raise InvalidPattern(None, "subscribe to at least one event type ('*' for all)")
    if len(patterns) > MAX_PATTERNS:
        raise InvalidPattern(None, f"at most {MAX_PATTERNS} patterns")
    for index, pattern in enumerate(patterns):
        reason = _problem_with(pattern)
        if reason is not None:
            raise InvalidPattern(index, reason)
    return tuple(dict.fromkeys(patterns))


def matches(patterns: Iterable[str], event_type: str) -> bool:
    """Whether an event (internal name, e.g. ``window.closed``) is subscribed to."""
    if event_type not in EVENT_TYPES:
        return False  # ping, or a type this release does not know: never by pattern
    return any(_matches(pattern, event_type) for pattern in patterns)


def _matches(pattern: str, event_type: str) -> bool:
    if pattern in EVERYTHING:
        return True
    name = internal_name(pattern)
    if name is None:
        return False
    if name.endswith(".*"):
        return event_type.startswith(name[:-1])
    return name == event_type


def _problem_with(pattern: str) -> str | None:
    """Why ``pattern`` is not valid, or ``None`` when it is."""
    if pattern in EVERYTHING:
        return None
    name = internal_name(pattern)
    if name is None:
        return f"{pattern!r}: event types start with {TENANT_PREFIX!r} (or use '*')"
    if name.endswith(".*"):
        family = name[:-2]
        if family in families():
            return None
        known = ", ".join(sorted(families()))
        return f"{pattern!r}: no event family {family!r} (known: {known})"
    if name in EVENT_TYPES:
        return None
    return f"{pattern!r}: no such event type (see the event catalogue)"
