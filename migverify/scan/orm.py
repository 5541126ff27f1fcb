"""ORM models across files: the declarations found anywhere in the scanned tree (a model or
table object mapped to a table), and which declaration a name used in one file refers to.

A model is usually declared in one file and used in others. The scan first collects every
declaration (of legacy tables and of others, so that a use of another table is known not to be
dynamic), then scans the files naming a model again with this table. A name refers to a
declaration when the file declares it itself, or imports it (by name, as a namespace or with
`*`) from a module that is the declaring file: relative imports must lead to it exactly, other
imports must end with (Python) or appear in (TypeScript path aliases) its path. A class of the
same name in another project is therefore not the model.

Code also reaches a table through the model graph and through names under which a model
travels; the first pass records those next to the declarations: a `Relation` (a SQLAlchemy
`relationship()` and its `backref`, a Drizzle `relations()` entry, a Prisma relation field), an
`Alias` (a TypeScript re-export, a marshmallow-sqlalchemy schema and the model it loads) and a
`Helper` (a function running a Prisma Client operation on a model named by its parameter).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import cache

from tree_sitter import Language, Node, Query, QueryCursor, Tree

from migverify.scan.source import Source, string_value

ORMS = (
    "prisma", "drizzle", "typeorm", "sequelize", "objection", "sqlalchemy", "django", "peewee",
    "diesel", "gorm", "sea-orm", "ent",
)  # fmt: skip
NATIVE_ORMS = ("diesel", "gorm", "sea-orm", "ent")  # Rust's and Go's: their names count there


@dataclass(frozen=True)
class Declared:
    """A model (class, table object, Prisma model) mapped to a table."""

    orm: str  # one of ORMS
    name: str  # the name code uses: class, bound variable, Prisma model
    table: str  # the table it maps to, `schema.t` when a schema is declared
    path: str  # the declaring file, relative to the scan's root
    app: str | None = None  # Django: the app label
    # diesel: each column's name in code and in the table (`#[sql_name = "type"] kind`)
    columns: tuple[tuple[str, str], ...] = ()
    # diesel: NAME is a value standing for the table whose Rust name is TABLE (an `alias!`)
    bare: bool = False
    # diesel: NAME is a struct whose values are rows of the table whose Rust name is TABLE
    row: bool = False

    def sort_key(self) -> tuple[str, ...]:
        return (self.path, self.orm, self.name, self.table)


@dataclass(frozen=True)
class Named:
    """A name as the declaring file writes it: the module it is imported from there (None:
    declared in that file, or a name the ORM looks up in its own registry, like SQLAlchemy's
    `relationship("Child")`), or with TABLE a table's own name (`secondary="post_tags"`)."""

    name: str
    module: str | None = None
    table: bool = False


@dataclass(frozen=True)
class Relation:
    """A relation of a model to another: SQLAlchemy's `children = relationship("Child")` (and
    the attribute its `backref=` gives the other side), a Drizzle `relations()` entry, a Prisma
    relation field (`posts Post[]`). Using NAME on the owner reaches the target's table."""

    orm: str
    owner: Named  # the model the relation is an attribute, key or field of
    name: str
    target: Named
    path: str  # the declaring file
    secondary: Named | None = None  # a many-to-many relation's association table (SQLAlchemy)
    holds_key: bool = False  # the owner's table holds the foreign key (Prisma `@relation(fields:`)
    cascade_delete: bool = (
        False  # SQLAlchemy `cascade="all"` / `"…, delete"`: deleted with the owner
    )
    eager: bool = False  # TypeORM `{ eager: true }`: loaded with every find of the owner
    # TypeORM `@ManyToMany` with `@JoinTable()` naming no table: the default naming strategy's
    # `<owner table>_<relation>_<target table>` (snake_case) is its join table
    default_join: bool = False

    def sort_key(self) -> tuple[str, ...]:
        return (self.path, self.orm, self.owner.name, self.name, self.target.name)


@dataclass(frozen=True)
class Alias:
    """A name standing for a model elsewhere: a TypeScript re-export (kind `export`: `export
    { a as b } from 'm'`, or name `*` for `export * from 'm'`; kind `namespace`: `export * as b
    from 'm'`, the module itself under a name), a marshmallow-sqlalchemy schema
    (kind `schema`: a class whose `Meta.model` is the target, or an instance of such a class), a
    Django ModelForm (kind `form`: a class whose `Meta.model` is the target)."""

    kind: str
    name: str
    target: Named
    path: str

    def sort_key(self) -> tuple[str, ...]:
        return (self.path, self.kind, self.name, self.target.name)


@dataclass(frozen=True)
class Helper:
    """A function taking a model's name in its parameter INDEX and running OPERATION with it:
    `function pagedQuery(model) { return client[model].findMany() }`; or (Sequelize) the model
    itself, `function prune(Model) { Model.destroy(…) }`, with the use's place (LINE, COLUMN,
    SNIPPET): a call passing a model is a reference there."""

    orm: str
    name: str
    index: int
    operation: str
    path: str
    line: int = 0
    column: int = 0
    snippet: str = ""

    def sort_key(self) -> tuple[str, ...]:
        return (self.path, self.orm, self.name, str(self.index), self.operation,
                f"{self.line:09d}", f"{self.column:09d}")  # fmt: skip


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
    on_delete: str | None = None  # CASCADE, SET_NULL, PROTECT, … (the name as written)

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


@dataclass(frozen=True)
class DjangoManager:
    """Django: the manager or queryset class NAME of MODEL (`objects = HeroManager()`,
    `HeroQuerySet.as_manager()`, `models.Manager.from_queryset(HeroQuerySet)()`): its methods'
    `self.get_queryset()`, `self.filter(…)` are the model's rows."""

    name: str
    model: Declared

    def sort_key(self) -> tuple[str, ...]:
        return (self.model.path, self.model.name, self.name)


@dataclass(frozen=True)
class DjangoUserModel:
    """Django's `AUTH_USER_MODEL = "accounts.User"` in a settings module: the model
    `request.user` and `get_user_model()` are."""

    name: str
    app: str
    path: str

    def sort_key(self) -> tuple[str, ...]:
        return (self.path, self.app, self.name)


@dataclass(frozen=True)
class DjangoManagerRow:
    """Django: a method NAME of MODEL's manager class returning one row of it (`def
    for_user(self, user): return self.get(user=user)`): `M.objects.for_user(u)` is a row; with
    MANY, rows (`return self.filter(…)`: a loop over `M.objects.busiest()` gives rows)."""

    name: str
    model: Declared
    many: bool = False

    def sort_key(self) -> tuple[str, ...]:
        return (self.model.path, self.model.name, self.name, str(self.many))


