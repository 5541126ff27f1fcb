"""knex: query builders (`knex('t')`, `this.db('t')`, `db()('t')`, `trx({ a: 't' })`), tables
named inside a chain (`.from/.into/.table`, joins), the schema builder
(`x.schema.createTable('t')`), and the operation and columns the chain shows.

What makes a call a knex builder, so that an ordinary `track('users')` is not one:
- its callee is a knex handle: `knex`/`trx`/`db`, a name bound to `knex(…)`,
  `require('knex')(…)` or `….transaction()`, a parameter or field typed `Knex…`, the callback
  parameter of `….transaction(cb)`, or a `.knex`/`.trx`/`.db` property (`this.db`, `ctx.knex`);
- or its result goes straight into a knex method (`anything('t').where(…)`, `.first()`, …).
The factory imported from the `knex` package (`knex({ client: 'pg' })`) is not a builder.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache

from tree_sitter import Language, Node, Query, QueryCursor, Tree

from migverify.scan.bindings import Bindings
from migverify.scan.chains import Binding, Chain, ChainCall, Use
from migverify.scan.found import Found
from migverify.scan.source import Source, string_value
from migverify.scan.supabase import name_start
from migverify.scan.tables import TableMatcher

HANDLE_NAMES = {"knex", "trx"}  # conventional names of a knex instance / transaction
WEAK_HANDLE_NAMES = {"db"}  # a builder when called (`db('t')`), not enough to claim `db.from`
HANDLE_PROPS = {"knex", "trx", "db"}  # this.db('t'), ctx.knex('t')
NOT_BUILDERS = {"$", "jQuery", "_", "require", "import", "cy"}
HANDLE_LIKE = re.compile(r"(?i)knex|trx|db|database")
STRONG_LIKE = re.compile(r"(?i)knex|trx")
TABLE_METHODS = {"from", "into", "table"}
JOIN_METHODS = {
    "join", "innerJoin", "leftJoin", "leftOuterJoin", "rightJoin", "rightOuterJoin",
    "fullOuterJoin", "outerJoin", "crossJoin",
}  # fmt: skip
SCHEMA_METHODS = {
    "createTable", "createTableIfNotExists", "createTableLike", "alterTable", "table",
    "dropTable", "dropTableIfExists", "renameTable", "hasTable", "hasColumn",
}  # fmt: skip
# Methods only a knex query builder has (supabase's are eq/neq/order/…): a chain holding one is
# a knex chain whatever its root.
KNEX_ONLY = {
    "where", "andWhere", "orWhere", "whereNot", "andWhereNot", "orWhereNot", "whereIn",
    "whereNotIn", "orWhereIn", "orWhereNotIn", "whereNull", "whereNotNull", "orWhereNull",
    "orWhereNotNull", "whereBetween", "whereNotBetween", "whereRaw", "orWhereRaw",
    "whereExists", "whereNotExists", "whereLike", "whereILike", "whereJsonObject",
    "innerJoin", "leftJoin", "leftOuterJoin", "rightJoin", "rightOuterJoin", "fullOuterJoin",
    "outerJoin", "crossJoin", "joinRaw", "del", "first", "pluck", "returning", "onConflict",
    "orderBy", "orderByRaw", "groupBy", "groupByRaw", "increment", "decrement", "truncate",
    "having", "havingRaw", "withSchema", "forUpdate", "forShare", "forNoKeyUpdate",
    "forKeyShare", "clearSelect", "clearWhere",
    "countDistinct", "modify", "into", "offset",
}  # fmt: skip
# Methods a knex builder does not have but look-alikes do (Dexie's IndexedDB tables,
# `db.table('t').where('a').equals(1).toArray()`, MongoDB's `client.db('d').collection('c')`):
# a chain with one is not knex's.
NOT_KNEX = {"toArray", "equals", "equalsIgnoreCase", "above", "aboveOrEqual", "below",
            "belowOrEqual", "anyOf", "noneOf", "startsWith", "startsWithIgnoreCase", "put",
            "bulkPut", "bulkAdd", "bulkGet", "bulkDelete", "add", "get", "each", "sortBy",
            "primaryKeys", "onSnapshot", "doc", "collection"}  # fmt: skip
# What may follow a builder call: the knex-only methods and the shared operations.
AFTER_BUILDER = KNEX_ONLY | {"select", "insert", "update", "delete", "count", "max", "min",
                             "sum", "avg", "limit", "distinct", "columns", "column", "join"}  # fmt: skip
# Before `.from`/`.into`, a method call makes the chain knex's: supabase starts with `.from`.
BEFORE_TABLE = AFTER_BUILDER - {"into"}
LOCKS = {"forUpdate", "forNoKeyUpdate", "forShare", "forKeyShare"}  # SELECT … FOR UPDATE
WRITES = {"insert": "insert", "update": "update", "increment": "update", "decrement": "update",
          "del": "delete", "delete": "delete"}  # fmt: skip
SELECTED = {"select", "first", "pluck", "column", "columns", "returning", "distinct", "groupBy",
            "orderBy", "count", "countDistinct", "min", "max", "sum", "avg", "onConflict",
            "merge"}  # fmt: skip
FILTERS = {"where", "andWhere", "orWhere", "whereNot", "andWhereNot", "orWhereNot", "whereIn",
           "whereNotIn", "orWhereIn", "orWhereNotIn", "whereNull", "whereNotNull",
           "orWhereNull", "orWhereNotNull", "whereBetween", "whereNotBetween", "whereLike",
           "whereILike", "having"}  # fmt: skip
_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_ALIAS = re.compile(r"^\s*(\S+?)\s+as\s+(\S+)\s*$", re.I)
FUNCTIONS = {"arrow_function", "function_expression", "function"}
# Every way find_handles learns a name needs one of these in the file: the knex package or its
# types, a transaction, a `.knex` / `.trx` / `.db` property.
HANDLE_SOURCES = (b"knex", b"Knex", b"trx", b".transaction", b".db")


@dataclass
class Handles:
    """What names a knex instance in one file."""

    names: set[str] = field(default_factory=lambda: set(HANDLE_NAMES))
    factories: set[str] = field(default_factory=set)
    types: set[str] = field(default_factory=lambda: {"Knex"})
    fields: set[str] = field(default_factory=set)  # this.<field> typed Knex

    def is_handle(self, name: str, weak: bool = False) -> bool:
        if name in self.factories and name not in self.names - HANDLE_NAMES:
            return False
        return name in self.names or (weak and name in WEAK_HANDLE_NAMES)


def find_handles(tree: Tree, source: Source) -> Handles:
    """Names bound to knex instances, the factory imported from 'knex', Knex-typed names."""
    handles = Handles()
    if not any(hint in source.data for hint in HANDLE_SOURCES):
        return handles  # nothing in the file can make a handle beyond the conventional names
    kinds = ["import_statement", "variable_declarator", "required_parameter",
             "optional_parameter", "public_field_definition"]  # fmt: skip
    if b".transaction" in source.data:
        kinds.append("call_expression")
    nodes = _nodes(tree, tuple(kinds))
    for node in nodes:  # imports first: they decide what `knex(…)` means
        if node.type == "import_statement" and _imports_knex(node, source):
            _imported(node, source, handles)
        elif node.type == "variable_declarator" and _is_require_knex(
            node.child_by_field_name("value"), source
        ):
            name = node.child_by_field_name("name")
            if name is not None and name.type == "identifier":
                handles.factories.add(source.text(name))
    for node in nodes:
        if node.type == "variable_declarator":
            name, value = node.child_by_field_name("name"), node.child_by_field_name("value")
            if name is not None and value is not None and name.type == "identifier":
                if _makes_handle(value, source, handles):
                    handles.names.add(source.text(name))
        elif node.type in ("required_parameter", "optional_parameter", "public_field_definition"):
            _typed(node, source, handles)
        elif node.type == "call_expression":
            _transaction_callback(node, source, handles)
    return handles


def _nodes(tree: Tree, kinds: tuple[str, ...]) -> list[Node]:
    """Every node of one of KINDS (that the tree's grammar has), in source order."""
    captures = QueryCursor(_kinds_query(tree.language, kinds)).captures(tree.root_node)
    return sorted(captures.get("node", []), key=lambda node: node.start_byte)


@cache
def _kinds_query(language: Language, kinds: tuple[str, ...]) -> Query:
    known = [kind for kind in kinds if language.id_for_node_kind(kind, True) is not None]
    return Query(language, "[" + " ".join(f"({kind})" for kind in known) + "] @node")


def _walk(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.named_children))


