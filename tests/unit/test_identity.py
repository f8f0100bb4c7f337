"""Identity (DESIGN 1.1): identifiers named together are one contact; the oldest survives."""

from __future__ import annotations

from itertools import pairwise

import pytest

from wawindow.domain.identity import (
    Identifier,
    IdentifierKind,
    Identity,
    MergePlan,
    link,
    normalise_wa_id,
    plan_merge,
    primary_identifier,
)

PHONE = Identifier.wa_id("16505551234")
BSUID = Identifier.bsuid("US.13491208655302741918")
PARENT = Identifier(IdentifierKind.PARENT_BSUID, "US.ENT.1111")
USERNAME = Identifier(IdentifierKind.USERNAME, "sheena")
PROVIDER = Identifier(IdentifierKind.PROVIDER, "channel360:5f1c")
EXTERNAL = Identifier(IdentifierKind.EXTERNAL_REF, "customer_12345")


# -- normalising and naming ----------------------------------------------------------


@pytest.mark.parametrize("raw", ["16505551234", "+1 650-555-1234", "+1 (650) 555 1234"])
def test_normalise_wa_id_keeps_digits_only(raw: str) -> None:
    assert normalise_wa_id(raw) == "16505551234"


def test_normalise_wa_id_keeps_a_value_without_digits() -> None:
    assert normalise_wa_id("unknown") == "unknown"


def test_a_formatted_phone_is_the_same_identifier() -> None:
    assert Identifier.wa_id("+1 650-555-1234") == PHONE


def test_identity_of_collects_every_identifier_given() -> None:
    identity = Identity.of(
        wa_id="+16505551234",
        bsuid=BSUID.value,
        parent_bsuid=PARENT.value,
        username="sheena",
        name="Sheena",
    )
    assert identity.identifiers == {PHONE, BSUID, PARENT, USERNAME}
    assert identity.wa_id == "16505551234"
    assert identity.bsuid == BSUID.value
    assert identity.username == "sheena"
    assert identity.name == "Sheena"
    assert identity


def test_identity_without_a_phone_number() -> None:
    identity = Identity.of(bsuid=BSUID.value)
    assert identity.wa_id is None
    assert identity.username is None
    assert identity.bsuid == BSUID.value


def test_an_empty_identity_is_falsy_and_has_no_name() -> None:
    identity = Identity.of(name="")
    assert not identity
    assert identity.name is None


def test_union_joins_identifiers_and_prefers_the_newer_name() -> None:
    older = Identity.of(wa_id=PHONE.value, name="Sheena")
    newer = Identity.of(bsuid=BSUID.value)
    assert older.union(newer).identifiers == {PHONE, BSUID}
    assert older.union(newer).name == "Sheena"
    assert newer.union(Identity.of(username="s", name="Sheena B")).name == "Sheena B"


def test_primary_identifier_prefers_phone_then_bsuid_then_the_rest() -> None:
    every = [EXTERNAL, PROVIDER, PARENT, USERNAME, BSUID, PHONE]
    assert primary_identifier(every) == PHONE
    assert primary_identifier(every[:-1]) == BSUID
    assert primary_identifier(every[:-2]) == USERNAME
    assert primary_identifier(every[:-3]) == PARENT
    assert primary_identifier(every[:-4]) == PROVIDER
    assert primary_identifier(every[:-5]) == EXTERNAL


def test_primary_identifier_of_unknown_kinds_and_of_nothing() -> None:
    odd = [Identifier("zz", "2"), Identifier("aa", "1")]
    assert primary_identifier(odd) == Identifier("aa", "1")
    assert primary_identifier([]) is None


def test_primary_identifier_picks_the_smallest_of_one_kind() -> None:
    assert primary_identifier([Identifier.wa_id("2"), Identifier.wa_id("1")]) == Identifier.wa_id(
        "1"
    )


# -- linking -------------------------------------------------------------------------------


def test_link_keeps_unrelated_identifiers_apart() -> None:
    assert link([frozenset({PHONE}), frozenset({BSUID})]) == [
        frozenset({BSUID}),
        frozenset({PHONE}),
    ]


def test_link_joins_groups_that_share_an_identifier() -> None:
    assert link([frozenset({PHONE}), frozenset({BSUID}), frozenset({PHONE, BSUID})]) == [
        frozenset({PHONE, BSUID})
    ]


def test_link_is_transitive() -> None:
    groups = [
        frozenset({PHONE, BSUID}),
        frozenset({USERNAME, PROVIDER}),
        frozenset({EXTERNAL}),
        frozenset({PROVIDER, BSUID}),
    ]
    assert link(groups) == [frozenset({PHONE, BSUID, USERNAME, PROVIDER}), frozenset({EXTERNAL})]


def test_link_chains_through_many_groups_in_any_order() -> None:
    chain = [Identifier.wa_id(str(n)) for n in range(10)]
    groups = [frozenset({a, b}) for a, b in pairwise(chain)]
    assert link(groups) == [frozenset(chain)]
    assert link(reversed(groups)) == [frozenset(chain)]


def test_link_of_nothing_is_nothing() -> None:
    assert link([]) == []
    assert link([frozenset()]) == []


# -- merging contacts ----------------------------------------------------------------------


def test_plan_merge_for_unknown_identifiers_is_a_new_contact() -> None:
    assert plan_merge({}, frozenset({PHONE, BSUID})) == MergePlan(
        None, (), frozenset({PHONE, BSUID})
    )


def test_plan_merge_adds_new_identifiers_to_the_known_contact() -> None:
    plan = plan_merge({PHONE: "c1"}, frozenset({PHONE, BSUID}))
    assert plan == MergePlan("c1", (), frozenset({BSUID}))


def test_plan_merge_the_oldest_contact_survives() -> None:
    known = {PHONE: "c_b", BSUID: "c_a"}
    plan = plan_merge(known, frozenset({PHONE, BSUID, USERNAME}), {"c_b": 1, "c_a": 2})
    assert plan.survivor == "c_b"
    assert plan.absorbed == ("c_a",)
    assert plan.new_identifiers == {USERNAME}


def test_plan_merge_without_creation_order_keeps_the_smallest_id() -> None:
    known = {PHONE: "c_b", BSUID: "c_a", USERNAME: "c_c"}
    plan = plan_merge(known, frozenset({PHONE, BSUID, USERNAME}))
    assert plan == MergePlan("c_a", ("c_b", "c_c"), frozenset())


def test_plan_merge_when_all_identifiers_are_one_contacts() -> None:
    plan = plan_merge({PHONE: "c1", BSUID: "c1"}, frozenset({PHONE, BSUID}))
    assert plan == MergePlan("c1", (), frozenset())