@dataclass(frozen=True)
class RowFunction:
    """SQLAlchemy: a module's function NAME returning a row of MODEL it read (`def
    get_user(db, id): return db.query(User).get(id)`): its calls, here or where the module is
    imported (`crud.get_user(db, id)`), give an existing row."""

    name: str
    model: Named
    path: str

    def sort_key(self) -> tuple[str, ...]:
        return (self.path, self.name, self.model.name)


@dataclass(frozen=True)
class RowWriter:
    """SQLAlchemy: a method NAME of a model or of a mixin of models running the session on its
    own row (`def save(self): db.session.add(self)`, `def delete(self): db.session.delete(self)`,
    or setting attributes then calling such a method: `update`); OPERATION `save`, `delete` or
    `update`: `row.save()` writes the row's table."""

    name: str
    operation: str
    path: str

    def sort_key(self) -> tuple[str, ...]:
        return (self.path, self.name, self.operation)


@dataclass(frozen=True)
class DjangoManagerAttribute:
    """Django: a model's (or abstract model's) class attribute holding a manager, NAME
    (`all_objects = models.Manager()`, `issue_objects = IssueManager()`): `M.<name>.filter(…)`
    is a query of M, as `M.objects…` is."""

    name: str
    model: Declared

    def sort_key(self) -> tuple[str, ...]:
        return (self.model.path, self.model.name, self.name)


@dataclass(frozen=True)
class SequelizeDefaults:
    """`new Sequelize(…, { define: { freezeTableName: true, underscored: true } })` (the
    options object written anywhere in a file using Sequelize): what every model takes unless
    it sets its own."""

    freeze: bool
    underscored: bool
    path: str

    def sort_key(self) -> tuple[str, ...]:
        return (self.path, str(self.freeze), str(self.underscored))


@dataclass(frozen=True)
class SequelizeNamed:
    """A Sequelize model whose table is named by default (no `tableName`, no
    `freezeTableName` of its own): NAME, its model name; UNDERSCORED, its own option (None:
    not set). Its table follows the connection's SequelizeDefaults when there are some."""

    declared: Declared
    name: str
    underscored: bool | None

    def sort_key(self) -> tuple[str, ...]:
        return self.declared.sort_key()


@dataclass(frozen=True)
class ModelLoader:
    """SQLAlchemy: a static or class method NAME of MODEL returning a row of it read from the
    database (`return db.session.get(User, id)`, `cls.query.filter_by(…).first()`):
    `User.verify_token(t)` is an existing row."""

    name: str
    model: Declared

    def sort_key(self) -> tuple[str, ...]:
        return (self.model.path, self.model.name, self.name)


@dataclass(frozen=True)
class ModelMutator:
    """SQLAlchemy: a method NAME of MODEL setting attributes of its row (`self.x = …`,
    COLUMNS): `row.name(…)` then a commit updates the row's table."""

    name: str
    model: Declared
    columns: tuple[str, ...]

    def sort_key(self) -> tuple[str, ...]:
        return (self.model.path, self.model.name, self.name)


@dataclass(frozen=True)
class LoginUser:
    """Flask-Login: the model a `@login.user_loader` function returns a row of
    (`return db.session.get(User, int(id))`): `current_user` is such a row."""

    model: Named
    path: str

    def sort_key(self) -> tuple[str, ...]:
        return (self.path, self.model.name)


@dataclass(frozen=True)
class ModelFactory:
    """SQLAlchemy: a static or class method NAME of MODEL returning a new instance of it
    (`return cls(…)`, `return Post(…)`, a name bound to one): `Post.from_json(data)` is a new
    row, as `Post(…)` is."""

    name: str
    model: Declared

    def sort_key(self) -> tuple[str, ...]:
        return (self.model.path, self.model.name, self.name)


@dataclass(frozen=True)
class TraitMethod:
    """diesel: a trait's default method NAME running OPERATION on `Self::table()` (a `Crud`
    trait's `read`, `delete`): `T::name(…)` on a struct T implementing the trait without its
    own NAME is that operation on T's table."""

    trait: str
    name: str
    operation: str
    path: str

    def sort_key(self) -> tuple[str, ...]:
        return (self.path, self.trait, self.name, self.operation)


@dataclass(frozen=True)
class TraitImpl:
    """diesel: `impl TRAIT for STRUCT`, with the methods it defines itself (OWN)."""

    trait: str
    struct: str
    own: tuple[str, ...]
    path: str

    def sort_key(self) -> tuple[str, ...]:
        return (self.path, self.trait, self.struct)


@dataclass(frozen=True)
class Subclass:
    """A model class NAME inheriting from another model, BASE as its file writes it. TABLE:
    its own table (joined or multi-table inheritance: Django's `class Restaurant(Place)`,
    SQLAlchemy's subclass with its own `__tablename__` or primary key), whose rows are also
    rows of the parent's table (a query joins it, an insert or a delete writes both); None:
    SQLAlchemy's single-table inheritance (`class Admin(User)` with only
    `__mapper_args__`), whose rows are in the parent's table."""

    orm: str
    name: str
    base: Named
    path: str
    table: str | None = None
    # is the subclass a model only when BASE is one (its file does not say)? Flask-SQLAlchemy
    # names a subclass with a primary key of its own: joined to a model, a table of its own
    declares: bool = False

    def sort_key(self) -> tuple[str, ...]:
        return (
            self.path,
            self.orm,
            self.name,
            self.base.name,
            self.table or "",
            str(self.declares),
        )


Record = (
    Declared
    | Subclass
    | Relation
    | Alias
    | Helper
    | DjangoRelation
    | DjangoManager
    | DjangoManagerAttribute
    | DjangoManagerRow
    | DjangoUserModel
    | RowWriter
    | RowFunction
    | ModelFactory
    | SequelizeDefaults
    | SequelizeNamed
    | LoginUser
    | ModelMutator
    | ModelLoader
    | TraitMethod
    | TraitImpl
)
MAX_ALIASES = 6  # re-exports of re-exports, a schema instance of a schema class, …
# The ORM of the model an alias of a kind stands for: a marshmallow-sqlalchemy schema, a Django
# ModelForm.
ALIAS_ORMS = {
    "schema": "sqlalchemy", "form": "django", "serializer": "django", "repository": "typeorm",
}  # fmt: skip


