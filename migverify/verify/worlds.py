"""The two worlds of a verification: a connection each, a server-side runner that executes many
short workloads per round trip, relation contents as comparable multisets and digests.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from typing import Any

import psycopg

from migverify.catalog import Relation
from migverify.quoting import ident, literal, qualified
from migverify.verify.clock import Clock, clock_type
from migverify.verify.statement import WRITES, Statement


@dataclass(frozen=True)
class Outcome:
    """What one statement did in one world.

    Returned rows arrive as the JSON text of row_to_json (RAW) and are decoded only when the
    two worlds' texts differ: `columns` and canonical `rows` (masked columns by presence).
    """

    ok: bool
    sqlstate: str | None = None
    message: str | None = None
    rowcount: int = 0
    raw: str | None = None
    hidden: frozenset[str] = frozenset()
    lines: tuple[str, ...] | None = None  # what COPY … TO sent
    clock: Clock | None = field(default=None, compare=False)  # times in the run's window

    @property
    def returns_rows(self) -> bool:
        return self.raw is not None or self.lines is not None

    def same_rows(self, other: Outcome) -> bool:
        if self.raw is not None and self.raw == other.raw and self.hidden == other.hidden:
            return True
        return self.columns == other.columns and self.rows == other.rows

    @cached_property
    def _parsed(self) -> tuple[tuple[str, ...], list[list[tuple[str, Any]]]]:
        if self.raw is None:
            return (("copy",) if self.lines is not None else ()), []
        return _decode_rows(self.raw)

    @cached_property
    def columns(self) -> tuple[str, ...]:
        if self.raw is None or "_parsed" in self.__dict__:
            return self._parsed[0]
        if not self.has_rows:
            return ()
        first, _ = _DECODER.raw_decode(self.raw, 1)  # the first row tells the columns
        return tuple(k for k, _ in first)

    @property
    def has_rows(self) -> bool:
        if self.lines is not None:
            return bool(self.lines)
        return self.raw is not None and self.raw != "[]"

    @cached_property
    def rows(self) -> tuple[tuple[Any, ...], ...]:
        """The rows as a sorted tuple of comparable values (hidden columns by presence only)."""
        if self.lines is not None:
            return tuple(sorted((line,) for line in self.lines))
        hidden = self.hidden
        value = _json_value if self.clock is None else _clocked(self.clock)
        return tuple(
            sorted(
                (
                    tuple(
                        ("<set>" if v is not None else None) if k in hidden else value(v)
                        for k, v in row
                    )
                    for row in self._parsed[1]
                ),
                key=row_sort_key,
            )
        )

    def describe(self) -> str:
        if not self.ok:
            return f"ERROR {self.sqlstate}: {self.message}"
        if self.returns_rows:
            return f"ok, {self.rowcount} row{'s' * (self.rowcount != 1)}"
        return f"ok, {self.rowcount} row{'s' * (self.rowcount != 1)} affected"


@dataclass(frozen=True)
class ExampleRun:
    """One workload run from the prepared state: each statement's outcome, then the digest of
    the compared relations (one `count:md5` per relation, or an error message)."""

    outcomes: tuple[Outcome, ...]
    digest: tuple[str, ...]


def canonical(value: Any) -> Any:
    """A value comparable across worlds whose column types may differ in scale or width."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, decimal.Decimal):  # as printed: 1.0 is not 1.00, -0 is not 0
        return "NaN" if value.is_nan() else str(value)
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


def _json_value(value: Any) -> Any:
    """A value decoded from row_to_json, made comparable like canonical() (objects of
    pairs keep duplicate keys; numbers are decimals)."""
    kind = type(value)
    if kind is str or value is None or kind is bool:  # most values: the common case first
        return value
    if kind is int:
        return str(value)
    if isinstance(value, list) and value and all(isinstance(p, _Pairs) for p in value):
        return tuple(_json_value(v) for v in value)
    if isinstance(value, _Pairs):
        return repr(sorted((k, _json_value(v)) for k, v in value))
    return canonical(value)


def _clocked(clock: Clock) -> Callable[[Any], Any]:
    """_json_value with timestamps and dates inside the run's window as the clock token."""

    def value(v: Any) -> Any:
        if type(v) is str:
            return clock.token(v) or v
        if isinstance(v, _Pairs):  # a json object: the times inside it too
            return _json_value(_Pairs((k, value(x)) for k, x in v))
        if isinstance(v, list):
            return _json_value([value(x) for x in v])
        return _json_value(v)

    return value


