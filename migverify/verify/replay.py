"""`verify --queries FILE`: the statements an application really sends, replayed in both worlds.

Three kinds of file, told apart by their contents:

- a `pg_stat_statements` export (CSV with a `query` column, as `\\copy (SELECT query, calls FROM
  pg_stat_statements) TO 'q.csv' CSV HEADER` writes it): normalised statements, constants
  replaced by `$1`, `$2`, …;
- a PostgreSQL log (`log_statement = 'all'` or `log_min_duration_statement`): the text after
  `statement:` or `execute <name>:`, continuation lines included, with the values of a
  `DETAIL:  parameters: $1 = '…'` line when the server logged them;
- anything else is SQL text, split into statements with pglast.

A statement is replayed when it reads or writes a compared legacy relation (pglast finds the
relations it names). Its parameters get values: those the log recorded; else, for `col = $n`
(and IN lists, `SET col = $n`, `INSERT … VALUES ($n)`) a value of that column — of a stored row
for a filter, of a row the table accepts and does not hold for a write; else a value of the
parameter's type (PREPARE tells the types). What cannot be replayed (not parsed, no legacy
relation, a parameter PostgreSQL cannot type, COPY, a utility statement) is counted and said why.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from pglast import ast, parse_sql
from pglast.stream import RawStream
from pglast.visitors import Visitor

from migverify.errors import InputError
from migverify.quoting import literal
from migverify.sqlload import read_script, split_script, start_line
from migverify.verify.facts import TableFacts
from migverify.verify.statement import Statement

__all__ = ["Query", "Replay", "read_queries", "replayable", "source_position"]

_LOG_LINE = re.compile(r"\b(LOG|STATEMENT|DETAIL|ERROR|HINT|CONTEXT|WARNING|NOTICE):\s{1,2}(.*)$")
_LOG_STATEMENT = re.compile(
    r"^(?:duration: [\d.]+ ms\s+)?(?:statement|execute [^:]*|bind [^:]*):\s(.*)$", re.S
)
_PARAMETER = re.compile(r"\$(\d+) = (NULL|'(?:[^']|'')*')")


@dataclass(frozen=True)
class Query:
    """One statement from the file, where it was found, and the parameter values logged."""

    source: str  # file:line
    sql: str
    values: dict[int, str | None] = field(default_factory=dict)


@dataclass
class Replay:
    """What became of the file's statements."""

    read: int = 0
    statements: list[tuple[Query, Statement]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source, why)

    def summary(self, name: str) -> str:
        return f"replayed {len(self.statements)} of {self.read} statements from {name}" + (
            f"; {len(self.skipped)} not replayed" if self.skipped else ""
        )


def source_position(source: str) -> tuple[str, int]:
    """A Query's source (`file:line`, or `file:#n` for the n-th entry of a JSON export) as
    (file, number)."""
    path, _, line = source.rpartition(":")
    number = line.removeprefix("#")
    return path, int(number) if number.isdigit() else 0


def _parameters(detail: str) -> dict[int, str | None]:
    """The values of a log's `parameters: $1 = '…', $2 = NULL`."""
    return {
        int(n): None if v == "NULL" else v[1:-1].replace("''", "'")
        for n, v in _PARAMETER.findall(detail)
    }


def read_queries(path: Path) -> list[Query]:
    """The statements of PATH: a pg_stat_statements export (CSV with a query column, or JSON),
    a server log (stderr, csvlog or jsonlog), or SQL."""
    text = read_script(path)
    head = text.lstrip()[:4096]
    first_line = head.split("\n", 1)[0]
    if first_line.startswith("{") and '"message"' in first_line:
        return _from_entries(path, _jsonlog(text))
    if head.startswith(("[", "{")):
        return _from_json(path, text)
    if "query" in [c.strip().strip('"').lower() for c in first_line.split(",")]:
        return _from_csv(path, text)
    if _is_csvlog(head):
        return _from_entries(path, _csvlog(text))
    if _LOG_LINE.search(first_line) or any(
        _LOG_LINE.search(line) for line in head.splitlines()[:5]
    ):
        return _from_log(path, text)
    try:
        parts = split_script(text, str(path))
    except Exception as error:  # an SQLFileError names the line
        raise InputError(str(error)) from None
    return [Query(f"{path}:{start_line(s)}", s.text.strip()) for s in parts if s.text.strip()]


