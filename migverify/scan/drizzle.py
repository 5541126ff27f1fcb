"""Drizzle ORM: tables declared with `pgTable('t', …)` (or `pgSchema('s').table('t', …)`, or a
`pgTableCreator` prefix) bound to a name, then used by that name: `db.select().from(x)`,
`db.insert(x)`, `db.update(x)`, `db.delete(x)`, joins, and the relational
`db.query.x.findMany()`."""

from __future__ import annotations

from tree_sitter import Node, Tree

from migverify.scan.chains import Chain
from migverify.scan.found import Found
from migverify.scan.orm import Declared, FileModels, nodes_of
from migverify.scan.source import Source, string_value
from migverify.scan.tables import TableMatcher

TABLE_FUNCTIONS = {"pgTable"}
METHODS = {
    "from": "select", "insert": "insert", "update": "update", "delete": "delete",
    "leftJoin": "select", "rightJoin": "select", "innerJoin": "select", "fullJoin": "select",
    "crossJoin": "select", "leftJoinLateral": "select", "innerJoinLateral": "select",
    "$count": "select",
}  # fmt: skip
RELATIONAL = {"findMany": "select", "findFirst": "select"}
UPSERTS = {"onConflictDoUpdate", "onConflictDoNothing"}


def drizzle_declarations(tree: Tree, source: Source, found: Found, matcher: TableMatcher) -> None:
    """`const users = pgTable('users', {…})` and the schema / creator forms."""
    if b"Table" not in source.data and b".table(" not in source.data:
        return
    schemas: dict[str, str] = {}  # name bound to pgSchema('s') → s
    creators: dict[str, tuple[str, str]] = {}  # name bound to pgTableCreator → (prefix, suffix)
    for node in nodes_of(tree, ("variable_declarator",)):
        name, value = node.child_by_field_name("name"), node.child_by_field_name("value")
        if name is None or value is None or name.type != "identifier":
            continue
        call = _call(value)
        if call is None:
            continue
        function, args = call
        callee = source.text(function)
        first = string_value(args[0], source) if args else None
        if callee == "pgSchema" and first is not None and not first.holes:
            schemas[source.text(name)] = first.text
        elif callee == "pgTableCreator" and args:
            affixes = _creator(args[0], source)
            if affixes is not None:
                creators[source.text(name)] = affixes
        elif first is not None and not first.holes:
            schema = None
            prefix, suffix = "", ""
            if callee in TABLE_FUNCTIONS:
                pass
            elif callee.endswith(".table") and callee[: -len(".table")] in schemas:
                schema = schemas[callee[: -len(".table")]]
            elif callee in creators:
                prefix, suffix = creators[callee]
            else:
                continue
            table = f"{prefix}{first.text}{suffix}"
            qualified = f"{schema}.{table}" if schema else table
            declared = Declared("drizzle", source.text(name), qualified, source.path)
            found.declaration(first.offset_of(0), declared, matcher)


def _call(value: Node) -> tuple[Node, list[Node]] | None:
    if value.type != "call_expression":
        return None
    function, arguments = (
        value.child_by_field_name("function"),
        value.child_by_field_name("arguments"),
    )
    if function is None or arguments is None:
        return None
    return function, [a for a in arguments.named_children if a.type != "comment"]


def _creator(argument: Node, source: Source) -> tuple[str, str] | None:
    """`pgTableCreator((name) => `app_${name}`)`: the text around the name."""
    if argument.type != "arrow_function":
        return None
    body = argument.child_by_field_name("body")
    if body is None or body.type != "template_string":
        return None
    holes = [c for c in body.named_children if c.type == "template_substitution"]
    if len(holes) != 1:
        return None
    text = source.text(body)[1:-1]
    hole = source.text(holes[0])
    prefix, _, suffix = text.partition(hole)
    return prefix, suffix


def drizzle_uses(
    chain: Chain, source: Source, files: FileModels, found: Found, matcher: TableMatcher
) -> bool:
    """The tables a Drizzle query names; True when the chain is Drizzle's."""
    calls = chain.method_calls()
    claimed = _relational(chain, source, files, found, matcher)
    later = {call.method for _, call in calls}
    for _, call in calls:
        operation = METHODS.get(call.method)
        if operation is None or not call.args:
            continue
        declared = files.resolve(("drizzle",), call.args[0], source)
        if declared is None:
            continue
        claimed = True
        if operation == "insert" and later & UPSERTS:
            operation = "upsert"
        elif call.method == "from" and "for" in later:
            operation = "lock"
        table = matcher.match_text(declared.table)
        if table is not None:
            found.reference(_name_node(call.args[0]).start_byte, table, operation, (), "drizzle")
    return claimed


def _relational(
    chain: Chain, source: Source, files: FileModels, found: Found, matcher: TableMatcher
) -> bool:
    """`db.query.users.findMany()`: the key is the table's name in the schema object."""
    links = chain.links
    for index in range(len(links) - 3):
        query, model, method, call = links[index : index + 4]
        if query.name != "query" or model.name is None or method.name not in RELATIONAL:
            continue
        if call.name is not None:
            continue
        declared = next(
            (d for d in files.models.of(("drizzle",)) if d.name == model.name),
            None,
        )
        if declared is None:
            continue
        table = matcher.match_text(declared.table)
        if table is not None:
            node = model.node.child_by_field_name("property") or model.node
            found.reference(node.start_byte, table, RELATIONAL[method.name], (), "drizzle")
        return True
    return False


def _name_node(node: Node) -> Node:
    """`schema.users` → `users`: the reference points at the table object's own name."""
    if node.type == "member_expression":
        return node.child_by_field_name("property") or node
    return node
