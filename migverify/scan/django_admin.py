"""Django code that reaches a model's table through the framework rather than a query: the admin
(`admin.site.register(M)`, `@admin.register(M)`, an inline's `model = M`), ModelForms and
serializers (`class Meta: model = M`, saved by the form), generic class-based views
(`model = M` in a ListView, CreateView, …), model factories, and formset factories
(`modelformset_factory(M)`, `inlineformset_factory(Parent, M)`).

Each is a reference at the model's name with what the framework does to the table: the admin
lists, adds, changes and deletes rows; a ModelForm inserts or updates one; a ListView reads."""

from __future__ import annotations

import re

from tree_sitter import Node, Tree

from migverify.scan.django_graph import cascades
from migverify.scan.found import Found
from migverify.scan.orm import Declared, class_attributes, meta_attribute, nodes_of, positional
from migverify.scan.source import Source, string_value
from migverify.scan.tables import TableMatcher

EVERYTHING = ("select", "insert", "update", "delete")
# What a class configured with `model = M` does to M's table, by (the end of) a base's name;
# the first that matches decides. A nested `class Meta:` takes its outer class's bases.
BASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Inline", EVERYTHING),  # admin.TabularInline, StackedInline, GenericTabularInline
    ("ModelAdmin", EVERYTHING),
    ("ModelForm", ("insert", "update")),
    ("FormSet", ("insert", "update", "delete")),  # BaseModelFormSet, BaseInlineFormSet
    ("Serializer", ("select", "insert", "update")),  # DRF ModelSerializer
    ("ViewSet", EVERYTHING),  # DRF ModelViewSet
    ("CreateView", ("insert",)),
    ("UpdateView", ("select", "update")),
    ("DeleteView", ("select", "delete")),
    ("Factory", ("insert",)),  # factory_boy's DjangoModelFactory
    ("View", ("select",)),  # ListView, DetailView, ArchiveIndexView, …
    ("FilterSet", ("select",)),
    ("Table", ("select",)),  # django-tables2
)
FACTORIES = {
    "modelform_factory": (0, ("insert", "update")),
    "modelformset_factory": (0, ("insert", "update", "delete")),
    "inlineformset_factory": (1, ("insert", "update", "delete")),
}
_CALL_HINTS = (b"register", b"formset_factory", b"modelform_factory")
_MODEL_ATTRIBUTE = re.compile(rb"\bmodel\s*=")  # `model = M` (and `class Meta:`'s)


# A ModelAdmin's options naming query paths from its model (`search_fields = ["donor__name"]`,
# `list_filter = [("donation__created", DonatedFilter)]`): the tables their joins read.
# With ACCESSORS (True) a name is a relation whose rows are shown (`list_display = ["donor"]`,
# `raw_id_fields`, `list_select_related`): its table is read too.
ADMIN_PATHS = {
    "search_fields": False, "list_filter": False, "ordering": False, "date_hierarchy": False,
    "list_display": True, "list_display_links": True, "list_select_related": True,
    "raw_id_fields": True, "autocomplete_fields": True, "list_editable": True,
}  # fmt: skip


def django_framework_uses(tree: Tree, source: Source, graph, found: Found,
                          matcher: TableMatcher) -> None:  # fmt: skip
    """The admin, forms, views and factories of one Python file; GRAPH is the file's
    DjangoGraph (which model an expression names, the tables of a lookup path)."""
    data = source.data
    calls = any(hint in data for hint in _CALL_HINTS)
    models = _MODEL_ATTRIBUTE.search(data) is not None
    if not calls and not models:
        return
    model_class = graph.model_class
    registered: dict[str, list[Declared]] = {}  # an admin class → the models it is registered for
    kinds = ("call",) * calls + ("assignment",) * models
    for node in nodes_of(tree, kinds):
        if node.type == "call":
            _call(node, source, model_class, found, matcher, registered, graph.models)
        else:
            _model_attribute(node, source, model_class, found, matcher, graph.models)
    if registered or models:
        _admin_options(tree, source, graph, registered, found, matcher)