def _diesel_rows(records: set) -> set:
    """diesel's row structs and aliases, SeaORM's entity aliases, of the tables kept (those of
    legacy tables) only: the others lead nowhere, and their names would send files to the
    second pass for nothing."""

    def kept(r: object) -> bool:
        return isinstance(r, Declared) and r.orm in NATIVE_ORMS and not (r.row or r.bare)

    tables = {(r.orm, r.name) for r in records if kept(r)}
    return {
        r for r in records
        if not (isinstance(r, Declared) and (r.row or r.bare) and (r.orm, r.table) not in tables)
    }  # fmt: skip


def _sequelize_defaults(records: set) -> set:
    """RECORDS with the tables of Sequelize's default-named models as the connection's
    `define` options name them (SequelizeDefaults; the first, when several files set them)."""
    defaults = sorted(
        (r for r in records if isinstance(r, SequelizeDefaults)), key=lambda r: r.sort_key()
    )
    if not defaults:
        return records
    replaced: dict[Declared, Declared] = {}
    for named in (r for r in records if isinstance(r, SequelizeNamed)):
        table = sequelize_table(
            named.name, defaults[0].freeze, named.underscored, defaults[0].underscored
        )
        schema, dot, _ = named.declared.table.rpartition(".")
        qualified = f"{schema}.{table}" if dot else table
        if qualified != named.declared.table:
            replaced[named.declared] = replace(named.declared, table=qualified)
    return {replaced.get(r, r) if isinstance(r, Declared) else r for r in records}