def _from_csv(path: Path, text: str) -> list[Query]:
    reader = csv.DictReader(io.StringIO(text))
    found = []
    start = 2  # a record's first line (a quoted query may span several)
    for row in reader:
        query = next((v for k, v in row.items() if k and k.strip().lower() == "query"), None)
        if query and query.strip():
            found.append(Query(f"{path}:{start}", query.strip().rstrip(";")))
        start = reader.line_num + 1
    return found


def _from_json(path: Path, text: str) -> list[Query]:
    """`[{"query": …}, …]` (json_agg of pg_stat_statements), or an object holding such a list."""
    import json

    try:
        data = json.loads(text)
    except ValueError as error:
        raise InputError(f"{path}: not JSON: {error}") from None
    if isinstance(data, dict):
        data = next((v for v in data.values() if isinstance(v, list)), [])
    found = []
    for number, item in enumerate(data if isinstance(data, list) else [], start=1):
        query = item.get("query") if isinstance(item, dict) else None
        if isinstance(query, str) and query.strip():
            found.append(Query(f"{path}:#{number}", query.strip().rstrip(";")))
    return found


# csvlog's columns (log_time, user_name, …): error_severity, message and detail
_CSV_SEVERITY, _CSV_MESSAGE, _CSV_DETAIL = 11, 13, 14
_SEVERITIES = {"LOG", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG", "FATAL", "PANIC", "STATEMENT"}


def _is_csvlog(head: str) -> bool:
    """Is HEAD (a file's start) a csvlog record: its first record (a message may span lines)
    has the columns, the severity in its place?"""
    try:
        fields = next(csv.reader(io.StringIO(head)))
    except (csv.Error, StopIteration):
        return False
    return len(fields) >= 22 and fields[_CSV_SEVERITY] in _SEVERITIES


def _csvlog(text: str) -> Iterable[tuple[int, str, str, str]]:
    reader = csv.reader(io.StringIO(text))
    start = 1
    for fields in reader:
        if len(fields) > _CSV_DETAIL:
            yield start, fields[_CSV_SEVERITY], fields[_CSV_MESSAGE], fields[_CSV_DETAIL]
        start = reader.line_num + 1


def _jsonlog(text: str) -> Iterable[tuple[int, str, str, str]]:
    import json

    for number, line in enumerate(text.splitlines(), start=1):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            severity = str(entry.get("error_severity", ""))
            yield number, severity, str(entry.get("message", "")), str(entry.get("detail", ""))


def _from_entries(path: Path, entries: Iterable[tuple[int, str, str, str]]) -> list[Query]:
    """Statements of a structured log (csvlog, jsonlog): one entry per statement, its
    parameters in the same entry's detail."""
    found = []
    for line, severity, message, detail in entries:
        statement = _LOG_STATEMENT.match(message) if severity == "LOG" else None
        if statement is None:
            continue
        values = _parameters(detail) if detail.startswith("parameters:") else {}
        found.append(Query(f"{path}:{line}", statement.group(1).strip().rstrip(";"), values))
    return found


def _from_log(path: Path, text: str) -> list[Query]:
    found: list[Query] = []
    current: list[str] | None = None
    start = 0

    def close() -> None:
        nonlocal current
        if current is not None:
            found.append(Query(f"{path}:{start}", "\n".join(current).strip().rstrip(";")))
        current = None

    for number, line in enumerate(text.splitlines(), start=1):
        entry = _LOG_LINE.search(line)
        if entry is None:
            if current is not None and (line.startswith(("\t", " ")) or not line.strip()):
                current.append(line.strip("\t"))
            continue
        kind, message = entry.groups()
        if kind == "DETAIL" and message.startswith("parameters:") and found:
            values = _parameters(message)
            if current is not None:
                close()
            last = found[-1]
            found[-1] = Query(last.source, last.sql, values)
            continue
        close()
        statement = _LOG_STATEMENT.match(message) if kind == "LOG" else None
        if statement:
            current, start = [statement.group(1)], number
    close()
    return found


class _Names(Visitor):
    def __init__(self) -> None:
        self.relations: list[tuple[str | None, str]] = []
        self.params: set[int] = set()
        self.columns: dict[int, str] = {}  # parameter -> the column it is compared with

    def visit_RangeVar(self, ancestors: Any, node: ast.RangeVar) -> None:  # noqa: N802
        self.relations.append((node.schemaname, node.relname))

    def visit_ParamRef(self, ancestors: Any, node: ast.ParamRef) -> None:  # noqa: N802
        self.params.add(node.number)

    def visit_A_Expr(self, ancestors: Any, node: ast.A_Expr) -> None:  # noqa: N802
        column = _column_name(node.lexpr)
        for side in (node.rexpr, *(node.rexpr if isinstance(node.rexpr, tuple) else ())):
            if isinstance(side, ast.ParamRef) and column:
                self.columns.setdefault(side.number, column)
        column = _column_name(node.rexpr)
        if isinstance(node.lexpr, ast.ParamRef) and column:
            self.columns.setdefault(node.lexpr.number, column)

    def visit_ResTarget(self, ancestors: Any, node: ast.ResTarget) -> None:  # noqa: N802
        if node.name and isinstance(node.val, ast.ParamRef):  # UPDATE … SET col = $n
            self.columns.setdefault(node.val.number, node.name)


def _column_name(node: Any) -> str | None:
    if isinstance(node, ast.TypeCast):
        node = node.arg
    if isinstance(node, ast.ColumnRef) and isinstance(node.fields[-1], ast.String):
        return node.fields[-1].sval
    return None


def _operation(statement: Any) -> str | None:
    if isinstance(statement, ast.SelectStmt):
        return "select"
    if isinstance(statement, ast.InsertStmt):
        if statement.onConflictClause is not None:
            return "upsert"
        return "insert"
    if isinstance(statement, ast.UpdateStmt):
        return "update"
    if isinstance(statement, ast.DeleteStmt):
        return "delete"
    if isinstance(statement, ast.MergeStmt):
        return "merge"
    if isinstance(statement, ast.TruncateStmt):
        return "truncate"
    return None


def _insert_columns(statement: Any) -> dict[int, str]:
    """INSERT … (a, b) VALUES ($1, $2): the column of each parameter."""
    found: dict[int, str] = {}
    if not isinstance(statement, ast.InsertStmt) or not statement.cols:
        return found
    select = statement.selectStmt
    names = [c.name for c in statement.cols]
    for row in (select.valuesLists or ()) if isinstance(select, ast.SelectStmt) else ():
        for name, value in zip(names, row, strict=False):
            if isinstance(value, ast.TypeCast):
                value = value.arg
            if isinstance(value, ast.ParamRef):
                found.setdefault(value.number, name)
    return found


def replayable(
    conn: psycopg.Connection, queries: Sequence[Query], facts: Sequence[TableFacts]
) -> Replay:
    """The statements of QUERIES that touch the relations of FACTS, with their parameters
    given values (CONN: the reference world, asked for parameter types and left as it was)."""
    replay = Replay(read=len(queries))
    by_name: dict[str, TableFacts] = {}
    for f in facts:
        by_name[f.relation.qualified_name] = f
        by_name.setdefault(f.relation.name, f)
        by_name.setdefault(f.relation.display_name, f)
    for query in queries:
        try:
            tree = parse_sql(query.sql)
        except Exception as error:
            replay.skipped.append((query.source, f"not parsed: {str(error).splitlines()[0]}"))
            continue
        if len(tree) != 1:
            replay.skipped.append((query.source, "more than one statement"))
            continue
        statement = tree[0].stmt
        if isinstance(statement, ast.CopyStmt):
            replay.skipped.append((query.source, "COPY is not replayed (its data is not logged)"))
            continue
        operation = _operation(statement)
        if operation is None:
            replay.skipped.append(
                (query.source, f"not a data statement ({type(statement).__name__})")
            )
            continue
        names = _Names()
        names(tree)
        touched = [
            by_name[f"{schema}.{name}" if schema else name]
            for schema, name in names.relations
            if (f"{schema}.{name}" if schema else name) in by_name
        ]
        if not touched:
            replay.skipped.append((query.source, "reads or writes no compared legacy table"))
            continue
        table = touched[0]
        columns = {**names.columns, **_insert_columns(statement)}
        values = dict(query.values)
        types: list[str] = []
        if names.params:
            found = _parameter_types(conn, query.sql)
            if isinstance(found, str):
                replay.skipped.append((query.source, f"not parameterisable: {found}"))
                continue
            types = found
            for number in sorted(names.params - values.keys()):
                values[number] = _value(
                    table, columns.get(number), types[number - 1], operation, touched
                )
        sql = _bound(tree, values, types)
        returns = operation == "select" or bool(getattr(statement, "returningList", None))
        replay.statements.append(
            (query, Statement(sql, table.name, operation, returns_rows=returns))
        )
    return replay


def _parameter_types(conn: psycopg.Connection, sql: str) -> list[str] | str:
    """The parameter types PREPARE infers, or why it cannot."""
    try:
        with conn.transaction(force_rollback=True):
            conn.execute(f"PREPARE migverify_replay AS {sql}")
            (types,) = conn.execute(
                "SELECT parameter_types::text[] FROM pg_prepared_statements "
                "WHERE name = 'migverify_replay'"
            ).fetchone()
            conn.execute("DEALLOCATE migverify_replay")
    except psycopg.Error as error:
        return str(error.diag.message_primary or error)
    return list(types or ())


_BY_TYPE = {
    "integer": "1",
    "bigint": "1",
    "smallint": "1",
    "numeric": "1",
    "real": "1",
    "double precision": "1",
    "boolean": "true",
    "text": "x",
    "character varying": "x",
    "uuid": "00000000-0000-0000-0000-000000000001",
    "date": "2026-01-01",
    "timestamp with time zone": "2026-01-01 00:00:00+00",
    "timestamp without time zone": "2026-01-01 00:00:00",
    "jsonb": "{}",
    "json": "{}",
}


def _value(
    table: TableFacts,
    column: str | None,
    type_name: str,
    operation: str,
    touched: Sequence[TableFacts],
) -> str | None:
    """A value for a parameter: of its column (a stored row's for a filter, a fresh row's for
    a written value), else of its type."""
    for facts in touched:
        if column is None or column not in facts.relation.column_names:
            continue
        fresh = [r.values.get(column) for r in facts.fresh if r.values.get(column) is not None]
        stored = [r.get(column) for r in facts.seeded if r.get(column) is not None]
        pool = (fresh + stored) if operation in ("insert", "upsert") else (stored + fresh)
        if pool:
            return pool[0]
    if type_name in _BY_TYPE:
        return _BY_TYPE[type_name]
    stored = [
        r.get(c.name)
        for r in table.seeded
        for c in table.relation.columns
        if c.type == type_name and r.get(c.name) is not None
    ]
    return stored[0] if stored else None


class _Bind(Visitor):
    def __init__(self, values: dict[int, str | None], types: list[str]) -> None:
        self.values, self.types = values, types

    def visit_ParamRef(self, ancestors: Any, node: ast.ParamRef) -> Any:  # noqa: N802
        value = self.values.get(node.number)
        type_name = self.types[node.number - 1] if node.number <= len(self.types) else "unknown"
        text = "NULL" if value is None else literal(value)
        cast = f"SELECT {text}::{type_name}" if type_name != "unknown" else f"SELECT {text}"
        return parse_sql(cast)[0].stmt.targetList[0].val


def _bound(tree: Any, values: dict[int, str | None], types: list[str]) -> str:
    if values:
        _Bind(values, types)(tree)
    return RawStream()(tree)
