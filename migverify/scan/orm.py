"""ORM models across files: the declarations found anywhere in the scanned tree (a model or
table object mapped to a table), and which declaration a name used in one file refers to.

A model is usually declared in one file and used in others. The scan first collects every
declaration (of legacy tables and of others, so that a use of another table is known not to be
dynamic), then scans the files naming a model again with this table. A name refers to a
declaration when the file declares it itself, or imports it (by name, as a namespace or with
`*`) from a module that is the declaring file: relative imports must lead to it exactly, other
imports must end with (Python) or appear in (TypeScript path aliases) its path. A class of the
same name in another project is therefore not the model.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache

from tree_sitter import Language, Node, Query, QueryCursor, Tree

from migverify.scan.source import Source, string_value

ORMS = ("prisma", "drizzle", "typeorm", "sequelize", "sqlalchemy", "django")


@dataclass(frozen=True)
class Declared:
    """A model (class, table object, Prisma model) mapped to a table."""

    orm: str  # one of ORMS
    name: str  # the name code uses: class, bound variable, Prisma model
    table: str  # the table it maps to, `schema.t` when a schema is declared
    path: str  # the declaring file, relative to the scan's root
    app: str | None = None  # Django: the app label

    def sort_key(self) -> tuple[str, ...]:
        return (self.path, self.orm, self.name, self.table)


@dataclass(frozen=True)
class DjangoRelation:
    """Django: a `ForeignKey` / `OneToOneField` / `ManyToManyField` FIELD declared on MODEL and
    pointing to the model TARGET (its class name; its app when the declaration shows it).

    The related model's instances get a reverse accessor (`<model>_set`, `related_name`; for a
    one-to-one field `<model>` or `related_name`) and a reverse lookup name (`related_query_name`,
    else `related_name`, else `<model>`); a many-to-many field goes through the table of its
    THROUGH model, else through THROUGH_TABLE (`db_table=`, else `<model's table>_<field>`)."""

    model: Declared
    field: str
    kind: str  # fk | o2o | m2m
    target: str
    target_app: str | None = None
    related_name: str | None = None
    related_query_name: str | None = None
    through: str | None = None
    through_table: str | None = None
    symmetrical: bool = False  # a many-to-many to itself without a reverse accessor

    def sort_key(self) -> tuple[str, ...]:
        return (self.model.path, self.model.name, self.field)

    @property
    def hidden(self) -> bool:
        return self.symmetrical or (self.related_name or "").endswith("+")

    @property
    def accessor(self) -> str | None:
        """The reverse accessor on the target's instances (None: hidden with `+`)."""
        if self.hidden:
            return None
        default = self.model.name.lower() + ("" if self.kind == "o2o" else "_set")
        return self.related_name or default

    @property
    def query_name(self) -> str | None:
        """The reverse name in the target's lookups (`Project.objects.filter(member__…)`)."""
        if self.related_query_name:
            return self.related_query_name
        if self.hidden:
            return None
        return self.related_name or self.model.name.lower()

    def points_to(self, declared: Declared) -> bool:
        return self.target == declared.name and self.target_app in (None, declared.app)


def snake_case(name: str) -> str:
    """`UserItem` → `user_item` (TypeORM's and Flask-SQLAlchemy's default table names)."""
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z\d])([A-Z])", r"\1_\2", text).lower()


@dataclass
class Imports:
    """What one file imports: names (local → module, original name), namespaces (local →
    module) and `*` imports (modules)."""

    names: dict[str, tuple[str, str]] = field(default_factory=dict)
    namespaces: dict[str, str] = field(default_factory=dict)
    stars: list[str] = field(default_factory=list)


