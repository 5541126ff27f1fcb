"""Django: models (`class Meta: db_table = 't'`, else the implicit `<app_label>_<model>`: the
app label is `Meta.app_label` or the name of the app's directory, the one holding `models.py` or
the `models/` package; abstract models have no table, proxy models use their parent's), their
relation fields (`ForeignKey`, `OneToOneField`, `ManyToManyField`), their uses
(`Model.objects.filter/get/all/create/update/delete/bulk_create/update_or_create/
get_or_create…`, `get_object_or_404(Model, …)`, a row's `save()` / `delete()` /
`refresh_from_db()`, relation managers and lookups: see django_graph.py), and schema migrations
(`migrations.CreateModel(name=…, options={'db_table': …})`, `AlterField`, `AddField`,
`DeleteModel`, … ; `RunSQL` is parsed as SQL)."""

from __future__ import annotations

import posixpath

from tree_sitter import Node, Tree

from migverify.scan.chains import Chain, ChainCall
from migverify.scan.django_graph import (
    MANAGER_METHODS,
    MANAGERS,
    SHORTCUTS,
    DjangoGraph,
    cascades,
    hop_operations,
    operations_of,
)
from migverify.scan.found import Found
from migverify.scan.orm import (
    Declared,
    DjangoManager,
    DjangoManagerAttribute,
    DjangoManagerRow,
    DjangoRelation,
    DjangoUserModel,
    Imports,
    Named,
    Subclass,
    block_assignments,
    class_field_calls,
    keyword_arguments,
    nodes_under,
    positional,
    python_imports,
    returned_values,
)
from migverify.scan.source import Source, string_value
from migverify.scan.tables import TableMatcher

MIGRATION_MODEL_ARGS = {
    "CreateModel": "name", "DeleteModel": "name", "AlterModelTable": "name",
    "AlterModelOptions": "name", "AlterUniqueTogether": "name", "AlterIndexTogether": "name",
    "AlterModelManagers": "name", "AlterOrderWithRespectTo": "name", "AddField": "model_name",
    "RemoveField": "model_name", "AlterField": "model_name", "RenameField": "model_name",
    "AddIndex": "model_name", "RemoveIndex": "model_name", "RenameIndex": "model_name",
    "AddConstraint": "model_name", "RemoveConstraint": "model_name", "RenameModel": "old_name",
}  # fmt: skip
FIELD_OPERATIONS = {"AddField", "RemoveField", "AlterField", "RenameField"}
RELATION_FIELDS = {"ForeignKey": "fk", "OneToOneField": "o2o", "ManyToManyField": "m2m"}


def is_models_file(path: str) -> bool:
    """Where Django looks for an app's models: `models.py` or a `models/` package."""
    return path.endswith("/models.py") or path == "models.py" or "/models/" in f"/{path}"


def is_migration(path: str) -> bool:
    return "/migrations/" in f"/{path}" and path.endswith(".py")


def app_label(path: str) -> str | None:
    """The app's directory name for a models file or a migration."""
    directory = posixpath.dirname(path)
    parts = directory.split("/") if directory else []
    for marker in ("models", "migrations"):
        if marker in parts:
            index = len(parts) - 1 - parts[::-1].index(marker)
            return parts[index - 1] if index >= 1 else None
    return parts[-1] if parts else None


def django_declarations(
    tree: Tree, source: Source, found: Found, matcher: TableMatcher, models=None
) -> None:
    if b"django" not in source.data or not is_models_file(source.path):
        return
    known: dict[str, Declared | None] = {}  # class name → its table (None: abstract)
    if models:
        for declared in models.of(("django",)):
            known.setdefault(declared.name, declared)
    imports = python_imports(tree, source)
    # Classes imported from another app's models module (wagtail.models.Page, taggit.models.
    # TaggedItemBase): models to inherit from, unless named as mixins. Not Django's own
    # django.db.models (its Manager, TextChoices, fields are not models; its Model is one).
    for local, (module, _) in imports.names.items():
        if (
            module.rpartition(".")[2] == "models"
            and not module.startswith("django.")
            and not local.endswith("Mixin")
        ):
            known.setdefault(local, None)
    for cls in tree.root_node.named_children:
        if cls.type == "decorated_definition":
            cls = cls.child_by_field_name("definition") or cls
        if cls.type == "class_definition":
            declared = _model(cls, source, found, matcher, known, imports)
            body = cls.child_by_field_name("body")
            if declared is not None and body is not None:
                _relations(body, declared, source, found, matcher, known, imports)
    managers = [r for r in found.declarations if isinstance(r, DjangoManager)]
    if managers:
        _manager_rows(tree, source, found, managers)


