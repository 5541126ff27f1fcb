"""TypeORM: entities (`@Entity('t')`, `@Entity({ name: 't', schema: 's' })`, `@Entity()` with
the default naming strategy's snake_case of the class name) and their uses through a repository
tied to the entity: `getRepository(X)`, `dataSource.getRepository(X)`, a field or parameter
with `@InjectRepository(X)` or typed `Repository<X>`, an `EntityManager` call
(`manager.find(X, …)`), or the entity itself when it extends BaseEntity (`X.find()`).
Relation fields (`@OneToMany(() => Photo, …) photos`) lead from an entity to another: find
options' `relations` and query builders' joins read the related tables."""

from __future__ import annotations

import re
from collections.abc import Sequence

from tree_sitter import Node, Tree

from migverify.scan.bindings import Bindings
from migverify.scan.chains import Chain
from migverify.scan.found import Found
from migverify.scan.orm import (
    Alias,
    Declared,
    FileModels,
    Imports,
    Named,
    Relation,
    Subclass,
    keyword_arguments,
    nodes_of,
    object_pairs,
    snake_case,
    typescript_imports,
    typescript_parameter_type,
)
from migverify.scan.source import Source, string_value
from migverify.scan.tables import TableMatcher

OPERATIONS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        ("find", "findBy", "findOne", "findOneBy", "findOneOrFail", "findOneByOrFail",
         "findAndCount", "findAndCountBy", "findByIds", "count", "countBy", "exist", "exists",
         "existsBy", "sum", "average", "minimum", "maximum", "preload", "createQueryBuilder"),
        ("select",),
    ),
    "save": ("insert", "update"),  # an UPDATE of the rows that exist, an INSERT of the others
    "insert": ("insert",),
    "update": ("update",),
    "upsert": ("upsert",),
    "delete": ("delete",),
    "remove": ("delete",),
    **dict.fromkeys(
        ("softDelete", "softRemove", "restore", "recover", "increment", "decrement"),
        ("update",),
    ),
    "clear": ("truncate",),
    # MikroORM's entity manager: `em.nativeUpdate(User, where, data)`, …
    "nativeInsert": ("insert",),
    "nativeUpdate": ("update",),
    "nativeDelete": ("delete",),
    "findAll": ("select",),
}  # fmt: skip
REPOSITORY_GETTERS = {"getRepository", "getTreeRepository", "getCustomRepository"}
RELATIONS = {"OneToMany", "ManyToOne", "OneToOne", "ManyToMany"}
# find options naming the relations to load with the rows (`relations: ['photos']`)
FINDS = {"find", "findOne", "findOneOrFail", "findAndCount", "findOneBy", "findBy", "count"}
EAGER_FINDS = FINDS - {"count"}  # the finds that load rows (and eager relations with them)
# A query builder: what it does (`select` unless one of these), the joins reading other tables,
# the calls naming its entity when it was made without one (`ds.createQueryBuilder()`)
BUILDER_WRITES: dict[str, tuple[str, ...]] = {
    "insert": ("insert",), "update": ("update",), "delete": ("delete",),
    "softDelete": ("update",), "restore": ("update",),
}  # fmt: skip
JOINS = {
    "leftJoin", "leftJoinAndSelect", "innerJoin", "innerJoinAndSelect", "leftJoinAndMapOne",
    "leftJoinAndMapMany", "innerJoinAndMapOne", "innerJoinAndMapMany",
}  # fmt: skip
BUILDER_ENTITY = {"from", "into", "update", "delete"}
MANAGER = re.compile(r"(?i)manager|datasource|connection|^em$|^ds$")


