"""What reads a legacy table from outside the layer: views, and policies of tables the spec
does not rename. PostgreSQL binds them to the table itself, not to its name, so when the cutover
renames the table (or drops it) they would follow it (or block it); the cutover creates them
again so that they read the compatibility view by the legacy name, and the rollback points them
back at the legacy table (lint MV010 names the ones a hand-written layer forgets).

Their text comes from the server (pg_get_viewdef, pg_get_expr) read with an empty search_path,
so every name in it is schema-qualified and means the same whatever search_path the cutover
runs with. For the rollback of a layer that keeps the legacy tables (renamed `<name>_legacy`
until the rollback names them back), the same text with the legacy tables' names replaced by
the kept names (pglast: parse, rename the range variables, deparse)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pglast import ast, parse_sql
from pglast.stream import RawStream
from pglast.visitors import Visitor

__all__ = ["Dependent", "drop_blockers", "load_dependents", "renamed", "renamed_expression"]


@dataclass(frozen=True)
class Dependent:
    """A view (CREATE OR REPLACE VIEW) or a policy (ALTER POLICY) that reads legacy tables."""

    kind: str  # view | policy
    schema: str
    name: str  # the view's, or the policy's
    table: str | None  # a policy's table (qualified)
    reads: tuple[str, ...]  # the legacy tables it reads (qualified)
    options: tuple[str, ...]  # a view's reloptions
    definition: str | None  # a view's query
    using: str | None  # a policy's expressions
    with_check: str | None

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"


def load_dependents(conn: Any, legacy: list[str]) -> tuple[Dependent, ...]:
    """The views and policies outside LEGACY (qualified legacy tables) that read a legacy table
    directly, in a stable order."""
    if not legacy:
        return ()
    names = sorted(legacy)
    with conn.transaction():
        conn.execute("SET LOCAL search_path = ''")
        views = conn.execute(
            """
            SELECT n.nspname, v.relname, coalesce(v.reloptions, '{}'), pg_get_viewdef(v.oid),
                   array_agg(DISTINCT tn.nspname || '.' || t.relname ORDER BY
                             tn.nspname || '.' || t.relname)
            FROM pg_rewrite r
            JOIN pg_class v ON v.oid = r.ev_class AND v.relkind = 'v'
            JOIN pg_namespace n ON n.oid = v.relnamespace
            JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                            AND d.refclassid = 'pg_class'::regclass
            JOIN pg_class t ON t.oid = d.refobjid
            JOIN pg_namespace tn ON tn.oid = t.relnamespace
            WHERE tn.nspname || '.' || t.relname = ANY (%s)
              AND n.nspname || '.' || v.relname <> ALL (%s)
            GROUP BY v.oid, n.nspname, v.relname
            ORDER BY n.nspname, v.relname
            """,
            (names, names),
        ).fetchall()
        policies = conn.execute(
            """
            SELECT n.nspname, p.polname, n.nspname || '.' || c.relname,
                   pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid),
                   array_agg(DISTINCT tn.nspname || '.' || t.relname ORDER BY
                             tn.nspname || '.' || t.relname)
            FROM pg_policy p
            JOIN pg_class c ON c.oid = p.polrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_depend d ON d.classid = 'pg_policy'::regclass AND d.objid = p.oid
                            AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> c.oid
            JOIN pg_class t ON t.oid = d.refobjid
            JOIN pg_namespace tn ON tn.oid = t.relnamespace
            WHERE tn.nspname || '.' || t.relname = ANY (%s)
              AND n.nspname || '.' || c.relname <> ALL (%s)
            GROUP BY p.oid, n.nspname, p.polname, c.relname
            ORDER BY n.nspname, c.relname, p.polname
            """,
            (names, names),
        ).fetchall()
    found = []
    for schema, name, options, definition, reads in views:
        query = definition.strip().rstrip(";")
        found.append(
            Dependent(
                kind="view",
                schema=schema,
                name=name,
                table=None,
                reads=tuple(reads),
                options=tuple(sorted(options)),
                definition=query,
                using=None,
                with_check=None,
            )
        )
    for schema, name, table, using, with_check, reads in policies:
        found.append(
            Dependent(
                kind="policy",
                schema=schema,
                name=name,
                table=table,
                reads=tuple(reads),
                options=(),
                definition=None,
                using=using,
                with_check=with_check,
            )
        )
    return tuple(found)


def drop_blockers(conn: Any, legacy: list[str]) -> list[tuple[str, str]]:
    """What depends on a legacy table and is not made again by the cutover (materialized views,
    SQL functions with a BEGIN ATOMIC body): (the object, the table). With legacy_tables =
    "drop" the DROP TABLE would fail on them."""
    if not legacy:
        return []
    rows = conn.execute(
        """
        SELECT DISTINCT
               CASE WHEN d.classid = 'pg_proc'::regclass
                    THEN 'function ' || d.objid::regprocedure::text
                    ELSE 'materialized view ' || r.ev_class::regclass::text END,
               tn.nspname || '.' || t.relname
        FROM pg_depend d
        JOIN pg_class t ON t.oid = d.refobjid
        JOIN pg_namespace tn ON tn.oid = t.relnamespace
        LEFT JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
        LEFT JOIN pg_class m ON m.oid = r.ev_class
        WHERE d.refclassid = 'pg_class'::regclass
          AND tn.nspname || '.' || t.relname = ANY (%s)
          AND (d.classid = 'pg_proc'::regclass OR m.relkind = 'm')
        ORDER BY 2, 1
        """,
        (sorted(legacy),),
    ).fetchall()
    return [(what, table) for what, table in rows]


class _Rename(Visitor):
    def __init__(self, legacy: Mapping[str, tuple[str, str]]) -> None:
        self.legacy = legacy

    def visit_RangeVar(self, ancestors: Any, node: ast.RangeVar) -> Any:  # noqa: N802
        kept = self.legacy.get(f"{node.schemaname}.{node.relname}") if node.schemaname else None
        if kept is None:
            return None
        return ast.RangeVar(
            schemaname=kept[0],
            relname=kept[1],
            inh=node.inh,
            relpersistence=node.relpersistence,
            alias=node.alias,
        )


def renamed(query: str, legacy: Mapping[str, tuple[str, str]]) -> str:
    """QUERY (a SELECT) reading LEGACY's (qualified name -> (schema, name)) other names."""
    tree = parse_sql(query)
    _Rename(legacy)(tree)
    return RawStream()(tree)


def renamed_expression(expression: str, legacy: Mapping[str, tuple[str, str]]) -> str:
    """EXPRESSION (a policy's) reading LEGACY's other names."""
    return renamed(f"SELECT {expression}", legacy).removeprefix("SELECT ")
