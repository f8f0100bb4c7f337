"""A Schemathesis run against the OpenAPI document the app serves: no 5xx, answers as documented.

The schema is loaded from ``GET /openapi.json`` of the real app (in-process,
through ASGI) and run by Schemathesis's engine, as ``schemathesis run`` would:
the examples, coverage, fuzzing and stateful phases over every operation the
document lists, so operations added later are walked without touching this file.

Requests carry the tenant's API key, and the tenant has seeded data
(``tests.api.seed``). Generated path, query and body values are sometimes
replaced by a coherent set of real ones (a contact's phone number with the line,
a template's line, name and language, a webhook endpoint…), so the happy paths
run too, not only the 404s and 422s.

Nothing leaves this machine: the tenant's line sends to a local Cloud API
(``GraphServer``, which accepts every send), the process's default Graph base
URL is that server too, and the background worker is off, so no webhook
endpoint (seeded or generated) is ever called.

Checks on every answer: no 5xx; the status code is one the operation documents;
the content type and the body match the documented schema; an operation that
needs a key refuses a request without it (``ignored_auth``). Examples are bounded
(``MAX_EXAMPLES`` per operation) and derandomized with a fixed seed, so a run is
the same every time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import hypothesis.strategies as st
import pytest
import schemathesis
from schemathesis.engine import events, from_schema
from schemathesis.engine.recorder import CheckNode
from schemathesis.hooks import HookContext
from schemathesis.python.asgi import shutdown_lifespans

from tests.api.client import ApiWorld
from tests.api.seed import THANDI_PHONE, UNROUTABLE, Seeded, seed
from tests.support.graph_server import GraphServer, graph_server

MAX_EXAMPLES = 25
SEED = 20260310
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "ignored_auth",
)
# The query API's operations: each must answer a 2xx at least once, or the seeded
# values never reached it and the run only saw its errors.
MUST_SUCCEED = (
    "GET /v1/conversations",
    "GET /v1/conversations/{conversation_id}",
    "POST /v1/conversations/{conversation_id}/close",
    "GET /v1/session-status",
    "POST /v1/contacts",
    "GET /v1/contacts",
    "GET /v1/contacts/{contact_id}",
    "GET /v1/messages",
    "GET /v1/messages/{message_id}",
    "GET /v1/templates",
    "POST /v1/templates",
    "GET /v1/templates/{phone_number_id}/{name}/{language}",
    "PATCH /v1/templates/{phone_number_id}/{name}/{language}",
    "GET /v1/billing/summary",
    "GET /v1/drift",
    "GET /v1/settings",
    "PATCH /v1/settings",
    "POST /v1/messages",
    "POST /v1/contacts/{contact_id}/reply",
    "POST /graph/{version}/{phone_number_id}/messages",
    "GET /v1/webhook-endpoints",
    "POST /v1/webhook-endpoints",
    "GET /v1/webhook-endpoints/{endpoint_id}",
    "PATCH /v1/webhook-endpoints/{endpoint_id}",
    "DELETE /v1/webhook-endpoints/{endpoint_id}",
    "POST /v1/webhook-endpoints/{endpoint_id}/rotate-secret",
    "POST /v1/webhook-endpoints/{endpoint_id}/enable",
    "POST /v1/webhook-endpoints/{endpoint_id}/test",
    "GET /v1/webhook-deliveries",
    "GET /v1/webhook-deliveries/{delivery_id}",
    "POST /v1/webhook-deliveries/{delivery_id}/redeliver",
)
# Parameters of which a request names exactly one: a seeded value of one drops the others.
ONE_OF = (
    frozenset({"contact_phone", "contact_bsuid", "customer_id", "contact_id"}),
    frozenset({"phone", "bsuid", "username", "external_ref", "provider_id"}),
    frozenset({"to", "contact_id", "bsuid"}),  # a send's recipient
    frozenset({"text", "type", "content", "template"}),  # a send's message
)
DELETE_ENDPOINT = "DELETE /v1/webhook-endpoints/{endpoint_id}"
GRAPH_PROXY = "POST /graph/{version}/{phone_number_id}/messages"


@dataclass
class RunReport:
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    statuses: dict[str, Counter[int]] = field(default_factory=dict)

    def record(self, event: events.ScenarioFinished) -> None:
        recorder = event.recorder
        for case_id, interaction in recorder.interactions.items():
            if interaction.response is not None:
                label = recorder.cases[case_id].value.operation.label
                self.statuses.setdefault(label, Counter())[interaction.response.status_code] += 1
        for case_id, checks in recorder.checks.items():
            for check in checks:
                if check.failure_info is not None:
                    self.failures.append(_failure_text(event, case_id, check))


def _failure_text(event: events.ScenarioFinished, case_id: str, check: CheckNode) -> str:
    """What failed, the request as curl, and the answer (status and the start of its body)."""
    assert check.failure_info is not None
    failure = check.failure_info.failure
    interaction = event.recorder.interactions.get(case_id)
    response = interaction.response if interaction else None
    answer = "no answer" if response is None else f"{response.status_code} {response.text[:500]}"
    return (
        f"[{event.phase.value}] {event.recorder.label}: {check.name}: {failure.title}\n"
        f"{failure.message}\n{check.failure_info.code_sample}\n→ {answer}"
    )


def seeded_records(seeded: Seeded) -> list[dict[str, str]]:
    """Coherent sets of real values: each names one object of the seeded tenant."""
    line = {"phone_number_id": seeded.line}
    return [
        {**line, "contact_phone": "+27 82 123 4567"},
        {**line, "contact_bsuid": seeded.contact_bsuid},
        {**line, "customer_id": seeded.customer_id},
        {**line, "contact_id": seeded.contact_id},
        {**line, "contact_id": seeded.merged_contact_id},
        {"phone": seeded.contact_phone},
        {"bsuid": seeded.contact_bsuid},
        {"external_ref": seeded.customer_id},
        {"conversation_id": seeded.conversation_id},
        {"conversation_id": seeded.closed_conversation_id},
        {"message_id": seeded.message_id},
        {"message_id": seeded.failed_message_id},
        {"message_id": seeded.sent_message_id},
        dict(seeded.template),
        {**line, "contact_id": seeded.contact_id, "text": "Still there?"},
        {"url": UNROUTABLE, "events": ["*"]},
        {"endpoint_id": seeded.endpoint_id},
        {"delivery_id": seeded.delivery_id},
    ]


def records_for(label: str, seeded: Seeded) -> list[dict[str, str]]:
    """The records an operation may be given. A deletion only ever takes the spare
    endpoint, so the other one keeps its delivery for the rest of the run; the
    Graph proxy's path needs its version with the line."""
    records = seeded_records(seeded)
    if label == GRAPH_PROXY:
        return [{"phone_number_id": seeded.line, "version": "v23.0"}]
    if label == DELETE_ENDPOINT:
        return [r for r in records if "endpoint_id" not in r] + [
            {"endpoint_id": seeded.spare_endpoint_id}
        ]
    return records