def django_settings(tree: Tree, source: Source, found: Found) -> None:
    """`AUTH_USER_MODEL = "accounts.User"` at a settings module's top: DjangoUserModel."""
    if b"AUTH_USER_MODEL" not in source.data:
        return
    for _, left, right in block_assignments(tree.root_node):
        literal = _string(right, source) if source.text(left) == "AUTH_USER_MODEL" else None
        if literal is not None and literal.text.count(".") == 1:
            app, name = literal.text.split(".")
            found.record(DjangoUserModel(name, app, source.path))


def _manager_rows(tree: Tree, source: Source, found: Found, managers: list[DjangoManager]) -> None:
    """The methods of this file's manager classes returning one row of their model (`return
    self.get(…)`, `self.create(…)`, `self.filter(…).first()`, `self.get_or_create(…)[0]`, or a
    name bound to one): DjangoManagerRow."""
    classes = {}
    for node in tree.root_node.named_children:
        if node.type == "decorated_definition":
            node = node.child_by_field_name("definition") or node
        name = node.child_by_field_name("name") if node.type == "class_definition" else None
        if name is not None:
            classes[source.text(name)] = node
    for manager in managers:
        cls = classes.get(manager.name)
        body = cls.child_by_field_name("body") if cls is not None else None
        for method in body.named_children if body is not None else ():
            if method.type == "decorated_definition":
                method = method.child_by_field_name("definition") or method
            if method.type != "function_definition":
                continue
            name = method.child_by_field_name("name")
            returned = returned_values(method)
            if name is None or not returned or name.text == b"get_queryset":
                continue
            for many in (False, True):
                if all(_self_row(value, method, source, many) for value in returned):
                    found.record(DjangoManagerRow(source.text(name), manager.model, many))


def _self_row(value: Node, method: Node, source: Source, many: bool, depth: int = 0) -> bool:
    """Does VALUE (returned by the manager's METHOD) give one row of the manager's model
    (MANY: a queryset of its rows)?"""
    if value.type == "identifier" and depth < 3:
        name = source.text(value)
        bound = [
            a.child_by_field_name("right")
            for a in nodes_under(method, ("assignment",))
            if (left := a.child_by_field_name("left")) is not None and source.text(left) == name
        ]
        return bool(bound) and all(
            b is not None and _self_row(b, method, source, many, depth + 1) for b in bound
        )
    first = False
    if value.type == "subscript":  # self.get_or_create(…)[0]
        index = value.child_by_field_name("subscript")
        first = index is not None and source.text(index) == "0"
        value = value.child_by_field_name("value") or value
    if value.type != "call":
        return False
    function = value.child_by_field_name("function")
    if function is None or function.type != "attribute":
        return False
    called = source.text(function.child_by_field_name("attribute") or function)
    if many:
        if called not in SELF_ROWS_METHODS or first:
            return False
    elif called not in SELF_ROW_METHODS and not (first and called in PAIR_METHODS):
        return False
    root = function.child_by_field_name("object")
    while root is not None and root.type in ("call", "attribute"):
        inner = root.child_by_field_name("function") if root.type == "call" else root
        root = inner.child_by_field_name("object") if inner is not None else None
    return root is not None and source.text(root) == "self"


SELF_ROW_METHODS = {"get", "create", "first", "last", "latest", "earliest"}
PAIR_METHODS = {"get_or_create", "update_or_create"}
SELF_ROWS_METHODS = {"filter", "exclude", "all", "order_by", "select_related", "prefetch_related",
                     "annotate", "distinct", "only", "defer", "get_queryset"}  # fmt: skip


def _second(values: list[Node]) -> Node | None:
    return values[1] if len(values) > 1 else None


def _on_delete(node: Node | None, source: Source) -> str | None:
    """`models.CASCADE` → CASCADE; `models.SET(…)` → SET."""
    if node is None:
        return None
    if node.type == "call":
        node = node.child_by_field_name("function") or node
    return source.text(node).rpartition(".")[2] or None


