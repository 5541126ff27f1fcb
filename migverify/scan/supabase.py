"""supabase-js and supabase-py: `.from('t')` / `.table('t')` / `.from_('t')` chains, resources
embedded in select strings, builders held in variables. `supabase.storage.from('files')` names
a storage bucket, not a table."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from tree_sitter import Node

from migverify.scan.bindings import Bindings
from migverify.scan.chains import Binding, Chain, ChainCall, Use
from migverify.scan.found import Found
from migverify.scan.source import Source, string_value
from migverify.scan.tables import TableMatcher

OPERATION_METHODS = {"select", "insert", "update", "delete", "upsert"}
FILTERS = {
    "eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "is", "in", "contains",
    "containedBy", "rangeGt", "rangeGte", "rangeLt", "rangeLte", "rangeAdjacent", "overlaps",
    "textSearch", "not", "filter", "order", "like_", "ilike_", "in_", "is_", "not_",
    "contained_by", "range_gt", "range_gte", "range_lt", "range_lte", "range_adjacent",
    "text_search",
}  # fmt: skip
_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
TABLE_METHODS = {"supabase-js": {"from"}, "supabase-py": {"table", "from_"}}
# `Array.from(x)`, `Buffer.from('…')`: JavaScript's own `from`, never a table (nor
# SQLAlchemy's `sa.table(…)`, a statement's table object).
BUILTINS = {
    "Array", "Buffer", "Object", "String", "Set", "Map", "Promise", "Uint8Array",
    "Uint16Array", "Uint32Array", "Int8Array", "Int16Array", "Int32Array", "Float32Array",
    "Float64Array", "BigInt64Array", "BigUint64Array", "Uint8ClampedArray", "Iterator",
    "Observable", "Rx", "rxjs", "Readable", "stream", "Blob", "Response",
    "sa", "sqlalchemy", "sql", "expression",  # SQLAlchemy's table('t', column(…))
}  # fmt: skip


def supabase_uses(
    chain: Chain,
    kind: str,
    source: Source,
    matcher: TableMatcher,
    bindings: Bindings,
    binding: Binding | None,
) -> list[Use]:
    uses = []
    for index, call in chain.method_calls():
        if call.method not in TABLE_METHODS[kind] or not call.args or _not_a_table(chain, index):
            continue
        calls = [c for _, c in chain.method_calls(index + 1)]
        use = _use(call.args[0], kind, calls, source, matcher, bindings)
        if use is not None:
            use.binding = binding
            uses.append(use)
    return uses


def _not_a_table(chain: Chain, index: int) -> bool:
    member = index - 1
    if member >= 1 and chain.links[member - 1].name == "storage":
        return True  # supabase.storage.from('bucket')
    return (
        member == 0
        and chain.root.type == "identifier"
        and chain.root.text is not None
        and (chain.root.text.decode() in BUILTINS)
    )


def _use(
    argument: Node,
    kind: str,
    calls: list,
    source: Source,
    matcher: TableMatcher,
    bindings: Bindings,
) -> Use | None:
    literal = string_value(argument, source)
    value = literal if literal is not None and not literal.holes else bindings.string(argument)
    if value is None:
        return Use(kind, argument.start_byte, None, calls, dynamic=argument)
    table = matcher.match_text(value.text)
    offset = value.offset_of(name_start(value.text)) if literal else argument.start_byte
    if table is None:  # still read the select string: it may embed a scanned table
        return Use(kind, offset, None, calls, parent=value.text.rpartition(".")[2].strip('"'))
    return Use(kind, offset, table, calls)


def report_supabase(use: Use, found: Found, matcher: TableMatcher) -> None:
    if use.dynamic is not None:
        if any(c.method in OPERATION_METHODS for c in use.calls):
            found.dynamic(use.dynamic)
        return
    analysis = analyze_chain(use.calls, use.kind, found.source, matcher)
    if use.table is not None:
        found.reference(use.offset, use.table, analysis.operation, analysis.columns, use.kind)
    parent = use.table if use.table is not None else use.parent
    for embedded in analysis.embedded:
        found.reference(
            embedded.offset, embedded.table, "select", embedded.columns, use.kind, parent=parent
        )


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
    """The operation (the first one called), the columns named, the embedded resources."""
    result = ChainAnalysis()
    columns: set[str] = set()
    for call in chain:
        method = call.method
        if method in OPERATION_METHODS and result.operation == "unknown":
            result.operation = method
        if method == "select":
            _select_columns(call, kind, source, matcher, columns, result)
        elif method in ("insert", "update", "upsert"):
            for arg in call.args[:1]:
                columns |= _object_keys(arg, source)
            for arg in call.args[1:]:  # supabase upsert(row, { onConflict: 'a,b' })
                columns |= _on_conflict(arg, source)
        elif method in FILTERS:
            columns |= _filter_columns(call, source)
        elif method in ("or", "or_") and call.args:
            value = string_value(call.args[0], source)
            if value is not None:
                columns |= {
                    m.group(1) for m in re.finditer(r"(?:^|,)\s*([A-Za-z_]\w*)\.", value.text)
                }
        elif method == "match" and call.args:
            columns |= _object_keys(call.args[0], source)
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
    # supabase-py: select("a", "b") joins its arguments
    for arg in call.args if kind == "supabase-py" else call.args[:1]:
        value = string_value(arg, source)
        if value is None:
            continue
        for item_columns, embedded in _postgrest_select(value.text, 0, matcher):
            columns |= item_columns
            for index, table, inner in embedded:
                result.embedded.append(Embedded(value.offset_of(index), table, inner))


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
    value = string_value(first, source)
    if value is None:
        return set()
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


def name_start(text: str) -> int:
    """Index of the bare table name in `schema.table` / `"table"` as written in a string."""
    index = text.rfind(".") + 1
    return index + (1 if text[index : index + 1] == '"' else 0)
