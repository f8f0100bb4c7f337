"""Hypothesis strategies: timelines of WhatsApp facts for one thread or a few users.

Facts are built directly with the domain dataclasses. Times are aware UTC
instants with second precision, spread over a few days from a base date in one
of the pricing eras (or across an era boundary). Message times sit mostly on a
6-hour or 15-minute grid so that ties within a second and gaps of exactly 24h
happen.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from hypothesis import strategies as st

from wawindow.domain.facts import (
    CloseReason,
    InboundMessage,
    ManualClose,
    OutboundMessage,
    ProviderError,
    ProviderPricing,
    Referral,
    StatusUpdate,
    TemplateRef,
    ThreadFact,
    UserCall,
)
from wawindow.domain.identity import Identity

LINE = "106540352242922"
OTHER_LINE = "106540352242999"
USER = Identity.of(wa_id="16505551234")

DAY_S = 24 * 3600
SPAN_S = 3 * DAY_S

BASES = {
    "CBP": datetime(2025, 3, 3, tzinfo=UTC),
    "CBP/PMP-1": datetime(2025, 6, 29, tzinfo=UTC),
    "PMP-1": datetime(2026, 3, 9, tzinfo=UTC),
    "PMP-1/PMP-2": datetime(2026, 9, 29, tzinfo=UTC),
    "PMP-2": datetime(2026, 11, 9, tzinfo=UTC),
}

CATEGORIES = ("marketing", "utility", "authentication")
STATUS_DELAYS_S = (0, 1, 2, 30, 60, 900, 3600, 5 * 3600, 20 * 3600, 26 * 3600)
# Meta's clock against ours: a status may be stamped a second or two before the send.
SKEWED_DELAYS_S = (-2, -1, *STATUS_DELAYS_S)
ERROR_CODES = (131047, 131047, 470, 131026)

T = TypeVar("T")


@dataclass(frozen=True)
class Timeline:
    """The facts of one thread (one line, one user), in the order they were generated."""

    base: datetime
    user: Identity
    facts: tuple[ThreadFact, ...]

    def at(self, offset_s: int) -> datetime:
        return self.base + timedelta(seconds=offset_s)


offsets = st.one_of(
    st.integers(0, SPAN_S // 21600).map(lambda q: q * 21600),  # exact 24h gaps
    st.integers(0, SPAN_S // 900).map(lambda q: q * 900),
    st.integers(0, SPAN_S),
)


@st.composite
def _outbound(
    draw: st.DrawFn,
    base: datetime,
    line: str,
    user: Identity,
    message_id: str,
    *,
    failures: bool,
    pricing: bool,
) -> list[ThreadFact]:
    at = base + timedelta(seconds=draw(offsets))
    category = draw(st.sampled_from((*CATEGORIES, None, None)))
    announced = draw(st.integers(0, 4)) > 0  # sometimes only statuses tell of it
    facts: list[ThreadFact] = []
    if announced:
        if category is None:
            facts.append(OutboundMessage(line, message_id, at, user, "text"))
        else:
            template = TemplateRef(f"tpl_{category}", "en_US")
            facts.append(
                OutboundMessage(line, message_id, at, user, "template", template, category)
            )
    choices = ("sent", "delivered", "read", "failed") if failures else ("sent", "delivered", "read")
    statuses = draw(st.lists(st.sampled_from(choices), unique=True, max_size=4))
    # Provider times follow the progression (sent <= delivered <= read); arrival order
    # is what the tests shuffle. A failure may come at any time after the send.
    # A skewed clock may stamp a status up to 2s before the send.
    delays = sorted(draw(st.sampled_from(SKEWED_DELAYS_S)) for _ in statuses)
    progression = sorted((s for s in statuses if s != "failed"), key=choices.index)
    delay_of = dict(zip(progression, delays, strict=False))
    for status in statuses:
        delay = delay_of.get(status)
        if delay is None:  # a failure: any time after the send
            delay = draw(st.sampled_from(STATUS_DELAYS_S))
        when = at + timedelta(seconds=delay)
        errors: tuple[ProviderError, ...] = ()
        if status == "failed":
            code = draw(st.sampled_from(ERROR_CODES))
            errors = (ProviderError(code, "Re-engagement message" if code != 131026 else "x"),)
        price = None
        if pricing and status in ("delivered", "read") and draw(st.integers(0, 5)) == 0:
            price = ProviderPricing(
                billable=draw(st.booleans()),
                model="PMP",
                category=category or "service",
                type=draw(st.sampled_from(("regular", "free_customer_service"))),
            )
        who = user if status != "failed" or draw(st.booleans()) else Identity()
        facts.append(StatusUpdate(line, message_id, status, when, who, errors, pricing=price))
    return facts


@st.composite
def thread_facts(
    draw: st.DrawFn,
    base: datetime,
    *,
    line: str = LINE,
    users: Sequence[Identity] = (USER,),
    prefix: str = "",
    failures: bool = True,
    pricing: bool = True,
    max_inbound: int = 6,
    max_outbound: int = 7,
    max_closes: int = 2,
    referral_one_in: int = 4,
) -> list[ThreadFact]:
    """The facts of one user on one line; ``users`` are the identities facts may name."""
    identity = st.sampled_from(list(users))
    facts: list[ThreadFact] = []
    for i in range(draw(st.integers(0, max_inbound))):
        at = base + timedelta(seconds=draw(offsets))
        referral = None
        if draw(st.integers(1, referral_one_in)) == 1:
            referral = Referral("ad", "AD1", "https://fb.me/ad1", f"clid{i}")
        kind = draw(st.sampled_from(("text", "text", "image", "button")))
        facts.append(
            InboundMessage(line, f"wamid.{prefix}in{i}", at, draw(identity), kind, referral)
        )
    for i in range(draw(st.integers(0, 2))):
        at = base + timedelta(seconds=draw(offsets))
        facts.append(UserCall(line, f"call.{prefix}{i}", at, draw(identity)))
    for i in range(draw(st.integers(0, max_outbound))):
        facts.extend(
            draw(
                _outbound(
                    base,
                    line,
                    draw(identity),
                    f"wamid.{prefix}out{i}",
                    failures=failures,
                    pricing=pricing,
                )
            )
        )
    for i in range(draw(st.integers(0, max_closes))):
        at = base + timedelta(seconds=draw(offsets))
        reason = draw(st.sampled_from(tuple(CloseReason)))
        facts.append(ManualClose(line, f"close.{prefix}{i}", at, draw(identity), reason))
    return facts


@st.composite
def timelines(
    draw: st.DrawFn, *, failures: bool = True, pricing: bool = True, max_closes: int = 2
) -> Timeline:
    base = draw(st.sampled_from(list(BASES.values())))
    facts = draw(thread_facts(base, failures=failures, pricing=pricing, max_closes=max_closes))
    return Timeline(base, USER, tuple(facts))


@st.composite
def pmp1_timelines(draw: st.DrawFn) -> Timeline:
    """PMP-1 only (2026-03), with failures, many referrals, no provider pricing."""
    base = BASES["PMP-1"]
    facts = draw(
        thread_facts(base, failures=True, pricing=False, max_outbound=9, referral_one_in=2)
    )
    return Timeline(base, USER, tuple(facts))


@st.composite
def multi_user_facts(draw: st.DrawFn) -> tuple[datetime, list[ThreadFact]]:
    """A few users on one or two lines; some named by phone, some by BSUID, some by both."""
    base = draw(st.sampled_from(list(BASES.values())))
    facts: list[ThreadFact] = []
    for u in range(draw(st.integers(1, 3))):
        phone = f"1650555{1000 + u}"
        bsuid = f"US.1349120865530274{1000 + u}"
        shapes = draw(
            st.sampled_from(
                (
                    (Identity.of(wa_id=phone),),
                    (Identity.of(bsuid=bsuid),),
                    (Identity.of(wa_id=phone), Identity.of(wa_id=phone, bsuid=bsuid)),
                    (Identity.of(wa_id=phone), Identity.of(bsuid=bsuid)),
                )
            )
        )
        line = draw(st.sampled_from((LINE, LINE, OTHER_LINE)))
        facts.extend(
            draw(
                thread_facts(
                    base, line=line, users=shapes, prefix=f"u{u}.", max_inbound=4, max_outbound=4
                )
            )
        )
    return base, facts


def shuffled_with_duplicates(rnd: random.Random, items: Sequence[T]) -> list[T]:
    """Every item at least once, some twice or three times, in a random order."""
    out = list(items)
    for item in items:
        for _ in range(rnd.choice((0, 0, 0, 1, 2))):
            out.append(item)
    rnd.shuffle(out)
    return out