def typeorm_declarations(tree: Tree, source: Source, found: Found, matcher: TableMatcher) -> None:
    if b"Repository<" in source.data or b"@EntityRepository" in source.data:
        _repository_classes(tree, source, found)
    if b"@Entity" not in source.data and b"@ChildEntity" not in source.data:
        return
    imports: Imports | None = None
    for cls in nodes_of(tree, ("class_declaration", "abstract_class_declaration")):
        name = cls.child_by_field_name("name")
        if name is None:
            continue
        for decorator in decorators(cls):
            callee, args = decorator
            if source.text(callee) == "ChildEntity":
                # single-table inheritance (the parent's @TableInheritance): its rows are in
                # the table of the entity it extends, resolved over the scan (Subclass)
                parent = _extended(cls)
                if parent is not None:
                    imports = _file_imports(imports, tree, source)
                    base = _target(parent, source, imports)
                    if base is not None:
                        found.record(Subclass("typeorm", source.text(name), base, source.path))
                continue
            if source.text(callee) != "Entity":
                continue
            table, offset, schema = snake_case(source.text(name)), name.start_byte, None
            options = keyword_arguments(args, source)
            literal = string_value(args[0], source) if args else None
            for key in ("name", "tableName"):  # TypeORM's, MikroORM's
                if key in options:
                    literal = string_value(options[key], source)
            if literal is not None and not literal.holes:
                table, offset = literal.text, literal.offset_of(0)
            schema_value = string_value(options["schema"], source) if "schema" in options else None
            if schema_value is not None:
                schema = schema_value.text
            qualified = f"{schema}.{table}" if schema else table
            found.declaration(
                offset, Declared("typeorm", source.text(name), qualified, source.path), matcher
            )
            if any(kind.encode() in source.data for kind in RELATIONS):
                imports = _file_imports(imports, tree, source)
                _relations(cls, source.text(name), source, imports, found)


def _file_imports(imports: Imports | None, tree: Tree, source: Source) -> Imports:
    """The file's imports, parsed the first time they are needed (IMPORTS: so far)."""
    if imports is None:
        imports = typescript_imports(
            nodes_of(tree, ("import_statement", "variable_declarator")), source
        )
    return imports


def _extended(cls: Node) -> Node | None:
    """The class CLS extends (`class Photo extends Content`), when it is named."""
    for child in cls.named_children:
        if child.type == "class_heritage":
            for clause in child.named_children:
                if clause.type == "extends_clause":
                    value = clause.child_by_field_name("value")
                    return value if value is not None and value.type == "identifier" else None
    return None


def _repository_classes(tree: Tree, source: Source, found: Found) -> None:
    """A custom repository class, `class UserRepository extends Repository<User>` (or
    `@EntityRepository(User)`): an Alias of kind `repository` to its entity; a name of that type
    (`private users: UserRepository`, `getCustomRepository(UserRepository)`) is its entity's
    repository, and so is `this` in its methods."""
    imports: Imports | None = None
    for cls in nodes_of(tree, ("class_declaration", "abstract_class_declaration")):
        name = cls.child_by_field_name("name")
        entity = repository_class_entity(cls, source)
        if name is None or entity is None:
            continue
        imports = _file_imports(imports, tree, source)
        target = _target(entity, source, imports)
        if target is not None:
            found.record(Alias("repository", source.text(name), target, source.path))


def repository_class_entity(cls: Node, source: Source) -> Node | None:
    """The entity a custom repository class CLS is for: `extends Repository<User>`'s type
    argument, or `@EntityRepository(User)`'s argument."""
    for callee, args in decorators(cls):
        if source.text(callee) == "EntityRepository" and args:
            return args[0]
    for heritage in cls.named_children:
        if heritage.type != "class_heritage":
            continue
        for clause in heritage.named_children:
            value = clause.child_by_field_name("value")
            arguments = clause.child_by_field_name("type_arguments")
            if clause.type != "extends_clause" or value is None or arguments is None:
                continue
            if source.text(value).rpartition(".")[2] in ("Repository", "TreeRepository"):
                types = arguments.named_children
                return types[0] if types else None
    return None


def _relations(cls: Node, owner: str, source: Source, imports: Imports, found: Found) -> None:
    """`@OneToMany(() => Photo, (p) => p.user) photos: Photo[]` and the like: the entity's
    relation fields, with the join table a `@JoinTable({ name: 't' })` names (else, with a
    `@JoinTable()`, the one TypeORM's default naming strategy gives)."""
    body = cls.child_by_field_name("body")
    for member in body.named_children if body is not None else ():
        name = member.child_by_field_name("name")
        if member.type != "public_field_definition" or name is None:
            continue
        target, secondary, eager, default_join = None, None, False, False
        for callee, args in decorators(member):
            kind = source.text(callee)
            if kind in RELATIONS and args:
                target = _target(args[0], source, imports)
                options = next((a for a in args[1:] if a.type == "object"), None)
                flag = keyword_arguments([options], source).get("eager") if options else None
                eager = flag is not None and source.text(flag) == "true"
            elif kind == "JoinTable":
                literal = keyword_arguments(args, source).get("name") if args else None
                value = string_value(literal, source) if literal is not None else None
                if value is not None and not value.holes:
                    secondary = Named(value.text, table=True)
                else:  # the default naming strategy names it (Models.secondary)
                    default_join = True
        if target is not None:
            found.record(
                Relation(
                    "typeorm", Named(owner), source.text(name), target, source.path, secondary,
                    eager=eager, default_join=default_join and secondary is None,
                )
            )  # fmt: skip