def seeded_bodies(seeded: Seeded) -> dict[str, list[dict[str, Any]]]:
    """Whole request bodies for operations whose body schema names no properties."""
    cloud_api = {"messaging_product": "whatsapp"}
    return {
        GRAPH_PROXY: [
            {**cloud_api, "to": THANDI_PHONE, "type": "text", "text": {"body": "On its way"}},
            {**cloud_api, "status": "read", "message_id": "wamid.thandi.1"},
        ]
    }


def overlay(
    values: dict[str, Any], record: Mapping[str, str], declared: set[str]
) -> dict[str, Any]:
    """``values`` with the declared names of ``record`` set, and their one-of rivals dropped."""
    chosen = {name: value for name, value in record.items() if name in declared}
    rivals = {name for group in ONE_OF if group & chosen.keys() for name in group} - chosen.keys()
    return {**{k: v for k, v in values.items() if k not in rivals}, **chosen}


def sometimes_seeded(
    values: Any, declared: set[str], records: list[dict[str, str]]
) -> st.SearchStrategy[Any]:
    """The generated values, or the same with one seeded record laid over them."""
    usable = [record for record in records if declared & record.keys()]
    if not isinstance(values, dict) or not usable:
        return st.just(values)
    seeded = st.sampled_from(usable).map(lambda record: overlay(values, record, declared))
    return st.one_of(st.just(values), seeded)


