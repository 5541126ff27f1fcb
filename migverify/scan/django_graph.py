"""Django's model graph in Python code: which model's rows an expression holds, and the tables
reached through relations.

- A **row** (a model instance): `M(…)` (a new row), `M.objects.get/first/last/create…(…)`,
  `get_object_or_404(M, …)`, `qs[0]`, the variable of `for m in <queryset>:` (or of a
  comprehension), a one-to-one reverse accessor (`user.profile`), a forward foreign key of a row
  (`member.project`), `self` in a model's method, a name bound once to one of those.
- A **queryset**: `M.objects.filter/all/order_by…(…)`, a relation manager's (`project.member_set
  .all()`), `get_list_or_404(M, …)`, a name bound once to one.
- A **model class**: a model's name (resolved across files), or a name bound to
  `apps.get_model('app', 'Model')` (data migrations; without the model among the scanned ones,
  its implicit table `<app>_<model>`).
- A **hop**: `<row>.<accessor>` where the accessor is a reverse relation of the row's model
  (`member_set`, a `related_name`) or one of its many-to-many fields. When what the receiver
  holds is not known (a parameter, `request.user`), the accessor's name decides if it belongs to
  one relation only; a receiver known to be something else (a literal, an instance of a class
  that is not a model, an imported module, a row of a model without that accessor) is not one.
- **Lookups** (`filter(member__role=…)`, `Q(…)`, `select_related('project')`,
  `prefetch_related('member_set')`, `order_by`, `values`, `Count('member')`, `F(…)`): the tables
  the joins they make read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import ahocorasick_rs
from tree_sitter import Node, Tree

from migverify.scan.bindings import Bindings
from migverify.scan.chains import ChainCall
from migverify.scan.found import Found
from migverify.scan.orm import (
    Declared,
    DjangoRelation,
    FileModels,
    Models,
    class_attributes,
    classmethod_class,
    enclosing_class,
    function_of,
    keyword_arguments,
    module_functions,
    module_leads_to,
    nodes_of,
    parameter_annotation,
    positional,
    returned_values,
    single_annotated_name,
    snake_case,
)
from migverify.scan.source import Source, string_value
from migverify.scan.tables import TableMatcher
from migverify.scan.walk import IDENTIFIER_BYTES

MANAGERS = {"objects", "_default_manager", "_base_manager"}
PERFORMS = {"perform_create", "perform_update"}
REQUESTS = {
    "request",
    "self.request",
    "info.context",
}  # whose `.user` is the signed-in user  # DRF views' hooks given a serializer
# A getter of one model's row by its name: get_member, fetch_member_by_email, member_get
PAIRS = ("get_or_create", "update_or_create")  # (row, created)
GETTER = re.compile(
    r"(?:get|fetch|load|find|retrieve)_([a-z][a-z0-9_]*?)(?:_or_404|_by_[a-z0-9_]+)?"
    r"|([a-z][a-z0-9_]*?)_get"
)
MAX_DEPTH = 8
# Methods of a manager returning a queryset of the same model.
QUERYSET_METHODS = {
    "all", "filter", "exclude", "order_by", "select_related", "prefetch_related", "annotate",
    "alias", "distinct", "only", "defer", "none", "reverse", "using", "select_for_update",
    "get_queryset", "iterator",
}  # fmt: skip
# … returning one row (a tuple for get_or_create / update_or_create: `[0]` is the row).
ROW_METHODS = {
    "get", "first", "last", "latest", "earliest", "create", "get_or_create", "update_or_create",
}  # fmt: skip
# What follows a relation manager (`project.member_set.<method>(…)`): anything else is not one.
MANAGER_METHODS = QUERYSET_METHODS | ROW_METHODS | {
    "count", "exists", "values", "values_list", "aggregate", "in_bulk", "contains", "dates",
    "datetimes", "update", "delete", "bulk_create", "bulk_update", "add", "remove", "clear", "set",
}  # fmt: skip
# Manager methods that write the join table of a many-to-many relation (or, for a reverse
# foreign key, update the related rows' key).
LINKS = {
    "add": ("insert",),
    "remove": ("delete",),
    "clear": ("delete",),
    "set": ("delete", "insert"),
}
# Calls whose keyword arguments (and Q objects) are lookups; whose strings are lookups (query
# names) or accessor paths (select_related / prefetch_related).
LOOKUP_CALLS = {"filter", "exclude", "get", "get_or_create", "update_or_create"}
QUERY_PATH_CALLS = {"order_by", "values", "values_list", "annotate", "aggregate", "alias"}
ACCESSOR_PATH_CALLS = {"select_related", "prefetch_related"}
EXPRESSIONS = {"Count", "Sum", "Avg", "Min", "Max", "StdDev", "Variance", "F", "ArrayAgg"}
NOT_LOOKUPS = {"defaults", "create_defaults"}
# Lookups and transforms: the segment after a foreign key that does not join its table.
OPERATORS = {
    "exact", "iexact", "contains", "icontains", "in", "gt", "gte", "lt", "lte", "startswith",
    "istartswith", "endswith", "iendswith", "range", "isnull", "regex", "iregex", "pk", "id",
}  # fmt: skip
SHORTCUTS = {"get_object_or_404", "get_list_or_404"}
# Expressions that are never a model instance.
LITERALS = {
    "string", "concatenated_string", "integer", "float", "true", "false", "none", "list",
    "tuple", "dictionary", "set", "list_comprehension", "dictionary_comprehension",
    "set_comprehension", "lambda", "comparison_operator", "not_operator", "boolean_operator",
}  # fmt: skip
_WRAPPERS = {"parenthesized_expression", "await"}


@dataclass(frozen=True)
class Row:
    """What an expression holds: a row of MODEL (NEW: made in code, not read), or (MODEL None)
    something known not to be a model instance."""

    model: Declared | None
    new: bool = False


NOT_A_ROW = Row(None)


@dataclass(frozen=True)
class Hop:
    """`<row>.<accessor>`: the relation it follows, the model of the rows it reaches (None: not
    among the scanned models), the join table of a many-to-many relation, and whether it is a
    manager (else one related row)."""

    relation: DjangoRelation
    rows: Declared | None
    through: str | None
    many: bool


def hop_from(models: Models, model: Declared, name: str) -> Hop | None:
    """The relation named NAME on the rows of MODEL."""
    for relation in models.reverse(model):
        if relation.accessor == name:
            return _reverse_hop(models, relation)
    for relation in models.forward(model):
        if relation.kind == "m2m" and relation.field == name:
            return Hop(relation, models.target(relation), models.through(relation), True)
    return None


def _hops_named(models: Models, name: str) -> list[Hop]:
    """Every relation whose accessor (or many-to-many field) is NAME, as a hop."""
    hops = []
    for relation in models.by_accessor(name):
        if relation.accessor == name:
            hops.append(_reverse_hop(models, relation))
        if relation.kind == "m2m" and relation.field == name:
            hops.append(Hop(relation, models.target(relation), models.through(relation), True))
    return hops


def hop_by_name(models: Models, name: str) -> Hop | None:
    """The relation whose accessor is NAME, when only one (by the tables it reaches) is."""
    hops = _hops_named(models, name)
    outcomes = {(h.rows.table if h.rows else None, h.through, h.many) for h in hops}
    return hops[0] if len(outcomes) == 1 else None


def rows_by_name(models: Models, name: str) -> tuple[Declared, bool] | None:
    """(model, many) of the rows every relation whose accessor is NAME reaches, when they all
    reach one model's rows the same way (a foreign key and a many-to-many field to one model
    both give it `book_set`), though their join tables differ."""
    outcomes = {(h.rows, h.many) for h in _hops_named(models, name)}
    if len(outcomes) != 1:
        return None
    rows, many = outcomes.pop()
    return (rows, many) if rows is not None else None


# What deleting a row does to the rows pointing to it, by the foreign key's on_delete (Django
# emulates them: it selects the related rows and deletes or updates them itself).
ON_DELETE = {
    "CASCADE": "delete", "SET_NULL": "update", "SET_DEFAULT": "update", "SET": "update",
    "PROTECT": "select", "RESTRICT": "select",
}  # fmt: skip


def cascades(models: Models, model: Declared) -> list[tuple[str, str]]:
    """(table, operation) of what deleting rows of MODEL does to other tables: the rows of a
    foreign key with `on_delete=CASCADE` are deleted (and theirs, down the graph), with
    SET_NULL / SET_DEFAULT / SET(…) updated, with PROTECT / RESTRICT read (the check); the
    join-table rows of its many-to-many relations are deleted."""
    found: dict[tuple[str, str], None] = {}
    todo, seen = [model], {model.table}
    while todo:
        current = todo.pop()
        for child in models.subclasses(current):  # its parent link cascades
            found[(child.table, "delete")] = None
            if child.table not in seen:
                seen.add(child.table)
                todo.append(child)
        for relation in models.forward(current):
            through = models.through(relation)
            if relation.kind == "m2m" and through is not None:
                found[(through, "delete")] = None
        for relation in models.reverse(current):
            if relation.kind == "m2m":
                through = models.through(relation)
                if through is not None:
                    found[(through, "delete")] = None
                continue
            operation = ON_DELETE.get(relation.on_delete or "")
            if operation is None:
                continue
            found[(relation.model.table, operation)] = None
            if operation == "delete" and relation.model.table not in seen:
                seen.add(relation.model.table)
                todo.append(relation.model)
    return list(found)


def _reverse_hop(models: Models, relation: DjangoRelation) -> Hop:
    return Hop(relation, relation.model, models.through(relation), relation.kind != "o2o")


def hop_operations(hop: Hop, calls: Sequence[ChainCall], source: Source) -> list[tuple[str, str]]:
    """(table, operation) of the calls made on a relation manager: the related rows' and, for
    a many-to-many relation, the join table's."""
    rows: list[str] = []
    through: list[str] = []
    m2m = hop.relation.kind == "m2m"
    for call in calls:
        if call.method in LINKS:
            if m2m:
                through += LINKS[call.method]
            else:  # a reverse foreign key: the rows' key is set (or cleared)
                rows.append("update")
            continue
        written = operations_of([call], source)
        if written != ("select",):
            rows += written
            if m2m and call.method in ("create", "get_or_create", "update_or_create"):
                through.append("insert")
    if not rows and not through:
        rows = ["select"]
    if m2m and rows and not through:
        through = ["select"]
    found = []
    if hop.rows is not None:
        found += [(hop.rows.table, op) for op in dict.fromkeys(rows)]
    if hop.through is not None:
        found += [(hop.through, op) for op in dict.fromkeys(through)]
    return found


