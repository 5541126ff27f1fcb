"""Objection.js: models (`class Person extends Model` — or a `…Model` base — with
`static tableName = 't'` or `static get tableName() { return 't'; }`) and their
`relationMappings` (each relation's `modelClass`, and a many-to-many's `join.through` table).

Uses: `Person.query()…` — `select` unless the chain writes: `insert/insertGraph…` (`insert`),
`patch/update/increment…` (`update`), `delete/deleteById` (`delete`), `upsertGraph` (`insert`,
`update`, `delete`); `.forUpdate()`/`.forShare()` lock. `withGraphFetched/withGraphJoined/
joinRelated('[pets, movies.actors]')` read the related tables; `insertGraph({ …, pets: […] })`
inserts into them. `Person.relatedQuery('pets')` and a row's `$relatedQuery('pets')` work on the
related table (`relate`/`unrelate`: a many-to-many's join table gets or loses the row); a row's
`$query()` on its own (a row: a name bound in the function to `await Person.query()…`)."""

from __future__ import annotations

import re

from tree_sitter import Node, Tree

from migverify.scan.bindings import Bindings
from migverify.scan.chains import Chain
from migverify.scan.found import Found
from migverify.scan.orm import Declared, FileModels, Named, Relation, nodes_of, object_pairs
from migverify.scan.source import Source, string_value
from migverify.scan.tables import TableMatcher

WRITES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        ("insert", "insertAndFetch", "insertGraph", "insertGraphAndFetch"), ("insert",)
    ),
    **dict.fromkeys(
        ("patch", "update", "patchAndFetch", "updateAndFetch", "patchAndFetchById",
         "updateAndFetchById", "increment", "decrement"),
        ("update",),
    ),
    **dict.fromkeys(("delete", "deleteById"), ("delete",)),
    **dict.fromkeys(("upsertGraph", "upsertGraphAndFetch"), ("insert", "update", "delete")),
}  # fmt: skip
LOCKS = {"forUpdate", "forShare", "forNoKeyUpdate", "forKeyShare"}
GRAPHS = {
    "withGraphFetched", "withGraphJoined", "joinRelated", "leftJoinRelated",
    "innerJoinRelated", "rightJoinRelated", "fullOuterJoinRelated", "eager", "joinEager",
}  # fmt: skip


def objection_declarations(tree: Tree, source: Source, found: Found, matcher: TableMatcher):
    if b"tableName" not in source.data or b"Model" not in source.data:
        return
    for cls in nodes_of(tree, ("class_declaration", "class")):
        name, heritage = cls.child_by_field_name("name"), _heritage(cls, source)
        body = cls.child_by_field_name("body")
        if name is None or body is None or not heritage.endswith("Model"):
            continue
        members = _static_members(body, source)
        literal = string_value(members["tableName"], source) if "tableName" in members else None
        if literal is None or literal.holes:
            continue
        owner = source.text(name)
        declared = Declared("objection", owner, literal.text, source.path)
        found.declaration(literal.offset_of(0), declared, matcher)
        mappings = members.get("relationMappings")
        if mappings is not None and mappings.type == "object":
            _relations(owner, mappings, source, found)


def _heritage(cls: Node, source: Source) -> str:
    """The last name of the class a class extends (`Model` for `objection.Model`), '' if none."""
    for child in cls.named_children:
        if child.type != "class_heritage":
            continue
        stack = list(reversed(child.named_children))
        while stack:  # JS: the expression itself; TS: inside an extends_clause
            node = stack.pop()
            if node.type in ("identifier", "member_expression"):
                return source.text(node).rpartition(".")[2]
            if node.type == "extends_clause":
                stack.extend(reversed(node.named_children))
    return ""


def _static_members(body: Node, source: Source) -> dict[str, Node]:
    """`static name = value` and `static get name() { return value; }`: name → value."""
    members: dict[str, Node] = {}
    for member in body.named_children:
        if not any(child.type == "static" for child in member.children):
            continue
        name = member.child_by_field_name("name") or member.child_by_field_name("property")
        if name is None:
            continue
        value = member.child_by_field_name("value")
        if member.type == "method_definition":
            block = member.child_by_field_name("body")
            returns = (
                [s for s in block.named_children if s.type == "return_statement"] if block else []
            )
            value = (
                returns[-1].named_children[0] if returns and returns[-1].named_children else None
            )
        if value is not None and value.type == "arrow_function":  # `= () => ({ … })`
            value = value.child_by_field_name("body")
        while (
            value is not None and value.type == "parenthesized_expression" and value.named_children
        ):
            value = value.named_children[0]
        if value is not None:
            members[source.text(name)] = value
    return members