def sequelize_table(name: str, freeze: bool, underscored: bool | None, default: bool) -> str:
    """The table Sequelize gives the model NAME: itself when frozen, else its plural
    (`inflection`'s rules), snake_case when underscored (its own option, else DEFAULT)."""
    from migverify.scan.sequelize import plural

    if freeze:
        return name
    table = plural(name)
    return snake_case(table) if (default if underscored is None else underscored) else table


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

    def __init__(self, declarations: Iterable[Record] = ()) -> None:
        records = _diesel_rows(_sequelize_defaults(set(declarations)))

        def of_type(kind: type) -> tuple:
            return tuple(sorted((r for r in records if isinstance(r, kind)), key=kind.sort_key))

        self.declarations: tuple[Declared, ...] = of_type(Declared)
        self.relations: tuple[Relation, ...] = of_type(Relation)
        self.aliases: tuple[Alias, ...] = of_type(Alias)
        self.helpers: tuple[Helper, ...] = of_type(Helper)
        self._by_name: dict[str, list[Declared]] = {}
        for declared in self.declarations:
            self._by_name.setdefault(declared.name, []).append(declared)
        self._aliases: dict[tuple[str, str], list[Alias]] = {}
        # re-exports by each component of their file's path: a module can only lead to a file
        # whose path holds the module's last component (module_key), so a lookup reads those
        self._exports: dict[str, list[Alias]] = {}
        for alias in self.aliases:
            self._aliases.setdefault((alias.kind, alias.name), []).append(alias)
            if alias.kind == "export":
                stem = posixpath.splitext(alias.path)[0]
                for component in set(stem.split("/")):
                    self._exports.setdefault(component, []).append(alias)
        # (orm, table) → the tables of its parents (joined inheritance), nearest first
        self.parent_tables: dict[tuple[str, str], tuple[str, ...]] = {}
        self._subclasses: dict[Declared, list[Declared]] = {}  # a model's joined subclasses
        self._inherit(of_type(Subclass))
        self.orms = frozenset(d.orm for d in self.declarations)  # those with a model
        self._relations: dict[tuple[str, str], list[Relation]] = {}
        for relation in self.relations:
            self._relations.setdefault((relation.orm, relation.owner.name), []).append(relation)
        self._helpers: dict[str, list[Helper]] = {}
        for helper in self.helpers:
            self._helpers.setdefault(helper.name, []).append(helper)
        self._relations_of: dict[Declared, list[tuple[Relation, Declared]]] = {}
        self._accessors: dict[str, Declared] | None = None
        self._template_relations: dict[str, tuple[str, ...]] | None = None
        self._template_forward: dict[str, str] | None = None
        self._prisma_names: dict[str, list[Declared]] | None = None
        self._lower: dict[tuple[str, str], list[Declared]] | None = None
        # Django's relation fields: reverse accessors and lookups (django_graph.py)
        self.django_relations: tuple[DjangoRelation, ...] = of_type(DjangoRelation)
        self._django_managers: dict[str, set[Declared]] = {}
        for manager in of_type(DjangoManager):
            self._django_managers.setdefault(manager.name, set()).add(manager.model)
        self.django_manager_attributes = frozenset(m.name for m in of_type(DjangoManagerAttribute))
        self._manager_rows = {(m.model, m.name, m.many) for m in of_type(DjangoManagerRow)}
        self.manager_row_names = frozenset(m.name for m in of_type(DjangoManagerRow))
        self._user_models: tuple[DjangoUserModel, ...] = of_type(DjangoUserModel)
        writers: dict[str, set[str]] = {}
        for writer in of_type(RowWriter):
            writers.setdefault(writer.name, set()).add(writer.operation)
        # a name two classes use for different writes says nothing
        self.row_writers = {n: ops.pop() for n, ops in writers.items() if len(ops) == 1}
        self._row_functions: dict[str, list[RowFunction]] = {}
        for function in of_type(RowFunction):
            self._row_functions.setdefault(function.name, []).append(function)
        self._factories = {(f.model, f.name) for f in of_type(ModelFactory)}
        # diesel: (trait, method) → its operation on Self's table; struct → (trait, own methods)
        self.trait_methods = {(m.trait, m.name): m.operation for m in of_type(TraitMethod)}
        self.trait_impls: dict[str, list[TraitImpl]] = {}
        for impl in of_type(TraitImpl):
            self.trait_impls.setdefault(impl.struct, []).append(impl)
        self._loaders = {(f.model, f.name) for f in of_type(ModelLoader)}
        self._login_users: tuple[LoginUser, ...] = of_type(LoginUser)
        self._mutators: dict[str, dict[Declared, tuple[str, ...]]] = {}
        for mutator in of_type(ModelMutator):
            self._mutators.setdefault(mutator.name, {})[mutator.model] = mutator.columns
        defaults = of_type(SequelizeDefaults)
        self.sequelize_defaults: SequelizeDefaults | None = defaults[0] if defaults else None
        self._django: dict[str, list[Declared]] = {}  # lower-case class name → models
        for declared in self.of(("django",)):
            self._django.setdefault(declared.name.lower(), []).append(declared)
        self._django_accessors: dict[str, list[DjangoRelation]] = {}
        for relation in self.django_relations:
            for name in {relation.accessor, relation.field if relation.kind == "m2m" else None}:
                if name:
                    self._django_accessors.setdefault(name, []).append(relation)
        self.accessors = frozenset(self._django_accessors)
        self._matching: dict[tuple[str, ...], bool] = {}
        self._index_relations()

    def _inherit(self, subclasses: tuple[Subclass, ...]) -> None:
        """The models of single-table subclasses (their parent's table; a subclass of one
        too, in any order), and each joined subclass's parent tables."""
        parents: dict[tuple[str, str], list[str]] = {}
        pending = list(subclasses)
        while pending:
            left = []
            for sub in pending:
                parent = self.locate((sub.orm,), sub.base, sub.path)
                if parent is None:
                    left.append(sub)
                    continue
                if sub.table is None or sub.declares:
                    table = sub.table or parent.table
                    declared = Declared(sub.orm, sub.name, table, sub.path, parent.app)
                    if declared not in self._by_name.get(sub.name, ()):
                        self.declarations = (*self.declarations, declared)
                        self._by_name.setdefault(sub.name, []).append(declared)
                if sub.table is not None and parent.table != sub.table:
                    parents.setdefault((sub.orm, sub.table), []).append(parent.table)
                    child = self.locate((sub.orm,), Named(sub.name), sub.path)
                    if child is not None:
                        self._subclasses.setdefault(parent, []).append(child)
            if len(left) == len(pending):
                break  # the rest inherit from no known model (a mixin, a base class)
            pending = left
        self.declarations = tuple(sorted(self.declarations, key=Declared.sort_key))

        def up(key: tuple[str, str], seen: tuple[str, ...]) -> tuple[str, ...]:
            tables: tuple[str, ...] = ()
            for table in parents.get(key, ()):
                if table not in seen and table not in tables:
                    tables += (table, *up((key[0], table), (*seen, table)))
            return tuple(dict.fromkeys(tables))

        for key in sorted(parents):
            self.parent_tables[key] = up(key, (key[1],))

    def subclasses(self, declared: Declared) -> list[Declared]:
        """The models inheriting from DECLARED with tables of their own (joined, multi-table
        inheritance): deleting its rows deletes theirs."""
        return self._subclasses.get(declared, [])

    def __bool__(self) -> bool:
        """Is there a model (without one, relations, aliases and helpers lead nowhere)?"""
        return bool(self.declarations)

    def names(self) -> set[str]:
        """The names a file must contain to use a model (Prisma: the client's accessor), a
        schema or re-exported name standing for one, or a helper taking a model's name."""
        names = set()
        for declared in self.declarations:
            if declared.orm in NATIVE_ORMS:
                continue  # native_names
            names.add(prisma_accessor(declared.name) if declared.orm == "prisma" else declared.name)
            if declared.orm == "django":  # migrations name models in lower case
                names.add(declared.name.lower())
        for alias in self.aliases:  # a name a model is re-exported or loaded under
            if alias.name != "*" and self._leads_to_model(alias):
                names.add(alias.name)
        names.update(helper.name for helper in self.helpers)
        names.update(self._row_functions)  # get_user(…): a row wherever it is imported
        names.update(self._django_managers)
        return names

    def native_names(self) -> set[str]:
        """The names a Rust or Go file must contain to use a diesel table (its module, an
        alias, a struct of its rows) or a GORM model."""
        return {d.name for d in self.declarations if d.orm in NATIVE_ORMS}

    def mutators(self) -> dict[str, dict[Declared, tuple[str, ...]]]:
        """Method name → the models with such a method setting their row's attributes, and
        the attributes (ModelMutator)."""
        return self._mutators

    def login_user(self) -> Declared | None:
        """The model Flask-Login's `current_user` is a row of (LoginUser), when one is known."""
        found = {self.locate(("sqlalchemy",), u.model, u.path) for u in self._login_users}
        found.discard(None)
        return found.pop() if len(found) == 1 else None

    def row_function(self, name: str, module: str | None, path: str) -> Declared | None:
        """The model of the row the function NAME returns (RowFunction), called in PATH: one
        of this file (MODULE None) or of the module it is imported from."""
        for function in self._row_functions.get(name, ()):
            here = (
                function.path == path
                if module is None
                else module_leads_to(module, path, function.path)
            )
            if here:
                return self.locate(("sqlalchemy",), function.model, function.path)
        return None

    def factory(self, model: Declared, method: str) -> bool:
        """Does MODEL's METHOD return a new instance of it (ModelFactory)?"""
        return (model, method) in self._factories

    def loader(self, model: Declared, method: str) -> bool:
        """Does MODEL's METHOD return a row of it read from the database (ModelLoader)?"""
        return (model, method) in self._loaders

    def auth_user(self) -> Declared | None:
        """The model of Django's users (`request.user`, `get_user_model()`): the one
        AUTH_USER_MODEL names, else the only scanned model named User (none: Django's own
        auth.User, not in the tree)."""
        for setting in self._user_models:
            declared = self.django_model(setting.name, setting.app)
            if declared is not None:
                return declared
        return None if self._user_models else self.django_model("User", None)

    def user_names(self) -> set[str]:
        """What a Python file uses Django's user model by, when it is a scanned one."""
        return {"request.user", "get_user_model"} if self.auth_user() is not None else set()

    def manager_row(self, model: Declared, method: str, many: bool = False) -> bool:
        """Does METHOD of MODEL's manager return one of its rows (DjangoManagerRow; MANY: a
        queryset of them)?"""
        return (model, method, many) in self._manager_rows

    def django_manager(self, name: str) -> Declared | None:
        """The model whose manager (or queryset) class is called NAME, when only one's is."""
        models = self._django_managers.get(name, ())
        return next(iter(models)) if len(models) == 1 else None

    # --- Django's model graph -----------------------------------------------------------

    def accessor_names(self) -> frozenset[str]:
        """Attributes of a model instance that are relation managers or related rows (what a
        Python file or a template may use a Django model through, besides the model's name:
        `project.member_set`, `tag.projects`)."""
        return self.accessors

    def template_relations(self) -> dict[str, tuple[str, ...]]:
        """SQLAlchemy relationships a (Jinja) template may walk, `{{ user.posts.count() }}`: each
        relationship name that leads to one table (and association table) only, with those
        tables. A template's variables have no known model, so a name two relationships share
        with different targets counts for neither."""
        if self._template_relations is None:
            tables: dict[str, set[tuple[str, ...]]] = {}
            for relation in self.relations:
                if relation.orm != "sqlalchemy":
                    continue
                target = self.locate(("sqlalchemy",), relation.target, relation.path)
                if target is None:
                    continue
                secondary = self.secondary(relation)
                reached = (target.table,) + ((secondary,) if secondary else ())
                tables.setdefault(relation.name, set()).add(reached)
            self._template_relations = {
                name: next(iter(reached)) for name, reached in tables.items() if len(reached) == 1
            }
        return self._template_relations

    def template_forward_keys(self) -> dict[str, str]:
        """Django foreign keys and one-to-one fields a template may read (`{{ gift.hero.name
        }}`: the related row is loaded), by field name, with the table they lead to: each name
        whose fields all lead to one table among the scanned models."""
        if self._template_forward is None:
            tables: dict[str, set[str | None]] = {}
            for relation in self.django_relations:
                if relation.kind != "m2m":
                    target = self.target(relation)
                    tables.setdefault(relation.field, set()).add(target.table if target else None)
            self._template_forward = {
                name: next(iter(reached))
                for name, reached in tables.items()
                if len(reached) == 1 and None not in reached
            }
        return self._template_forward

    def template_names(self) -> frozenset[str]:
        """What a template must contain to walk the model graph: Django's accessors and forward
        keys, the SQLAlchemy relationships of `template_relations`."""
        return (
            self.accessors
            | frozenset(self.template_relations())
            | frozenset(self.template_forward_keys())
        )

    def by_accessor(self, name: str) -> list[DjangoRelation]:
        return self._django_accessors.get(name, [])

    def django_tables_match(self, matcher) -> bool:
        """Is a Django model's table, or a many-to-many join table, one of MATCHER's?"""
        key = matcher.tables
        if key not in self._matching:
            tables = [d.table for d in self.of(("django",))]
            tables += [t for r in self.django_relations if (t := self.through(r)) is not None]
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
        for relation in self.django_relations:
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

    def _leads_to_model(self, alias: Alias) -> bool:
        if alias.kind == "namespace":  # its members are named where they are used
            return False
        if alias.kind in ALIAS_ORMS:
            return self._schema_target(alias, 0) is not None
        target = alias.target
        return target.module is not None and (
            self._from_module(ORMS, target.name, target.module, alias.path) is not None
        )

    def of(self, orms: Sequence[str]) -> list[Declared]:
        return [d for d in self.declarations if d.orm in orms]

    def named_in_lower_case(self, orm: str, name: str) -> list[Declared]:
        """ORM's models whose name is NAME in any case (`article`: Article)."""
        if self._lower is None:
            self._lower = {}
            for declared in self.declarations:
                self._lower.setdefault((declared.orm, declared.name.lower()), []).append(declared)
        return self._lower.get((orm, name.lower()), [])

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
        """`schema.userItems`, `models.Order`: NAME from the module imported as NAMESPACE, or
        from the module a module NAMESPACE is imported from re-exports under that name
        (`export * as schema from './schema'`, then `import { schema } from '@acme/db'`)."""
        module = imports.namespaces.get(namespace)
        if module is not None:
            return self._from_module(orms, name, module, path)
        if namespace not in imports.names:
            return None
        imported, original = imports.names[namespace]
        reexported = self._namespace(original, imported, path)
        if reexported is None:
            return None
        return self._from_module(orms, name, *reexported, 1)

    def _namespace(
        self, name: str, module: str, path: str, depth: int = 0
    ) -> tuple[str, str] | None:
        """(the module, the file naming it) that NAME, imported from MODULE in PATH, stands
        for when a module re-exports a module under that name, itself or through re-exports."""
        for alias in self._aliases.get(("namespace", name), ()):
            if alias.target.module is not None and module_leads_to(module, path, alias.path):
                return alias.target.module, alias.path
        if depth >= MAX_ALIASES:
            return None
        for original, target, where in self._reexports(name, module, path):
            found = self._namespace(original, target, where, depth + 1)
            if found is not None:
                return found
        return None

    def _reexports(self, name: str, module: str, path: str) -> Iterator[tuple[str, str, str]]:
        """(the name there, the module, the re-exporting file) of each re-export (`export {
        name } from './schema'`, `export * from './schema'`) NAME imported from MODULE in PATH
        may come through."""
        key = module_key(module, path)
        if key is None:
            exports: Iterable[Alias] = (
                *self._aliases.get(("export", name), ()),
                *self._aliases.get(("export", "*"), ()),
            )
        else:
            exports = [a for a in self._exports.get(key, ()) if a.name in (name, "*")]
        for alias in exports:
            if alias.target.module is None or alias.path.endswith(".py") != path.endswith(".py"):
                continue
            if not module_leads_to(module, path, alias.path):
                continue
            original = name if alias.target.name == "*" else alias.target.name
            yield original, alias.target.module, alias.path

    def _from_module(
        self, orms: Sequence[str], name: str, module: str, path: str, depth: int = 0
    ) -> Declared | None:
        for declared in self._by_name.get(name, ()):
            if declared.orm in orms and module_leads_to(module, path, declared.path):
                return declared
        if depth >= MAX_ALIASES:
            return None
        for original, target, where in self._reexports(name, module, path):
            found = self._from_module(orms, original, target, where, depth + 1)
            if found is not None:
                return found
        return None

    def locate(self, orms: Sequence[str], named: Named, path: str) -> Declared | None:
        """The model NAMED (as the file PATH writes it) stands for: imported from its module,
        declared in PATH, or else the ORM's registry: the declaration of that name nearest to
        PATH (none when two are equally near)."""
        if named.table:
            return None
        if named.module is not None:
            return self._from_module(orms, named.name, named.module, path)
        candidates = [d for d in self._by_name.get(named.name, ()) if d.orm in orms]
        here = [d for d in candidates if d.path == path]
        if here:
            return here[0]
        return _nearest(candidates, path)

    def relations_of(self, declared: Declared) -> list[tuple[Relation, Declared]]:
        """The relations of the model DECLARED, each with the model it leads to."""
        if declared not in self._relations_of:
            found = []
            for relation in self._relations.get((declared.orm, declared.name), ()):
                if self.locate((declared.orm,), relation.owner, relation.path) != declared:
                    continue
                target = self.locate((declared.orm,), relation.target, relation.path)
                if target is not None:
                    found.append((relation, target))
            self._relations_of[declared] = found
        return self._relations_of[declared]

    def relation(self, declared: Declared, name: str) -> tuple[Relation, Declared] | None:
        """DECLARED's relation called NAME and the model it leads to."""
        return next((pair for pair in self.relations_of(declared) if pair[0].name == name), None)

    def secondary(self, relation: Relation) -> str | None:
        """The association table (as declared) a many-to-many RELATION goes through."""
        named = relation.secondary
        if relation.default_join:
            owner = self.locate((relation.orm,), relation.owner, relation.path)
            target = self.locate((relation.orm,), relation.target, relation.path)
            if owner is None or target is None:
                return None
            name = relation.name.replace(".", "_")
            return snake_case(
                f"{owner.table.rpartition('.')[2]}_{name}_{target.table.rpartition('.')[2]}"
            )
        if named is None:
            return None
        if named.table:
            return named.name
        declared = self.locate((relation.orm,), named, relation.path)
        return declared.table if declared is not None else None

    def schema_model(
        self,
        name: str,
        imports: Imports,
        path: str,
        namespace: str | None = None,
        kind: str = "schema",
    ) -> Declared | None:
        """The model a marshmallow-sqlalchemy schema NAME (class or instance, used in PATH)
        loads, or (KIND `form`) a Django ModelForm saves; NAMESPACE: the module it is a member
        of (`schemas.tag_schema`)."""
        if namespace is not None:
            module = imports.namespaces.get(namespace)
            return None if module is None else self._schema_from(name, module, path, 0, kind)
        for alias in self._aliases.get((kind, name), ()):
            if alias.path == path:
                return self._schema_target(alias, 0)
        if name in imports.names:
            module, original = imports.names[name]
            return self._schema_from(original, module, path, 0, kind)
        return None

    def _schema_from(
        self, name: str, module: str, path: str, depth: int, kind: str
    ) -> Declared | None:
        for alias in self._aliases.get((kind, name), ()):
            if module_leads_to(module, path, alias.path):
                return self._schema_target(alias, depth)
        return None

    def _schema_target(self, alias: Alias, depth: int) -> Declared | None:
        declared = self.locate((ALIAS_ORMS[alias.kind],), alias.target, alias.path)
        if declared is not None or depth >= MAX_ALIASES:
            return declared
        target = alias.target  # an instance of a schema class
        if target.module is not None:
            return self._schema_from(target.name, target.module, alias.path, depth + 1, alias.kind)
        for other in self._aliases.get((alias.kind, target.name), ()):
            if other.path == alias.path:
                return self._schema_target(other, depth + 1)
        return None

    def helpers_named(self, name: str) -> list[Helper]:
        return self._helpers.get(name, [])

    def prisma_named(self, text: str) -> list[Declared]:
        """The Prisma models TEXT names, by their name or their client accessor."""
        if self._prisma_names is None:
            self._prisma_names = {}
            for declared in self.of(("prisma",)):
                for name in dict.fromkeys((declared.name, prisma_accessor(declared.name))):
                    self._prisma_names.setdefault(name, []).append(declared)
        return self._prisma_names.get(text, [])

    def prisma_accessors(self) -> dict[str, Declared]:
        """Prisma models by their client accessor (`teamUser`), the first declared winning."""
        if self._accessors is None:
            self._accessors = {prisma_accessor(d.name): d for d in reversed(self.of(("prisma",)))}
        return self._accessors


