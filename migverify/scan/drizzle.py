"""Drizzle ORM: tables declared with `pgTable('t', …)` (or `pgSchema('s').table('t', …)`, or a
`pgTableCreator` prefix) bound to a name, then used by that name (imported, aliased, through a
namespace or a re-export): `db.select().from(x)`, `db.insert(x)`, `db.update(x)`,
`db.delete(x)`, joins, and the relational `db.query.x.findMany()`, whose `with: { rel: true }`
reads the tables its `relations()` (or `defineRelations()`) declarations lead to."""

from __future__ import annotations

from tree_sitter import Node, Tree

from migverify.scan.chains import Chain
from migverify.scan.found import Found
from migverify.scan.orm import (
    Declared,
    FileModels,
    Imports,
    Named,
    Relation,
    keyword_arguments,
    nodes_of,
    object_pairs,
    typescript_imports,
)
from migverify.scan.source import Source, string_value
from migverify.scan.tables import TableMatcher

# PostgreSQL's, and the same API of Drizzle's MySQL and SQLite dialects (a code base's uses are
# found whatever its database: its tables are known, not dynamic)
TABLE_FUNCTIONS = {"pgTable", "mysqlTable", "sqliteTable"}
SCHEMA_FUNCTIONS = {"pgSchema", "mysqlSchema"}
CREATOR_FUNCTIONS = {"pgTableCreator", "mysqlTableCreator", "sqliteTableCreator"}
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
        if callee in SCHEMA_FUNCTIONS and first is not None and not first.holes:
            schemas[source.text(name)] = first.text
        elif callee in CREATOR_FUNCTIONS and args:
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


def drizzle_relations(tree: Tree, source: Source, found: Found) -> None:
    """`relations(posts, ({ one, many }) => ({ author: one(users, …), tags: many(tags) }))` and
    `defineRelations(schema, (r) => ({ posts: { author: r.one.users(…) } }))`: relations."""
    if b"elations(" not in source.data:
        return
    imports: Imports | None = None
    for node in nodes_of(tree, ("call_expression",)):
        call = _call(node)
        if call is None or source.text(call[0]) not in ("relations", "defineRelations"):
            continue
        function, args = call
        if len(args) < 2 or args[1].type not in ("arrow_function", "function_expression"):
            continue
        body = _returned_object(args[1])
        if body is None:
            continue
        if imports is None:
            imports = typescript_imports(
                nodes_of(tree, ("import_statement", "variable_declarator")), source
            )
        if source.text(function) == "relations":
            owner = _named(args[0], source, imports)
            if owner is not None:
                _relations_of(owner, body, source, imports, found)
        else:  # defineRelations: { table: { relation: r.one.target(…) } }, keys of the schema
            for key, value in _entries(body, source):
                if value.type == "object":
                    _relations_of(Named(key), value, source, imports, found)


def _relations_of(owner: Named, body: Node, source: Source, imports: Imports, found: Found) -> None:
    for key, value in _entries(body, source):
        call = _call(value)
        if call is None:
            continue
        function, args = call
        target = None
        if function.type == "identifier" and source.text(function) in ("one", "many") and args:
            target = _named(args[0], source, imports)  # v1: one(users, …)
        elif function.type == "member_expression":  # v2: r.one.users(…)
            inner = function.child_by_field_name("object")
            prop = function.child_by_field_name("property")
            if inner is not None and prop is not None and inner.type == "member_expression":
                kind = inner.child_by_field_name("property")
                if kind is not None and source.text(kind) in ("one", "many"):
                    target = Named(source.text(prop))
        if target is not None:
            found.record(Relation("drizzle", owner, key, target, source.path))


def _returned_object(function: Node) -> Node | None:
    """The object literal an arrow function (or a function with one `return`) returns."""
    body = function.child_by_field_name("body")
    while body is not None and body.type == "parenthesized_expression" and body.named_children:
        body = body.named_children[0]
    if body is not None and body.type == "statement_block":
        returns = [c for c in body.named_children if c.type == "return_statement"]
        body = returns[-1].named_children[0] if returns and returns[-1].named_children else None
        while body is not None and body.type == "parenthesized_expression":
            body = body.named_children[0] if body.named_children else None
    return body if body is not None and body.type == "object" else None


def _entries(node: Node, source: Source) -> list[tuple[str, Node]]:
    return [(key, value) for key, _, value in object_pairs(node, source)]


def _named(node: Node, source: Source, imports: Imports) -> Named | None:
    """A table object as this file writes it: `users` (declared here or imported), `s.users`."""
    if node.type == "identifier":
        name = source.text(node)
        if name in imports.names:
            module, original = imports.names[name]
            return Named(original, module)
        return Named(name)
    if node.type == "member_expression":
        obj, prop = node.child_by_field_name("object"), node.child_by_field_name("property")
        if obj is not None and prop is not None and obj.type == "identifier":
            module = imports.namespaces.get(source.text(obj))
            if module is not None:
                return Named(source.text(prop), module)
    return None


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
        if call.args:
            _with(declared, call.args[0], source, files, found, matcher, 0)
        return True
    return False


def _with(declared, options: Node, source, files: FileModels, found, matcher, depth: int) -> None:
    """`{ with: { posts: true, author: { with: { … } } } }`: each relation named reads the table
    it leads to (a reference at its key), and so on down."""
    if options.type != "object" or depth > 8:
        return
    related = keyword_arguments([options], source).get("with")
    if related is None or related.type != "object":
        return
    for name, offset, value in object_pairs(related, source):
        relation = files.models.relation(declared, name)
        if relation is None or value.type == "false":
            continue
        target = relation[1]
        table = matcher.match_text(target.table)
        if table is not None:
            found.reference(offset, table, "select", (), "drizzle")
        _with(target, value, source, files, found, matcher, depth + 1)


def _name_node(node: Node) -> Node:
    """`schema.users` → `users`: the reference points at the table object's own name."""
    if node.type == "member_expression":
        return node.child_by_field_name("property") or node
    return node