def _manager_class(function: Node, arguments: Node, source: Source) -> str | None:
    """The class of `HeroManager()`, `HeroQuerySet.as_manager()`,
    `models.Manager.from_queryset(HeroQuerySet)()` (a model's manager), if it is one."""
    text = source.text(function)
    last = text.rpartition(".")[2]
    if function.type == "identifier" and last.endswith(("Manager", "QuerySet")):
        return None if last == "Manager" else last
    if function.type == "attribute" and last == "as_manager":
        obj = function.child_by_field_name("object")
        return source.text(obj).rpartition(".")[2] if obj is not None else None
    if function.type == "call":  # Manager.from_queryset(QS)()
        inner = function.child_by_field_name("function")
        args = function.child_by_field_name("arguments")
        if inner is not None and args is not None and source.text(inner).endswith("from_queryset"):
            values = positional(args.named_children)
            return source.text(values[0]).rpartition(".")[2] if values else None
    return None


def _model(cls: Node, source: Source, found: Found, matcher, known, imports) -> Declared | None:
    name, body = cls.child_by_field_name("name"), cls.child_by_field_name("body")
    bases = cls.child_by_field_name("superclasses")
    if name is None or body is None or bases is None:
        return None
    base_names = [source.text(b).rpartition(".")[2] for b in positional(bases.named_children)]
    parents = [known[b] for b in base_names if b in known]
    if not parents and not any(b.endswith("Model") or b.startswith("Abstract") for b in base_names):
        return None
    meta = _meta(body, source)
    class_name = source.text(name)
    if _true(meta.get("abstract"), source):
        known[class_name] = None
        return None
    label = _string(meta.get("app_label"), source)
    app = label.text if label is not None else app_label(source.path)
    table = _string(meta.get("db_table"), source)
    if table is not None:
        qualified, offset = table.text, table.offset_of(0)
    elif _true(meta.get("proxy"), source) and any(p is not None for p in parents):
        parent = next(p for p in parents if p is not None)
        qualified, offset = parent.table, name.start_byte
    elif app is not None:
        qualified, offset = f"{app}_{class_name.lower()}", name.start_byte
    else:
        return None
    declared = Declared("django", class_name, qualified, source.path, app)
    known[class_name] = declared
    found.declaration(offset, declared, matcher)
    if not _true(meta.get("proxy"), source):
        # multi-table inheritance (`class Restaurant(Place)`): a model base's rows are joined
        for base in positional(bases.named_children):
            text = source.text(base)
            last = text.rpartition(".")[2]
            if base.type not in ("identifier", "attribute") or last in (
                "Model",
                "TimeStampedModel",
            ):
                continue
            module = imports.names[text][0] if text in imports.names else None
            if base.type == "attribute":
                module = imports.namespaces.get(text.rpartition(".")[0], module)
            named = Named(imports.names[text][1] if text in imports.names else last, module)
            found.record(Subclass("django", class_name, named, source.path, qualified))
    return declared


def _relations(body: Node, declared: Declared, source: Source, found: Found, matcher, known,
               imports: Imports) -> None:  # fmt: skip
    """The relation fields of the model DECLARED (`project = models.ForeignKey(Project, …)`);
    the implicit join table of a many-to-many field is declared there (a `model` reference)."""
    for call in class_field_calls(body):
        left, arguments = call.name, call.arguments
        kind = RELATION_FIELDS.get(source.text(call.function).rpartition(".")[2])
        if kind is None:
            manager = _manager_class(call.function, arguments, source)
            if manager is not None:
                found.declarations.append(DjangoManager(manager, declared))
            if manager is not None or source.text(call.function).endswith(".Manager"):
                attribute = source.text(left)
                if attribute not in MANAGERS:
                    found.declarations.append(DjangoManagerAttribute(attribute, declared))
            continue
        args = [a for a in arguments.named_children if a.type != "comment"]
        options, values = keyword_arguments(args, source), positional(args)
        to = options.get("to") or (values[0] if values else None)
        target = _target(to, declared, source, known, imports) if to is not None else None
        if target is None:
            continue
        field = source.text(left)
        related, query = (
            _string(options.get("related_name"), source),
            _string(options.get("related_query_name"), source),
        )
        through, through_table, symmetrical = None, None, False
        if kind == "m2m":
            via = options.get("through")
            if via is not None:
                through = _through(via, declared, source, known, imports)
                if through is None:
                    continue
            else:
                table = _string(options.get("db_table"), source)
                through_table = table.text if table is not None else f"{declared.table}_{field}"
                matched = matcher.match_text(through_table)
                if matched is not None:
                    offset = table.offset_of(0) if table is not None else left.start_byte
                    found.reference(offset, matched, "model", (), "django")
            symmetrical = target == (declared.name, declared.app) and (
                source.text(options["symmetrical"]) != "False" if "symmetrical" in options else True
            )
        found.declarations.append(
            DjangoRelation(
                declared,
                field,
                kind,
                target[0],
                target_app=target[1],
                related_name=related.text if related is not None else None,
                related_query_name=query.text if query is not None else None,
                through=through,
                through_table=through_table,
                symmetrical=symmetrical,
                on_delete=_on_delete(options.get("on_delete") or _second(values), source),
            )
        )


