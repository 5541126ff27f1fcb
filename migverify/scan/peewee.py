"""peewee: models (`class Event(Model)`, or a class of the file's or the peewee-importing
module's `…Model` bases) and their tables — `class Meta: table_name = 't'` (peewee 2's
`db_table`), `schema = 's'` (inherited), else peewee's default: the class name in lower case
with non-word characters as `_` (`UserProfile` → `userprofile`; snake_case with
`legacy_table_names = False`, inherited). Uses: `Event.select()…` (`select`; `.for_update()`:
`lock`), `get/get_or_none/get_by_id` (`select`), `get_or_create` (`select` and `insert`),
`create/insert/insert_many/insert_from/bulk_create` (`insert`; with `.on_conflict…()`:
`upsert`), `replace/replace_many` (`upsert`), `update/bulk_update/set_by_id` (`update`),
`delete/delete_by_id` (`delete`), `truncate_table`; `.join(Other)` and the models a
`select(A, B)` names read their tables. A row — a name bound in the function to
`Event.get/get_or_none/get_by_id/create(…)` or `Event(…)` (a new row) — is written by `save()`
(`update`; a new row's: `insert`) and deleted by `delete_instance()`."""

from __future__ import annotations

import re

from tree_sitter import Node, Tree

from migverify.scan.bindings import Bindings
from migverify.scan.chains import Chain
from migverify.scan.found import Found
from migverify.scan.orm import (
    Declared,
    FileModels,
    Named,
    Relation,
    class_field_calls,
    enclosing_class,
    keyword_arguments,
    meta_attribute,
    nodes_of,
    positional,
    snake_case,
)
from migverify.scan.source import Source, string_value
from migverify.scan.tables import TableMatcher

OPERATIONS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("select", "get", "get_or_none", "get_by_id"), ("select",)),
    "get_or_create": ("select", "insert"),
    **dict.fromkeys(("create", "insert", "insert_many", "insert_from", "bulk_create"), ("insert",)),
    **dict.fromkeys(("replace", "replace_many"), ("upsert",)),
    **dict.fromkeys(("update", "bulk_update", "set_by_id"), ("update",)),
    **dict.fromkeys(("delete", "delete_by_id"), ("delete",)),
    "truncate_table": ("truncate",),
}
CONFLICTS = {"on_conflict", "on_conflict_replace", "on_conflict_ignore"}
ROW_SOURCES = {"get", "get_or_none", "get_by_id", "create"}
_NON_WORD = re.compile(r"[^\w]+")


def peewee_declarations(tree: Tree, source: Source, found: Found, matcher: TableMatcher) -> None:
    if b"peewee" not in source.data and b"playhouse" not in source.data:
        return
    # class name → (legacy table names, schema): what a subclass inherits from its Meta
    known: dict[str, tuple[bool, str | None]] = {}
    for cls in nodes_of(tree, ("class_definition",)):
        name, bases = cls.child_by_field_name("name"), cls.child_by_field_name("superclasses")
        if name is None or bases is None:
            continue
        inherited = None
        for base in positional(bases.named_children):
            text = source.text(base)
            if text in known:
                inherited = known[text]
            elif text.rpartition(".")[2].endswith("Model") and inherited is None:
                inherited = (True, None)  # peewee's Model, or a base model imported
        if inherited is None:
            continue
        legacy, schema = inherited
        flag = meta_attribute(cls, "legacy_table_names", source)
        if flag is not None:
            legacy = source.text(flag) != "False"
        schema_node = meta_attribute(cls, "schema", source)
        literal = string_value(schema_node, source) if schema_node is not None else None
        if literal is not None and not literal.holes:
            schema = literal.text
        known[source.text(name)] = (legacy, schema)
        table_node = meta_attribute(cls, "table_name", source) or meta_attribute(
            cls, "db_table", source
        )
        table = string_value(table_node, source) if table_node is not None else None
        if table is not None and not table.holes:
            table_name, offset = table.text, table.offset_of(0)
        else:
            class_name = source.text(name)
            table_name = (
                _NON_WORD.sub("_", class_name.lower()) if legacy else snake_case(class_name)
            )
            offset = name.start_byte
        qualified = f"{schema}.{table_name}" if schema else table_name
        found.declaration(offset, Declared("peewee", source.text(name), qualified, source.path),
                          matcher)  # fmt: skip
        _backrefs(cls, source.text(name), source, found)


def _backrefs(cls: Node, model: str, source: Source, found: Found) -> None:
    """`user = ForeignKeyField(User, backref='messages')`: `user_row.messages` is a query of
    this model's rows (a Relation from User named `messages`)."""
    for call in class_field_calls(cls.child_by_field_name("body")):
        if source.text(call.function).rpartition(".")[2] not in FOREIGN_KEYS:
            continue
        args = positional(call.arguments.named_children)
        options = keyword_arguments(call.arguments.named_children, source)
        backref = string_value(options["backref"], source) if "backref" in options else None
        target = args[0] if args else options.get("model")
        if backref is None or backref.holes or target is None:
            continue
        owner = (
            "self" if source.text(target) == "'self'" else source.text(target).rpartition(".")[2]
        )
        owner = model if owner == "self" else owner
        found.record(Relation("peewee", Named(owner), backref.text, Named(model), source.path))


