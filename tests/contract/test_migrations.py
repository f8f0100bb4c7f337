"""The Alembic migrations build exactly ``schema.metadata``, on every backend, idempotently."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, Inspector, Table, UniqueConstraint, inspect

from wawindow.adapters.db.engine import make_engine
from wawindow.adapters.db.migrate import alembic_config, current_revision, head_revision, upgrade
from wawindow.adapters.db.schema import metadata


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def test_a_new_database_has_no_revision(engine: Engine) -> None:
    assert current_revision(engine) is None


def test_upgrade_twice_reaches_head(engine: Engine) -> None:
    upgrade(engine)
    upgrade(engine)

    assert current_revision(engine) == head_revision()


def test_the_migrated_database_matches_the_schema(engine: Engine) -> None:
    upgrade(engine)

    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        differences = compare_metadata(context, metadata)

    assert differences == []


def test_processes_starting_together_upgrade_once(db_url: str, engine: Engine) -> None:
    # Several `serve` processes may start at once on a new database: each upgrade
    # waits for the other (advisory lock / BEGIN IMMEDIATE) and then finds it done.
    program = (
        "import sys\n"
        "from wawindow.adapters.db.engine import make_engine\n"
        "from wawindow.adapters.db.migrate import upgrade\n"
        "engine = make_engine(sys.argv[1])\n"
        "upgrade(engine)\n"
        "engine.dispose()\n"
    )
    starts = [
        subprocess.Popen([sys.executable, "-c", program, db_url], stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    errors = [start.communicate(timeout=120)[1] for start in starts]

    assert [start.returncode for start in starts] == [0, 0, 0], errors
    assert current_revision(engine) == head_revision()


def test_the_migration_names_every_key_constraint_and_index_as_the_schema(engine: Engine) -> None:
    # compare_metadata does not look at constraint names, nor at primary keys;
    # the naming convention is part of the schema (later migrations refer to them).
    upgrade(engine)

    inspector = inspect(engine)
    assert set(inspector.get_table_names()) == {*metadata.tables, "alembic_version"}
    for table in metadata.sorted_tables:
        assert _reflected_names(inspector, table.name) == _declared_names(table), table.name


Names = dict[str, set[tuple[str | None, tuple[str, ...]]]]


def _declared_names(table: Table) -> Names:
    return {
        "primary key": {(str(table.primary_key.name), tuple(table.primary_key.columns.keys()))},
        "foreign keys": {
            (str(fk.name), tuple(fk.column_keys)) for fk in table.foreign_key_constraints
        },
        "unique": {
            (str(uq.name), tuple(uq.columns.keys()))
            for uq in table.constraints
            if isinstance(uq, UniqueConstraint)
        },
        "indexes": {(str(ix.name), tuple(ix.columns.keys())) for ix in table.indexes},
    }


def _reflected_names(inspector: Inspector, table: str) -> Names:
    pk = inspector.get_pk_constraint(table)
    return {
        "primary key": {(pk["name"], tuple(pk["constrained_columns"]))},
        "foreign keys": {
            (fk["name"], tuple(fk["constrained_columns"]))
            for fk in inspector.get_foreign_keys(table)
        },
        "unique": {
            (uq["name"], tuple(uq["column_names"]))
            for uq in inspector.get_unique_constraints(table)
        },
        "indexes": {
            (ix["name"], tuple(str(column) for column in ix["column_names"]))
            for ix in inspector.get_indexes(table)
            # PostgreSQL also lists the index behind each unique constraint.
            if "duplicates_constraint" not in ix
        },
    }


def test_the_query_indexes_come_off_and_back(engine: Engine) -> None:
    # 0003 only adds and swaps indexes: a downgrade past it and back gives the same schema.
    upgrade(engine)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
    assert "ix_contacts_tenant_id" in {ix["name"] for ix in inspect(engine).get_indexes("contacts")}
    upgrade(engine)
    test_the_migration_names_every_key_constraint_and_index_as_the_schema(engine)