def _target(node: Node, declared: Declared, source: Source, known, imports: Imports):
    """(class name, app label or None) of the model a relation field points to: `Project`,
    `'Project'` (the declaring app's), `'teams.Project'`, `'self'`, `settings.AUTH_USER_MODEL`
    or `get_user_model()` (a model named User)."""
    literal = _string(node, source)
    if literal is not None:
        if literal.text == "self":
            return declared.name, declared.app
        app, dot, name = literal.text.rpartition(".")
        return (name, app) if dot else (name, declared.app)
    text = source.text(node)
    if text.endswith("AUTH_USER_MODEL") or text.replace(" ", "") in (
        "get_user_model()",
        "auth.get_user_model()",
    ):
        return "User", None
    if node.type == "identifier":
        model = known.get(text)
        if model is not None:
            return text, model.app
        if text in imports.names:
            module, original = imports.names[text]
            return original, _module_app(module, source.path)
        return text, None
    if node.type == "attribute":
        obj, attribute = node.child_by_field_name("object"), node.child_by_field_name("attribute")
        if obj is None or attribute is None:
            return None
        module = imports.namespaces.get(source.text(obj))
        return source.text(attribute), _module_app(module, source.path) if module else None
    return None


def _through(node: Node, declared: Declared, source: Source, known, imports) -> str | None:
    """A many-to-many field's `through=` model as `app.Model` or `Model`."""
    literal = _string(node, source)
    if literal is not None:
        return literal.text
    target = _target(node, declared, source, known, imports)
    if target is None:
        return None
    name, app = target
    return f"{app}.{name}" if app else name


def _module_app(module: str, path: str) -> str | None:
    """The app of a models module: `accounts.models` → accounts, `.models` → this file's."""
    parts = module.lstrip(".").split(".")
    if "models" not in parts:
        return None
    index = parts.index("models")
    if index:
        return parts[index - 1]
    return app_label(path) if module.startswith(".") else None


def _meta(body: Node, source: Source) -> dict[str, Node]:
    for statement in body.named_children:
        if statement.type != "class_definition":
            continue
        name, inner = statement.child_by_field_name("name"), statement.child_by_field_name("body")
        if name is None or inner is None or source.text(name) != "Meta":
            continue
        values = {}
        for line in inner.named_children:
            assignment = line.named_children[0] if line.named_children else None
            if assignment is None or assignment.type != "assignment":
                continue
            left, right = (
                assignment.child_by_field_name("left"),
                assignment.child_by_field_name("right"),
            )
            if left is not None and right is not None:
                values[source.text(left)] = right
        return values
    return {}


def _true(node: Node | None, source: Source) -> bool:
    return node is not None and source.text(node) == "True"


def _string(node: Node | None, source: Source):
    value = string_value(node, source) if node is not None else None
    return value if value is not None and not value.holes else None


# --- uses --------------------------------------------------------------------------------------