def _target(node: Node, source: Source, imports: Imports) -> Named | None:
    """The entity `() => Photo`, `(type) => Photo` or `'Photo'` names."""
    if node.type == "arrow_function":
        node = node.child_by_field_name("body") or node
    literal = string_value(node, source)
    if literal is not None:
        return Named(literal.text) if not literal.holes else None
    if node.type not in ("identifier", "type_identifier"):
        return None
    name = source.text(node)
    if name in imports.names:
        module, original = imports.names[name]
        return Named(original, module)
    return Named(name)


def decorators(node: Node) -> list[tuple[Node, list[Node]]]:
    """(callee, arguments) of each call decorator of a class, field or parameter; an exported
    class's decorators sit on the export statement."""
    found = []
    holders = [node]
    if node.parent is not None and node.parent.type == "export_statement":
        holders.append(node.parent)
    for holder in holders:
        for child in holder.children:
            if child.type != "decorator" or not child.named_children:
                continue
            call = child.named_children[0]
            if call.type != "call_expression":
                continue
            callee, arguments = (
                call.child_by_field_name("function"),
                call.child_by_field_name("arguments"),
            )
            if callee is not None and arguments is not None:
                found.append((callee, [a for a in arguments.named_children if a.type != "comment"]))
    return found


class Repositories:
    """Names in one file that hold a repository of an entity: `const r = getRepository(X)`,
    `this.r` with `@InjectRepository(X)` / `Repository<X>` / `= ds.getRepository(X)`."""

    def __init__(self, tree: Tree, source: Source) -> None:
        self.variables: dict[str, Node] = {}
        self.fields: dict[str, Node] = {}
        if b"Repository" not in source.data:
            return
        kinds = ("variable_declarator", "public_field_definition", "required_parameter",
                 "optional_parameter", "assignment_expression")  # fmt: skip
        for node in nodes_of(tree, kinds):
            if node.type == "assignment_expression":  # this.users = ds.getRepository(User)
                left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
                entity = _repository_of(right, source) if right is not None else None
                if entity is not None and left is not None and left.type == "member_expression":
                    obj, field = (
                        left.child_by_field_name("object"),
                        left.child_by_field_name("property"),
                    )
                    if obj is not None and field is not None and obj.type == "this":
                        self.fields.setdefault(source.text(field), entity)
                continue
            if node.type == "variable_declarator":
                name, value = node.child_by_field_name("name"), node.child_by_field_name("value")
                entity = _repository_of(value, source) if value is not None else None
                if entity is not None and name is not None and name.type == "identifier":
                    self.variables[source.text(name)] = entity
                continue
            name = node.child_by_field_name("name") or node.child_by_field_name("pattern")
            if name is None:
                continue
            entity = self._entity(node, source)
            if entity is None:
                continue
            if node.type == "public_field_definition" or any(
                c.type == "accessibility_modifier" for c in node.children
            ):
                self.fields[source.text(name)] = entity
            else:
                self.variables[source.text(name)] = entity

    @staticmethod
    def _entity(node: Node, source: Source) -> Node | None:
        for callee, args in decorators(node):
            if source.text(callee) == "InjectRepository" and args:
                return args[0]
        annotation = node.child_by_field_name("type")
        named = annotation.named_children[0] if annotation and annotation.named_children else None
        if named is not None and named.type == "type_identifier":  # users: UserRepository
            if source.text(named).endswith("Repository") and source.text(named) != "Repository":
                return named
        value = node.child_by_field_name("value")
        if value is not None:
            entity = _repository_of(value, source)
            if entity is not None:
                return entity
        annotation = node.child_by_field_name("type")
        generic = annotation.named_children[0] if annotation and annotation.named_children else None
        if generic is not None and generic.type == "generic_type":
            name = generic.child_by_field_name("name")
            arguments = generic.child_by_field_name("type_arguments")
            if (
                name is not None
                and source.text(name).endswith("Repository")
                and arguments is not None
                and arguments.named_children
            ):
                return arguments.named_children[0]
        return None


