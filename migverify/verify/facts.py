"""What the probes know about a compared relation, read once from the reference world (seeded
rows, column maxima, enum labels) and from the migrated catalog (the types and constraints of
the target columns behind each legacy name)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
from pglast import ast, parse_sql

from migverify.catalog import Catalog, Constraint, Relation
from migverify.quoting import ident, qualified
from migverify.rows import Row
from migverify.rows.factory import leaf_row_query
from migverify.verify.boundaries import is_number

SEEDED_ROWS = 24
_ORDERABLE_FRESH = ("date", "timestamp with time zone", "timestamp without time zone")


@dataclass(frozen=True)
class MappedConstraint:
    """A constraint of a target table, its columns named as the legacy relation shows them."""

    constraint: Constraint
    table: str  # the target table it belongs to
    columns: tuple[str, ...]  # legacy column names


@dataclass(frozen=True)
class TableFacts:
    relation: Relation
    seeded: tuple[dict[str, str | None], ...]  # rows as text, ordered by key
    maxima: dict[str, str] = field(default_factory=dict)  # column -> max(column)::text
    labels: dict[str, tuple[str, ...]] = field(default_factory=dict)  # enum column -> labels
    target_types: dict[str, tuple[str, ...]] = field(default_factory=dict)  # column -> types
    target_constraints: tuple[MappedConstraint, ...] = ()
    neighbour: bool = False  # outside the spec, joined because of a foreign key
    # foreign key name -> parent key values (text) no row of this table references yet
    unused_parents: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    # (child table, foreign key name) -> values of the referenced columns of a row with children
    with_children: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    fresh: tuple[Row, ...] = ()  # rows the table accepts and does not hold (rows.RowFactory)
    # a seeded row no foreign key forbids deleting (NO ACTION, RESTRICT), if any
    leaf: dict[str, str | None] | None = None

    @property
    def name(self) -> str:
        return self.relation.display_name


def read_facts(
    conn: psycopg.Connection,
    relation: Relation,
    migrated: Catalog,
    compared: tuple[Relation, ...],
    *,
    neighbour: bool = False,
    fresh: tuple[Row, ...] = (),
    reference: Catalog | None = None,
) -> TableFacts:
    table = qualified(relation.qualified_name)
    key = _order_columns(relation)
    order = ", ".join(f"{ident(c)} NULLS FIRST" for c in key)
    columns = ", ".join(f"{ident(c.name)}::text" for c in relation.columns)
    rows = conn.execute(
        f"SELECT {columns} FROM {table} ORDER BY {order} LIMIT {SEEDED_ROWS}"
    ).fetchall()
    seeded = tuple(dict(zip(relation.column_names, row, strict=True)) for row in rows)
    leaf = seeded[0] if seeded else None
    query = leaf_row_query(reference, relation.qualified_name, columns) if reference else None
    if query is not None and seeded:
        found = conn.execute(f"{query} ORDER BY {order} LIMIT 1").fetchone()
        leaf = dict(zip(relation.column_names, found, strict=True)) if found else seeded[0]
    maxima = {}
    for column in relation.columns:
        if is_number(column.type) or column.type in _ORDERABLE_FRESH:
            (value,) = conn.execute(
                f"SELECT max({ident(column.name)})::text FROM {table}"
            ).fetchone()
            if value is not None and value not in ("NaN", "Infinity", "infinity"):
                maxima[column.name] = value
    labels = {}
    for column in relation.columns:
        found = conn.execute(
            "SELECT array_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_attribute a "
            "JOIN pg_enum e ON e.enumtypid = a.atttypid WHERE a.attrelid = %s::regclass "
            "AND a.attname = %s",
            (table, column.name),
        ).fetchone()[0]
        if found:
            labels[column.name] = tuple(found)
    types, constraints = _target_side(relation, migrated)
    return TableFacts(
        relation,
        seeded,
        maxima,
        labels,
        types,
        constraints,
        neighbour=neighbour,
        unused_parents=_unused_parents(conn, relation),
        with_children=_with_children(conn, relation, compared),
        fresh=fresh,
        leaf=leaf,
    )


def _parent_key_and_match(fk: Constraint) -> tuple[str, str]:
    """The parent's key columns as text (alias p), and the join of child c to parent p."""
    parent_cols = ", ".join(f"p.{ident(c)}::text" for c in fk.referenced_columns)
    match = " AND ".join(
        f"c.{ident(a)} = p.{ident(b)}"
        for a, b in zip(fk.columns, fk.referenced_columns, strict=True)
    )
    return parent_cols, match


def _unused_parents(conn: psycopg.Connection, relation: Relation) -> dict[str, tuple]:
    """Parent keys free for a new row, for each foreign key inside a unique key (1:1 tables)."""
    found = {}
    unique = [set(u.columns) for u in relation.unique_keys]
    for fk in relation.foreign_keys:
        if not fk.references or not any(set(fk.columns) <= u for u in unique):
            continue
        parent_cols, match = _parent_key_and_match(fk)
        rows = conn.execute(
            f"SELECT {parent_cols} FROM {qualified(fk.references)} p WHERE NOT EXISTS "
            f"(SELECT 1 FROM {qualified(relation.qualified_name)} c WHERE {match}) "
            f"ORDER BY 1 LIMIT 4"
        ).fetchall()
        found[fk.name] = tuple(tuple(r) for r in rows)
    return found


