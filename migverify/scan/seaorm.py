"""SeaORM in Rust: entities declared by `#[sea_orm(table_name = "t")]`, used through their
module (`cake::Entity::find()`), a name it is imported under (`use super::cake::Entity as
Cake;`, a `prelude`), or an `ActiveModel` written (`cake::ActiveModel { … }.insert(db)`).

The entity's module is its file's (`entity/cake.rs` → `cake`, `entity/cake/mod.rs` → `cake`) or
the `mod cake { … }` around it; `schema_name = "s"` puts the table in a schema. The entity's
methods give the operation: `find`, `find_by_id`, `find_with_related`, `find_also_related`
(select), `insert`, `insert_many` (insert; an upsert with `.on_conflict(…)` after), `update`,
`update_many` (update), `delete`, `delete_by_id`, `delete_many` (delete); an `ActiveModel`'s
`insert`, `update`, `delete`, and `save` (insert or update). Its columns: the
`t::Column::Name` variants of the statement, in snake case; an `ActiveModel` given to a `let`
is written where its name calls `insert`, `update`, `delete` or `save` in that function. Not
read: `Entity` named bare in its own module's functions.
"""

from __future__ import annotations

import posixpath
import re

from tree_sitter import Node, Tree

from migverify.scan.diesel import leaves, statement_of
from migverify.scan.found import Found
from migverify.scan.orm import Declared, Models, nodes_of
from migverify.scan.source import Source
from migverify.scan.tables import TableMatcher

ENTITY_METHODS = {
    "find": ("select",), "find_by_id": ("select",), "find_with_related": ("select",),
    "find_also_related": ("select",), "insert": ("insert",), "insert_many": ("insert",),
    "update": ("update",), "update_many": ("update",), "delete": ("delete",),
    "delete_by_id": ("delete",), "delete_many": ("delete",),
}  # fmt: skip
ACTIVE_METHODS = {
    "insert": ("insert",), "update": ("update",), "delete": ("delete",),
    "save": ("insert", "update"),
}  # fmt: skip
HINTS = (b"sea_orm", b"Entity", b"ActiveModel")  # what a file using SeaORM holds
_SNAKE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def scan_seaorm(tree: Tree, source: Source, found: Found, matcher: TableMatcher,
                models: Models | None) -> None:  # fmt: skip
    """References through SeaORM in one Rust file."""
    modules: dict[str, str] = {}  # entity module → table
    names: dict[str, str] = {}  # a name an entity is imported under → its module
    if models is not None:
        for declared in models.declarations:
            if declared.orm == "sea-orm":
                if declared.bare:
                    names[declared.name] = declared.table
                else:
                    modules[declared.name] = declared.table
    data = source.data
    if not any(hint in data for hint in HINTS) and not any(n.encode() in data for n in names):
        return  # no SeaORM here
    nodes = nodes_of(tree, ("attribute_item", "use_declaration", "call_expression",
                            "scoped_identifier", "struct_expression"))  # fmt: skip
    for attribute in (n for n in nodes if n.type == "attribute_item"):
        entity = _entity(attribute, source)
        if entity is not None:
            table, at = entity
            module = _module(attribute, source)
            modules[module] = table
            if matcher.match_text(table) is not None or matcher.match_text(module) is not None:
                found.declaration(at, Declared("sea-orm", module, table, source.path), matcher)
    for use in (n for n in nodes if n.type == "use_declaration"):
        for alias, module in _entity_aliases(use, source):
            names[alias] = module
            found.record(Declared("sea-orm", alias, module, source.path, bare=True))
    if not modules and not names:
        return
    columns: dict[int, set[str]] = {}
    written: dict[tuple[int, int], dict[str, list[tuple[int, str]]]] = {}  # _written's
    for path in (n for n in nodes if n.type == "scoped_identifier"):
        parts = source.text(path).split("::")
        if len(parts) >= 3 and parts[-2] == "Column" and path.parent is not None:
            if path.parent.type != "scoped_identifier":
                statement = statement_of(path).start_byte
                columns.setdefault(statement, set()).add(_SNAKE.sub("_", parts[-1]).lower())
    for node in nodes:
        if node.type == "call_expression":
            function = node.child_by_field_name("function")
            if function is None or function.type != "scoped_identifier":
                continue
            parts = source.text(function).split("::")
            method = parts[-1]
            if method not in ENTITY_METHODS or len(parts) < 2:
                continue
            if parts[-2] == "Entity" and len(parts) >= 3:
                module = parts[-3]
            elif parts[-2] in names:
                module = names[parts[-2]]
            else:
                continue
            table = matcher.match_text(modules.get(module, module))
            if table is None:
                continue
            operations = ENTITY_METHODS[method]
            if operations == ("insert",) and _after(node, source, "on_conflict"):
                operations = ("upsert",)
            used = columns.get(statement_of(node).start_byte, set())
            for operation in operations:
                found.reference(function.start_byte, table, operation, used, "sea-orm")
        elif node.type == "struct_expression":
            name = node.child_by_field_name("name")
            parts = source.text(name).split("::") if name is not None else []
            if len(parts) < 2 or parts[-1] != "ActiveModel":
                continue
            table = matcher.match_text(modules.get(parts[-2], parts[-2]))
            if table is None:
                continue
            for method in _written(node, source, written):
                for operation in ACTIVE_METHODS[method]:
                    found.reference(node.start_byte, table, operation, (), "sea-orm")


