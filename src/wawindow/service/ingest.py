"""Ingest: store a webhook body and its facts, fold each new fact into its thread.

Everything for one body happens in one transaction (``IngestStore``): the raw
body, the facts (each once, by natural key), contact links and merges, the
thread's read models and the events they cause. The caller acknowledges the
webhook only after ``ingest`` returns.

Threads are folded by ``ThreadLog``s kept in a small in-process cache. The
database stays the truth: a cached log is used only while its version matches
the thread row's (locked for the transaction), and is rebuilt from the stored
facts otherwise, so several processes can share one database. A log folded under
other tenant settings than the tenant's current ones is rebuilt too.

Each fold also keeps the thread's due times (``domain.deadlines``) in the index:
the ones the fact cancels go, new ones come, and the ones the fact proves past
are emitted at once, before the fact's own events (``service.timed_events``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from wawindow.domain.deadlines import (
    Deadline,
    DuePlan,
    deadlines,
    plan_due_changes,
    replace_due,
)
from wawindow.domain.events import DomainEvent
from wawindow.domain.facts import (
    BsuidChanged,
    Fact,
    IdentityObserved,
    ManualClose,
    StatusUpdate,
    TemplateChange,
    ThreadFact,
    natural_key,
)
from wawindow.domain.identity import Identity, plan_merge
from wawindow.domain.policy import Policy
from wawindow.domain.thread import ThreadState
from wawindow.domain.timeline import ThreadLog
from wawindow.service.ports import IngestStore, LineInfo, ThreadRef
from wawindow.service.templates_registry import StoredTemplate, apply_template_change
from wawindow.service.tenant_settings import policy_from_settings
from wawindow.service.thread_changes import thread_changes
from wawindow.service.timed_events import OutboxEvent, emit_due


@dataclass
class IngestOutcome:
    duplicate: bool = False
    stored: int = 0  # new facts
    stored_kinds: dict[str, int] = field(default_factory=dict)  # fact class name -> count
    repeated: int = 0  # facts stored before (a retried or overlapping webhook)
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> count
    events: list[DomainEvent] = field(default_factory=list)
    threads: list[ThreadRef] = field(default_factory=list)  # the threads facts were folded into

    def drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1


class ThreadCache:
    """Recently folded threads, by id, with the version they were folded to."""

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._logs: OrderedDict[str, tuple[int, ThreadLog]] = OrderedDict()
        self._lock = threading.Lock()  # requests run on a thread pool

    def get(self, thread: ThreadRef) -> ThreadLog | None:
        """A log at the thread's stored version, taken out of the cache: the caller folds
        into it inside its transaction and puts it back only after the commit."""
        with self._lock:
            entry = self._logs.pop(thread.id, None)
        if entry is None or entry[0] != thread.version:
            return None
        return entry[1]

    def put(self, thread_id: str, version: int, log: ThreadLog) -> None:
        with self._lock:
            self._logs[thread_id] = (version, log)
            self._logs.move_to_end(thread_id)
            while len(self._logs) > self._size:
                self._logs.popitem(last=False)

    def discard(self, thread_ids: Sequence[str]) -> None:
        with self._lock:
            for thread_id in thread_ids:
                self._logs.pop(thread_id, None)


class ThreadReader(Protocol):
    """What folding a stored thread reads (``IngestStore`` has it, as do read-only stores)."""

    def thread_facts(self, thread_id: str) -> list[ThreadFact]: ...


class Ingestor:
    """The ingest use case; one per process, sharing its thread cache."""

    def __init__(self, cache: ThreadCache | None = None) -> None:
        self.cache = cache or ThreadCache()

    def ingest(
        self,
        store: IngestStore,
        provider: str,
        body: bytes,
        facts: Sequence[Fact],
        accounts: Sequence[str],
        received_at: datetime,
        trusted_lines: frozenset[str] | None = None,
    ) -> IngestOutcome:
        """``trusted_lines``: the lines whose app secret signed the body (``None``: all,
        for a backfill); facts for any other line are dropped, never stored."""
        run = _Run(store, self.cache, received_at, trusted_lines)
        return run.ingest(provider, body, facts, accounts)

    def close(
        self, store: IngestStore, thread_id: str, fact: ManualClose, now: datetime
    ) -> IngestOutcome:
        """Record a close made through the API and fold it into its thread (one transaction)."""
        run = _Run(store, self.cache, now, None)
        return run.close(thread_id, fact)

    def record(
        self,
        store: IngestStore,
        facts: Sequence[Fact],
        now: datetime,
        before_commit: Callable[[IngestOutcome], None] | None = None,
    ) -> IngestOutcome:
        """Record facts wawindow made itself (a send it made) and fold them in, in the
        store's transaction; ``before_commit`` writes more into it (e.g. the send's row)."""
        run = _Run(store, self.cache, now, None)
        return run.record(facts, before_commit)

    def thread_state(self, store: ThreadReader, thread: ThreadRef, line: LineInfo) -> ThreadState:
        """The folded state of a stored thread, e.g. for the send gate.

        A cached log at the thread's version is used (and put back); otherwise the
        thread is folded from its facts and *not* cached: a read outside the writer's
        lock may see facts of a later version than ``thread.version``.
        """
        log = self.cache.get(thread)
        if log is not None:
            state = log.state  # before the log goes back: another fold may take it then
            self.cache.put(thread.id, thread.version, log)
            return state
        log = ThreadLog(line.phone_number_id, policy_for(line))
        log.extend(store.thread_facts(thread.id))
        return log.state


class _Run:
    """One body's ingestion, inside one transaction."""

    def __init__(
        self,
        store: IngestStore,
        cache: ThreadCache,
        now: datetime,
        trusted_lines: frozenset[str] | None,
    ) -> None:
        self.store, self.cache, self.now = store, cache, now
        self.trusted = trusted_lines
        self.touched: dict[str, int] = {}  # thread id -> version saved
        self.locked: set[str] = set()  # tenants whose contacts this transaction holds
        self._logs: dict[str, ThreadLog] = {}
        self._loaded: dict[str, int] = {}  # thread id -> version when its log was taken
        self._settings: dict[str, Policy] = {}  # tenant id -> its settings
        self.outcome = IngestOutcome()

    def ingest(
        self, provider: str, body: bytes, facts: Sequence[Fact], accounts: Sequence[str]
    ) -> IngestOutcome:
        inbox_id = self.store.add_inbox(provider, body, self.now)
        if inbox_id is None:
            self.outcome.duplicate = True
            return self.outcome
        self._learn_accounts(facts, accounts)
        for fact in facts:
            self._one(fact, inbox_id)
        dropped = sum(self.outcome.dropped.values())
        self.store.set_inbox_counts(inbox_id, self.outcome.stored, dropped)
        self.store.commit()
        self._return_logs()
        return self.outcome

    def record(
        self, facts: Sequence[Fact], before_commit: Callable[[IngestOutcome], None] | None
    ) -> IngestOutcome:
        for fact in facts:
            self._one(fact, None)
        if before_commit is not None:
            before_commit(self.outcome)
        self.store.commit()
        self._return_logs()
        return self.outcome

    def _return_logs(self) -> None:
        # Only after the commit: a log that saw a rolled-back transaction is never reused.
        for thread_id, log in self._logs.items():
            self.cache.put(thread_id, self.touched.get(thread_id, self._loaded[thread_id]), log)

    def close(self, thread_id: str, fact: ManualClose) -> IngestOutcome:
        thread = self.store.thread_by_id(thread_id)
        line = self.store.line(thread.line)
        if line is None:
            raise LookupError(f"no line {thread.line}")
        self._thread_fold(line, thread, fact, None)
        self.store.commit()
        self._return_logs()
        return self.outcome

    def _learn_accounts(self, facts: Sequence[Fact], accounts: Sequence[str]) -> None:
        """A body with one account and its lines tells which account a line belongs to."""
        if len(accounts) != 1:
            return
        for line in {f.line for f in facts if not isinstance(f, TemplateChange)}:
            self.store.learn_account(line, accounts[0])

    def _one(self, fact: Fact, inbox_id: int | None) -> None:
        if isinstance(fact, TemplateChange):
            self._template(fact, inbox_id)
            return
        line = self.store.line(fact.line)
        if line is None:
            self.outcome.drop("unknown_line")
            return
        if self.trusted is not None and line.phone_number_id not in self.trusted:
            self.outcome.drop("not_signed_for_line")
            return
        if isinstance(fact, IdentityObserved | BsuidChanged):
            self._identity(line, fact, inbox_id)
            return
        self._thread_fact(line, fact, inbox_id)

    def _template(self, fact: TemplateChange, inbox_id: int | None) -> None:
        lines = self.store.lines_of_account(fact.account)
        if self.trusted is not None:
            lines = [line for line in lines if line.phone_number_id in self.trusted]
        tenants = {line.tenant_id for line in lines}
        if not tenants:
            self.outcome.drop("unknown_account")
        for tenant_id in sorted(tenants):
            self._count(self.store.add_fact(tenant_id, fact, None, inbox_id, self.now), fact)
            # Also for a fact stored before: folding a change in twice changes nothing.
            mine = sorted(line.phone_number_id for line in lines if line.tenant_id == tenant_id)
            rows = self.store.template_rows()
            written = apply_template_change(rows, tenant_id, mine, fact, self.now)
            if written:
                updated = _template_updated(tenant_id, fact, written, self.now)
                self.store.add_outbox(updated, self.now)

    def _identity(
        self, line: LineInfo, fact: IdentityObserved | BsuidChanged, inbox_id: int | None
    ) -> None:
        identity = fact.user
        if isinstance(fact, BsuidChanged):
            identity = identity.union(Identity.of(bsuid=fact.previous_bsuid))
            identity = identity.union(Identity.of(bsuid=fact.new_bsuid))
        if identity:
            self._contact(line, identity, fact.at)
        self._count(self.store.add_fact(line.tenant_id, fact, None, inbox_id, self.now), fact)

    def _thread_fact(self, line: LineInfo, fact: ThreadFact, inbox_id: int | None) -> None:
        thread = self._thread(line, fact)
        if thread is None:
            self.outcome.drop("unidentified")
            self._count(self.store.add_fact(line.tenant_id, fact, None, inbox_id, self.now), fact)
            return
        self._thread_fold(line, thread, fact, inbox_id)

    def _thread_fold(
        self, line: LineInfo, thread: ThreadRef, fact: ThreadFact, inbox_id: int | None
    ) -> None:
        log = self._log(thread, line)
        self.outcome.threads.append(thread)
        stored = self.store.add_fact(line.tenant_id, fact, thread.id, inbox_id, self.now)
        if not self._count(stored, fact):
            return
        before = _due(log)
        events = log.add(fact)
        self._save(thread, log, events, plan_due_changes(before, _due(log), fact.at), fact.at)

    def _thread(self, line: LineInfo, fact: ThreadFact) -> ThreadRef | None:
        if fact.user:
            contact_id = self._contact(line, fact.user, fact.at)
            return self.store.thread_for(line.tenant_id, line.phone_number_id, contact_id, self.now)
        if isinstance(fact, StatusUpdate):
            # A failed status may name nobody: it belongs with the message it is about.
            return self.store.thread_of_message(line.tenant_id, fact.message_id)
        return None

    def _contact(self, line: LineInfo, identity: Identity, at: datetime) -> str:
        """The contact these identifiers name; links new ones, merges contacts they join."""
        tenant_id, ids = line.tenant_id, identity.identifiers
        if tenant_id not in self.locked:
            self.store.lock_tenant(tenant_id)
            self.locked.add(tenant_id)
        known = self.store.contacts_of(tenant_id, ids)
        ages = self.store.contact_ages(tenant_id, set(known.values()))
        plan = plan_merge(known, ids, ages)
        if plan.survivor is None:
            contact_id = self.store.new_contact(tenant_id, identity.name, at)
            self.store.attach_identifiers(tenant_id, contact_id, ids, at)
            return contact_id
        if plan.new_identifiers:
            self.store.attach_identifiers(tenant_id, plan.survivor, plan.new_identifiers, at)
        if plan.absorbed:
            self._merge(line, plan.survivor, plan.absorbed, at)
        if identity.name:
            self.store.observe_name(plan.survivor, identity.name, at)
        return plan.survivor

    def _merge(self, line: LineInfo, survivor: str, absorbed: Sequence[str], at: datetime) -> None:
        for gone in absorbed:
            self.store.add_outbox(_contact_merged(line, survivor, gone, at), self.now)
        refold = self.store.merge_contacts(line.tenant_id, survivor, absorbed)
        for thread_id in refold:
            self.cache.discard([thread_id])
            self._logs.pop(thread_id, None)
            thread = self.store.thread_by_id(thread_id)
            log = self._log(thread, line)
            # The old states are gone with the merge: what was due is emitted now, and only
            # what is still ahead is planned again (in the thread the facts moved to).
            self._save(thread, log, [], replace_due(_due(log), self.now), self.now, full=True)

    def _log(self, thread: ThreadRef, line: LineInfo) -> ThreadLog:
        policy = self._policy(line)
        log = self._logs.get(thread.id) or self.cache.get(thread)
        if log is None or log.policy != policy:
            log = ThreadLog(line.phone_number_id, policy)
            log.extend(self.store.thread_facts(thread.id))
            log.adopt_ids(*self.store.conversation_ids(thread.id))
        self._logs[thread.id] = log
        self._loaded.setdefault(thread.id, thread.version)
        return log

    def _policy(self, line: LineInfo) -> Policy:
        """The tenant's settings, read once per transaction (after its contacts' lock
        when the fact names a user, so a settings change is not folded half-way)."""
        settings = self._settings.get(line.tenant_id)
        if settings is None:
            settings = self._settings[line.tenant_id] = policy_from_settings(
                self.store.tenant_settings(line.tenant_id)
            )
        return policy_for(line, settings)

    def _save(
        self,
        thread: ThreadRef,
        log: ThreadLog,
        events: list[DomainEvent],
        plan: DuePlan,
        since: datetime,
        full: bool = False,
    ) -> None:
        """``since``: the time of the fact folded in; what was due until then is emitted
        before the fact's events, then the due times change as ``plan`` says."""
        emit_due(self.store, self.store.take_due_of_thread(thread.id, since), self.now)
        self.store.plan_due(thread, plan)
        version = self.touched.get(thread.id, thread.version) + 1
        self.store.save_thread(thread_changes(thread, version, log, events, full), self.now)
        self.touched[thread.id] = version
        self.outcome.events.extend(events)

    def _count(self, stored: bool, fact: Fact) -> bool:
        if stored:
            self.outcome.stored += 1
            kind = type(fact).__name__
            self.outcome.stored_kinds[kind] = self.outcome.stored_kinds.get(kind, 0) + 1
        else:
            self.outcome.repeated += 1
        return stored