def _imports_knex(node: Node, source: Source) -> bool:
    module = node.child_by_field_name("source")
    value = string_value(module, source) if module is not None else None
    return value is not None and value.text == "knex"


def _imported(node: Node, source: Source, handles: Handles) -> None:
    for child in _walk(node):
        if child.type == "import_clause":
            for item in child.named_children:
                if item.type == "identifier":  # import knex from 'knex'
                    handles.factories.add(source.text(item))
        elif child.type == "namespace_import":
            handles.factories |= {source.text(n) for n in child.named_children}
        elif child.type == "import_specifier":
            name = child.child_by_field_name("name")
            alias = child.child_by_field_name("alias") or name
            if name is None or alias is None:
                continue
            if source.text(name) == "knex":
                handles.factories.add(source.text(alias))
            else:  # import { Knex } / import type { Knex as K }
                handles.types.add(source.text(alias))


def _is_require_knex(node: Node | None, source: Source) -> bool:
    if node is None or node.type != "call_expression":
        return False
    function = node.child_by_field_name("function")
    arguments = node.child_by_field_name("arguments")
    if function is None or arguments is None or source.text(function) != "require":
        return False
    args = arguments.named_children
    value = string_value(args[0], source) if args else None
    return value is not None and value.text == "knex"


def _makes_handle(value: Node, source: Source, handles: Handles) -> bool:
    while value.type in ("await_expression", "parenthesized_expression") and value.named_children:
        value = value.named_children[0]
    if value.type == "identifier":
        return handles.is_handle(source.text(value)) and source.text(value) not in handles.factories
    if value.type == "member_expression":
        prop = value.child_by_field_name("property")
        return prop is not None and source.text(prop) in HANDLE_PROPS | handles.fields
    if value.type != "call_expression":
        return False
    function = value.child_by_field_name("function")
    if function is None:
        return False
    if _is_require_knex(function, source):  # require('knex')(config)
        return True
    if function.type == "identifier":  # knex(config) with knex the factory
        return source.text(function) in handles.factories | {"Knex"}
    if function.type == "member_expression":  # await knex.transaction()
        prop, obj = function.child_by_field_name("property"), function.child_by_field_name("object")
        return (
            prop is not None
            and obj is not None
            and source.text(prop) == "transaction"
            and _is_handle_expression(obj, source, handles)
        )
    return False


