"""CHECK constraints: the values their expressions suggest for each column (the constants they
compare against and their neighbours, IN lists, lengths, strings matching a regular expression
or a LIKE pattern), and the server evaluating candidate rows against them.

PostgreSQL decides: candidates are only proposals, and a combination is kept when every CHECK
of the group evaluates to true or NULL on it, as the server evaluates it for an INSERT.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pglast import ast, parse_sql
from pglast.visitors import Visitor

from migverify.quoting import ident
from migverify.usercache import keep_hypothesis_here

MAX_COMBINATIONS = 4096
REGEX_SAMPLES = 24


@dataclass(frozen=True)
class Check:
    """A CHECK of a table: its name, expression (pg_get_expr) and the columns it reads."""

    name: str
    expression: str
    columns: tuple[str, ...]


def read_checks(conn: psycopg.Connection, table: str) -> list[Check]:
    rows = conn.execute(
        """
        SELECT c.conname, pg_get_expr(c.conbin, c.conrelid),
               ARRAY(SELECT a.attname FROM unnest(c.conkey) k
                     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k
                     ORDER BY a.attnum)
        FROM pg_constraint c WHERE c.conrelid = %s::regclass AND c.contype = 'c'
        ORDER BY c.conname
        """,
        (table,),
    ).fetchall()
    return [Check(name, expression, tuple(columns)) for name, expression, columns in rows]


# --- what an expression suggests ---------------------------------------------------------


class _Hints(Visitor):
    """Constants by the column they are compared with (None: no single column)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str | None, str, Any]] = []  # (column, kind, value)

    def visit_A_Expr(self, ancestors: Any, node: ast.A_Expr) -> None:  # noqa: N802
        operator = node.name[-1].sval if node.name else ""
        column = _column(node.lexpr) or _column(node.rexpr)
        if operator in ("~", "~*", "!~", "!~*") and column:
            pattern = _constant(node.rexpr)
            if isinstance(pattern, str):
                self.found.append((column, "regex" if "*" not in operator else "iregex", pattern))
        elif operator in ("~~", "~~*") and column:
            pattern = _constant(node.rexpr)
            if isinstance(pattern, str):
                self.found.append((column, "like", pattern))
        length = _length_of(node.lexpr) or _length_of(node.rexpr)
        values = [_constant(node.rexpr), _constant(node.lexpr)]
        if isinstance(node.rexpr, list | tuple):
            values += [_constant(v) for v in node.rexpr]
        for value in values:
            if value is None:
                continue
            if length:
                self.found.append((length, "length", value))
            else:
                self.found.append((column, "constant", value))


def _column(node: Any) -> str | None:
    while isinstance(node, ast.TypeCast):
        node = node.arg
    if isinstance(node, ast.FuncCall) and node.args and len(node.args) == 1:
        name = node.funcname[-1].sval
        if name in ("lower", "upper", "btrim", "trim"):
            return _column(node.args[0])
    if isinstance(node, ast.ColumnRef):
        last = node.fields[-1]
        return last.sval if isinstance(last, ast.String) else None
    return None


def _length_of(node: Any) -> str | None:
    """The column of `char_length(c)`, `length(c)`, `octet_length(c)`, `array_length(c, 1)`,
    `cardinality(c)`, `length(trim(c))`."""
    while isinstance(node, ast.TypeCast):
        node = node.arg
    if isinstance(node, ast.FuncCall) and node.args:
        name = node.funcname[-1].sval
        if name in ("char_length", "length", "octet_length", "array_length", "cardinality"):
            return _column(node.args[0])
    return None


def _constant(node: Any) -> Any:
    while isinstance(node, ast.TypeCast):
        node = node.arg
    if isinstance(node, ast.A_Const) and not node.isnull:
        value = node.val
        if isinstance(value, ast.Integer):
            return int(value.ival)
        if isinstance(value, ast.Float):
            return Decimal(value.fval)
        if isinstance(value, ast.String):
            return value.sval
        if isinstance(value, ast.Boolean):
            return bool(value.boolval)
    if isinstance(node, ast.A_ArrayExpr):  # ANY (ARRAY[...]) as the server prints IN lists
        return None
    return None