class _Pairs(list):
    """A JSON object as its (key, value) pairs in order (row_to_json may repeat a name)."""


# Numbers keep their text: float8's -0 is printed `-0`, which int() would make 0.
_DECODER = json.JSONDecoder(object_pairs_hook=_Pairs, parse_float=decimal.Decimal, parse_int=str)


def _decode_rows(text: str) -> tuple[tuple[str, ...], list[list[tuple[str, Any]]]]:
    rows = _DECODER.decode(text)
    columns = tuple(k for k, _ in rows[0]) if rows else ()
    return columns, rows


def row_sort_key(row: tuple[Any, ...]) -> str:
    return repr(row)


_RUNNER = resources.files("migverify.verify").joinpath("runner.sql").read_text()
_RUNNER_CALL = (
    "SELECT ex, k, state, message, nrows, result FROM pg_temp.migverify_run("
    "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::oid[], %s)"
)


@dataclass
class World:
    """A prepared scratch database and the connection its workloads run on."""

    name: str
    conn: psycopg.Connection
    sequences: list[tuple[str, int, bool]] = field(default_factory=list)
    _projections: dict[tuple, str] = field(default_factory=dict)
    _digests: list[str] = field(default_factory=list)
    _watch: list[int] = field(default_factory=list)
    _watch_rel: list[int] = field(default_factory=list)
    _baseline: tuple[str, ...] = ()
    clock: Clock | None = None

    def install_runner(self) -> None:
        # UTC in both worlds: `timezone('utc', now())`, a common default and trigger value,
        # is then the transaction time itself (see clock.py).
        self.conn.execute("SET TimeZone = 'UTC'")
        self.conn.execute(_RUNNER)

    def capture_sequences(self) -> None:
        """Remember every sequence's state: examples start from it (sequences ignore ROLLBACK)."""
        rows = self.conn.execute(
            "SELECT format('%I.%I', schemaname, sequencename) FROM pg_sequences ORDER BY 1"
        ).fetchall()
        self.sequences = []
        for (name,) in rows:
            last, called = self.conn.execute(f"SELECT last_value, is_called FROM {name}").fetchone()
            self.sequences.append((name, last, called))

    def set_digest(
        self,
        relations: Sequence[Relation],
        masked: Mapping[str, Iterable[str]],
        only: Mapping[str, Iterable[str]],
        clock: Clock | None = None,
    ) -> None:
        """The relations every writing example ends with a digest of (as the legacy column
        types, times inside the run's window as the clock token), the tables each reads from,
        and their digests at the prepared state."""
        self.clock = clock
        self._projections.clear()
        if clock is not None:
            self.conn.execute(clock.functions())
        self._digests = []
        self._watch, self._watch_rel = [], []
        for number, relation in enumerate(relations, start=1):
            projection = self._projection(
                relation, masked[relation.display_name], only[relation.display_name]
            )
            # An order-independent sum of row hashes: no sort, one pass over the rows. Every
            # column is read as text (_projection), so equal hashes mean equal text.
            row_hash = "hash_record_extended(s, 0)"
            self._digests.append(
                f"SELECT count(*)::text || ':' || coalesce(sum({row_hash}), 0)"
                f" FROM ({projection}) s"
            )
            for oid in self._tables_behind(relation):
                self._watch.append(oid)
                self._watch_rel.append(number)
        self.conn.execute(_digest_function(self._digests))
        self._baseline = self.digest_now()

    def _tables_behind(self, relation: Relation) -> list[int]:
        """The tables (partitions included) a relation's rows come from, through views."""
        rows = self.conn.execute(
            """
            WITH RECURSIVE deps(oid) AS (
              SELECT to_regclass(%s)::oid
              UNION
              SELECT d.refobjid FROM deps
              JOIN pg_rewrite r ON r.ev_class = deps.oid
              JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
               AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> deps.oid
            )
            SELECT c.oid FROM deps JOIN pg_class c ON c.oid = deps.oid
            WHERE c.relkind IN ('r', 'm', 'f')
            UNION
            SELECT p.relid::oid FROM deps JOIN pg_class c ON c.oid = deps.oid
            CROSS JOIN LATERAL pg_partition_tree(deps.oid) p
            WHERE c.relkind = 'p' AND p.isleaf
            ORDER BY 1
            """,
            (qualified(relation.qualified_name),),
        ).fetchall()
        return [r[0] for r in rows]

    def run_examples(
        self,
        examples: Sequence[Sequence[Statement]],
        masked: Mapping[str, Iterable[str]],
        *,
        keep: bool = False,
    ) -> list[ExampleRun]:
        """Run each example from the prepared state, all in one round trip; each is rolled back
        (with KEEP, the one example's effects stay in the caller's open transaction)."""
        assert not keep or len(examples) == 1
        assert all(examples), "every example has a statement"
        numbers, stmts, preludes, postludes, returns, modes = [], [], [], [], [], []
        for number, example in enumerate(examples):
            mode = 0
            if any(s.operation in WRITES for s in example):
                mode = 2 if any(s.operation == "truncate" for s in example) else 1
            for statement in example:
                modes.append(mode)
                assert not statement.is_copy, "COPY runs through run_in_transaction()"
                numbers.append(number)
                stmts.append(statement.sql)
                preludes.append(statement.prelude)
                postludes.append(statement.postlude)
                returns.append(statement.returns_rows)
        # With KEEP the caller has put the sequences back and reads the digest itself.
        sequences = [] if keep else self.sequences
        if keep:
            modes = [0] * len(modes)
        if not stmts:
            return []
        rows = self.conn.execute(
            _RUNNER_CALL,
            (
                numbers,
                stmts,
                preludes,
                postludes,
                returns,
                [s[0] for s in sequences],
                [s[1] for s in sequences],
                [s[2] for s in sequences],
                keep,
                modes,
                self._digests,
                self._watch,
                self._watch_rel,
            ),
        ).fetchall()
        flat = [s for example in examples for s in example]
        outcomes: list[list[Outcome]] = [[] for _ in examples]
        digests: dict[int, tuple[str, ...]] = {}
        for ex, k, state, message, nrows, result in rows:
            if k == 0:
                digests[ex] = self._fill(_split_digest(state, message, result))
            else:
                statement = flat[k - 1]
                outcomes[ex].append(self._outcome(statement, masked, state, message, nrows, result))
        for number, example in enumerate(examples):
            if len(outcomes[number]) != len(example):
                raise AssertionError(f"runner returned {len(outcomes[number])} of {len(example)}")
        return [ExampleRun(tuple(o), digests.get(n, ())) for n, o in enumerate(outcomes)]

    def _fill(self, digest: tuple[str, ...]) -> tuple[str, ...]:
        """Unchanged relations (empty fields) have their prepared-state digest."""
        if len(digest) != len(self._baseline):
            return digest  # an error message
        return tuple(d or base for d, base in zip(digest, self._baseline, strict=True))

    def _outcome(
        self,
        statement: Statement,
        masked: Mapping[str, Iterable[str]],
        state: str | None,
        message: str | None,
        nrows: int,
        result: str | None,
    ) -> Outcome:
        if state is not None:
            return Outcome(False, state, (message or "").strip())
        if result is None:
            return Outcome(True, rowcount=nrows)
        hidden = frozenset(masked.get(statement.table, ()))
        hidden |= {f"{c}_text" for c in hidden}  # a probe's `c::text AS c_text`
        return Outcome(True, rowcount=nrows, raw=result, hidden=hidden, clock=self.clock)

    def digest_now(self) -> tuple[str, ...]:
        """The digest of every compared relation, read now."""
        found = []
        for query in self._digests:
            rows = self._read(query)
            if isinstance(rows, str):
                return (f"error: {rows}",)
            found.append(rows[0][0])
        return tuple(found)

    # --- the slow path: one statement at a time, inside the caller's transaction ---------------

    def begin_example(self) -> None:
        """Open a transaction at the prepared state (sequences put back first)."""
        if self.sequences:
            calls = ", ".join(
                f"setval({literal(n)}::regclass, {last}, {'true' if c else 'false'})"
                for n, last, c in self.sequences
            )
            self.conn.execute(f"SELECT {calls}")
        self.conn.execute("BEGIN; SET CONSTRAINTS ALL IMMEDIATE")

    def end_example(self) -> None:
        self.conn.execute("ROLLBACK")

    def run_in_transaction(
        self, statements: Sequence[Statement], masked: Mapping[str, Iterable[str]]
    ) -> ExampleRun:
        """Run STATEMENTS in the open transaction and keep their effects (COPY included)."""
        outcomes = []
        for statement in statements:
            if statement.is_copy:
                outcomes.append(self.copy(statement))
                self.settle(outcomes[-1].ok)
            else:
                self.conn.execute("SAVEPOINT batch")
                run = self.run_examples([[statement]], masked, keep=True)[0]
                self.conn.execute("RELEASE SAVEPOINT batch")
                outcomes.append(run.outcomes[0])
        return ExampleRun(tuple(outcomes), self.digest_now())

    def copy(self, statement: Statement) -> Outcome:
        """COPY through the client protocol (it cannot run inside a function)."""
        cur = self.conn.cursor()
        cur.execute("SAVEPOINT step")
        try:
            if statement.prelude:
                cur.execute(statement.prelude)
            lines: list[str] = []
            with cur.copy(statement.sql) as copy:
                if statement.copy_rows is not None:
                    copy.write(statement.copy_rows)
                else:
                    for chunk in copy:
                        lines += bytes(chunk).decode().splitlines()
            rowcount = cur.rowcount
            if statement.postlude:
                cur.execute(statement.postlude)
        except psycopg.Error as error:
            self.conn.execute("ROLLBACK TO SAVEPOINT step")
            diag = error.diag
            return Outcome(False, error.sqlstate, (diag.message_primary or str(error)).strip())
        if statement.copy_rows is not None:
            return Outcome(True, rowcount=rowcount)
        return Outcome(True, rowcount=rowcount, lines=tuple(lines))

    def execute(self, sql: str) -> Outcome:
        """Run SQL inside a savepoint (kept or undone by settle()); errors do not end the example."""
        cur = self.conn.cursor()
        try:
            cur.execute("SAVEPOINT step; " + sql)
            while cur.nextset():
                pass
            rowcount = cur.rowcount
        except psycopg.Error as error:
            cur.execute("ROLLBACK TO SAVEPOINT step")
            diag = error.diag
            return Outcome(False, error.sqlstate, (diag.message_primary or str(error)).strip())
        return Outcome(True, rowcount=rowcount)

    def settle(self, keep: bool) -> None:
        """Keep the last statement's effect, or undo it."""
        self.conn.execute("RELEASE SAVEPOINT step" if keep else "ROLLBACK TO SAVEPOINT step")

    def _projection(
        self,
        relation: Relation,
        masked: Iterable[str],
        only: Iterable[str] | None,
        cached: bool = True,
    ) -> str:
        """The relation's columns read as the legacy types (masked ones by presence only)."""
        masked = set(masked)
        key = (relation.qualified_name, tuple(sorted(masked)), tuple(only or ()))
        if cached and key in self._projections:
            return self._projections[key]
        present = self._columns_of(relation)
        wanted = set(only) if only is not None else None
        parts = []
        for column in relation.columns:
            if wanted is not None and column.name not in wanted:
                continue
            if column.name not in present:
                parts.append("NULL::text")
            elif column.name in masked:
                parts.append(f"({ident(column.name)} IS NOT NULL)")
            else:
                # As PostgreSQL prints it: -0 and 0, 1.0 and 1.00, '1 mon' and '30 days',
                # jsonb's 1.0 and 1.00 are equal values of different text.
                cast = f"{ident(column.name)}::{column.type}"
                clocked = self.clock.projection(cast, column.type) if self.clock else None
                parts.append(clocked or f'({cast})::text COLLATE "C"')
        projection = f"SELECT {', '.join(parts)} FROM {qualified(relation.qualified_name)}"
        if cached:
            self._projections[key] = projection
        return projection

    def _read(self, query: str) -> list[tuple[Any, ...]] | str:
        if self.conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            self.conn.execute("BEGIN")
            try:
                return self._read(query)
            finally:
                self.conn.execute("ROLLBACK")
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

    def contents(
        self,
        relation: Relation,
        masked: Iterable[str],
        only: Iterable[str] | None = None,
        *,
        cached: bool = True,
    ) -> Counter | str:
        """The rows of a legacy relation as a multiset, read as the legacy column types.

        Returns an error message instead when the relation cannot be read that way.
        CACHED=False reads the relation's columns afresh (after a rollback changed it).
        """
        rows = self._read(self._projection(relation, masked, only, cached))
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
    """Columns compared by presence only: their legacy default differs between runs. Defaults
    that read only the JWT claims (the same in both worlds) or only the clock (compared through
    the run's window, see clock.py) are compared by value."""
    return {
        name: frozenset(
            c.name
            for c in rel.columns
            if c.nondeterministic_default
            and not _reads_only_claims(c.default)
            and not (clock_type(c.type) and _reads_only_clock(c.default))
        )
        for name, rel in relations.items()
    }