def _is_handle_expression(node: Node, source: Source, handles: Handles) -> bool:
    if node.type == "identifier":
        return handles.is_handle(source.text(node))
    if node.type == "member_expression":
        prop = node.child_by_field_name("property")
        return prop is not None and source.text(prop) in HANDLE_PROPS | handles.fields
    return False


def _typed(node: Node, source: Source, handles: Handles) -> None:
    annotation = node.child_by_field_name("type")
    if annotation is None:
        return
    text = source.text(annotation).lstrip(":? \t")
    head = re.match(r"[A-Za-z_$][\w$]*", text)
    if head is None or head.group(0) not in handles.types:
        return
    name = node.child_by_field_name("pattern") or node.child_by_field_name("name")
    if name is None:
        return
    if node.type == "public_field_definition":
        handles.fields.add(source.text(name))
        return
    if name.type == "identifier":
        handles.names.add(source.text(name))
    if any(c.type == "accessibility_modifier" for c in node.children):
        handles.fields.add(source.text(name))  # constructor(private db: Knex)


def _transaction_callback(call: Node, source: Source, handles: Handles) -> None:
    """`knex.transaction(async (trx) => …)`: the callback's first parameter is a handle."""
    function = call.child_by_field_name("function")
    arguments = call.child_by_field_name("arguments")
    if function is None or arguments is None or function.type != "member_expression":
        return
    prop, obj = function.child_by_field_name("property"), function.child_by_field_name("object")
    if prop is None or obj is None or source.text(prop) != "transaction":
        return
    if not _is_handle_expression(obj, source, handles):
        return
    for arg in arguments.named_children:
        if arg.type not in FUNCTIONS:
            continue
        params = arg.child_by_field_name("parameters") or arg.child_by_field_name("parameter")
        if params is None:
            continue
        if params.type == "identifier":
            handles.names.add(source.text(params))
            continue
        for param in params.named_children:
            pattern = param.child_by_field_name("pattern") or param
            if pattern.type == "identifier":
                handles.names.add(source.text(pattern))
            break


