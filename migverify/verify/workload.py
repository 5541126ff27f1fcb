"""Random workloads for the search after the probes: hypothesis strategies for short sequences
of statements against the legacy tables, for interactions between statements.

Hypothesis draws the structure of each workload (how many statements, which table and kind of
statement each); the values come from a `random.Random` hypothesis seeds once per workload
(`st.randoms(use_true_random=True)`). A draw through hypothesis costs tens of microseconds, and
a statement has dozens of values: drawing them one by one made the search ten times slower.
Counterexamples are minimised statement by statement afterwards (see shrink.py), so nothing is
lost by not shrinking the values.
"""

from __future__ import annotations

import dataclasses
import random
import string
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from hypothesis import strategies as st

from migverify.catalog import Column, Relation
from migverify.quoting import ident, literal, qualified
from migverify.verify.boundaries import (
    _INT_LIMITS,
    _TYPMOD,
    base_type,
    edge_values,
    is_number,
    is_text,
    text_limit,
)
from migverify.verify.facts import TableFacts
from migverify.verify.statement import OPERATIONS, Actor, Statement

__all__ = ["OPERATIONS", "TableModel", "workloads"]

RECENT_VALUES = 8
_ALPHABET = string.ascii_letters + string.digits + " _-'\\%" + "éüß漢字😀\t"
_RANDOM_OPERATIONS = ("insert", "select", "update", "delete", "upsert", "merge", "lock")


@dataclass(frozen=True)
class TableModel:
    """What the generator knows about one compared table."""

    relation: Relation
    samples: Mapping[str, tuple[str, ...]]  # column -> seeded values (text)
    edges: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # column -> edge values
    # rows the table accepts and does not hold (SQL literals by column): inserts start from one
    fresh: tuple[Mapping[str, str], ...] = ()
    # columns whose values differ between runs (volatile defaults, triggers drawing values)
    unstable: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        return self.relation.display_name

    @property
    def quoted(self) -> str:
        return qualified(self.name) if "." in self.name else ident(self.name)

    @property
    def writable(self) -> tuple[Column, ...]:
        return tuple(c for c in self.relation.columns if not c.generated and c.identity != "always")

    def varies(self, column: Column) -> bool:
        """Whether the column's values differ between the worlds (compared by presence)."""
        return column.nondeterministic_default or column.name in self.unstable

    @property
    def keys(self) -> tuple[tuple[str, ...], ...]:
        """Primary key first, then unique keys: the columns code looks rows up by."""
        keys = [tuple(u.columns) for u in self.relation.unique_keys]
        return tuple(keys) or ((self.relation.columns[0].name,),)


def _random_value(rng: random.Random, column: Column) -> str | None:
    """A fresh value of the column's type, or None for a type without a generator."""
    type_name = column.type
    base = base_type(type_name)
    if type_name.endswith("[]"):
        return rng.choice(["{}", "{NULL}"])
    if type_name in _INT_LIMITS:
        low, high = _INT_LIMITS[type_name]
        return str(rng.choice([rng.randint(-3, 400), rng.randint(low, high), 0]))
    if base == "numeric":
        match = _TYPMOD.search(type_name)
        if match:
            precision, scale = int(match.group(1)), int(match.group(2) or 0)
            digits = rng.randint(0, 10**precision - 1) * rng.choice([1, 1, -1])
            return str(Decimal(digits).scaleb(-scale))
        return str(Decimal(rng.randint(-(10**9), 10**9)).scaleb(-rng.randint(0, 6)))
    if base in ("real", "double precision"):
        return repr(rng.uniform(-1e6, 1e6))
    if is_text(type_name):
        limit = text_limit(type_name)
        size = rng.randint(0, (limit + 2) if limit else 24)
        return "".join(rng.choice(_ALPHABET) for _ in range(size))
    if base == "boolean":
        return rng.choice(["true", "false"])
    if base.startswith("timestamp") or base == "date":
        # Far from the run's clock window (verify/clock.py): a value written here is never a
        # value a clock could have written during the run.
        moment = datetime(2015, 1, 1) + timedelta(seconds=rng.randint(-86400 * 400, 86400 * 400))
        if base == "date":
            return moment.date().isoformat()
        return moment.isoformat(sep=" ") + ("+00" if "with time zone" in type_name else "")
    if base == "uuid":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if base in ("json", "jsonb"):
        return rng.choice(["{}", '{"a": 1}', "[]", "null", '{"k": [1, 2, "x"]}'])
    return None


def _render(value: str | None, column: Column) -> str:
    if value is None:
        return "NULL"
    if value == "DEFAULT":
        return "DEFAULT"
    if is_number(column.type):
        try:
            if Decimal(value).is_finite() and value.strip() == value:
                return value
        except ArithmeticError:
            pass
    return literal(value)