class _Arrays(Visitor):
    """`c = ANY (ARRAY['a', 'b'])`, as pg_get_expr prints `c IN ('a', 'b')`."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, Any]] = []

    def visit_A_Expr(self, ancestors: Any, node: ast.A_Expr) -> None:  # noqa: N802
        column = _column(node.lexpr)
        right = node.rexpr
        while isinstance(right, ast.TypeCast):
            right = right.arg
        if column and isinstance(right, ast.A_ArrayExpr):
            for element in right.elements or ():
                value = _constant(element)
                if value is not None:
                    self.found.append((column, value))


def hints(check: Check) -> dict[str, list[str]]:
    """Candidate values (text) per column that the expression of CHECK suggests."""
    try:
        tree = parse_sql(f"SELECT {check.expression}")
    except Exception:  # noqa: BLE001 - a server-printed expression pglast cannot read
        return {}
    visitor, arrays = _Hints(), _Arrays()
    visitor(tree)
    arrays(tree)
    found: dict[str, list[str]] = {}
    only = check.columns[0] if len(check.columns) == 1 else None
    for column, value in arrays.found:
        found.setdefault(column, []).append(_text(value))
    for column, kind, value in visitor.found:
        column = column or only
        if column is None or column not in check.columns:
            continue
        values = found.setdefault(column, [])
        if kind in ("regex", "iregex"):
            values += regex_samples(value, kind == "iregex")
        elif kind == "like":
            values.append(value.replace("%", "a").replace("_", "a"))
        elif kind == "length" and isinstance(value, int) and 0 <= value <= 10_000:
            for size in (value, value + 1, max(value - 1, 1)):
                values += [c * size for c in "abcdefgh"]
                values += [c * size for c in "ABCDEFGH"] + [c * size for c in "12345678"]
        elif isinstance(value, bool):
            values += ["true", "false"]
        elif isinstance(value, int | Decimal):
            # around the bound, and further past it on both sides (unique columns need many)
            values += [_text(value), _text(value + 1), _text(value - 1)]
            values += [_text(value + step) for step in range(2, 12)]
            values += [_text(value - step) for step in range(2, 12)]
        elif isinstance(value, str):
            values.append(value)
    return {c: list(dict.fromkeys(v)) for c, v in found.items()}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# PostgreSQL's bracket classes and word boundaries, in Python's syntax.
_CLASSES = {
    "[:alpha:]": "a-zA-Z",
    "[:digit:]": "0-9",
    "[:alnum:]": "a-zA-Z0-9",
    "[:upper:]": "A-Z",
    "[:lower:]": "a-z",
    "[:space:]": " \\t",
    "[:xdigit:]": "0-9a-fA-F",
    "[:punct:]": "!-/:-@\\[-`{-~",
    "[:word:]": "a-zA-Z0-9_",
}


def regex_samples(pattern: str, ignore_case: bool = False) -> list[str]:
    """Strings that match a PostgreSQL regular expression, found by hypothesis (deterministic:
    derandomized), or none when Python's `re` cannot read the pattern."""
    translated = pattern
    for posix, plain in _CLASSES.items():
        translated = translated.replace(posix, plain)
    translated = re.sub(r"\\[my]", r"\\b", translated).replace("\\M", "\\b")
    try:
        compiled = re.compile(translated, re.IGNORECASE if ignore_case else 0)
    except re.error:
        return []
    found: list[str] = []
    keep_hypothesis_here()
    run = settings(
        derandomize=True,
        database=None,
        max_examples=REGEX_SAMPLES * 2,
        phases=(Phase.generate,),
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )

    def collect(value: str) -> None:
        if "\x00" not in value and value not in found and len(found) < REGEX_SAMPLES:
            found.append(value)

    # Printable ASCII first (Python's \d and \w also match other scripts' digits and letters,
    # which PostgreSQL's may not), any character when the pattern needs more.
    for alphabet in (st.characters(min_codepoint=32, max_codepoint=126), st.characters()):
        try:
            run(given(st.from_regex(compiled, fullmatch=True, alphabet=alphabet))(collect))()
        except Exception:  # noqa: BLE001 - hypothesis cannot generate for this pattern
            pass
        if found:
            break
    return sorted(found, key=lambda v: (len(v), v))


