"""Prisma: models in `.prisma` schema files (`model UserItem { … @@map("user_items") }`, the
table being the model's name without `@@map`), and their uses through Prisma Client
(`prisma.userItem.findMany()`, `tx.userItem.create()`, `ctx.db.userItem.upsert()`).
`$queryRaw`/`$executeRaw` SQL is found with the other SQL calls.

The schema language is neither TypeScript nor Python: it is read by a small tokenizer over its
lines (comments dropped, strings kept whole), enough for the block structure and attributes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tree_sitter import Node

from migverify.scan.bindings import Bindings
from migverify.scan.chains import Chain
from migverify.scan.found import Found
from migverify.scan.orm import (
    Declared,
    FileModels,
    Helper,
    Named,
    Relation,
    module_leads_to,
    object_pairs,
)
from migverify.scan.source import Source, string_value
from migverify.scan.tables import TableMatcher

_BLOCK = re.compile(r"^\s*(model|view)\s+([A-Za-z_]\w*)\s*\{")
# A field whose type is not a scalar: a relation when the type is a model (an enum is not)
_FIELD = re.compile(r"^\s*([A-Za-z_]\w*)\s+([A-Za-z_]\w*)\s*(\[\])?\s*\??(.*)$")
SCALARS = {
    "String", "Boolean", "Int", "BigInt", "Float", "Decimal", "DateTime", "Json", "Bytes",
    "Unsupported",
}  # fmt: skip
_ATTRIBUTE = re.compile(r'^\s*@@(map|schema)\s*\(\s*(?:name\s*:\s*)?"((?:[^"\\]|\\.)*)"')
OPERATIONS = {
    "findMany": "select", "findUnique": "select", "findUniqueOrThrow": "select",
    "findFirst": "select", "findFirstOrThrow": "select", "count": "select",
    "aggregate": "select", "groupBy": "select", "create": "insert", "createMany": "insert",
    "createManyAndReturn": "insert", "update": "update", "updateMany": "update",
    "updateManyAndReturn": "update", "upsert": "upsert", "delete": "delete",
    "deleteMany": "delete",
}  # fmt: skip
# A Prisma Client is named like one: `prisma`, `db` (create-t3-app's `ctx.db`), `tx` in
# `$transaction`, `client`. tRPC's `api.user.findMany.useQuery()` is not called directly.
CLIENT = re.compile(r"(?i)prisma|^db$|database|^tx$|^trx$|transaction|client|^orm$")


@dataclass
class _Model:
    name: str
    name_offset: int
    table: str | None = None
    table_offset: int | None = None
    schema: str | None = None
    relations: list[tuple[str, str, bool]] = field(default_factory=list)  # name, type, holds key
    # list relation fields (`tags Tag[]`): name → (offset, the `@relation("Name")` name or None)
    lists: dict[str, tuple[int, str | None]] = field(default_factory=dict)


def scan_prisma_schema(source: Source, matcher: TableMatcher) -> Found:
    """A Prisma schema file: every model (and view) is a declaration."""
    found = Found(source)
    model: _Model | None = None
    models: list[_Model] = []
    offset = 0
    for raw in source.data.split(b"\n"):
        line = _without_comment(raw.decode("utf-8", errors="replace"))
        if model is None:
            match = _BLOCK.match(line)
            if match:
                name_offset = offset + len(line[: match.start(2)].encode())
                model = _Model(match.group(2), name_offset)
        elif line.strip().startswith("}"):
            models.append(model)
            model = None
        else:
            match = _ATTRIBUTE.match(line)
            if match and match.group(1) == "map":
                model.table = match.group(2)
                model.table_offset = offset + len(line[: match.start(2)].encode())
            elif match:
                model.schema = match.group(2)
            else:
                relation = _FIELD.match(line)
                if relation is not None and relation.group(2) not in SCALARS:
                    holds_key = re.search(r"@relation\([^)]*\bfields\s*:", relation.group(4))
                    model.relations.append((relation.group(1), relation.group(2), bool(holds_key)))
                    if relation.group(3):
                        named = _RELATION_NAME.search(relation.group(4))
                        at = offset + len(line[: relation.start(1)].encode())
                        model.lists[relation.group(1)] = (at, named.group(1) if named else None)
        offset += len(raw) + 1
    joins = _implicit_joins(models)
    for each in models:
        _declare(each, found, matcher, source.path, joins)
    return found


# `@relation("Name")`, `@relation(name: "Name", …)`
_RELATION_NAME = re.compile(r'@relation\(\s*(?:name\s*:\s*)?"([^"]+)"')


def _implicit_joins(models: list[_Model]) -> dict[tuple[str, str], str]:
    """(model, field) → the join table of an implicit many-to-many relation: a list field on
    both sides (`tags Tag[]` and `users User[]`), no relation model between. Prisma names the
    table `_<relation name>`, by default `_<A>To<B>` of the two models' names in order."""
    by_name = {m.name: m for m in models}
    joins: dict[tuple[str, str], str] = {}
    for model in models:
        for name, target, _ in model.relations:
            if name not in model.lists or target not in by_name:
                continue
            own_name = model.lists[name][1]
            other = by_name[target]
            back = [
                n for n, t, _ in other.relations
                if t == model.name and n in other.lists and other.lists[n][1] == own_name
                and (n, t) != (name, target)
            ]  # fmt: skip
            if len(back) != 1:  # a self-relation's two list fields share a relation name
                continue
            first, second = sorted((model.name, target))
            joins[(model.name, name)] = f"_{own_name}" if own_name else f"_{first}To{second}"
    return joins