class Models:
    """Every declaration of the scan, by name."""

    def __init__(self, declarations: Iterable[Declared | DjangoRelation] = ()) -> None:
        unique = set(declarations)
        self.declarations = tuple(
            sorted((d for d in unique if isinstance(d, Declared)), key=Declared.sort_key)
        )
        self.relations = tuple(
            sorted(
                (r for r in unique if isinstance(r, DjangoRelation)), key=DjangoRelation.sort_key
            )
        )
        self._by_name: dict[str, list[Declared]] = {}
        for declared in self.declarations:
            self._by_name.setdefault(declared.name, []).append(declared)
        self._django: dict[str, list[Declared]] = {}  # lower-case class name → models
        for declared in self.of(("django",)):
            self._django.setdefault(declared.name.lower(), []).append(declared)
        self._accessors: dict[str, list[DjangoRelation]] = {}
        for relation in self.relations:
            for name in {relation.accessor, relation.field if relation.kind == "m2m" else None}:
                if name:
                    self._accessors.setdefault(name, []).append(relation)
        self.accessors = frozenset(self._accessors)
        self._matching: dict[tuple[str, ...], bool] = {}
        self._index_relations()

    def __bool__(self) -> bool:
        return bool(self.declarations)

    def names(self) -> set[str]:
        """The names a file must contain to use a model (Prisma: the client's accessor)."""
        names = set()
        for declared in self.declarations:
            names.add(prisma_accessor(declared.name) if declared.orm == "prisma" else declared.name)
            if declared.orm == "django":  # migrations name models in lower case
                names.add(declared.name.lower())
        return names

    # --- Django's model graph -----------------------------------------------------------

    def accessor_names(self) -> frozenset[str]:
        """Attributes of a model instance that are relation managers or related rows (what a
        Python file or a template may use a Django model through, besides the model's name:
        `project.member_set`, `tag.projects`)."""
        return self.accessors

    def by_accessor(self, name: str) -> list[DjangoRelation]:
        return self._accessors.get(name, [])

    def django_tables_match(self, matcher) -> bool:
        """Is a Django model's table, or a many-to-many join table, one of MATCHER's?"""
        key = matcher.tables
        if key not in self._matching:
            tables = [d.table for d in self.of(("django",))]
            tables += [t for r in self.relations if (t := self.through(r)) is not None]
            self._matching[key] = any(matcher.match_text(t) is not None for t in tables)
        return self._matching[key]

    def django_model(self, name: str, app: str | None) -> Declared | None:
        """The Django model of class NAME (any case) in APP; with APP None, the only one."""
        found = self._django.get(name.lower(), [])
        if app is not None:
            found = [d for d in found if d.app == app]
        return found[0] if len(found) == 1 else None

    def forward(self, declared: Declared) -> list[DjangoRelation]:
        """The relation fields declared on DECLARED (and on the models it is a proxy of)."""
        return self._forward.get(declared.table, [])

    def reverse(self, declared: Declared) -> list[DjangoRelation]:
        """The relation fields of other models pointing to DECLARED (or to the model it is a
        proxy of)."""
        return self._reverse.get(declared.table, []) + [
            r for r in self._unresolved.get(declared.name, ()) if r.points_to(declared)
        ]

    def _index_relations(self) -> None:
        self._forward: dict[str, list[DjangoRelation]] = {}
        self._reverse: dict[str, list[DjangoRelation]] = {}
        self._unresolved: dict[str, list[DjangoRelation]] = {}  # targets not among the models
        for relation in self.relations:
            self._forward.setdefault(relation.model.table, []).append(relation)
            target = self.target(relation)
            if target is not None:
                self._reverse.setdefault(target.table, []).append(relation)
            else:
                self._unresolved.setdefault(relation.target, []).append(relation)

    def target(self, relation: DjangoRelation) -> Declared | None:
        """The model RELATION points to, when it is one of the scanned models."""
        if relation.target == relation.model.name and relation.target_app in (
            None,
            relation.model.app,
        ):
            return relation.model
        return self.django_model(relation.target, relation.target_app)

    def through(self, relation: DjangoRelation) -> str | None:
        """The join table of a many-to-many RELATION."""
        if relation.kind != "m2m":
            return None
        if relation.through is None:
            return relation.through_table
        app, dot, name = relation.through.rpartition(".")
        model = self.django_model(name, app if dot else relation.model.app)
        if model is None and not dot:
            model = self.django_model(name, None)
        return model.table if model is not None else None

    def of(self, orms: Sequence[str]) -> list[Declared]:
        return [d for d in self.declarations if d.orm in orms]

    def resolve(
        self, orms: Sequence[str], name: str, imports: Imports, path: str
    ) -> Declared | None:
        """The declaration NAME (used in PATH) refers to, if any."""
        here = [d for d in self._by_name.get(name, ()) if d.orm in orms and d.path == path]
        if here:
            return here[0]
        if name in imports.names:
            module, original = imports.names[name]
            return self._from_module(orms, original, module, path)
        for module in imports.stars:
            found = self._from_module(orms, name, module, path)
            if found is not None:
                return found
        return None

    def resolve_member(
        self, orms: Sequence[str], namespace: str, name: str, imports: Imports, path: str
    ) -> Declared | None:
        """`schema.userItems`, `models.Order`: NAME from the module imported as NAMESPACE."""
        module = imports.namespaces.get(namespace)
        if module is None:
            return None
        return self._from_module(orms, name, module, path)

    def _from_module(
        self, orms: Sequence[str], name: str, module: str, path: str
    ) -> Declared | None:
        for declared in self._by_name.get(name, ()):
            if declared.orm in orms and module_leads_to(module, path, declared.path):
                return declared
        return None


