"""The template registry on SQL (SQLite or PostgreSQL).

``SqlTemplateRows`` works inside a transaction that someone else holds (the
ingest's); ``SqlTemplateStore`` is a transaction of its own, for the API and the
CLI. Rows read to be changed are locked (``FOR UPDATE`` on PostgreSQL; SQLite
transactions begin IMMEDIATE, one writer at a time).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, Select, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from wawindow.adapters.db import schema as t
from wawindow.adapters.db.transaction import Transaction
from wawindow.domain.templates import Template
from wawindow.service.templates_registry import StoredTemplate, TemplateFilter

_c = t.templates.c


class SqlTemplateRows:
    """Template rows in a transaction held by the caller."""

    def __init__(self, conn: Connection) -> None:
        self._rows_conn = conn

    def find(
        self, tenant_id: str, line: str, template_id: str | None, name: str | None
    ) -> list[StoredTemplate]:
        wanted = []
        if template_id is not None:
            wanted.append(_c.template_id == template_id)
        if name is not None:
            wanted.append(_c.name == name)
        if not wanted:
            return []
        query = (
            select(t.templates)
            .where(_c.tenant_id == tenant_id, _c.line == line, or_(*wanted))
            .order_by(_c.name, _c.language)
        )
        if self._rows_conn.dialect.name == "postgresql":
            query = query.with_for_update()
        return [_stored(row._mapping) for row in self._rows_conn.execute(query)]

    def insert(self, tenant_id: str, line: str, template: Template, at: datetime) -> bool:
        values = {
            "tenant_id": tenant_id,
            "line": line,
            "name": template.name,
            "language": template.language,
            **_columns(template),
            "updated_at": at,
        }
        dialect = postgresql if self._rows_conn.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(t.templates).values(**values).on_conflict_do_nothing()
        returned = self._rows_conn.execute(statement.returning(_c.name)).first()
        return returned is not None

    def update(
        self, tenant_id: str, line: str, key: tuple[str, str], template: Template, at: datetime
    ) -> None:
        name, language = key
        self._rows_conn.execute(
            update(t.templates)
            .where(
                _c.tenant_id == tenant_id,
                _c.line == line,
                _c.name == name,
                _c.language == language,
            )
            .values(**_columns(template), updated_at=at)
        )


class SqlTemplateStore(Transaction):
    """The registry in a transaction of its own (API requests, imports)."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self._rows = SqlTemplateRows(self._conn)

    def find(
        self, tenant_id: str, line: str, template_id: str | None, name: str | None
    ) -> list[StoredTemplate]:
        return self._rows.find(tenant_id, line, template_id, name)

    def insert(self, tenant_id: str, line: str, template: Template, at: datetime) -> bool:
        return self._rows.insert(tenant_id, line, template, at)

    def update(
        self, tenant_id: str, line: str, key: tuple[str, str], template: Template, at: datetime
    ) -> None:
        self._rows.update(tenant_id, line, key, template, at)

    def line_owner(self, phone_number_id: str) -> str | None:
        found = self._conn.execute(
            select(t.lines.c.tenant_id).where(t.lines.c.phone_number_id == phone_number_id)
        ).scalar()
        return None if found is None else str(found)

    def templates(self, tenant_id: str, where: TemplateFilter) -> list[StoredTemplate]:
        query = _filtered(select(t.templates).where(_c.tenant_id == tenant_id), where)
        query = query.order_by(_c.line, _c.name, _c.language)
        return [_stored(row._mapping) for row in self._conn.execute(query)]


def _filtered(query: Select[Any], where: TemplateFilter) -> Select[Any]:
    if where.line is not None:
        query = query.where(_c.line == where.line)
    if where.status is not None:
        query = query.where(_c.status == where.status)
    if where.name is not None:
        query = query.where(_c.name == where.name)
    if where.language is not None:
        query = query.where(_c.language == where.language)
    if where.category is not None:
        query = query.where(_c.category == where.category)
    return query


def _clip(value: str | None, size: int) -> str | None:
    """Webhook values are kept, never refused: one too long for its column is cut."""
    return None if value is None else value[:size]


def _columns(template: Template) -> dict[str, Any]:
    return {
        "template_id": _clip(template.template_id, 64),
        "category": _clip(template.category, 64),
        "status": _clip(template.status, 32),
        "status_reason": _clip(template.status_reason, 200),
        "quality": _clip(template.quality, 32),
        "body": template.body,
        "param_count": template.param_count,
        "param_names": list(template.param_names),
    }


def template_from_row(row: RowMapping) -> Template:
    """A ``templates`` row as the domain's Template."""
    return Template(
        template_id=row["template_id"],
        name=row["name"],
        language=row["language"],
        category=row["category"],
        status=row["status"],
        body=row["body"],
        param_count=row["param_count"],
        param_names=tuple(row["param_names"] or ()),
        quality=row["quality"],
        status_reason=row["status_reason"],
    )


def _stored(row: RowMapping) -> StoredTemplate:
    return StoredTemplate(row["line"], template_from_row(row), row["updated_at"])