def django_uses(chain: Chain, graph: DjangoGraph, found: Found, matcher: TableMatcher) -> bool:
    """A use of a model in CHAIN: `M.objects…`, `get_object_or_404(M, …)`, a relation manager
    (`project.member_set.all()`), a queryset held in a name (`stale.delete()`), a row's
    `save()` / `delete()` / `refresh_from_db()`."""
    links = chain.links
    if not links or not graph.active:
        return False
    root, source = chain.root, graph.source
    hop = _hops(chain, graph, found, matcher)  # index of the relation followed, if any
    if root.type == "identifier" and graph.is_manager(links[0].name):
        declared = graph.model_class(root)
        if declared is not None:  # the calls before the relation are the model's
            calls = _calls(chain, 1, hop)
            _report(declared, operations_of(calls, source), root, found, matcher, graph)
            graph.lookups(declared, calls, found, matcher)
            return True
    if root.type == "identifier" and links[0].name is None and source.text(root) in SHORTCUTS:
        return _shortcut(chain, graph, found, matcher, hop) or hop is not None
    if hop is not None:
        return True
    if root.type == "identifier" and links[0].name in MANAGER_METHODS:
        rows = graph.rows(root)  # a queryset held in a name: `stale.delete()`
        if rows is not None:
            calls = _calls(chain, 1)
            _report(rows, operations_of(calls, source), root, found, matcher, graph)
            graph.lookups(rows, calls, found, matcher)
            return True
    if len(links) >= 2 and links[-2].name in ROW_CALLS and links[-1].name is None:
        receiver = links[-2].node.child_by_field_name("object")
        if receiver is None or receiver.type not in ("identifier", "attribute", "subscript"):
            return False
        if source.text(receiver) == "self":  # a new row or a stored one: not known
            return False
        row = graph.row(receiver)
        if row is None or row.model is None:
            return False
        method = links[-2].name
        if method == "save":
            operations: tuple[str, ...] = ("insert",) if row.new else ("update",)
        else:
            operations = ROW_CALLS[method or ""]
        at = receiver.child_by_field_name("attribute") if receiver.type == "attribute" else None
        _report(row.model, operations, at or receiver, found, matcher, graph)
        return True
    return False


ROW_CALLS: dict[str, tuple[str, ...]] = {
    "save": ("update",),
    "delete": ("delete",),
    "refresh_from_db": ("select",),
}


def _calls(chain: Chain, start: int, end: int | None = None) -> list[ChainCall]:
    return [call for i, call in chain.method_calls(start) if end is None or i < end]


def _shortcut(chain: Chain, graph: DjangoGraph, found: Found, matcher: TableMatcher, hop) -> bool:
    """`get_object_or_404(M, …)`, `get_list_or_404(project.member_set, …)`,
    `get_object_or_404(stale, …)` (a queryset held in a name): a read of the model's table (the
    first argument may also be a queryset, a use of its own)."""
    args = chain.links[0].args
    values = positional(args)
    if not values:
        return False
    first = values[0]
    operations = operations_of(_calls(chain, 1, hop), graph.source)
    manager = graph.manager(first)
    if manager is not None and manager[1] is not None:
        attribute = first.child_by_field_name("attribute") or first
        for table, operation in hop_operations(manager[1], (), graph.source):
            _report_table(table, operation, attribute, found, matcher)
        graph.lookups(manager[0], [ChainCall("filter", tuple(args[1:]))], found, matcher)
        return True
    declared = manager[0] if manager is not None else graph.model_class(first)
    if declared is None and first.type == "identifier":  # a queryset held in a name
        declared = graph.rows(first)
    if declared is None:
        return False
    at = first.child_by_field_name("object") if manager is not None else first
    _report(declared, operations, at or first, found, matcher, graph)
    graph.lookups(declared, [ChainCall("filter", tuple(args[1:]))], found, matcher)
    return True


def _hops(chain: Chain, graph: DjangoGraph, found: Found, matcher: TableMatcher) -> int | None:
    """The first relation accessor of CHAIN followed by a call: `project.member_set.filter(…)
    .update(…)` (a manager: the operations of the calls), `user.profile.save()` (one row).
    Returns the accessor's link index."""
    links = chain.links
    if not graph.accessors:
        return None
    for index, link in enumerate(links):
        if link.name is None or link.name not in graph.accessors:
            continue
        after = links[index + 1] if index + 1 < len(links) else None
        if after is None or after.name is None:
            continue
        receiver = link.node.child_by_field_name("object")
        attribute = link.node.child_by_field_name("attribute")
        if receiver is None or attribute is None:
            continue
        hop = graph.hop(receiver, link.name)
        if hop is None:
            continue
        if hop.many:
            called = index + 2 < len(links) and links[index + 2].name is None
            if after.name not in MANAGER_METHODS or not called:
                continue
            calls = _calls(chain, index + 1)
            for table, operation in hop_operations(hop, calls, graph.source):
                _report_table(table, operation, attribute, found, matcher)
            if hop.rows is not None:
                graph.lookups(hop.rows, calls, found, matcher)
            return index
        if hop.rows is None:
            continue
        operations = ("select",)
        if index + 2 < len(links) and links[index + 2].name is None and after.name in ROW_CALLS:
            operations = ROW_CALLS[after.name]
        _report(hop.rows, operations, attribute, found, matcher, graph)
        return index
    return None


