"""The template registry of each business line: kept by the API, imports and webhooks.

Rows are keyed ``(tenant, line, name, language)``. Templates belong to a WhatsApp
Business Account, so a template webhook (a ``TemplateChange``, account-level) is
applied to every line of that account the tenant owns, with
:func:`~wawindow.domain.templates.evolve_template`'s semantics: status (and its
reason), category, quality score, body (and the parameters counted from it).
A change for a template the line does not have (by Meta's id, else by name and
language) creates its row: status from the change, else ``UNKNOWN``.

Order of arrival: each row keeps ``updated_at``, the time of the change that last
wrote it (the fact's time; the time it was received when the webhook carried
none; the request time for the API and imports). A change older than the row's
``updated_at`` is ignored. That guard is **per row, not per aspect**: a quality
update from 10:00 that arrives after a status update from 10:05 is dropped,
although it touches another column. Meta sends template webhooks about one
template rarely and in order in practice; per-aspect times would need more
columns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final, Protocol

from wawindow.domain.categories import normalise_category
from wawindow.domain.facts import TemplateChange
from wawindow.domain.templates import (
    UNKNOWN_STATUS,
    Template,
    count_body_parameters,
    evolve_template,
    normalise_status,
    same_language,
)

MAX_NAME: Final = 512  # Meta's limit, and the column's
MAX_LANGUAGE: Final = 16
MAX_TEMPLATE_ID: Final = 64


@dataclass(frozen=True, slots=True)
class StoredTemplate:
    """One registry row: a line's template and the time of the change that last wrote it."""

    line: str
    template: Template
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class TemplateFilter:
    line: str | None = None
    status: str | None = None
    name: str | None = None
    language: str | None = None
    category: str | None = None


@dataclass(frozen=True, slots=True)
class TemplateEdit:
    """A change made through the API; ``None`` leaves a field as it is."""

    category: str | None = None
    body: str | None = None
    status: str | None = None


@dataclass(frozen=True, slots=True)
class ImportResult:
    added: int = 0
    updated: int = 0
    unchanged: int = 0


class TemplateRegistryError(ValueError):
    """A registry request that cannot be done; ``field`` names the offending input."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class LineNotFound(TemplateRegistryError):
    pass


class TemplateNotFound(TemplateRegistryError):
    pass


class TemplateExists(TemplateRegistryError):
    pass


class TemplateRows(Protocol):
    """Template rows inside one transaction (the ingest's, or a registry store's)."""

    def find(
        self, tenant_id: str, line: str, template_id: str | None, name: str | None
    ) -> list[StoredTemplate]:
        """The line's rows with that Meta id or that name, locked for the transaction."""

    def insert(self, tenant_id: str, line: str, template: Template, at: datetime) -> bool:
        """Add a row; ``False`` when the line has one of that name and language already."""

    def update(
        self, tenant_id: str, line: str, key: tuple[str, str], template: Template, at: datetime
    ) -> None:
        """Overwrite the row ``key`` = (name, language) (the key itself is kept)."""


class TemplateStore(TemplateRows, Protocol):
    def line_owner(self, phone_number_id: str) -> str | None:
        """The tenant that owns the line, if any."""

    def templates(self, tenant_id: str, where: TemplateFilter) -> list[StoredTemplate]:
        """Rows of the tenant matching ``where``, by line, name and language."""

    def commit(self) -> None: ...


# --------------------------------------------------------------------------- webhooks


def apply_template_change(
    rows: TemplateRows,
    tenant_id: str,
    lines: Iterable[str],
    change: TemplateChange,
    received_at: datetime,
) -> list[StoredTemplate]:
    """Fold ``change`` into the registry rows of ``lines``; returns the rows it wrote."""
    at = change.at or received_at
    written: list[StoredTemplate] = []
    for line in lines:
        current = _match(rows.find(tenant_id, line, change.template_id, change.name), change)
        if current is None:
            stub = _new_from_change(change)
            if stub is None:
                continue  # no name or language to key a row by
            if rows.insert(tenant_id, line, stub, at):
                written.append(StoredTemplate(line, stub, at))
                continue
            # created by a concurrent transaction since: fold into that row
            current = _match(rows.find(tenant_id, line, change.template_id, change.name), change)
            if current is None:
                continue
        if at < current.updated_at:
            continue  # older than what the row shows (see the module docstring)
        evolved = _evolve(current.template, change)
        rows.update(tenant_id, line, _key(current.template), evolved, at)
        written.append(StoredTemplate(line, evolved, at))
    return written