def label_of(context: HookContext) -> str:
    operation = context.operation
    return "" if operation is None else str(operation.label)


def declared_names(context: HookContext, location: str) -> set[str]:
    operation = context.operation
    if operation is None:
        return set()
    if location == "body":
        names: set[str] = set()
        for body in operation.body:
            properties = body.definition.get("schema", {}).get("properties") or {}
            names.update(properties)
        return names
    return {parameter.name for parameter in getattr(operation, location)}


def as_served(app: Any) -> Any:
    """``app`` as a server runs it: an error after the 500 was sent is logged, not raised.

    Starlette re-raises an unhandled error once its 500 problem is sent, for the
    server to log; Schemathesis's in-process client would stop the operation there
    instead of checking the 500 like any other answer.
    """

    async def served(scope: Any, receive: Any, send: Any) -> None:
        try:
            await app(scope, receive, send)
        except Exception:
            if scope["type"] != "http":
                raise

    return served


def served_schema(world: ApiWorld, seeded: Seeded) -> Any:
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "workers": 1,
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            "auth": {"openapi": {"ApiKey": {"api_key": world.mine.key}}},
        }
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", as_served(world.app), config=config)
    bodies = seeded_bodies(seeded)

    @schema.hook
    def flatmap_path_parameters(context: HookContext, values: Any) -> st.SearchStrategy[Any]:
        records = records_for(label_of(context), seeded)
        return sometimes_seeded(values, declared_names(context, "path_parameters"), records)

    @schema.hook
    def flatmap_query(context: HookContext, values: Any) -> st.SearchStrategy[Any]:
        records = records_for(label_of(context), seeded)
        return sometimes_seeded(values, declared_names(context, "query"), records)

    @schema.hook
    def flatmap_body(context: HookContext, values: Any) -> st.SearchStrategy[Any]:
        whole = bodies.get(label_of(context))
        if whole:
            return st.one_of(st.just(values), st.sampled_from(whole))
        records = records_for(label_of(context), seeded)
        return sometimes_seeded(values, declared_names(context, "body"), records)

    return schema


def run(schema: Any) -> RunReport:
    report = RunReport()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            report.record(event)
        elif isinstance(event, events.NonFatalError):
            report.errors.append(f"{event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            report.errors.append(f"fatal: {event.exception!r}")
    return report


@pytest.fixture
def graph() -> Iterator[GraphServer]:
    with graph_server() as running:
        yield running


@pytest.fixture
def world(db_url: str, graph: GraphServer) -> Iterator[ApiWorld]:
    with ApiWorld.open(db_url) as opened:
        # The app's lifespan (which Schemathesis starts) would run the worker, and
        # with it deliveries to whatever URLs the run subscribed: keep it off.
        opened.services.settings = opened.services.settings.model_copy(
            update={"worker": False, "graph_base_url": graph.base_url}
        )
        try:
            yield opened
        finally:
            opened.services.whatsapp.close()
    shutdown_lifespans()  # Schemathesis started the app's lifespan; end it with the test


def test_every_operation_answers_as_its_openapi_document_says(
    world: ApiWorld, graph: GraphServer
) -> None:
    seeded = seed(world, graph.base_url)
    schema = served_schema(world, seeded)
    report = run(schema)

    assert not report.errors, "\n\n".join(report.errors)
    assert not report.failures, f"{len(report.failures)} failures:\n\n" + "\n\n".join(
        report.failures
    )
    documented = {operation.ok().label for operation in schema.get_all_operations()}
    assert documented <= set(report.statuses), documented - set(report.statuses)
    never_succeeded = [
        label
        for label in MUST_SUCCEED
        if not any(200 <= status < 300 for status in report.statuses.get(label, ()))
    ]
    assert not never_succeeded, f"no 2xx from {never_succeeded}: {report.statuses}"