def _report(declared: Declared, operations, node: Node, found: Found, matcher, graph=None) -> None:
    for operation in operations:
        _report_table(declared.table, operation, node, found, matcher)
    if "delete" in operations and graph is not None and graph.models is not None:
        for table, operation in cascades(graph.models, declared):
            _report_table(table, operation, node, found, matcher)


def _report_table(table: str, operation: str, node: Node, found: Found, matcher) -> None:
    matched = matcher.match_text(table)
    if matched is not None:
        found.reference(node.start_byte, matched, operation, (), "django")
    found.inherited(node.start_byte, table, (operation,), "django", matcher)


# --- migrations --------------------------------------------------------------------------------


def django_migrations(
    chain: Chain, source: Source, found: Found, matcher: TableMatcher, models=None
) -> bool:
    """`migrations.CreateModel(…)` and the other operations on a model's table."""
    links = chain.links
    if chain.root.type != "identifier" or source.text(chain.root) != "migrations":
        return False
    if len(links) < 2 or links[0].name not in MIGRATION_MODEL_ARGS or links[1].name is not None:
        return False
    operation, args = links[0].name or "", links[1].args
    options = keyword_arguments(args, source)
    values = positional(args)
    name_node = options.get(MIGRATION_MODEL_ARGS[operation]) or (values[0] if values else None)
    model = _string(name_node, source)
    if model is None or name_node is None:
        return True
    app = app_label(source.path)
    if operation in ("CreateModel", "AddField", "AlterField"):
        _migration_relations(args, app, source, found, matcher, models)
    declared = _migration_table(model.text, app, options, source, models)
    if declared is None:
        return True
    table_text, offset = declared
    if offset is None:
        offset = model.offset_of(0)
    table = matcher.match_text(table_text)
    if table is None:
        return True
    columns: tuple[str, ...] = ()
    if operation in FIELD_OPERATIONS:
        field = _string(options.get("name") or (values[1] if len(values) > 1 else None), source)
        columns = (field.text,) if field is not None else ()
    found.reference(offset, table, "ddl", columns, "django")
    return True


def _migration_relations(args, app: str | None, source: Source, found: Found, matcher, models):
    """The relation fields a migration adds (`models.ForeignKey(to='accounts.user', …)`): DDL
    that points a foreign key at the related model's table (`settings.AUTH_USER_MODEL`, a
    setting, is not known)."""
    stack = list(args)
    while stack:
        node = stack.pop()
        stack.extend(node.named_children)
        if node.type != "call":
            continue
        function = node.child_by_field_name("function")
        arguments = node.child_by_field_name("arguments")
        kind = source.text(function).rpartition(".")[2] if function is not None else ""
        if kind not in RELATION_FIELDS or arguments is None:
            continue
        literal = _string(keyword_arguments(arguments.named_children, source).get("to"), source)
        if literal is None or "." not in literal.text:
            continue
        label, _, name = literal.text.partition(".")
        target = _migration_table(name, label or app, {}, source, models)
        table = matcher.match_text(target[0]) if target is not None else None
        if table is not None:
            found.reference(literal.offset_of(0), table, "ddl", (), "django")


def _migration_table(model: str, app: str | None, options, source: Source, models):
    """(table, offset of its literal or None) a migration operation acts on."""
    for key in ("table",):  # AlterModelTable(name=…, table='t')
        literal = _string(options.get(key), source)
        if literal is not None:
            return literal.text, literal.offset_of(0)
    settings = options.get("options")
    if settings is not None and settings.type == "dictionary":
        literal = _string(keyword_arguments([settings], source).get("db_table"), source)
        if literal is not None:
            return literal.text, literal.offset_of(0)
    if models:
        for declared in models.of(("django",)):
            if declared.name.lower() == model.lower() and declared.app == app:
                return declared.table, None
    if app is None:
        return None
    return f"{app}_{model.lower()}", None
