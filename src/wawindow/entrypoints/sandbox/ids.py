"""Ids as WhatsApp hands them out, from a seed: the same seed gives the same ids.

Each kind of id (message ids, conversation ids, call ids, trace ids…) has its own
random stream seeded from the sandbox's seed, so the ids of one kind depend only on
how many of that kind came before. A user's BSUID is derived from the seed and the
phone number alone, so it does not depend on the order users appear in.

Message ids are made of letters and digits only (no ``/`` or ``+``), so they can
go into URL paths unescaped.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import string
from typing import Final

_ALNUM: Final = string.ascii_letters + string.digits


class IdSource:
    """Ids for one sandbox; ``seed=None`` picks a random seed (``seed`` tells which)."""

    def __init__(self, seed: int | None = None) -> None:
        self.seed = secrets.randbits(48) if seed is None else seed
        self._streams: dict[str, random.Random] = {}

    def _stream(self, kind: str) -> random.Random:
        stream = self._streams.get(kind)
        if stream is None:
            stream = self._streams[kind] = random.Random(f"wawindow-sandbox:{self.seed}:{kind}")
        return stream

    def _alnum(self, kind: str, length: int) -> str:
        stream = self._stream(kind)
        return "".join(stream.choice(_ALNUM) for _ in range(length))

    def message_id(self) -> str:
        """``wamid.HBgL…``: the shape of the Cloud API's message ids."""
        return "wamid.HBgL" + self._alnum("wamid", 46)

    def call_id(self) -> str:
        return "wacid." + self._alnum("wacid", 28)

    def conversation_id(self) -> str:
        """32 hex digits, as in ``conversation.id`` of status webhooks."""
        return f"{self._stream('conversation').getrandbits(128):032x}"

    def fbtrace_id(self) -> str:
        return self._alnum("fbtrace", 27)

    def ctwa_clid(self) -> str:
        """A click id for an ad referral (``referral.ctwa_clid``)."""
        return "ARA" + self._alnum("ctwa", 40)

    def bsuid_for(self, wa_id: str, region: str) -> str:
        """The business-scoped user id of a phone number: ``US.`` then 20 digits."""
        digest = hashlib.sha256(f"{self.seed}:{wa_id}".encode()).digest()
        return f"{region}.{int.from_bytes(digest[:9], 'big') % 10**20:020d}"
