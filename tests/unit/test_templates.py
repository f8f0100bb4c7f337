"""Templates: parameter counting, the registry fold, lookup and the send check."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wawindow.domain.facts import TemplateChange
from wawindow.domain.templates import (
    SENDABLE_STATUSES,
    UNKNOWN_STATUS,
    Template,
    TemplateProblemCode,
    TemplateStatus,
    apply_template_change,
    check_template_send,
    check_template_send_in,
    count_body_parameters,
    evolve_template,
    find_template,
    is_sendable_status,
    normalise_status,
)

AT = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)


# --------------------------------------------------------------------------- counting


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Hello!", (0, ())),
        ("", (0, ())),
        ("Hi {{1}}, your order {{2}} ships today.", (2, ())),
        ("{{1}} and {{1}} again, then {{2}}", (2, ())),
        ("Gap: {{1}} then {{3}}", (3, ())),
        ("Out of order {{2}} {{1}}", (2, ())),
        ("Spaces {{ 1 }} inside", (1, ())),
        (
            "Hi {{first_name}}, order {{order_id}} for {{first_name}}",
            (2, ("first_name", "order_id")),
        ),
        ("{{1}}{{2}}", (2, ())),
    ],
)
def test_counts_body_parameters(body: str, expected: tuple[int, tuple[str, ...]]) -> None:
    assert count_body_parameters(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        "{{ }}",
        "{{}}",
        "{1}} and {{1} and { {1} }",
        "{{first name}}",
        "{{1.5}}",
        "{{0}}",
        "{{-1}}",
        "{{ {{ }}",
        "}}{{",
    ],
)
def test_malformed_braces_are_text(body: str) -> None:
    assert count_body_parameters(body) == (0, ())


def test_triple_braces_hold_one_parameter() -> None:
    assert count_body_parameters("{{{1}}}") == (1, ())


def test_mixed_bodies_count_both() -> None:
    assert count_body_parameters("{{1}} {{name}}") == (2, ("name",))


_FILLER = st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=12)


@given(st.lists(st.integers(min_value=1, max_value=60), max_size=12), st.data())
def test_positional_count_is_the_highest_index(indices: list[int], data: st.DataObject) -> None:
    parts = [data.draw(_FILLER)]
    for index in indices:
        parts.append(f"{{{{{index}}}}}")
        parts.append(data.draw(_FILLER))
    count, names = count_body_parameters("".join(parts))
    assert count == max(indices, default=0)
    assert names == ()


@given(
    st.lists(st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True), max_size=8),
    st.data(),
)
def test_named_parameters_are_counted_once_in_order(names: list[str], data: st.DataObject) -> None:
    body = data.draw(_FILLER).join(f"{{{{{name}}}}}" for name in names)
    count, found = count_body_parameters(body)
    unique = tuple(dict.fromkeys(names))
    assert found == unique
    assert count == len(unique)


# --------------------------------------------------------------------------- statuses


def test_statuses_keep_metas_spelling_and_unknown_values() -> None:
    assert normalise_status("approved") == "APPROVED"
    assert normalise_status(" in-appeal ") == "IN_APPEAL"
    assert normalise_status("pending deletion") == "PENDING_DELETION"
    assert normalise_status("SOMETHING_NEW") == "SOMETHING_NEW"
    assert normalise_status("") is None
    assert normalise_status(None) is None


@pytest.mark.parametrize("status", ["APPROVED", "approved", "REINSTATED", "UNARCHIVED", "FLAGGED"])
def test_sendable_statuses(status: str) -> None:
    assert is_sendable_status(status)


@pytest.mark.parametrize(
    "status",
    [
        "PENDING",
        "REJECTED",
        "PAUSED",
        "DISABLED",
        "IN_APPEAL",
        "ARCHIVED",
        "PENDING_DELETION",
        "DELETED",
        "LIMIT_EXCEEDED",
        UNKNOWN_STATUS,
        "SOMETHING_NEW",
    ],
)
def test_not_sendable_statuses(status: str) -> None:
    assert not is_sendable_status(status)
    assert status not in SENDABLE_STATUSES


# --------------------------------------------------------------------------- the fold


def change(event: str, **values: str | None) -> TemplateChange:
    fields: dict[str, str | None] = {"name": "order_update", "language": "en_US"}
    fields.update(values)
    return TemplateChange(
        account="waba-1", template_id="1689556908129832", event=event, at=AT, **fields
    )


def test_fold_through_status_category_and_quality() -> None:
    registry: dict[str, Template] = {}
    registry = apply_template_change(
        registry, change("status", status="PENDING", category="UTILITY")
    )
    registry = apply_template_change(
        registry, change("status", status="APPROVED", category="UTILITY", reason="NONE")
    )
    registry = apply_template_change(
        registry, change("category", category="MARKETING", previous_category="UTILITY")
    )
    registry = apply_template_change(registry, change("quality", quality="yellow"))
    template = registry["1689556908129832"]
    assert template == Template(
        template_id="1689556908129832",
        name="order_update",
        language="en_US",
        category="marketing",
        status="APPROVED",
        body=None,
        param_count=0,
        param_names=(),
        quality="YELLOW",
    )
    paused = apply_template_change(
        registry, change("status", status="PAUSED", reason="FIRST_PAUSE")
    )
    assert paused["1689556908129832"].status == "PAUSED"
    assert paused["1689556908129832"].status_reason == "FIRST_PAUSE"
    assert paused["1689556908129832"].category == "marketing"
    assert registry["1689556908129832"].status == "APPROVED", "the input registry is untouched"


def test_unknown_ids_create_a_stub_from_the_change() -> None:
    existing = Template.of("welcome", "en", "Hi {{1}}", template_id="42")
    registry = apply_template_change({"42": existing}, change("quality", quality="GREEN"))
    assert registry["42"] == existing
    stub = registry["1689556908129832"]
    assert (stub.name, stub.language, stub.quality) == ("order_update", "en_US", "GREEN")
    assert stub.status == UNKNOWN_STATUS
    assert not stub.sendable
    assert stub.body is None
    assert not stub.parameters_known


def test_stub_from_a_status_change_takes_its_status_and_category() -> None:
    stub = evolve_template(
        None, change("status", status="REJECTED", category="MARKETING", reason="INVALID_FORMAT")
    )
    assert (stub.status, stub.category, stub.status_reason) == (
        "REJECTED",
        "marketing",
        "INVALID_FORMAT",
    )


def test_reinstated_keeps_its_spelling_and_is_sendable() -> None:
    template = evolve_template(None, change("status", status="DISABLED"))
    template = evolve_template(template, change("status", status="REINSTATED"))
    assert template.status == "REINSTATED"
    assert template.sendable


def test_lock_events_leave_the_status_alone() -> None:
    template = evolve_template(None, change("status", status="PAUSED"))
    assert evolve_template(template, change("status", status="LOCKED")).status == "PAUSED"
    assert evolve_template(template, change("status", status="UNLOCKED")).status == "PAUSED"


def test_unknown_statuses_and_events_are_kept_not_rejected() -> None:
    template = evolve_template(None, change("status", status="brand_new_status"))
    assert template.status == "BRAND_NEW_STATUS"
    assert evolve_template(template, change("something_else")) == template
    assert evolve_template(template, change("status", status=None)).status == "BRAND_NEW_STATUS"


def test_components_change_without_a_body_keeps_the_body() -> None:
    template = Template.of("order_update", "en_US", "Hi {{1}}", template_id="1689556908129832")
    assert evolve_template(template, change("components")) == template


def test_name_and_language_follow_the_change() -> None:
    template = evolve_template(None, change("status", status="APPROVED"))
    renamed = evolve_template(template, change("category", name="order_update_v2", language=None))
    assert (renamed.name, renamed.language) == ("order_update_v2", "en_US")


# --------------------------------------------------------------------------- lookup


POSITIONAL = Template.of(
    "order_update", "en_US", "Hi {{1}}, order {{2}}", category="UTILITY", template_id="1"
)
NAMED = Template.of(
    "welcome", "en", "Hi {{first_name}}, code {{code}}", category="marketing", template_id="2"
)
PORTUGUESE = Template.of("order_update", "pt_BR", "Olá {{1}}, pedido {{2}}", template_id="3")
PAUSED = Template.of("promo", "en", "Sale!", status="PAUSED", template_id="4")
REGISTRY = (POSITIONAL, NAMED, PORTUGUESE, PAUSED)


def test_find_template_by_name_and_language() -> None:
    assert find_template(REGISTRY, "order_update", "en_US") == POSITIONAL
    assert find_template(REGISTRY, "order_update", "en-us") == POSITIONAL
    assert find_template(REGISTRY, "order_update", "pt_BR") == PORTUGUESE
    assert find_template(REGISTRY, "order_update", "de") is None
    assert find_template(REGISTRY, "nope", None) is None
    assert find_template(REGISTRY, "order_update", None) == POSITIONAL


def test_find_template_prefers_a_sendable_one_over_a_deleted_one() -> None:
    deleted = Template.of("promo", "en", "Old", status="DELETED", template_id="0")
    approved = Template.of("promo", "en", "New", template_id="9")
    assert find_template([deleted, PAUSED, approved], "promo", "en") == approved
    assert find_template([deleted, PAUSED], "promo", "en") == PAUSED


# --------------------------------------------------------------------------- the send check


def test_a_good_send_has_no_problem() -> None:
    assert check_template_send(POSITIONAL, "order_update", "en_US", ["Ann", "A-1"]) is None
    assert check_template_send(NAMED, "welcome", "en", {"first_name": "Ann", "code": "7"}) is None
    assert check_template_send(POSITIONAL, "order_update", None, ("Ann", "A-1")) is None
    no_params = Template.of("hello", "en", "Hello!")
    assert check_template_send(no_params, "hello", "en", []) is None
    assert check_template_send(no_params, "hello", "en", {}) is None


def test_template_not_found() -> None:
    problem = check_template_send(None, "nope", "en", [])
    assert problem is not None
    assert problem.code == TemplateProblemCode.NOT_FOUND
    assert problem.code.value == "template_not_found"
    assert "'nope'" in problem.message
    other = check_template_send(NAMED, "order_update", "en", [])
    assert other is not None
    assert other.code == "template_not_found"


@pytest.mark.parametrize("status", ["PAUSED", "DISABLED", "REJECTED", "PENDING", "DELETED"])
def test_template_not_approved_names_the_status(status: str) -> None:
    template = Template.of("promo", "en", "Sale!", status=status)
    problem = check_template_send(template, "promo", "en", [])
    assert problem is not None
    assert problem.code == "template_not_approved"
    assert problem.status == status
    assert status.lower() in problem.message


def test_not_approved_message_carries_metas_reason() -> None:
    template = evolve_template(None, change("status", status="REJECTED", reason="INVALID_FORMAT"))
    problem = check_template_send(template, "order_update", "en_US", [])
    assert problem is not None
    assert "INVALID_FORMAT" in problem.message


def test_reinstated_templates_may_be_sent() -> None:
    template = Template.of("promo", "en", "Sale!", status="REINSTATED")
    assert check_template_send(template, "promo", "en", []) is None


def test_template_language_mismatch() -> None:
    problem = check_template_send(POSITIONAL, "order_update", "de", ["Ann", "A-1"])
    assert problem is not None
    assert problem.code == "template_language_mismatch"
    assert problem.languages == ("en_US",)
    in_registry = check_template_send_in(REGISTRY, "order_update", "de", ["Ann", "A-1"])
    assert in_registry is not None
    assert in_registry.code == "template_language_mismatch"
    assert in_registry.languages == ("en_US", "pt_BR")
    assert "en_US, pt_BR" in in_registry.message


def test_check_in_a_registry() -> None:
    assert check_template_send_in(REGISTRY, "order_update", "pt_BR", ["a", "b"]) is None
    missing = check_template_send_in(REGISTRY, "nope", "en", [])
    assert missing is not None
    assert missing.code == "template_not_found"
    paused = check_template_send_in(REGISTRY, "promo", "en", [])
    assert paused is not None
    assert paused.code == "template_not_approved"


@pytest.mark.parametrize("given_params", [[], ["Ann"], ["Ann", "A-1", "extra"]])
def test_positional_params_mismatch_names_expected_and_given(given_params: list[str]) -> None:
    problem = check_template_send(POSITIONAL, "order_update", "en_US", given_params)
    assert problem is not None
    assert problem.code == "template_params_mismatch"
    assert "exactly 2 body parameters" in problem.message
    assert f"{len(given_params)} given" in problem.message
    assert (problem.expected, problem.given) == (("2",), (str(len(given_params)),))


def test_named_params_mismatch_names_missing_and_unexpected() -> None:
    problem = check_template_send(NAMED, "welcome", "en", {"first_name": "Ann", "coupon": "X"})
    assert problem is not None
    assert problem.code == "template_params_mismatch"
    assert "missing: code" in problem.message
    assert "unexpected: coupon" in problem.message
    assert problem.expected == ("first_name", "code")
    assert problem.given == ("coupon", "first_name")


def test_positional_given_for_named_and_named_for_positional() -> None:
    named_as_list = check_template_send(NAMED, "welcome", "en", ["Ann", "7"])
    assert named_as_list is not None
    assert named_as_list.code == "template_params_mismatch"
    assert "named parameters first_name, code" in named_as_list.message
    positional_as_map = check_template_send(
        POSITIONAL, "order_update", "en_US", {"1": "Ann", "2": "A-1"}
    )
    assert positional_as_map is not None
    assert positional_as_map.code == "template_params_mismatch"


def test_params_are_not_checked_when_the_body_is_unknown() -> None:
    stub = evolve_template(None, change("status", status="APPROVED"))
    assert check_template_send(stub, "order_update", "en_US", ["anything"]) is None


def test_mixed_bodies_cannot_be_satisfied() -> None:
    mixed = Template.of("mixed", "en", "{{1}} {{name}}")
    for params in (["a", "b"], {"name": "a"}, {"1": "a", "name": "b"}):
        problem = check_template_send(mixed, "mixed", "en", params)
        assert problem is not None
        assert problem.code == "template_params_mismatch"


def test_a_single_string_is_not_a_parameter_list() -> None:
    with pytest.raises(TypeError):
        check_template_send(POSITIONAL, "order_update", "en_US", "Ann")


def test_template_of_counts_parameters_and_normalises() -> None:
    template = Template.of(
        "t", "en", "{{1}} {{2}}", category="AUTHENTICATION-INTERNATIONAL", status="approved"
    )
    assert (template.param_count, template.param_names) == (2, ())
    assert template.category == "authentication_international"
    assert template.status == TemplateStatus.APPROVED