def _without_comment(line: str) -> str:
    """The line up to a `//` comment that is not inside a string."""
    quoted = False
    for index, char in enumerate(line):
        if char == '"' and (index == 0 or line[index - 1] != "\\"):
            quoted = not quoted
        elif not quoted and line.startswith("//", index):
            return line[:index]
    return line


def _declare(
    model: _Model, found: Found, matcher: TableMatcher, path: str, joins: dict[tuple[str, str], str]
) -> None:
    table = model.table or model.name
    qualified = f"{model.schema}.{table}" if model.schema else table
    offset = model.table_offset if model.table_offset is not None else model.name_offset
    found.declaration(offset, Declared("prisma", model.name, qualified, path), matcher)
    for name, target, holds_key in model.relations:
        join = joins.get((model.name, name))
        secondary = None
        if join is not None:
            secondary = Named(f"{model.schema}.{join}" if model.schema else join, table=True)
            matched = matcher.match_text(secondary.name)
            if matched is not None:  # the join table Prisma makes and manages
                found.reference(model.lists[name][0], matched, "model", (), "prisma")
        relation = Relation(
            "prisma", Named(model.name), name, Named(target), path, secondary, holds_key
        )
        found.record(relation)


def prisma_uses(
    chain: Chain,
    source: Source,
    files: FileModels,
    bindings: Bindings,
    found: Found,
    matcher: TableMatcher,
) -> bool:
    """`client.model.method(…)` in CHAIN: a reference with the method's operation, and one for
    each relation its arguments go through (`include`, `select`, `where`, nested writes in
    `data`); True when the chain is Prisma's (even for a model of another table). A call of a
    helper taking a model's name (`pagedQuery('website', …)`) is one too."""
    links = chain.links
    models = files.models.prisma_accessors()
    claimed = False
    for index in range(len(links) - 2):
        accessor, method, call = links[index], links[index + 1], links[index + 2]
        if accessor.name is None or method.name not in OPERATIONS or call.name is not None:
            continue
        declared = models.get(accessor.name)
        if declared is None or not _is_client(chain, index, source):
            continue
        claimed = True
        table = matcher.match_text(declared.table)
        if table is not None:
            offset = accessor.node.child_by_field_name("property") or accessor.node
            found.reference(offset.start_byte, table, OPERATIONS[method.name], (), "prisma")
        if call.args:
            Nested(source, files, bindings, found, matcher).arguments(declared, call.args[0])
    if not claimed and chain.root.type == "subscript_expression" and links:
        claimed = _computed(chain, source, files, bindings, found, matcher)
    if not claimed and links:
        claimed = _helper_call(chain, source, files, bindings, found, matcher)
    return claimed