# Supabase's request functions: stable, but they read only the JWT claims of the request, which
# both worlds set alike for each statement (`user_id uuid DEFAULT auth.uid()` is compared).
_CLAIM_FUNCTIONS = frozenset(
    {("auth", "uid"), ("auth", "role"), ("auth", "email"), ("auth", "jwt")}
)
# The transaction's or statement's time; `timezone('utc', now())` is that time in UTC, which
# both worlds use as their session TimeZone.
_CLOCK_FUNCTIONS = frozenset(
    {
        ("now",),
        ("pg_catalog", "now"),
        ("clock_timestamp",),
        ("statement_timestamp",),
        ("transaction_timestamp",),
        ("timezone",),
        ("pg_catalog", "timezone"),
        ("sql value function",),
    }
)


def _calls(default: str | None) -> list[tuple[str, ...]] | None:
    """The functions DEFAULT calls (CURRENT_TIMESTAMP and friends as one name), None when it
    does anything else than calling functions on constants (arithmetic, operators)."""
    from pglast import ast, parse_sql
    from pglast.parser import ParseError
    from pglast.visitors import Visitor

    if not default:
        return None
    try:
        tree = parse_sql(f"SELECT {default}")
    except ParseError:
        return None
    calls: list[tuple[str, ...]] = []
    other: list[object] = []

    class _Calls(Visitor):
        def visit_FuncCall(self, ancestors: object, node: Any) -> None:
            calls.append(tuple(p.sval for p in node.funcname))
            if calls[-1][-1] == "timezone" and not _utc(node.args):
                other.append(node)

        def visit_SQLValueFunction(self, ancestors: object, node: Any) -> None:
            calls.append(("sql value function",))

        def visit_A_Expr(self, ancestors: object, node: Any) -> None:
            other.append(node)

    def _utc(args: Any) -> bool:
        first = args[0] if args else None
        while isinstance(first, ast.TypeCast):
            first = first.arg
        value = getattr(getattr(first, "val", None), "sval", None)
        return isinstance(value, str) and value.lower() == "utc"

    _Calls()(tree)
    return None if other else calls