def _match(candidates: Sequence[StoredTemplate], change: TemplateChange) -> StoredTemplate | None:
    """The row the change is about: by Meta's id, else by name and language."""
    for row in candidates:
        if row.template.template_id == change.template_id:
            return row
    if change.name is None or change.language is None:
        return None
    return _by_name(candidates, change.name, change.language)


def _new_from_change(change: TemplateChange) -> Template | None:
    if not change.name or not change.language:
        return None
    if len(change.name) > MAX_NAME or len(change.language) > MAX_LANGUAGE:
        return None
    return evolve_template(None, change)


def _evolve(current: Template, change: TemplateChange) -> Template:
    """``evolve_template``, keeping the row's key; a newer change's Meta id wins (a template
    deleted and created again under the same name and language gets a new id)."""
    evolved = evolve_template(current, change)
    return replace(
        evolved,
        name=current.name,
        language=current.language,
        template_id=change.template_id or current.template_id,
    )


def _key(template: Template) -> tuple[str, str]:
    return template.name, template.language


# --------------------------------------------------------------------------- the API


def list_templates(
    store: TemplateStore, tenant_id: str, where: TemplateFilter
) -> list[StoredTemplate]:
    if where.line is not None:
        _own_line(store, tenant_id, where.line, "query.phone_number_id")
    return store.templates(tenant_id, where)


def create_template(
    store: TemplateStore, tenant_id: str, line: str, template: Template, at: datetime
) -> StoredTemplate:
    """Add a template to a line; ``TemplateExists`` when it has one of that name and language."""
    _own_line(store, tenant_id, line, "body.phone_number_id")
    rows = store.find(tenant_id, line, template.template_id, template.name)
    for row in rows:
        if row.template.name == template.name and same_language(
            row.template.language, template.language
        ):
            raise TemplateExists(
                f"line {line} has a template {template.name!r} in {row.template.language} already",
                "body.name",
            )
    if any(r.template.template_id == template.template_id for r in rows if template.template_id):
        raise TemplateExists(
            f"line {line} has template id {template.template_id} already", "body.template_id"
        )
    if not store.insert(tenant_id, line, template, at):
        raise TemplateExists(
            f"line {line} has a template {template.name!r} in {template.language} already",
            "body.name",
        )
    store.commit()
    return StoredTemplate(line, template, at)


def get_template(
    store: TemplateStore, tenant_id: str, line: str, name: str, language: str
) -> StoredTemplate:
    _own_line(store, tenant_id, line, "path.phone_number_id")
    found = _by_name(store.find(tenant_id, line, None, name), name, language)
    if found is None:
        raise TemplateNotFound(f"line {line} has no template {name!r} in {language}", "path.name")
    return found


def update_template(
    store: TemplateStore,
    tenant_id: str,
    line: str,
    name: str,
    language: str,
    edit: TemplateEdit,
    at: datetime,
) -> StoredTemplate:
    """Change category, body or status of a line's template; the row afterwards."""
    current = get_template(store, tenant_id, line, name, language)
    if edit == TemplateEdit():
        return current
    template = edited(current.template, edit)
    at = max(at, current.updated_at)  # a row never goes back in time
    store.update(tenant_id, line, _key(current.template), template, at)
    store.commit()
    return StoredTemplate(line, template, at)


def edited(template: Template, edit: TemplateEdit) -> Template:
    """``template`` with the fields of ``edit`` that are set; a new status drops the old reason."""
    if edit.category is not None:
        template = replace(template, category=normalise_category(edit.category))
    if edit.body is not None:
        template = with_body(template, edit.body)
    if edit.status is not None:
        status = normalise_status(edit.status) or UNKNOWN_STATUS
        template = replace(template, status=status, status_reason=None)
    return template


def with_body(template: Template, body: str | None) -> Template:
    count, names = count_body_parameters(body) if body is not None else (0, ())
    return replace(template, body=body, param_count=count, param_names=names)


def _own_line(store: TemplateStore, tenant_id: str, line: str, field: str) -> None:
    if store.line_owner(line) != tenant_id:  # another tenant's line is as unknown as none
        raise LineNotFound(f"no line {line!r}", field)


def _by_name(rows: Iterable[StoredTemplate], name: str, language: str) -> StoredTemplate | None:
    for row in rows:
        if row.template.name == name and same_language(row.template.language, language):
            return row
    return None


# --------------------------------------------------------------------------- imports


@dataclass(frozen=True, slots=True)
class EntryError:
    index: int
    message: str