class _Drawer:
    """Values for one workload: seeded ones (to hit keys and foreign keys), values written
    earlier in the workload, edge values, fresh ones, NULL."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.recent: dict[str, list[str]] = {}

    def value(self, model: TableModel, column: Column) -> str:
        rng = self.rng
        roll = rng.random()
        earlier = self.recent.get(column.name)
        samples = model.samples.get(column.name, ())
        edges = model.edges.get(column.name, ())
        if earlier and roll < 0.3:
            return rng.choice(earlier)
        if samples and roll < 0.55:
            return _render(rng.choice(samples), column)
        if roll < 0.62:
            return "NULL"
        if edges and roll < 0.72:
            return _render(rng.choice(edges), column)
        fresh = _random_value(rng, column)
        if fresh is None:
            return _render(rng.choice(samples), column) if samples else "NULL"
        return _render(fresh, column)

    def remember(self, column: str, value: str) -> None:
        if value in ("NULL", "DEFAULT"):
            return
        values = self.recent.setdefault(column, [])
        if value not in values:
            values.append(value)
            del values[:-RECENT_VALUES]

    def where(self, model: TableModel) -> str:
        """A predicate by key (usually a seeded value) or by an arbitrary column."""
        rng = self.rng
        relation = model.relation
        if rng.random() < 0.6:
            parts = []
            for name in rng.choice(model.keys):
                value = self.value(model, relation.column(name))
                parts.append(
                    f"{ident(name)} IS NULL" if value == "NULL" else f"{ident(name)} = {value}"
                )
            return " AND ".join(parts)
        column = rng.choice(relation.columns)
        value = self.value(model, column)
        if value == "NULL":
            return f"{ident(column.name)} IS NULL"
        if base_type(column.type) in ("json", "xml"):  # no equality operator
            return f"{ident(column.name)}::text = ({value})::text"
        if model.varies(column):
            # Its values differ between the worlds (now(), gen_random_uuid()): only equality with
            # a known value selects the same rows in both.
            return f"{ident(column.name)} = {value}"
        return f"{ident(column.name)} {rng.choice(['=', '=', '<', '>'])} {value}"

    def insert(self, model: TableModel, role: str | None, upsert: bool) -> Statement:
        rng = self.rng
        writable = model.writable
        start = rng.choice(model.fresh) if model.fresh and rng.random() < 0.5 else None
        chosen = [
            c
            for c in writable
            if (start is not None and c.name in start)
            or rng.random() < (0.85 if c.not_null and c.default is None and not c.identity else 0.5)
        ]
        operation = "upsert" if upsert else "insert"
        returning = rng.random() < 0.3
        tail = " RETURNING *" if returning else ""
        if not chosen:
            if upsert and writable:
                chosen = [writable[0]]
            else:
                return Statement(
                    f"INSERT INTO {model.quoted} DEFAULT VALUES{tail}",
                    model.name,
                    operation,
                    role,
                    returns_rows=returning,
                )
        rows = []
        written = []
        for _ in range(rng.choice([1, 1, 1, 2])):
            row = []
            for column in chosen:
                if start is not None and column.name in start and rng.random() < 0.85:
                    value = start[column.name]
                else:
                    value = "DEFAULT" if rng.random() < 0.05 else self.value(model, column)
                row.append(value)
                if value not in ("NULL", "DEFAULT"):
                    written.append((column.name, value))
            rows.append("(" + ", ".join(row) + ")")
        sql = (
            f"INSERT INTO {model.quoted} ({', '.join(ident(c.name) for c in chosen)}) "
            f"VALUES {', '.join(rows)}"
        )
        if upsert:
            key = rng.choice(model.keys)
            others = [c.name for c in chosen if c.name not in key]
            target = ", ".join(ident(k) for k in key)
            if others and rng.random() < 0.5:
                sets = ", ".join(f"{ident(n)} = EXCLUDED.{ident(n)}" for n in others)
                sql += f" ON CONFLICT ({target}) DO UPDATE SET {sets}"
            else:
                sql += f" ON CONFLICT ({target}) DO NOTHING"
        for column, value in written:
            self.remember(column, value)
        return Statement(
            sql + tail, model.name, operation, role, tuple(written), returns_rows=returning
        )

    def update(self, model: TableModel, role: str | None) -> Statement:
        rng = self.rng
        writable = model.writable or model.relation.columns
        targets = rng.sample(list(writable), k=min(len(writable), rng.choice([1, 1, 2])))
        sets = []
        for column in targets:
            value = "DEFAULT" if rng.random() < 0.08 else self.value(model, column)
            sets.append(f"{ident(column.name)} = {value}")
        sql = f"UPDATE {model.quoted} SET {', '.join(sets)} WHERE {self.where(model)}"
        return self._write(sql, model, "update", role)

    def delete(self, model: TableModel, role: str | None) -> Statement:
        sql = f"DELETE FROM {model.quoted} WHERE {self.where(model)}"
        return self._write(sql, model, "delete", role)

    def _write(self, sql: str, model: TableModel, operation: str, role: str | None) -> Statement:
        """SQL as it is or (three times in ten) with RETURNING *."""
        returning = self.rng.random() < 0.3
        return Statement(
            sql + (" RETURNING *" if returning else ""),
            model.name,
            operation,
            role,
            returns_rows=returning,
        )

    def select(self, model: TableModel, role: str | None, lock: bool = False) -> Statement:
        rng = self.rng
        relation = model.relation
        ordered = sorted(relation.columns, key=model.varies)
        comparable = [c for c in ordered if base_type(c.type) not in ("json", "xml", "point")]
        order = " ORDER BY " + ", ".join(ident(c.name) for c in comparable) if comparable else ""
        where = f" WHERE {self.where(model)}" if rng.random() < 0.6 else ""
        shape = rng.random()
        if lock:
            clause = rng.choice(["FOR UPDATE", "FOR SHARE", "FOR UPDATE SKIP LOCKED"])
            sql = f"SELECT * FROM {model.quoted}{where}{order} LIMIT 3 {clause}"
        elif shape < 0.5:
            sql = f"SELECT * FROM {model.quoted}{where}{order if rng.random() < 0.5 else ''}"
            if order and rng.random() < 0.3:
                sql = f"SELECT * FROM {model.quoted}{where}{order} LIMIT 5 OFFSET 1"
        elif shape < 0.8:
            picked = rng.sample(list(relation.columns), k=rng.randint(1, len(relation.columns)))
            names = ", ".join(ident(c.name) for c in relation.columns if c in picked)
            distinct = "DISTINCT " if rng.random() < 0.3 else ""
            sql = f"SELECT {distinct}{names} FROM {model.quoted}{where}"
        else:
            column = rng.choice(comparable or list(relation.columns))
            name = ident(column.name)
            sql = f"SELECT {name}, count(*) AS n FROM {model.quoted}{where} GROUP BY {name}"
        operation = "lock" if lock else "select"
        return Statement(sql, model.name, operation, role, returns_rows=True)

    def merge(self, model: TableModel, role: str | None) -> Statement:
        rng = self.rng
        key = rng.choice(model.keys)
        writable = [c for c in model.writable]
        chosen = [c for c in writable if c.name in key or rng.random() < 0.5]
        if not chosen or any(k not in {c.name for c in chosen} for k in key):
            return self.insert(model, role, upsert=False)
        values = ", ".join(f"CAST({self.value(model, c)} AS {c.type})" for c in chosen)
        names = ", ".join(ident(c.name) for c in chosen)
        on = " AND ".join(f"t.{ident(k)} = s.{ident(k)}" for k in key)
        others = [c for c in chosen if c.name not in key]
        matched = (
            "DELETE"
            if not others or rng.random() < 0.2
            else "UPDATE SET " + ", ".join(f"{ident(c.name)} = s.{ident(c.name)}" for c in others)
        )
        inserted = ", ".join(f"s.{ident(c.name)}" for c in chosen)
        sql = (
            f"MERGE INTO {model.quoted} t USING (VALUES ({values})) AS s({names}) ON {on} "
            f"WHEN MATCHED THEN {matched} WHEN NOT MATCHED THEN INSERT ({names}) VALUES ({inserted})"
        )
        return Statement(sql, model.name, "merge", role)

    def statement(self, model: TableModel, operation: str, role: str | None) -> Statement:
        if operation in ("insert", "upsert"):
            return self.insert(model, role, upsert=operation == "upsert")
        if operation == "update":
            return self.update(model, role)
        if operation == "delete":
            return self.delete(model, role)
        if operation == "merge":
            return self.merge(model, role)
        return self.select(model, role, lock=operation == "lock")


def workloads(
    models: Sequence[TableModel],
    operations: Sequence[str],
    actor: Actor,
    steps: int,
) -> st.SearchStrategy[tuple[Statement, ...]]:
    """Workloads of 1..STEPS statements of the chosen operations on the compared tables, run
    as ACTOR."""
    role = actor.role
    kinds = [op for op in operations if op in _RANDOM_OPERATIONS]
    choices = [(model, op) for model in models for op in kinds]

    @st.composite
    def workload(draw: st.DrawFn) -> tuple[Statement, ...]:
        rng = draw(st.randoms(use_true_random=True))
        drawer = _Drawer(rng)
        count = draw(st.integers(1, steps))
        picks = draw(st.lists(st.integers(0, len(choices) - 1), min_size=count, max_size=count))
        made = tuple(drawer.statement(*choices[i], role) for i in picks)
        if actor.claims is None:
            return made
        return tuple(dataclasses.replace(s, claims=actor.claims) for s in made)

    return workload()


def fresh_rows(facts: TableFacts) -> tuple[dict[str, str], ...]:
    """The rows built for a table that need no new parent row, as SQL literals."""
    columns = {c.name: c for c in facts.relation.columns}
    return tuple(
        {c: _render(v, columns[c]) for c, v in row.values.items()}
        for row in facts.fresh
        if not row.prerequisites
    )


def edge_table(relation: Relation, target_types: Mapping[str, tuple[str, ...]]) -> dict:
    """Edge values per column, for the search to mix in."""
    return {
        c.name: tuple(edge_values(c.type, target_types.get(c.name, ()))) for c in relation.columns
    }