WRITES: dict[str, tuple[str, ...]] = {
    "update": ("update",),
    "delete": ("delete",),
    "create": ("insert",),
    "bulk_create": ("insert",),
    # Django reads first (`get`), and update_or_create locks the row it reads (its
    # `select_for_update().get_or_create(…)`: SELECT … FOR UPDATE)
    "get_or_create": ("select", "insert"),
    "update_or_create": ("lock", "update", "insert"),
    "bulk_update": ("update",),
    "select_for_update": ("lock",),
}


def operations_of(calls: Iterable[ChainCall], source: Source) -> tuple[str, ...]:
    """The operations a chain of queryset calls performs (`select` when it only reads)."""
    operations: list[str] = []
    for call in calls:
        if call.method == "bulk_create" and "update_conflicts" in keyword_arguments(
            call.args, source
        ):
            operations.append("upsert")
        elif call.method in WRITES:
            operations += WRITES[call.method]
    return tuple(dict.fromkeys(operations)) or ("select",)


def lookup_tables(models: Models, model: Declared, path: str, accessors: bool) -> list[str]:
    """The tables the joins of a lookup PATH (`member__user__profile__bio`) from MODEL read:
    a reverse relation always joins; a forward foreign key only when a field of its model
    follows (not `pk`, `id` or an operator); a many-to-many relation joins its table, and the
    related model's when a field of it follows. With ACCESSORS (select_related,
    prefetch_related) the names are accessors and the last one reads its rows too."""
    segments = path.split("__")
    tables: list[str] = []
    current: Declared | None = model
    for index, segment in enumerate(segments):
        if current is None:
            break
        after = segments[index + 1] if index + 1 < len(segments) else None
        reads = (after is None and accessors) or (after is not None and after not in OPERATORS)
        step = _step(models, current, segment, accessors)
        if step is None:
            break
        relation, reverse = step
        if relation.kind == "m2m":
            through = models.through(relation)
            if through is not None:
                tables.append(through)
        rows = relation.model if reverse else models.target(relation)
        if not (reverse and relation.kind != "m2m" or reads):
            break
        if rows is None:  # a model not among the scanned ones (auth's User): its relations
            current = Declared("django", relation.target, "", "", relation.target_app)
            continue
        tables.append(rows.table)
        current = rows
    return tables