def drf_views(tree: Tree, source: Source, graph, found: Found, matcher: TableMatcher) -> None:
    """Django REST framework's views and viewsets with `queryset = M.objects…`: what the view
    does to M's table besides reading the queryset (ModelViewSet: everything; a generic view
    or the model mixins by their names: `ListCreateAPIView` inserts, `…UpdateAPIView` updates,
    `…DestroyAPIView` deletes, with what a delete cascades to)."""
    data = source.data
    if b"queryset" not in data or not any(hint in data for hint in DRF_HINTS):
        return
    for cls in nodes_of(tree, ("class_definition",)):
        operations = _drf_operations(cls, source)
        if not operations:
            continue
        for option, right in class_attributes(cls.child_by_field_name("body"), source):
            if option != "queryset":
                continue
            root = right
            while root.type in ("call", "attribute", "subscript"):
                inner = (
                    root.child_by_field_name("function")
                    or root.child_by_field_name("object")
                    or root.child_by_field_name("value")
                )
                if inner is None:
                    break
                root = inner
            declared = graph.model_class(root) if root.type == "identifier" else None
            _report(declared, operations, root, found, matcher, graph.models)


DRF_HINTS = (b"APIView", b"ViewSet", b"ModelMixin")
# What a DRF view's bases add to reading its queryset, by a word of their names
DRF_WORDS = (("Create", "insert"), ("Update", "update"), ("Destroy", "delete"))


def _drf_operations(cls: Node, source: Source) -> tuple[str, ...]:
    bases = cls.child_by_field_name("superclasses")
    names = [source.text(b).rpartition(".")[2] for b in bases.named_children] if bases else []
    if "ModelViewSet" in names:
        return ("insert", "update", "delete")
    if not any(name.endswith(("APIView", "ViewSet", "ModelMixin")) for name in names):
        return ()
    return tuple(operation for word, operation in DRF_WORDS if any(word in name for name in names))


def _admin_options(tree: Tree, source: Source, graph, registered, found, matcher) -> None:
    """The query paths of each admin class with a known model (registered for it, or an
    inline's `model = M`)."""
    calls = (
        [c for c in nodes_of(tree, ("call",)) if b"super" in source.data[c.start_byte : c.end_byte]]
        if b"super()" in source.data
        else []
    )
    for cls in nodes_of(tree, ("class_definition",)):
        name, body = cls.child_by_field_name("name"), cls.child_by_field_name("body")
        if name is None or body is None:
            continue
        models = list(registered.get(source.text(name), ()))
        form = _form_model(cls, source, graph)
        if form is not None:
            _super_calls(calls, body, source, form, FORM_SUPER, found, matcher, graph.models)
            _form_fields(cls, form, source, graph, found, matcher)
        elif b"View" in source.data:
            _view_fields(cls, body, source, graph, found, matcher)
        options: list[tuple[str, Node]] = []
        for option, right in class_attributes(body, source):
            if option == "model":
                declared = graph.model_class(right)
                if declared is not None and _operations(cls, source) == EVERYTHING:
                    models.append(declared)  # an inline
            elif option in ADMIN_PATHS:
                options.append((option, right))
        for model in models:
            _super_calls(calls, body, source, model, ADMIN_SUPER, found, matcher, graph.models)
            for option, value in options:
                for element in _strings(value):
                    literal = string_value(element, source)
                    if literal is None or literal.holes:
                        continue
                    path = literal.text.lstrip("-^=@")
                    offset = literal.offset_of(len(literal.text) - len(path))
                    graph.report_path(model, offset, path, ADMIN_PATHS[option], found, matcher)


# What the framework's method does to the model's table, called from an override
# (`qs = super().get_queryset(request)` in a ModelAdmin, `super().save(commit)` in a ModelForm).
ADMIN_SUPER = {
    "get_queryset": ("select",), "save_model": ("insert", "update"), "delete_model": ("delete",),
    "delete_queryset": ("delete",), "get_object": ("select",),
}  # fmt: skip
FORM_SUPER = {"save": ("insert", "update")}