# Nested writes (`data: { posts: { create: … } }`): the operation on the related table.
NESTED_WRITES = {
    "create": "insert", "createMany": "insert", "connectOrCreate": "insert", "update": "update",
    "updateMany": "update", "upsert": "upsert", "delete": "delete", "deleteMany": "delete",
}  # fmt: skip
# `connect`, `disconnect`, `set` write the foreign key: an update of the related table when the
# key is its own (the relation field has no `@relation(fields: …)` on this side).
KEY_WRITES = {"connect", "disconnect", "set"}
# …and on an implicit many-to-many relation, the rows of its join table
JOIN_WRITES = {"connect": ("insert",), "disconnect": ("delete",), "set": ("delete", "insert")}
FILTERS = {"some", "every", "none", "is", "isNot"}
LOGIC = {"AND", "OR", "NOT"}
MAX_NESTING = 8


class Nested:
    """The relations a Prisma Client call's argument goes through, as references at their keys:
    reads in `include`, `select` (also `_count: { select: … }`), `where` and `orderBy`; writes
    in `data` (and upsert's `create`/`update`)."""

    def __init__(self, source: Source, files: FileModels, bindings: Bindings, found, matcher):
        self.source, self.files, self.bindings = source, files, bindings
        self.found, self.matcher = found, matcher

    def arguments(self, declared: Declared, node: Node, depth: int = 0) -> None:
        """An operation's argument object (or a nested `include`'s value)."""
        entries = self._entries(node)
        if entries is None or depth > MAX_NESTING:
            return
        for key, _, value in entries:
            if key in ("include", "select"):
                self._reads(declared, value, depth)
            elif key == "where":
                self._where(declared, value, depth)
            elif key in ("orderBy", "cursor"):
                for each in value.named_children if value.type == "array" else [value]:
                    self._where(declared, each, depth)
            elif key in ("data", "create", "update"):
                for each in value.named_children if value.type == "array" else [value]:
                    self._writes(declared, each, depth)

    def _reads(self, declared: Declared, node: Node, depth: int) -> None:
        for key, offset, value in self._entries(node) or ():
            if key == "_count":
                self.arguments(declared, value, depth + 1)  # { select: { posts: true } }
                continue
            target = self._relation(declared, key, offset, value, "select")
            if target is not None:
                self.arguments(target[1], value, depth + 1)

    def _where(self, declared: Declared, node: Node, depth: int) -> None:
        if depth > MAX_NESTING:
            return
        for key, offset, value in self._entries(node) or ():
            if key in LOGIC:
                for each in value.named_children if value.type == "array" else [value]:
                    self._where(declared, each, depth + 1)
                continue
            target = self._relation(declared, key, offset, value, "select")
            if target is None:
                continue
            inner = self._entries(value) or []
            if any(name in FILTERS for name, _, _ in inner):
                for name, _, each in inner:
                    if name in FILTERS:
                        self._where(target[1], each, depth + 1)
            else:
                self._where(target[1], value, depth + 1)

    def _writes(self, declared: Declared, node: Node, depth: int) -> None:
        if depth > MAX_NESTING:
            return
        for key, offset, value in self._entries(node) or ():
            pair = self.files.models.relation(declared, key)
            if pair is None:
                continue
            relation, target = pair
            join = self.files.models.secondary(relation)
            for name, _, inner in self._entries(value) or ():
                if name in NESTED_WRITES:
                    self._report(target, offset, NESTED_WRITES[name])
                    self._nested_data(target, name, inner, depth + 1)
                    if join is not None and name in ("create", "createMany", "connectOrCreate"):
                        self._report_table(join, offset, "insert")
                elif name in KEY_WRITES and join is not None:  # rows of the join table
                    for operation in JOIN_WRITES[name]:
                        self._report_table(join, offset, operation)
                elif name in KEY_WRITES and not relation.holds_key:
                    self._report(target, offset, "update")

    def _nested_data(self, target: Declared, name: str, node: Node, depth: int) -> None:
        """What a nested write creates or updates may nest writes of its own."""
        for each in node.named_children if node.type == "array" else [node]:
            entries = {key: value for key, _, value in self._entries(each) or ()}
            if name == "create":
                self._writes(target, each, depth)
            elif name in ("connectOrCreate", "upsert"):
                for part in ("create", "update"):
                    if part in entries:
                        self._writes(target, entries[part], depth)
            elif name in ("update", "updateMany"):
                self._writes(target, entries.get("data", each), depth)

    def _relation(self, declared: Declared, key: str, offset: int, value: Node, operation: str):
        """DECLARED's relation KEY (unless its value is `false`), reported with OPERATION."""
        pair = self.files.models.relation(declared, key)
        if pair is None or value.type == "false":
            return None
        self._report(pair[1], offset, operation)
        join = self.files.models.secondary(pair[0])
        if join is not None:  # an implicit many-to-many's rows come through its join table
            self._report_table(join, offset, operation)
        return pair

    def _report(self, target: Declared, offset: int, operation: str) -> None:
        self._report_table(target.table, offset, operation)

    def _report_table(self, table_name: str, offset: int, operation: str) -> None:
        table = self.matcher.match_text(table_name)
        if table is not None:
            self.found.reference(offset, table, operation, (), "prisma")

    def _entries(self, node: Node) -> list[tuple[str, int, Node]] | None:
        """The entries of an object literal, or of the one object a name is bound to here."""
        node = _unwrap(node)
        if node.type in ("identifier", "shorthand_property_identifier"):
            bound = self.bindings.values(node)
            if not bound or len(bound) != 1:
                return None
            node = _unwrap(bound[0].value)
        if node.type != "object":
            return None
        return object_pairs(node, self.source)


