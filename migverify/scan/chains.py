"""Query-builder chains (supabase-js, supabase-py, knex): the operation and the columns named,
and PostgREST resources embedded in select strings."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tree_sitter import Node

from migverify.scan.source import Source, string_value
from migverify.scan.tables import TableMatcher

if TYPE_CHECKING:
    from migverify.scan.found import Found

OPERATIONS = {"select": "select", "insert": "insert", "update": "update", "delete": "delete",
              "upsert": "upsert", "del": "delete", "merge": "upsert", "first": "select",
              "pluck": "select", "count": "select", "truncate": "ddl"}  # fmt: skip
FILTERS = {
    "eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "is", "in", "contains",
    "containedBy", "rangeGt", "rangeGte", "rangeLt", "rangeLte", "rangeAdjacent", "overlaps",
    "textSearch", "not", "filter", "order", "like_", "ilike_", "in_", "is_", "not_",
    "where", "whereIn", "whereNot", "whereNotIn", "whereNull", "whereNotNull", "andWhere",
    "orWhere", "orderBy", "groupBy", "avg", "sum", "min", "max", "distinct", "returning",
    "onConflict", "having", "pluck", "whereBetween",
}  # fmt: skip
_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


@dataclass(frozen=True)
class ChainCall:
    method: str
    args: tuple[Node, ...]


@dataclass
class Embedded:
    offset: int  # byte offset of the resource name in the source
    table: str
    columns: tuple[str, ...]


@dataclass
class ChainAnalysis:
    operation: str = "unknown"
    columns: tuple[str, ...] = ()
    embedded: list[Embedded] = field(default_factory=list)


def analyze_chain(
    chain: Sequence[ChainCall], kind: str, source: Source, matcher: TableMatcher
) -> ChainAnalysis:
    result = ChainAnalysis()
    columns: set[str] = set()
    for call in chain:
        method = call.method
        if method in OPERATIONS and result.operation == "unknown":
            result.operation = OPERATIONS[method]
        if method == "select":
            _select_columns(call, kind, source, matcher, columns, result)
        elif method in ("insert", "update", "upsert", "merge"):
            for arg in call.args[:1]:
                columns |= _object_keys(arg, source)
            for arg in call.args[1:]:  # supabase upsert(row, { onConflict: 'a,b' })
                columns |= _on_conflict(arg, source)
            if method == "merge" and not call.args:
                pass
        elif method in FILTERS:
            columns |= _filter_columns(call, source)
        elif method == "or" and call.args:
            value = string_value(call.args[0], source)
            if value is not None:
                columns |= {
                    m.group(1) for m in re.finditer(r"(?:^|,)\s*([A-Za-z_]\w*)\.", value.text)
                }
        elif method == "match" and call.args:
            columns |= _object_keys(call.args[0], source)
    if result.operation == "unknown" and kind == "knex":
        result.operation = "select"
    result.columns = tuple(sorted(columns))
    return result


def _select_columns(
    call: ChainCall,
    kind: str,
    source: Source,
    matcher: TableMatcher,
    columns: set[str],
    result: ChainAnalysis,
) -> None:
    for arg in call.args if kind == "knex" else call.args[:1]:
        value = string_value(arg, source)
        if value is None:
            continue
        if kind == "knex":
            columns |= _knex_column(value.text)
            continue
        for item_columns, embedded in _postgrest_select(value.text, 0, matcher):
            columns |= item_columns
            for index, table, inner in embedded:
                result.embedded.append(Embedded(value.offset_of(index), table, inner))


def _knex_column(text: str) -> set[str]:
    name = re.split(r"\s+as\s+", text.strip(), flags=re.I)[0].strip()
    name = name.rpartition(".")[2]
    return {name} if _COLUMN.fullmatch(name) else set()


def _postgrest_select(text: str, base: int, matcher: TableMatcher):
    """Top-level columns and embedded resources of a PostgREST select string.

    Yields (columns, [(index of the resource name, table, its columns)]) per item.
    """
    depth, start = 0, 0
    items = []
    for index, char in enumerate(text + ","):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            items.append((start, text[start:index]))
            start = index + 1
    for offset, raw in items:
        item = raw.strip()
        lead = offset + (len(raw) - len(raw.lstrip()))
        if not item or item == "*":
            continue
        paren = item.find("(")
        head = item if paren < 0 else item[:paren]
        if head.startswith("..."):  # spread of an embedded resource
            head, lead = head[3:], lead + 3
        alias = re.match(r"\s*[A-Za-z_]\w*\s*:(?!:)\s*", head)
        if alias:  # alias:column or alias:resource(...)
            head, lead = head[alias.end() :], lead + alias.end()
        match = re.match(r'"[^"]+"|[A-Za-z_]\w*', head)
        name = match.group(0).strip('"') if match else ""
        if match and match.group(0).startswith('"'):
            lead += 1
        if paren < 0:
            yield ({name} if _COLUMN.fullmatch(name) else set()), []
            continue
        table = matcher.match_text(name)
        inner_text = item[paren + 1 : item.rfind(")")]
        inner_base = base + offset + (len(raw) - len(raw.lstrip())) + paren + 1
        inner_columns: set[str] = set()
        nested = []
        for columns, embedded in _postgrest_select(inner_text, 0, matcher):
            inner_columns |= columns
            nested += [(inner_base + i, t, c) for i, t, c in embedded]
        found = list(nested)
        if table is not None:
            found.insert(0, (base + lead, table, tuple(sorted(inner_columns))))
        yield set(), found


def _object_keys(node: Node, source: Source) -> set[str]:
    mapped = _mapped_object(node)
    if mapped is not None:  # rows.map((r) => ({ ...r, phase: 'x' }))
        return _object_keys(mapped, source)
    if node.type in ("array", "list"):
        keys: set[str] = set()
        for child in node.named_children:
            keys |= _object_keys(child, source)
        return keys
    if node.type not in ("object", "dictionary"):
        return set()
    keys = set()
    for child in node.named_children:
        if child.type == "shorthand_property_identifier":
            keys.add(source.text(child))
        elif child.type == "pair":
            key = child.child_by_field_name("key")
            if key is None:
                continue
            value = string_value(key, source)
            keys.add(value.text if value is not None else source.text(key))
    return keys


def _on_conflict(node: Node, source: Source) -> set[str]:
    if node.type not in ("object", "dictionary"):
        return set()
    for child in node.named_children:
        if child.type == "pair":
            key = child.child_by_field_name("key")
            value = child.child_by_field_name("value")
            if (
                key is not None
                and value is not None
                and source.text(key).strip("'\"")
                in (
                    "onConflict",
                    "on_conflict",
                )
            ):
                text = string_value(value, source)
                if text is not None:
                    return {c.strip() for c in text.text.split(",") if c.strip()}
    return set()


def _filter_columns(call: ChainCall, source: Source) -> set[str]:
    if not call.args:
        return set()
    first = call.args[0]
    if first.type in ("object", "dictionary"):
        return _object_keys(first, source)
    if call.method == "returning":
        columns: set[str] = set()
        for arg in call.args:
            columns |= _object_keys(arg, source) if arg.type in ("array", "list") else set()
            value = string_value(arg, source)
            if value is not None:
                columns |= _knex_column(value.text)
        return columns
    value = string_value(first, source)
    if value is None:
        return set()
    if call.method in ("avg", "sum", "min", "max", "groupBy", "orderBy", "distinct", "pluck"):
        return _knex_column(value.text)
    name = re.split(r"->|::|\.", value.text.strip(), maxsplit=1)[0]
    return {name} if _COLUMN.fullmatch(name) else set()


def _mapped_object(node: Node) -> Node | None:
    """The object literal an arrow function passed to `.map(...)` returns, if any."""
    if node.type != "call_expression":
        return None
    function = node.child_by_field_name("function")
    arguments = node.child_by_field_name("arguments")
    if function is None or arguments is None or function.type != "member_expression":
        return None
    prop = function.child_by_field_name("property")
    if prop is None or prop.text != b"map":
        return None
    for argument in arguments.named_children:
        if argument.type == "arrow_function":
            body = argument.child_by_field_name("body")
            while body is not None and body.type == "parenthesized_expression":
                body = body.named_children[0] if body.named_children else None
            if body is not None and body.type == "object":
                return body
    return None


@dataclass(frozen=True)
class Grammar:
    """Node names of a tree-sitter grammar that a query-builder chain is made of."""

    member: str  # member_expression | attribute
    call: str  # call_expression | call
    member_name: str  # field holding the method name: property | attribute
    wrappers: tuple[str, ...]  # nodes a chain passes through: await, parentheses


OPERATION_METHODS = {"select", "insert", "update", "delete", "upsert"}


def chain_after(call: Node, source: Source, grammar: Grammar) -> Iterator[ChainCall]:
    """The method calls chained after CALL: `.select('a').eq('b', 1)` → select, eq."""
    node = call
    while True:
        parent = node.parent
        if parent is not None and parent.type in grammar.wrappers:
            node = parent
            continue
        if parent is None or parent.type != grammar.member:
            return
        grand = parent.parent
        if grand is None or grand.type != grammar.call:
            return
        name = parent.child_by_field_name(grammar.member_name)
        arguments = grand.child_by_field_name("arguments")
        args = [a for a in arguments.named_children if a.type != "comment"] if arguments else []
        yield ChainCall(source.text(name) if name else "", tuple(args))
        node = grand


def table_call(
    call: Node,
    argument: Node,
    kind: str,
    grammar: Grammar,
    found: Found,
    matcher: TableMatcher,
    constants: dict[str, str],
    report_dynamic: bool = True,
) -> None:
    """A `from(...)`/`table(...)`-style call: its reference (and embedded ones), or a dynamic
    reference when the table argument is computed and the chain performs an operation."""
    source = found.source
    chain = list(chain_after(call, source, grammar))
    value = string_value(argument, source)
    if value is not None and not value.holes:
        table = matcher.match_text(value.text)
        offset = value.offset_of(_name_start(value.text))
    elif argument.type == "identifier" and source.text(argument) in constants:
        table = matcher.match_text(constants[source.text(argument)])
        offset = argument.start_byte
    else:
        if report_dynamic and any(c.method in OPERATION_METHODS for c in chain):
            found.dynamic(argument)
        return
    if table is None:
        return
    analysis = analyze_chain(chain, kind, source, matcher)
    found.reference(offset, table, analysis.operation, analysis.columns, kind)
    for embedded in analysis.embedded:
        found.reference(
            embedded.offset, embedded.table, "select", embedded.columns, kind, parent=table
        )


def _name_start(text: str) -> int:
    """Index of the bare table name in `schema.table` / `"table"` as written in a string."""
    index = text.rfind(".") + 1
    return index + (1 if text[index : index + 1] == '"' else 0)
