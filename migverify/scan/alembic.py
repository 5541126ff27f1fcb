"""Alembic migrations: `op.create_table('t', …)`, `op.drop_table`, `op.rename_table(old, new)`,
`op.add_column/drop_column/alter_column('t', …)`, `op.create_index(name, 't', …)`,
constraints and keys, `op.batch_alter_table('t')`, `op.bulk_insert(t, rows)` (an insert into the
table object `t` names); `schema=` qualifies. `op.execute("SQL")` is parsed as SQL. And peewee's
schema migrations (playhouse.migrate): `migrator.add_column('t', 'c', field)` and the like."""

from __future__ import annotations

from tree_sitter import Node

from migverify.scan.bindings import Bindings
from migverify.scan.chains import Chain
from migverify.scan.found import Found
from migverify.scan.orm import keyword_arguments, positional
from migverify.scan.source import Source, string_value
from migverify.scan.tables import TableMatcher

# operation → (positions of table arguments, their keyword names, position of a column name)
TABLE_ARGUMENTS: dict[str, tuple[tuple[int, ...], tuple[str, ...], int | None]] = {
    "create_table": ((0,), ("table_name",), None),
    "drop_table": ((0,), ("table_name",), None),
    "rename_table": ((0, 1), ("old_table_name", "new_table_name"), None),
    "add_column": ((0,), ("table_name",), None),
    "drop_column": ((0,), ("table_name",), 1),
    "alter_column": ((0,), ("table_name",), 1),
    "create_index": ((1,), ("table_name",), None),
    "drop_index": ((1,), ("table_name",), None),
    "create_unique_constraint": ((1,), ("table_name",), None),
    "create_check_constraint": ((1,), ("table_name",), None),
    "create_primary_key": ((1,), ("table_name",), None),
    "create_exclude_constraint": ((1,), ("table_name",), None),
    "create_foreign_key": ((1, 2), ("source_table", "referent_table"), None),
    "drop_constraint": ((1,), ("table_name",), None),
    "create_table_comment": ((0,), ("table_name",), None),
    "drop_table_comment": ((0,), ("table_name",), None),
    "batch_alter_table": ((0,), ("table_name",), None),
}


def alembic_operations(
    chain: Chain, source: Source, bindings: Bindings, found: Found, matcher: TableMatcher
) -> bool:
    links = chain.links
    if chain.root.type != "identifier" or source.text(chain.root) != "op":
        return False
    if len(links) < 2 or links[1].name is not None:
        return False
    operation, args = links[0].name or "", links[1].args
    if operation == "bulk_insert" and args:
        _bulk_insert(args[0], source, bindings, found, matcher)
        return True
    if operation not in TABLE_ARGUMENTS:
        return False
    positions, keywords, column_at = TABLE_ARGUMENTS[operation]
    options = keyword_arguments(args, source)
    values = positional(args)
    schema = _text(options.get("schema"), source)
    column = None
    if column_at is not None:
        column = _text(options.get("column_name") or _at(values, column_at), source)
    if operation == "add_column" and len(values) > 1:
        column = _column_name(values[1], source)
    for position, keyword in zip(positions, keywords, strict=True):
        node = options.get(keyword) or _at(values, position)
        literal = string_value(node, source) if node is not None else None
        if literal is None or literal.holes:
            continue
        table = matcher.match(schema, literal.text.strip('"'))
        if table is not None:
            columns = (column,) if column else ()
            found.reference(literal.offset_of(0), table, "ddl", columns, "alembic")
    if operation in ("create_table", "add_column", "alter_column"):
        for literal in _foreign_keys(args, source):  # sa.ForeignKey('users.id'): DDL on users
            table = matcher.match_text(literal.text.rpartition(".")[0])
            if table is not None:
                found.reference(literal.offset_of(0), table, "ddl", (), "alembic")
    return True


def _foreign_keys(args, source: Source) -> list:
    """The `'table.column'` targets of the `ForeignKey(…)` / `ForeignKeyConstraint(…, […])` in
    ARGS (a table's columns and constraints)."""
    found = []
    stack = list(args)
    while stack:
        node = stack.pop()
        if node.type == "call":
            function = node.child_by_field_name("function")
            arguments = node.child_by_field_name("arguments")
            name = source.text(function).rpartition(".")[2] if function is not None else ""
            values = positional(arguments.named_children) if arguments is not None else []
            targets = []
            if name == "ForeignKey" and values:
                targets = [values[0]]
            elif name == "ForeignKeyConstraint" and len(values) > 1:
                targets = list(values[1].named_children)
            for target in targets:
                literal = string_value(target, source)
                if literal is not None and not literal.holes and "." in literal.text:
                    found.append(literal)
        stack.extend(node.named_children)
    return found


def _at(values: list[Node], index: int) -> Node | None:
    return values[index] if index < len(values) else None


def _text(node: Node | None, source: Source) -> str | None:
    literal = string_value(node, source) if node is not None else None
    return literal.text if literal is not None and not literal.holes else None