def _reads_only_claims(default: str | None) -> bool:
    calls = _calls(default)
    return bool(calls) and all(call in _CLAIM_FUNCTIONS for call in calls)


def _reads_only_clock(default: str | None) -> bool:
    calls = _calls(default)
    return bool(calls) and all(call in _CLOCK_FUNCTIONS for call in calls)


def _digest_function(queries: Sequence[str]) -> str:
    """pg_temp.migverify_digest(N): the Nth digest query as static SQL in PL/pgSQL, so that its
    plan is made once per session and reused (an EXECUTE of the text plans it at every call,
    which cost as much as running it on small tables)."""
    tag = "$migverify_digest$"
    branches = "".join(
        f"    {'IF' if n == 1 else 'ELSIF'} n = {n} THEN\n        RETURN ({query});\n"
        for n, query in enumerate(queries, start=1)
    )
    assert all(tag not in query for query in queries)
    body = f"BEGIN\n{branches}    END IF;\n" if queries else "BEGIN\n"
    return (
        "CREATE OR REPLACE FUNCTION pg_temp.migverify_digest(n integer) RETURNS text\n"
        f"LANGUAGE plpgsql AS {tag}\n{body}    RETURN NULL;\nEND\n{tag}"
    )


def _split_digest(state: str | None, message: str | None, result: str | None) -> tuple[str, ...]:
    if state is not None:
        return (f"error {state}: {message}",)
    return tuple(result.split("\t")) if result is not None else ()
