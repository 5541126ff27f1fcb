"""TypeORM: entities (`@Entity('t')`, `@Entity({ name: 't', schema: 's' })`, `@Entity()` with
the default naming strategy's snake_case of the class name) and their uses through a repository
tied to the entity: `getRepository(X)`, `dataSource.getRepository(X)`, a field or parameter
with `@InjectRepository(X)` or typed `Repository<X>`, an `EntityManager` call
(`manager.find(X, …)`), or the entity itself when it extends BaseEntity (`X.find()`)."""

from __future__ import annotations

import re

from tree_sitter import Node, Tree

from migverify.scan.bindings import Bindings
from migverify.scan.chains import Chain
from migverify.scan.found import Found
from migverify.scan.orm import Declared, FileModels, keyword_arguments, nodes_of, snake_case
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
}  # fmt: skip
REPOSITORY_GETTERS = {"getRepository", "getTreeRepository", "getCustomRepository"}
MANAGER = re.compile(r"(?i)manager|datasource|connection|^em$")


def typeorm_declarations(tree: Tree, source: Source, found: Found, matcher: TableMatcher) -> None:
    if b"@Entity" not in source.data:
        return
    for cls in nodes_of(tree, ("class_declaration", "abstract_class_declaration")):
        name = cls.child_by_field_name("name")
        if name is None:
            continue
        for decorator in decorators(cls):
            callee, args = decorator
            if source.text(callee) != "Entity":
                continue
            table, offset, schema = snake_case(source.text(name)), name.start_byte, None
            options = keyword_arguments(args, source)
            literal = string_value(args[0], source) if args else None
            if "name" in options:
                literal = string_value(options["name"], source)
            if literal is not None and not literal.holes:
                table, offset = literal.text, literal.offset_of(0)
            schema_value = string_value(options["schema"], source) if "schema" in options else None
            if schema_value is not None:
                schema = schema_value.text
            qualified = f"{schema}.{table}" if schema else table
            found.declaration(
                offset, Declared("typeorm", source.text(name), qualified, source.path), matcher
            )


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
                 "optional_parameter")  # fmt: skip
        for node in nodes_of(tree, kinds):
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
    """The entity argument of `getRepository(X)` / `x.getRepository(X)`."""
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
    return arguments.named_children[0] if name in REPOSITORY_GETTERS else None


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
        return _manager_or_entity(chain, source, files, found, matcher)
    if start + 1 >= len(links) or links[start].name not in OPERATIONS:
        return False
    if links[start + 1].name is not None:
        return False
    declared = files.resolve(("typeorm",), entity, source)
    if declared is None:
        if entity.type == "identifier" and bindings.is_parameter(entity):
            found.dynamic(entity)
            return True
        return False
    _report(declared, links[start].name or "", at, found, matcher)
    return True


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
    if root is not None and root in repositories.variables and chain.root.type == "identifier":
        return repositories.variables[root], 0, chain.root
    for index in range(len(links) - 1):
        if links[index].name in REPOSITORY_GETTERS and links[index + 1].name is None:
            args = links[index + 1].args
            if args:
                return args[0], index + 2, args[0]
    if chain.root.type == "identifier" and root in REPOSITORY_GETTERS and links:
        if links[0].name is None and links[0].args:
            return links[0].args[0], 1, links[0].args[0]
    return None, 0, None


def _manager_or_entity(
    chain: Chain, source: Source, files: FileModels, found: Found, matcher: TableMatcher
) -> bool:
    """`manager.find(X, …)` / `dataSource.manager.save(X, …)` and `X.find(…)` (BaseEntity)."""
    claimed = False
    for index, call in chain.method_calls():
        if call.method not in OPERATIONS:
            continue
        before = chain.links[index - 2].name if index >= 2 else None
        receiver = before or (source.text(chain.root) if chain.root.type == "identifier" else "")
        if index == 1 and chain.root.type == "identifier":  # X.find(…)
            declared = files.resolve(("typeorm",), chain.root, source)
            if declared is not None:
                _report(declared, call.method, chain.root, found, matcher)
                claimed = True
                continue
        if call.args and MANAGER.search(receiver or ""):
            declared = files.resolve(("typeorm",), call.args[0], source)
            if declared is not None:
                _report(declared, call.method, call.args[0], found, matcher)
                claimed = True
    return claimed


def _report(declared: Declared, method: str, node: Node, found: Found, matcher) -> None:
    table = matcher.match_text(declared.table)
    if table is None:
        return
    for operation in OPERATIONS[method]:
        found.reference(node.start_byte, table, operation, (), "typeorm")