# --- chains --------------------------------------------------------------------------------


@dataclass
class _Query:
    """One knex chain: its calls, and what it is held in."""

    chain: Chain
    calls: list[ChainCall]
    binding: Binding | None
    uses: list[Use] = field(default_factory=list)


# Every method or property name that can make a chain knex's (a table, a join, a method only a
# builder has or one that follows a builder call, a handle property, a schema call).
CHAIN_NAMES = frozenset(
    TABLE_METHODS | JOIN_METHODS | AFTER_BUILDER | BEFORE_TABLE | KNEX_ONLY | HANDLE_PROPS
    | SCHEMA_METHODS | {"schema"}
)  # fmt: skip


def may_be_knex(chain: Chain, names: set[str | None], handles: Handles) -> bool:
    """False when `knex_uses` can only find nothing in CHAIN (NAMES: `chain_names`): it names
    no knex method or handle (CHAIN_NAMES, a handle or Knex-typed field found in the file, as a
    link or as its root), and no call is called again (`db()('t')`, whose callee is only looked
    at by HANDLE_LIKE). Cheaper than building the query, and most chains of a file
    (`useState(x)`, `api.get(url)`) are not knex's."""
    if not (
        names.isdisjoint(CHAIN_NAMES)
        and names.isdisjoint(handles.names)
        and names.isdisjoint(handles.fields)
    ):
        return True
    links = chain.links
    return any(
        links[index].name is None and links[index - 1].name is None
        for index in range(1, len(links))
    )


def knex_uses(
    chain: Chain,
    source: Source,
    matcher: TableMatcher,
    bindings: Bindings,
    handles: Handles,
    binding: Binding | None,
) -> list[Use] | None:
    """The tables a knex chain names; None when the chain is not knex's."""
    schema = _schema_uses(chain, source, matcher, bindings)
    if schema is not None:
        return schema
    if any(link.name in NOT_KNEX for link in chain.links):
        return None
    head = _head(chain, source, handles)
    methods = chain.method_calls(head[0] + 1 if head else 0)
    rooted = _rooted(chain, source, handles)
    if head is None and not rooted and not _knex_methods(chain, methods):
        return None
    skip = {index for index, call in methods if call.method in TABLE_METHODS | JOIN_METHODS}
    query = _Query(chain, [c for i, c in methods if i not in skip], binding)
    if head is not None:
        index, always = head
        args = chain.links[index].args
        if args:
            query.uses += _table_uses(args[0], "main", query, source, matcher, bindings, always)
    for _, call in methods:
        if not call.args:
            continue
        role = "join" if call.method in JOIN_METHODS else "main"
        if call.method in TABLE_METHODS or role == "join":
            query.uses += _table_uses(call.args[0], role, query, source, matcher, bindings, False)
        if role == "join":
            query.calls.append(ChainCall("on", call.args[1:]))
    schema_name = _with_schema(query.calls, source)
    if schema_name is not None:  # knex('t').withSchema('s'): the main tables are s.t
        for use in query.uses:
            if use.role == "main" and use.written is not None:
                use.table = matcher.match(schema_name, use.written)
    uses = [u for u in query.uses if u.table is not None or u.dynamic is not None]
    for use in uses:
        use.joins = [u for u in query.uses if u is not use]
    return uses


