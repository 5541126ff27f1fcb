"""Django: models (`class Meta: db_table = 't'`, else the implicit `<app_label>_<model>`: the
app label is `Meta.app_label` or the name of the app's directory, the one holding `models.py` or
the `models/` package; abstract models have no table, proxy models use their parent's), their
uses (`Model.objects.filter/get/all/create/update/delete/bulk_create/update_or_create/
get_or_create…`, `instance.save()` / `.delete()` where the instance is made in the same
function), and schema migrations (`migrations.CreateModel(name=…, options={'db_table': …})`,
`AlterField`, `AddField`, `DeleteModel`, … ; `RunSQL` is parsed as SQL)."""

from __future__ import annotations

import posixpath

from tree_sitter import Node, Tree

from migverify.scan.bindings import Bindings
from migverify.scan.chains import Chain
from migverify.scan.found import Found
from migverify.scan.orm import Declared, FileModels, keyword_arguments, positional
from migverify.scan.source import Source, string_value
from migverify.scan.tables import TableMatcher

MANAGERS = {"objects", "_default_manager", "_base_manager"}
WRITES: dict[str, tuple[str, ...]] = {
    "update": ("update",),
    "delete": ("delete",),
    "create": ("insert",),
    "bulk_create": ("insert",),
    "get_or_create": ("insert",),
    "update_or_create": ("update", "insert"),
    "bulk_update": ("update",),
    "select_for_update": ("lock",),
}
# What a model instance is bound to: `M(…)` is a new row (save() inserts), a row read with one of
# these is an existing one (save() updates).
READS = {
    "get",
    "first",
    "last",
    "latest",
    "earliest",
    "create",
    "get_or_create",
    "update_or_create",
}
MIGRATION_MODEL_ARGS = {
    "CreateModel": "name", "DeleteModel": "name", "AlterModelTable": "name",
    "AlterModelOptions": "name", "AlterUniqueTogether": "name", "AlterIndexTogether": "name",
    "AlterModelManagers": "name", "AlterOrderWithRespectTo": "name", "AddField": "model_name",
    "RemoveField": "model_name", "AlterField": "model_name", "RenameField": "model_name",
    "AddIndex": "model_name", "RemoveIndex": "model_name", "RenameIndex": "model_name",
    "AddConstraint": "model_name", "RemoveConstraint": "model_name", "RenameModel": "old_name",
}  # fmt: skip
FIELD_OPERATIONS = {"AddField", "RemoveField", "AlterField", "RenameField"}


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
    for cls in tree.root_node.named_children:
        if cls.type == "decorated_definition":
            cls = cls.child_by_field_name("definition") or cls
        if cls.type == "class_definition":
            _model(cls, source, found, matcher, known)


def _model(cls: Node, source: Source, found: Found, matcher, known) -> None:
    name, body = cls.child_by_field_name("name"), cls.child_by_field_name("body")
    bases = cls.child_by_field_name("superclasses")
    if name is None or body is None or bases is None:
        return
    base_names = [source.text(b).rpartition(".")[2] for b in positional(bases.named_children)]
    parents = [known[b] for b in base_names if b in known]
    if not parents and not any(b.endswith("Model") or b.startswith("Abstract") for b in base_names):
        return
    meta = _meta(body, source)
    class_name = source.text(name)
    if _true(meta.get("abstract"), source):
        known[class_name] = None
        return
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
        return
    declared = Declared("django", class_name, qualified, source.path, app)
    known[class_name] = declared
    found.declaration(offset, declared, matcher)


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


def django_uses(
    chain: Chain,
    source: Source,
    files: FileModels,
    bindings: Bindings,
    found: Found,
    matcher: TableMatcher,
) -> bool:
    links = chain.links
    if chain.root.type != "identifier" or not links:
        return False
    if links[0].name in MANAGERS:
        declared = files.resolve(("django",), chain.root, source)
        if declared is None:
            return False
        operations = _operations(chain, source)
        _report(declared, operations, chain.root, found, matcher)
        return True
    if len(links) == 2 and links[0].name in ("save", "delete") and links[1].name is None:
        declared = _instance_of(chain.root, source, files, bindings)
        if declared is None:
            return False
        model, existing = declared
        if links[0].name == "delete":
            operations: tuple[str, ...] = ("delete",)
        else:
            operations = ("update",) if existing else ("insert",)
        _report(model, operations, chain.root, found, matcher)
        return True
    return False


def _operations(chain: Chain, source: Source) -> tuple[str, ...]:
    operations: list[str] = []
    for _, call in chain.method_calls():
        if call.method == "bulk_create" and "update_conflicts" in keyword_arguments(
            call.args, source
        ):
            operations.append("upsert")
        elif call.method in WRITES:
            operations += WRITES[call.method]
    return tuple(dict.fromkeys(operations)) or ("select",)


def _instance_of(identifier: Node, source: Source, files: FileModels, bindings: Bindings):
    """(model, read from the table) of a name bound once in this scope to `M(…)` or to a row
    read through `M.objects`."""
    bound = bindings.values(identifier)
    if not bound or len(bound) != 1:
        return None
    value = bound[0].value
    if value.type == "subscript":  # obj, created = M.objects.get_or_create(…) is a tuple
        value = value.child_by_field_name("value") or value
    if value.type != "call":
        return None
    function = value.child_by_field_name("function")
    if function is None:
        return None
    if function.type == "identifier":
        declared = files.resolve(("django",), function, source)
        return (declared, False) if declared is not None else None
    node, methods = function, []
    while node.type in ("attribute", "call"):  # M.objects.filter(…).first → first, filter, …
        if node.type == "attribute":
            attribute = node.child_by_field_name("attribute")
            methods.append(source.text(attribute) if attribute is not None else "")
            inner = node.child_by_field_name("object")
        else:
            inner = node.child_by_field_name("function")
        if inner is None:
            return None
        node = inner
    if node.type != "identifier" or "objects" not in methods or methods[0] not in READS:
        return None
    declared = files.resolve(("django",), node, source)
    return (declared, True) if declared is not None else None


def _report(declared: Declared, operations, node: Node, found: Found, matcher) -> None:
    table = matcher.match_text(declared.table)
    if table is None:
        return
    for operation in operations:
        found.reference(node.start_byte, table, operation, (), "django")


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
