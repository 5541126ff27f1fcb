"""The probe builder: what probes know about one table, its base rows (a seeded row copied with
fresh key values, foreign-key parents kept or inserted first), and the statements they write."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from migverify.catalog import Column, Constraint
from migverify.quoting import ident, literal, qualified
from migverify.rows import Row
from migverify.verify.boundaries import (
    _INT_LIMITS,
    edge_values,
    is_integer,
    is_number,
    is_text,
    text_limit,
)
from migverify.verify.facts import TableFacts
from migverify.verify.statement import Actor, Probe, Statement

_NAMESPACE = uuid.UUID("6f1c8f5e-3b8a-4c57-9a8e-1d1f6e0b7a11")
_FRESH_DAY = date(2090, 1, 1)
_NO_EQUALITY = ("json", "xml", "point", "polygon", "line", "lseg", "box", "path", "circle")


def sql_value(value: str | None, column: Column) -> str:
    """A seeded or generated value as a literal: bare numbers, quoted text, NULL."""
    if value is None:
        return "NULL"
    if is_number(column.type) and _is_plain_number(value):
        return value
    return literal(value).strip()


def _is_plain_number(value: str) -> bool:
    try:
        number = Decimal(value)
    except InvalidOperation:
        return False
    # -0 written bare is the integer 0 negated: 0, not a float's negative zero
    negative_zero = number.is_zero() and number.is_signed()
    return (
        number.is_finite()
        and value.strip() == value
        and not value.startswith("+")
        and not negative_zero
    )


@dataclass(frozen=True)
class BaseRow:
    """A row the legacy table accepts: values of every writable column (SQL literals), with
    the statements that must run first (a fresh parent row)."""

    values: dict[str, str]
    prerequisites: tuple[Statement, ...] = ()
    fresh: tuple[str, ...] = ()  # the columns given fresh values
    companions: tuple[str, ...] = ()  # INSERTs that must run in the same statement


@dataclass
class ProbeBuilder:
    """The probes of one compared relation."""

    facts: TableFacts
    others: dict[str, TableFacts]  # every compared relation by qualified name
    operations: tuple[str, ...]
    actors: tuple[Actor, ...]  # roles and signed-in users the role probes run as
    server_version: int
    notes: list[str] = field(default_factory=list)  # what could not be probed, and why
    # a built row's values -> the INSERTs that must run in its statement (deferrable cycles)
    companions: dict[frozenset, tuple[str, ...]] = field(default_factory=dict)

    @property
    def relation(self):
        return self.facts.relation

    @property
    def table(self) -> str:
        return self.facts.name

    @property
    def quoted(self) -> str:
        return qualified(self.facts.name) if "." in self.facts.name else ident(self.facts.name)

    @property
    def writable(self) -> tuple[Column, ...]:
        return tuple(c for c in self.relation.columns if not c.generated and c.identity != "always")

    # --- base rows ------------------------------------------------------------------------------

    def fresh(self, column: Column, n: int) -> str | None:
        """A value of COLUMN no seeded row has, the N-th of its kind (None: no such value)."""
        if is_integer(column.type):
            top = int(Decimal(self.facts.maxima.get(column.name, "0")))
            low, high = _INT_LIMITS[column.type]
            for candidate in (top + 1000 + n, top + n):
                if low <= candidate <= high:
                    return str(candidate)
            return None
        if is_number(column.type):
            return str(int(Decimal(self.facts.maxima.get(column.name, "0"))) + n)
        if is_text(column.type):
            value = f"probe-{n}"
            limit = text_limit(column.type)
            return literal(value[-limit:] if limit else value)
        if column.type == "uuid":
            return literal(str(uuid.uuid5(_NAMESPACE, f"{self.table}.{column.name}.{n}")))
        if column.type == "date":
            return literal(str(_FRESH_DAY + timedelta(days=n)))
        if column.type.startswith("timestamp"):
            suffix = "+00" if "with time zone" in column.type else ""
            return literal(f"{_FRESH_DAY + timedelta(days=n)} 00:00:00{suffix}")
        return None

    def base_candidates(self) -> list[tuple[BaseRow, BaseRow]]:
        """Pairs of base rows (two distinct fresh rows), most natural first; the caller keeps
        the first pair the reference world accepts: the rows built for the table (every CHECK,
        key and parent taken care of), then seeded rows copied with fresh key values."""
        built = [self.built_row(row) for row in self.facts.fresh]
        pairs = list(zip(built[0::2], built[1::2], strict=False))
        seeded = list(self.facts.seeded[:3])
        for index, row in enumerate(seeded or [None]):  # type: ignore[list-item]
            first = self.base_row(row, 2 * index + 1)
            second = self.base_row(row, 2 * index + 2)
            if first and second:
                pairs.append((first, second))
        return pairs

    def built_row(self, row: Row) -> BaseRow:
        """A row the row factory built, with the INSERTs of its new parents first."""
        values = {
            c.name: sql_value(row.values.get(c.name), c)
            for c in self.writable
            if c.name in row.values
        }
        prerequisites = tuple(
            Statement(sql, self._display(table), sql.split(None, 1)[0].lower())
            for table, sql in row.prerequisites
        )
        companions = tuple(sql for _, sql in row.companions)
        if companions:
            self.companions[frozenset(values.items())] = companions
        return BaseRow(values, prerequisites, tuple(values), companions)

    def _display(self, table: str) -> str:
        facts = self.others.get(table)
        if facts is not None:
            return facts.name
        schema, _, name = table.partition(".")
        return name if schema == "public" else table

    def base_row(self, seeded: dict[str, str | None] | None, n: int) -> BaseRow | None:
        values = {
            c.name: sql_value(seeded.get(c.name) if seeded else None, c) for c in self.writable
        }
        if seeded is None:  # an empty table: the simplest value of each required column
            for column in self.writable:
                if column.not_null and column.default is None and not column.identity:
                    edge = edge_values(column.type, (), self.facts.labels.get(column.name, ()))
                    values[column.name] = self.fresh(column, n) or (
                        literal(edge[0]) if edge else "NULL"
                    )
        fresh: list[str] = []
        prerequisites: list[Statement] = []
        fk_columns = {c for fk in self.relation.foreign_keys for c in fk.columns}
        for key in self.unique_keys():
            if any(c in fresh for c in key):
                continue
            writable = [c for c in key if c in values]
            if len(writable) < len(key):
                continue  # an identity ALWAYS or generated column makes it unique already
            column = next(
                (
                    c
                    for c in key
                    if c not in fk_columns and self.fresh(self.relation.column(c), n) is not None
                ),
                None,
            )
            if column is not None:
                values[column] = self.fresh(self.relation.column(column), n)  # type: ignore[assignment]
                fresh.append(column)
                continue
            if not self.free_parent(key, values, n, prerequisites):
                return None
            fresh += key
        return BaseRow(values, tuple(prerequisites), tuple(fresh))

    def unique_keys(self) -> list[tuple[str, ...]]:
        keys = [tuple(u.columns) for u in self.relation.unique_keys]
        keys += [tuple(i.columns) for i in self.relation.indexes if i.unique]
        return list(dict.fromkeys(k for k in keys if k))

    def free_parent(
        self, key: tuple[str, ...], values: dict[str, str], n: int, prerequisites: list[Statement]
    ) -> bool:
        """Give the foreign-key columns of KEY a parent no row references yet."""
        for fk in self.relation.foreign_keys:
            if not set(fk.columns) & set(key):
                continue
            free = self.facts.unused_parents.get(fk.name, ())
            if len(free) >= n:
                for column, value in zip(fk.columns, free[n - 1], strict=True):
                    values[column] = sql_value(value, self.relation.column(column))
                return True
            parent = self.others.get(fk.references or "")
            if parent is None or parent is self.facts:
                return False
            builder = ProbeBuilder(parent, self.others, (), (), self.server_version)
            row = builder.base_row(parent.seeded[0] if parent.seeded else None, 100 + n)
            if row is None or row.prerequisites:
                return False
            if any(r not in row.values for r in fk.referenced_columns):
                return False  # an identity ALWAYS key: its value is known only once inserted
            prerequisites.append(builder.insert(row.values))
            for column, referenced in zip(fk.columns, fk.referenced_columns, strict=True):
                values[column] = row.values[referenced]
            return True
        return False

    # --- statement builders ---------------------------------------------------------------------

    def insert(
        self,
        values: dict[str, str],
        *,
        returning: str = "",
        role: str | None = None,
        suffix: str = "",
        operation: str = "insert",
        overriding: str = "",
    ) -> Statement:
        columns = ", ".join(ident(c) for c in values)
        tuple_ = ", ".join(values.values())
        override = f"OVERRIDING {overriding} VALUE " if overriding else ""
        body = f"({columns}) {override}VALUES ({tuple_})" if values else "DEFAULT VALUES"
        sql = f"INSERT INTO {self.quoted} {body}{suffix}"
        together = self.companions.get(frozenset(values.items()), ())
        if together:  # one statement: the keys of the cycle hold at its end
            ctes = ", ".join(f"migverify_{n} AS ({c})" for n, c in enumerate(together, 1))
            sql = f"WITH {ctes} {sql}"
        if returning:
            sql += f" RETURNING {returning}"
        return Statement(sql, self.table, operation, role, returns_rows=bool(returning))

    def where(self, row: dict[str, str | None], columns: Sequence[str] | None = None) -> str:
        """A predicate selecting ROW: by key, else by every comparable column."""
        names = list(columns or self.key_of(row))
        parts = []
        for name in names:
            column = self.relation.column(name)
            value = row.get(name)
            if value is None:
                parts.append(f"{ident(name)} IS NULL")
            else:
                parts.append(f"{ident(name)} = {sql_value(value, column)}")
        return " AND ".join(parts) or "true"

    def key_of(self, row: dict[str, str | None]) -> list[str]:
        for key in self.unique_keys():
            if all(row.get(c) is not None for c in key):
                return list(key)
        return [
            c.name
            for c in self.relation.columns
            if c.type.split("(")[0] not in _NO_EQUALITY and not c.type.endswith("[]")
        ]

    def update(
        self,
        sets: str,
        row: dict[str, str | None],
        *,
        returning: str = "",
        role: str | None = None,
    ) -> Statement:
        sql = f"UPDATE {self.quoted} SET {sets} WHERE {self.where(row)}"
        if returning:
            sql += f" RETURNING {returning}"
        return Statement(sql, self.table, "update", role, returns_rows=bool(returning))

    def select(self, sql: str, operation: str = "select", role: str | None = None) -> Statement:
        return Statement(sql, self.table, operation, role, returns_rows=True)

    def statement(self, sql: str, operation: str, role: str | None = None) -> Statement:
        return Statement(sql, self.table, operation, role)

    def order_by(self) -> str:
        columns = [
            c.name
            for c in self.relation.columns
            if c.type.split("(")[0] not in _NO_EQUALITY and not c.type.endswith("[]")
        ]
        return ", ".join(f"{ident(c)} NULLS FIRST" for c in columns)

    # --- the probes -------------------------------------------------------------------------------

    def probe(self, name: str, statements: Sequence[Statement], *covers: tuple[str, ...]) -> Probe:
        return Probe(f"{self.table}: {name}", tuple(statements), covers)

    def with_base(self, base: BaseRow, *statements: Statement) -> tuple[Statement, ...]:
        return (*base.prerequisites, *statements)

    def edge_values(self, column: Column) -> list[str]:
        others = self.facts.target_types.get(column.name, ())
        labels = self.facts.labels.get(column.name, ())
        return [sql_value(v, column) for v in edge_values(column.type, others, labels)]

    def child_fk(self, child: str, fk_name: str) -> Constraint | None:
        facts = self.others.get(child)
        if facts is None:
            return None
        return next((fk for fk in facts.relation.foreign_keys if fk.name == fk_name), None)


def _has_default(column: Column) -> bool:
    return column.default is not None or column.identity is not None


def _required(column: Column) -> bool:
    return column.not_null and not _has_default(column)


def _short(value: str) -> str:
    return value if len(value) <= 24 else f"{value[:12]}…({len(value)} chars)"


def _copy_text(value: str) -> str:
    """A literal in COPY's text format."""
    if value == "NULL":
        return "\\N"
    if value.startswith("'") and value.endswith("'"):
        value = value[1:-1].replace("''", "'")
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def _partial_predicate(definition: str) -> str | None:
    """The WHERE predicate of a partial index definition, printed back by pglast."""
    from pglast import parse_sql
    from pglast.stream import RawStream

    try:
        statement = parse_sql(definition)[0].stmt
    except Exception:
        return None
    where = getattr(statement, "whereClause", None)
    return RawStream()(where) if where is not None else None