def _column_name(node: Node, source: Source) -> str | None:
    """`sa.Column('name', …)`: the column's name."""
    if node.type != "call":
        return None
    arguments = node.child_by_field_name("arguments")
    values = positional(arguments.named_children) if arguments is not None else []
    return _text(values[0], source) if values else None


def _bulk_insert(node: Node, source: Source, bindings: Bindings, found, matcher) -> None:
    """`op.bulk_insert(items, rows)` where `items = sa.table('t', …)` in the file."""
    if node.type != "identifier":
        return
    bound = bindings.values(node)
    if not bound or len(bound) != 1 or bound[0].value.type != "call":
        return
    arguments = bound[0].value.child_by_field_name("arguments")
    values = positional(arguments.named_children) if arguments is not None else []
    literal = string_value(values[0], source) if values else None
    if literal is None or literal.holes:
        return
    options = keyword_arguments(arguments.named_children, source) if arguments else {}
    table = matcher.match(_text(options.get("schema"), source), literal.text)
    if table is not None:
        found.reference(literal.offset_of(0), table, "insert", (), "alembic")


# playhouse.migrate's operations: (positions of table arguments, position of a column name)
PEEWEE_MIGRATOR: dict[str, tuple[tuple[int, ...], int | None]] = {
    "add_column": ((0,), 1), "drop_column": ((0,), 1), "rename_column": ((0,), 1),
    "add_not_null": ((0,), 1), "drop_not_null": ((0,), 1), "add_column_default": ((0,), 1),
    "drop_column_default": ((0,), 1), "alter_column_type": ((0,), 1),
    "rename_table": ((0, 1), None), "add_index": ((0,), None), "drop_index": ((0,), None),
    "add_constraint": ((0,), None), "drop_constraint": ((0,), None), "add_unique": ((0,), None),
}  # fmt: skip


def peewee_migrations(
    chain: Chain, source: Source, bindings: Bindings, found: Found, matcher: TableMatcher
) -> bool:
    """`migrator.add_column('t', 'c', field)` on a `migrator` (or a name bound to a
    `…Migrator(db)`, `SchemaMigrator.from_database(db)`): `ddl` of the tables it names."""
    links = chain.links
    if chain.root.type != "identifier" or len(links) < 2 or links[1].name is not None:
        return False
    operation = PEEWEE_MIGRATOR.get(links[0].name or "")
    if operation is None or not _migrator(chain.root, source, bindings):
        return False
    positions, column_at = operation
    values = positional(links[1].args)
    column = _text(_at(values, column_at), source) if column_at is not None else None
    for position in positions:
        node = _at(values, position)
        literal = string_value(node, source) if node is not None else None
        if literal is None or literal.holes:
            continue
        table = matcher.match(None, literal.text.strip('"'))
        if table is not None:
            found.reference(
                literal.offset_of(0), table, "ddl", (column,) if column else (), "peewee"
            )
    return True


def _migrator(root: Node, source: Source, bindings: Bindings) -> bool:
    if source.text(root) == "migrator":
        return True
    bound = bindings.values(root)
    if not bound or len(bound) != 1 or bound[0].value.type != "call":
        return False
    function = bound[0].value.child_by_field_name("function")
    text = source.text(function) if function is not None else ""
    return text.endswith("Migrator") or text.endswith("Migrator.from_database")


# What a lightweight table object's own methods run (`items.update()….values(…)`)
CORE_OPERATIONS = {"select": "select", "insert": "insert", "update": "update", "delete": "delete"}


def table_object_uses(
    chain: Chain, source: Source, bindings: Bindings, found: Found, matcher: TableMatcher
) -> bool:
    """`items.update().where(…).values(…)` (in `op.execute(…)`, a data migration's usual
    form) where `items = sa.table('items', sa.column('name'))` in the function: the
    statement's operation on that table, at the name."""
    links = chain.links
    if chain.root.type != "identifier" or len(links) < 2 or links[1].name is not None:
        return False
    operation = CORE_OPERATIONS.get(links[0].name or "")
    if operation is None:
        return False
    bound = bindings.values(chain.root)
    if not bound or len(bound) != 1 or bound[0].op != "=" or bound[0].value.type != "call":
        return False
    function = bound[0].value.child_by_field_name("function")
    arguments = bound[0].value.child_by_field_name("arguments")
    if function is None or arguments is None:
        return False
    if source.text(function).rpartition(".")[2] not in ("table", "Table"):
        return False
    values = positional(arguments.named_children)
    name = _text(values[0], source) if values else None
    if name is None:
        return False
    options = keyword_arguments(arguments.named_children, source)
    table = matcher.match(_text(options.get("schema"), source), name)
    if table is not None:  # peewee's Table has the same methods
        kind = "peewee" if b"peewee" in source.data else "sqlalchemy"
        found.reference(chain.root.start_byte, table, operation, (), kind)
    return True