def import_templates(
    store: TemplateStore, line: str, templates: Sequence[Template], at: datetime
) -> ImportResult:
    """Upsert every template on ``line`` (an import is the state as of ``at``)."""
    tenant_id = store.line_owner(line)
    if tenant_id is None:
        raise LineNotFound(f"no line {line!r}", "--phone-number-id")
    added = updated = unchanged = 0
    for template in templates:
        rows = store.find(tenant_id, line, template.template_id, template.name)
        current = _match_imported(rows, template)
        if current is None:
            if store.insert(tenant_id, line, template, at):
                added += 1
                continue
            current = _by_name(store.find(tenant_id, line, None, template.name), *_key(template))
            if current is None:  # cannot be: the insert failed on exactly this key
                continue
        merged = _merge_imported(current.template, template)
        if merged == current.template:
            unchanged += 1
            continue
        store.update(tenant_id, line, _key(current.template), merged, max(at, current.updated_at))
        updated += 1
    store.commit()
    return ImportResult(added, updated, unchanged)


def _match_imported(rows: Sequence[StoredTemplate], template: Template) -> StoredTemplate | None:
    by_name = _by_name(rows, template.name, template.language)
    if by_name is not None:
        return by_name
    for row in rows:
        if template.template_id and row.template.template_id == template.template_id:
            return row
    return None


def _merge_imported(current: Template, listed: Template) -> Template:
    """The listing's view of the template; what it leaves out (quality…) is kept."""
    return replace(
        listed,
        name=current.name,
        language=current.language,
        template_id=listed.template_id or current.template_id,
        category=listed.category or current.category,
        body=listed.body if listed.body is not None else current.body,
        param_count=listed.param_count if listed.body is not None else current.param_count,
        param_names=listed.param_names if listed.body is not None else current.param_names,
        quality=listed.quality or current.quality,
    )


_LANGUAGE: Final = re.compile(r"[A-Za-z]{2,3}(?:[_-][A-Za-z0-9]{2,4})?")


def parse_listing(document: object) -> tuple[list[Template], list[EntryError]]:
    """The templates of WhatsApp's template listing (``{"data": [...], "paging": ...}``,
    or a bare list); each malformed entry is an ``EntryError`` with its index."""
    entries: object = document.get("data") if isinstance(document, Mapping) else document
    if not isinstance(entries, list):
        raise ValueError('expected {"data": [...]} or a list of templates')
    templates: list[Template] = []
    errors: list[EntryError] = []
    for index, entry in enumerate(entries):
        try:
            templates.append(listed_template(entry))
        except ValueError as error:
            errors.append(EntryError(index, str(error)))
    return templates, errors


def listed_template(entry: object) -> Template:
    """One entry of the listing; ``ValueError`` says what is wrong with it."""
    if not isinstance(entry, Mapping):
        raise ValueError("not an object")
    name = _required(entry, "name", MAX_NAME)
    language = _required(entry, "language", MAX_LANGUAGE)
    if not _LANGUAGE.fullmatch(language):
        raise ValueError(f"language {language!r} is not a language code like en_US")
    template_id = _template_id(entry.get("id"))
    status = _text(entry, "status", 32) or UNKNOWN_STATUS
    category = _text(entry, "category", 64)
    reason = _text(entry, "rejected_reason", 200)
    template = Template.of(
        name,
        language,
        _body(entry.get("components")),
        category=category,
        status=status,
        template_id=template_id,
        quality=_quality(entry.get("quality_score")),
    )
    if reason and reason.upper() != "NONE":
        template = replace(template, status_reason=reason)
    return template


def _required(entry: Mapping[str, object], key: str, limit: int) -> str:
    value = _text(entry, key, limit)
    if value is None:
        raise ValueError(f"{key} is missing")
    return value


def _text(entry: Mapping[str, object], key: str, limit: int) -> str | None:
    value = entry.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key} must be a non-empty string")
    if len(value) > limit:
        raise ValueError(f"{key} is longer than {limit} characters")
    return value.strip()


def _template_id(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("id must be a string or a number")
    text = str(value).strip()
    if not text or len(text) > MAX_TEMPLATE_ID:
        raise ValueError(f"id must have 1 to {MAX_TEMPLATE_ID} characters")
    return text


def _body(components: object) -> str | None:
    if components is None:
        return None
    if not isinstance(components, list):
        raise ValueError("components must be a list")
    for component in components:
        if not isinstance(component, Mapping):
            raise ValueError("components must be objects")
        kind = component.get("type")
        if isinstance(kind, str) and kind.upper() == "BODY":
            text = component.get("text")
            if text is not None and not isinstance(text, str):
                raise ValueError("the BODY component's text must be a string")
            return text
    return None


def _quality(value: object) -> str | None:
    score = value.get("score") if isinstance(value, Mapping) else value
    return normalise_status(score) if isinstance(score, str) else None
