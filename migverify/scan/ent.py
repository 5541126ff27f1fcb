"""ent in Go: the generated client's builders, `client.User.Query()…`, on the entity's table.

ent generates a package per entity whose constants name its table (`Label = "user"`,
`Table = "users"`, the table an `entsql.Annotation` gives or ent's default); that file is the
declaration (a `model` reference), kept for the other files under the entity's name
(`User`: the label in Pascal case). A use is a builder the client (or a transaction, any
expression) gives for the entity: `X.User.Query()`, `Get`, `GetX` (select), `Create`,
`CreateBulk`, `MapCreateBulk` (insert; an upsert with `.OnConflict…()` after), `Update`,
`UpdateOne`, `UpdateOneID` (update), `Delete`, `DeleteOne`, `DeleteOneID` (delete). Not read:
an entity's own methods (`u.Update()`, `u.QueryPosts()`), edge tables.
"""

from __future__ import annotations

from tree_sitter import Node, Tree

from migverify.scan.found import Found
from migverify.scan.gorm import _literal
from migverify.scan.orm import Declared, Models, nodes_of
from migverify.scan.source import Source
from migverify.scan.tables import TableMatcher

METHODS = {
    "Query": "select", "Get": "select", "GetX": "select", "Create": "insert",
    "CreateBulk": "insert", "MapCreateBulk": "insert", "Update": "update",
    "UpdateOne": "update", "UpdateOneID": "update", "Delete": "delete", "DeleteOne": "delete",
    "DeleteOneID": "delete",
}  # fmt: skip


def scan_ent(tree: Tree, source: Source, found: Found, matcher: TableMatcher,
             models: Models | None) -> None:  # fmt: skip
    """References through ent's generated client in one Go file."""
    entities: dict[str, str] = {}  # entity → table
    if models is not None:
        entities = {d.name: d.table for d in models.declarations if d.orm == "ent"}
    if b"Table" in source.data and b"Label" in source.data:
        declared = _declaration(tree, source)
        if declared is not None:
            entity, table, at = declared
            entities[entity] = table
            if matcher.match_text(table) is not None:
                found.declaration(at, Declared("ent", entity, table, source.path), matcher)
    if not entities:
        return
    for call in nodes_of(tree, ("call_expression",)):
        function = call.child_by_field_name("function")
        if function is None or function.type != "selector_expression":
            continue
        method, owner = (
            function.child_by_field_name("field"),
            function.child_by_field_name("operand"),
        )
        if method is None or owner is None or owner.type != "selector_expression":
            continue
        entity = owner.child_by_field_name("field")
        name = source.text(entity) if entity is not None else ""
        operation = METHODS.get(source.text(method))
        if operation is None or name not in entities or entity is None:
            continue
        table = matcher.match_text(entities[name])
        if table is None:
            continue
        if operation == "insert" and _on_conflict(call, source):
            operation = "upsert"
        found.reference(entity.start_byte, table, operation, (), "ent")


def _declaration(tree: Tree, source: Source) -> tuple[str, str, int] | None:
    """A generated entity package's `Label = "user"` and `Table = "users"`: (User, users,
    offset of the table's name)."""
    values: dict[str, tuple[str, int]] = {}
    for spec in nodes_of(tree, ("const_spec",)):
        name, value = spec.child_by_field_name("name"), spec.child_by_field_name("value")
        if name is None or value is None or source.text(name) not in ("Label", "Table"):
            continue
        literal = _literal(value.named_children[0], source) if value.named_children else None
        if literal is not None:
            values[source.text(name)] = literal
    if "Label" not in values or "Table" not in values:
        return None
    entity = "".join(part[:1].upper() + part[1:] for part in values["Label"][0].split("_"))
    return entity, values["Table"][0], values["Table"][1]


def _on_conflict(call: Node, source: Source) -> bool:
    """Is an `OnConflict…` method called later in CALL's chain?"""
    current = call
    while current.parent is not None and current.parent.type in (
        "selector_expression", "call_expression",
    ):  # fmt: skip
        parent = current.parent
        if parent.type == "selector_expression":
            field = parent.child_by_field_name("field")
            if field is not None and source.text(field).startswith("OnConflict"):
                return True
        current = parent
    return False