def prisma_accessor(model: str) -> str:
    """Prisma Client's property for a model: the name with a lower-case first letter."""
    return model[:1].lower() + model[1:]


def module_leads_to(module: str, importer: str, declaring: str) -> bool:
    """May MODULE, imported in the file IMPORTER, be the file DECLARING (or its package)?"""
    stem, _ = posixpath.splitext(declaring)
    directory = posixpath.dirname(declaring)
    python = declaring.endswith(".py")
    if python:
        dots = len(module) - len(module.lstrip("."))
        parts = [p for p in module[dots:].split(".") if p]
        if dots:
            base = posixpath.dirname(importer)
            for _ in range(dots - 1):
                base = posixpath.dirname(base)
            target = posixpath.normpath(posixpath.join(base, *parts)) if parts else base
            return target in (stem, directory) or stem == f"{target}/__init__"
        return _ends_with(stem, parts) or _ends_with(directory, parts)
    if module.startswith("."):
        target = posixpath.normpath(posixpath.join(posixpath.dirname(importer), module))
        target = re.sub(r"\.(?:[cm]?[jt]sx?)$", "", target)
        return stem in (target, f"{target}/index") or directory == target
    segments = [s for s in re.sub(r"\.(?:[cm]?[jt]sx?)$", "", module).split("/") if s]
    if segments and segments[0][:1] in ("@", "~", "#"):  # a scope or a path alias
        segments = segments[1:]
    return _contains(stem.split("/"), segments) or _contains(directory.split("/"), segments)


def _ends_with(path: str, parts: list[str]) -> bool:
    segments = path.split("/")
    return bool(parts) and segments[-len(parts) :] == parts


def _contains(segments: list[str], wanted: list[str]) -> bool:
    if not wanted:
        return True
    size = len(wanted)
    return any(segments[i : i + size] == wanted for i in range(len(segments) - size + 1))


# --- imports of one file -----------------------------------------------------------------------


def typescript_imports(nodes: Iterable[Node], source: Source) -> Imports:
    """`import { a, b as c } from 'm'`, `import d from 'm'`, `import * as ns from 'm'`,
    `const { a } = require('m')`, `const ns = require('m')`."""
    imports = Imports()
    for node in nodes:
        if node.type == "import_statement":
            module_node = node.child_by_field_name("source")
            module = string_value(module_node, source) if module_node is not None else None
            if module is None:
                continue
            for clause in node.named_children:
                if clause.type != "import_clause":
                    continue
                for item in clause.named_children:
                    _typescript_clause(item, module.text, source, imports)
        elif node.type == "variable_declarator":
            _require(node, source, imports)
    return imports


def _typescript_clause(item: Node, module: str, source: Source, imports: Imports) -> None:
    if item.type == "identifier":  # default import
        imports.names[source.text(item)] = (module, source.text(item))
    elif item.type == "namespace_import":
        for name in item.named_children:
            imports.namespaces[source.text(name)] = module
    elif item.type == "named_imports":
        for specifier in item.named_children:
            if specifier.type != "import_specifier":
                continue
            name = specifier.child_by_field_name("name")
            alias = specifier.child_by_field_name("alias") or name
            if name is not None and alias is not None:
                imports.names[source.text(alias)] = (module, source.text(name))


def _require(node: Node, source: Source, imports: Imports) -> None:
    value = node.child_by_field_name("value")
    name = node.child_by_field_name("name")
    if value is None or name is None or value.type != "call_expression":
        return
    function, arguments = (
        value.child_by_field_name("function"),
        value.child_by_field_name("arguments"),
    )
    if function is None or arguments is None or source.text(function) != "require":
        return
    args = arguments.named_children
    module = string_value(args[0], source) if args else None
    if module is None:
        return
    if name.type == "identifier":  # the module, or its default export
        imports.namespaces[source.text(name)] = module.text
        imports.names[source.text(name)] = (module.text, source.text(name))
    elif name.type == "object_pattern":
        for item in name.named_children:
            if item.type == "shorthand_property_identifier_pattern":
                imports.names[source.text(item)] = (module.text, source.text(item))
            elif item.type == "pair_pattern":
                key, local = item.child_by_field_name("key"), item.child_by_field_name("value")
                if key is not None and local is not None and local.type == "identifier":
                    imports.names[source.text(local)] = (module.text, source.text(key))