def _repository_of(value: Node, source: Source) -> Node | None:
    """The entity argument of `getRepository(X)` / `x.getRepository(X)` (also of a custom
    repository made from one: `ds.getRepository(X).extend({…})`)."""
    while value.type in ("await_expression", "parenthesized_expression") and value.named_children:
        value = value.named_children[0]
    if value.type != "call_expression":
        return None
    function, arguments = (
        value.child_by_field_name("function"),
        value.child_by_field_name("arguments"),
    )
    if function is None or arguments is None or not arguments.named_children:
        return None
    name = source.text(function).rpartition(".")[2]
    if name == "extend" and function.type == "member_expression":
        extended = function.child_by_field_name("object")
        return _repository_of(extended, source) if extended is not None else None
    return _entity_argument(arguments.named_children) if name in REPOSITORY_GETTERS else None


def _entity_argument(args: Sequence[Node]) -> Node:
    """The entity a repository getter is given: its argument, or the last name among its
    arguments when a wrapper takes a context first (Vendure's `getRepository(ctx, Product)`)."""
    names = [a for a in args if a.type in ("identifier", "member_expression")]
    return names[-1] if names else args[0]


def typeorm_uses(
    chain: Chain,
    source: Source,
    files: FileModels,
    repositories: Repositories,
    bindings: Bindings,
    found: Found,
    matcher: TableMatcher,
) -> bool:
    """A repository (or entity manager, or BaseEntity) call in CHAIN; True when claimed."""
    links = chain.links
    entity, start, at = _repository_in(chain, source, repositories)
    if entity is None or at is None:
        return (
            _manager_or_entity(chain, source, files, found, matcher, bindings)
            or _row_call(chain, source, files, bindings, found, matcher)
            or _given_builder(chain, source, files, found, matcher)
        )
    if start + 1 >= len(links) or links[start].name not in OPERATIONS:
        return False
    if links[start + 1].name is not None:
        return False
    declared = files.resolve(("typeorm",), entity, source) or _custom_repository(
        entity, source, files
    )
    if declared is None:
        if entity.type == "identifier" and bindings.is_parameter(entity):
            found.dynamic(entity)
            return True
        return False
    method = links[start].name or ""
    if method == "createQueryBuilder":
        alias = _text(links[start + 1].args[0], source) if links[start + 1].args else None
        _builder(chain, start + 1, declared, alias, at, source, files, found, matcher)
        return True
    _report(declared, method, at, found, matcher)
    if method in EAGER_FINDS:
        _eager_relations(declared, at, files, found, matcher)
        if links[start + 1].args:
            _loaded_relations(declared, links[start + 1].args[0], files, source, found, matcher)
    return True


def _text(node: Node, source: Source) -> str | None:
    literal = string_value(node, source)
    return literal.text if literal is not None and not literal.holes else None


def _eager_relations(declared: Declared, at: Node, files: FileModels, found: Found, matcher):
    """The relations marked `{ eager: true }`: every find of the entity loads them too."""
    for relation, target in files.models.relations_of(declared):
        if relation.eager:
            _report_table(target.table, "select", at.start_byte, found, matcher)