def _head(chain: Chain, source: Source, handles: Handles) -> tuple[int, bool] | None:
    """(link index, name always a table) of the builder call `knex('t')`, if the chain has one."""
    links = chain.links
    first = next((i for i, link in enumerate(links) if link.name is None), None)
    if first is None:
        return None
    members = [link.name for link in links[:first]]
    root = source.text(chain.root) if chain.root.type in ("identifier", "this") else ""
    if root in NOT_BUILDERS:
        return None
    callee = members[-1] if members else root
    if first + 1 < len(links) and links[first + 1].name is None:  # db()('t'), getKnex()('t')
        if HANDLE_LIKE.search(callee):
            return first + 1, bool(STRONG_LIKE.search(callee))
        return _followed(links, first + 1, source)
    if not members and chain.root.type == "identifier":
        if handles.is_handle(root):
            return first, True
        if handles.is_handle(root, weak=True):  # db(t): dynamic only when a knex method follows
            return first, False
        return _followed(links, first, source)
    if members and (
        members[-1] in HANDLE_PROPS - WEAK_HANDLE_NAMES
        or (chain.root.type == "this" and members[-1] in handles.fields)
    ):
        return first, True
    if members and members[-1] in WEAK_HANDLE_NAMES:  # this.db(t) vs mongo's client.db(name)
        return first, chain.root.type == "this" and len(members) == 1
    return None


def _followed(links: tuple, index: int, source: Source) -> tuple[int, bool] | None:
    """The call at INDEX is a builder when a knex method is called on its result, and either
    it is given a name written out (`pg('orders').first()`) or the file shows knex (imports it,
    names a Knex type): `locator(page).first()` (Playwright), `$(el).first()` are not."""
    follows = links[index + 1].name if index + 1 < len(links) else None
    if follows not in AFTER_BUILDER or index + 2 >= len(links) or links[index + 2].name is not None:
        return None
    args = links[index].args
    written = bool(args) and args[0].type in ("string", "template_string")
    if written or b"knex" in source.data or b"Knex" in source.data:
        return index, False
    return None


def _rooted(chain: Chain, source: Source, handles: Handles) -> bool:
    """Does the chain start at a knex instance (`knex.select(…)`, `this.knex.from(…)`)?"""
    links = chain.links
    if chain.root.type == "identifier" and links and links[0].name is not None:
        name = source.text(chain.root)
        return handles.is_handle(name) and name not in handles.factories
    if chain.root.type == "this" and len(links) >= 2 and links[0].name is not None:
        return links[1].name is not None and (
            links[0].name in HANDLE_PROPS - WEAK_HANDLE_NAMES or links[0].name in handles.fields
        )
    return False


def _knex_methods(chain: Chain, methods: list[tuple[int, ChainCall]]) -> bool:
    """A method only knex has, or a query method before the table (`qb.select().from('t')`)."""
    seen_query_method = False
    for _, call in methods:
        if call.method in KNEX_ONLY:
            return True
        if call.method in ("from", "table") and seen_query_method:
            return True
        if call.method in BEFORE_TABLE:
            seen_query_method = True
    return False