def _super_calls(calls: list[Node], body: Node, source: Source, model: Declared, methods, found,
                 matcher, models) -> None:  # fmt: skip
    """`super().<method>(…)` among CALLS in BODY, a class tied to MODEL."""
    for call in calls:
        if not body.start_byte <= call.start_byte < body.end_byte:
            continue
        function = call.child_by_field_name("function")
        if function is None or function.type != "attribute":
            continue
        obj, attribute = (
            function.child_by_field_name("object"),
            function.child_by_field_name("attribute"),
        )
        if obj is None or attribute is None or obj.type != "call":
            continue
        callee = obj.child_by_field_name("function")
        if callee is None or source.text(callee) != "super":
            continue
        operations = methods.get(source.text(attribute))
        if operations is not None:
            _report(model, operations, attribute, found, matcher, models)


def _view_fields(cls: Node, body: Node, source: Source, graph, found, matcher) -> None:
    """A generic CreateView's or UpdateView's `model = M` with `fields = […]`: the ModelForm
    Django builds from them (_form_fields)."""
    if not any(op in _operations(cls, source) for op in ("insert", "update")):
        return
    attributes = dict(class_attributes(body, source))
    model = graph.model_class(attributes["model"]) if "model" in attributes else None
    if model is not None and "fields" in attributes:
        _form_fields(cls, model, source, graph, found, matcher, attributes["fields"], None)


def _form_fields(
    cls: Node, model: Declared, source: Source, graph, found, matcher, fields=None, exclude=None
) -> None:
    """A ModelForm's relation fields (`fields = ["title", "author"]`, `"__all__"`, or every
    field but `exclude`'s): each becomes a choice field whose choices and validation read the
    related table (`ModelChoiceField(queryset=Author.objects.all())`); saving the form sets a
    many-to-many field's rows (`save_m2m`: the join table's rows deleted and inserted)."""
    models = graph.models
    if fields is None and exclude is None:
        fields = meta_attribute(cls, "fields", source)
        exclude = meta_attribute(cls, "exclude", source)
    literal = string_value(fields, source) if fields is not None else None
    chosen: list[tuple[str, int]] = []  # (field, where)
    if fields is not None and (literal is None or literal.text != "__all__"):
        for element in _strings(fields):
            value = string_value(element, source)
            if value is not None and not value.holes:
                chosen.append((value.text, value.offset_of(0)))
    else:
        at = fields if fields is not None else exclude
        if at is None or models is None:
            return
        excluded = {
            v.text for e in _strings(at) if (v := string_value(e, source)) is not None
        } if fields is None else set()  # fmt: skip
        chosen = [
            (r.field, at.start_byte)
            for r in models.django_relations
            if r.model == model and r.field not in excluded
        ]
    for field, offset in chosen:
        graph.report_path(model, offset, field, True, found, matcher)
        relation = next(
            (r for r in models.django_relations if r.model == model and r.field == field), None
        ) if models is not None else None  # fmt: skip
        through = models.through(relation) if models is not None and relation else None
        if through is not None:
            found.uses(offset, through, ("insert", "delete"), "django", matcher)


def _form_model(cls: Node, source: Source, graph) -> Declared | None:
    """The model of a ModelForm class's `class Meta: model = M`."""
    bases = cls.child_by_field_name("superclasses")
    if bases is None or not any(source.text(b).endswith("ModelForm") for b in bases.named_children):
        return None
    model = meta_attribute(cls, "model", source)
    return graph.model_class(model) if model is not None else None