def _loaded_relations(
    declared: Declared, options: Node, files: FileModels, source: Source, found: Found, matcher
) -> None:
    """`relations: ['photos', 'photos.tags']` / `relations: { photos: { tags: true } }` in find
    options: each relation's table is read with the rows (a join, or a query of its own)."""
    if options.type != "object":
        return
    relations = dict((key, value) for key, _, value in object_pairs(options, source)).get(
        "relations"
    )
    if relations is None:
        return
    paths: list[tuple[list[tuple[str, int]], Node]] = []
    if relations.type == "array":
        for element in relations.named_children:
            literal = string_value(element, source)
            if literal is None or literal.holes:
                continue
            parts, offset = [], literal.offset_of(0)
            for part in literal.text.split("."):
                parts.append((part, offset))
                offset += len(part.encode()) + 1
            paths.append((parts, element))
    elif relations.type == "object":
        stack: list[tuple[list[tuple[str, int]], Node]] = [([], relations)]
        while stack:
            prefix, node = stack.pop()
            for key, offset, value in object_pairs(node, source):
                here = [*prefix, (key, offset)]
                paths.append((here, value))
                if value.type == "object":
                    stack.append((here, value))
    for parts, _ in paths:
        model: Declared | None = declared
        for name, offset in parts:
            pair = files.models.relation(model, name) if model is not None else None
            if pair is None:
                break
            model = pair[1]
            _report_table(model.table, "select", offset, found, matcher)
            secondary = files.models.secondary(pair[0])
            if secondary is not None:
                _report_table(secondary, "select", offset, found, matcher)


def _builder(
    chain: Chain,
    start: int,
    declared: Declared | None,
    alias: str | None,
    at: Node | None,
    source: Source,
    files: FileModels,
    found: Found,
    matcher,
) -> None:
    """A query builder made at link START of CHAIN (for DECLARED, its rows called ALIAS, the
    use AT): its operation on the entity's table (`select` unless `.insert()`, `.update()`,
    `.delete()`, `.softDelete()`…; `.orUpdate()`/`.orIgnore()` make an insert an upsert,
    `.setLock('pessimistic_…')` adds a lock), and the tables its joins read
    (`.leftJoinAndSelect('u.photos', 'p')`, `.innerJoin(Photo, 'p', …)`)."""
    aliases: dict[str, Declared] = {alias: declared} if alias and declared is not None else {}
    operations: list[str] = []
    for _, call in chain.method_calls(start + 1):
        method, args = call.method, call.args
        if method in BUILDER_ENTITY and args and declared is None:
            entity = files.resolve(("typeorm",), args[0], source)
            if entity is not None:
                declared, at = entity, args[0]
                name = _text(args[1], source) if len(args) > 1 else None
                if name:
                    aliases[name] = entity
        if method in BUILDER_WRITES:
            operations += BUILDER_WRITES[method]
        elif method in ("orUpdate", "orIgnore"):
            operations = ["upsert" if op == "insert" else op for op in operations]
        elif method == "setLock" and args and (_text(args[0], source) or "").startswith("pessim"):
            operations.append("lock")
        elif method in JOINS and args:
            _join(args, aliases, source, files, found, matcher)
    if declared is None or at is None:
        return
    for operation in dict.fromkeys(operations or ["select"]):
        _report_table(declared.table, operation, at.start_byte, found, matcher)


def _join(args, aliases: dict[str, Declared], source: Source, files: FileModels, found, matcher):
    """A query builder's join: `'u.photos'` (ALIASES: the entities by alias) or an entity."""
    first = args[0]
    name = _text(args[1], source) if len(args) > 1 else None
    literal = string_value(first, source)
    if literal is not None and not literal.holes:
        owner_alias, _, relation = literal.text.partition(".")
        owner = aliases.get(owner_alias)
        pair = files.models.relation(owner, relation) if owner is not None and relation else None
        if pair is None:
            return
        offset = literal.offset_of(len(owner_alias) + 1)
        _report_table(pair[1].table, "select", offset, found, matcher)
        secondary = files.models.secondary(pair[0])
        if secondary is not None:
            _report_table(secondary, "select", offset, found, matcher)
        if name:
            aliases[name] = pair[1]
        return
    entity = files.resolve(("typeorm",), first, source)
    if entity is not None:
        _report_table(entity.table, "select", first.start_byte, found, matcher)
        if name:
            aliases[name] = entity


def _report_table(table_name: str, operation: str, offset: int, found: Found, matcher) -> None:
    found.uses(offset, table_name, (operation,), "typeorm", matcher)


