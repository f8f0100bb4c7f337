"""Message templates: the registry kept current by template webhooks, and the send check.

Statuses are kept as Meta spells them (``APPROVED``, ``PAUSED``, ``REINSTATED``…);
a status wawindow doesn't know is kept too, upper-cased, never rejected.

May a template be sent? (see :data:`SENDABLE_STATUSES`)

- ``APPROVED`` — yes.
- ``REINSTATED`` — yes: Meta sends it when a flagged or disabled template "can be
  sent in template messages again", i.e. it is back to approved use.
- ``UNARCHIVED`` — yes: the template is restored to its approved state.
- ``FLAGGED`` — yes: the template got negative feedback and is *at risk* of being
  paused or disabled, but Meta still accepts it (its status stays approved).
- anything else (``PENDING``, ``REJECTED``, ``PAUSED``, ``DISABLED``,
  ``IN_APPEAL``, ``ARCHIVED``, ``PENDING_DELETION``, ``DELETED``,
  ``LIMIT_EXCEEDED``, unknown values and :data:`UNKNOWN_STATUS`) — no.

``LOCKED`` / ``UNLOCKED`` events say whether the template may be *edited*; they
don't change whether it may be sent, so the fold leaves the status as it was.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from wawindow.domain.categories import normalise_category
from wawindow.domain.facts import TemplateChange


class TemplateStatus(StrEnum):
    APPROVED = "APPROVED"
    PENDING = "PENDING"
    REJECTED = "REJECTED"
    PAUSED = "PAUSED"
    DISABLED = "DISABLED"
    IN_APPEAL = "IN_APPEAL"
    PENDING_DELETION = "PENDING_DELETION"
    DELETED = "DELETED"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
    FLAGGED = "FLAGGED"
    REINSTATED = "REINSTATED"
    ARCHIVED = "ARCHIVED"
    UNARCHIVED = "UNARCHIVED"
    LOCKED = "LOCKED"
    UNLOCKED = "UNLOCKED"


UNKNOWN_STATUS = "UNKNOWN"
"""Status of a template first heard of through a non-status event (category, quality…)."""

SENDABLE_STATUSES = frozenset(
    {
        TemplateStatus.APPROVED,
        TemplateStatus.REINSTATED,
        TemplateStatus.UNARCHIVED,
        TemplateStatus.FLAGGED,
    }
)
"""Statuses under which Meta accepts a send of the template (see the module docstring)."""

_EDIT_LOCK_EVENTS = frozenset({TemplateStatus.LOCKED, TemplateStatus.UNLOCKED})

_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_POSITIONAL = re.compile(r"[0-9]+")
_NAMED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def normalise_status(value: str | None) -> str | None:
    """``approved`` → ``APPROVED``, ``in-appeal`` → ``IN_APPEAL``; unknown values kept."""
    if value is None:
        return None
    cleaned = "_".join(value.strip().upper().replace("-", " ").split())
    return cleaned or None


def is_sendable_status(status: str) -> bool:
    """Whether Meta accepts sends of a template with this status."""
    # Stored statuses are already normalised: most calls end at the first test.
    return status in SENDABLE_STATUSES or normalise_status(status) in SENDABLE_STATUSES


def count_body_parameters(body: str) -> tuple[int, tuple[str, ...]]:
    """The body parameters of a template: ``(count, names)``.

    Positional ``{{1}}``…``{{n}}``: the count is the highest index (a repeated
    placeholder counts once; a gap still counts: ``{{1}} {{3}}`` takes 3) and
    ``names`` is empty. Named ``{{first_name}}``: ``names`` in order of first
    appearance, each once, and the count is their number. Meta forbids mixing the
    two; a body that mixes them counts both (highest index + number of names), so
    no parameter list can satisfy it. Anything else between braces (``{{ }}``,
    ``{{1.5}}``, ``{{first name}}``, ``{{0}}``) or unbalanced braces is text, not
    a parameter; spaces just inside the braces are allowed (``{{ 1 }}``).
    """
    highest = 0
    names: dict[str, None] = {}
    for match in _PLACEHOLDER.finditer(body):
        token = match.group(1)
        if _POSITIONAL.fullmatch(token):
            highest = max(highest, int(token))
        elif _NAMED.fullmatch(token):
            names.setdefault(token, None)
    return highest + len(names), tuple(names)


@dataclass(frozen=True, slots=True)
class Template:
    """A message template of a WhatsApp Business Account.

    ``param_count`` counts body parameters; ``param_names`` is non-empty for named
    parameters (see :func:`count_body_parameters`). ``status_reason`` is Meta's
    reason for the last status (``INVALID_FORMAT``…), when it gave one.
    """

    template_id: str | None
    name: str
    language: str
    category: str | None
    status: str
    body: str | None
    param_count: int
    param_names: tuple[str, ...]
    quality: str | None
    status_reason: str | None = None

    @staticmethod
    def of(
        name: str,
        language: str,
        body: str | None = None,
        *,
        category: str | None = None,
        status: str = TemplateStatus.APPROVED,
        template_id: str | None = None,
        quality: str | None = None,
    ) -> Template:
        """A template whose parameters are counted from its body."""
        count, names = count_body_parameters(body) if body is not None else (0, ())
        return Template(
            template_id=template_id,
            name=name,
            language=language,
            category=normalise_category(category),
            status=normalise_status(status) or UNKNOWN_STATUS,
            body=body,
            param_count=count,
            param_names=names,
            quality=quality,
        )

    @property
    def sendable(self) -> bool:
        return is_sendable_status(self.status)

    @property
    def positional_count(self) -> int:
        """How many positional parameters the body takes (``param_count`` less the named)."""
        return max(self.param_count - len(self.param_names), 0)

    @property
    def parameters_known(self) -> bool:
        """False for a template whose body wawindow has never seen (e.g. webhook-only stubs)."""
        return self.body is not None or self.param_count > 0 or bool(self.param_names)


# --------------------------------------------------------------------------- the fold


def evolve_template(current: Template | None, change: TemplateChange) -> Template:
    """The template after one change; a stub from the change when it is unknown.

    ``status`` sets the status (and the category Meta sends with it); ``category``
    sets the category; ``quality`` the quality score; ``components`` the body and
    its parameters, when the fact carries one. Name and language follow the change
    when it names them. Events wawindow doesn't know only do that.
    """
    template = current if current is not None else _stub(change)
    template = replace(
        template,
        template_id=template.template_id or change.template_id,
        name=change.name or template.name,
        language=change.language or template.language,
    )
    match change.event:
        case "status":
            return _apply_status(template, change)
        case "category":
            return replace(template, category=normalise_category(change.category))
        case "quality":
            return replace(template, quality=normalise_status(change.quality))
        case "components":
            return _apply_components(template, change)
        case _:
            return template


def apply_template_change(
    templates: Mapping[str, Template], change: TemplateChange
) -> dict[str, Template]:
    """A new registry (keyed by template id) with ``change`` folded in; the input is untouched."""
    updated = dict(templates)
    updated[change.template_id] = evolve_template(templates.get(change.template_id), change)
    return updated


def _stub(change: TemplateChange) -> Template:
    return Template(
        template_id=change.template_id,
        name=change.name or "",
        language=change.language or "",
        category=None,
        status=UNKNOWN_STATUS,
        body=None,
        param_count=0,
        param_names=(),
        quality=None,
    )


def _apply_status(template: Template, change: TemplateChange) -> Template:
    status = normalise_status(change.status)
    category = normalise_category(change.category) or template.category
    if status is None or status in _EDIT_LOCK_EVENTS:
        return replace(template, category=category)
    reason = change.reason if change.reason and change.reason.upper() != "NONE" else None
    return replace(template, status=status, category=category, status_reason=reason)


def _apply_components(template: Template, change: TemplateChange) -> Template:
    # TemplateChange has no body field yet; use one as soon as the fact carries it
    # (Meta's ``message_template_element``).
    body: object = getattr(change, "body", None)
    if not isinstance(body, str):
        return template
    count, names = count_body_parameters(body)
    return replace(template, body=body, param_count=count, param_names=names)


# --------------------------------------------------------------------------- lookup


def same_language(a: str, b: str) -> bool:
    """``en_US``, ``en-US`` and ``en_us`` are one language code."""
    return _language_key(a) == _language_key(b)


def _language_key(language: str) -> str:
    return language.strip().replace("-", "_").casefold()


def find_template(
    templates: Iterable[Template], name: str, language: str | None
) -> Template | None:
    """The template called ``name`` in ``language`` (any language when ``None``).

    When several match (a deleted one and its successor, or several languages),
    a sendable one wins, then one not deleted, then the first by language and id.
    """
    matches = [
        t
        for t in templates
        if t.name == name and (language is None or same_language(t.language, language))
    ]
    if not matches:
        return None
    return min(matches, key=_preference)


def _preference(template: Template) -> tuple[int, str, str]:
    if template.sendable:
        rank = 0
    elif template.status in (TemplateStatus.DELETED, TemplateStatus.PENDING_DELETION):
        rank = 2
    else:
        rank = 1
    return (rank, _language_key(template.language), template.template_id or "")


# --------------------------------------------------------------------------- the send check


class TemplateProblemCode(StrEnum):
    NOT_FOUND = "template_not_found"
    NOT_APPROVED = "template_not_approved"
    LANGUAGE_MISMATCH = "template_language_mismatch"
    PARAMS_MISMATCH = "template_params_mismatch"


@dataclass(frozen=True, slots=True)
class TemplateProblem:
    """Why a template send would be refused, for a 4xx problem document.

    ``status`` is set for ``template_not_approved``; ``languages`` lists the
    languages the template exists in for ``template_language_mismatch``;
    ``expected``/``given`` are for ``template_params_mismatch`` (a count as text
    for positional parameters, the names for named ones).
    """

    code: TemplateProblemCode
    message: str
    status: str | None = None
    languages: tuple[str, ...] = ()
    expected: tuple[str, ...] = ()
    given: tuple[str, ...] = ()


Parameters = Sequence[str] | Mapping[str, str]


def check_template_send(
    template: Template | None,
    name: str,
    language: str | None,
    parameters: Parameters,
) -> TemplateProblem | None:
    """Why sending template ``name`` in ``language`` with ``parameters`` would fail, or ``None``.

    ``template`` is the registry's template of that name (e.g. from
    :func:`find_template` with ``language=None``); checks run in this order:
    found → language (skipped when ``language`` is ``None``) → sendable status →
    body parameters: positional ones as a sequence of exactly the count, named
    ones as a mapping of exactly the names. A template whose body wawindow has
    never seen (``parameters_known`` false) gets no parameter check.
    """
    label = f"{name!r}" if language is None else f"{name!r} ({language})"
    if template is None or template.name != name:
        return TemplateProblem(
            TemplateProblemCode.NOT_FOUND, f"template {label} is not in the registry"
        )
    if language is not None and not same_language(template.language, language):
        return _language_problem(label, (template.language,))
    if not template.sendable:
        return _status_problem(label, template)
    if template.parameters_known:
        return check_parameters(template, parameters, label)
    return None


def check_template_send_in(
    templates: Iterable[Template],
    name: str,
    language: str | None,
    parameters: Parameters,
) -> TemplateProblem | None:
    """:func:`check_template_send` against a whole registry (e.g. one account's templates)."""
    candidates = [t for t in templates if t.name == name]
    found = find_template(candidates, name, language)
    if found is None and candidates:
        label = f"{name!r} ({language})"
        languages = tuple(sorted({t.language for t in candidates}, key=_language_key))
        return _language_problem(label, languages)
    return check_template_send(found, name, language, parameters)


def _language_problem(label: str, languages: tuple[str, ...]) -> TemplateProblem:
    return TemplateProblem(
        TemplateProblemCode.LANGUAGE_MISMATCH,
        f"template {label} does not exist in that language; it exists in: " + ", ".join(languages),
        languages=languages,
    )


def _status_problem(label: str, template: Template) -> TemplateProblem:
    status = template.status.lower().replace("_", " ")
    reason = f" (reason: {template.status_reason})" if template.status_reason else ""
    return TemplateProblem(
        TemplateProblemCode.NOT_APPROVED,
        f"template {label} is {status}{reason}, not approved: it can't be sent",
        status=template.status,
    )


def check_parameters(
    template: Template, parameters: Parameters, label: str | None = None
) -> TemplateProblem | None:
    """Whether ``parameters`` fit the template's body: exact count, or exact set of names."""
    if isinstance(parameters, str):
        raise TypeError("parameters must be a sequence or a mapping of strings, not one string")
    label = label or f"{template.name!r} ({template.language})"
    if template.param_names:
        return _check_named(template, parameters, label)
    expected = template.positional_count
    if isinstance(parameters, Mapping):
        if expected == 0 and not parameters:
            return None
        given_names = tuple(sorted(parameters))
        return _params_problem(
            f"template {label} takes {_positional(expected)}; named parameters were given: "
            + ", ".join(given_names),
            (str(expected),),
            given_names,
        )
    if len(parameters) == expected:
        return None
    return _params_problem(
        f"template {label} takes {_positional(expected)}; {len(parameters)} given",
        (str(expected),),
        (str(len(parameters)),),
    )


def _check_named(template: Template, parameters: Parameters, label: str) -> TemplateProblem | None:
    expected = template.param_names
    if template.positional_count:
        return _params_problem(
            f"template {label} mixes positional and named parameters, which WhatsApp rejects",
            expected,
            (),
        )
    if not isinstance(parameters, Mapping):
        return _params_problem(
            f"template {label} takes the named parameters {', '.join(expected)}; "
            f"{len(parameters)} positional given",
            expected,
            (str(len(parameters)),),
        )
    given = tuple(sorted(parameters))
    missing = [n for n in expected if n not in parameters]
    unexpected = [n for n in given if n not in expected]
    if not missing and not unexpected:
        return None
    details = []
    if missing:
        details.append("missing: " + ", ".join(missing))
    if unexpected:
        details.append("unexpected: " + ", ".join(unexpected))
    return _params_problem(
        f"template {label} takes the named parameters {', '.join(expected)}; "
        f"given: {', '.join(given) or 'none'} ({'; '.join(details)})",
        expected,
        given,
    )


def _positional(count: int) -> str:
    if count == 0:
        return "no body parameters"
    if count == 1:
        return "exactly 1 body parameter ({{1}})"
    return f"exactly {count} body parameters ({{{{1}}}}…{{{{{count}}}}})"


def _params_problem(
    message: str, expected: tuple[str, ...], given: tuple[str, ...]
) -> TemplateProblem:
    return TemplateProblem(
        TemplateProblemCode.PARAMS_MISMATCH, message, expected=expected, given=given
    )
