"""Workloads: hypothesis strategies for SQL statements against the legacy tables.

Each statement is built from the legacy catalog only (the application's view of the world),
as SQL text with quoted literals, so a failing workload prints as a runnable script.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from hypothesis import strategies as st

from migverify.catalog import Column, Relation
from migverify.quoting import ident, literal, qualified
from migverify.verify.values import column_values

OPERATIONS = ("insert", "select", "update", "delete", "upsert")
DEFAULT_OPERATIONS = ("insert", "select", "update", "delete")


@dataclass(frozen=True)
class Statement:
    """One statement of a workload, run in both worlds."""

    sql: str
    table: str
    operation: str
    role: str | None = None
    written: tuple[tuple[str, str], ...] = ()  # (column, literal) values an insert writes


@dataclass(frozen=True)
class TableModel:
    """What the generator knows about one legacy table."""

    relation: Relation
    samples: Mapping[str, tuple[str, ...]]  # column -> seeded values (text)
    values: Mapping[str, st.SearchStrategy[str]] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        # Value strategies are built once per column: building them per draw is slow.
        for column in self.relation.columns:
            render = _number_literal if _is_number_type(column.type) else literal
            strategy = column_values(column, self.samples.get(column.name, ())).map(render)
            self.values[column.name] = strategy  # type: ignore[index]

    @property
    def name(self) -> str:
        return (
            self.relation.qualified_name if self.relation.schema != "public" else self.relation.name
        )

    @property
    def writable(self) -> tuple[Column, ...]:
        return tuple(c for c in self.relation.columns if not c.generated and c.identity != "always")

    @property
    def keys(self) -> tuple[tuple[str, ...], ...]:
        """Primary key first, then unique keys: the columns code looks rows up by."""
        keys = []
        if self.relation.primary_key:
            keys.append(tuple(self.relation.primary_key.columns))
        keys += [tuple(u.columns) for u in self.relation.unique_keys]
        return tuple(keys) or ((self.relation.columns[0].name,),)


_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_NUMBER_TYPES = ("smallint", "integer", "bigint", "numeric", "real", "double precision")


def _is_number_type(type_name: str) -> bool:
    return type_name.split("(")[0] in _NUMBER_TYPES


def _number_literal(value: str | None) -> str:
    """Plain numbers stay bare (readable scripts); anything else is a quoted literal."""
    if value is not None and _NUMBER.fullmatch(value):
        return value
    return literal(value)


def _required(column: Column) -> bool:
    return column.not_null and column.default is None and not column.identity


def _quoted_table(model: TableModel) -> str:
    return qualified(model.name) if "." in model.name else ident(model.name)


Recent = Mapping[str, tuple[str, ...]]  # column name -> literals written earlier in the workload


def _value(model: TableModel, column: Column, recent: Recent) -> st.SearchStrategy[str]:
    """Column values, plus values written earlier in this workload (keys, FKs, conflicts)."""
    earlier = recent.get(column.name)
    if earlier:
        return st.one_of(st.sampled_from(earlier), model.values[column.name])
    return model.values[column.name]


def _returning(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(["", "", " RETURNING *"]))


def _where(draw: st.DrawFn, model: TableModel, recent: Recent) -> str:
    """A predicate by key (usually a seeded value) or by an arbitrary column."""
    relation = model.relation
    if draw(st.booleans()):
        key = draw(st.sampled_from(model.keys))
        parts = []
        for name in key:
            value = draw(_value(model, relation.column(name), recent))
            parts.append(
                f"{ident(name)} IS NULL" if value == "NULL" else f"{ident(name)} = {value}"
            )
        return " AND ".join(parts)
    column = draw(st.sampled_from(relation.columns))
    value = draw(_value(model, column, recent))
    if value == "NULL":
        return f"{ident(column.name)} IS NULL"
    if column.nondeterministic_default:
        # Its values differ between the worlds (now(), gen_random_uuid()): only equality with
        # a known value selects the same rows in both.
        return f"{ident(column.name)} = {value}"
    operator = draw(st.sampled_from(["=", "=", "<", ">"]))
    return f"{ident(column.name)} {operator} {value}"


@st.composite
def inserts(
    draw: st.DrawFn, model: TableModel, recent: Recent, upsert: bool = False
) -> tuple[str, tuple[tuple[str, str], ...]]:
    table = _quoted_table(model)
    writable = model.writable
    rows = draw(st.integers(1, 2)) if writable else 1
    # Columns the row needs (NOT NULL without a default) are usually given, the others half of
    # the time, so that most inserts can succeed and reach the interesting checks.
    chosen = [c for c in writable if draw(st.integers(0, 99)) < (85 if _required(c) else 50)]
    if not chosen and not upsert:
        return f"INSERT INTO {table} DEFAULT VALUES{_returning(draw)}", ()
    if not chosen:
        chosen = [writable[0]] if writable else []
    tuples = [[draw(_value(model, c, recent)) for c in chosen] for _ in range(rows)]
    values = ", ".join("(" + ", ".join(row) + ")" for row in tuples)
    written = tuple(
        (c.name, v) for row in tuples for c, v in zip(chosen, row, strict=True) if v != "NULL"
    )
    columns = ", ".join(ident(c.name) for c in chosen)
    sql = f"INSERT INTO {table} ({columns}) VALUES {values}"
    if upsert:
        key = draw(st.sampled_from(model.keys))
        others = [c.name for c in chosen if c.name not in key]
        if others and draw(st.booleans()):
            sets = ", ".join(f"{ident(n)} = EXCLUDED.{ident(n)}" for n in others)
            sql += f" ON CONFLICT ({', '.join(ident(k) for k in key)}) DO UPDATE SET {sets}"
        else:
            sql += f" ON CONFLICT ({', '.join(ident(k) for k in key)}) DO NOTHING"
    return sql + _returning(draw), written


@st.composite
def updates(draw: st.DrawFn, model: TableModel, recent: Recent) -> str:
    writable = model.writable or model.relation.columns
    targets = draw(
        st.lists(st.sampled_from(writable), min_size=1, max_size=2, unique_by=lambda c: c.name)
    )
    sets = ", ".join(f"{ident(c.name)} = {draw(_value(model, c, recent))}" for c in targets)
    where = _where(draw, model, recent)
    return f"UPDATE {_quoted_table(model)} SET {sets} WHERE {where}{_returning(draw)}"


@st.composite
def deletes(draw: st.DrawFn, model: TableModel, recent: Recent) -> str:
    where = _where(draw, model, recent)
    return f"DELETE FROM {_quoted_table(model)} WHERE {where}{_returning(draw)}"


@st.composite
def selects(draw: st.DrawFn, model: TableModel, recent: Recent) -> str:
    relation = model.relation
    if draw(st.booleans()):
        projection = "*"
    else:
        picked = draw(
            st.lists(st.sampled_from(relation.columns), min_size=1, unique_by=lambda c: c.name)
        )
        projection = ", ".join(ident(c.name) for c in relation.columns if c in picked)
    where = f" WHERE {_where(draw, model, recent)}" if draw(st.booleans()) else ""
    limit = draw(st.sampled_from(["", " LIMIT 5"]))
    order = ""
    if limit:
        # Deterministic columns first: rows that differ only in volatile values tie.
        ordered = sorted(relation.columns, key=lambda c: c.nondeterministic_default)
        order = " ORDER BY " + ", ".join(ident(c.name) for c in ordered)
    return f"SELECT {projection} FROM {_quoted_table(model)}{where}{order}{limit}"


def statements(
    models: Sequence[TableModel],
    operations: Sequence[str],
    role: str | None,
    recent: Recent | None = None,
) -> st.SearchStrategy[Statement]:
    """Any statement of the chosen operations on any of the tables."""
    recent = recent or {}
    options = []
    for model in models:
        builders = {
            "insert": inserts(model, recent),
            "upsert": inserts(model, recent, upsert=True),
            "update": updates(model, recent).map(lambda sql: (sql, ())),
            "delete": deletes(model, recent).map(lambda sql: (sql, ())),
            "select": selects(model, recent).map(lambda sql: (sql, ())),
        }
        for operation in operations:
            options.append(
                builders[operation].map(
                    lambda built, op=operation, m=model: Statement(
                        built[0], m.name, op, role, built[1]
                    )
                )
            )
    return st.one_of(*options)