def _entity(attribute: Node, source: Source) -> tuple[str, int] | None:
    """`#[sea_orm(table_name = "t", schema_name = "s")]`: (`s.t` or `t`, offset of t)."""
    text = source.text(attribute)
    if not text.startswith("#[sea_orm(") or "table_name" not in text:
        return None
    values: dict[str, tuple[str, int]] = {}
    tokens = list(leaves(attribute))
    for i, token in enumerate(tokens[:-2]):
        if token.type == "identifier" and tokens[i + 1].type == "=":
            literal = tokens[i + 2]
            content = [c for c in literal.children if c.type == "string_content"]
            if literal.type == "string_literal" and content:
                values[source.text(token)] = (source.text(content[0]), content[0].start_byte)
    if "table_name" not in values:
        return None
    table, at = values["table_name"]
    schema = values.get("schema_name")
    return (f"{schema[0]}.{table}" if schema else table), at


def _module(node: Node, source: Source) -> str:
    """The module NODE is in: the `mod m { … }` around it, else its file's."""
    parent = node.parent
    while parent is not None:
        if parent.type == "mod_item":
            name = parent.child_by_field_name("name")
            if name is not None:
                return source.text(name)
        parent = parent.parent
    stem, _ = posixpath.splitext(posixpath.basename(source.path))
    if stem == "mod":
        return posixpath.basename(posixpath.dirname(source.path))
    return stem


def _entity_aliases(use: Node, source: Source) -> list[tuple[str, str]]:
    """`use super::cake::Entity as Cake;` (also in a `{…}` list): [(Cake, cake)]."""
    aliases = []
    stack = [use]
    while stack:
        node = stack.pop()
        if node.type == "use_as_clause":
            path, alias = node.child_by_field_name("path"), node.child_by_field_name("alias")
            parts = source.text(path).split("::") if path is not None else []
            if alias is not None and len(parts) >= 2 and parts[-1] == "Entity":
                aliases.append((source.text(alias), parts[-2]))
            continue
        stack.extend(node.named_children)
    return aliases


def _after(call: Node, source: Source, method: str) -> bool:
    """Is METHOD called on CALL's result later in its chain?"""
    current = call
    while current.parent is not None and current.parent.type in (
        "field_expression", "call_expression", "await_expression", "try_expression",
        "generic_function",
    ):  # fmt: skip
        parent = current.parent
        if parent.type == "field_expression":
            field = parent.child_by_field_name("field")
            if field is not None and source.text(field) == method:
                return True
        current = parent
    return False


def _written(
    node: Node, source: Source, calls: dict[tuple[int, int], dict[str, list[tuple[int, str]]]]
) -> list[str]:
    """The ActiveModel methods called on NODE's value: at once (`ActiveModel { … }.insert(db)`),
    or on the name a `let` gives it, in the same function (`let new = …; new.insert(db)`).
    CALLS: each function's `name.insert(…)`-like calls, collected once."""
    method = _called_on(node, source)
    if method in ACTIVE_METHODS:
        return [method]
    parent = node.parent
    pattern = parent.child_by_field_name("pattern") if parent is not None else None
    if parent is None or parent.type != "let_declaration" or pattern is None:
        return []
    if pattern.type == "mut_pattern" and pattern.named_children:
        pattern = pattern.named_children[0]
    if pattern.type != "identifier":
        return []
    function = parent.parent
    while function is not None and function.type != "function_item":
        function = function.parent
    if function is None:
        return []
    key = (function.start_byte, function.end_byte)
    if key not in calls:
        calls[key] = {}
        stack = [function]
        while stack:
            current = stack.pop()
            if current.type == "identifier":
                called = _called_on(current, source)
                if called in ACTIVE_METHODS:
                    calls[key].setdefault(source.text(current), []).append(
                        (current.start_byte, called)
                    )
            stack.extend(current.named_children)
    later = calls[key].get(source.text(pattern), [])
    return sorted({called for at, called in later if at > node.end_byte})


def _called_on(node: Node, source: Source) -> str | None:
    """The method called on NODE's value (`ActiveModel { … }.insert(db)` → `insert`)."""
    current = node
    while current.parent is not None and current.parent.type == "parenthesized_expression":
        current = current.parent
    parent = current.parent
    if parent is None or parent.type != "field_expression":
        return None
    field = parent.child_by_field_name("field")
    return source.text(field) if field is not None else None