def _nearest(candidates: Sequence[Declared], path: str) -> Declared | None:
    """The declaration among CANDIDATES whose file shares the longest directory prefix with
    PATH; None when there is none or two are as near."""
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    parts = path.split("/")[:-1]

    def shared(declared: Declared) -> int:
        other = declared.path.split("/")[:-1]
        count = 0
        for mine, theirs in zip(parts, other, strict=False):
            if mine != theirs:
                break
            count += 1
        return count

    ranked = sorted(candidates, key=shared, reverse=True)
    return ranked[0] if shared(ranked[0]) > shared(ranked[1]) else None


def prisma_accessor(model: str) -> str:
    """Prisma Client's property for a model: the name with a lower-case first letter."""
    return model[:1].lower() + model[1:]


def module_key(module: str, importer: str) -> str | None:
    """A path component every file MODULE (imported in IMPORTER) may lead to holds
    (module_leads_to); None when there is none to tell."""
    if importer.endswith(".py"):
        dots = len(module) - len(module.lstrip("."))
        parts = [p for p in module[dots:].split(".") if p]
        if parts:
            return parts[-1]
        base = posixpath.dirname(importer)
        for _ in range(dots - 1):
            base = posixpath.dirname(base)
        return posixpath.basename(base) or None
    if module.startswith("."):
        target = posixpath.normpath(posixpath.join(posixpath.dirname(importer), module))
        target = re.sub(r"\.(?:[cm]?[jt]sx?)$", "", target)
        return posixpath.basename(target) or None
    segments = [s for s in re.sub(r"\.(?:[cm]?[jt]sx?)$", "", module).split("/") if s]
    return segments[-1] if segments else None


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


