"""The WhatsApp users the sandbox knows: phone numbers, business-scoped user ids, names.

A user who writes from a phone number gets a BSUID at once (derived from the seed
and the number, country prefix from the number), as Meta gives every user one; a
user who writes with only ``from_user_id`` has a hidden number and is known by the
BSUID alone. Naming both links them, as a payload carrying both does for WhatsApp.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import phonenumbers

from wawindow.adapters.markets import market_of
from wawindow.entrypoints.sandbox.ids import IdSource
from wawindow.entrypoints.sandbox.webhook_bodies import Person

FALLBACK_REGION = "US"


class UserConflict(ValueError):
    """A phone number and a BSUID that belong to two different users."""


@dataclass
class User:
    """One WhatsApp user; ``key`` is stable for the life of the sandbox."""

    key: int
    wa_id: str | None
    bsuid: str
    name: str
    username: str | None = None

    def person(self) -> Person:
        return Person(self.wa_id, self.bsuid, self.name, self.username)


def region_of(wa_id: str) -> str:
    """The country of a phone number for its BSUID prefix; the calling code's main country
    when the number is in no known range (Meta's test numbers, ``+1 555…``)."""
    market = market_of(wa_id)
    if market is not None:
        return market
    try:
        number = phonenumbers.parse("+" + wa_id)
    except phonenumbers.NumberParseException:
        return FALLBACK_REGION
    region = phonenumbers.region_code_for_country_code(number.country_code or 0)
    return region if region not in ("ZZ", "001") else FALLBACK_REGION


class UserBook:
    """Users by phone number and by BSUID."""

    def __init__(self, ids: IdSource) -> None:
        self._ids = ids
        self._users: list[User] = []
        self._by_wa_id: dict[str, User] = {}
        self._by_bsuid: dict[str, User] = {}

    def __iter__(self) -> Iterator[User]:
        return iter(self._users)

    def find(self, wa_id: str | None = None, bsuid: str | None = None) -> User | None:
        by_phone = self._by_wa_id.get(wa_id) if wa_id else None
        return by_phone or (self._by_bsuid.get(bsuid) if bsuid else None)

    def identify(
        self,
        wa_id: str | None,
        bsuid: str | None,
        name: str | None = None,
        username: str | None = None,
    ) -> User:
        """The user these ids name, created when new; ``name``/``username`` update it."""
        by_phone = self._by_wa_id.get(wa_id) if wa_id else None
        by_bsuid = self._by_bsuid.get(bsuid) if bsuid else None
        if by_phone is not None and by_bsuid is not None and by_phone is not by_bsuid:
            raise UserConflict(f"{wa_id} and {bsuid} are two different users")
        user = by_phone or by_bsuid or self._new(wa_id, bsuid)
        if wa_id and user.wa_id is None:
            user.wa_id = wa_id
            self._by_wa_id[wa_id] = user
        if bsuid and user.bsuid != bsuid:
            # The request names this user's BSUID: it is the one WhatsApp knows now.
            self._by_bsuid.pop(user.bsuid, None)
            user.bsuid = bsuid
            self._by_bsuid[bsuid] = user
        user.name = name or user.name
        user.username = username or user.username
        return user

    def _new(self, wa_id: str | None, bsuid: str | None) -> User:
        if bsuid is None:
            assert wa_id is not None, "a user needs a phone number or a BSUID"
            bsuid = self._ids.bsuid_for(wa_id, region_of(wa_id))
        tail = (wa_id or bsuid)[-4:]
        user = User(len(self._users) + 1, wa_id, bsuid, f"Sandbox user {tail}")
        self._users.append(user)
        self._by_bsuid[bsuid] = user
        if wa_id:
            self._by_wa_id[wa_id] = user
        return user
