"""The two worlds of a verification: a connection each, statement execution inside savepoints,
relation contents as comparable multisets, and cheap resets between examples.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from migverify.catalog import Relation
from migverify.quoting import ident, literal, qualified


@dataclass(frozen=True)
class Outcome:
    """What one statement did in one world."""

    ok: bool
    sqlstate: str | None = None
    message: str | None = None
    rowcount: int = 0
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[Any, ...], ...] = ()  # canonical values, see canonical()

    def describe(self) -> str:
        if not self.ok:
            return f"ERROR {self.sqlstate}: {self.message}"
        if self.columns:
            return f"ok, {len(self.rows)} row{'s' * (len(self.rows) != 1)}"
        return f"ok, {self.rowcount} row{'s' * (self.rowcount != 1)} affected"


def canonical(value: Any) -> Any:
    """A value comparable across worlds whose column types may differ in scale or width."""
    if isinstance(value, decimal.Decimal):
        return "NaN" if value.is_nan() else format(value.normalize(), "f")
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | memoryview | bytes):
        return str(value) if isinstance(value, uuid.UUID) else bytes(value).hex()
    if isinstance(value, list | tuple):
        return tuple(canonical(v) for v in value)
    if isinstance(value, dict):
        return repr(sorted((k, canonical(v)) for k, v in value.items()))
    return value


def _sort_key(row: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple(repr(v) for v in row)


@dataclass
class World:
    """A prepared scratch database and the connection the workload runs on."""

    name: str
    conn: psycopg.Connection
    sequences: list[tuple[str, int, bool]] = field(default_factory=list)
    _projections: dict[tuple, str] = field(default_factory=dict)
    _role: str | None = None

    def capture_sequences(self) -> None:
        rows = self.conn.execute(
            "SELECT format('%I.%I', schemaname, sequencename) FROM pg_sequences ORDER BY 1"
        ).fetchall()
        self.sequences = []
        for (name,) in rows:
            last, called = self.conn.execute(f"SELECT last_value, is_called FROM {name}").fetchone()
            self.sequences.append((name, last, called))

    def begin_example(self) -> None:
        """Sequences are not transactional: put them back before each example."""
        for name, last, called in self.sequences:
            self.conn.execute("SELECT setval(%s::regclass, %s, %s)", (name, last, called))
        self.conn.execute("BEGIN")

    def end_example(self) -> None:
        self.conn.execute("ROLLBACK")

    def execute(self, sql: str, role: str | None, masked: Iterable[str] = ()) -> Outcome:
        """Run SQL inside a savepoint (kept until settle()); errors do not end the example.

        Savepoint, role and statement go to the server in one round trip (simple query
        protocol); the statement's own result is the last one.
        """
        cur = self.conn.cursor()
        prefix = "SAVEPOINT step; " + (f"SET LOCAL ROLE {ident(role)}; " if role else "")
        self._role = role
        try:
            cur.execute(prefix + sql)
            while cur.nextset():
                pass
            columns = tuple(d.name for d in cur.description) if cur.description else ()
            rows = cur.fetchall() if cur.description else []
            rowcount = cur.rowcount
        except psycopg.Error as error:
            cur.execute("ROLLBACK TO SAVEPOINT step" + ("; RESET ROLE" if role else ""))
            self._role = None
            diag = error.diag
            return Outcome(False, error.sqlstate, (diag.message_primary or str(error)).strip())
        masked = set(masked)
        canonical_rows = tuple(
            sorted(
                (
                    tuple(
                        ("<set>" if v is not None else None) if name in masked else canonical(v)
                        for name, v in zip(columns, row, strict=True)
                    )
                    for row in rows
                ),
                key=_sort_key,
            )
        )
        return Outcome(True, rowcount=rowcount, columns=columns, rows=canonical_rows)

    def settle(self, keep: bool) -> None:
        """Keep the last statement's effect, or undo it (to stay in step with the other world)."""
        reset = "RESET ROLE; " if self._role else ""
        self.conn.execute(
            reset + ("RELEASE SAVEPOINT step" if keep else "ROLLBACK TO SAVEPOINT step")
        )
        self._role = None

    def _projection(
        self, relation: Relation, masked: Iterable[str], only: Iterable[str] | None
    ) -> str:
        """The relation's columns read as the legacy types (masked ones by presence only)."""
        masked = set(masked)
        key = (relation.qualified_name, tuple(sorted(masked)), tuple(only or ()))
        if key in self._projections:
            return self._projections[key]
        present = self._columns_of(relation)
        wanted = set(only) if only is not None else None
        parts = []
        for column in relation.columns:
            if wanted is not None and column.name not in wanted:
                continue
            if column.name not in present:
                parts.append("NULL")
            elif column.name in masked:
                parts.append(f"({ident(column.name)} IS NOT NULL)")
            else:
                parts.append(f"{ident(column.name)}::{column.type}")
        projection = f"SELECT {', '.join(parts)} FROM {qualified(relation.qualified_name)}"
        self._projections[key] = projection
        return projection

    def _read(self, query: str) -> list[tuple[Any, ...]] | str:
        cur = self.conn.cursor()
        cur.execute("SAVEPOINT readback")
        try:
            cur.execute(query)
            rows = cur.fetchall()
            cur.execute("RELEASE SAVEPOINT readback")
        except psycopg.Error as error:
            cur.execute("ROLLBACK TO SAVEPOINT readback")
            return str(error.diag.message_primary or error)
        return rows

    def digest(
        self, relation: Relation, masked: Iterable[str], only: Iterable[str] | None = None
    ) -> str:
        """An order-independent digest of the contents, computed by the server."""
        projection = self._projection(relation, masked, only)
        rows = self._read(
            f"SELECT count(*), md5(string_agg(r, E'\\n' ORDER BY r)) "
            f"FROM (SELECT s::text AS r FROM ({projection}) s) d"
        )
        return rows if isinstance(rows, str) else repr(rows[0])

    def digests(
        self,
        relations: Sequence[Relation],
        masked: Mapping[str, Iterable[str]],
        only: Mapping[str, Iterable[str]],
    ) -> list[str]:
        """Digests of several relations in one round trip (one per relation if that fails)."""
        parts = []
        for relation in relations:
            projection = self._projection(relation, masked[relation.name], only[relation.name])
            parts.append(
                f"(SELECT count(*)::text || ':' || coalesce(md5(string_agg(r, E'\\n' ORDER BY r)), '')"
                f" FROM (SELECT s::text AS r FROM ({projection}) s) d)"
            )
        rows = self._read("SELECT " + ", ".join(parts))
        if isinstance(rows, str):
            return [self.digest(r, masked[r.name], only[r.name]) for r in relations]
        return list(rows[0])

    def contents(
        self, relation: Relation, masked: Iterable[str], only: Iterable[str] | None = None
    ) -> Counter | str:
        """The rows of a legacy relation as a multiset, read as the legacy column types.

        Returns an error message instead when the relation cannot be read that way.
        """
        rows = self._read(self._projection(relation, masked, only))
        if isinstance(rows, str):
            return f"cannot read {relation.name}: {rows}"
        return Counter(tuple(canonical(v) for v in row) for row in rows)

    def _columns_of(self, relation: Relation) -> set[str]:
        rows = self.conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) "
            "AND attnum > 0 AND NOT attisdropped",
            (qualified(relation.qualified_name),),
        ).fetchall()
        return {r[0] for r in rows}

    def next_values(self, relations: Sequence[Relation]) -> dict[str, int | None]:
        """The next value each legacy key sequence would hand out (consumes it; examples reset)."""
        result: dict[str, int | None] = {}
        for relation in relations:
            for column in relation.columns:
                if not (column.identity or column.default_uses_sequence):
                    continue
                key = f"{relation.name}.{column.name}"
                cur = self.conn.cursor()
                cur.execute("SAVEPOINT seq")
                try:
                    (name,) = cur.execute(
                        "SELECT pg_get_serial_sequence(%s, %s)",
                        (qualified(relation.qualified_name), column.name),
                    ).fetchone()
                    value = None
                    if name:
                        (value,) = cur.execute(f"SELECT nextval({literal(name)})").fetchone()
                    cur.execute("RELEASE SAVEPOINT seq")
                except psycopg.Error:
                    cur.execute("ROLLBACK TO SAVEPOINT seq")
                    value = None
                result[key] = value
        return result


def masked_columns(relations: Mapping[str, Relation]) -> dict[str, frozenset[str]]:
    """Columns compared by presence only: their legacy default differs between runs."""
    return {
        name: frozenset(c.name for c in rel.columns if c.nondeterministic_default)
        for name, rel in relations.items()
    }
