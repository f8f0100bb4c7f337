"""A thread's facts in canonical order, folded incrementally with snapshots.

``ThreadLog`` is the in-memory engine behind replay and the storage-backed
service: facts may arrive in any order and any number of times. A fact that
lands after all others is folded forward from the current state (O(1)); a late
fact that lands earlier refolds only from the nearest snapshot before it.
Conversation ids handed out earlier stay valid across such refolds: when a late
fact merges or moves conversations, the surviving id is kept, the absorbed id
becomes an alias, and ``conversation.merged``/``conversation.updated`` events
say so.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime

from wawindow.domain.conversations import Conversation
from wawindow.domain.drift import Drift
from wawindow.domain.events import DomainEvent, event
from wawindow.domain.facts import (
    InboundMessage,
    ManualClose,
    OutboundMessage,
    StatusUpdate,
    ThreadFact,
    UserCall,
    natural_key,
)
from wawindow.domain.messages import MessageRecord, merge_fact, status_rank
from wawindow.domain.policy import Policy
from wawindow.domain.pricing import Billing
from wawindow.domain.thread import Step, ThreadState, evolve

OrderKey = tuple[datetime, int, int, tuple[str, ...]]


def fact_order(fact: ThreadFact) -> OrderKey:
    """Time first; within one second, user messages before business ones, statuses in
    their natural progression, and closes last. The natural key breaks remaining ties."""
    match fact:
        case InboundMessage() | UserCall():
            rank, sub = 0, 0
        case OutboundMessage():
            rank, sub = 1, 0
        case StatusUpdate():
            rank, sub = 2, status_rank(fact.status)
        case ManualClose():
            rank, sub = 3, 0
    return (fact.at, rank, sub, natural_key(fact))


class ThreadLog:
    """All facts of one thread, their fold, and what the fold decided."""

    def __init__(self, line: str, policy: Policy, snapshot_every: int = 16) -> None:
        self.line = line
        self.policy = policy
        self._every = snapshot_every
        self._keys: list[OrderKey] = []
        self._facts: list[ThreadFact] = []
        self._seen: dict[tuple[str, ...], OrderKey] = {}
        self._steps: list[Step] = []
        self._snapshots: list[ThreadState] = [ThreadState(line)]
        self.records: dict[str, MessageRecord] = {}
        self._public: dict[str, str] = {}  # computed conversation id -> id handed out
        self.aliases: dict[str, str] = {}  # absorbed conversation id -> surviving id
        self._emitted: set[str] = set()
        self._first_key: dict[str, OrderKey] = {}  # earliest fact of each message
        self.changed_from = 0  # the first step the latest add() folded (again)
        self._placed_at: dict[str, int] = {}  # message id -> the step that placed it
        self._billed_at: dict[str, int] = {}  # message id -> the step that billed it

    # -- adding facts -------------------------------------------------------

    def add(self, fact: ThreadFact) -> list[DomainEvent]:
        """Fold one fact in; returns the events it caused that were not emitted before."""
        key = natural_key(fact)
        order = fact_order(fact)
        known = self._seen.get(key)
        refold_at = len(self._steps)
        if known is not None:
            if known <= order:
                return []  # a copy, or the same fact reported later: the earliest stands
            refold_at = self._forget(known)
        self._seen[key] = order
        index = bisect.bisect_right(self._keys, order)
        self._keys.insert(index, order)
        self._facts.insert(index, fact)
        refold_at = min(refold_at, index)
        if not isinstance(fact, UserCall | ManualClose):
            self.records[fact.message_id] = merge_fact(self.records.get(fact.message_id), fact)
            refold_at = min(refold_at, self._first_read_of_record(fact, order))
        self.changed_from = refold_at
        if refold_at == len(self._steps):
            return self._fold_forward()
        self.changed_from = (refold_at // self._every) * self._every
        return self._refold_from(refold_at)

    def _forget(self, order: OrderKey) -> int:
        """Drop a fact that an earlier report of the same fact replaces; the fold must
        start again from where it stood (the returned index)."""
        index = bisect.bisect_left(self._keys, order)
        del self._keys[index]
        del self._facts[index]
        return index

    def _first_read_of_record(
        self, fact: InboundMessage | OutboundMessage | StatusUpdate, order: OrderKey
    ) -> int:
        """Where the fold must start again because this fact changed a message's record.

        Steps from a message's first status on read its type and category from the
        record, so a send record that sorts after them must fold them again."""
        first = self._first_key.get(fact.message_id)
        self._first_key[fact.message_id] = order if first is None else min(first, order)
        if not isinstance(fact, OutboundMessage) or first is None or first >= order:
            return len(self._steps)
        return bisect.bisect_left(self._keys, first)

    def extend(self, facts: Iterable[ThreadFact]) -> list[DomainEvent]:
        """Add many facts; sorting first keeps every step on the fold-forward path."""
        events: list[DomainEvent] = []
        for fact in sorted(facts, key=fact_order):
            events.extend(self.add(fact))
        return events

    def _fold_forward(self) -> list[DomainEvent]:
        return self._fresh(self._renamed_events(list(self._step().events), set()))

    def _step(self) -> Step:
        index = len(self._steps)
        if index and index % self._every == 0:
            self._snapshots.append(self.state)
        step = evolve(self.state, self._facts[index], self.records, self.policy)
        self._steps.append(step)
        if step.placed is not None:
            self._placed_at[step.placed[0]] = index
            if _starts_conversation(step):
                # A conversation born here has no id handed out yet; a mapping left by an
                # earlier fold is stale (a refold's reconcile sets the right one after).
                self._public.pop(step.placed[1], None)
        if step.billing is not None:
            self._billed_at[step.billing[0]] = index
        return step

    def _refold_from(self, index: int) -> list[DomainEvent]:
        snapshot = index // self._every
        start = snapshot * self._every
        before = self._placements(start)
        started = {c.id: c.started_at for c in self._conversations_from(start)}
        del self._snapshots[snapshot + 1 :]
        del self._steps[start:]
        raw: list[DomainEvent] = []
        while len(self._steps) < len(self._facts):
            raw.extend(self._step().events)
        after = self._placements(start, public=False)
        at = self._facts[index].at
        changes = self._reconcile(before, after, started, at, start)
        handed_out = set(before.values()) | set(started)
        return self._fresh([*self._renamed_events(raw, handed_out), *changes])

    def _renamed_events(self, events: list[DomainEvent], handed_out: set[str]) -> list[DomainEvent]:
        """Name conversations by the ids handed out; one handed out before is not created again."""
        renamed = []
        for item in events:
            if item.type.startswith("conversation."):
                public = self.public_id(item.subject)
                if item.type == "conversation.created" and public in handed_out:
                    continue
                item = replace(item, subject=public)
            renamed.append(item)
        return renamed

    def _fresh(self, events: Iterable[DomainEvent]) -> list[DomainEvent]:
        fresh = [e for e in events if e.key not in self._emitted]
        self._emitted.update(e.key for e in fresh)
        return fresh

    # -- conversation ids across refolds ---------------------------------------

    def _placements(self, start: int, public: bool = True) -> dict[str, str]:
        name = self.public_id if public else str
        return {
            step.placed[0]: name(step.placed[1])
            for step in self._steps[start:]
            if step.placed is not None
        }

    def _conversations_from(self, start: int) -> list[Conversation]:
        """The conversations that steps from ``start`` on can touch (public ids)."""
        first = self._steps[start - 1].state.conversation if start else None
        found = [first] + [s.sealed for s in self._steps[start:]] + [self.state.conversation]
        return [_renamed(c, self.public_id(c.id)) for c in found if c is not None]

    def _reconcile(
        self,
        before: dict[str, str],
        after: dict[str, str],
        started: dict[str, datetime],
        at: datetime,
        start: int,
    ) -> list[DomainEvent]:
        """Keep ids handed out before a refold; say what merged or moved.

        Each conversation of the new fold keeps an id its messages had: its own
        first, else the oldest one free. One that had none (new messages, or the
        later part of a split) gets a new id."""
        groups: dict[str, list[str]] = {}
        for message_id, computed in after.items():
            groups.setdefault(computed, []).append(message_id)
        olds = {c: self._old_ids(c, ids, before, started, at) for c, ids in groups.items()}
        taken = self._ids_kept_before(start, groups)
        kept = {c: c for c, old in olds.items() if c in old and c not in taken}
        taken.update(kept.values())
        for computed, old in olds.items():
            free = next((o for o in old if o not in taken), None)
            if computed not in kept and free is not None:
                kept[computed] = free
                taken.add(free)
        events: list[DomainEvent] = []
        for computed, message_ids in groups.items():
            keep = kept.get(computed)
            if keep is None:
                self._public[computed] = self._new_id(computed, taken)
                taken.add(self._public[computed])
                continue
            self._public[computed] = keep
            for absorbed in olds[computed]:
                if absorbed not in taken:
                    self.aliases[absorbed] = keep
                    events.append(event("conversation.merged", at, keep, absorbed=absorbed))
            if set(message_ids) != {m for m, o in before.items() if o == keep}:
                events.append(event("conversation.updated", at, keep))
        # The conversation open at the refold point, if it lost its later messages.
        for shrunk in sorted(set(before.values()) - set(kept.values()) - set(self.aliases)):
            events.append(event("conversation.updated", at, shrunk))
        return events

    def _new_id(self, computed: str, taken: set[str]) -> str:
        """A conversation with no id of its own yet; its natural id may be kept by another
        (one outside the refolded stretch included)."""
        self._public.pop(computed, None)
        in_use = taken | set(self._public.values()) | set(self.aliases)
        candidate, n = computed, 1
        while candidate in in_use:
            n += 1
            candidate = f"{computed}_{n}"
        return candidate

    def _ids_kept_before(self, start: int, groups: dict[str, list[str]]) -> set[str]:
        """The id of the conversation open at the refold point, if no refolded message
        joined it: it keeps its id, so no conversation after it may take it."""
        anchor = self._steps[start - 1].state.conversation if start else None
        if anchor is None or anchor.id in groups:
            return set()
        return {self.public_id(anchor.id)}

    def _old_ids(
        self,
        computed: str,
        message_ids: list[str],
        before: dict[str, str],
        started: dict[str, datetime],
        at: datetime,
    ) -> list[str]:
        """The ids handed out for these messages before the refold, oldest first."""
        candidates = {before[m] for m in message_ids if m in before}
        if self.public_id(computed) in started:
            candidates.add(self.public_id(computed))  # it ran before the refold point
        return sorted(candidates, key=lambda c: (started.get(c, at), c))

    def adopt_ids(self, stored: Mapping[str, str], aliases: Mapping[str, str]) -> None:
        """After folding stored facts afresh, keep the conversation ids handed out before:
        each conversation takes the stored id of its earliest message that has one."""
        taken: set[str] = set()
        for step in self._steps:
            if step.placed is None or step.placed[1] in self._public:
                continue
            old = stored.get(step.placed[0])
            if old is not None and old not in taken:
                self._public[step.placed[1]] = old
                taken.add(old)
        self.aliases.update(aliases)

    def public_id(self, computed: str) -> str:
        return self._public.get(computed, computed)

    def resolve(self, conversation_id: str) -> str:
        """An id absorbed by a merge resolves to the surviving conversation."""
        while conversation_id in self.aliases:
            conversation_id = self.aliases[conversation_id]
        return conversation_id

    # -- what the fold decided ---------------------------------------------------

    @property
    def state(self) -> ThreadState:
        return self._steps[-1].state if self._steps else self._snapshots[0]

    @property
    def facts(self) -> list[ThreadFact]:
        return list(self._facts)

    def conversations(self) -> list[Conversation]:
        """Every conversation, oldest first, under the ids handed out."""
        found = [step.sealed for step in self._steps if step.sealed is not None]
        if self.state.conversation is not None:
            found.append(self.state.conversation)
        return [_renamed(c, self.public_id(c.id)) for c in found]

    def placements(self) -> dict[str, str]:
        return self._placements(0)

    def changed_messages(self) -> set[str]:
        """Messages whose conversation, billing or record the latest add() may have changed."""
        changed: set[str] = set()
        for index in range(self.changed_from, len(self._steps)):
            fact, step = self._facts[index], self._steps[index]
            if not isinstance(fact, UserCall | ManualClose):
                changed.add(fact.message_id)
            if step.placed is not None:
                changed.add(step.placed[0])
        return changed

    def changed_conversations(self) -> list[Conversation]:
        """Conversations the latest add() may have changed (all of them after a refold)."""
        if self.changed_from < len(self._steps) - 1:
            return self.conversations()
        last = self._steps[-1] if self._steps else None
        found = [last.sealed if last else None, self.state.conversation]
        return [_renamed(c, self.public_id(c.id)) for c in found if c is not None]

    def estimates(self) -> dict[str, Billing]:
        return {s.billing[0]: s.billing[1] for s in self._steps if s.billing is not None}

    def estimates_of(self, message_ids: Iterable[str]) -> dict[str, Billing]:
        """The estimates of some messages, reading only the steps that billed them."""
        wanted = set(message_ids)
        found: dict[str, Billing] = {}
        for message_id in wanted:
            index = self._billed_at.get(message_id)
            if index is not None and index < len(self._steps):
                billing = self._steps[index].billing
                if billing is not None and billing[0] == message_id:
                    found[message_id] = billing[1]
        return found

    def conversation_of(self, message_id: str) -> str | None:
        index = self._placed_at.get(message_id)
        if index is None or index >= len(self._steps):
            return None
        placed = self._steps[index].placed
        if placed is None or placed[0] != message_id:
            return None
        return self.public_id(placed[1])

    def changed_drift(self) -> list[Drift]:
        steps = self._steps[self.changed_from :]
        return [s.drift for s in steps if s.drift is not None]

    def drift(self) -> list[Drift]:
        return [s.drift for s in self._steps if s.drift is not None]


def _renamed(conversation: Conversation, public_id: str) -> Conversation:
    return conversation if conversation.id == public_id else replace(conversation, id=public_id)


def _starts_conversation(step: Step) -> bool:
    current = step.state.conversation
    return (
        step.placed is not None
        and current is not None
        and current.id == step.placed[1]
        and current.first_message_id == step.placed[0]
    )
