"""The schema APIs TypeScript/JavaScript migrations call instead of writing SQL: Sequelize's
QueryInterface (`queryInterface.createTable('users', {…})`, `addColumn('users', 'name', …)`,
`bulkInsert('users', […])`) and TypeORM's QueryRunner (`queryRunner.createTable(new Table({
name: 'users' }))`, `addColumn('users', new TableColumn({ name: 'email' }))`). Each call naming
a table is a reference with the operation it runs: DDL, or the rows it writes."""

from __future__ import annotations

from tree_sitter import Node

from migverify.scan.bindings import Bindings
from migverify.scan.chains import Chain
from migverify.scan.found import Found
from migverify.scan.orm import object_pairs, positional
from migverify.scan.source import Source, StringValue, string_value
from migverify.scan.tables import TableMatcher

# method → operation, and the positions of the arguments naming columns
SEQUELIZE = {
    "createTable": "ddl", "dropTable": "ddl", "renameTable": "ddl", "addColumn": "ddl",
    "removeColumn": "ddl", "changeColumn": "ddl", "renameColumn": "ddl", "addIndex": "ddl",
    "removeIndex": "ddl", "addConstraint": "ddl", "removeConstraint": "ddl",
    "bulkInsert": "insert", "bulkUpdate": "update", "bulkDelete": "delete",
}  # fmt: skip
TYPEORM = {
    "createTable": "ddl", "dropTable": "ddl", "renameTable": "ddl", "addColumn": "ddl",
    "addColumns": "ddl", "dropColumn": "ddl", "dropColumns": "ddl", "changeColumn": "ddl",
    "changeColumns": "ddl", "renameColumn": "ddl", "createIndex": "ddl", "createIndices": "ddl",
    "dropIndex": "ddl", "dropIndices": "ddl", "createForeignKey": "ddl",
    "createForeignKeys": "ddl", "dropForeignKey": "ddl", "dropForeignKeys": "ddl",
    "createPrimaryKey": "ddl", "updatePrimaryKeys": "ddl", "dropPrimaryKey": "ddl",
    "createUniqueConstraint": "ddl", "createUniqueConstraints": "ddl",
    "dropUniqueConstraint": "ddl", "dropUniqueConstraints": "ddl",
    "createCheckConstraint": "ddl", "createCheckConstraints": "ddl",
    "dropCheckConstraint": "ddl", "dropCheckConstraints": "ddl",
    "createExclusionConstraint": "ddl", "dropExclusionConstraint": "ddl",
    "clearTable": "truncate",
}  # fmt: skip
# knex's schema builder: a column's foreign key (`.references('users.id')`, `.references('id')
# .inTable('users')`) names the table it points to
KNEX_REFERENCES = frozenset(("references", "inTable"))
METHODS = frozenset(SEQUELIZE) | frozenset(TYPEORM) | KNEX_REFERENCES
# The receivers as both projects' documentation names them
RECEIVERS = {"queryInterface": "sequelize", "queryRunner": "typeorm"}
# Sequelize's column-renaming and -naming calls: the column is the second argument (a string)
COLUMN_ARGUMENT = {"addColumn", "removeColumn", "changeColumn", "renameColumn", "dropColumn"}


def migration_api_uses(
    chains: list[Chain], source: Source, found: Found, matcher: TableMatcher, bindings: Bindings
) -> None:
    knex = b"knex" in source.data
    for chain in chains:
        for index, link in enumerate(chain.links):
            if link.name is not None or index == 0 or not link.args:
                continue
            method = chain.links[index - 1].name
            if method not in METHODS:
                continue
            if method in KNEX_REFERENCES:
                if knex:
                    _knex_reference(method, link.args[0], source, found, matcher)
                continue
            kind = _receiver(chain, index - 1, source, bindings, method)
            if kind is None:
                continue
            operation = (SEQUELIZE if kind == "sequelize" else TYPEORM).get(method)
            if operation is None:
                continue
            args = positional([a for a in link.args if a.type != "comment"])
            tables = args[:2] if method == "renameTable" else args[:1]
            columns = _columns(method, args[1:], source) if method in COLUMN_ARGUMENT else []
            for argument in tables:
                literal = _table(argument, source, bindings)
                if literal is None:
                    continue
                matched = matcher.match_text(literal.text)
                if matched is not None:
                    found.reference(literal.offset_of(0), matched, operation, columns, kind)
            if operation == "ddl":  # a foreign key to another table: DDL that needs it too
                for literal in _referenced(link.node, source):
                    matched = matcher.match_text(literal.text)
                    if matched is not None:
                        found.reference(literal.offset_of(0), matched, "ddl", (), kind)