def _unwrap(node: Node) -> Node:
    while node.type in WRAPPERS and node.named_children:
        node = node.named_children[0]
    return node


WRAPPERS = {
    "parenthesized_expression",
    "as_expression",
    "satisfies_expression",
    "non_null_expression",
}


def _is_client(chain: Chain, index: int, source: Source) -> bool:
    """Is what comes before link INDEX a Prisma Client (`prisma`, `this.prisma`, `ctx.db`)?"""
    if index == 0:
        if chain.root.type != "identifier":
            return False
        name = source.text(chain.root)
        return bool(CLIENT.search(name)) or _transaction_parameter(chain.root, name, source)
    before = chain.links[index - 1].name
    if before is None:  # getDbClient(tx).user.update(…), this.getPrisma().user…: what it returns
        called = chain.links[index - 2].name if index >= 2 else None
        if called is None and index == 1 and chain.root.type == "identifier":
            called = source.text(chain.root)
        return called is not None and bool(CLIENT.search(called))
    return bool(CLIENT.search(before))


def _transaction_parameter(node: Node, name: str, source: Source) -> bool:
    """Is NAME, used at NODE, the parameter of the callback an interactive transaction runs
    (`prisma.$transaction(async (t) => { await t.post.create(…) })`): a client, whatever its
    name?"""
    scope = node.parent
    while scope is not None:
        if scope.type in ("arrow_function", "function_expression", "function"):
            parameters = scope.child_by_field_name("parameters") or scope.child_by_field_name(
                "parameter"
            )
            names = _parameter_names(parameters, source) if parameters is not None else []
            if name in names:
                call = scope.parent.parent if scope.parent is not None else None
                callee = call.child_by_field_name("function") if call is not None else None
                if call is None or call.type != "call_expression" or callee is None:
                    return False
                prop = callee.child_by_field_name("property")
                return prop is not None and source.text(prop) == "$transaction"
        scope = scope.parent
    return False


