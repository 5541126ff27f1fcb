"""SQLAlchemy: declarative models (`__tablename__ = 't'`, `__table__ = Table('t', …)`,
`__table_args__ = {'schema': 's'}`; Flask-SQLAlchemy's `db.Model` without `__tablename__`
takes the snake_case of the class name) and Core tables (`t = Table('t', metadata, …)`), then their uses: `session.query(M)` (`.delete()`, `.update()`,
`.with_for_update()` after it), `M.query` (Flask-SQLAlchemy), `select(M)` / `select(M.a)`,
`insert(M)` (`.on_conflict_do_update(…)`: upsert), `update(M)`, `delete(M)`, `.join(M)`,
`t.select()/insert()/update()/delete()`, `session.add(M(…))`, `session.add_all([M(…)])`,
`session.get(M, …)`, `session.merge(M(…))`, bulk mappings. The model graph's declarations
(`relationship()` and its `backref`, marshmallow-sqlalchemy schemas) are recorded here; their
uses, and what the session does with instances, are sqlalchemy_graph.py's."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from tree_sitter import Node, Tree

from migverify.scan.bindings import Bindings
from migverify.scan.chains import Chain
from migverify.scan.found import Found
from migverify.scan.orm import (
    Alias,
    Declared,
    FileModels,
    Imports,
    LoginUser,
    ModelFactory,
    ModelLoader,
    ModelMutator,
    Models,
    Named,
    Relation,
    RowFunction,
    RowWriter,
    Subclass,
    block_assignments,
    class_attributes,
    class_field_calls,
    keyword_arguments,
    meta_attribute,
    module_functions,
    nodes_of,
    nodes_under,
    positional,
    python_imports,
    returned_values,
    snake_case,
)
from migverify.scan.source import Source, string_value
from migverify.scan.sqlalchemy_graph import Graph
from migverify.scan.tables import TableMatcher

TABLE_CALLS = {"Table", "sa.Table", "sqlalchemy.Table", "db.Table", "schema.Table"}
STATEMENTS = {"select": "select", "insert": "insert", "update": "update", "delete": "delete"}
QUERY_WRITES = {"delete": "delete", "update": "update"}
JOINS = {"join", "outerjoin", "join_from", "select_from", "outerjoin_from"}
# Calls whose arguments are SQL expressions: a model's column there (`Post.timestamp.desc()`,
# `Follow.follower_id == user.id`) reads its table, also in a query built elsewhere.
EXPRESSION_CALLS = {"filter", "where", "order_by", "group_by", "having", "with_entities",
                    "add_columns", "distinct", "correlate"}  # fmt: skip
SESSION: dict[str, tuple[str, ...]] = {
    "add": ("insert",),
    "add_all": ("insert",),
    "get": ("select",),
    "get_or_404": ("select",),  # Flask-SQLAlchemy's db.get_or_404(M, id)
    "merge": ("insert", "update"),
    "delete": ("delete",),
    "bulk_insert_mappings": ("insert",),
    "bulk_save_objects": ("insert", "update"),
    "bulk_update_mappings": ("update",),
}


# What a file declaring a model holds (`__mapper_args__`: a subclass of a model, sharing its
# table or joined to it)
MODEL_HINTS = (b"__tablename__", b"__table__", b"db.Model", b"table=True", b"__mapper_args__")


def sqlalchemy_declarations(
    tree: Tree, source: Source, found: Found, matcher: TableMatcher, models: Models | None = None
) -> None:
    data = source.data
    imports = _LazyImports(tree, source)
    if any(hint in data for hint in MODEL_HINTS):
        known: dict[str, Declared] = {}  # this file's models, by class name
        for cls in nodes_of(tree, ("class_definition",)):
            declared = _model_class(
                cls, source, found, matcher, Inheritance(known, imports, models)
            )
            if declared is not None:
                known[declared.name] = declared
            if declared is None:
                continue
            if b"relationship" in data:
                _relationships(cls, declared.name, source, imports, found)
            if b"method" in data:
                _factories(cls, declared, source, found)
            if b"self." in data:
                _mutators(cls, declared, source, found)
    if b"(self" in data and b"session." in data:
        _row_writers(tree, source, found)
    if b"return" in data and any(hint in data for hint in ROW_FUNCTION_HINTS):
        _row_functions(tree, source, imports, found)
    if any(base in data for base in SCHEMA_BASES):
        _schemas(tree, source, imports, found)
    if b"ModelForm" in data:
        _model_forms(tree, source, imports, found)
    if b"ModelSerializer" in data:
        _model_serializers(tree, source, imports, found)
    if b"user_loader" in data or b"user_lookup_loader" in data:
        _login_users(tree, source, imports, found)
    if b"able(" in data:
        for node in nodes_of(tree, ("assignment",)):
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            if left is None or right is None or left.type != "identifier":
                continue
            table = _table_call(right, source)
            if table is not None and not _in_class_body(node):
                name, schema = table
                qualified = f"{schema}.{name.text}" if schema else name.text
                declared = Declared("sqlalchemy", source.text(left), qualified, source.path)
                found.declaration(name.offset_of(0), declared, matcher)


def _in_class_body(node: Node) -> bool:
    parent = node.parent
    while parent is not None and parent.type in ("expression_statement", "block"):
        if parent.type == "block" and parent.parent is not None:
            return parent.parent.type == "class_definition"
        parent = parent.parent
    return False


def _table_call(node: Node, source: Source):
    """(name literal, schema) of `Table('t', metadata, …, schema='s')` / `table('t', …)`."""
    if node.type != "call":
        return None
    function, arguments = (
        node.child_by_field_name("function"),
        node.child_by_field_name("arguments"),
    )
    if function is None or arguments is None:
        return None
    callee = source.text(function)
    if callee not in TABLE_CALLS:  # `table('t', column(…))` is a statement's, not a model
        return None
    args = arguments.named_children
    values = positional(args)
    name = string_value(values[0], source) if values else None
    if name is None or name.holes:
        return None
    options = keyword_arguments(args, source)
    schema = string_value(options["schema"], source) if "schema" in options else None
    return name, schema.text if schema is not None else None


@dataclass
class Inheritance:
    """What a model class may inherit from: the file's models so far (KNOWN), the imported
    ones (through IMPORTS), and with MODELS (the second pass) every model of the scan."""

    known: dict[str, Declared]
    imports: _LazyImports
    models: Models | None

    def bases(self, cls: Node, source: Source) -> list[tuple[Named, Declared | None]]:
        """CLS's bases that may be models, as its file writes them, each with the model
        it is when that is known."""
        bases = cls.child_by_field_name("superclasses")
        found = []
        for base in positional(bases.named_children) if bases is not None else ():
            if base.type not in ("identifier", "attribute") or source.text(base) in NOT_MODELS:
                continue
            named = self.imports.named(base)
            if named is None:
                continue
            model = self.known.get(named.name) if named.module is None else None
            if model is None and self.models is not None:
                model = self.models.locate(("sqlalchemy",), named, source.path)
            found.append((named, model))
        return found


# A file of Flask-SQLAlchemy models (its `db.Column` too: a subclass of a model imported)
FLASK_HINTS = (b"flask_sqlalchemy", b"db.Model", b"db.Column")
# Bases no SQLAlchemy model inherits a table from
NOT_MODELS = frozenset(("db.Model", "Base", "DeclarativeBase", "object", "SQLModel", "Model"))


def _model_class(
    cls: Node, source: Source, found: Found, matcher: TableMatcher, inheritance: Inheritance
) -> Declared | None:
    """Declare the model class CLS maps, if it does: with a table of its own, or a subclass
    of a model without one (single-table inheritance: `class Admin(User)` with only
    `__mapper_args__`), in its parent's table. A subclass with its own table (joined
    inheritance) is recorded with its parent (Subclass)."""
    name, body = cls.child_by_field_name("name"), cls.child_by_field_name("body")
    if name is None or body is None:
        return None
    attributes = dict(class_attributes(body, source))
    if "__abstract__" in attributes:
        return None
    class_name = source.text(name)
    peewee = b"peewee" in source.data or b"playhouse" in source.data
    bases = inheritance.bases(cls, source) if not peewee else []
    if (
        not bases
        or "__tablename__" in attributes
        or "__table__" in attributes
        or _flask_model(cls, source)
        or _sqlmodel_table(cls, source)
    ):
        declared = _own_table(cls, attributes, source, found, matcher)
    else:  # a subclass of a model (when a base is one) without a table of its own
        own_key = any(
            "primary_key=True" in source.text(v).replace(" ", "") for v in attributes.values()
        )
        # Flask-SQLAlchemy names a subclass with its own primary key (joined inheritance);
        # otherwise single-table inheritance: the parent's table
        flask = own_key and any(hint in source.data for hint in FLASK_HINTS)
        table = snake_case(class_name) if flask else None
        if own_key and not flask:
            return None  # a table SQLAlchemy's declarative needs named
        parent = next((model for _, model in bases if model is not None), None)
        if parent is None:
            if inheritance.models is None:  # the scan's models resolve it
                for named, _ in bases:
                    sub = Subclass("sqlalchemy", class_name, named, source.path, table, True)
                    found.record(sub)
            return None
        declared = Declared("sqlalchemy", class_name, table or parent.table, source.path)
        found.declaration(name.start_byte, declared, matcher)
        if table is None:
            return declared
    if declared is not None:
        for named, _ in bases:
            found.record(Subclass("sqlalchemy", class_name, named, source.path, declared.table))
    return declared


def _own_table(
    cls: Node, attributes: dict[str, Node], source: Source, found: Found, matcher: TableMatcher
) -> Declared | None:
    """The model CLS declaring its own table (`__tablename__`, `__table__`, Flask-SQLAlchemy's
    `db.Model` and SQLModel's `table=True` naming one), if it does."""
    name = cls.child_by_field_name("name")
    assert name is not None
    schema = _schema(attributes.get("__table_args__"), source)
    literal = None
    if "__tablename__" in attributes:
        literal = string_value(attributes["__tablename__"], source)
    elif "__table__" in attributes:
        table = _table_call(attributes["__table__"], source)
        if table is not None:
            literal, schema = table[0], table[1] or schema
    if literal is not None and not literal.holes:
        table_name, offset = literal.text, literal.offset_of(0)
    elif literal is None and _flask_model(cls, source):
        table_name, offset = snake_case(source.text(name)), name.start_byte
    elif literal is None and _sqlmodel_table(cls, source):
        table_name, offset = source.text(name).lower(), name.start_byte
    else:
        return None
    qualified = f"{schema}.{table_name}" if schema else table_name
    declared = Declared("sqlalchemy", source.text(name), qualified, source.path)
    found.declaration(offset, declared, matcher)
    return declared


def _factories(cls: Node, declared: Declared, source: Source, found: Found) -> None:
    """The static and class methods of the model class CLS that return a new instance of it:
    `return cls(…)` (`cls`: the class method's first parameter), `return Post(…)`, or a name
    bound to one in the method."""
    body = cls.child_by_field_name("body")
    for statement in body.named_children if body is not None else ():
        function = statement.child_by_field_name("definition")
        if statement.type != "decorated_definition" or function is None:
            continue
        decorators = {
            source.text(d).lstrip("@").strip()
            for d in statement.named_children
            if d.type == "decorator"
        }
        constructors = {declared.name}
        if "classmethod" in decorators:
            parameters = function.child_by_field_name("parameters")
            first = (
                parameters.named_children[0] if parameters and parameters.named_children else None
            )
            if first is not None and first.type == "identifier":
                constructors.add(source.text(first))
        elif "staticmethod" not in decorators:
            continue
        name = function.child_by_field_name("name")
        if name is None:
            continue
        if _returns_new(function, constructors, source):
            found.declarations.append(ModelFactory(source.text(name), declared))
        elif _returns_row(function, constructors, source):
            found.declarations.append(ModelLoader(source.text(name), declared))


# What a module's data-access functions hold (`db.query(User)`, `session.exec(select(User))`)
ROW_FUNCTION_HINTS = (b"query(", b".query.", b"select(", b"session.get(", b"get_or_404(")
# The calls ending a query with one row
ROW_TERMINALS = {"first", "one", "one_or_none", "get", "get_or_404", "first_or_404",
                 "one_or_404", "scalar_one", "scalar_one_or_none", "scalar"}  # fmt: skip


def _row_functions(tree: Tree, source: Source, imports: _LazyImports, found: Found) -> None:
    """A module's functions (not methods) whose returns all give a row of one model they read
    (`return db.query(User).filter(…).first()`, or a name bound to one): RowFunction."""
    for name, functions in module_functions(tree).items():
        body = functions[0].child_by_field_name("body") if len(functions) == 1 else None
        if body is None:
            continue
        bound: dict[str, list[Node]] = {}  # every value each name gets in the function
        for assignment in nodes_under(body, ("assignment",)):
            left, right = (
                assignment.child_by_field_name("left"),
                assignment.child_by_field_name("right"),
            )
            if left is not None and right is not None and left.type == "identifier":
                bound.setdefault(source.text(left), []).append(right)
        models: set[str] = set()
        nodes: list[Node] = []
        for returned in returned_values(functions[0]):
            values = bound.get(source.text(returned), []) if returned.type == "identifier" else [
                returned
            ]  # fmt: skip
            read = [_row_read_model(value, source) for value in values]
            if not read or any(model is None for model in read):
                models.add("")  # a return of anything else
                break
            for model in read:
                assert model is not None
                models.add(source.text(model))
                nodes.append(model)
        if len(models) == 1 and "" not in models:
            target = imports.named(nodes[0])
            if target is not None:
                found.record(RowFunction(name, target, source.path))


def _row_read_model(value: Node, source: Source) -> Node | None:
    """The model whose row VALUE reads: `db.query(User)….first()`, `session.get(User, id)`,
    `session.exec(select(User)…).first()`, `User.query….one()`, `db.get_or_404(User, id)`."""
    if value.type != "call":
        return None
    callee = value.child_by_field_name("function")
    if callee is None or source.text(callee).rpartition(".")[2] not in ROW_TERMINALS:
        return None
    for call in [value, *nodes_under(value, ("call",))]:
        function = call.child_by_field_name("function")
        arguments = call.child_by_field_name("arguments")
        first = arguments.named_children[0] if arguments and arguments.named_children else None
        if function is None or first is None or first.type != "identifier":
            continue
        method = source.text(function).rpartition(".")[2]
        if method in ("select", "query"):
            return first
        if method in ("get", "get_or_404") and source.text(function).rpartition(".")[0] in (
            "session", "db.session", "self.session", "db"
        ):  # fmt: skip
            return first
    text = source.text(value)
    if ".query." in text:  # User.query.filter_by(…).first()
        root = callee
        while root is not None and root.type in ("attribute", "call"):
            root = root.child_by_field_name("object") or root.child_by_field_name("function")
        return root if root is not None and root.type == "identifier" else None
    return None


def _row_writers(tree: Tree, source: Source, found: Found) -> None:
    """The methods of any class of the file (a model, or a mixin its models share: a
    cookiecutter-flask `CRUDMixin`) running the session on their own row (RowWriter)."""
    for cls in nodes_of(tree, ("class_definition",)):
        body = cls.child_by_field_name("body")
        methods = [
            f for f in (body.named_children if body is not None else ())
            if f.type == "function_definition"
        ]  # fmt: skip
        writers: dict[str, str] = {}
        for function in methods:
            name, block = function.child_by_field_name("name"), function.child_by_field_name("body")
            if name is None or block is None:
                continue
            for call in nodes_under(block, ("call",)):
                callee = call.child_by_field_name("function")
                arguments = call.child_by_field_name("arguments")
                args = positional(arguments.named_children) if arguments is not None else []
                if callee is None or not args or source.text(args[0]) != "self":
                    continue
                method = source.text(callee)
                if method.endswith(("session.add", "session.merge")):
                    writers[source.text(name)] = "save"
                elif method.endswith("session.delete"):
                    writers[source.text(name)] = "delete"
        for function in methods:  # setattr(self, …) then self.save(): an update
            name, block = function.child_by_field_name("name"), function.child_by_field_name("body")
            if name is None or block is None or source.text(name) in writers:
                continue
            text = source.data[block.start_byte : block.end_byte]
            sets = b"setattr(self" in text or re.search(rb"\bself\.\w+\s*=[^=]", text)
            saves = any(b"self." + w.encode() + b"(" in text for w, op in writers.items()
                        if op == "save")  # fmt: skip
            if sets and saves:
                writers[source.text(name)] = "update"
        for name, operation in writers.items():
            found.declarations.append(RowWriter(name, operation, source.path))


def _mutators(cls: Node, declared: Declared, source: Source, found: Found) -> None:
    """The methods of the model class CLS that set attributes of their row (`self.x = …`,
    not `self._x`; `setattr(self, field, value)`) without running the session themselves
    (those report their own writes)."""
    body = cls.child_by_field_name("body")
    for function in body.named_children if body is not None else ():
        if function.type != "function_definition":
            continue  # decorated ones (properties, static and class methods) are not
        name = function.child_by_field_name("name")
        block = function.child_by_field_name("body")
        if name is None or block is None or source.text(name).startswith("__"):
            continue
        text = source.data[block.start_byte : block.end_byte]
        if b"self." not in text or b"session." in text:
            continue
        columns: list[str] = []
        mutates = False
        for call in nodes_under(block, ("call",)):  # setattr(self, field, value)
            callee = call.child_by_field_name("function")
            arguments = call.child_by_field_name("arguments")
            args = arguments.named_children if arguments is not None else []
            if callee is not None and source.text(callee) == "setattr" and len(args) >= 2:
                if source.text(args[0]) == "self":
                    mutates = True
                    literal = string_value(args[1], source)
                    if literal is not None and not literal.holes:
                        columns.append(literal.text)
        for assignment in nodes_under(block, ("assignment", "augmented_assignment")):
            left = assignment.child_by_field_name("left")
            obj = (
                left.child_by_field_name("object")
                if left is not None and left.type == "attribute"
                else None
            )
            attribute = left.child_by_field_name("attribute") if obj is not None else None
            if obj is not None and attribute is not None and source.text(obj) == "self":
                if not source.text(attribute).startswith("_"):
                    columns.append(source.text(attribute))
        if columns or mutates:
            found.declarations.append(
                ModelMutator(source.text(name), declared, tuple(dict.fromkeys(columns)))
            )


def _returns_row(function: Node, constructors: set[str], source: Source) -> bool:
    """Does FUNCTION return a row of CONSTRUCTORS read from the database: `session.get(C, …)`,
    `db.get_or_404(C, …)`, `C.query….first()/get()/one()…`?"""
    for node in nodes_under(
        function.child_by_field_name("body") or function, ("return_statement",)
    ):
        value = node.named_children[0] if node.named_children else None
        if value is None or value.type != "call":
            continue
        callee = value.child_by_field_name("function")
        last = source.text(callee).rpartition(".")[2] if callee is not None else ""
        arguments = value.child_by_field_name("arguments")
        first = arguments.named_children[0] if arguments and arguments.named_children else None
        if last in ("get", "get_or_404", "one_or_404", "first_or_404") and first is not None:
            if source.text(first) in constructors:
                return True
        root = callee
        while root is not None and root.type in ("attribute", "call"):
            root = root.child_by_field_name("object") or root.child_by_field_name("function")
        text = source.text(callee) if callee is not None else ""
        if root is not None and source.text(root) in constructors and ".query." in text:
            if last in ("get", "first", "one", "one_or_none", "get_or_404", "first_or_404"):
                return True
    return False


def _returns_new(function: Node, constructors: set[str], source: Source) -> bool:
    """Does FUNCTION return a call of one of CONSTRUCTORS, or a name bound to one?"""

    def constructed(node: Node | None) -> bool:
        callee = (
            node.child_by_field_name("function")
            if node is not None and node.type == "call"
            else None
        )
        return (
            callee is not None
            and callee.type == "identifier"
            and source.text(callee) in constructors
        )

    bound: set[str] = set()
    returned: list[Node] = []
    body = function.child_by_field_name("body") or function
    for node in nodes_under(body, ("assignment", "return_statement")):
        if node.type == "assignment":
            left = node.child_by_field_name("left")
            if (
                left is not None
                and left.type == "identifier"
                and constructed(node.child_by_field_name("right"))
            ):
                bound.add(source.text(left))
        elif node.named_children:
            returned.append(node.named_children[0])
    return any(
        constructed(value) or value.type == "identifier" and source.text(value) in bound
        for value in returned
    )


# --- the model graph: relationship() and the schemas loading a model ---------------------------

# `relationship(…)` under any module name (`db.`, `orm.`, `so.` for `import sqlalchemy.orm as
# so`, `sa.orm.`); the old `relation(…)` only under the usual ones.
RELATIONSHIP = {"relation", "db.relation", "orm.relation"}
BACKREF = {"backref"}


def _is_call_of(text: str, name: str, also: Collection[str] = ()) -> bool:
    """Is TEXT (a callee as written) NAME, or NAME under a module (`so.NAME`, `sa.orm.NAME`)?"""
    return (
        text in also
        or text.rpartition(".")[2] == name
        and all(part.isidentifier() for part in text.split("."))
    )


# Type names around the related class in an annotation: `Mapped[List["Child"]]`
WRAPPING_TYPES = {
    "Mapped", "WriteOnlyMapped", "DynamicMapped", "List", "list", "Set", "set", "Optional",
    "Sequence", "Collection", "Iterable", "typing", "None", "Dict", "dict", "str", "int",
}  # fmt: skip
# Base classes of marshmallow-sqlalchemy (and flask-marshmallow) schemas tied to a model
SCHEMA_BASES = (b"AlchemyAutoSchema", b"AlchemySchema", b"ModelSchema")


class _LazyImports:
    """The file's imports, parsed the first time they are needed."""

    def __init__(self, tree: Tree, source: Source) -> None:
        self.tree, self.source = tree, source
        self._imports: Imports | None = None

    def named(self, node: Node) -> Named | None:
        """A class as this file writes it: `Child` (declared here, imported), `"Child"` (the
        registry's name), `lambda: Child`, `models.Child`."""
        if node.type == "lambda":
            node = node.child_by_field_name("body") or node
        literal = string_value(node, self.source)
        if literal is not None:
            return None if literal.holes else Named(literal.text.rpartition(".")[2])
        if self._imports is None:
            self._imports = python_imports(self.tree, self.source)
        if node.type == "identifier":
            name = self.source.text(node)
            if name in self._imports.names:
                module, original = self._imports.names[name]
                return Named(original, module)
            return Named(name)
        if node.type == "attribute":
            obj, attribute = (
                node.child_by_field_name("object"),
                node.child_by_field_name("attribute"),
            )
            if obj is not None and attribute is not None and obj.type == "identifier":
                module = self._imports.namespaces.get(self.source.text(obj))
                if module is not None:
                    return Named(self.source.text(attribute), module)
        return None


def _relationships(
    cls: Node, owner: str, source: Source, imports: _LazyImports, found: Found
) -> None:
    """`children = relationship("Child", backref="parent", secondary=assoc)` and the annotated
    form `children: Mapped[list["Child"]] = relationship(back_populates="parent")`."""
    for call in class_field_calls(cls.child_by_field_name("body")):
        if not _is_call_of(source.text(call.function), "relationship", RELATIONSHIP):
            continue
        assignment, left = call.assignment, call.name
        args = call.arguments.named_children
        values = positional(args)
        options = keyword_arguments(args, source)
        target = imports.named(values[0]) if values else None
        if target is None and not values:
            target = _annotated_class(assignment.child_by_field_name("type"), source, imports)
        if target is None:
            continue
        secondary = None
        if "secondary" in options:
            literal = string_value(options["secondary"], source)
            if literal is not None and not literal.holes:
                secondary = Named(literal.text, table=True)
            else:
                secondary = imports.named(options["secondary"])
        here = Named(owner)
        name = source.text(left)
        cascade = string_value(options["cascade"], source) if "cascade" in options else None
        deletes = cascade is not None and bool({"all", "delete"} & _words(cascade.text))
        found.record(
            Relation(
                "sqlalchemy", here, name, target, source.path, secondary, cascade_delete=deletes
            )  # fmt: skip
        )
        backref = _backref(options.get("backref"), source)
        if backref is not None:  # the other side's attribute, leading back here
            found.record(Relation("sqlalchemy", target, backref, here, source.path, secondary))


def _words(text: str) -> set[str]:
    """`"all, delete-orphan"` → {"all", "delete-orphan"}."""
    return {word.strip() for word in text.split(",")}


def _annotated_class(annotation: Node | None, source: Source, imports: _LazyImports):
    """The class an annotation names inside `Mapped[…]`, `List[…]`, `Optional[…]`."""
    if annotation is None:
        return None
    candidates: list[Node] = []
    stack = [annotation]
    while stack:
        node = stack.pop()
        if node.type == "string":
            text = string_value(node, source)
            words = re.findall(r"[A-Za-z_][\w.]*", text.text if text is not None else "")
            names = [
                w.rpartition(".")[2] for w in words if w.rpartition(".")[2] not in WRAPPING_TYPES
            ]
            return Named(names[-1]) if names else None
        if node.type == "identifier" and source.text(node) not in WRAPPING_TYPES:
            candidates.append(node)
        stack.extend(reversed(node.named_children))
    return imports.named(candidates[-1]) if candidates else None


def _backref(node: Node | None, source: Source) -> str | None:
    """`backref="parent"` or `backref=backref("parent", …)`: the other side's attribute."""
    if node is None:
        return None
    if node.type == "call":
        function, arguments = (
            node.child_by_field_name("function"),
            node.child_by_field_name("arguments"),
        )
        if (
            function is None
            or arguments is None
            or not _is_call_of(source.text(function), "backref", BACKREF)
        ):
            return None
        values = positional(arguments.named_children)
        node = values[0] if values else node
    literal = string_value(node, source)
    return literal.text if literal is not None and not literal.holes else None


def _schemas(tree: Tree, source: Source, imports: _LazyImports, found: Found) -> None:
    """marshmallow-sqlalchemy: `class TagSchema(SQLAlchemyAutoSchema): class Meta: model = Tag`
    (also through a base schema of the file) and the module-level instances of such a class
    (`tag_schema = TagSchema()`): what their `load()` returns is an instance of the model."""
    schemas = _meta_model_classes(
        tree, source, imports, found, "schema",
        lambda base: any(b.decode() in base for b in SCHEMA_BASES),
    )  # fmt: skip
    for _, left, right in block_assignments(tree.root_node):
        if right.type != "call":
            continue
        function = right.child_by_field_name("function")
        target = imports.named(function) if function is not None else None
        if target is not None and target.module is None and target.name in schemas:
            found.record(Alias("schema", source.text(left), target, source.path))


# Flask-Login's `@login.user_loader`, Flask-JWT-Extended's `@jwt.user_lookup_loader` (and its
# 3.x `user_loader_callback_loader`)
USER_LOADERS = ("user_loader", "user_lookup_loader", "user_loader_callback_loader")


def _login_users(tree: Tree, source: Source, imports: _LazyImports, found: Found) -> None:
    """`@login.user_loader def load_user(id): return db.session.get(User, int(id))` (or
    `User.query.get(…)`, `db.session.scalar(select(User)…)`): Flask-Login's `current_user`
    (and Flask-JWT-Extended's, through `@jwt.user_lookup_loader`)."""
    for function in nodes_of(tree, ("function_definition",)):
        decorated = function.parent
        if decorated is None or decorated.type != "decorated_definition":
            continue
        if not any(
            d.type == "decorator" and source.text(d).rstrip("()").endswith(USER_LOADERS)
            for d in decorated.named_children
        ):
            continue
        body = function.child_by_field_name("body")
        returns = [s for s in body.named_children if s.type == "return_statement"] if body else []
        value = returns[-1].named_children[0] if returns and returns[-1].named_children else None
        model = _returned_model(value, source) if value is not None else None
        target = imports.named(model) if model is not None else None
        if target is not None:
            found.record(LoginUser(target, source.path))


def _returned_model(value: Node, source: Source) -> Node | None:
    """The model class a row-returning expression names: `session.get(User, id)`'s or
    `select(User)`'s first argument, else the leftmost name (`User.query.get(id)`)."""
    while value.type in ("call", "attribute"):
        if value.type == "call":
            arguments = value.child_by_field_name("arguments")
            callee = value.child_by_field_name("function")
            first = arguments.named_children[0] if arguments and arguments.named_children else None
            name = source.text(callee).rpartition(".")[2] if callee is not None else ""
            if name in ("get", "select", "get_or_404") and first is not None:
                if first.type == "identifier":
                    return first
            if callee is None:
                return None
            value = callee
        else:
            inner = value.child_by_field_name("object")
            if inner is None:
                return None
            value = inner
    return value if value.type == "identifier" else None


def _model_forms(tree: Tree, source: Source, imports: _LazyImports, found: Found) -> None:
    """Django: `class HeroForm(forms.ModelForm): class Meta: model = Hero` (also through a
    ModelForm of the file): an instance's `save()` writes the model's table."""
    _meta_model_classes(tree, source, imports, found, "form", lambda b: b.endswith("ModelForm"))


def _model_serializers(tree: Tree, source: Source, imports: _LazyImports, found: Found) -> None:
    """Django REST framework: `class HeroSerializer(serializers.ModelSerializer): class Meta:
    model = Hero`: an instance's `save()` inserts a row, or updates the one it was given."""
    _meta_model_classes(
        tree, source, imports, found, "serializer", lambda b: b.endswith("ModelSerializer")
    )


def _meta_model_classes(
    tree: Tree, source: Source, imports: _LazyImports, found: Found, kind: str, is_base
) -> set[str]:
    """The classes of the file whose bases make them a KIND of alias (a base IS_BASE accepts,
    or a class of the file found before): each `class Meta: model = M` is an Alias of KIND to
    M. Returns their names."""
    names: set[str] = set()
    for cls in nodes_of(tree, ("class_definition",)):
        name, bases = cls.child_by_field_name("name"), cls.child_by_field_name("superclasses")
        if name is None or bases is None:
            continue
        if not any(
            source.text(base) in names or is_base(source.text(base))
            for base in bases.named_children
        ):
            continue
        names.add(source.text(name))
        model = meta_attribute(cls, "model", source)
        target = imports.named(model) if model is not None else None
        if target is not None:
            found.record(Alias(kind, source.text(name), target, source.path))
    return names


def _flask_model(cls: Node, source: Source) -> bool:
    """Flask-SQLAlchemy's `class Tag(db.Model)` (not in a peewee module: its FlaskDB and
    async databases have a `db.Model` too)."""
    if b"peewee" in source.data or b"playhouse" in source.data:
        return False
    bases = cls.child_by_field_name("superclasses")
    return bases is not None and any(source.text(b) == "db.Model" for b in bases.named_children)


def _sqlmodel_table(cls: Node, source: Source) -> bool:
    """SQLModel's `class Hero(SQLModel, table=True)` (or a base of it, `table=True`): a table
    named by the class's name in lower case."""
    bases = cls.child_by_field_name("superclasses")
    return bases is not None and any(
        b.type == "keyword_argument" and source.text(b).replace(" ", "") == "table=True"
        for b in bases.named_children
    )


def _schema(node: Node | None, source: Source) -> str | None:
    """`__table_args__ = {'schema': 's'}` or `(…, {'schema': 's'})`."""
    if node is None:
        return None
    if node.type == "tuple" and node.named_children:
        node = node.named_children[-1]
    if node.type != "dictionary":
        return None
    value = keyword_arguments([node], source).get("schema")
    literal = string_value(value, source) if value is not None else None
    return literal.text if literal is not None else None


def sqlalchemy_uses(
    chain: Chain,
    source: Source,
    files: FileModels,
    bindings: Bindings,
    found: Found,
    matcher: TableMatcher,
    graph: Graph | None = None,
) -> bool:
    links = chain.links
    methods = {call.method for _, call in chain.method_calls()}
    claimed = False
    # M.query… (Flask-SQLAlchemy), t.select()/insert()/… (Core)
    if chain.root.type == "identifier" and links and links[0].name is not None:
        declared = files.resolve(("sqlalchemy",), chain.root, source)
        if declared is not None:
            if links[0].name == "query":
                operation = _query_operation(methods)
            elif links[0].name in STATEMENTS and len(links) > 1 and links[1].name is None:
                operation = _statement_operation(links[0].name or "", methods, chain, source)
            elif (  # M.__table__.insert()…: the model's Table
                links[0].name == "__table__"
                and len(links) > 2
                and links[1].name in STATEMENTS
                and links[2].name is None
            ):
                operation = _statement_operation(links[1].name or "", methods, chain, source)
            else:
                operation = None
            if operation is not None:
                _report(declared, (operation,), chain.root, found, matcher)
                claimed = True
    head = _callee(chain, source, files)
    expressions: list[Node] = []
    for index, call in chain.method_calls() + head:
        if call.method == "query" and call.args:
            claimed |= _models(call.args, _query_operation(methods), source, files, bindings,
                               found, matcher)  # fmt: skip
        elif call.method in STATEMENTS and call.args and (index, call) in head:
            operation = _statement_operation(call.method, methods, chain, source)
            args = call.args if call.method == "select" else call.args[:1]
            claimed |= _models(args, operation, source, files, bindings, found, matcher)
        elif call.method in JOINS and call.args and not _text_join(chain, source):
            claimed |= _models(call.args[:1], "select", source, files, bindings, found, matcher)
        elif call.method in EXPRESSION_CALLS and call.args:
            expressions += call.args
        elif call.method in SESSION and call.args:
            claimed |= _session(call.method, call.args, source, files, found, matcher)
            if graph is not None:  # session.add(tag), tag bound to a model's instance
                receiver = links[index - 2].name if index >= 2 else source.text(chain.root)
                claimed |= graph.session(call.method, receiver, call.args, found, matcher)
    if expressions:  # columns of models the chain does not name already (a query built elsewhere)
        named = {d.table for d in _chain_models(chain, head, source, files)}
        claimed |= _columns(expressions, named, source, files, found, matcher)
    return claimed


def _text_join(chain: Chain, source: Source) -> bool:
    """`", ".join(names)`, `os.path.join(directory, name)`: a string's or a path's join."""
    root = chain.root
    if root.type in ("string", "concatenated_string"):
        return True
    return root.type == "identifier" and source.text(root) in {"os", "posixpath", "ntpath", "str"}


def _chain_models(chain: Chain, head, source: Source, files: FileModels) -> list[Declared]:
    """The models CHAIN queries by name: `M.query`, `select(M, …)`, `session.query(M)`,
    `.join(M)`."""
    nodes: list[Node] = []
    if chain.root.type == "identifier":
        nodes.append(chain.root)
    for _, call in chain.method_calls() + head:
        if call.method in STATEMENTS or call.method == "query" or call.method in JOINS:
            nodes += positional(call.args)
    found = []
    for node in nodes:
        while node.type == "attribute":
            node = node.child_by_field_name("object") or node
            if node.type != "attribute":
                break
        if node.type == "identifier":
            declared = files.resolve(("sqlalchemy",), node, source)
            if declared is not None:
                found.append(declared)
    return found


def query_variables(
    tree: Tree,
    source: Source,
    files: FileModels,
    chains: list[Chain],
    found: Found,
    matcher: TableMatcher,
) -> None:
    """`q = M.query` (Flask-SQLAlchemy) run later in the same function: `q.order_by(…).all()`,
    `q.filter_by(…).delete()`. `M.query` alone is no chain (no call), so it is a use of M's
    table here, with the operation of the calls later made on `q` (select when none is)."""
    if b".query" not in source.data:
        return
    for node in nodes_of(tree, ("assignment",)):
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if left is None or right is None or left.type != "identifier" or right.type != "attribute":
            continue
        obj, attribute = right.child_by_field_name("object"), right.child_by_field_name("attribute")
        if obj is None or attribute is None or obj.type != "identifier":
            continue
        if source.text(attribute) != "query":
            continue
        declared = files.resolve(("sqlalchemy",), obj, source)
        if declared is None:
            continue
        name, scope = source.text(left), _scope_of(node)
        methods: set[str] = set()
        for chain in chains:
            root = chain.root
            if (
                root.type == "identifier"
                and root.start_byte >= node.end_byte
                and scope.start_byte <= root.start_byte < scope.end_byte
                and source.text(root) == name
            ):
                methods |= {call.method for _, call in chain.method_calls()}
        _report(declared, (_query_operation(methods),), obj, found, matcher)


def _scope_of(node: Node) -> Node:
    scope = node.parent
    while scope is not None and scope.type not in ("function_definition", "module"):
        scope = scope.parent
    return scope or node


def _callee(chain: Chain, source: Source, files: FileModels):
    """`select(M)`, `sa.insert(M)`, `pg_insert(M)` at the start of CHAIN, as a method call."""
    from migverify.scan.chains import ChainCall

    links = chain.links
    if chain.root.type == "identifier" and links and links[0].name is None:
        name = source.text(chain.root)
        index = 0
    elif len(links) >= 2 and links[0].name is not None and links[1].name is None:
        name, index = links[0].name, 1
        if chain.root.type != "identifier" or source.text(chain.root) not in (
            "sa", "sqlalchemy", "postgresql", "sql", "expression", "future", "pg", "dialect",
            "db",  # Flask-SQLAlchemy's db.select(M)
        ):  # fmt: skip
            return []
    else:
        return []
    imported = files.imports.names.get(name)
    if imported is not None and "sqlalchemy" in imported[0]:
        name = imported[1]
    if name not in STATEMENTS:
        return []
    return [(index, ChainCall(name, links[index].args))]


def _query_operation(methods: set[str]) -> str:
    for method, operation in QUERY_WRITES.items():
        if method in methods:
            return operation
    return "lock" if "with_for_update" in methods else "select"


def _statement_operation(name: str, methods: set[str], chain: Chain, source: Source) -> str:
    if name == "select":
        return "lock" if "with_for_update" in methods else "select"
    if name == "insert":
        for _, call in chain.method_calls():
            if call.method == "on_conflict_do_update" or call.method == "on_conflict_do_nothing":
                if "constraint" in keyword_arguments(call.args, source):
                    return "upsert-on-constraint"
                return "upsert"
    return STATEMENTS[name]


def _models(args, operation, source, files, bindings, found, matcher) -> bool:
    """Each model (or `M.column`, also inside a function of it: `func.count(M.id)`) among
    ARGS; a parameter passed as the model is dynamic."""
    claimed = False
    pending = list(positional(args))
    while pending:
        arg = pending.pop(0)
        if arg.type == "call" and operation == "select":  # select(func.count(User.id))
            inner = arg.child_by_field_name("arguments")
            pending += positional(inner.named_children) if inner is not None else []
            continue
        node = arg
        while node.type == "attribute":
            obj = node.child_by_field_name("object")
            if obj is None:
                break
            node = obj
        if node.type != "identifier":
            continue
        declared = files.resolve(("sqlalchemy",), node, source)
        if declared is not None:
            _report(declared, (operation,), node, found, matcher)
            claimed = True
        elif node is arg and bindings.is_parameter(node) and source.text(node)[:1].islower():
            found.dynamic(node)
            claimed = True
    return claimed


def _columns(args, named: set[str], source: Source, files: FileModels, found: Found,
             matcher) -> bool:  # fmt: skip
    """Each `M.column` (a model's attribute that is not its query nor a relationship) in the
    expressions ARGS: a `select` of M's table, unless the query names it (NAMED: tables)."""
    claimed = False
    stack = list(args)
    while stack:
        node = stack.pop()
        if node.type == "attribute":
            obj = node.child_by_field_name("object")
            attribute = node.child_by_field_name("attribute")
            if obj is not None and attribute is not None and obj.type == "identifier":
                declared = files.resolve(("sqlalchemy",), obj, source)
                name = source.text(attribute)
                if declared is not None and name != "query" and not name.startswith("_"):
                    if (
                        declared.table not in named
                        and files.models.relation(declared, name) is None
                    ):
                        _report(declared, ("select",), obj, found, matcher)
                        claimed = True
                    continue
        if node.type in ("lambda", "string"):
            continue
        stack.extend(node.named_children)
    return claimed


def _session(method, args, source, files, found, matcher) -> bool:
    """`session.add(M(…))`, `session.add_all([M(…), …])`, `session.get(M, pk)`, …"""
    first = args[0]
    candidates = first.named_children if first.type in ("list", "tuple") else [first]
    claimed = False
    for node in candidates:
        if node.type == "call":
            node = node.child_by_field_name("function") or node
        elif method not in ("get", "get_or_404", "bulk_insert_mappings", "bulk_update_mappings"):
            continue
        declared = files.resolve(("sqlalchemy",), node, source)
        if declared is not None:
            _report(declared, SESSION[method], node, found, matcher)
            claimed = True
    return claimed


def _report(declared: Declared, operations, node: Node, found: Found, matcher) -> None:
    if node.type == "attribute":
        node = node.child_by_field_name("attribute") or node
    found.uses(node.start_byte, declared.table, operations, "sqlalchemy", matcher)