def _with_children(
    conn: psycopg.Connection, relation: Relation, compared: tuple[Relation, ...]
) -> dict[tuple[str, str], tuple[str, ...]]:
    """For each compared relation referencing RELATION: a parent row that has children."""
    found = {}
    for child in compared:
        for fk in child.foreign_keys:
            if fk.references != relation.qualified_name:
                continue
            parent_cols, match = _parent_key_and_match(fk)
            row = conn.execute(
                f"SELECT {parent_cols} FROM {qualified(relation.qualified_name)} p WHERE EXISTS "
                f"(SELECT 1 FROM {qualified(child.qualified_name)} c WHERE {match}) "
                f"ORDER BY 1 LIMIT 1"
            ).fetchone()
            if row is not None:
                found[(child.qualified_name, fk.name)] = tuple(row)
    return found


def _order_columns(relation: Relation) -> tuple[str, ...]:
    if relation.primary_key:
        return relation.primary_key.columns
    if relation.unique_keys:
        return relation.unique_keys[0].columns
    return tuple(c.name for c in relation.columns if c.type not in ("json", "xml", "point"))


def _target_side(
    relation: Relation, migrated: Catalog
) -> tuple[dict[str, tuple[str, ...]], tuple[MappedConstraint, ...]]:
    """Types and constraints of the target columns the migrated relation reads each legacy
    column from (a view's plain column references; a table is its own target)."""
    shown = migrated.find(relation.qualified_name)
    if shown is None:
        return {}, ()
    sources = (
        view_sources(shown)
        if shown.is_view
        else {c: (shown.qualified_name, c) for c in shown.column_names}
    )
    legacy_columns = set(relation.column_names)
    sources = {k: v for k, v in sources.items() if k in legacy_columns}
    types: dict[str, tuple[str, ...]] = {}
    for legacy_column, (table, column) in sources.items():
        target = migrated.find(table)
        if target is not None and column in target.column_names:
            types[legacy_column] = (target.column(column).type,)
    if shown.is_view:
        for column in shown.columns:  # the view's own column type (casts included)
            if column.name in relation.column_names:
                types[column.name] = tuple(
                    dict.fromkeys((*types.get(column.name, ()), column.type))
                )
    back: dict[tuple[str, str], str] = {}
    for legacy_column, (table, column) in sources.items():
        back.setdefault((table, column), legacy_column)
    constraints = []
    for table in sorted({t for t, _ in sources.values()}):
        target = migrated.find(table)
        if target is None:
            continue
        for constraint in target.constraints:
            names = [back.get((target.qualified_name, c)) for c in constraint.columns]
            if constraint.columns and all(names):
                constraints.append(
                    MappedConstraint(constraint, target.qualified_name, tuple(names))
                )  # type: ignore[arg-type]
    return types, tuple(constraints)


def view_sources(view: Relation) -> dict[str, tuple[str, str]]:
    """For each column of a view that is a plain (possibly cast) column of one of its base
    relations: (qualified base relation, base column)."""
    if not view.view_definition:
        return {}
    try:
        statement = parse_sql(view.view_definition)[0].stmt
    except Exception:
        return {}
    while isinstance(statement, ast.SelectStmt) and statement.op != 0 and statement.larg:
        statement = statement.larg  # UNION ALL of merged tables: the first branch names them
    if not isinstance(statement, ast.SelectStmt) or not statement.targetList:
        return {}
    aliases = _range_aliases(statement.fromClause or (), view)
    sources = {}
    columns = list(view.column_names)
    for position, target in enumerate(statement.targetList):
        if position >= len(columns):
            break
        found = _column_ref(target.val)
        if found is None:
            continue
        qualifier, column = found
        relation = (
            aliases.get(qualifier)
            if qualifier
            else (next(iter(aliases.values())) if len(set(aliases.values())) == 1 else None)
        )
        if relation:
            sources[columns[position]] = (relation, column)
    return sources


def _column_ref(node: Any) -> tuple[str | None, str] | None:
    while isinstance(node, ast.TypeCast):
        node = node.arg
    if not isinstance(node, ast.ColumnRef):
        return None
    parts = [f.sval for f in node.fields if isinstance(f, ast.String)]
    if len(parts) == 1:
        return None, parts[0]
    if len(parts) >= 2:
        return parts[-2], parts[-1]
    return None


def _range_aliases(from_clause: Any, view: Relation) -> dict[str, str]:
    """alias or name -> qualified relation name, for the relations in a FROM clause."""
    found: dict[str, str] = {}

    def visit(node: Any) -> None:
        if isinstance(node, ast.RangeVar):
            schema = node.schemaname or _schema_of(node.relname, view)
            qualified_name = f"{schema}.{node.relname}"
            found[node.alias.aliasname if node.alias else node.relname] = qualified_name
            found.setdefault(node.relname, qualified_name)
        elif isinstance(node, ast.JoinExpr):
            visit(node.larg)
            visit(node.rarg)

    for item in from_clause:
        visit(item)
    return found


def _schema_of(name: str, view: Relation) -> str:
    for qualified_name in view.view_relations:
        schema, _, relname = qualified_name.partition(".")
        if relname == name:
            return schema
    return "public"