def _parameter_names(parameters: Node, source: Source) -> list[str]:
    """The plain names a parameter list (or a lone parameter) declares."""
    if parameters.type == "identifier":
        return [source.text(parameters)]
    names = []
    for parameter in parameters.named_children:
        pattern = parameter.child_by_field_name("pattern") or parameter
        if pattern.type == "identifier":
            names.append(source.text(pattern))
    return names


def _computed_access(chain: Chain, source: Source) -> tuple[Node, str] | None:
    """(index, operation) of `prisma[model].findMany()` in CHAIN."""
    root, links = chain.root, chain.links
    obj, index = root.child_by_field_name("object"), root.child_by_field_name("index")
    if obj is None or index is None or len(links) < 2 or links[0].name not in OPERATIONS:
        return None
    if links[1].name is not None or not CLIENT.search(source.text(obj).rpartition(".")[2]):
        return None
    return index, OPERATIONS[links[0].name or ""]


def _computed(chain: Chain, source: Source, files: FileModels, bindings, found, matcher) -> bool:
    """`prisma[model].findMany()`: a literal index resolves, anything else is dynamic."""
    access = _computed_access(chain, source)
    if access is None:
        return False
    index, operation = access
    literal = string_value(index, source)
    if literal is None or literal.holes:
        found.dynamic(index)
        return True
    declared = files.models.prisma_accessors().get(literal.text)
    if declared is not None:
        table = matcher.match_text(declared.table)
        if table is not None:
            found.reference(literal.offset_of(0), table, operation, (), "prisma")
        args = chain.links[1].args
        if args:
            Nested(source, files, bindings, found, matcher).arguments(declared, args[0])
    return True


# --- helpers taking a model's name ---------------------------------------------------------------


def prisma_helpers(chains: list[Chain], source: Source, found: Found) -> None:
    """The first pass: a function whose parameter indexes a Prisma Client (`function
    pagedQuery(model) { … client[model].findMany(…) … }`) is a helper; its calls resolve."""
    for chain in chains:
        if chain.root.type != "subscript_expression":
            continue
        access = _computed_access(chain, source)
        if access is None:
            continue
        index, operation = access
        index = _unwrap(index)
        if index.type != "identifier":
            continue
        function = function_of(index, source.text(index), source)
        if function is not None:
            name, position = function
            found.record(Helper("prisma", name, position, operation, source.path))


def function_of(identifier: Node, name: str, source: Source) -> tuple[str, int] | None:
    """(function name, parameter position) when NAME is a parameter of the function around
    IDENTIFIER: `function f(…)`, `const f = (…) =>`, a method or an object's `f: (…) =>`."""
    node = identifier.parent
    while node is not None and node.type not in FUNCTIONS:
        node = node.parent
    if node is None:
        return None
    parameters = node.child_by_field_name("parameters")
    if parameters is None:
        return None
    params = [p for p in parameters.named_children if p.type != "comment"]
    position = next((i for i, p in enumerate(params) if _parameter_name(p, source) == name), None)
    if position is None:
        return None
    named = node.child_by_field_name("name")
    if named is None and node.parent is not None:
        holder = node.parent
        if holder.type == "variable_declarator":
            named = holder.child_by_field_name("name")
        elif holder.type == "pair":
            named = holder.child_by_field_name("key")
    if named is None or named.type not in ("identifier", "property_identifier"):
        return None
    return source.text(named), position


FUNCTIONS = {
    "function_declaration", "function_expression", "function", "arrow_function",
    "method_definition", "generator_function_declaration",
}  # fmt: skip


def _parameter_name(param: Node, source: Source) -> str | None:
    pattern = param.child_by_field_name("pattern") or param
    if pattern.type == "assignment_pattern":  # JS `model = 'user'`
        pattern = pattern.child_by_field_name("left") or pattern
    return source.text(pattern) if pattern.type == "identifier" else None