def _table_uses(
    argument: Node,
    role: str,
    query: _Query,
    source: Source,
    matcher: TableMatcher,
    bindings: Bindings,
    always: bool,
) -> list[Use]:
    def use(offset: int, text: str, alias: str | None) -> Use:
        bare = text.rpartition(".")[2].strip('"')
        return Use(
            "knex",
            offset,
            matcher.match_text(text),
            query.calls,
            binding=query.binding,
            role=role,
            written=None if "." in text else bare,
            alias=alias or bare,
        )

    if argument.type == "object":
        return _aliased(argument, role, query, source, matcher, bindings, use)
    literal = string_value(argument, source)
    if literal is not None and not literal.holes:
        text, alias, start = _split_alias(literal.text)
        return [use(literal.offset_of(start + name_start(text)), text, alias)]
    if argument.type in FUNCTIONS or argument.type == "call_expression":
        return []  # a subquery callback or builder, a raw() table
    value = bindings.string(argument)
    if value is not None:
        text, alias, _ = _split_alias(value.text)
        return [use(argument.start_byte, text, alias)]
    if bindings.holds_call(argument):
        return []
    return [
        Use(
            "knex",
            argument.start_byte,
            None,
            query.calls,
            binding=query.binding,
            dynamic=argument,
            role=role,
            always=always,
        )
    ]


def _aliased(argument, role, query, source, matcher, bindings, use) -> list[Use]:
    """`knex({ a: 'table' })`: each value names a table under its key's alias."""
    uses = []
    for pair in argument.named_children:
        if pair.type != "pair":
            continue
        key, value = pair.child_by_field_name("key"), pair.child_by_field_name("value")
        if key is None or value is None:
            continue
        literal = string_value(value, source)
        if literal is None or literal.holes:
            return []  # not an alias object (a config, a computed name)
        alias = string_value(key, source)
        uses.append(
            use(
                literal.offset_of(name_start(literal.text)),
                literal.text,
                alias.text if alias is not None else source.text(key),
            )
        )
    return uses


def _split_alias(text: str) -> tuple[str, str | None, int]:
    """`'t as a'` → ('t', 'a', 0); the index is where the name starts in TEXT."""
    match = _ALIAS.match(text)
    if match:
        return match.group(1), match.group(2), match.start(1)
    stripped = text.strip()
    return stripped, None, text.find(stripped) if stripped else 0


def _with_schema(calls: list[ChainCall], source: Source) -> str | None:
    for call in calls:
        if call.method == "withSchema" and call.args:
            value = string_value(call.args[0], source)
            if value is not None and not value.holes:
                return value.text
    return None


def _schema_uses(
    chain: Chain, source: Source, matcher: TableMatcher, bindings: Bindings
) -> list[Use] | None:
    """`x.schema.createTable('t', …)`, `x.schema.withSchema('s').dropTable('t')`, chained."""
    links = chain.links
    start = next(
        (
            i
            for i in range(len(links) - 1)
            if links[i].name == "schema" and links[i + 1].name is not None
        ),
        None,
    )
    if start is None:
        return None
    calls = chain.method_calls(start + 1)
    schema = _with_schema([c for _, c in calls], source)
    uses = []
    for _, call in calls:
        if call.method not in SCHEMA_METHODS:
            continue
        names = (
            call.args[:2] if call.method in ("renameTable", "createTableLike") else call.args[:1]
        )
        columns = ()
        if call.method == "hasColumn" and len(call.args) > 1:
            column = string_value(call.args[1], source)
            columns = (column.text,) if column is not None else ()
        for argument in names:
            literal = string_value(argument, source)
            value = (
                literal if literal is not None and not literal.holes else bindings.string(argument)
            )
            if value is None:
                uses.append(Use("knex", argument.start_byte, None, [], dynamic=argument,
                                role="schema", always=True))  # fmt: skip
                continue
            schema_name, dot, bare = value.text.rpartition(".")
            table = matcher.match(schema_name if dot else schema, bare.strip('"'))
            if table is None:
                continue
            offset = value.offset_of(name_start(value.text)) if literal else argument.start_byte
            uses.append(Use("knex", offset, table, [], role="schema", columns=columns))
    return uses