def _repository_in(
    chain: Chain, source: Source, repositories: Repositories
) -> tuple[Node | None, int, Node | None]:
    """(entity node, index of the method link, where the use is) when CHAIN calls a
    repository: the use is the repository as the call names it (`this.items`, `repo`), or the
    entity in `getRepository(X)`."""
    links = chain.links
    root = source.text(chain.root) if chain.root.type in ("identifier", "this") else None
    if root == "this" and links and links[0].name in repositories.fields:
        at = links[0].node.child_by_field_name("property") or links[0].node
        return repositories.fields[links[0].name or ""], 1, at
    if root == "this" and links and links[0].name in OPERATIONS:  # in a custom repository
        cls = chain.root.parent
        while cls is not None and cls.type not in ("class_declaration",
                                                   "abstract_class_declaration"):  # fmt: skip
            cls = cls.parent
        entity = repository_class_entity(cls, source) if cls is not None else None
        if entity is not None:
            return entity, 0, chain.root
    if root is not None and root in repositories.variables and chain.root.type == "identifier":
        return repositories.variables[root], 0, chain.root
    for index in range(len(links) - 1):
        if links[index].name in REPOSITORY_GETTERS and links[index + 1].name is None:
            args = links[index + 1].args
            if args:
                entity = _entity_argument(args)
                return entity, index + 2, entity
    if chain.root.type == "identifier" and root in REPOSITORY_GETTERS and links:
        if links[0].name is None and links[0].args:
            entity = _entity_argument(links[0].args)
            return entity, 1, entity
    return None, 0, None


def _manager_or_entity(
    chain: Chain,
    source: Source,
    files: FileModels,
    found: Found,
    matcher: TableMatcher,
    bindings: Bindings | None = None,
) -> bool:
    """`manager.find(X, …)` / `dataSource.manager.save(X, …)` and `X.find(…)` (BaseEntity);
    `manager.save(user)` / `remove(user)` of a row (`_row_of`: `new User()`,
    `manager.create(User, …)`, `manager.findOneBy(User, …)`)."""
    claimed = False
    for index, call in chain.method_calls():
        if call.method not in OPERATIONS:
            continue
        before = chain.links[index - 2].name if index >= 2 else None
        receiver = before or (source.text(chain.root) if chain.root.type == "identifier" else "")
        builder = call.method == "createQueryBuilder"
        if index == 1 and chain.root.type == "identifier":  # X.find(…)
            declared = files.resolve(("typeorm",), chain.root, source)
            if declared is not None:
                if builder:
                    alias = _text(call.args[0], source) if call.args else None
                    _builder(chain, index, declared, alias, chain.root, source, files, found,
                             matcher)  # fmt: skip
                else:
                    _report(declared, call.method, chain.root, found, matcher)
                    if call.method in EAGER_FINDS:
                        _eager_relations(declared, chain.root, files, found, matcher)
                    if call.method in FINDS and call.args:
                        _loaded_relations(declared, call.args[0], files, source, found, matcher)
                claimed = True
                continue
        if not MANAGER.search(receiver or ""):
            continue
        if builder and not call.args:  # ds.createQueryBuilder().insert().into(X)…
            _builder(chain, index, None, None, None, source, files, found, matcher)
            claimed = True
            continue
        declared = files.resolve(("typeorm",), call.args[0], source) if call.args else None
        if declared is None and call.method in ROW_METHODS and bindings is not None:
            row = call.args[0] if len(call.args) == 1 else None
            found_row = _row_of(row, source, files, bindings) if row is not None else None
            if row is not None and row.type == "identifier" and found_row is not None:
                entity, new = found_row
                operations = ROW_METHODS[call.method]
                if call.method == "save" and new is not None:
                    operations = ("insert",) if new else ("update",)
                found.uses(row.start_byte, entity.table, operations, "typeorm", matcher)
                claimed = True
            continue
        if declared is None:
            continue
        if builder:
            alias = _text(call.args[1], source) if len(call.args) > 1 else None
            _builder(chain, index, declared, alias, call.args[0], source, files, found, matcher)
        else:
            _report(declared, call.method, call.args[0], found, matcher)
            if call.method in EAGER_FINDS:
                _eager_relations(declared, call.args[0], files, found, matcher)
            if call.method in FINDS and len(call.args) > 1:
                _loaded_relations(declared, call.args[1], files, source, found, matcher)
        claimed = True
    return claimed


def _report(declared: Declared, method: str, node: Node, found: Found, matcher) -> None:
    found.uses(node.start_byte, declared.table, OPERATIONS[method], "typeorm", matcher)