def python_imports(tree: Tree, source: Source) -> Imports:
    """`from m import a, b as c`, `from m import *`, `from . import models`, `import a.b`."""
    imports = Imports()
    for node in tree.root_node.named_children:
        if node.type == "import_from_statement":
            module_node = node.child_by_field_name("module_name")
            if module_node is None:
                continue
            module = source.text(module_node).replace(" ", "")
            for child in node.named_children:
                if child.id == module_node.id:
                    continue
                if child.type == "wildcard_import":
                    imports.stars.append(module)
                elif child.type == "dotted_name":
                    name = source.text(child)
                    imports.names[name] = (module, name)
                    submodule = module + name if module.endswith(".") else f"{module}.{name}"
                    imports.namespaces[name] = submodule  # `from . import models`
                elif child.type == "aliased_import":
                    original = child.child_by_field_name("name")
                    alias = child.child_by_field_name("alias")
                    if original is not None and alias is not None:
                        imports.names[source.text(alias)] = (module, source.text(original))
        elif node.type == "import_statement":
            for child in node.named_children:
                if child.type == "dotted_name":
                    imports.namespaces[source.text(child)] = source.text(child)
                elif child.type == "aliased_import":
                    original = child.child_by_field_name("name")
                    alias = child.child_by_field_name("alias")
                    if original is not None and alias is not None:
                        imports.namespaces[source.text(alias)] = source.text(original)
    return imports


# --- what the per-ORM modules share --------------------------------------------------------------


@dataclass
class FileModels:
    """One file's view of the models: the declarations, the file's imports, and what to do
    with a use."""

    models: Models
    imports: Imports
    path: str

    def resolve(self, orms: Sequence[str], node: Node, source: Source) -> Declared | None:
        """The model an expression names: `UserItem`, `schema.userItems`, `models.Order`."""
        while node.type in ("parenthesized_expression", "non_null_expression", "as_expression"):
            if not node.named_children:
                return None
            node = node.named_children[0]
        if node.type == "identifier":
            return self.models.resolve(orms, source.text(node), self.imports, self.path)
        if node.type in ("member_expression", "attribute"):
            obj = node.child_by_field_name("object")
            prop = node.child_by_field_name("property") or node.child_by_field_name("attribute")
            if obj is not None and prop is not None and obj.type == "identifier":
                return self.models.resolve_member(
                    orms, source.text(obj), source.text(prop), self.imports, self.path
                )
        return None


def nodes_of(tree: Tree, kinds: tuple[str, ...]) -> list[Node]:
    """Every node of one of KINDS (that the tree's grammar has), in source order."""
    captures = QueryCursor(_kinds_query(tree.language, kinds)).captures(tree.root_node)
    return sorted(captures.get("node", []), key=lambda node: node.start_byte)


@cache
def _kinds_query(language: Language, kinds: tuple[str, ...]) -> Query:
    known = [kind for kind in kinds if language.id_for_node_kind(kind, True) is not None]
    return Query(language, "[" + " ".join(f"({kind})" for kind in known) + "] @node")


def keyword_arguments(args: Sequence[Node], source: Source) -> dict[str, Node]:
    """Python `f(name=value)` / a JS options object `{ name: value }`: name → value node."""
    found: dict[str, Node] = {}
    for arg in args:
        if arg.type == "keyword_argument":
            name, value = arg.child_by_field_name("name"), arg.child_by_field_name("value")
            if name is not None and value is not None:
                found[source.text(name)] = value
        elif arg.type in ("object", "dictionary"):
            for pair in arg.named_children:
                key = pair.child_by_field_name("key") if pair.type == "pair" else None
                value = pair.child_by_field_name("value") if key is not None else None
                if key is None or value is None:
                    continue
                literal = string_value(key, source)
                found[literal.text if literal is not None else source.text(key)] = value
    return found


def positional(args: Sequence[Node]) -> list[Node]:
    return [a for a in args if a.type not in ("keyword_argument", "comment")]