FOREIGN_KEYS = {"ForeignKeyField", "DeferredForeignKey"}


def peewee_uses(
    chain: Chain,
    source: Source,
    files: FileModels,
    bindings: Bindings,
    found: Found,
    matcher: TableMatcher,
) -> bool:
    """`Model.method(…)…` or a row's `save()`/`delete_instance()`; True when claimed."""
    links = chain.links
    if chain.root.type == "identifier" and links and links[0].name is None and links[0].args:
        # playhouse.flask_utils' get_object_or_404(Model, *where) (or an app's own helper)
        if source.text(chain.root) == "get_object_or_404":
            model = files.resolve(("peewee",), links[0].args[0], source)
            if model is not None:
                _report(model, ("select",), links[0].args[0], found, matcher)
                return True
        return False
    if chain.root.type != "identifier" or len(links) < 2:
        return False
    if links[1].name is not None:
        return _backref_read(chain, source, files, bindings, found, matcher)
    method = links[0].name or ""
    declared = files.resolve(("peewee",), chain.root, source)
    if declared is None:
        return _row(chain.root, method, source, files, bindings, found, matcher)
    if method not in OPERATIONS:
        return False
    calls = chain.method_calls()
    later = {call.method for _, call in calls}
    operations = OPERATIONS[method]
    if method == "select" and "for_update" in later:
        operations = ("lock",)
    elif "insert" in operations and later & CONFLICTS:
        operations = ("upsert",)
    _report(declared, operations, chain.root, found, matcher)
    for index, call in calls:
        if call.method == "join" or (index == 1 and method == "select"):
            arguments = call.args[:1] if call.method == "join" else call.args
            for argument in positional(arguments):
                joined = files.resolve(("peewee",), argument, source)
                if joined is not None and joined != declared:
                    _report(joined, ("select",), argument, found, matcher)
    return True


def _backref_read(chain: Chain, source: Source, files, bindings, found, matcher) -> bool:
    """`user.messages…` (a backref of a row: `self` in a model's method, or a name bound to
    `M.get…(…)` / `get_object_or_404(M, …)`): a select of the related model's table."""
    links = chain.links
    if not links or links[0].name is None:
        return False
    model = _row_model(chain.root, source, files, bindings)
    pair = files.models.relation(model, links[0].name) if model is not None else None
    if pair is None:
        return False
    node = links[0].node.child_by_field_name("attribute") or links[0].node
    _report(pair[1], ("select",), node, found, matcher)
    return True


def _row_model(identifier: Node, source: Source, files, bindings) -> Declared | None:
    if source.text(identifier) == "self":
        cls = enclosing_class(identifier)
        name = cls.child_by_field_name("name") if cls is not None else None
        return files.resolve(("peewee",), name, source) if name is not None else None
    bound = bindings.values(identifier)
    models = set()
    for binding in bound or ():
        value = binding.value
        function = value.child_by_field_name("function") if value.type == "call" else None
        arguments = value.child_by_field_name("arguments") if value.type == "call" else None
        if binding.op != "=" or function is None:
            return None
        if source.text(function) == "get_object_or_404" and arguments and arguments.named_children:
            model = files.resolve(("peewee",), arguments.named_children[0], source)
        else:
            obj = function.child_by_field_name("object") if function.type == "attribute" else None
            name = function.child_by_field_name("attribute") if obj is not None else None
            ok = name is not None and source.text(name) in ROW_SOURCES
            model = files.resolve(("peewee",), obj, source) if obj is not None and ok else None
        if model is None:
            return None
        models.add(model)
    return models.pop() if len(models) == 1 else None


def _row(identifier: Node, method: str, source, files, bindings, found, matcher) -> bool:
    if method not in ("save", "delete_instance"):
        return False
    bound = bindings.values(identifier)
    if not bound:
        return False
    rows: set[tuple[Declared, bool]] = set()
    for binding in bound:
        value = binding.value
        function = value.child_by_field_name("function") if value.type == "call" else None
        if binding.op != "=" or function is None:
            return False
        model = files.resolve(("peewee",), function, source)
        if model is not None:  # Event(…): a new row
            rows.add((model, True))
            continue
        obj = function.child_by_field_name("object") if function.type == "attribute" else None
        name = function.child_by_field_name("attribute") if obj is not None else None
        model = files.resolve(("peewee",), obj, source) if obj is not None else None
        if model is None or name is None or source.text(name) not in ROW_SOURCES:
            return False
        rows.add((model, False))
    if len(rows) != 1:
        return False
    model, new = rows.pop()
    if method == "delete_instance":
        operations: tuple[str, ...] = ("delete",)
    else:
        operations = ("insert",) if new else ("update",)
    _report(model, operations, identifier, found, matcher)
    return True


def _report(declared: Declared, operations, node: Node, found: Found, matcher) -> None:
    found.uses(node.start_byte, declared.table, operations, "peewee", matcher)