def _relations(owner: str, mappings: Node, source: Source, found: Found) -> None:
    for key, _, value in object_pairs(mappings, source):
        if value.type != "object":
            continue
        entries = {k: v for k, _, v in object_pairs(value, source)}
        target = _model_class(entries.get("modelClass"), source)
        if target is None:
            continue
        secondary = None
        join = entries.get("join")
        through = (
            {k: v for k, _, v in object_pairs(join, source)}.get("through")
            if join is not None and join.type == "object"
            else None
        )
        if through is not None and through.type == "object":
            start = {k: v for k, _, v in object_pairs(through, source)}.get("from")
            column = string_value(start, source) if start is not None else None
            if column is not None and "." in column.text:
                secondary = Named(column.text.rpartition(".")[0], table=True)
        found.record(Relation("objection", Named(owner), key, target, source.path, secondary))


def _model_class(node: Node | None, source: Source) -> Named | None:
    """`Animal`, `require('./Animal')`, `'Animal'` / a path to its module."""
    if node is None:
        return None
    if node.type == "identifier":
        return Named(source.text(node))
    if (
        node.type == "call_expression"
        and source.text(node.child_by_field_name("function") or node) == "require"
    ):
        arguments = node.child_by_field_name("arguments")
        node = arguments.named_children[0] if arguments and arguments.named_children else node
    literal = string_value(node, source)
    if literal is None or literal.holes:
        return None
    name = literal.text.rstrip("/").rpartition("/")[2]  # a module path's last part
    for suffix in (".js", ".ts", ".cjs", ".mjs"):
        name = name.removesuffix(suffix)
    return Named(name) if name else None


def objection_uses(
    chain: Chain,
    source: Source,
    files: FileModels,
    bindings: Bindings,
    found: Found,
    matcher: TableMatcher,
) -> bool:
    """`Model.query()…`, `Model.relatedQuery('r')…`, `row.$query()…`, `row.$relatedQuery('r')…`;
    True when claimed."""
    links = chain.links
    if chain.root.type != "identifier" or len(links) < 2 or links[1].name is not None:
        return False
    start = links[0].name
    if start not in ("query", "relatedQuery", "$query", "$relatedQuery"):
        return _held_builder(chain, source, files, bindings, found, matcher)
    if start.startswith("$"):
        model = _query_model(chain.root, source, files, bindings)
    else:
        model = files.resolve(("objection",), chain.root, source)
    if model is None:
        return False
    calls = chain.method_calls(1)
    methods = {call.method for _, call in calls}
    operations = _operations(methods)
    at = chain.root
    if start in ("relatedQuery", "$relatedQuery"):
        literal = string_value(links[1].args[0], source) if links[1].args else None
        pair = files.models.relation(model, literal.text) if literal is not None else None
        if pair is None:
            return True
        relation, model = pair
        secondary = files.models.secondary(relation)
        if secondary is not None and methods & {"relate", "unrelate"}:
            # a many-to-many's relate/unrelate writes its join table only
            joined = ("insert",) if "relate" in methods else ("delete",)
            _report_table(secondary, joined, literal.offset_of(0), found, matcher)
        else:
            _report_table(model.table, operations, literal.offset_of(0), found, matcher)
            if secondary is not None:  # a many-to-many's rows come through its join table
                _report_table(secondary, ("select",), literal.offset_of(0), found, matcher)
    else:
        _report_table(model.table, operations, at.start_byte, found, matcher)
    graphs = methods & GRAPH_WRITES
    for _, call in calls:
        if call.method in GRAPHS and call.args or call.method == "allowGraph" and call.args:
            # allowGraph: the relations a graph from the request may hold (an upper bound)
            literal = string_value(call.args[0], source)
            if literal is not None and not literal.holes:
                uses = ("insert",) if call.method == "allowGraph" and graphs else ("select",)
                _graph(model, literal.text, literal.offset_of(0), files, found, matcher, uses)
        elif call.method in ("insertGraph", "insertGraphAndFetch") and call.args:
            _inserted_graph(model, call.args[0], source, files, found, matcher)
    return True


