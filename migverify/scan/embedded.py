"""SQL written in Go and Rust source: the string literals that read as a statement.

Go code reaches PostgreSQL through database/sql, pgx, sqlx or sqlc's generated code, Rust code
through sqlx (`query!`, `query_as!`, `query(…)`), tokio-postgres or diesel's `sql_query`; in all
of them the table is named in SQL text. Every string literal (a Go `"…"` or raw `` `…` ``, a Rust
`"…"` or `r#"…"#`, and Go's `"…" + "…"` of literals) that starts as a statement (SQL_START,
after comments: sqlc's generated `-- name: … :one`) and holds SQL's syntax (SQL_EVIDENCE, or a
function call) is parsed as SQL with `$1`, then `?`, then `%s` placeholders, else read by its
tokens (SQLite's `INSERT OR IGNORE`, `?1`, a format's `{placeholders}`). A table given by a
format verb where SQL names one (`fmt.Sprintf("… FROM %s", t)`, `format!("… FROM {}", t)`) is a
dynamic reference. diesel's DSL is read by diesel.py, GORM's chains by gorm.py; other query
builders and ORMs are not: their files hold no SQL naming the table. squirrel's and goqu's
table names by gobuilders.py, ent's client by ent.py, SeaORM's entities by seaorm.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache

from tree_sitter import Language, Node, Parser, Tree

from migverify.scan.found import SQL_EVIDENCE, SQL_START, Found
from migverify.scan.orm import Models, nodes_of
from migverify.scan.source import Source, StringValue, add_raw
from migverify.scan.sql import analyze_tokens
from migverify.scan.tables import TableMatcher

SUFFIXES = (".go", ".rs")
_LITERALS = frozenset(
    ("interpreted_string_literal", "raw_string_literal", "string_literal")
)  # Go "…" and `…`, Rust "…" and r#"…"#
_CONTENT = frozenset(
    ("interpreted_string_literal_content", "raw_string_literal_content", "string_content")
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "'": "'", "\\": "\\", "0": "\0", "`": "`"}
# a format verb where SQL names a table: Go's %s / %v, Rust's {} / {name}
_TABLE_VERB = re.compile(r"\b(?:from|join|into|update|table)\s+(%[sv]|\{\w*\})", re.I)
_PLACEHOLDERS = (None, "?", "python")
_CALL = re.compile(r"\w\(")
_LEADING_COMMENTS = re.compile(r"(?:\s*--[^\n]*(?:\n|$)|\s*/\*.*?\*/)+", re.S)


@cache
def _parser(suffix: str) -> Parser:
    if suffix == ".go":
        import tree_sitter_go as grammar
    else:
        import tree_sitter_rust as grammar
    return Parser(Language(grammar.language()))


def scan_embedded(
    source: Source, suffix: str, matcher: TableMatcher, models: Models | None = None
) -> Found:
    found = Found(source)
    tree = _parser(suffix).parse(source.data)
    if suffix == ".rs":
        from migverify.scan.diesel import scan_diesel
        from migverify.scan.seaorm import scan_seaorm

        scan_diesel(tree, source, found, matcher, models)
        scan_seaorm(tree, source, found, matcher, models)
    else:
        from migverify.scan.ent import scan_ent
        from migverify.scan.gobuilders import scan_go_builders
        from migverify.scan.gorm import scan_gorm

        scan_gorm(tree, source, found, matcher, models)
        scan_go_builders(tree, source, found, matcher)
        scan_ent(tree, source, found, matcher, models)
    for node in _strings(tree):
        value = _value(node, source)
        if value is None or not _statement(value.text) or _asserted(node, source):
            continue
        for verb in _TABLE_VERB.finditer(value.text):
            call = _call_around(node)
            expression = (call or node).text.decode("utf-8", errors="replace")
            found.dynamic_at(value.offset_of(verb.start(1)), " ".join(expression.split()))
        for placeholders in _PLACEHOLDERS:
            if found.sql_text(value, matcher, placeholders):
                break
        else:  # not parsed with any placeholders: what its tokens show
            found.sql_text(value, matcher, "?", analyze=analyze_tokens)
    return found


def _statement(text: str) -> bool:
    """Whether TEXT reads as a statement, after leading comments (sqlc's generated queries
    start `-- name: GetAuthor :one`), and holds SQL's syntax (or a function call: `select
    count(1) from history`) rather than prose's."""
    start = _LEADING_COMMENTS.match(text)
    return bool(SQL_START.match(text, start.end() if start else 0)) and bool(
        SQL_EVIDENCE.search(text) or _CALL.search(text)
    )


def _strings(tree: Tree) -> Iterator[Node]:
    """The string literals of TREE, a Go concatenation of literals as one (not its parts)."""
    within: list[Node] = []  # the concatenation the nodes that follow may be part of
    nodes = nodes_of(tree, (*_LITERALS, "binary_expression"))
    for node in sorted(nodes, key=lambda n: (n.start_byte, -n.end_byte)):  # outer ones first
        if within and node.start_byte < within[-1].end_byte:
            continue
        if node.type in _LITERALS:
            yield node
        elif _concatenation(node):
            within.append(node)
            yield node


def _concatenation(node: Node) -> bool:
    """A Go `"…" + "…"` (+ …) of string literals only."""
    if node.type in _LITERALS:
        return True
    if node.type != "binary_expression" or node.child_by_field_name("operator") is None:
        return False
    operator = node.child_by_field_name("operator")
    left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
    return (
        operator is not None
        and operator.type == "+"
        and left is not None
        and right is not None
        and _concatenation(left)
        and _concatenation(right)
    )


def _value(node: Node, source: Source) -> StringValue | None:
    """The characters of a literal (escapes resolved) or a concatenation of literals, each with
    the byte offset it came from."""
    chars: list[str] = []
    offsets: list[int] = []
    for literal in _literals(node):
        for child in literal.children:
            if child.type in _CONTENT:
                add_raw(source, child.start_byte, child.end_byte, chars, offsets)
            elif child.type == "escape_sequence":
                text = child.text.decode("utf-8", errors="replace")
                if text.startswith("\\\n"):  # Rust's line continuation: a space will do
                    resolved: str | None = " "
                else:
                    resolved = _ESCAPES.get(text[1:2]) if len(text) == 2 else None
                if resolved is None:  # \u00e9, \x41, …: kept as written
                    add_raw(source, child.start_byte, child.end_byte, chars, offsets)
                else:
                    chars.append(resolved)
                    offsets.append(child.start_byte)
    if not chars:
        return None
    return StringValue("".join(chars), tuple(offsets))


def _literals(node: Node) -> Iterator[Node]:
    if node.type in _LITERALS:
        yield node
        return
    for side in ("left", "right"):
        child = node.child_by_field_name(side)
        if child is not None:
            yield from _literals(child)


def _asserted(node: Node, source: Source) -> bool:
    """Is the literal an assertion's expected text (`assert_eq!("UPDATE …", debug_query(…))`,
    testify's `assert.Equal(t, "SELECT …", got)`): compared, not run?"""
    call = _call_around(node)
    if call is None:
        return False
    if call.type == "macro_invocation":
        name = call.child_by_field_name("macro")
        last = (
            name.child_by_field_name("name") if name and name.type == "scoped_identifier" else name
        )
        text = source.text(last) if last is not None else ""
        return text.startswith(("assert", "debug_assert"))
    function = call.child_by_field_name("function")
    operand = function.child_by_field_name("operand") if function is not None else None
    return operand is not None and source.text(operand) in ("assert", "require")


def _call_around(node: Node) -> Node | None:
    """The call the literal is an argument of (`fmt.Sprintf(…)`, `format!(…)`), if any."""
    parent = node.parent
    for _ in range(3):
        if parent is None:
            return None
        if parent.type in ("call_expression", "macro_invocation"):
            return parent
        parent = parent.parent
    return None