def policy_for(line: LineInfo, settings: Policy | None = None) -> Policy:
    """The tenant's settings with the line's time zone."""
    return replace(settings or Policy(), timezone=ZoneInfo(line.timezone))


def _due(log: ThreadLog) -> list[Deadline]:
    """The thread's due times, naming conversations by the ids handed out."""
    return [
        replace(d, subject=log.public_id(d.subject)) if d.type.startswith("conversation.") else d
        for d in deadlines(log.state, log.policy)
    ]


def _contact_merged(line: LineInfo, survivor: str, absorbed: str, at: datetime) -> OutboxEvent:
    """A contact is absorbed once: its id alone keys the event."""
    return OutboxEvent(
        tenant_id=line.tenant_id,
        thread_id=None,
        type="contact.merged",
        key=f"contact.merged:{absorbed}",
        occurred_at=at,
        data={
            "subject": absorbed,
            "phone_number_id": line.phone_number_id,
            "contact_id": survivor,
            "absorbed_contact_id": absorbed,
        },
    )


def _template_updated(
    tenant_id: str, change: TemplateChange, written: Sequence[StoredTemplate], now: datetime
) -> OutboxEvent:
    """Keyed by the change's natural key: the same webhook change is one event."""
    template = written[0].template
    return OutboxEvent(
        tenant_id=tenant_id,
        thread_id=None,
        type="template.updated",
        key="template.updated:" + ":".join(natural_key(change)[1:]),
        occurred_at=change.at or now,
        data={
            "subject": change.template_id,
            "phone_number_ids": sorted({row.line for row in written}),
            "event": change.event,
            "template_id": template.template_id or change.template_id,
            "name": template.name,
            "language": template.language,
            "status": template.status,
            "status_reason": template.status_reason,
            "category": template.category,
            "previous_category": change.previous_category,
            "quality": template.quality,
        },
    )