def typescript_exports(tree: Tree, source: Source) -> list[Alias]:
    """Re-exports: `export { a, b as c } from 'm'`, `export * from 'm'`, and `export { a }` of a
    name the file imports."""
    aliases: list[Alias] = []
    imports: Imports | None = None
    for node in tree.root_node.named_children:
        if node.type != "export_statement" or node.child_by_field_name("declaration") is not None:
            continue
        module_node = node.child_by_field_name("source")
        module = string_value(module_node, source) if module_node is not None else None
        clauses = [
            c for c in node.named_children if c.type in ("export_clause", "namespace_export")
        ]
        if module is not None and not clauses:  # export * from 'm'
            aliases.append(Alias("export", "*", Named("*", module.text), source.path))
        for clause in clauses:
            if clause.type == "namespace_export":  # export * as schema from 'm'
                named = clause.named_children[0] if clause.named_children else None
                if module is not None and named is not None:
                    target = Named("*", module.text)
                    aliases.append(Alias("namespace", source.text(named), target, source.path))
                continue
            if clause.type != "export_clause":
                continue
            for specifier in clause.named_children:
                name = specifier.child_by_field_name("name")
                alias = specifier.child_by_field_name("alias") or name
                if specifier.type != "export_specifier" or name is None or alias is None:
                    continue
                original = source.text(name)
                if module is not None:
                    target = Named(original, module.text)
                else:  # `export { a }`: a re-export when `a` is imported
                    if imports is None:
                        imports = typescript_imports(
                            nodes_of(tree, ("import_statement", "variable_declarator")), source
                        )
                    if original in imports.namespaces:  # import * as s …; export { s }
                        target = Named("*", imports.namespaces[original])
                        aliases.append(Alias("namespace", source.text(alias), target, source.path))
                        continue
                    if original not in imports.names:
                        continue
                    target = Named(imports.names[original][1], imports.names[original][0])
                aliases.append(Alias("export", source.text(alias), target, source.path))
    return aliases


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
    """`from m import a, b as c`, `from m import *`, `from . import models`, `import a.b`; the
    module's own, then those inside functions (`def task(): from app.models import Issue`, as
    code avoiding circular imports has them), where the module's do not name the same."""
    top = tree.root_node.named_children
    imports = _imports_of(top, source)
    # the others: found from the word `import` outside the module's own import statements
    # (a query of the whole tree costs more than the rest of the imports together)
    spans = [(n.start_byte, n.end_byte) for n in top if n.type.startswith("import")]
    nested: list[Node] = []
    at = source.data.find(b"import ")
    while at >= 0:
        if not any(start <= at < end for start, end in spans):
            node = tree.root_node.descendant_for_byte_range(at, at + 6)
            while node is not None and node.type not in ("import_from_statement",
                                                         "import_statement", "module"):  # fmt: skip
                node = node.parent
            if node is not None and node.type != "module" and node not in nested:
                nested.append(node)
        at = source.data.find(b"import ", at + 7)
    if nested:
        local = _imports_of(nested, source)
        for name, value in local.names.items():
            imports.names.setdefault(name, value)
        for name, module in local.namespaces.items():
            imports.namespaces.setdefault(name, module)
        imports.stars += [m for m in local.stars if m not in imports.stars]
    return imports