def _strings(value: Node) -> list[Node]:
    """The strings of an option: `["a", "b"]`, `("a",)`, `"a"`, a list_filter's
    `("field", FilterClass)` pairs (the field)."""
    if value.type == "string":
        return [value]
    if value.type not in ("list", "tuple"):
        return []
    found = []
    for element in value.named_children:
        if element.type == "string":
            found.append(element)
        elif element.type in ("tuple", "list") and element.named_children:
            first = element.named_children[0]
            if first.type == "string":
                found.append(first)
    return found


def _call(node: Node, source: Source, model_class, found: Found, matcher, registered,
          models) -> None:  # fmt: skip
    function, arguments = (
        node.child_by_field_name("function"),
        node.child_by_field_name("arguments"),
    )
    if function is None or arguments is None:
        return
    args = positional(arguments.named_children)
    name = source.text(function)
    if function.type == "attribute":
        attribute = function.child_by_field_name("attribute")
        obj = function.child_by_field_name("object")
        if attribute is None or obj is None or source.text(attribute) != "register":
            return
        if not _admin_site(source.text(obj)) or not args:
            return
        # register(M, Admin) / register([M1, M2]) / @admin.register(M1, M2)
        decorator = node.parent is not None and node.parent.type == "decorator"
        first = args if decorator else [args[0]]
        if decorator:
            cls = (
                node.parent.parent.child_by_field_name("definition") if node.parent.parent else None
            )
            admin = cls.child_by_field_name("name") if cls is not None else None
        else:
            admin = args[1] if len(args) > 1 and args[1].type == "identifier" else None
        for arg in first:
            for element in arg.named_children if arg.type in ("list", "tuple") else [arg]:
                declared = model_class(element)
                _report(declared, EVERYTHING, element, found, matcher, models)
                if declared is not None and admin is not None:
                    registered.setdefault(source.text(admin), []).append(declared)
        return
    factory = FACTORIES.get(name)
    if factory is not None and len(args) > factory[0]:
        arg = args[factory[0]]
        _report(model_class(arg), factory[1], arg, found, matcher, models)


def _admin_site(text: str) -> bool:
    """`admin`, `admin.site`, `site`, `my_site`, `custom_admin_site`: an admin site."""
    last = text.rpartition(".")[2]
    return text == "admin" or last == "site" or last.endswith("_site")


def _model_attribute(node: Node, source: Source, model_class, found: Found, matcher,
                     models) -> None:  # fmt: skip
    """`model = M` directly in a class body (or its `class Meta:`)."""
    left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
    if left is None or right is None or left.type != "identifier":
        return
    if source.text(left) != "model":
        return
    block = node.parent.parent if node.parent is not None else None  # statement → block
    cls = block.parent if block is not None and block.type == "block" else None
    if cls is None or cls.type != "class_definition":
        return
    declared = model_class(right)
    if declared is None:
        return
    name = cls.child_by_field_name("name")
    if name is not None and source.text(name) == "Meta":  # the outer class's bases decide
        outer = cls.parent.parent if cls.parent is not None else None
        if outer is None or outer.type != "class_definition":
            return
        cls = outer
    _report(declared, _operations(cls, source), right, found, matcher, models)


def _operations(cls: Node, source: Source) -> tuple[str, ...]:
    bases = cls.child_by_field_name("superclasses")
    names = [source.text(b).rpartition(".")[2] for b in bases.named_children] if bases else []
    for suffix, operations in BASES:
        if any(name.endswith(suffix) for name in names):
            return operations
    return ("select",)


def _report(declared: Declared | None, operations, node: Node, found: Found, matcher,
            models=None) -> None:  # fmt: skip
    """OPERATIONS on DECLARED's table at NODE (and, with MODELS, what a delete cascades to)."""
    if declared is None:
        return
    if node.type == "attribute":
        node = node.child_by_field_name("attribute") or node
    writes = [(declared.table, operation) for operation in operations]
    if "delete" in operations and models is not None:
        writes += cascades(models, declared)
    for table, operation in writes:
        matched = matcher.match_text(table)
        if matched is not None:
            found.reference(node.start_byte, matched, operation, (), "django")
