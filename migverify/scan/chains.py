"""Query-builder chains (supabase-js, supabase-py, knex): a chain as its links
(`supabase.from('t').select('a')` → supabase .from ('t') .select ('a')), the table uses the
library modules find in it, builders held in variables, and the operation and columns a chain
names (PostgREST resources embedded in select strings too)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache

from tree_sitter import Language, Node, Query, QueryCursor, Tree

from migverify.scan.source import Source, string_value
from migverify.scan.tables import TableMatcher

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
    # knex: every argument is a column; supabase-py: select("a", "b") joins its arguments
    for arg in call.args if kind != "supabase-js" else call.args[:1]:
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
    wrappers: tuple[str, ...]  # nodes a chain passes through: await, parentheses, `x!`
    declarator: str  # variable_declarator (JS) | "" (Python)
    assignment: str  # assignment_expression | assignment
    scopes: tuple[str, ...]  # where a variable holding a builder lives: functions, the file


@dataclass(frozen=True)
class Link:
    """One step of a chain: `.name` (name set) or a call `(args)` (name None)."""

    name: str | None
    args: tuple[Node, ...]
    node: Node


@dataclass(frozen=True)
class Chain:
    """`root.a(x).b(y)`: the innermost expression and the links applied to it, in order."""

    root: Node
    links: tuple[Link, ...]
    top: Node

    def method_calls(self, start: int = 0) -> list[tuple[int, ChainCall]]:
        """(index of the call link, call) for every `.name(args)` from link START on."""
        calls = []
        for index in range(max(start, 1), len(self.links)):
            link, before = self.links[index], self.links[index - 1]
            if link.name is None and before.name is not None:
                calls.append((index, ChainCall(before.name, link.args)))
        return calls


def chains_in(tree: Tree, source: Source, grammar: Grammar) -> list[Chain]:
    """Every chain with at least one call in source order (a chain before the chains nested in
    its arguments). The calls are found by a tree-sitter query: walking every node in Python
    costs more than parsing."""
    tops: dict[int, Node] = {}
    for call in (
        QueryCursor(_call_query(tree.language, grammar.call))
        .captures(tree.root_node)
        .get("call", [])
    ):
        top = _top_of(call, grammar)
        tops.setdefault(top.id, top)
    ordered = sorted(tops.values(), key=lambda node: (node.start_byte, -node.end_byte))
    return [_chain_of(top, source, grammar) for top in ordered]


@cache
def _call_query(language: Language, call: str) -> Query:
    return Query(language, f"({call}) @call")


def _top_of(node: Node, grammar: Grammar) -> Node:
    while not _is_top(node, grammar):
        parent = node.parent
        while parent is not None and parent.type in grammar.wrappers:
            parent = parent.parent
        assert parent is not None
        node = parent
    return node


def _is_top(node: Node, grammar: Grammar) -> bool:
    child, parent = node, node.parent
    while parent is not None and parent.type in grammar.wrappers:
        child, parent = parent, parent.parent
    if parent is None:
        return True
    if parent.type == grammar.member:
        obj = parent.child_by_field_name("object")
        return obj is None or obj.id != child.id
    if parent.type == grammar.call:
        function = parent.child_by_field_name("function")
        return function is None or function.id != child.id
    return True


def _chain_of(top: Node, source: Source, grammar: Grammar) -> Chain:
    links: list[Link] = []
    node = top
    while True:
        while node.type in grammar.wrappers and node.named_children:
            node = node.named_children[0]
        if node.type == grammar.call:
            function = node.child_by_field_name("function")
            arguments = node.child_by_field_name("arguments")
            if function is None:
                break
            links.append(Link(None, _arguments(arguments), node))
            node = function
        elif node.type == grammar.member:
            obj = node.child_by_field_name("object")
            name = node.child_by_field_name(grammar.member_name)
            if obj is None or name is None:
                break
            links.append(Link(source.text(name), (), node))
            node = obj
        else:
            break
    return Chain(node, tuple(reversed(links)), top)


def _arguments(arguments: Node | None) -> tuple[Node, ...]:
    if arguments is None:
        return ()
    if arguments.type == "template_string":  # a tagged template: sql`…`
        return (arguments,)
    return tuple(a for a in arguments.named_children if a.type != "comment")


@dataclass(frozen=True)
class Binding:
    """The variable a chain's builder is stored in (`const q = supabase.from('t')`)."""

    name: str
    start: int
    scope: Node


def binding_of(chain: Chain, source: Source, grammar: Grammar) -> Binding | None:
    node, parent = chain.top, chain.top.parent
    while parent is not None and parent.type in grammar.wrappers:
        node, parent = parent, parent.parent
    if parent is None:
        return None
    if parent.type == grammar.declarator:
        name, value = parent.child_by_field_name("name"), parent.child_by_field_name("value")
    elif parent.type == grammar.assignment:
        name, value = parent.child_by_field_name("left"), parent.child_by_field_name("right")
    else:
        return None
    if name is None or value is None or value.id != node.id or name.type != "identifier":
        return None
    scope = parent.parent
    while scope is not None and scope.type not in grammar.scopes:
        scope = scope.parent
    return Binding(source.text(name), parent.start_byte, scope or parent)


@dataclass
class Use:
    """A table a chain names, before its operation is known: a builder held in a variable may
    perform it later. `calls` is shared by the uses of one chain."""

    kind: str
    offset: int
    table: str | None  # None: `dynamic` (a computed name) or `parent` (not a scanned table)
    calls: list[ChainCall]
    binding: Binding | None = None
    dynamic: Node | None = None
    parent: str | None = None  # supabase: the resource as written, for its embedded ones
    role: str = "main"  # main | join | schema
    written: str | None = None  # the bare name as written (knex: withSchema, qualifiers)
    alias: str | None = None
    columns: tuple[str, ...] = ()  # known without the calls (knex hasColumn)
    always: bool = False  # a dynamic name reported even when no operation follows
    joins: list[Use] = field(default_factory=list)  # the other tables of a knex query


def extend_by_variables(uses: Sequence[Use], chains: Iterable[Chain], source: Source) -> None:
    """Calls made later on a variable holding a builder (`q.select('*')`, `q = q.eq(…)`) belong
    to the chain that made the builder: the latest binding of that name before the call."""
    bound: dict[str, list[Use]] = {}
    for use in uses:
        if use.binding is not None:
            bound.setdefault(use.binding.name, []).append(use)
    if not bound:
        return
    for chain in chains:
        if chain.root.type != "identifier":
            continue
        at = chain.root.start_byte
        candidates = [
            (u.binding.start, u)
            for u in bound.get(source.text(chain.root), ())
            if u.binding is not None
            and u.binding.start < at
            and u.binding.scope.start_byte <= at < u.binding.scope.end_byte
        ]
        if not candidates:
            continue
        latest = max(start for start, _ in candidates)
        targets = {id(u.calls): u.calls for start, u in candidates if start == latest}
        calls = [call for _, call in chain.method_calls()]
        for target in targets.values():
            target.extend(calls)