def _receiver(
    chain: Chain, method_index: int, source: Source, bindings: Bindings, method: str
) -> str | None:
    """Which API the call's receiver is (`queryInterface.`, `this.queryRunner.`, the first
    parameter of a migration's `up`/`down`), if it is one."""
    if method_index > 0:  # this.queryRunner.createTable(…)
        return RECEIVERS.get(chain.links[method_index - 1].name or "")
    if chain.root.type not in ("identifier", "member_expression"):
        return None
    name = source.text(chain.root).rpartition(".")[2]
    if name in RECEIVERS:
        return RECEIVERS[name]
    if chain.root.type != "identifier" or not bindings.is_parameter(chain.root):
        return None
    function = chain.root.parent
    while function is not None and function.type not in FUNCTIONS:
        function = function.parent
    named = function.child_by_field_name("name") if function is not None else None
    if named is None and function is not None and function.parent is not None:
        named = function.parent.child_by_field_name("key")  # up: async (qi) => …
    if named is None or source.text(named) not in ("up", "down"):
        return None
    if b"typeorm" in source.data and method in TYPEORM:
        return "typeorm"
    return "sequelize" if method in SEQUELIZE else None


FUNCTIONS = ("method_definition", "function_declaration", "function_expression", "arrow_function")


def _table(node: Node, source: Source, bindings: Bindings) -> StringValue | None:
    """The table an argument names: `'users'`, `{ tableName: 'users' }` (Sequelize), `new
    Table({ name: 'users' })` (TypeORM), or a constant holding one of them."""
    if node.type == "identifier":
        bound = bindings.values(node)
        if not bound or len(bound) != 1:
            return None
        node = bound[0].value
    return _named(node, source, ("tableName", "name"))


def _named(node: Node, source: Source, keys: tuple[str, ...]) -> StringValue | None:
    """The name NODE gives: a literal (without holes), or the literal at the first of KEYS in
    an object, also one given to a constructor (`new TableColumn({ name: 'email' })`)."""
    literal = string_value(node, source)
    if literal is not None:
        return literal if not literal.holes else None
    if node.type == "new_expression":
        arguments = node.child_by_field_name("arguments")
        values = positional(arguments.named_children) if arguments is not None else []
        node = values[0] if values else node
    if node.type != "object":
        return None
    pairs = {key: value for key, _, value in object_pairs(node, source)}
    key = next((key for key in keys if key in pairs), None)
    return _named(pairs[key], source, ()) if key is not None else None


def _columns(method: str, rest: list[Node], source: Source) -> list[str]:
    """The columns a column call names: `addColumn('t', 'name', …)`, `renameColumn('t', 'a',
    'b')`, TypeORM's `new TableColumn({ name: 'email' })`."""
    named = (
        _named(node, source, ("name",)) for node in rest[: 2 if method == "renameColumn" else 1]
    )
    return [literal.text for literal in named if literal is not None]


def _referenced(call: Node, source: Source) -> list[StringValue]:
    """The tables the foreign keys a call declares point to: TypeORM's `referencedTableName:
    'users'`, Sequelize's `references: { model: 'users' }` (the table's name)."""
    found = []
    stack = [call.child_by_field_name("arguments") or call]
    while stack:
        node = stack.pop()
        if node.type == "pair":
            key, value = node.child_by_field_name("key"), node.child_by_field_name("value")
            name = source.text(key).strip("'\"") if key is not None else ""
            literal = None
            if value is not None and name == "referencedTableName":
                literal = _named(value, source, ())
            elif value is not None and name == "references" and value.type == "object":
                literal = _named(value, source, ("model",))
            if literal is not None:
                found.append(literal)
        stack.extend(reversed(node.named_children))
    return found


def _knex_reference(method: str, node: Node, source: Source, found: Found, matcher) -> None:
    """`.inTable('users')`, `.references('users.id')` (a column of another table): `ddl` of
    that table, the foreign key's target."""
    literal = string_value(node, source)
    if literal is None or literal.holes:
        return
    text = literal.text
    if method == "references":
        if "." not in text:
            return  # `.references('id')`: the table comes in inTable()
        text = text.rpartition(".")[0]
    matched = matcher.match_text(text)
    if matched is not None:
        found.reference(literal.offset_of(0), matched, "ddl", (), "knex")
