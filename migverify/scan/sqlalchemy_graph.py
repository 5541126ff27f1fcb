"""SQLAlchemy's model graph in one file: which model an instance is of, what the session does
with it, and the relationships used on instances and classes.

An instance is a name bound in the same function (every binding before the use leading to one
model) to a constructor `Tag(…)` (a new row), to a row read by a query (`Tag.query.get(…)`,
`session.get(Tag, id)`, `….first()`, `.one()`, `.scalar_one()`, `db.first_or_404(select(Tag))`:
an existing row), or to what a marshmallow-sqlalchemy schema loads (`tag_schema.load(data)`: a
new row; with `instance=`: an existing one); a loop variable over a query or over a
relationship (existing rows); a parameter annotated with a model, and `self` in a model's method
(either). `session.add(x)` inserts a new row and updates an existing one (either: both),
`session.merge(x)` the same but a new row may be either, `session.delete(x)` deletes; the
reference is at `x` in the call (`session.add(Tag(…))`: at the class, as before). A new row is
also what `cls(…)` makes in a model's class method, and what a model's factory method returns
(`Post.from_json(data)`: orm.ModelFactory). A row read, then changed in place and committed
(`post.title = …; db.session.commit()`), is updated at the commit.

A relationship (`relationship()`, its `backref`, `back_populates`) used on an instance reads the
related table (`for c in post.comments`, `len(post.comments)`), unless it is written: `append`,
`add`, `insert`, `extend` (`+=`) insert a new row into the related table and update an existing
one (its foreign key), `remove`/`discard`/`pop`/`clear` update it; assigning new rows inserts
them. A many-to-many relationship's association table (`secondary=`) is read with it, gets a row
for each row added and loses one for each row removed. On the class (`joinedload(Post.tags)`,
`.join(Post.tags)`, `Post.tags.any(…)`) the relationship reads the related table. The
reference is at the relationship's name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from tree_sitter import Node, Tree

from migverify.scan.bindings import Bindings
from migverify.scan.found import Found
from migverify.scan.orm import (
    Declared,
    FileModels,
    classmethod_class,
    enclosing_class,
    function_of,
    keyword_arguments,
    module_functions,
    nodes_of,
    parameter_annotation,
    positional,
    returned_values,
)
from migverify.scan.source import Source, string_value
from migverify.scan.tables import TableMatcher

NEW, EXISTING, EITHER = "new", "existing", "either"
# The last call of a query that returns one row (an instance)
ROW_READS = {
    "get", "get_or_404", "get_one", "first", "first_or_404", "one", "one_or_none",
    "one_or_404", "scalar", "scalar_one", "scalar_one_or_none",
}  # fmt: skip
# …and of one that yields rows when iterated
ROWS = {
    "all", "scalars", "unique", "yield_per", "filter", "filter_by", "where", "order_by",
    "limit", "offset", "options", "join", "outerjoin", "distinct", "execution_options", "query",
}  # fmt: skip
# Calls taking the model first (`session.get(Tag, id)`, `session.query(Tag)`) or a statement
# selecting it (`session.scalars(select(Tag))`)
MODEL_FIRST = {"get", "get_or_404", "get_one", "query"}
STATEMENT_RUNS = {
    "execute",
    "exec",
    "scalars",
    "scalar",
    "first_or_404",
    "one_or_404",
    "one_or_none",
}  # fmt: skip (exec: SQLModel's session)
SELECTS = {"select", "db.select", "sa.select", "sqlalchemy.select", "future.select"}
SESSION_LIKE = re.compile(r"(?i)session|^sess$|^db$|^uow$")
INSTANCE_OPERATIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "add": {NEW: ("insert",), EXISTING: ("update",), EITHER: ("insert", "update")},
    "merge": {NEW: ("insert", "update"), EXISTING: ("update",), EITHER: ("insert", "update")},
    "delete": {NEW: ("delete",), EXISTING: ("delete",), EITHER: ("delete",)},
}
INSTANCE_OPERATIONS["add_all"] = INSTANCE_OPERATIONS["bulk_save_objects"] = INSTANCE_OPERATIONS[
    "add"
]
# Class methods every SQLModel (a pydantic model) has, making a new instance of it:
# `User.model_validate(user_create)`
MADE_BY = {"model_validate", "model_construct", "from_orm", "parse_obj"}
COLLECTION_ADDS = {"append", "add", "insert", "extend"}
COLLECTION_REMOVES = {"remove", "discard", "pop", "clear"}
# what a relationship's collection (a list, a set) answers itself (a dynamic relationship's
# `update()` and `delete()` write the related table as a row's do)
COLLECTION_METHODS = COLLECTION_ADDS | COLLECTION_REMOVES | {"count", "get", "index"}
COMPREHENSIONS = {
    "list_comprehension", "set_comprehension", "generator_expression", "dictionary_comprehension",
}  # fmt: skip
WRAPPING_TYPES = {"Mapped", "List", "list", "Set", "set", "Optional", "Sequence", "Iterable"}
MAX_DEPTH = 6

Instance = tuple[Declared, str]  # the model, and whether the row is NEW, EXISTING or EITHER


class Graph:
    """Instances and relationships of one Python file (scanned knowing every model)."""

    def __init__(self, tree: Tree, source: Source, files: FileModels, bindings: Bindings) -> None:
        self.tree, self.source, self.files, self.bindings = tree, source, files, bindings
        self.models = files.models
        self._functions: dict[str, list[Node]] | None = None  # the module's, by name

    # --- the session ------------------------------------------------------------------------

    def session(
        self, method: str, receiver: str | None, args, found: Found, matcher: TableMatcher
    ) -> bool:
        """`session.add(x)`, `add_all([x, y])` / `add_all(xs)`, `merge(x)`, `delete(x)` where x
        is an instance: a reference at x with what the session does to its row."""
        if method not in INSTANCE_OPERATIONS or receiver is None or not args:
            return False
        if not SESSION_LIKE.search(receiver):
            return False
        first = args[0]
        if method in ("add_all", "bulk_save_objects"):
            nodes = first.named_children if first.type in ("list", "tuple") else [first]
            instances = [(node, self.elements(node)) for node in nodes]
        else:
            instances = [(first, [self.value(first)])]
        claimed = False
        for node, found_instances in instances:
            if node.type == "call" and self._constructed(node) is not None:
                continue  # `session.add(Tag(…))`: reported at the class
            for instance in found_instances:
                if instance is None:
                    continue
                model, state = instance
                _report(model, INSTANCE_OPERATIONS[method][state], node, found, matcher)
                if method == "delete":
                    self._cascades(model, node, found, matcher)
                claimed = True
        return claimed

    def _cascades(self, model: Declared, node: Node, found: Found, matcher) -> None:
        """What the session deletes with a row of MODEL: the rows of its relationships with a
        delete cascade (down the graph), the association rows of its many-to-many ones."""
        todo, seen = [model], {model.table}
        while todo:
            current = todo.pop()
            for relation, target in self.models.relations_of(current):
                secondary = self.models.secondary(relation)
                if secondary is not None:
                    table = matcher.match_text(secondary)
                    if table is not None:
                        found.reference(node.start_byte, table, "delete", (), "sqlalchemy")
                elif relation.cascade_delete:
                    _report(target, ("delete",), node, found, matcher)
                    if target.table not in seen:
                        seen.add(target.table)
                        todo.append(target)

    # --- what a name or an expression holds ---------------------------------------------------

    def instance(self, identifier: Node, depth: int = 0) -> Instance | None:
        """The model (and row state) of the instance IDENTIFIER names here."""
        name = self.source.text(identifier)
        if name == "self":
            return self._self(identifier)
        if name == "current_user" and self._flask_login_user():
            user = self.models.login_user()
            return (user, EXISTING) if user is not None else None
        bound = self.bindings.values(identifier)
        if bound:
            found = [self.value(b.value, depth + 1) for b in bound if b.op == "="]
            return _same_model(found)
        if bound is None:
            return self._loop_variable(identifier, name, depth) or self._parameter(identifier, name)
        return None

    def _flask_login_user(self) -> bool:
        """Is `current_user` Flask-Login's (or Flask-JWT-Extended's) here, imported from it?"""
        imported = self.files.imports.names.get("current_user")
        return imported is not None and imported[0] in ("flask_login", "flask_jwt_extended")

    def value(self, node: Node, depth: int = 0) -> Instance | None:
        """The instance an expression evaluates to."""
        node = _unwrap(node)
        if depth > MAX_DEPTH:
            return None
        if node.type == "identifier":
            return self.instance(node, depth + 1)
        if node.type == "boolean_operator":  # `Tag.query.get(id) or abort(404)`
            left = node.child_by_field_name("left")
            return self.value(left, depth + 1) if left is not None else None
        if node.type == "attribute":  # marshmallow 2: `result = schema.load(d)`, `result.data`
            return self._load_result_data(node)
        if node.type != "call":
            return None
        declared = self._constructed(node)
        if declared is not None:
            return declared, NEW
        declared = self._loaded_by_method(node)
        if declared is not None:
            return declared, EXISTING
        loaded = self._loaded(node)
        if loaded is not None:
            return loaded
        query = self._query(node, depth)
        if query is not None and query[1] in ROW_READS:
            return query[0], EXISTING
        return self._returned(node, depth)

    def _returned(self, call: Node, depth: int) -> Instance | None:
        """`get_user_by_email(…)`, a function of this file: what its `return`s give, when they
        all give an instance of one model (`return session.exec(select(User)…).first()`)."""
        function = call.child_by_field_name("function")
        if function is not None and function.type == "attribute":  # crud.get_user(db, id)
            obj = function.child_by_field_name("object")
            method = function.child_by_field_name("attribute")
            module = self.files.imports.namespaces.get(self.source.text(obj)) if obj else None
            if module is None or method is None:
                return None
            model = self.models.row_function(self.source.text(method), module, self.files.path)
            return (model, EXISTING) if model is not None else None
        if function is None or function.type != "identifier":
            return None
        imported = self.files.imports.names.get(self.source.text(function))
        if imported is not None:  # from app.crud import get_user
            model = self.models.row_function(imported[1], imported[0], self.files.path)
            return (model, EXISTING) if model is not None else None
        if self._functions is None:
            self._functions = module_functions(self.tree)
        defined = self._functions.get(self.source.text(function), [])
        if len(defined) != 1:
            return None
        returns = returned_values(defined[0])
        found = [self.value(value, depth + 1) for value in returns]
        return _same_model(found) if found else None

    def elements(self, node: Node, depth: int = 0) -> list[Instance | None]:
        """The instances a list holds: `[a, Tag(…)]`, `[Tag(n) for n in names]`, a name bound
        to one, what `schema.load(data, many=True)` or a query's `.all()` returns."""
        node = _unwrap(node)
        if depth > MAX_DEPTH:
            return []
        if node.type in ("list", "tuple", "set"):
            return [self.value(child, depth + 1) for child in node.named_children]
        if node.type in COMPREHENSIONS:
            body = node.child_by_field_name("body")
            return [self.value(body, depth + 1)] if body is not None else []
        if node.type == "identifier":
            bound = self.bindings.values(node)
            if bound:
                return [e for b in bound if b.op == "=" for e in self.elements(b.value, depth + 1)]
            return [self.instance(node, depth + 1)]
        if node.type == "call":
            loaded = self._loaded(node)
            if loaded is not None:
                return [loaded]
            return [self.rows(node, depth + 1) or self.value(node, depth + 1)]
        return [self.value(node, depth + 1)]

    def rows(self, node: Node, depth: int = 0) -> Instance | None:
        """The instances iterating NODE yields: a query's rows, a relationship's, a list's."""
        node = _unwrap(node)
        if depth > MAX_DEPTH:
            return None
        if node.type == "identifier":
            bound = self.bindings.values(node)
            if bound:
                return _same_model([self.rows(b.value, depth + 1) for b in bound if b.op == "="])
            return None
        if node.type == "attribute":  # for c in post.comments
            relation = self._relation_of(node)
            return (relation[1], EXISTING) if relation is not None else None
        if node.type in ("list", "tuple", "set") or node.type in COMPREHENSIONS:
            return _same_model(self.elements(node, depth + 1))
        if node.type == "call":
            query = self._query(node, depth)
            if query is not None and query[1] in ROWS:
                return query[0], EXISTING
        return None

    def _constructed(self, call: Node) -> Declared | None:
        """The model a call makes a new instance of: `Post(…)`, `cls(…)` in a model's class
        method, `Post.from_json(…)` (a factory: orm.ModelFactory)."""
        function = call.child_by_field_name("function")
        if function is None or function.type not in ("identifier", "attribute"):
            return None
        declared = self.files.resolve(("sqlalchemy",), function, self.source)
        if declared is not None:
            return declared
        if function.type == "identifier":
            return self._class_method_class(function)
        owner, method = (
            function.child_by_field_name("object"),
            function.child_by_field_name("attribute"),
        )
        if owner is None or method is None:
            return None
        model = self._model(owner)
        name = self.source.text(method)
        if model is not None and (name in MADE_BY or self.files.models.factory(model, name)):
            return model
        return None

    def _loaded_by_method(self, call: Node) -> Declared | None:
        """`User.verify_token(t)`: a model's method returning a row it read (ModelLoader)."""
        function = call.child_by_field_name("function")
        if function is None or function.type != "attribute":
            return None
        owner, method = (
            function.child_by_field_name("object"),
            function.child_by_field_name("attribute"),
        )
        model = self._model(owner) if owner is not None and method is not None else None
        if model is not None and self.files.models.loader(model, self.source.text(method)):
            return model
        return None

    def _class_method_class(self, identifier: Node) -> Declared | None:
        """The model whose class method IDENTIFIER (its first parameter, `cls`) is used in."""
        name = classmethod_class(identifier, self.source)
        return self.files.resolve(("sqlalchemy",), name, self.source) if name else None

    def _loaded(self, call: Node) -> Instance | None:
        """`schema.load(data)`: a new instance of the schema's model (`instance=`: existing)."""
        function = call.child_by_field_name("function")
        if function is None or function.type != "attribute":
            return None
        method, obj = (
            function.child_by_field_name("attribute"),
            function.child_by_field_name("object"),
        )
        if method is None or obj is None or self.source.text(method) != "load":
            return None
        model = self._schema(obj, 0)
        if model is None:
            return None
        arguments = call.child_by_field_name("arguments")
        options = keyword_arguments(arguments.named_children if arguments else (), self.source)
        existing = "instance" in options or self._schema_instance(obj)
        return model, EXISTING if existing else NEW

    def _load_result_data(self, node: Node) -> Instance | None:
        """`result.data` where RESULT is bound only to `schema.load(…)` (marshmallow 2's
        UnmarshalResult holds the loaded row in `data`)."""
        obj, attribute = node.child_by_field_name("object"), node.child_by_field_name("attribute")
        if obj is None or obj.type != "identifier" or not _is_name(attribute, "data"):
            return None
        bound = [_unwrap(b.value) for b in self.bindings.values(obj) or () if b.op == "="]
        loads = [self._loaded(value) if value.type == "call" else None for value in bound]
        return _same_model(loads) if loads and all(loads) else None

    def _schema_instance(self, node: Node, depth: int = 0) -> bool:
        """Was the schema NODE made for an existing row (`UserSchema(instance=user)`, or a
        name bound to such a call)?"""
        node = _unwrap(node)
        if node.type == "identifier" and depth <= MAX_DEPTH:
            bound = self.bindings.values(node)
            return (
                bool(bound) and len(bound) == 1 and self._schema_instance(bound[0].value, depth + 1)
            )
        if node.type != "call":
            return False
        arguments = node.child_by_field_name("arguments")
        options = keyword_arguments(arguments.named_children if arguments else (), self.source)
        return "instance" in options

    def _schema(self, node: Node, depth: int) -> Declared | None:
        """The model of the schema NODE is (an instance or `TagSchema()`)."""
        node = _unwrap(node)
        if depth > MAX_DEPTH:
            return None
        imports, path = self.files.imports, self.files.path
        if node.type == "identifier":
            name = self.source.text(node)
            model = self.models.schema_model(name, imports, path)
            if model is not None:
                return model
            bound = self.bindings.values(node)
            if bound and len(bound) == 1:
                return self._schema(bound[0].value, depth + 1)
            return None
        if node.type == "attribute":
            obj, attribute = (
                node.child_by_field_name("object"),
                node.child_by_field_name("attribute"),
            )
            if obj is not None and attribute is not None and obj.type == "identifier":
                name, namespace = self.source.text(attribute), self.source.text(obj)
                return self.models.schema_model(name, imports, path, namespace)
            return None
        if node.type == "call":
            function = node.child_by_field_name("function")
            return self._schema(function, depth + 1) if function is not None else None
        return None

    def _query(self, call: Node, depth: int = 0) -> tuple[Declared, str] | None:
        """(model, last method) of a query: `Tag.query.filter_by(…).first()`,
        `session.get(Tag, id)`, `session.query(Tag).all()`, `session.scalars(select(Tag))`."""
        root, links = _links(call)
        if not links or links[-1][0] is not None:
            return None
        names = [name for name, _ in links]
        last = next((name for name in reversed(names) if name is not None), None)
        if root.type == "identifier" and names[0] == "query":
            declared = self.files.resolve(("sqlalchemy",), root, self.source)
            if declared is not None:
                return declared, last or ""
        if root.type == "identifier" and names[0] is not None and len(names) > 2:
            # a dynamic relationship's query: `self.followed.filter_by(…).first()`
            # one level more at most (and never back to where a name's own value began:
            # `x = x.items.first()` would otherwise ask for itself for ever)
            owner = self.instance(root, max(depth + 1, MAX_DEPTH - 1))
            pair = self.models.relation(owner[0], names[0]) if owner is not None else None
            if pair is not None:
                return pair[1], last or ""
        if root.type == "identifier" and depth < MAX_DEPTH:
            # a result held in a name: `result = await session.exec(select(Chat)…)`, then
            # `result.first()`, `result.scalar_one_or_none()`
            bound = self.bindings.values(root)
            value = _unwrap(bound[0].value) if bound and len(bound) == 1 else None
            if value is not None and value.type == "call" and bound[0].op == "=":
                inner = self._query(value, depth + 1)
                if inner is not None:
                    return inner[0], last or inner[1]
        for index, (name, arguments) in enumerate(links):
            if name is not None or arguments is None:
                continue
            called = names[index - 1] if index else self.source.text(root)
            called = called.rpartition(".")[2] if called else None
            args = positional(arguments.named_children)
            if not args:
                continue
            model = None
            if called in MODEL_FIRST:
                model = self._model(args[0])
            elif called in STATEMENT_RUNS:
                model = self._selected(args[0], 0)
            if model is not None:
                return model, last or called or ""
        return None

    def _model(self, node: Node) -> Declared | None:
        node = _unwrap(node)
        if node.type not in ("identifier", "attribute"):
            return None
        return self.files.resolve(("sqlalchemy",), node, self.source)

    def _selected(self, node: Node, depth: int) -> Declared | None:
        """The model `select(Tag)….where(…)` (or a name bound to one) selects."""
        node = _unwrap(node)
        if depth > MAX_DEPTH:
            return None
        if node.type == "identifier":
            bound = self.bindings.values(node)
            if bound and len(bound) == 1:
                return self._selected(bound[0].value, depth + 1)
            return None
        root, links = _links(node)
        for index, (name, arguments) in enumerate(links):
            if name is not None or arguments is None:
                continue
            called = ".".join(n for n, _ in links[:index] if n is not None)
            called = f"{self.source.text(root)}.{called}" if called else self.source.text(root)
            if called in SELECTS:
                args = positional(arguments.named_children)
                return self._model(args[0]) if len(args) == 1 else None
            return None
        return None

    def _self(self, identifier: Node) -> Instance | None:
        """`self` in a method of a model class: an instance of it."""
        cls = enclosing_class(identifier)
        name = cls.child_by_field_name("name") if cls is not None else None
        if name is None:
            return None
        declared = self.files.resolve(("sqlalchemy",), name, self.source)
        return (declared, EITHER) if declared is not None else None

    def _loop_variable(self, identifier: Node, name: str, depth: int) -> Instance | None:
        """`for tag in Tag.query.all(): … tag …`, `[c.body for c in post.comments]`."""
        node, child = identifier.parent, identifier
        while node is not None and node.type not in ("function_definition", "module"):
            if node.type == "for_statement" and _is_name(node.child_by_field_name("left"), name):
                right = node.child_by_field_name("right")
                if right is not None and child.id != right.id:
                    return self.rows(right, depth + 1)
            if node.type in COMPREHENSIONS:
                for clause in node.named_children:
                    if clause.type != "for_in_clause":
                        continue
                    if _is_name(clause.child_by_field_name("left"), name):
                        right = clause.child_by_field_name("right")
                        return self.rows(right, depth + 1) if right is not None else None
            node, child = node.parent, node
        return None

    def _parameter(self, identifier: Node, name: str) -> Instance | None:
        """A parameter annotated with a model (`def publish(post: Post)`), new or not."""
        declared = self._annotation(parameter_annotation(identifier, self.source))
        return (declared, EITHER) if declared is not None else None

    def _annotation(self, annotation: Node | None) -> Declared | None:
        stack = [annotation] if annotation is not None else []
        while stack:
            node = stack.pop()
            if node.type == "identifier" and self.source.text(node) not in WRAPPING_TYPES:
                return self.files.resolve(("sqlalchemy",), node, self.source)
            if node.type == "string":
                literal = string_value(node, self.source)
                words = re.findall(r"[A-Za-z_]\w*", literal.text if literal is not None else "")
                names = [w for w in words if w not in WRAPPING_TYPES]
                if not names:
                    return None
                return self.models.resolve(
                    ("sqlalchemy",), names[-1], self.files.imports, self.files.path
                )
            stack.extend(reversed(node.named_children))
        return None

    # --- rows changed in place ---------------------------------------------------------------

    def attribute_writes(self, found: Found, matcher: TableMatcher) -> None:
        """`post.title = …` on a row a query read, in a function that then commits or flushes
        the session (`db.session.commit()`) without adding the row itself (`session.add(post)`
        is the reference then): the unit of work updates the row's table at the commit. One
        reference per row and function, at its first assignment, with every attribute set
        (not relationships: their writes are the related table's, below)."""
        data = self.source.data
        if b".commit(" not in data and b".flush(" not in data:
            return
        commits: dict[int, int] = {}  # function's start → its last commit or flush
        added: set[tuple[int, str]] = set()  # (function's start, name) given to add/merge
        for call in nodes_of(self.tree, ("call",)):
            function = call.child_by_field_name("function")
            if function is None or function.type != "attribute":
                continue
            method = self.source.text(function.child_by_field_name("attribute") or function)
            receiver = function.child_by_field_name("object")
            if receiver is None or not SESSION_LIKE.search(self.source.text(receiver)):
                continue
            scope = function_of(call)
            if scope is None:
                continue
            if method in ("commit", "flush"):
                commits[scope.start_byte] = max(commits.get(scope.start_byte, 0), call.start_byte)
            elif method in ("add", "merge", "add_all"):
                arguments = call.child_by_field_name("arguments")
                for argument in arguments.named_children if arguments is not None else ():
                    for name in _names_in(argument, self.source):
                        added.add((scope.start_byte, name))
        if not commits:
            return
        rows: dict[tuple[int, str], tuple[Node, Declared, list[str]]] = {}
        # `user.set_password(p)`: a model's method setting attributes of its row (ModelMutator)
        mutators = self.models.mutators() if b"." in data else {}
        for call, obj, method in self._method_calls() if mutators else ():
            if obj.type != "identifier":
                continue
            scope, name = function_of(call), self.source.text(obj)
            if scope is None or name == "self" or (scope.start_byte, name) in added:
                continue
            if commits.get(scope.start_byte, -1) < call.end_byte:
                continue
            candidates = mutators.get(self.source.text(method))
            instance = self.instance(obj) if candidates else None
            if instance is None or instance[1] != EXISTING or instance[0] not in candidates:
                continue
            key = (scope.start_byte, name)
            columns = list(candidates[instance[0]])
            if key in rows:
                rows[key][2].extend(columns)
            else:
                rows[key] = (method, instance[0], columns)
        for call, _, method in self._method_calls() if b".load(" in data else ():
            # `schema.load(data, instance=user)` changes the row in place: updated at the commit
            scope = function_of(call)
            if scope is None or not _is_name(method, "load"):
                continue
            if commits.get(scope.start_byte, -1) < call.end_byte:
                continue
            loaded = self._loaded(call)
            if loaded is None or loaded[1] != EXISTING:
                continue
            result = call.parent
            name = None
            if result is not None and result.type == "assignment":
                target = result.child_by_field_name("left")
                name = self.source.text(target) if target is not None else None
            if (scope.start_byte, name) in added:
                continue  # the session call on the result is the reference
            rows[(scope.start_byte, f"load@{call.start_byte}")] = (method, loaded[0], [])
        for call in nodes_of(self.tree, ("call",)) if b"setattr(" in data else ():
            # `setattr(challenge, attr, value)` (in a loop over a form's items): an attribute set
            function, arguments = (
                call.child_by_field_name("function"),
                call.child_by_field_name("arguments"),
            )
            values = positional(arguments.named_children) if arguments is not None else []
            if not _is_name(function, "setattr") or len(values) < 2:
                continue
            obj, scope = values[0], function_of(call)
            if obj.type != "identifier" or scope is None:
                continue
            name = self.source.text(obj)
            if name == "self" or (scope.start_byte, name) in added:
                continue
            if commits.get(scope.start_byte, -1) < call.end_byte:
                continue
            literal = string_value(values[1], self.source)
            columns = [literal.text] if literal is not None and not literal.holes else []
            key = (scope.start_byte, name)
            if key in rows:
                rows[key][2].extend(columns)
                continue
            instance = self.instance(obj)
            if instance is not None and instance[1] == EXISTING:
                rows[key] = (obj, instance[0], columns)
        for assignment in nodes_of(self.tree, ("assignment", "augmented_assignment")):
            left = assignment.child_by_field_name("left")
            if left is None or left.type != "attribute":
                continue
            obj, attribute = (
                left.child_by_field_name("object"),
                left.child_by_field_name("attribute"),
            )
            if obj is None or attribute is None or obj.type != "identifier":
                continue
            scope = function_of(assignment)
            name = self.source.text(obj)
            if scope is None or name == "self" or (scope.start_byte, name) in added:
                continue
            if commits.get(scope.start_byte, -1) < assignment.end_byte:
                continue  # no commit after it in the function
            key = (scope.start_byte, name)
            if key in rows:
                rows[key][2].append(self.source.text(attribute))
                continue
            if self._relation_of(left) is not None or self.source.text(attribute).startswith("_"):
                continue
            instance = self.instance(obj)
            if instance is None or instance[1] != EXISTING:
                continue
            rows[key] = (attribute, instance[0], [self.source.text(attribute)])
        for attribute, model, columns in rows.values():
            table = matcher.match_text(model.table)
            if table is not None:
                found.reference(attribute.start_byte, table, "update", columns, "sqlalchemy")

    # --- rows writing themselves -------------------------------------------------------------

    def row_writes(self, found: Found, matcher: TableMatcher) -> None:
        """`article.save()`, `comment.delete()`, `user.update(**kw)` where the method is one a
        model or its mixin writes its own row with (RowWriter) and the receiver an instance:
        a new row's save inserts, a stored one's updates."""
        writers = self.models.row_writers
        if not writers:
            return
        data = self.source.data
        if not any(b"." + name.encode() + b"(" in data for name in writers):
            return
        for call, obj, method in self._method_calls():
            operation = writers.get(self.source.text(method))
            if operation is None or self.source.text(obj) in ("self", "cls"):
                continue
            instance = self.value(obj)
            name = self.source.text(method)
            if instance is None and obj.type == "attribute" and name not in COLLECTION_METHODS:
                # current_user.profile.save(): a row's related row (`post.tags.remove(t)` is
                # a collection's own method)
                pair = self._relation_of(obj)
                instance = (pair[1], EXISTING) if pair is not None else None
            if instance is None:
                continue
            model, state = instance
            if state != EXISTING and obj.type == "identifier" and self._added_before(obj, call):
                state = EXISTING  # `u = User(…)`, `session.add(u)`, … then `u.confirm(t)`
            if operation == "save":
                operations = INSTANCE_OPERATIONS["add"][state]
            else:
                operations = ("delete",) if operation == "delete" else ("update",)
            _report(model, operations, obj, found, matcher)
            if operation == "delete":
                self._cascades(model, obj, found, matcher)

    def _method_calls(self) -> Iterator[tuple[Node, Node, Node]]:
        """(call, object, method name) of every `object.method(…)` of the file."""
        for call in nodes_of(self.tree, ("call",)):
            function = call.child_by_field_name("function")
            if function is None or function.type != "attribute":
                continue
            obj = function.child_by_field_name("object")
            method = function.child_by_field_name("attribute")
            if obj is not None and method is not None:
                yield call, obj, method

    def _added_before(self, name: Node, call: Node) -> bool:
        """Was NAME given to the session (`add(name)`, `add_all([… name …])`, `merge(name)`)
        earlier in the function CALL is in? Its row is then stored when CALL runs."""
        scope = function_of(call)
        start = scope.start_byte if scope is not None else 0
        text = self.source.data[start : call.start_byte]
        word = re.escape(self.source.text(name).encode())
        return (
            re.search(
                rb"\.(?:add|merge)\(\s*" + word + rb"\s*\)|\.add_all\([^)]*\b" + word + rb"\b", text
            )
            is not None
        )

    # --- relationships ----------------------------------------------------------------------

    def relationships(self, found: Found, matcher: TableMatcher) -> None:
        """Every use of a relationship in the file, on a class or an instance."""
        data = self.source.data
        names = {
            r.name
            for r in self.models.relations
            if r.orm == "sqlalchemy" and b"." + r.name.encode() in data
        }
        if not names:
            return
        for node in nodes_of(self.tree, ("attribute",)):
            attribute = node.child_by_field_name("attribute")
            if attribute is None or self.source.text(attribute) not in names:
                continue
            obj = node.child_by_field_name("object")
            if obj is None or obj.type != "identifier":
                continue
            declared = self.files.resolve(("sqlalchemy",), obj, self.source)
            if declared is not None and _compared(node):
                continue  # `Message.recipient == user`: the foreign key's column, no join
            if declared is not None:  # Post.tags: joinedload, join, any()
                pair = self.models.relation(declared, self.source.text(attribute))
                if pair is not None:
                    self._relation_reference(pair, ("select",), ("select",), attribute, found,
                                             matcher)  # fmt: skip
                continue
            pair = self._relation_of(node)
            if pair is not None:
                target, secondary = self._use(node, pair[0].secondary is not None)
                self._relation_reference(pair, target, secondary, attribute, found, matcher)

    def _relation_of(self, node: Node):
        """(relation, target model) of `instance.name`."""
        obj, attribute = node.child_by_field_name("object"), node.child_by_field_name("attribute")
        if obj is None or attribute is None or obj.type != "identifier":
            return None
        instance = self.instance(obj)
        if instance is None:
            return None
        return self.models.relation(instance[0], self.source.text(attribute))

    def _use(self, node: Node, many_to_many: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(operations on the related table, on the association table) of `instance.rel`."""
        parent = node.parent
        if parent is None:
            return ("select",), ("select",)
        if parent.type == "attribute" and _same(parent.child_by_field_name("object"), node):
            method = parent.child_by_field_name("attribute")
            call = parent.parent
            if method is not None and call is not None and call.type == "call":
                name = self.source.text(method)
                arguments = call.child_by_field_name("arguments")
                args = positional(arguments.named_children) if arguments is not None else []
                if name in COLLECTION_ADDS and args:
                    if name == "extend":
                        states = self.elements(args[-1])
                    else:
                        states = [self.value(args[-1])]
                    return _added(states, many_to_many)
                if name in COLLECTION_REMOVES:
                    return ((), ("delete",)) if many_to_many else (("update",), ())
            return ("select",), ("select",)
        if parent.type in ("assignment", "augmented_assignment") and _same(
            parent.child_by_field_name("left"), node
        ):
            right = parent.child_by_field_name("right")
            states = self.elements(right) if right is not None else []
            if parent.type == "augmented_assignment":
                return _added(states, many_to_many)
            target = ("insert",) if any(s is not None and s[1] == NEW for s in states) else ()
            return target, ("insert", "delete")
        return ("select",), ("select",)

    def _relation_reference(self, pair, target_operations, secondary_operations, node, found,
                            matcher) -> None:  # fmt: skip
        relation, target = pair
        _report(target, target_operations, node, found, matcher)
        secondary = self.models.secondary(relation)
        table = matcher.match_text(secondary) if secondary is not None else None
        if table is not None:
            for operation in secondary_operations:
                found.reference(node.start_byte, table, operation, (), "sqlalchemy")


def _names_in(node: Node, source: Source) -> list[str]:
    """The names NODE is or lists (`x`, `[x, y]`)."""
    if node.type == "identifier":
        return [source.text(node)]
    if node.type in ("list", "tuple"):
        return [source.text(n) for n in node.named_children if n.type == "identifier"]
    return []


def _compared(node: Node) -> bool:
    """Is NODE an operand of `==` / `!=` (a many-to-one relationship compared to a row)?"""
    parent = node.parent
    if parent is None or parent.type != "comparison_operator":
        return False
    operators = {child.type for child in parent.children if not child.is_named}
    return bool(operators) and operators <= {"==", "!="}


def _added(states: list[Instance | None], many_to_many: bool):
    """What adding rows in STATES to a relationship does: a new row is inserted; an existing one
    gets the foreign key (one-to-many) or a row in the association table (many-to-many)."""
    target: list[str] = []
    for state in states or [None]:
        kind = state[1] if state is not None else EITHER
        if kind in (NEW, EITHER):
            target.append("insert")
        if kind in (EXISTING, EITHER) and not many_to_many:
            target.append("update")
    return tuple(dict.fromkeys(target)), ("insert",)


def _same_model(found: list[Instance | None]) -> Instance | None:
    """One model for every binding: with its state when they agree, else either."""
    if not found or any(f is None for f in found):
        return None
    models = {f[0] for f in found if f is not None}
    if len(models) != 1:
        return None
    states = {f[1] for f in found if f is not None}
    return models.pop(), states.pop() if len(states) == 1 else EITHER


def _links(node: Node) -> tuple[Node, list[tuple[str | None, Node | None]]]:
    """`a.b(x).c(y)` as its root `a` and links [(b, None), (None, args), (c, None), …]."""
    links: list[tuple[str | None, Node | None]] = []
    while True:
        node = _unwrap(node)
        if node.type == "call":
            function = node.child_by_field_name("function")
            if function is None:
                break
            links.append((None, node.child_by_field_name("arguments")))
            node = function
        elif node.type == "attribute":
            obj, attribute = (
                node.child_by_field_name("object"),
                node.child_by_field_name("attribute"),
            )
            if obj is None or attribute is None:
                break
            links.append((attribute.text.decode() if attribute.text else "", None))
            node = obj
        else:
            break
    links.reverse()
    return node, links


def _unwrap(node: Node) -> Node:
    while node.type in ("parenthesized_expression", "await") and node.named_children:
        node = node.named_children[0]
    return node


def _is_name(node: Node | None, name: str) -> bool:
    return node is not None and node.type == "identifier" and node.text == name.encode()


def _same(a: Node | None, b: Node) -> bool:
    return a is not None and a.id == b.id


def _report(declared: Declared, operations, node: Node, found: Found, matcher) -> None:
    found.uses(node.start_byte, declared.table, operations, "sqlalchemy", matcher)