def _step(models: Models, model: Declared, name: str, accessors: bool):
    for relation in models.forward(model):
        if relation.field == name:
            return relation, False
    for relation in models.reverse(model):
        if (relation.accessor if accessors else relation.query_name) == name:
            return relation, True
    return None


class DjangoGraph:
    """Row, queryset and model-class resolution for one Python file."""

    def __init__(
        self,
        source: Source,
        bindings: Bindings,
        files: FileModels | None,
        matcher: TableMatcher,
        tree: Tree,
    ) -> None:
        self.source, self.bindings, self.files, self.tree = source, bindings, files, tree
        self.models = files.models if files is not None else None
        # Without the scanned models only data migrations' apps.get_model(…) names a model;
        # with them, nothing is looked for when no Django table is one of the legacy tables.
        migration = b"get_model" in source.data
        relevant = self.models is not None and self.models.django_tables_match(matcher)
        self.active = relevant or migration
        # Relation accessors are not Django's in a file of another ORM's models that names no
        # Django model (`post.tags` in a Flask view is SQLAlchemy's).
        django = relevant and (self._uses_orm("django") or not self._uses_orm(None))
        self.accessors = self.models.accessor_names() if django and self.models else frozenset()
        self._rows: dict[int, Row | None] = {}
        self._functions: dict[str, list[Node]] | None = None  # the module's, by name
        self._snake: dict[str, list[Declared]] | None = None  # Django models by snake_case name
        self._loop_names: set[str] | None = None

    def _uses_orm(self, orm: str | None) -> bool:
        """Does the file declare or import a model of ORM (None: of an ORM other than Django),
        or, for Django, name Django?"""
        files = self.files
        if files is None:
            return False
        if orm == "django" and b"django" in self.source.data:
            return True

        def wanted(declared: Declared) -> bool:
            return declared.orm == orm if orm else declared.orm != "django"

        models = files.models
        if any(wanted(d) and d.path == self.source.path for d in models.declarations):
            return True
        orms = (orm,) if orm else tuple({d.orm for d in models.declarations} - {"django"})
        if not orms:
            return False
        imports = files.imports
        return any(
            models.resolve(orms, name, imports, files.path) is not None for name in imports.names
        ) or any(
            wanted(d) and any(module_leads_to(m, files.path, d.path) for m in imports.stars)
            for d in models.declarations
        )

    # --- model classes -----------------------------------------------------------------

    def model_class(self, node: Node, depth: int = 0) -> Declared | None:
        """The model NODE names: `Member`, `models.Member`, a name bound to apps.get_model."""
        node = _unwrap(node)
        if self.files is not None:
            declared = self.files.resolve(("django",), node, self.source)
            if declared is not None:
                return declared
        if node.type == "identifier" and depth < MAX_DEPTH:
            bound = self.bindings.values(node)
            if bound and len(bound) == 1:
                return self.model_class(bound[0].value, depth + 1)
            if bound is None and self.files is not None and self.source.text(node) == "cls":
                name = classmethod_class(node, self.source)  # a model's class method
                return self.files.resolve(("django",), name, self.source) if name else None
        if node.type == "call":
            return self._get_model(node)
        return None

    def _get_model(self, call: Node) -> Declared | None:
        """`apps.get_model('app', 'Model')` / `apps.get_model('app.Model')`."""
        function, arguments = (
            call.child_by_field_name("function"),
            call.child_by_field_name("arguments"),
        )
        if function is None or arguments is None:
            return None
        if self.source.text(function).rpartition(".")[2] == "get_user_model":
            return self.models.auth_user() if self.models is not None else None
        if function.type != "attribute":
            return None
        attribute = function.child_by_field_name("attribute")
        if attribute is None or self.source.text(attribute) != "get_model":
            return None
        texts = [string_value(a, self.source) for a in positional(arguments.named_children)]
        if not texts or any(t is None or t.holes for t in texts[:2]):
            return None
        if len(texts) >= 2:
            app, name = texts[0].text, texts[1].text  # type: ignore[union-attr]
        else:
            app, _, name = texts[0].text.partition(".")  # type: ignore[union-attr]
        if not app or not name:
            return None
        if self.models is not None:
            declared = self.models.django_model(name, app)
            if declared is not None:
                return declared
        return Declared("django", name, f"{app}_{name.lower()}", self.source.path, app)

    def is_manager(self, name: str | None) -> bool:
        """Is NAME, an attribute of a model class, a manager: `objects`, Django's own, one a
        scanned model declares (`published = PublishedManager()`), or one named as managers are
        (`all_objects`, `issue_objects`: declared on a mixin outside the models modules)?"""
        if name in MANAGERS or (name is not None and name.endswith("_objects")):
            return True
        return self.models is not None and name in self.models.django_manager_attributes

    # --- querysets and rows --------------------------------------------------------------

    def manager(self, node: Node) -> tuple[Declared, Hop | None] | None:
        """`M.objects` (model M) or `<row>.<accessor>` (the rows' model and the hop)."""
        node = _unwrap(node)
        if node.type != "attribute":
            return None
        obj, attribute = node.child_by_field_name("object"), node.child_by_field_name("attribute")
        if obj is None or attribute is None:
            return None
        name = self.source.text(attribute)
        if self.is_manager(name):
            model = self.model_class(obj)
            return (model, None) if model is not None else None
        if name in self.accessors:
            hop = self.hop(obj, name)
            if hop is not None and hop.many and hop.rows is not None:
                return hop.rows, hop
        return None

    def rows(self, node: Node, depth: int = 0) -> Declared | None:
        """The model of the rows a queryset expression yields."""
        node = _unwrap(node)
        if depth > MAX_DEPTH:
            return None
        if node.type == "subscript":  # qs[:10]: a slice of a queryset is one
            value = node.child_by_field_name("value")
            subscript = node.child_by_field_name("subscript")
            if value is None or subscript is None or subscript.type != "slice":
                return None
            return self.rows(value, depth + 1)
        if node.type == "identifier":
            if self.source.text(node) == "self":  # in a model's manager or queryset class
                return self._manager_self(node)
            bound = self.bindings.values(node)
            if bound and len(bound) == 1:
                return self.rows(bound[0].value, depth + 1)
            return None
        if node.type != "call":
            return None
        function, arguments = (
            node.child_by_field_name("function"),
            node.child_by_field_name("arguments"),
        )
        if function is None or arguments is None:
            return None
        if function.type == "identifier" and self.source.text(function) == "get_list_or_404":
            return self._shortcut_model(arguments)
        if function.type != "attribute":
            return None
        obj, attribute = (
            function.child_by_field_name("object"),
            function.child_by_field_name("attribute"),
        )
        if obj is None or attribute is None:
            return None
        method = self.source.text(attribute)
        if method not in QUERYSET_METHODS:
            return self._manager_method(obj, method, many=True)  # Venue.objects.busiest()
        manager = self.manager(obj)
        if manager is not None:
            return manager[0]
        return self.rows(obj, depth + 1)

    def _manager_method(self, obj: Node, method: str, many: bool = False) -> Declared | None:
        """The model whose manager OBJ is, when its METHOD returns one of its rows (MANY: a
        queryset of them; orm.DjangoManagerRow)."""
        if self.models is None or method not in self.models.manager_row_names:
            return None
        manager = self.manager(obj)
        if manager is None or not self.models.manager_row(manager[0], method, many):
            return None
        return manager[0]

    def _shortcut_model(self, arguments: Node) -> Declared | None:
        values = positional(arguments.named_children)
        if not values:
            return None
        manager = self.manager(values[0])
        if manager is not None:
            return manager[0]
        return self.model_class(values[0]) or self.rows(values[0])

    def row(self, node: Node, depth: int = 0) -> Row | None:
        """What NODE holds: a row of a model, NOT_A_ROW, or None (not known)."""
        node = _unwrap(node)
        if depth > MAX_DEPTH:
            return None
        if node.id not in self._rows:  # a name's value is asked for at each of its uses
            self._rows[node.id] = self._row(node, depth)
        return self._rows[node.id]

    def _row(self, node: Node, depth: int) -> Row | None:
        kind = node.type
        if kind in LITERALS:
            return NOT_A_ROW
        if kind == "identifier":
            return self._name_row(node, depth)
        if kind == "subscript":  # qs[0], M.objects.get_or_create(…)[0]
            value = node.child_by_field_name("value")
            if value is None:
                return None
            row = self.row(value, depth + 1)
            if row is not None and row.model is not None:
                return row
            rows = self.rows(value, depth + 1)
            return Row(rows) if rows is not None else None
        if kind == "call":
            return self._call_row(node, depth)
        if kind == "attribute":
            obj, attribute = (
                node.child_by_field_name("object"),
                node.child_by_field_name("attribute"),
            )
            if obj is None or attribute is None or self.models is None:
                return None
            name = self.source.text(attribute)
            if name == "user" and self.source.text(obj) in REQUESTS:  # request.user
                user = self.models.auth_user()
                if user is not None:
                    return Row(user)
            if name in self.accessors:
                hop = self.hop(obj, name)
                if hop is not None and not hop.many:
                    return Row(hop.rows) if hop.rows is not None else None
                return None
            owner = self.row(obj, depth + 1)
            if owner is None and obj.type == "identifier" and self.source.text(obj) == "self":
                if name == "object":  # a DetailView's, UpdateView's or DeleteView's row
                    model = self._view_model(obj)
                    if model is not None:
                        return Row(model)
                return self._kept_row(obj, name, depth)  # self.hero set in setUp()
            if owner is None or owner.model is None:
                return None
            for relation in self.models.forward(owner.model):  # member.project
                if relation.field == name and relation.kind != "m2m":
                    target = self.models.target(relation)
                    return Row(target) if target is not None else None
            return None
        return None

    def _name_row(self, node: Node, depth: int) -> Row | None:
        text = self.source.text(node)
        if text == "self":
            return self._self_row(node)
        if self._loop_names is None:
            self._loop_names = {
                self.source.text(left)
                for loop in nodes_of(self.tree, ("for_statement", "for_in_clause"))
                if (left := loop.child_by_field_name("left")) is not None
                and left.type == "identifier"
            }
        iterable = loop_iterable(node, self.source) if text in self._loop_names else None
        if iterable is not None:
            iterable = _unwrap(iterable)
            if iterable.type in ("list", "tuple", "set"):  # for m in [a, b]: what they all are
                elements = [self.row(e, depth + 1) for e in iterable.named_children]
                if not elements or any(e is None for e in elements):
                    return None
                models = {e.model for e in elements if e is not None}
                return Row(models.pop()) if len(models) == 1 else None
            if iterable.type in LITERALS:
                return NOT_A_ROW
            rows = self.rows(iterable, depth + 1)
            return Row(rows) if rows is not None else None
        bound = self.bindings.values(node)
        if bound is None and text in self._unpacked_names():
            unpacked = self._unpacked_row(node, text, depth)
            if unpacked is not None:
                return unpacked
        if bound is None:
            if self.bindings.is_parameter(node):
                return self._parameter_row(node)
            if self.files is not None and self.files.resolve(("django",), node, self.source):
                return NOT_A_ROW  # a model class: `Project.member_set` is no query
            imports = self.files.imports if self.files is not None else None
            if imports is not None and (text in imports.names or text in imports.namespaces):
                return NOT_A_ROW  # an imported class, module or object: not a row
            return None
        if len(bound) != 1 or bound[0].op != "=":
            return None
        return self.row(bound[0].value, depth + 1)

    def _unpacked_names(self) -> dict[str, list[Node]]:
        """The names the file binds by unpacking (`check, rw = …`), with their assignments."""
        return self.bindings.unpacked()

    def _unpacked_row(self, node: Node, name: str, depth: int) -> Row | None:
        """NAME bound by unpacking in NODE's function, last before NODE: `check, rw =
        _get_check_for_user(request, code)` (a function of this file whose `return`s all give
        a row of one model at that place: `return check, True`), or `a, b = x, y`."""
        scope = function_of(node)
        before = [
            a for a in self._unpacked_names().get(name, ())
            if a.start_byte < node.start_byte and function_of(a) == scope
        ]  # fmt: skip
        if not before:
            return None
        assignment = before[-1]
        left, right = (
            assignment.child_by_field_name("left"),
            assignment.child_by_field_name("right"),
        )
        if left is None or right is None:
            return None
        names = [e for e in left.named_children if e.type != "comment"]
        index = next(i for i, e in enumerate(names) if self.source.text(e) == name)
        right = _unwrap(right)
        if right.type in ("expression_list", "tuple"):
            values = right.named_children
            return self.row(values[index], depth + 1) if index < len(values) else None
        function = right.child_by_field_name("function") if right.type == "call" else None
        if function is not None and function.type == "attribute" and index == 0:
            # `hero, created = Hero.objects.get_or_create(…)`: the row comes first
            method = function.child_by_field_name("attribute")
            obj = function.child_by_field_name("object")
            if obj is not None and method is not None and self.source.text(method) in PAIRS:
                manager = self.manager(obj)
                return Row(manager[0]) if manager is not None else None
            return None
        if function is None or function.type != "identifier" or depth > MAX_DEPTH:
            return None
        return self._returned(self.source.text(function), depth, index)

    def _parameter_row(self, node: Node) -> Row | None:
        """A parameter annotated with a model (`def promote(member: Member)`, `Optional[…]`)."""
        named = single_annotated_name(parameter_annotation(node, self.source), self.source)
        if named is None and self.files is not None:
            return self._perform_row(node)
        if named is None or self.files is None:
            return None
        if isinstance(named, str):
            model = self.files.models.resolve(
                ("django",), named, self.files.imports, self.files.path
            )
        else:
            model = self.model_class(named)
        return Row(model) if model is not None else None

    def _returned(self, name: str, depth: int, index: int | None = None) -> Row | None:
        """`load_member(pk)`, a function of this file: the row its `return`s all give (`return
        get_object_or_404(Member, pk=pk)`, `return Member.objects.get(…)`); with INDEX, the
        row at that place of the tuples they all return (`return member, rw`)."""
        if self._functions is None:
            self._functions = module_functions(self.tree)
        defined = self._functions.get(name, [])
        if len(defined) != 1:
            return None
        rows = set()
        for value in returned_values(defined[0]):
            if index is not None:
                value = _unwrap(value)
                if value.type not in ("expression_list", "tuple"):
                    return None
                elements = value.named_children
                if index >= len(elements):
                    return None
                value = elements[index]
            rows.add(self.row(value, depth + 1))
        if len(rows) != 1:
            return None
        row = rows.pop()
        return row if row is not None and row.model is not None else None

    def _getter_row(self, name: str) -> Row | None:
        """A function of another module named as a getter of one model's row (`get_member`,
        `fetch_member_by_email`, `member_get`: HackSoft's style of selectors): a row of it.
        Only what a row alone does with it (`save()`, `delete()`) makes a reference."""
        match = GETTER.fullmatch(name)
        if match is None or self.models is None:
            return None
        wanted = match.group(1) or match.group(2)
        if self._snake is None:
            self._snake = {}
            for declared in self.models.of(("django",)):
                self._snake.setdefault(snake_case(declared.name), []).append(declared)
        models = self._snake.get(wanted, [])
        return Row(models[0]) if len(models) == 1 else None

    def _perform_row(self, node: Node) -> Row | None:
        """DRF: the `serializer` a view's `perform_create(self, serializer)` (or
        `perform_update`) is given is one of the view's `serializer_class`: its `save()`
        inserts (updates) a row of that serializer's model."""
        function = node.parent
        while function is not None and function.type != "function_definition":
            function = function.parent
        name = function.child_by_field_name("name") if function is not None else None
        if name is None or self.source.text(name) not in PERFORMS:
            return None
        parameters = function.child_by_field_name("parameters")
        names = [self.source.text(p) for p in parameters.named_children] if parameters else []
        if names[1:2] != [self.source.text(node)]:
            return None
        cls = enclosing_class(function)
        for attribute, value in class_attributes(
            cls.child_by_field_name("body") if cls is not None else None, self.source
        ):
            if attribute == "serializer_class":
                model = self._form_model(value, "serializer")
                new = self.source.text(name) == "perform_create"
                return Row(model, new=new) if model is not None else None
        return None

    def _form_model(self, function: Node, kind: str = "form") -> Declared | None:
        """The model of the Django ModelForm class (KIND `serializer`: DRF ModelSerializer)
        FUNCTION names (here or imported)."""
        if self.files is None or function.type not in ("identifier", "attribute"):
            return None
        files = self.files
        if function.type == "identifier":
            name = self.source.text(function)
            return files.models.schema_model(name, files.imports, files.path, kind=kind)
        obj, attribute = (
            function.child_by_field_name("object"),
            function.child_by_field_name("attribute"),
        )
        if obj is None or attribute is None or obj.type != "identifier":
            return None
        return files.models.schema_model(
            self.source.text(attribute), files.imports, files.path, self.source.text(obj), kind
        )

    def _view_model(self, node: Node) -> Declared | None:
        """The `model = M` of the class-based view `self` (NODE) is in (a class whose bases end
        with `View`)."""
        cls = enclosing_class(node)
        if cls is None:
            return None
        bases = cls.child_by_field_name("superclasses")
        if bases is None or not any(
            self.source.text(b).endswith("View") for b in bases.named_children
        ):
            return None
        for name, value in class_attributes(cls.child_by_field_name("body"), self.source):
            if name == "model":
                return self.model_class(value)
        return None

    def _kept_row(self, node: Node, name: str, depth: int) -> Row | None:
        """`self.<name>` (NODE is `self`) in a class that is not a model: what every
        `self.<name> = …` of the class holds, when they all hold a stored row of one model
        (`self.hero = Hero.objects.create(…)` in a test's setUp, saved in another method)."""
        cls = enclosing_class(node)
        if cls is None:
            return None
        rows: set[Row | None] = set()
        for assignment in nodes_of(self.tree, ("assignment",)):
            if not cls.start_byte <= assignment.start_byte < cls.end_byte:
                continue
            left, right = (
                assignment.child_by_field_name("left"),
                assignment.child_by_field_name("right"),
            )
            if left is None or right is None or left.type != "attribute":
                continue
            obj, attribute = (
                left.child_by_field_name("object"),
                left.child_by_field_name("attribute"),
            )
            if obj is None or attribute is None or self.source.text(attribute) != name:
                continue
            if self.source.text(obj) != "self":
                continue
            rows.add(self.row(right, depth + 1))
        if len(rows) != 1:
            return None
        row = rows.pop()
        return Row(row.model) if row is not None and row.model is not None else None

    def _manager_self(self, node: Node) -> Declared | None:
        """The model whose manager (or queryset) class `self` (NODE) is an instance of."""
        cls = enclosing_class(node)
        name = cls.child_by_field_name("name") if cls is not None else None
        if name is None or self.models is None:
            return None
        return self.models.django_manager(self.source.text(name))

    def _self_row(self, node: Node) -> Row | None:
        cls = enclosing_class(node)
        name = cls.child_by_field_name("name") if cls is not None else None
        if name is None or self.files is None:
            return None
        declared = self.files.resolve(("django",), name, self.source)
        return Row(declared) if declared is not None else None

    def _call_row(self, node: Node, depth: int) -> Row | None:
        function, arguments = (
            node.child_by_field_name("function"),
            node.child_by_field_name("arguments"),
        )
        if function is None or arguments is None:
            return None
        model = self.model_class(function)
        if model is not None:  # M(…): a new row
            return Row(model, new=True)
        form = self._form_model(function)
        if form is not None:  # HeroForm(…, instance=hero): its save() writes that row
            options = keyword_arguments(arguments.named_children, self.source)
            return Row(form, new="instance" not in options)
        serializer = self._form_model(function, "serializer")
        if serializer is not None:  # HeroSerializer(hero, data=…): the instance comes first
            options = keyword_arguments(arguments.named_children, self.source)
            given = "instance" in options or bool(positional(arguments.named_children))
            return Row(serializer, new=not given)
        if function.type == "identifier":
            name = self.source.text(function)
            if name == "get_object_or_404":
                rows = self._shortcut_model(arguments)
                return Row(rows) if rows is not None else None
            if name[:1].isupper() and self.bindings.values(function) is None:
                return NOT_A_ROW  # an instance of a class (not a model, not get_user_model())
            returned = self._returned(name, depth)
            if returned is None and self.files is not None and name in self.files.imports.names:
                return self._getter_row(name)  # from .selectors import get_member
            return returned
        if function.type != "attribute":
            return None
        obj, attribute = (
            function.child_by_field_name("object"),
            function.child_by_field_name("attribute"),
        )
        if obj is None or attribute is None:
            return None
        method = self.source.text(attribute)
        if method not in ROW_METHODS:
            model = self._manager_method(obj, method)
            if model is not None:
                return Row(model)  # Profile.objects.for_user(u)
            imports = self.files.imports if self.files is not None else None
            if imports is not None and self.source.text(obj) in imports.namespaces:
                return self._getter_row(self.source.text(attribute))  # services.get_member(…)
            return None
        manager = self.manager(obj)
        if manager is not None:
            return Row(manager[0])
        rows = self.rows(obj, depth + 1)
        return Row(rows) if rows is not None else None

    # --- relations ---------------------------------------------------------------------

    def forward_reads(self, found: Found, matcher: TableMatcher) -> None:
        """`donation.donor` where `donation` holds a stored row of a model whose foreign key
        (or one-to-one field) `donor` is: reading it loads the related row, a select of its
        model's table (reported at the field's name). Not a new row's (`M(donor=d).donor` is
        the object given), nor an assignment's target (`donation.donor = d` writes the row's
        own key), nor `donor_id` (the key, read without a query)."""
        if not self.active or self.models is None:
            return
        fields: dict[str, list[DjangoRelation]] = {}
        for relation in self.models.django_relations:
            if relation.kind != "m2m":
                fields.setdefault(relation.field, []).append(relation)
        data, root = self.source.data, self.tree.root_node
        names = sorted(fields)
        # the attributes named like a key (`.donor`), found in one pass: not every attribute
        for index, start, end in _dotted(tuple(names)).find_matches_as_indexes(data):
            start += 1  # after the dot
            if end < len(data) and data[end] in IDENTIFIER_BYTES:
                continue
            attribute = root.named_descendant_for_byte_range(start, end)
            node = attribute.parent if attribute is not None else None
            if node is None or node.type != "attribute":
                continue
            obj = node.child_by_field_name("object")
            if obj is None or node.child_by_field_name("attribute") != attribute:
                continue
            if not _assigned(node) and not _none_test(node):
                self._forward_read(obj, attribute, names[index], found, matcher)

    def _forward_read(self, obj: Node, attribute: Node, name: str, found, matcher) -> None:
        """`obj.<name>` (ATTRIBUTE): a select of the related table when OBJ holds a stored row
        of a model whose key NAME is."""
        row = self.row(obj)
        if row is None or row.model is None or row.new or self.models is None:
            return
        for relation in self.models.forward(row.model):
            if relation.field != name or relation.kind == "m2m":
                continue
            target = self.models.target(relation)
            table = matcher.match_text(target.table) if target is not None else None
            if table is not None:
                found.reference(attribute.start_byte, table, "select", (), "django")

    def hop(self, receiver: Node, name: str) -> Hop | None:
        """The relation `<receiver>.<name>` follows, if any."""
        if self.models is None or name not in self.accessors:
            return None
        row = self.row(receiver)
        if row is None:
            return hop_by_name(self.models, name)
        if row.model is None:
            return None
        return hop_from(self.models, row.model, name)

    def lookups(
        self,
        model: Declared,
        calls: Iterable[ChainCall],
        found: Found,
        matcher: TableMatcher,
    ) -> None:
        """`select` references for the tables the lookups of CALLS (made on rows of MODEL)
        join, at the keyword or the string naming them."""
        if self.models is None:
            return
        for call in calls:
            if call.method in LOOKUP_CALLS:
                self.lookup_arguments(model, call.args, found, matcher)
            elif call.method in QUERY_PATH_CALLS or call.method in ACCESSOR_PATH_CALLS:
                accessors = call.method in ACCESSOR_PATH_CALLS
                for arg in call.args:
                    self._path_argument(model, arg, accessors, found, matcher)

    def lookup_arguments(
        self, model: Declared, args: Sequence[Node], found: Found, matcher: TableMatcher
    ) -> None:
        for arg in args:
            if arg.type == "keyword_argument":
                name = arg.child_by_field_name("name")
                if name is not None and self.source.text(name) not in NOT_LOOKUPS:
                    self.report_path(model, name, self.source.text(name), False, found, matcher)
            elif arg.type != "comment":
                for q in _calls_named(arg, self.source, {"Q"}):
                    arguments = q.child_by_field_name("arguments")
                    if arguments is not None:
                        self.lookup_arguments(model, arguments.named_children, found, matcher)

    def _path_argument(self, model, arg: Node, accessors: bool, found, matcher) -> None:
        if arg.type == "keyword_argument":
            arg = arg.child_by_field_name("value") or arg
        literal = string_value(arg, self.source)
        if literal is not None and not literal.holes:
            path = literal.text.lstrip("-?")
            offset = literal.offset_of(len(literal.text) - len(path))
            self.report_path(model, offset, path, accessors, found, matcher)
            return
        names = EXPRESSIONS | ({"Prefetch"} if accessors else set())
        for call in _calls_named(arg, self.source, names):
            arguments = call.child_by_field_name("arguments")
            values = positional(arguments.named_children) if arguments is not None else []
            literal = string_value(values[0], self.source) if values else None
            if literal is not None and not literal.holes:
                self.report_path(
                    model, literal.offset_of(0), literal.text, accessors, found, matcher
                )

    def report_path(self, model, at, path: str, accessors: bool, found, matcher) -> None:
        """The tables the joins of a lookup PATH from MODEL read, reported at AT."""
        assert self.models is not None
        offset = at if isinstance(at, int) else at.start_byte
        for table in lookup_tables(self.models, model, path, accessors):
            matched = matcher.match_text(table)
            if matched is not None:
                found.reference(offset, matched, "select", (), "django")


