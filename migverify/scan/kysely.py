"""Kysely, the type-safe SQL query builder: `db.selectFrom('t')` (`select`; `.forUpdate()`…:
`lock`), `db.insertInto('t')` (`insert`; with `.onConflict(…)`: `upsert`), `db.updateTable('t')`,
`db.deleteFrom('t')`, `db.mergeInto('t')`, on any handle (a transaction's `trx` too); a table
may be written `'t as a'`, `'s.t'`, or as a list (`selectFrom(['a', 'b'])`). Joins
(`.innerJoin('u', 'u.id', 't.uid')`, `leftJoin`, …, `using`) read their tables. The columns a
chain names for its table: `select`/`returning` strings (`'a'`, `'t.a'`, `'a as b'`), the
first argument of `where`/`orderBy`/`groupBy`, the keys of `values({…})` and `set({…})`."""

from __future__ import annotations

import re

from tree_sitter import Node

from migverify.scan.chains import Chain
from migverify.scan.found import Found
from migverify.scan.orm import object_pairs
from migverify.scan.source import Source, string_value
from migverify.scan.tables import TableMatcher

STARTS = {
    "selectFrom": "select", "insertInto": "insert", "updateTable": "update",
    "deleteFrom": "delete", "mergeInto": "merge", "replaceInto": "insert",
}  # fmt: skip
JOINS = {
    "innerJoin", "leftJoin", "rightJoin", "fullJoin", "crossJoin", "innerJoinLateral",
    "leftJoinLateral", "crossJoinLateral", "using",
}  # fmt: skip
LOCKS = {"forUpdate", "forNoKeyUpdate", "forShare", "forKeyShare"}
CONFLICTS = {"onConflict", "onDuplicateKeyUpdate", "ignore"}
SELECTED = {"select", "returning", "returningAll", "distinctOn"}
FILTERED = {"where", "orWhere", "whereRef", "orderBy", "groupBy", "having"}
NAMES = frozenset(STARTS) | JOINS
_ALIAS = re.compile(r"^\s*(\S+?)(?:\s+as\s+(\S+))?\s*$", re.I)


def kysely_uses(chain: Chain, source: Source, found: Found, matcher: TableMatcher) -> bool:
    """The query CHAIN builds, if it starts with one of STARTS; True when claimed."""
    calls = chain.method_calls()
    start = next(((i, c) for i, c in calls if c.method in STARTS and c.args), None)
    if start is None:
        return False
    index, head = start
    methods = {call.method for _, call in calls}
    operation = STARTS[head.method]
    if operation == "select" and methods & LOCKS:
        operation = "lock"
    elif operation == "insert" and methods & CONFLICTS:
        operation = "upsert"
    tables = _tables(head.args[0], source)
    aliases = {alias: name for name, alias, _ in tables}
    columns = _columns(calls, index, source)
    claimed = False
    for name, alias, offset in tables:
        table = matcher.match_text(name)
        if table is None:
            continue
        own = {c for prefix, c in columns if prefix in (None, alias, name)}
        found.reference(offset, table, operation, own, "kysely")
        claimed = True
    for _, call in calls:
        if call.method in JOINS and call.args:
            for name, _, offset in _tables(call.args[0], source):
                table = matcher.match_text(name)
                if table is not None:
                    found.reference(offset, table, "select", (), "kysely")
                    claimed = True
    return claimed or bool(aliases)


def _tables(node: Node, source: Source) -> list[tuple[str, str | None, int]]:
    """(name, alias, offset) of each table a `selectFrom` argument names."""
    elements = node.named_children if node.type == "array" else [node]
    tables = []
    for element in elements:
        literal = string_value(element, source)
        if literal is None or literal.holes:
            continue
        match = _ALIAS.match(literal.text)
        if match is None:
            continue
        name, alias = match.group(1), match.group(2)
        start = literal.text.index(name)
        tables.append((name, alias, literal.offset_of(start)))
    return tables


def _columns(calls, start: int, source: Source) -> set[tuple[str | None, str]]:
    """(table or alias prefix, column) of the columns the chain's calls after START name."""
    columns: set[tuple[str | None, str]] = set()
    for index, call in calls:
        if index <= start or not call.args:
            continue
        first = call.args[0]
        if call.method in SELECTED:
            for element in first.named_children if first.type == "array" else [first]:
                columns |= _column(element, source)
        elif call.method in FILTERED:
            columns |= _column(first, source)
        elif call.method in ("values", "set"):
            rows = first.named_children if first.type == "array" else [first]
            if rows and rows[0].type == "object":
                columns |= {(None, key) for key, _, _ in object_pairs(rows[0], source)}
    return columns


def _column(node: Node, source: Source) -> set[tuple[str | None, str]]:
    literal = string_value(node, source)
    if literal is None or literal.holes:
        return set()
    match = _ALIAS.match(literal.text)
    if match is None or "*" in match.group(1):
        return set()
    prefix, _, column = match.group(1).rpartition(".")
    return {(prefix or None, column)}