# --- the server evaluates ------------------------------------------------------------------


def solve(
    conn: psycopg.Connection,
    checks: Sequence[Check],
    columns: Sequence[str],
    types: dict[str, str],
    options: dict[str, list[str | None]],
    skip: int = 0,
) -> dict[str, str | None] | None:
    """The first combination of OPTIONS (per column, best first) for which every one of CHECKS
    is true or NULL, skipping the first SKIP such combinations; None when there is none among
    the first MAX_COMBINATIONS."""
    lists = [options[c] for c in columns]
    combos = _by_rank(lists)
    if not combos:
        return None
    arrays = [[lists[i][combo[i]] for combo in combos] for i in range(len(columns))]
    unnest = ", ".join(["%s::int[]"] + ["%s::text[]"] * len(columns))
    names = ", ".join(["n"] + [f"v{i}" for i in range(len(columns))])
    casts = ", ".join(f"x.v{i}::{types[c]} AS {ident(c)}" for i, c in enumerate(columns))
    condition = " AND ".join(f"({c.expression}) IS NOT FALSE" for c in checks)
    query = (
        f"SELECT x.n FROM unnest({unnest}) AS x({names}), LATERAL (SELECT {casts}) AS t "
        f"WHERE {condition} ORDER BY x.n LIMIT 1 OFFSET {skip}"
    )
    try:
        with conn.transaction():
            row = conn.execute(query, [list(range(len(combos))), *arrays]).fetchone()
    except psycopg.Error:
        row = _solve_one_by_one(conn, checks, columns, types, arrays, skip)
    if row is None:
        return None
    combo = combos[row[0]]
    return {c: lists[i][combo[i]] for i, c in enumerate(columns)}


def _solve_one_by_one(
    conn: psycopg.Connection,
    checks: Sequence[Check],
    columns: Sequence[str],
    types: dict[str, str],
    arrays: list[list[str | None]],
    skip: int,
) -> tuple[int] | None:
    """The same search, each combination on its own (one that raises an error is false)."""
    casts = ", ".join(f"%s::{types[c]} AS {ident(c)}" for c in columns)
    condition = " AND ".join(f"({c.expression}) IS NOT FALSE" for c in checks)
    query = f"SELECT {condition} FROM (SELECT {casts}) AS t"
    for n in range(len(arrays[0])):
        try:
            with conn.transaction():
                ok = conn.execute(query, [a[n] for a in arrays]).fetchone()[0]
        except psycopg.Error:
            continue
        if ok:
            if skip == 0:
                return (n,)
            skip -= 1
    return None


def _by_rank(lists: Sequence[Sequence[Any]]) -> list[tuple[int, ...]]:
    """Index combinations in order of their sum (the best candidates of every column first)."""
    sizes = [len(values) for values in lists]
    if not sizes or 0 in sizes:
        return []
    combos = []
    for total in range(sum(sizes) - len(sizes) + 1):
        for combo in _sums(sizes, total):
            combos.append(combo)
            if len(combos) >= MAX_COMBINATIONS:
                return combos
    return combos


def _sums(sizes: Sequence[int], total: int) -> list[tuple[int, ...]]:
    """Index tuples below SIZES whose sum is TOTAL, in lexicographic order."""
    if len(sizes) == 1:
        return [(total,)] if total < sizes[0] else []
    room = sum(size - 1 for size in sizes[1:])
    found = []
    for first in range(max(0, total - room), min(sizes[0] - 1, total) + 1):
        found += [(first, *rest) for rest in _sums(sizes[1:], total - first)]
    return found
