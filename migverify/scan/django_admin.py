"""Django code that reaches a model's table through the framework rather than a query: the admin
(`admin.site.register(M)`, `@admin.register(M)`, an inline's `model = M`), ModelForms and
serializers (`class Meta: model = M`, saved by the form), generic class-based views
(`model = M` in a ListView, CreateView, …), model factories, and formset factories
(`modelformset_factory(M)`, `inlineformset_factory(Parent, M)`).

Each is a reference at the model's name with what the framework does to the table: the admin
lists, adds, changes and deletes rows; a ModelForm inserts or updates one; a ListView reads."""

from __future__ import annotations

from tree_sitter import Node, Tree

from migverify.scan.found import Found
from migverify.scan.orm import Declared, nodes_of, positional
from migverify.scan.source import Source
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
_HINTS = (b"register", b"model", b"formset_factory", b"modelform_factory")


def django_framework_uses(tree: Tree, source: Source, model_class, found: Found,
                          matcher: TableMatcher) -> None:  # fmt: skip
    """The admin, forms, views and factories of one Python file. MODEL_CLASS(node) is the
    Django model an expression names (DjangoGraph.model_class), or None."""
    data = source.data
    if not any(hint in data for hint in _HINTS):
        return
    for node in nodes_of(tree, ("call", "assignment")):
        if node.type == "call":
            _call(node, source, model_class, found, matcher)
        else:
            _model_attribute(node, source, model_class, found, matcher)


def _call(node: Node, source: Source, model_class, found: Found, matcher) -> None:
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
        for arg in first:
            for element in arg.named_children if arg.type in ("list", "tuple") else [arg]:
                _report(model_class(element), EVERYTHING, element, found, matcher)
        return
    factory = FACTORIES.get(name)
    if factory is not None and len(args) > factory[0]:
        arg = args[factory[0]]
        _report(model_class(arg), factory[1], arg, found, matcher)


def _admin_site(text: str) -> bool:
    """`admin`, `admin.site`, `site`, `my_site`, `custom_admin_site`: an admin site."""
    last = text.rpartition(".")[2]
    return text == "admin" or last == "site" or last.endswith("_site")


def _model_attribute(node: Node, source: Source, model_class, found: Found, matcher) -> None:
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
    _report(declared, _operations(cls, source), right, found, matcher)


def _operations(cls: Node, source: Source) -> tuple[str, ...]:
    bases = cls.child_by_field_name("superclasses")
    names = [source.text(b).rpartition(".")[2] for b in bases.named_children] if bases else []
    for suffix, operations in BASES:
        if any(name.endswith(suffix) for name in names):
            return operations
    return ("select",)


def _report(declared: Declared | None, operations, node: Node, found: Found, matcher) -> None:
    if declared is None:
        return
    table = matcher.match_text(declared.table)
    if table is None:
        return
    if node.type == "attribute":
        node = node.child_by_field_name("attribute") or node
    for operation in operations:
        found.reference(node.start_byte, table, operation, (), "django")