# An entity's own methods when it extends BaseEntity (TypeORM's Active Record): what they do to
# its row; `save()` inserts a new row (`new E()`, `E.create(…)`) and updates a read one.
ROW_METHODS: dict[str, tuple[str, ...]] = {
    "save": ("insert", "update"), "remove": ("delete",), "softRemove": ("update",),
    "recover": ("update",), "reload": ("select",),
}  # fmt: skip
ROW_READS = {"findOne", "findOneBy", "findOneOrFail", "findOneByOrFail"}


def _row_call(
    chain: Chain,
    source: Source,
    files: FileModels,
    bindings: Bindings,
    found: Found,
    matcher: TableMatcher,
) -> bool:
    """`user.save()`, `user.remove()` on a row of an Active Record entity: a name bound in the
    function to `[await] E.findOne…(…)`, `new E(…)` or `E.create(…)`, a loop's over
    `await E.find(…)`, or a parameter annotated `user: E`."""
    links = chain.links
    if chain.root.type != "identifier" or len(links) < 2 or links[1].name is not None:
        return False
    operations = ROW_METHODS.get(links[0].name or "")
    if operations is None:
        return False
    row = _row_of(chain.root, source, files, bindings)
    if row is None:
        return False
    declared, new = row
    if links[0].name == "save" and new is not None:
        operations = ("insert",) if new else ("update",)
    found.uses(chain.root.start_byte, declared.table, operations, "typeorm", matcher)
    return True


def _row_of(identifier: Node, source: Source, files: FileModels, bindings: Bindings):
    """(entity, new: True/False, None when not known) of the row IDENTIFIER holds, or None."""
    bound = bindings.values(identifier)
    if not bound:
        if not bindings.is_parameter(identifier):
            return None
        named = typescript_parameter_type(identifier, source)
        declared = None
        if named:
            declared = files.models.resolve(
                ("typeorm",), source.text(named), files.imports, files.path
            )
        return (declared, None) if declared is not None else None
    rows = set()
    for binding in bound:
        value = binding.value
        while value.type in ("await_expression", "parenthesized_expression", "non_null_expression"):
            if not value.named_children:
                return None
            value = value.named_children[0]
        if binding.op != "=":
            return None
        if value.type == "new_expression":
            made = value.child_by_field_name("constructor")
            declared = files.resolve(("typeorm",), made, source) if made is not None else None
            new = True
        elif value.type == "call_expression":
            function = value.child_by_field_name("function")
            if function is None or function.type != "member_expression":
                return None
            method = function.child_by_field_name("property")
            obj = function.child_by_field_name("object")
            name = source.text(method) if method is not None else ""
            if obj is None or (name not in ROW_READS and name != "create"):
                return None
            declared = files.resolve(("typeorm",), obj, source)
            if declared is None and MANAGER.search(source.text(obj).rpartition(".")[2]):
                # manager.create(User, {…}), manager.findOneBy(User, {…})
                arguments = value.child_by_field_name("arguments")
                first = (
                    arguments.named_children[0] if arguments and arguments.named_children else None
                )
                declared = files.resolve(("typeorm",), first, source) if first is not None else None
            new = name == "create"
        else:
            return None
        if declared is None:
            return None
        rows.add((declared, new))
    return rows.pop() if len(rows) == 1 else None


def _given_builder(
    chain: Chain, source: Source, files: FileModels, found: Found, matcher: TableMatcher
) -> bool:
    """A query builder made elsewhere and given here (a subquery's `qb => qb.from(Order,
    'o').select(…)`, `subQuery().from(…)`): its `.from/.into/.update/.delete(X, …)` of an
    entity X is the builder's entity."""
    for _, call in chain.method_calls():
        if call.method in BUILDER_ENTITY and call.args:
            if files.resolve(("typeorm",), call.args[0], source) is not None:
                _builder(chain, -1, None, None, None, source, files, found, matcher)
                return True
    return False


def _custom_repository(entity: Node, source: Source, files: FileModels) -> Declared | None:
    """The entity of the custom repository class ENTITY names (`UserRepository`)."""
    if entity.type not in ("identifier", "type_identifier"):
        return None
    return files.models.schema_model(source.text(entity), files.imports, files.path,
                                     kind="repository")  # fmt: skip