def _helper_call(chain: Chain, source: Source, files: FileModels, bindings, found, matcher) -> bool:
    """`pagedQuery('website', …)`, `prisma.pagedQuery('website', …)`: the model named in the
    helper's parameter gets the helper's operations (a name not known here is dynamic). A
    Prisma-looking function whose use of the name is not visible (`prisma.page('teamUser')`,
    a function imported from a module named like Prisma) makes a string naming a model of a
    legacy table a dynamic reference listing the models it may be."""
    call = first_call(chain, source)
    if call is None:
        return False
    owner, name, args = call
    if not args or owner == "" or name.startswith("$"):
        return False
    helpers = [
        h
        for h in files.models.helpers_named(name)
        if h.orm == "prisma" and leads_to(h, owner, name, files)
    ]
    if helpers:
        for position in sorted({h.index for h in helpers}):
            if position >= len(args):
                continue
            operations = dict.fromkeys(h.operation for h in helpers if h.index == position)
            literal = bindings.string(args[position])
            if literal is None:
                found.dynamic(args[position])
                continue
            declared = _model_named(literal.text, files)
            table = matcher.match_text(declared.table) if declared is not None else None
            for operation in operations if table is not None else ():
                found.reference(literal.offset_of(0), table, operation, (), "prisma")
        return True
    if not _prisma_like(owner, name, files):
        return False
    claimed = False
    for arg in args:
        literal = string_value(arg, source)
        if literal is None or literal.holes:
            continue
        candidates = []
        for declared in files.models.prisma_named(literal.text):
            table = matcher.match_text(declared.table)
            if table is not None:
                candidates.append(f"{declared.name} ({table})")
        if candidates:
            found.dynamic(arg, candidates)
            claimed = True
    return claimed


def first_call(chain: Chain, source: Source) -> tuple[str | None, str, tuple[Node, ...]] | None:
    """(owner, function, arguments) of CHAIN's first call: `f(…)` (owner None),
    `owner.f(…)`, `this.prisma.f(…)` (owner `prisma`; "" when it is no name, `a().f(…)`);
    None when there is no call, or the callee is no name."""
    root, links = chain.root, chain.links
    first = next((i for i, link in enumerate(links) if link.name is None), None)
    if first is None:
        return None
    if first == 0:
        return (None, source.text(root), links[0].args) if root.type == "identifier" else None
    owner = links[first - 2].name if first >= 2 else source.text(root)
    return owner or "", links[first - 1].name or "", links[first].args


def leads_to(helper: Helper, owner: str | None, name: str, files: FileModels) -> bool:
    """Is `name(…)` (OWNER None) or `owner.name(…)` in this file a call of HELPER?"""
    imports = files.imports
    if owner is None:
        if name in imports.names:
            module, original = imports.names[name]
            return original == helper.name and module_leads_to(module, files.path, helper.path)
        return helper.path == files.path
    module = imports.namespaces.get(owner) or imports.names.get(owner, (None, ""))[0]
    return module is not None and module_leads_to(module, files.path, helper.path)


def _prisma_like(owner: str | None, name: str, files: FileModels) -> bool:
    """A function whose receiver or module is named like Prisma: `prisma.x`, `this.prisma.x`,
    `x` imported from '@/lib/prisma' or 'prisma-paginate'."""
    imports = files.imports
    if owner is not None:
        module = imports.namespaces.get(owner) or imports.names.get(owner, (None, ""))[0]
        return "prisma" in owner.lower() or (module is not None and "prisma" in module.lower())
    return name in imports.names and "prisma" in imports.names[name][0].lower()


def _model_named(text: str, files: FileModels) -> Declared | None:
    """The Prisma model a string names: its client accessor (`teamUser`) or its name."""
    named = files.models.prisma_named(text)
    return named[0] if named else None