# --- operation and columns -----------------------------------------------------------------


def report_knex(use: Use, found: Found, matcher: TableMatcher) -> None:
    if use.dynamic is not None:
        if use.always or any(
            c.method in AFTER_BUILDER or c.method in ("then", "on") for c in use.calls
        ):
            found.dynamic(use.dynamic)
        return
    assert use.table is not None
    if use.role == "schema":
        found.reference(use.offset, use.table, "ddl", use.columns, "knex")
        return
    operation = "select" if use.role == "join" else _operation(use.calls)
    found.reference(use.offset, use.table, operation, _columns(use, found.source), "knex")


def _operation(calls: list[ChainCall]) -> str:
    operation = None
    upsert = False
    for call in calls:
        if call.method in WRITES and operation is None:
            operation = WRITES[call.method]
        elif call.method == "truncate" and operation is None:
            operation = "truncate"
        elif call.method in LOCKS and operation is None:
            operation = "lock"
        elif call.method == "onConflict":
            upsert = True
    if operation == "insert" and upsert:
        return "upsert"
    return operation or "select"


def _columns(use: Use, source: Source) -> list[str]:
    """Columns the chain names for USE: qualified ones by table or alias; unqualified ones only
    when the query has one table (or they are the keys of the written row)."""
    names = {use.alias, use.written} - {None}
    single = not use.joins
    columns = []
    for qualifier, column, written in _column_refs(use.calls, source):
        if qualifier is not None:
            if qualifier in names:
                columns.append(column)
        elif (single or written) and use.role == "main":
            columns.append(column)
    return columns


def _column_refs(calls: list[ChainCall], source: Source) -> Iterator[tuple[str | None, str, bool]]:
    """(qualifier, column, is a key of the written row) for each column a call names."""
    for call in calls:
        method, args = call.method, call.args
        if not args:
            continue
        if method in ("insert", "update", "merge", "increment", "decrement"):
            for key in _keys(args[0], source):
                yield None, key, True
            if method != "insert":  # update('col', v), increment('n'), merge(['a', 'b'])
                for qualifier, column, _ in _strings(
                    args if method == "merge" else args[:1], source
                ):
                    yield qualifier, column, True
        elif method in FILTERS:
            if args[0].type == "object":
                for key in _keys(args[0], source):
                    ref = _qualified(key, False)
                    if ref is not None:
                        yield ref
            else:
                yield from _strings(args[:1], source)
        elif method in SELECTED or method == "on":
            yield from _strings(args, source)


def _strings(args: tuple[Node, ...], source: Source) -> Iterator[tuple[str | None, str, bool]]:
    for arg in args:
        if arg.type == "array":
            yield from _strings(tuple(arg.named_children), source)
        elif arg.type == "object":  # select({ alias: 'column' })
            for pair in arg.named_children:
                value = pair.child_by_field_name("value") if pair.type == "pair" else None
                if value is not None:
                    yield from _strings((value,), source)
        else:
            value = string_value(arg, source)
            if value is not None and not value.holes:
                ref = _qualified(value.text, False)
                if ref is not None:
                    yield ref


def _qualified(text: str, written: bool):
    name = re.split(r"\s+as\s+", text.strip(), flags=re.I)[0].strip()
    qualifier, _, column = name.rpartition(".")
    if not _COLUMN.fullmatch(column):
        return None
    return (qualifier.rpartition(".")[2] or None), column, written


def _keys(node: Node, source: Source) -> list[str]:
    if node.type == "array":
        return [k for child in node.named_children for k in _keys(child, source)]
    if node.type != "object":
        return []
    keys = []
    for child in node.named_children:
        if child.type == "shorthand_property_identifier":
            keys.append(source.text(child))
        elif child.type == "pair":
            key = child.child_by_field_name("key")
            if key is None:
                continue
            value = string_value(key, source)
            keys.append(value.text if value is not None else source.text(key))
    return keys