def loop_iterable(identifier: Node, source: Source) -> Node | None:
    """What `for <identifier> in <iterable>:` (a loop whose body holds IDENTIFIER, or a
    comprehension) iterates over."""
    name = source.text(identifier)
    child, node = identifier, identifier.parent
    while node is not None and node.type not in ("function_definition", "class_definition"):
        if node.type == "for_statement":
            left, body = node.child_by_field_name("left"), node.child_by_field_name("body")
            if body is not None and body.id == child.id and _is_name(left, name, source):
                return node.child_by_field_name("right")
        elif node.type.endswith("comprehension") or node.type == "generator_expression":
            for clause in node.named_children:
                if clause.type == "for_in_clause" and clause.id != child.id:
                    if _is_name(clause.child_by_field_name("left"), name, source):
                        return clause.child_by_field_name("right")
        child, node = node, node.parent
    return None


def _none_test(node: Node) -> bool:
    """Is NODE tested against None (`gift.hero is None`): a null key, checked without a query
    when it is one (what such a test is written for)?"""
    parent = node.parent
    if parent is None or parent.type != "comparison_operator":
        return False
    return any(child.type == "none" for child in parent.named_children)


@lru_cache(maxsize=4)
def _dotted(names: tuple[str, ...]) -> ahocorasick_rs.BytesAhoCorasick:
    """One automaton finding `.name` for every NAME (the longest at a place)."""
    return ahocorasick_rs.BytesAhoCorasick(
        [b"." + name.encode() for name in names],
        matchkind=ahocorasick_rs.MatchKind.LeftmostLongest,
    )


def _assigned(node: Node) -> bool:
    """Is NODE the target of an assignment (`x.a = …`, `x.a += …`, `del x.a`)?"""
    parent = node.parent
    if parent is None:
        return False
    if parent.type in ("assignment", "augmented_assignment"):
        left = parent.child_by_field_name("left")
        return left is not None and left.id == node.id
    return parent.type == "delete_statement"


def _is_name(node: Node | None, name: str, source: Source) -> bool:
    return node is not None and node.type == "identifier" and source.text(node) == name


def _calls_named(node: Node, source: Source, names: set[str]) -> list[Node]:
    """Calls of NODE and inside it whose function's (last) name is one of NAMES."""
    found, stack = [], [node]
    while stack:
        current = stack.pop()
        if current.type == "call":
            function = current.child_by_field_name("function")
            if function is not None and source.text(function).rpartition(".")[2] in names:
                found.append(current)
                continue
        stack.extend(current.named_children)
    return found


def _unwrap(node: Node) -> Node:
    while node.type in _WRAPPERS and node.named_children:
        node = node.named_children[-1]
    return node
