"""Deterministic probes, derived from the catalogs before any random search.

Each probe starts from a valid base row (a seeded row copied with fresh key values and its
foreign-key parents kept) or from a seeded row, and changes one thing, so that a difference
has one cause and the probe is already its minimal counterexample. Probes name what they
cover (columns, constraints, operations, statement forms, roles); the coverage report is
built from those names.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from migverify.catalog import Column, Constraint
from migverify.quoting import ident, literal, qualified
from migverify.verify.boundaries import (
    _INT_LIMITS,
    check_candidates,
    edge_values,
    is_integer,
    is_number,
    is_text,
    text_limit,
)
from migverify.verify.facts import TableFacts
from migverify.verify.statement import MERGE_SINCE, Probe, Statement

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
    return number.is_finite() and value.strip() == value and not value.startswith("+")


@dataclass(frozen=True)
class BaseRow:
    """A row the legacy table accepts: values of every writable column (SQL literals), with
    the statements that must run first (a fresh parent row)."""

    values: dict[str, str]
    prerequisites: tuple[Statement, ...] = ()
    fresh: tuple[str, ...] = ()  # the columns given fresh values


@dataclass
class ProbeBuilder:
    """The probes of one compared relation."""

    facts: TableFacts
    others: dict[str, TableFacts]  # every compared relation by qualified name
    operations: tuple[str, ...]
    roles: tuple[str, ...]
    server_version: int
    notes: list[str] = field(default_factory=list)  # what could not be probed, and why

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
        the first pair the reference world accepts."""
        pairs = []
        seeded = list(self.facts.seeded[:3])
        for index, row in enumerate(seeded or [None]):  # type: ignore[list-item]
            first = self._base_row(row, 2 * index + 1)
            second = self._base_row(row, 2 * index + 2)
            if first and second:
                pairs.append((first, second))
        return pairs

    def _base_row(self, seeded: dict[str, str | None] | None, n: int) -> BaseRow | None:
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
        for key in self._unique_keys():
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
            if not self._free_parent(key, values, n, prerequisites):
                return None
            fresh += key
        return BaseRow(values, tuple(prerequisites), tuple(fresh))

    def _unique_keys(self) -> list[tuple[str, ...]]:
        keys = [tuple(u.columns) for u in self.relation.unique_keys]
        keys += [tuple(i.columns) for i in self.relation.indexes if i.unique]
        return list(dict.fromkeys(k for k in keys if k))

    def _free_parent(
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
            row = builder._base_row(parent.seeded[0] if parent.seeded else None, 100 + n)
            if row is None or row.prerequisites:
                return False
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
        if returning:
            sql += f" RETURNING {returning}"
        return Statement(sql, self.table, operation, role, returns_rows=bool(returning))

    def where(self, row: dict[str, str | None], columns: Sequence[str] | None = None) -> str:
        """A predicate selecting ROW: by key, else by every comparable column."""
        names = list(columns or self._key_of(row))
        parts = []
        for name in names:
            column = self.relation.column(name)
            value = row.get(name)
            if value is None:
                parts.append(f"{ident(name)} IS NULL")
            else:
                parts.append(f"{ident(name)} = {sql_value(value, column)}")
        return " AND ".join(parts) or "true"

    def _key_of(self, row: dict[str, str | None]) -> list[str]:
        for key in self._unique_keys():
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

    def probes(self, base: tuple[BaseRow, BaseRow] | None) -> Iterator[Probe]:
        ops = set(self.operations)
        seeded = self.facts.seeded
        if base is None and ops & {"insert", "upsert", "merge", "copy"}:
            self.notes.append(
                f"{self.table}: no base row the legacy table accepts: inserts untested"
            )
        if "select" in ops:
            yield from self.select_probes()
        if base:
            yield from self.constraint_probes(*base)
        if base and "insert" in ops:
            yield from self.insert_probes(*base)
        if seeded and "update" in ops:
            yield from self.update_probes(base)
        if seeded and "delete" in ops:
            yield from self.delete_probes()
        if base and seeded and "upsert" in ops:
            yield from self.upsert_probes(base[0])
        if base and seeded and "upsert-on-constraint" in ops:
            yield from self.on_constraint_probes(base[0])
        if seeded and "merge" in ops:
            if self.server_version < MERGE_SINCE:
                self.notes.append(
                    f"merge not tested: the server is PostgreSQL {self.server_version // 10000}"
                )
            elif base:
                yield from self.merge_probes(base[0])
        if seeded and "lock" in ops:
            yield from self.lock_probes()
        if "truncate" in ops:
            yield from self.truncate_probes(base)
        if "copy" in ops:
            yield from self.copy_probes(base)
        for role in self.roles:
            yield from self.role_probes(role, base)
        if not seeded:
            self.notes.append(f"{self.table}: the seed has no rows: updates and deletes untested")

    def _probe(self, name: str, statements: Sequence[Statement], *covers: tuple[str, ...]) -> Probe:
        return Probe(f"{self.table}: {name}", tuple(statements), covers)

    def _with(self, base: BaseRow, *statements: Statement) -> tuple[Statement, ...]:
        return (*base.prerequisites, *statements)

    def select_probes(self) -> Iterator[Probe]:
        t, order = self.quoted, self.order_by()
        op = ("operation", self.table, "select")
        yield self._probe("select *", [self.select(f"SELECT * FROM {t} ORDER BY {order}")], op)
        yield self._probe(
            "count", [self.select(f"SELECT count(*) AS n FROM {t}")], op, ("form", "aggregate")
        )
        yield self._probe(
            "offset",
            [self.select(f"SELECT * FROM {t} ORDER BY {order} LIMIT 3 OFFSET 2")],
            op,
            ("form", "offset"),
        )
        if self.facts.seeded:
            row = self.facts.seeded[-1]
            yield self._probe(
                "select by key", [self.select(f"SELECT * FROM {t} WHERE {self.where(row)}")], op
            )
        groupable = [
            c
            for c in self.relation.columns
            if c.type in ("text", "boolean", "integer", "smallint") or c.type.startswith("char")
        ][:3]
        for column in groupable:
            name = ident(column.name)
            yield self._probe(
                f"group by {column.name}",
                [
                    self.select(
                        f"SELECT {name}, count(*) AS n FROM {t} GROUP BY {name} ORDER BY {name}"
                    )
                ],
                op,
                ("form", "group by"),
            )
            yield self._probe(
                f"distinct {column.name}",
                [self.select(f"SELECT DISTINCT {name} FROM {t}")],
                op,
                ("form", "distinct"),
            )
        for fk in self.relation.foreign_keys:
            parent = self.others.get(fk.references or "")
            if parent is None:
                continue
            p = qualified(parent.name) if "." in parent.name else ident(parent.name)
            on = " AND ".join(
                f"c.{ident(a)} = p.{ident(b)}"
                for a, b in zip(fk.columns, fk.referenced_columns, strict=True)
            )
            yield self._probe(
                f"join {parent.name}",
                [self.select(f"SELECT c.*, p.* FROM {t} c JOIN {p} p ON {on}")],
                op,
                ("form", "join"),
            )
            yield self._probe(
                f"left join {parent.name}",
                [self.select(f"SELECT p.*, c.* FROM {p} p LEFT JOIN {t} c ON {on}")],
                op,
                ("form", "join"),
            )

    def insert_probes(self, base: BaseRow, second: BaseRow) -> Iterator[Probe]:
        op = ("operation", self.table, "insert")
        values = base.values
        yield self._probe("insert a row", self._with(base, self.insert(values, returning="*")), op)
        yield self._probe("insert a row (no RETURNING)", self._with(base, self.insert(values)), op)
        both = dict(values)
        tuples = [", ".join(values.values()), ", ".join(second.values.values())]
        columns = ", ".join(ident(c) for c in both)
        yield self._probe(
            "multi-row insert",
            (
                *base.prerequisites,
                *second.prerequisites,
                self.statement(
                    f"INSERT INTO {self.quoted} ({columns}) VALUES ({tuples[0]}), ({tuples[1]})",
                    "insert",
                ),
            ),
            op,
            ("form", "multi-row values"),
        )
        yield self._probe(
            "insert … select",
            self._with(base, self._insert_select(base)),
            op,
            ("form", "insert select"),
        )
        yield self._probe(
            "insert in a writable CTE",
            self._with(
                base,
                self.select(
                    f"WITH w AS ({self.insert(values, returning='*').sql}) "
                    f"SELECT count(*) AS n FROM w"
                ),
            ),
            op,
            ("form", "writable cte"),
        )
        key = self._key_of({c: v for c, v in values.items() if v != "NULL"})
        expressions = ", ".join(
            [ident(c) for c in key[:2]]
            + [
                f"{ident(c.name)}::text AS {ident(c.name + '_text')}"
                for c in self.relation.columns[:3]
            ]
        )
        yield self._probe(
            "returning expressions",
            self._with(base, self.insert(values, returning=expressions)),
            op,
            ("form", "returning expressions"),
        )
        if not values:
            return
        yield self._probe(
            "insert default values",
            [self.insert({}, returning="*")],
            op,
            ("form", "default values"),
        )
        for column in self.writable:
            covers = ("column", self.table, column.name)
            rest = {c: v for c, v in values.items() if c != column.name}
            yield self._probe(
                f"insert omitting {column.name}",
                self._with(base, self.insert(rest, returning="*")),
                op,
                covers,
            )
            yield self._probe(
                f"insert DEFAULT into {column.name}",
                self._with(base, self.insert({**values, column.name: "DEFAULT"}, returning="*")),
                op,
                covers,
                ("form", "default keyword"),
            )
            yield self._probe(
                f"insert NULL into {column.name}",
                self._with(base, self.insert({**values, column.name: "NULL"})),
                op,
                covers,
            )
            for value in self._edge_values(column):
                yield self._probe(
                    f"insert {column.name} = {_short(value)}",
                    self._with(base, self.insert({**values, column.name: value})),
                    op,
                    covers,
                )
        yield from self._generated_insert_probes(base)
        yield from self._sequence_probes(base)

    def _insert_select(self, base: BaseRow) -> Statement:
        """INSERT … SELECT: the seeded row read back with the base row's fresh values."""
        values = base.values
        columns = ", ".join(ident(c) for c in values)
        seeded = self.facts.seeded[0] if self.facts.seeded else None
        picks = []
        for name, value in values.items():
            column = self.relation.column(name)
            if seeded is None or name in base.fresh or value == "NULL":
                picks.append(
                    f"{value}::{column.type}" if value != "NULL" else f"NULL::{column.type}"
                )
            else:
                picks.append(ident(name))
        source = f" FROM {self.quoted} WHERE {self.where(seeded)}" if seeded else ""
        return self.statement(
            f"INSERT INTO {self.quoted} ({columns}) SELECT {', '.join(picks)}{source}", "insert"
        )

    def _edge_values(self, column: Column) -> list[str]:
        others = self.facts.target_types.get(column.name, ())
        labels = self.facts.labels.get(column.name, ())
        return [sql_value(v, column) for v in edge_values(column.type, others, labels)]

    def _generated_insert_probes(self, base: BaseRow) -> Iterator[Probe]:
        op = ("operation", self.table, "insert")
        seeded = self.facts.seeded[0] if self.facts.seeded else {}
        for column in self.relation.columns:
            if not (column.generated or column.identity == "always"):
                continue
            covers = ("column", self.table, column.name)
            value = sql_value(seeded.get(column.name), column) if seeded else "1"
            if column.identity == "always" and column.name in base.values:
                continue
            if column.identity == "always":
                explicit = self.fresh(column, 7) or value
                yield self._probe(
                    f"insert {column.name} (identity always) explicitly",
                    self._with(base, self.insert({**base.values, column.name: explicit})),
                    op,
                    covers,
                )
                yield self._probe(
                    f"insert {column.name} overriding system value",
                    self._with(
                        base,
                        self.insert(
                            {**base.values, column.name: explicit},
                            overriding="SYSTEM",
                            returning="*",
                        ),
                    ),
                    op,
                    covers,
                    ("form", "overriding system value"),
                )
            else:
                yield self._probe(
                    f"insert into generated {column.name}",
                    self._with(base, self.insert({**base.values, column.name: value})),
                    op,
                    covers,
                )
            yield self._probe(
                f"insert DEFAULT into {column.name}",
                self._with(
                    base, self.insert({**base.values, column.name: "DEFAULT"}, returning="*")
                ),
                op,
                covers,
                ("form", "default keyword"),
            )

    def _sequence_probes(self, base: BaseRow) -> Iterator[Probe]:
        keyed = [c for c in self.relation.columns if c.identity or c.default_uses_sequence]
        if not keyed or not self.facts.seeded:
            return
        without = {c: v for c, v in base.values.items() if c not in {k.name for k in keyed}}
        for column in keyed:
            top = self.facts.maxima.get(column.name)
            if top is None:
                continue
            newest = {column.name: top}
            delete = self.statement(
                f"DELETE FROM {self.quoted} WHERE {self.where(newest, [column.name])}", "delete"
            )
            yield self._probe(
                f"insert after deleting the newest row ({column.name} from its sequence)",
                self._with(base, delete, self.insert(without, returning="*")),
                ("operation", self.table, "insert"),
                ("sequence", self.table, column.name),
            )

    def update_probes(self, base: tuple[BaseRow, BaseRow] | None) -> Iterator[Probe]:
        op = ("operation", self.table, "update")
        row = self.facts.seeded[0]
        first = self.writable[0] if self.writable else None
        if first is not None:
            same = f"{ident(first.name)} = {ident(first.name)}"
            yield self._probe("update a row", [self.update(same, row, returning="*")], op)
            yield self._probe(
                "update every row",
                [self.statement(f"UPDATE {self.quoted} SET {same}", "update")],
                op,
            )
            yield self._probe(
                "update in a writable CTE",
                [
                    self.select(
                        f"WITH u AS ({self.update(same, row, returning='*').sql}) "
                        f"SELECT count(*) AS n FROM u"
                    )
                ],
                op,
                ("form", "writable cte"),
            )
        for column in self.relation.columns:
            covers = ("column", self.table, column.name)
            name = ident(column.name)
            yield self._probe(
                f"update {column.name} = DEFAULT",
                [self.update(f"{name} = DEFAULT", row, returning="*")],
                op,
                covers,
                ("form", "set default"),
            )
            if column.generated or column.identity == "always":
                value = sql_value(row.get(column.name), column)
                yield self._probe(
                    f"update generated/identity {column.name}",
                    [self.update(f"{name} = {value}", row)],
                    op,
                    covers,
                )
                continue
            yield self._probe(
                f"update {column.name} = NULL", [self.update(f"{name} = NULL", row)], op, covers
            )
            for value in self._edge_values(column):
                yield self._probe(
                    f"update {column.name} = {_short(value)}",
                    [self.update(f"{name} = {value}", row)],
                    op,
                    covers,
                )
        yield from self._update_from_probes(row)
        yield from self._key_update_probes()

    def _update_from_probes(self, row: dict[str, str | None]) -> Iterator[Probe]:
        for fk in self.relation.foreign_keys:
            parent = self.others.get(fk.references or "")
            if parent is None or not self.writable:
                continue
            p = qualified(parent.name) if "." in parent.name else ident(parent.name)
            on = " AND ".join(
                f"{self.quoted}.{ident(a)} = p.{ident(b)}"
                for a, b in zip(fk.columns, fk.referenced_columns, strict=True)
            )
            column = next((c for c in self.writable if c.name not in fk.columns), None)
            if column is None:
                continue
            keys = " AND ".join(
                f"p.{ident(b)} = {sql_value(row.get(a), self.relation.column(a))}"
                for a, b in zip(fk.columns, fk.referenced_columns, strict=True)
            )
            value = sql_value(row.get(column.name), column)
            yield self._probe(
                f"update … from {parent.name}",
                [
                    self.statement(
                        f"UPDATE {self.quoted} SET {ident(column.name)} = {value} FROM {p} "
                        f"WHERE {on} AND {keys}",
                        "update",
                    )
                ],
                ("operation", self.table, "update"),
                ("form", "update from"),
            )
            yield self._probe(
                f"delete … using {parent.name}",
                [
                    self.statement(
                        f"DELETE FROM {self.quoted} USING {p} WHERE {on} AND {keys}", "delete"
                    )
                ]
                if "delete" in self.operations
                else [],
                ("operation", self.table, "delete"),
                ("form", "delete using"),
            )

    def _key_update_probes(self) -> Iterator[Probe]:
        """Changing a referenced key: the children's ON UPDATE action must act the same."""
        for (child, fk_name), values in sorted(self.facts.with_children.items()):
            fk = self._child_fk(child, fk_name)
            if fk is None:
                continue
            row = dict(zip(fk.referenced_columns, values, strict=True))
            column = self.relation.column(fk.referenced_columns[0])
            fresh = self.fresh(column, 9)
            if fresh is None:
                continue
            yield self._probe(
                f"update a key {child} references ({fk_name})",
                [self.update(f"{ident(column.name)} = {fresh}", row)],
                ("operation", self.table, "update"),
                ("constraint", child, fk_name),
            )

    def _child_fk(self, child: str, fk_name: str) -> Constraint | None:
        facts = self.others.get(child)
        if facts is None:
            return None
        return next((fk for fk in facts.relation.foreign_keys if fk.name == fk_name), None)

    def delete_probes(self) -> Iterator[Probe]:
        op = ("operation", self.table, "delete")
        row = self.facts.seeded[0]
        yield self._probe(
            "delete a row",
            [self.statement(f"DELETE FROM {self.quoted} WHERE {self.where(row)}", "delete")],
            op,
        )
        yield self._probe(
            "delete returning",
            [
                self.select(
                    f"DELETE FROM {self.quoted} WHERE {self.where(row)} RETURNING *", "delete"
                )
            ],
            op,
        )
        yield self._probe(
            "delete in a writable CTE",
            [
                self.select(
                    f"WITH d AS (DELETE FROM {self.quoted} WHERE {self.where(row)} RETURNING *) "
                    f"SELECT count(*) AS n FROM d",
                    "delete",
                )
            ],
            op,
            ("form", "writable cte"),
        )
        yield self._probe(
            "delete every row",
            [self.statement(f"DELETE FROM {self.quoted}", "delete")],
            op,
        )
        for (child, fk_name), values in sorted(self.facts.with_children.items()):
            fk = self._child_fk(child, fk_name)
            if fk is None:
                continue
            parent_row = dict(zip(fk.referenced_columns, values, strict=True))
            yield self._probe(
                f"delete a row {child} references ({fk_name}, ON DELETE {fk.on_delete})",
                [
                    self.statement(
                        f"DELETE FROM {self.quoted} WHERE {self.where(parent_row)}", "delete"
                    )
                ],
                op,
                ("constraint", child, fk_name),
            )

    def constraint_probes(self, base: BaseRow, second: BaseRow) -> Iterator[Probe]:
        """A statement that violates exactly one constraint, for the legacy table's
        constraints and those of the target tables behind it."""
        ops = set(self.operations)
        constraints = [(c, c.columns, "legacy") for c in self.relation.constraints]
        constraints += [
            (m.constraint, m.columns, f"target {m.table}") for m in self.facts.target_constraints
        ]
        seeded = self.facts.seeded
        for constraint, columns, side in constraints:
            covers = ("constraint", self.table, constraint.name, side)
            if constraint.kind in ("primary key", "unique", "exclusion") and "insert" in ops:
                duplicate = {
                    **second.values,
                    **{c: base.values[c] for c in columns if c in base.values},
                }
                yield self._probe(
                    f"duplicate {', '.join(columns)} ({constraint.name})",
                    (
                        *base.prerequisites,
                        *second.prerequisites,
                        self.insert(base.values),
                        self.insert(duplicate),
                    ),
                    ("operation", self.table, "insert"),
                    covers,
                )
                if len(seeded) >= 2 and "update" in ops:
                    sets = ", ".join(
                        f"{ident(c)} = {sql_value(seeded[0].get(c), self.relation.column(c))}"
                        for c in columns
                    )
                    if all(self.relation.column(c) in self.writable for c in columns):
                        yield self._probe(
                            f"update to a duplicate {', '.join(columns)} ({constraint.name})",
                            [self.update(sets, seeded[1])],
                            ("operation", self.table, "update"),
                            covers,
                        )
            elif constraint.kind == "check":
                yield from self._check_probes(constraint, columns, base, covers)
            elif constraint.kind == "foreign key" and "insert" in ops:
                dangling = dict(base.values)
                for column in columns:
                    fresh = self.fresh(self.relation.column(column), 999_983)
                    if fresh is None:
                        break
                    dangling[column] = fresh
                else:
                    yield self._probe(
                        f"insert without a parent ({constraint.name})",
                        [self.insert(dangling)],
                        ("operation", self.table, "insert"),
                        covers,
                    )
        yield from self._child_probes(base)

    def _check_probes(
        self,
        constraint: Constraint,
        columns: Sequence[str],
        base: BaseRow,
        covers: tuple[str, ...],
    ) -> Iterator[Probe]:
        ops = set(self.operations)
        seeded = self.facts.seeded
        for name in columns:
            column = self.relation.column(name)
            if column not in self.writable:
                continue
            for candidate in check_candidates(constraint.definition, column.type):
                value = sql_value(candidate, column)
                if "insert" in ops:
                    yield self._probe(
                        f"insert {name} = {_short(value)} ({constraint.name})",
                        self._with(base, self.insert({**base.values, name: value})),
                        ("operation", self.table, "insert"),
                        covers,
                    )
                if "update" in ops and seeded:
                    yield self._probe(
                        f"update {name} = {_short(value)} ({constraint.name})",
                        [self.update(f"{ident(name)} = {value}", seeded[0])],
                        ("operation", self.table, "update"),
                        covers,
                    )

    def _child_probes(self, base: BaseRow) -> Iterator[Probe]:
        """A row of another compared table that references the base row written through the
        layer (a child table outside the spec must still accept it)."""
        if "insert" not in self.operations:
            return
        for facts in sorted(self.others.values(), key=lambda f: f.relation.qualified_name):
            for fk in facts.relation.foreign_keys:
                if fk.references != self.relation.qualified_name or facts is self.facts:
                    continue
                child = ProbeBuilder(facts, self.others, (), (), self.server_version)
                pairs = child.base_candidates()
                if not pairs:
                    continue
                row = dict(pairs[0][0].values)
                if any(c not in base.values for c in fk.referenced_columns):
                    continue
                for column, referenced in zip(fk.columns, fk.referenced_columns, strict=True):
                    row[column] = base.values[referenced]
                yield self._probe(
                    f"insert a {facts.name} row referencing a new row ({fk.name})",
                    (
                        *base.prerequisites,
                        *pairs[0][0].prerequisites,
                        self.insert(base.values),
                        child.insert(row),
                    ),
                    ("operation", self.table, "insert"),
                    ("constraint", facts.name, fk.name, "neighbour"),
                )

    def upsert_probes(self, base: BaseRow) -> Iterator[Probe]:
        op = ("operation", self.table, "upsert")
        seeded = self.facts.seeded[0]
        for constraint in self.relation.unique_keys:
            columns = constraint.columns
            conflicting = {
                **base.values,
                **{c: sql_value(seeded.get(c), self.relation.column(c)) for c in columns},
            }
            if any(c not in base.values for c in columns):
                continue
            target = ", ".join(ident(c) for c in columns)
            others = [c for c in base.values if c not in columns]
            covers = ("constraint", self.table, constraint.name, "legacy")
            for label, values in (("conflicting", conflicting), ("new", base.values)):
                yield self._probe(
                    f"upsert {label} row on ({target}) do nothing",
                    self._with(
                        base,
                        self.insert(
                            values,
                            suffix=f" ON CONFLICT ({target}) DO NOTHING",
                            returning="*",
                            operation="upsert",
                        ),
                    ),
                    op,
                    covers,
                )
                if others:
                    sets = ", ".join(f"{ident(c)} = EXCLUDED.{ident(c)}" for c in others)
                    yield self._probe(
                        f"upsert {label} row on ({target}) do update",
                        self._with(
                            base,
                            self.insert(
                                values,
                                suffix=f" ON CONFLICT ({target}) DO UPDATE SET {sets}",
                                returning="*",
                                operation="upsert",
                            ),
                        ),
                        op,
                        covers,
                    )
        for index in self.relation.indexes:
            predicate = _partial_predicate(index.definition)
            if not index.unique or predicate is None:
                continue
            columns = [c for c in index.columns]
            if any(c not in base.values for c in columns):
                continue
            target = ", ".join(ident(c) for c in columns)
            yield self._probe(
                f"upsert on partial index {index.name}",
                self._with(
                    base,
                    self.insert(
                        base.values,
                        suffix=f" ON CONFLICT ({target}) WHERE {predicate} DO NOTHING",
                        operation="upsert",
                    ),
                ),
                op,
                ("form", "on conflict where"),
            )

    def on_constraint_probes(self, base: BaseRow) -> Iterator[Probe]:
        """`ON CONFLICT ON CONSTRAINT name`: the name is the legacy table's own."""
        op = ("operation", self.table, "upsert-on-constraint")
        seeded = self.facts.seeded[0]
        for constraint in self.relation.unique_keys:
            if any(c not in base.values for c in constraint.columns):
                continue
            conflicting = {
                **base.values,
                **{
                    c: sql_value(seeded.get(c), self.relation.column(c)) for c in constraint.columns
                },
            }
            yield self._probe(
                f"upsert on constraint {constraint.name}",
                self._with(
                    base,
                    self.insert(
                        conflicting,
                        suffix=f" ON CONFLICT ON CONSTRAINT {ident(constraint.name)} DO NOTHING",
                        operation="upsert-on-constraint",
                    ),
                ),
                op,
                ("constraint", self.table, constraint.name, "legacy"),
                ("form", "on conflict on constraint"),
            )

    def merge_probes(self, base: BaseRow) -> Iterator[Probe]:
        op = ("operation", self.table, "merge")
        seeded = self.facts.seeded[0]
        key = self._key_of(seeded)
        columns = list(base.values)
        if not columns or any(k not in columns for k in key):
            return
        typed = lambda values: ", ".join(  # noqa: E731
            f"{v}::{self.relation.column(c).type}"
            if v != "NULL"
            else f"NULL::{self.relation.column(c).type}"
            for c, v in values.items()
        )
        names = ", ".join(ident(c) for c in columns)
        on = " AND ".join(f"t.{ident(k)} = s.{ident(k)}" for k in key)
        others = [c for c in columns if c not in key]
        sets = (
            ", ".join(f"{ident(c)} = s.{ident(c)}" for c in others)
            or f"{ident(key[0])} = s.{ident(key[0])}"
        )
        matched = {
            **base.values,
            **{k: sql_value(seeded.get(k), self.relation.column(k)) for k in key},
        }
        inserts = ", ".join(f"s.{ident(c)}" for c in columns)
        for label, values in (("matched", matched), ("not matched", base.values)):
            yield self._probe(
                f"merge ({label})",
                self._with(
                    base,
                    self.statement(
                        f"MERGE INTO {self.quoted} t USING (VALUES ({typed(values)})) AS s({names}) "
                        f"ON {on} WHEN MATCHED THEN UPDATE SET {sets} "
                        f"WHEN NOT MATCHED THEN INSERT ({names}) VALUES ({inserts})",
                        "merge",
                    ),
                ),
                op,
                ("form", "merge"),
            )
        yield self._probe(
            "merge (matched, delete)",
            [
                self.statement(
                    f"MERGE INTO {self.quoted} t USING (VALUES ({typed(matched)})) AS s({names}) "
                    f"ON {on} WHEN MATCHED THEN DELETE",
                    "merge",
                )
            ],
            op,
            ("form", "merge"),
        )

    def lock_probes(self) -> Iterator[Probe]:
        op = ("operation", self.table, "lock")
        row = self.facts.seeded[0]
        t = self.quoted
        for clause in ("FOR UPDATE", "FOR NO KEY UPDATE", "FOR SHARE"):
            yield self._probe(
                f"select … {clause.lower()}",
                [self.select(f"SELECT * FROM {t} WHERE {self.where(row)} {clause}", "lock")],
                op,
                ("form", "for update"),
            )
        yield self._probe(
            "select … for update skip locked (job queue)",
            [
                self.select(
                    f"SELECT * FROM {t} ORDER BY {self.order_by()} LIMIT 1 FOR UPDATE SKIP LOCKED",
                    "lock",
                )
            ],
            op,
            ("form", "skip locked"),
        )

    def truncate_probes(self, base: tuple[BaseRow, BaseRow] | None) -> Iterator[Probe]:
        op = ("operation", self.table, "truncate")
        t = self.quoted
        yield self._probe("truncate", [self.statement(f"TRUNCATE {t}", "truncate")], op)
        yield self._probe(
            "truncate cascade", [self.statement(f"TRUNCATE {t} CASCADE", "truncate")], op
        )
        if base:
            keyed = {c.name for c in self.relation.columns if c.identity or c.default_uses_sequence}
            without = {c: v for c, v in base[0].values.items() if c not in keyed}
            yield self._probe(
                "truncate restart identity, then insert",
                [
                    self.statement(f"TRUNCATE {t} RESTART IDENTITY CASCADE", "truncate"),
                    self.insert(without, returning="*"),
                ],
                op,
            )

    def copy_probes(self, base: tuple[BaseRow, BaseRow] | None) -> Iterator[Probe]:
        op = ("operation", self.table, "copy")
        t = self.quoted
        yield self._probe(
            "copy to stdout",
            [Statement(f"COPY {t} TO STDOUT", self.table, "copy")],
            op,
            ("form", "copy to"),
        )
        yield self._probe(
            "copy (select …) to stdout",
            [Statement(f"COPY (SELECT * FROM {t}) TO STDOUT", self.table, "copy")],
            op,
            ("form", "copy to"),
        )
        if base is None:
            return
        columns = list(base[0].values)
        line = "\t".join(_copy_text(base[0].values[c]) for c in columns) + "\n"
        names = ", ".join(ident(c) for c in columns)
        yield self._probe(
            "copy from stdin",
            [
                *base[0].prerequisites,
                Statement(f"COPY {t} ({names}) FROM STDIN", self.table, "copy", copy_rows=line),
            ],
            op,
            ("form", "copy from"),
        )

    def role_probes(self, role: str, base: tuple[BaseRow, BaseRow] | None) -> Iterator[Probe]:
        """Each operation once under SET ROLE; updates and selects per column (column grants)."""
        ops = set(self.operations)
        t = self.quoted
        cover = ("role", role, self.table)
        seeded = self.facts.seeded
        if "select" in ops:
            yield self._probe(
                f"select * as {role}",
                [self.select(f"SELECT * FROM {t} ORDER BY {self.order_by()}", role=role)],
                cover,
            )
            for column in self.relation.columns:
                yield self._probe(
                    f"select {column.name} as {role}",
                    [self.select(f"SELECT {ident(column.name)} FROM {t}", role=role)],
                    cover,
                )
        if base and "insert" in ops:
            yield self._probe(
                f"insert as {role}",
                (*base[0].prerequisites, self.insert(base[0].values, returning="*", role=role)),
                cover,
            )
            yield self._probe(
                f"insert as {role} (no RETURNING)",
                (*base[0].prerequisites, self.insert(base[0].values, role=role)),
                cover,
            )
            required = {
                c: v
                for c, v in base[0].values.items()
                if _required(self.relation.column(c))
                or (c in base[0].fresh and not _has_default(self.relation.column(c)))
            }
            yield self._probe(
                f"insert as {role}, defaults for the other columns",
                (*base[0].prerequisites, self.insert(required, returning="*", role=role)),
                cover,
            )
        if base and "upsert" in ops and seeded:
            key = self._key_of(seeded[0])
            if all(k in base[0].values for k in key):
                target = ", ".join(ident(k) for k in key)
                yield self._probe(
                    f"upsert as {role}",
                    (
                        *base[0].prerequisites,
                        self.insert(
                            base[0].values,
                            suffix=f" ON CONFLICT ({target}) DO NOTHING",
                            role=role,
                            operation="upsert",
                        ),
                    ),
                    cover,
                )
        if seeded and "update" in ops:
            for column in self.writable:
                name = ident(column.name)
                yield self._probe(
                    f"update {column.name} as {role}",
                    [self.update(f"{name} = {name}", seeded[0], role=role)],
                    cover,
                )
        if seeded and "delete" in ops:
            yield self._probe(
                f"delete as {role}",
                [
                    self.statement(
                        f"DELETE FROM {t} WHERE {self.where(seeded[0])}", "delete", role=role
                    )
                ],
                cover,
            )


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
