"""A spec that renames every application table of a fixture project to `<table>_v2` (and one
plain column of each to `<column>_v2`), with a target that is each table's own definition: a
sound migration, which `migverify check` must call SAFE with writes tested on every table."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psycopg
from pglast import ast, parse_sql
from pglast.stream import RawStream

from migverify.catalog import Catalog, Relation, load_catalog
from migverify.history import read_history
from migverify.quoting import ident, qualified
from migverify.sandbox import Sandbox
from migverify.supabase import SupabasePlan

# Not the application's: the Supabase shim's schemas, migrators' bookkeeping tables.
SKIPPED_SCHEMAS = frozenset({"auth", "storage", "extensions", "vault", "sqitch", "realtime"})
BOOKKEEPING = frozenset({"schema_migrations", "ar_internal_metadata", "__diesel_schema_migrations"})


@dataclass(frozen=True)
class Renamed:
    table: str  # the legacy table as the spec names it
    target: str
    column: tuple[str, str] | None  # (legacy column, target column)


def application_tables(catalog: Catalog) -> list[Relation]:
    return [
        r
        for r in catalog.tables
        if r.schema not in SKIPPED_SCHEMAS and r.name not in BOOKKEEPING and r.partition_of is None
    ]


@dataclass(frozen=True)
class Legacy:
    """The project's legacy state: its catalog, and how each partitioned table is partitioned."""

    catalog: Catalog
    partitioning: dict[str, tuple[str, tuple[tuple[str, str], ...]]]  # key, (partition, bound)


def legacy_catalog(box: Sandbox, project: Path) -> Legacy:
    history = read_history(project)
    scripts = history.scripts()
    db = box.create_database("project")
    with db.connect() as conn:
        plan = SupabasePlan(tuple(scripts), _supabase(history))
        plan.prepare(conn).load(scripts)
        return Legacy(load_catalog(conn), _partitioning(conn))


def _partitioning(conn: psycopg.Connection) -> dict:
    rows = conn.execute(
        """
        SELECT n.nspname || '.' || p.relname, pg_get_partkeydef(p.oid),
               ARRAY(SELECT c.relname || ' ' || pg_get_expr(c.relpartbound, c.oid)
                     FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                     WHERE i.inhparent = p.oid ORDER BY c.relname)
        FROM pg_class p JOIN pg_namespace n ON n.oid = p.relnamespace WHERE p.relkind = 'p'
        """
    ).fetchall()
    return {
        name: (key, tuple(tuple(b.split(" ", 1)) for b in bounds)) for name, key, bounds in rows
    }


def _supabase(history):  # noqa: ANN001, ANN202
    from migverify.supabase import SupabaseOptions

    return SupabaseOptions(mode="on" if history.layout == "supabase" else "auto")


def write_spec(directory: Path, project: Path, legacy: Legacy) -> list[Renamed]:
    """migverify.toml and target.sql in DIRECTORY: every application table renamed, each
    target the table's own definition: columns, defaults, constraints, indexes (LIKE … INCLUDING
    ALL), partitions, foreign keys (onto the other targets) and privileges."""
    catalog = legacy.catalog
    tables = application_tables(catalog)
    names = {r.qualified_name for r in tables}
    renamed, sql = [], []
    for relation in tables:
        target = f"{relation.name}_v2"
        column = _plain_column(relation)
        table = f"{ident(relation.schema)}.{ident(target)}"
        like = f"CREATE TABLE {table} (LIKE {qualified(relation.qualified_name)} INCLUDING ALL)"
        partitioned = legacy.partitioning.get(relation.qualified_name)
        if partitioned:
            key, partitions = partitioned
            sql.append(f"{like} PARTITION BY {key};")
            for name, bound in partitions:
                part = f"{ident(relation.schema)}.{ident(name + '_v2')}"
                sql.append(f"CREATE TABLE {part} PARTITION OF {table} {bound};")
        else:
            sql.append(f"{like};")
        for grant in relation.grants:
            if grant.grantee == relation.owner:
                continue
            columns = f" ({ident(grant.column)})" if grant.column else ""
            grantee = "PUBLIC" if grant.grantee.upper() == "PUBLIC" else ident(grant.grantee)
            sql.append(f"GRANT {grant.privilege}{columns} ON {table} TO {grantee};")
        if column:
            sql.append(
                f"ALTER TABLE {table} RENAME COLUMN {ident(column)} TO {ident(column + '_v2')};"
            )
        renamed.append(
            Renamed(relation.display_name, target, (column, column + "_v2") if column else None)
        )
    for relation in tables:
        for fk in relation.foreign_keys:
            sql.append(_foreign_key(relation, fk.name, fk.definition, names))
    (directory / "target.sql").write_text("\n".join(sql) + "\n")
    lines = [
        "[legacy]",
        f'migrations = "{project}"',
        "[target]",
        'sql = ["target.sql"]',
    ]
    for item in renamed:
        lines += ["", f'[tables."{item.table}"]', f'target = "{item.target}"']
        if item.column:
            lines.append(f'columns = {{ "{item.column[0]}" = "{item.column[1]}" }}')
    (directory / "migverify.toml").write_text("\n".join(lines) + "\n")
    return renamed


def _plain_column(relation: Relation) -> str | None:
    """A column no key, foreign key, index, check, trigger or generated column names; none when
    a trigger uses its rows whole (an audit trigger's to_jsonb(NEW) would change)."""
    from migverify.generate.triggers import _scan_records

    for trigger in relation.triggers:
        if trigger.function_language == "plpgsql" and _scan_records(trigger.function_source)[1]:
            return None
    named = {c for constraint in relation.constraints for c in constraint.columns}
    named |= {c for index in relation.indexes for c in index.columns}
    for column in relation.columns:
        if column.name in named or column.generated or column.identity:
            continue
        if any(column.name in t.function_source for t in relation.triggers):
            continue
        if any(column.name in (g.generated or "") for g in relation.columns):
            continue
        return column.name
    return None


def _foreign_key(relation: Relation, name: str, definition: str, renamed: set[str]) -> str:
    """The legacy foreign key on the target, pointing at the target of a renamed parent."""
    statement = parse_sql(f"ALTER TABLE x ADD {definition}")[0].stmt
    constraint = statement.cmds[0].def_
    parent = constraint.pktable
    schema = parent.schemaname or relation.schema
    if f"{schema}.{parent.relname}" in renamed:
        constraint.pktable = ast.RangeVar(
            schemaname=schema, relname=f"{parent.relname}_v2", inh=True, relpersistence="p"
        )
    constraint.conname = f"{name}_v2"
    body = RawStream()(constraint)
    table = f"{ident(relation.schema)}.{ident(relation.name + '_v2')}"
    return f"ALTER TABLE {table} ADD {body};"


def connect(box: Sandbox) -> psycopg.Connection:
    return box.create_database("scratch").connect()