def _imports_of(nodes: Iterable[Node], source: Source) -> Imports:
    imports = Imports()
    for node in nodes:
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
    _uses: dict[str, bool] = field(default_factory=dict, repr=False)

    def uses(self, orm: str, source: Source) -> bool:
        """Does the file name ORM (`sequelize`), declare one of its models, or import by a
        relative path a module declaring one (`require('../models')`)? A value named after a
        model is taken for its row only there: a front end's own `Document` class has a
        `save()` too, and its `~/models/Document` may look like the server's model's path."""
        known = self._uses.get(orm)
        if known is None:
            known = self._uses[orm] = self._find_uses(orm, source)
        return known

    def _find_uses(self, orm: str, source: Source) -> bool:
        if orm.encode() in source.data.lower():
            return True
        declared = self.models.of((orm,))
        if any(d.path == self.path for d in declared):
            return True
        imports = self.imports
        modules = [*imports.namespaces.values(), *imports.stars]
        modules += [module for module, _ in imports.names.values()]
        return any(
            module_leads_to(m, self.path, d.path)
            for m in modules
            if m.startswith(".")
            for d in declared
        )

    def resolve(self, orms: Sequence[str], node: Node, source: Source) -> Declared | None:
        """The model an expression names: `UserItem`, `schema.userItems`, `models.Order`."""
        while node.type in ("parenthesized_expression", "non_null_expression", "as_expression"):
            if not node.named_children:
                return None
            node = node.named_children[0]
        if node.type in ("identifier", "type_identifier"):  # `User`, `Repository<User>`'s
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


def module_functions(tree: Tree) -> dict[str, list[Node]]:
    """The functions a Python module defines at its top level (decorated or not), by name."""
    functions: dict[str, list[Node]] = {}
    for node in tree.root_node.named_children:
        if node.type == "decorated_definition":
            node = node.child_by_field_name("definition") or node
        name = node.child_by_field_name("name") if node.type == "function_definition" else None
        if name is not None and name.text is not None:
            functions.setdefault(name.text.decode("utf-8", "replace"), []).append(node)
    return functions


def returned_values(function: Node) -> list[Node]:
    """What FUNCTION's `return` statements return (not a bare `return`, not `return None`;
    not those of functions nested in it)."""
    body = function.child_by_field_name("body")
    return [
        statement.named_children[0]
        for statement in (nodes_under(body, ("return_statement",)) if body is not None else ())
        if statement.named_children and statement.named_children[0].type != "none"
    ]


def classmethod_class(identifier: Node, source: Source) -> Node | None:
    """The name of the class whose class method IDENTIFIER (its first parameter, `cls`) is
    used in, if it is one."""
    function = function_of(identifier)
    decorated = function.parent if function is not None else None
    if function is None or decorated is None or decorated.type != "decorated_definition":
        return None
    if not any(
        d.type == "decorator" and source.text(d).lstrip("@").strip() == "classmethod"
        for d in decorated.named_children
    ):
        return None
    parameters = function.child_by_field_name("parameters")
    first = parameters.named_children[0] if parameters and parameters.named_children else None
    if first is None or source.text(first) != source.text(identifier):
        return None
    cls = enclosing_class(decorated)
    return cls.child_by_field_name("name") if cls is not None else None


def function_of(node: Node) -> Node | None:
    """The (Python) function definition NODE is in, if any."""
    scope = node.parent
    while scope is not None and scope.type != "function_definition":
        scope = scope.parent
    return scope


def nodes_under(node: Node, kinds: tuple[str, ...]) -> list[Node]:
    """The nodes of KINDS under NODE (not in nested functions or classes)."""
    found, stack = [], [node]
    while stack:
        current = stack.pop()
        if current is not node and current.type in ("function_definition", "class_definition"):
            continue
        if current.type in kinds:
            found.append(current)
        stack.extend(current.named_children)
    return found


@cache
def _kinds_query(language: Language, kinds: tuple[str, ...]) -> Query:
    known = [kind for kind in kinds if language.id_for_node_kind(kind, True) is not None]
    return Query(language, "[" + " ".join(f"({kind})" for kind in known) + "] @node")


@dataclass(frozen=True)
class FieldCall:
    """`name = f(arguments)` in a Python class body (a model's field or relation)."""

    assignment: Node  # its `type` child holds an annotation (`name: Mapped[…] = f(…)`)
    name: Node
    function: Node
    arguments: Node


def block_assignments(body: Node | None) -> Iterator[tuple[Node, Node, Node]]:
    """(assignment, name, value) of the `name = value` statements directly in BODY (a class
    body, a module), in order."""
    for statement in body.named_children if body is not None else ():
        assignment = statement.named_children[0] if statement.named_children else None
        if statement.type != "expression_statement" or assignment is None:
            continue
        if assignment.type != "assignment":
            continue
        left, right = (
            assignment.child_by_field_name("left"),
            assignment.child_by_field_name("right"),
        )
        if left is not None and right is not None and left.type == "identifier":
            yield assignment, left, right


