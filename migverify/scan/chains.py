"""Query-builder chains (supabase-js, supabase-py, knex): a chain as its links
(`supabase.from('t').select('a')` → supabase .from ('t') .select ('a')), the table uses the
library modules (knex.py, supabase.py) find in it, and builders held in variables."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import NamedTuple

from tree_sitter import Language, Node, Query, QueryCursor, Tree

from migverify.scan.source import Source


@dataclass(frozen=True)
class ChainCall:
    """`.method(args)` in a chain."""

    method: str
    args: tuple[Node, ...]


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


class Link(NamedTuple):
    """One step of a chain: `.name` (name set) or a call `(args)` (name None). A tuple: a file
    has hundreds of links, and a frozen dataclass costs several times more to make."""

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


def chain_names(chain: Chain, source: Source) -> set[str | None]:
    """The names CHAIN is made of: its links' (None for a call) and its root identifier."""
    names: set[str | None] = {link.name for link in chain.links}
    if chain.root.type == "identifier":
        names.add(source.text(chain.root))
    return names


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


def chains_at(
    tree: Tree, source: Source, grammar: Grammar, spans: Iterable[tuple[int, int]]
) -> list[Chain]:
    """The chains (with at least one call, in `chains_in`'s order) that the names at SPANS
    ((start, end) byte ranges) are a link or the root of: `chains_in` for a file of which only
    the chains naming certain methods or variables matter. A span that is not such a name (a
    word inside a string, a longer identifier) leads to no chain or to one of the others."""
    tops: dict[int, Node] = {}
    root = tree.root_node
    member, name_field = grammar.member, grammar.member_name
    for start, end in spans:
        node = root.named_descendant_for_byte_range(start, end)
        if node is None:
            continue
        parent = node.parent
        if parent is not None and parent.type == member:
            name = parent.child_by_field_name(name_field)
            if name is not None and name.id == node.id:
                node = parent  # `.select`: the member expression is the chain's link
        top = _top_of(node, grammar)
        tops.setdefault(top.id, top)
    ordered = sorted(tops.values(), key=lambda node: (node.start_byte, -node.end_byte))
    chains = (_chain_of(top, source, grammar) for top in ordered)
    return [chain for chain in chains if any(link.name is None for link in chain.links)]


@cache
def _call_query(language: Language, call: str) -> Query:
    return Query(language, f"({call}) @call")


def _top_of(node: Node, grammar: Grammar) -> Node:
    """The outermost call or member expression NODE is the callee or object of (through
    wrappers): the chain NODE belongs to."""
    wrappers = grammar.wrappers
    while True:
        child, parent = node, node.parent
        while parent is not None and parent.type in wrappers:
            child, parent = parent, parent.parent
        if parent is None:
            return node
        kind = parent.type
        if kind == grammar.member:
            inner = parent.child_by_field_name("object")
        elif kind == grammar.call:
            inner = parent.child_by_field_name("function")
        else:
            return node
        if inner is None or inner.id != child.id:
            return node
        node = parent


def _chain_of(top: Node, source: Source, grammar: Grammar) -> Chain:
    links: list[Link] = []
    node = top
    wrappers, call, member = grammar.wrappers, grammar.call, grammar.member
    while True:
        kind = node.type
        while kind in wrappers:
            children = node.named_children
            if not children:
                break
            node = children[0]
            kind = node.type
        if kind == call:
            function = node.child_by_field_name("function")
            if function is None:
                break
            links.append(Link(None, _arguments(node.child_by_field_name("arguments")), node))
            node = function
        elif kind == member:
            obj = node.child_by_field_name("object")
            name = node.child_by_field_name(grammar.member_name)
            if obj is None or name is None:
                break
            links.append(Link(source.text(name), (), node))
            node = obj
        else:
            break
    links.reverse()
    return Chain(node, tuple(links), top)


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