def _held_builder(chain: Chain, source: Source, files, bindings, found, matcher) -> bool:
    """`query.allowGraph(…).withGraphFetched(…)`, `query.patch(…)` on a name holding
    `Person.query()…`: what the later calls add (writes, relation expressions); the query's
    own read is reported where it is made."""
    model = _query_model(chain.root, source, files, bindings)
    if model is None:
        return False
    calls = chain.method_calls()
    methods = {call.method for _, call in calls}
    if methods & set(WRITES):
        _report_table(model.table, _operations(methods), chain.root.start_byte, found, matcher)
    graphs = methods & GRAPH_WRITES
    for _, call in calls:
        if (call.method in GRAPHS or call.method == "allowGraph") and call.args:
            literal = string_value(call.args[0], source)
            if literal is not None and not literal.holes:
                uses = ("insert",) if call.method == "allowGraph" and graphs else ("select",)
                _graph(model, literal.text, literal.offset_of(0), files, found, matcher, uses)
    return True


def _operations(methods: set[str]) -> tuple[str, ...]:
    writes = [op for method in methods if method in WRITES for op in WRITES[method]]
    if "relate" in methods or "unrelate" in methods:
        writes.append("update")
    if writes:
        return tuple(dict.fromkeys(sorted(writes, key=("insert", "update", "delete").index)))
    return ("lock",) if methods & LOCKS else ("select",)


GRAPH_WRITES = {"insertGraph", "insertGraphAndFetch", "upsertGraph", "upsertGraphAndFetch"}


def _graph(model: Declared, expression: str, offset: int, files, found, matcher,
           uses: tuple[str, ...] = ("select",)) -> None:  # fmt: skip
    """The tables a relation expression (`'[pets, movies.actors]'`, `'pets.[toys, owner]'`)
    reads from MODEL (USES: what is done to them; a graph written: inserted)."""
    for path in _paths(expression):
        current: Declared | None = model
        for name in path:
            pair = files.models.relation(current, name) if current is not None else None
            if pair is None:
                break
            current = pair[1]
            _report_table(current.table, uses, offset, found, matcher)
            secondary = files.models.secondary(pair[0])
            if secondary is not None:
                _report_table(secondary, uses, offset, found, matcher)


def _paths(expression: str) -> list[list[str]]:
    """The relation paths of a relation expression: `[a, b.[c, d]]` → a; b.c; b.d."""
    paths: list[list[str]] = []
    stack: list[list[str]] = [[]]  # the prefix at each bracket depth
    prefix: list[str] = []
    for token in re.findall(r"[A-Za-z_$][\w$]*|[\[\],.]", expression):
        if token == "[":
            stack.append(prefix)
            prefix = list(prefix)
        elif token == "]":
            prefix = stack.pop() if len(stack) > 1 else []
        elif token == ",":
            prefix = list(stack[-1])
        elif token != ".":
            prefix = [*prefix, token]
            paths.append(prefix)
    return paths


def _inserted_graph(model: Declared, node: Node, source: Source, files, found, matcher) -> None:
    """`insertGraph({ …, pets: [{…}] })`: the related rows the graph holds are inserted."""
    rows = node.named_children if node.type == "array" else [node]
    for row in rows:
        if row.type != "object":
            continue
        for key, offset, value in object_pairs(row, source):
            pair = files.models.relation(model, key)
            if pair is None:
                continue
            _report_table(pair[1].table, ("insert",), offset, found, matcher)
            secondary = files.models.secondary(pair[0])
            if secondary is not None:
                _report_table(secondary, ("insert",), offset, found, matcher)
            _inserted_graph(pair[1], value, source, files, found, matcher)


def _query_model(identifier: Node, source: Source, files, bindings: Bindings) -> Declared | None:
    """The model whose `Model.query()…` every binding of IDENTIFIER holds (a builder, or with
    `await` the rows it read)."""
    bound = bindings.values(identifier)
    if not bound or any(b.op != "=" for b in bound):
        return None
    models = set()
    for binding in bound:
        root, queried = binding.value, False
        while root.type in _WRAPPED:
            if root.type == "member_expression":
                name = root.child_by_field_name("property")
                queried = queried or (name is not None and source.text(name) == "query")
            inner = (
                root.child_by_field_name("function")
                or root.child_by_field_name("object")
                or (root.named_children[0] if root.named_children else None)
            )
            if inner is None:
                break
            root = inner
        model = files.resolve(("objection",), root, source) if root.type == "identifier" else None
        if model is None or not queried:
            return None
        models.add(model)
    return models.pop() if len(models) == 1 else None


_WRAPPED = ("call_expression", "member_expression", "await_expression", "parenthesized_expression")


def _report_table(table_name: str, operations, offset: int, found: Found, matcher) -> None:
    found.uses(offset, table_name, operations, "objection", matcher)