def class_field_calls(body: Node | None) -> Iterator[FieldCall]:
    """The `name = f(…)` statements of a class BODY, in order."""
    for assignment, left, right in block_assignments(body):
        if right.type != "call":
            continue
        function, arguments = (
            right.child_by_field_name("function"),
            right.child_by_field_name("arguments"),
        )
        if function is not None and arguments is not None:
            yield FieldCall(assignment, left, function, arguments)


def class_attributes(body: Node | None, source: Source) -> Iterator[tuple[str, Node]]:
    """(name, value) of the `name = value` statements of a class BODY, in order."""
    for _, left, right in block_assignments(body):
        yield source.text(left), right


def enclosing_class(node: Node) -> Node | None:
    """The class definition NODE is in, if any."""
    cls = node.parent
    while cls is not None and cls.type != "class_definition":
        cls = cls.parent
    return cls


def parameter_annotation(identifier: Node, source: Source) -> Node | None:
    """The annotation of the parameter IDENTIFIER names in the Python function around it
    (`def publish(post: Post)`: the `Post` node), if it has one."""
    name = source.text(identifier)
    node = identifier.parent
    while node is not None and node.type not in ("function_definition", "lambda"):
        node = node.parent
    parameters = node.child_by_field_name("parameters") if node is not None else None
    for parameter in parameters.named_children if parameters is not None else ():
        if parameter.type not in ("typed_parameter", "typed_default_parameter"):
            continue
        names = parameter.child_by_field_name("name") or (
            parameter.named_children[0] if parameter.named_children else None
        )
        if names is not None and source.text(names) == name:
            return parameter.child_by_field_name("type")
    return None


# Wrappers of one value in a Python annotation (`Optional[Member]`, `Member | None`)
OPTIONAL_TYPES = {"Optional", "typing", "None", "Annotated"}


def single_annotated_name(annotation: Node | None, source: Source) -> Node | str | None:
    """The class a parameter's annotation says it holds one instance of: `Member`,
    `models.Member`, `Optional[Member]`, `Member | None`, `"Member"` (the name, as a node or,
    in a string, as text); None for a collection (`list[Member]`) or anything else."""
    node = annotation
    while node is not None:
        if node.type == "type" and node.named_children:
            node = node.named_children[0]
        elif node.type in ("identifier", "attribute"):
            return node if source.text(node).rpartition(".")[2] not in OPTIONAL_TYPES else None
        elif node.type == "string":
            text = source.text(node).strip("'\"")
            parts = [p.strip() for p in text.split("|") if p.strip() != "None"]
            if len(parts) == 1 and parts[0].replace(".", "").replace("_", "").isalnum():
                return parts[0].rpartition(".")[2]
            return None
        elif node.type == "binary_operator":  # Member | None
            sides = [c for c in (node.child_by_field_name("left"), node.child_by_field_name("right"))
                     if c is not None and source.text(c) != "None"]  # fmt: skip
            node = sides[0] if len(sides) == 1 else None
        elif node.type in ("subscript", "generic_type"):  # Optional[Member]
            head = node.child_by_field_name("value") or (
                node.named_children[0] if node.named_children else None
            )
            if head is None or source.text(head).rpartition(".")[2] != "Optional":
                return None
            inner = node.child_by_field_name("subscript")
            if inner is None:  # generic_type: (identifier) (type_parameter (type …))
                parameters = [c for c in node.named_children[1:] if c.type == "type_parameter"]
                inner = parameters[0] if len(parameters) == 1 else None
            node = inner
        elif node.type == "type_parameter":
            node = node.named_children[0] if len(node.named_children) == 1 else None
        else:
            return None
    return None


def typescript_parameter_type(node: Node, source: Source) -> Node | bool | None:
    """The type a TypeScript parameter NODE names (the declaration, or a use in its function)
    is annotated with, when one named type (`user: User`): its `type_identifier`; False for
    another annotation (`users: User[]`, `u: Partial<User>`), None for none."""
    parameter = node.parent
    if parameter is None or parameter.type not in ("required_parameter", "optional_parameter"):
        parameter = None
        name = source.text(node)
        scope = node.parent
        while scope is not None and parameter is None:
            parameters = scope.child_by_field_name("parameters")
            if parameters is not None and scope.type in TYPESCRIPT_FUNCTIONS:
                for candidate in parameters.named_children:
                    pattern = candidate.child_by_field_name("pattern")
                    if pattern is not None and source.text(pattern) == name:
                        parameter = candidate
                        break
            scope = scope.parent
    annotation = parameter.child_by_field_name("type") if parameter is not None else None
    if annotation is None:
        return None
    names = [c for c in annotation.named_children if c.type == "type_identifier"]
    return names[0] if len(names) == 1 and len(annotation.named_children) == 1 else False


TYPESCRIPT_FUNCTIONS = (
    "function_declaration", "function_expression", "arrow_function", "method_definition",
    "function",
)  # fmt: skip


def meta_attribute(cls: Node, name: str, source: Source) -> Node | None:
    """The value of `NAME = …` in the class's `class Meta:` (`model`, `db_table`)."""
    body = cls.child_by_field_name("body")
    for inner in body.named_children if body is not None else ():
        if inner.type != "class_definition":
            continue
        meta = inner.child_by_field_name("name")
        if meta is None or source.text(meta) != "Meta":
            continue
        for attribute, value in class_attributes(inner.child_by_field_name("body"), source):
            if attribute == name:
                return value
    return None


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


def object_pairs(node: Node, source: Source) -> list[tuple[str, int, Node]]:
    """A JS object literal's entries: (key, offset of the key's first character, value); a
    shorthand entry (`{ data }`) has its name as key and value."""
    pairs = []
    for pair in node.named_children:
        if pair.type == "shorthand_property_identifier":
            pairs.append((source.text(pair), pair.start_byte, pair))
            continue
        key = pair.child_by_field_name("key") if pair.type == "pair" else None
        value = pair.child_by_field_name("value") if key is not None else None
        if key is None or value is None:
            continue
        literal = string_value(key, source)
        if literal is not None:
            pairs.append((literal.text, literal.offset_of(0), value))
        else:
            pairs.append((source.text(key), key.start_byte, value))
    return pairs


def positional(args: Sequence[Node]) -> list[Node]:
    return [a for a in args if a.type not in ("keyword_argument", "comment")]
