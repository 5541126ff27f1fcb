"""Sequelize: models with an explicit table (`tableName: 't'` in `sequelize.define(…)` or
`Model.init(…)` options, sequelize-typescript's `@Table({ tableName: 't' })`; with
`freezeTableName: true` the model's name; without either, Sequelize's default: the model's
name pluralized), then `Model.findAll/create/update/destroy/upsert/bulkCreate…`, also as
`db.Model.findAll()` through a models object.

Associations (`User.hasMany(models.Post, { as: 'posts' })`, `belongsTo`, `hasOne`,
`belongsToMany(Tag, { through: 'post_tags' })`) lead from a model to another: a query's
`include` (`[Post]`, `{ model: Post }`, `'posts'`, `{ association: 'posts' }`) reads the
included tables, and an instance's accessors (`user.getPosts()`, `createPost`, `addPost`,
`countPosts`…) use the associated one. An instance is a name bound in the same function to
`await M.findOne/findByPk/create/build(…)`, or a loop's over `await M.findAll(…)`: its
`update/save/increment` update the model's table, `destroy` deletes, `reload` reads."""

from __future__ import annotations

import re

from tree_sitter import Node, Tree

from migverify.scan.bindings import Bindings
from migverify.scan.chains import Chain
from migverify.scan.found import Found
from migverify.scan.orm import (
    Declared,
    FileModels,
    Helper,
    Named,
    Relation,
    SequelizeDefaults,
    SequelizeNamed,
    keyword_arguments,
    nodes_of,
    object_pairs,
    sequelize_table,
    typescript_parameter_type,
)
from migverify.scan.prisma import first_call, function_of, leads_to
from migverify.scan.source import Source, StringValue, string_value
from migverify.scan.tables import TableMatcher
from migverify.scan.typeorm import decorators

OPERATIONS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        ("findAll", "findOne", "findByPk", "findAndCountAll", "count", "max", "min", "sum",
         "aggregate"),
        ("select",),
    ),
    # find first, create when absent
    **dict.fromkeys(("findOrCreate", "findCreateFind"), ("select", "insert")),
    **dict.fromkeys(("create", "bulkCreate"), ("insert",)),
    **dict.fromkeys(("update", "increment", "decrement", "restore"), ("update",)),
    "destroy": ("delete",),
    "upsert": ("upsert",),
    "truncate": ("truncate",),
}  # fmt: skip
# Model methods no other object is likely to have: on a parameter, a model the caller chose
MODEL_ONLY = {
    "findAll",
    "findByPk",
    "findAndCountAll",
    "findOrCreate",
    "findCreateFind",
    "bulkCreate",
}
# Calls whose options (first argument; findByPk: second) may `include` associated models
INCLUDING = {"findAll", "findOne", "findAndCountAll", "count", "findByPk", "findOrCreate"}
ASSOCIATIONS = {"hasMany", "belongsTo", "hasOne", "belongsToMany"}
# What a row (an instance) does: `user.update({…})`, `user.destroy()`
ROW_OPERATIONS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("update", "save", "increment", "decrement", "restore"), ("update",)),
    "destroy": ("delete",),
    "reload": ("select",),
}
ROW_SOURCES = {"findOne", "findByPk", "create", "build"}
# An association's accessors on a row (`get<As>`, `create<Singular>`, …): what they do to the
# associated table (a many-to-many association's adds and removes are its join table's)
ACCESSORS: dict[str, tuple[str, ...]] = {
    "get": ("select",), "count": ("select",), "has": ("select",), "create": ("insert",),
    "set": ("update",), "add": ("update",), "remove": ("update",),
}  # fmt: skip


def sequelize_declarations(
    tree: Tree, source: Source, found: Found, matcher: TableMatcher, models=None
) -> None:
    """The models of the file (MODELS, in the second pass: the connection's defaults known)."""
    data = source.data
    sequelize_associations(tree, source, found, matcher)
    if b"tableName" not in data and b"equelize" not in data:
        return
    if b"define" in data and (b"freezeTableName" in data or b"underscored" in data):
        _defaults(tree, source, found)
    defaults = models.sequelize_defaults if models is not None else None
    for node in nodes_of(tree, ("call_expression", "class_declaration")):
        if node.type == "class_declaration":
            name = node.child_by_field_name("name")
            for callee, args in decorators(node):
                if source.text(callee) == "Table" and name is not None:
                    _declare(source.text(name), None, args, source, found, matcher, defaults)
            continue
        function, arguments = (
            node.child_by_field_name("function"),
            node.child_by_field_name("arguments"),
        )
        if function is None or arguments is None or function.type != "member_expression":
            continue
        method = function.child_by_field_name("property")
        obj = function.child_by_field_name("object")
        args = [a for a in arguments.named_children if a.type != "comment"]
        if method is None or obj is None:
            continue
        if source.text(method) == "init" and obj.type == "identifier" and len(args) >= 2:
            # Model.init(attributes, { sequelize, … }): the options name the connection
            keys = (
                [key for key, _, _ in object_pairs(args[1], source)]
                if args[1].type == "object"
                else []
            )
            if "sequelize" in keys:  # known by its class and by its modelName (db.models[…])
                options = keyword_arguments(args[1:2], source)
                model = (
                    string_value(options["modelName"], source) if "modelName" in options else None
                )
                names = [source.text(obj)]
                if model is not None and not model.holes:
                    names.append(model.text)
                for name in dict.fromkeys(names):
                    _declare(name, None, args[1:2], source, found, matcher, defaults)
        elif source.text(method) == "define" and len(args) >= 2 and args[1].type == "object":
            model = string_value(args[0], source)
            if model is None or model.holes:
                continue
            names = [model.text]
            declarator = _declarator(node)
            if declarator is not None:
                names.append(declarator)
            for name in dict.fromkeys(names):
                _declare(name, model, args[2:3], source, found, matcher, defaults)


def sequelize_associations(
    tree: Tree, source: Source, found: Found, matcher: TableMatcher | None = None
) -> None:
    """`Owner.hasMany(Target, { as: 'x' })` (the target as `Target`, `models.Target`,
    `db.Target`): a Relation named by `as`, else by the target's name (pluralized for the
    many sides, as Sequelize does); `through: 't'` names a many-to-many's join table, and
    Sequelize makes it a model of that name (`models.t.create(…)`): declared here."""
    if not any(name.encode() + b"(" in source.data for name in ASSOCIATIONS):
        return
    for call in nodes_of(tree, ("call_expression",)):
        function, arguments = (
            call.child_by_field_name("function"),
            call.child_by_field_name("arguments"),
        )
        if function is None or arguments is None or function.type != "member_expression":
            continue
        kind, owner = (
            function.child_by_field_name("property"),
            function.child_by_field_name("object"),
        )
        args = [a for a in arguments.named_children if a.type != "comment"]
        if kind is None or owner is None or source.text(kind) not in ASSOCIATIONS or not args:
            continue
        owner_name, target_name = _model_name(owner, source), _model_name(args[0], source)
        if owner_name is None or target_name is None:
            continue
        options = keyword_arguments(args[1:2], source)
        alias = string_value(options["as"], source) if "as" in options else None
        many = source.text(kind) in ("hasMany", "belongsToMany")
        if alias is not None and not alias.holes:
            name = alias.text
        else:
            name = plural(target_name) if many else target_name
        through = options.get("through")
        literal = string_value(through, source) if through is not None else None
        secondary = None
        if literal is not None and not literal.holes:  # `through: 'post_tags'`: a table
            secondary = Named(literal.text, table=True)
            if matcher is not None:
                through_model = Declared("sequelize", literal.text, literal.text, source.path)
                found.declaration(literal.offset_of(0), through_model, matcher)
        elif through is not None and (name_of := _model_name(through, source)) is not None:
            secondary = Named(name_of)  # `through: PostTag`: a model
        relation = Relation(
            "sequelize", Named(owner_name), name, Named(target_name), source.path, secondary
        )
        found.record(relation)


def _model_name(node: Node, source: Source) -> str | None:
    """`Post`, `models.Post`, `this.Post`: the model's name."""
    if node.type == "identifier":
        return source.text(node)
    if node.type == "member_expression":
        prop = node.child_by_field_name("property")
        return source.text(prop) if prop is not None else None
    return None


def plural(name: str) -> str:
    """English plural of a model's name, as Sequelize's `inflection` makes its default table
    and association names: its irregular and uncountable words, and its common rules; the
    case of the name is kept (`Person` → `People`)."""
    head, _, word = name.rpartition("_") if "_" in name else ("", "", name)
    parts = re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", word)
    last = parts[-1] if parts else word
    stem = word[: len(word) - len(last)]
    lower = last.lower()
    if lower in UNCOUNTABLE:
        plural = lower
    elif lower in IRREGULAR:
        plural = IRREGULAR[lower]
    else:
        for pattern, replacement in PLURAL_RULES:
            if re.search(pattern, lower):
                plural = re.sub(pattern, replacement, lower)
                break
        else:
            plural = lower + "s"
    if last.isupper() and len(last) > 1:
        plural = plural.upper()
    elif last[:1].isupper():
        plural = plural[:1].upper() + plural[1:]
    return f"{head}_{stem}{plural}" if head else stem + plural


# inflection's plural rules (the first that matches), its irregular and uncountable words
PLURAL_RULES = (
    (r"(quiz)$", r"\1zes"), (r"^(ox)$", r"\1en"), (r"([m|l])ouse$", r"\1ice"),
    (r"(matr|vert|ind)(?:ix|ex)$", r"\1ices"), (r"(x|ch|ss|sh)$", r"\1es"),
    (r"([^aeiouy]|qu)y$", r"\1ies"), (r"(hive)$", r"\1s"), (r"(?:([^f])fe|([lr])f)$", r"\1\2ves"),
    (r"sis$", "ses"), (r"([ti])um$", r"\1a"), (r"(buffal|tomat|potat|ech|her|vet)o$", r"\1oes"),
    (r"(bu|mis|gas)s$", r"\1ses"), (r"(alias|status)$", r"\1es"), (r"(octop|vir)us$", r"\1i"),
    (r"(ax|test)is$", r"\1es"), (r"s$", "s"),
)  # fmt: skip
IRREGULAR = {
    "person": "people", "man": "men", "woman": "women", "child": "children", "sex": "sexes",
    "move": "moves", "cow": "kine", "zombie": "zombies", "foot": "feet", "tooth": "teeth",
    "goose": "geese",
}  # fmt: skip
UNCOUNTABLE = {
    "equipment", "information", "rice", "money", "species", "series", "fish", "sheep", "moose",
    "deer", "news", "sms", "jeans", "police",
}  # fmt: skip


def _singular(name: str) -> str:
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith(("ses", "xes", "zes", "ches", "shes")):
        return name[:-2]
    return name[:-1] if name.endswith("s") else name


def _declarator(call: Node) -> str | None:
    parent = call.parent
    while parent is not None and parent.type in ("await_expression", "parenthesized_expression"):
        parent = parent.parent
    if parent is None or parent.type != "variable_declarator":
        return None
    name = parent.child_by_field_name("name")
    return (
        name.text.decode() if name is not None and name.type == "identifier" and name.text else None
    )


def _declare(
    name: str,
    model: StringValue | None,
    options_args: list[Node],
    source: Source,
    found: Found,
    matcher: TableMatcher,
    defaults: SequelizeDefaults | None = None,
) -> None:
    """Declare the model NAME (MODEL: `define`'s name for it) with its table: `tableName`,
    else the model's name (`freezeTableName: true`), else Sequelize's default: the model's
    name pluralized (`user` → `users`, `Person` → `People`), snake_case with `underscored` —
    or as the connection's `define` options (DEFAULTS) have it."""
    options = keyword_arguments(options_args, source)
    literal = string_value(options["tableName"], source) if "tableName" in options else None
    schema = string_value(options["schema"], source) if "schema" in options else None
    named_by_default = None
    if literal is not None and not literal.holes:
        table, offset = literal.text, literal.offset_of(0)
    else:
        named = string_value(options["modelName"], source) if "modelName" in options else None
        named = named if named is not None and not named.holes else model
        if named is not None:
            table, offset = named.text, named.offset_of(0)
        else:
            start = options_args[0].start_byte if options_args else 0
            table, offset = name, start
        frozen = _flag(options, "freezeTableName", source)
        underscored = _flag(options, "underscored", source)
        if frozen is None:  # the connection's default decides (SequelizeNamed)
            named_by_default = (table, underscored)
            frozen = defaults.freeze if defaults is not None else False
        default = defaults.underscored if defaults is not None else False
        table = sequelize_table(table, frozen, underscored, default)
    qualified = f"{schema.text}.{table}" if schema is not None else table
    declared = Declared("sequelize", name, qualified, source.path)
    found.declaration(offset, declared, matcher)
    if named_by_default is not None:
        found.record(SequelizeNamed(declared, *named_by_default))


def _flag(options: dict[str, Node], key: str, source: Source) -> bool | None:
    value = options.get(key)
    return None if value is None else source.text(value) == "true"


def _defaults(tree: Tree, source: Source, found: Found) -> None:
    """`define: { freezeTableName: true, underscored: true }` in an options object: the
    connection's defaults for its models."""
    for pair in nodes_of(tree, ("pair",)):
        key, value = pair.child_by_field_name("key"), pair.child_by_field_name("value")
        if key is None or value is None or source.text(key).strip("'\"") != "define":
            continue
        if value.type != "object":
            continue
        options = {k: v for k, _, v in object_pairs(value, source)}
        freeze = _flag(options, "freezeTableName", source)
        underscored = _flag(options, "underscored", source)
        if freeze is not None or underscored is not None:
            found.record(SequelizeDefaults(bool(freeze), bool(underscored), source.path))


def sequelize_uses(
    chain: Chain,
    source: Source,
    files: FileModels,
    found: Found,
    matcher: TableMatcher,
    bindings: Bindings | None = None,
) -> bool:
    """`Model.method(…)` or `models.Model.method(…)`, or a row's (`user.update(…)`,
    `user.getPosts()`); True when the chain is claimed."""
    links = chain.links
    claimed = False
    if files.models.helpers and _helper_call(chain, source, files, found, matcher):
        return True
    if len(links) >= 2 and chain.root.type == "identifier" and links[1].name is None:
        if links[0].name in OPERATIONS:
            declared = files.resolve(("sequelize",), chain.root, source)
            if declared is not None:
                _report(declared, links[0].name or "", links[1].args, chain.root, found, matcher)
                _includes(declared, links[0].name or "", links[1].args, source, files, found,
                          matcher)  # fmt: skip
                return True
        if bindings is not None and _row(
            chain.root, links[0].name, source, files, bindings, found, matcher
        ):
            return True
    if (
        len(links) >= 2
        and chain.root.type == "identifier"
        and links[1].name is None
        and links[0].name in MODEL_ONLY
        and bindings is not None
        and bindings.is_parameter(chain.root)
    ):  # `async function prune(Model) { Model.findAll(…) }`: which model, the callers say
        found.dynamic(chain.root)
        return True
    if len(links) >= 2 and chain.root.type == "this" and links[1].name is None:
        if bindings is not None and _row(
            chain.root, links[0].name, source, files, bindings, found, matcher
        ):
            return True  # this.getTags() in a model's instance method
    for index in range(len(links) - 2):  # req.article.getComments(), res.locals.user.save()
        receiver, method, call = links[index : index + 3]
        if receiver.name is None or method.name is None or call.name is not None:
            continue
        if receiver.node.type != "member_expression":
            continue
        model = _named_model(receiver.node, source, files, bindings)
        at = receiver.node.child_by_field_name("property") or receiver.node
        if model is not None and _row_call(
            model, False, method.name, at.start_byte, files, found, matcher
        ):
            claimed = True
    names = {d.name: d for d in reversed(files.models.of(("sequelize",)))}
    for index in range(len(links) - 2):
        model, method, call = links[index : index + 3]
        if model.name in names and method.name in OPERATIONS and call.name is None:
            node = model.node.child_by_field_name("property") or model.node
            declared = names[model.name or ""]
            _report(declared, method.name or "", call.args, node, found, matcher)
            _includes(declared, method.name or "", call.args, source, files, found, matcher)
            claimed = True
    return claimed


def _row(
    identifier: Node,
    method: str | None,
    source: Source,
    files: FileModels,
    bindings: Bindings,
    found: Found,
    matcher: TableMatcher,
) -> bool:
    """`user.update(…)`, `user.getPosts()` where `user` is a row (see the module's docstring):
    report what the call does; False when it is no such call."""
    if method is None:
        return False
    if identifier.type == "this":
        this = _this_model(identifier, source, files)
        instance = (this, False) if this is not None else None
    else:
        instance = _instance(identifier, source, files, bindings)
        if instance is None:
            named = _named_model(identifier, source, files, bindings)
            instance = (named, False) if named is not None else None
    if instance is None:
        return False
    model, new = instance
    return _row_call(model, new, method, identifier.start_byte, files, found, matcher)


def _row_call(
    model: Declared,
    new: bool,
    method: str,
    at: int,
    files: FileModels,
    found: Found,
    matcher: TableMatcher,
) -> bool:
    """What `row.method(…)` does, on a row of MODEL (NEW: built, not read), reported at AT;
    False when METHOD is neither a row's operation nor one of its associations' accessors."""
    if method in ROW_OPERATIONS:
        # a built row's save() inserts it
        for operation in ("insert",) if new and method == "save" else ROW_OPERATIONS[method]:
            _report_table(model.table, operation, at, found, matcher)
        return True
    for prefix, operations in ACCESSORS.items():
        if not method.startswith(prefix) or len(method) == len(prefix):
            continue
        wanted = method[len(prefix) :].lower()
        for relation, target in files.models.relations_of(model):
            if wanted not in (relation.name.lower(), _singular(relation.name).lower()):
                continue
            secondary = files.models.secondary(relation)
            if secondary is not None and prefix in ("set", "add", "remove"):
                table_operations = {"set": ("delete", "insert"), "add": ("insert",)}
                for operation in table_operations.get(prefix, ("delete",)):
                    _report_table(secondary, operation, at, found, matcher)
                return True
            for operation in operations:
                _report_table(target.table, operation, at, found, matcher)
            if secondary is not None:
                _report_table(secondary, "select", at, found, matcher)
            return True
    return False


def _named_model(
    node: Node, source: Source, files: FileModels, bindings: Bindings | None
) -> Declared | None:
    """The model whose row a value named after it holds, where nothing else says what it is:
    a parameter (`function setTags(article, tags)`, or one annotated `article: Article`), a
    name bound to what an unknown function returns, or a property (`req.article`). The call
    on it decides: only a row's operations and its associations' accessors count."""
    name = source.text(node.child_by_field_name("property") or node)
    if not files.uses("sequelize", source):
        return None
    if node.type == "identifier":
        annotated = _annotated_model(node, source, files)
        if annotated is not None:
            return annotated or None
        bound = bindings.values(node) if bindings is not None else None
        if bound is None and (bindings is None or not bindings.is_parameter(node)):
            return None
        for binding in bound or ():
            value = binding.value
            while value.type in ("await_expression", "parenthesized_expression"):
                if not value.named_children:
                    return None
                value = value.named_children[0]
            if value.type not in ("call_expression", "member_expression", "subscript_expression"):
                return None  # an object, a literal, a new instance: not a row read elsewhere
        if files.resolve(("sequelize",), node, source) is not None:
            return None  # the model itself
    elif node.type != "member_expression":
        return None
    if not name[:1].islower():
        return None
    matches = files.models.named_in_lower_case("sequelize", name)
    return matches[0] if len(matches) == 1 else None


def _annotated_model(node: Node, source: Source, files: FileModels) -> Declared | bool | None:
    """The model a TypeScript parameter's annotation names (`article: Article`); False when it
    names something else (`article: ArticleDto`), None when there is none."""
    named = typescript_parameter_type(node, source)
    if named is None:
        return None
    return _model_named(source.text(named), files, here_first=False) if named else False


def _this_model(node: Node, source: Source, files: FileModels) -> Declared | None:
    """`this` in an instance method of a model: `X.prototype.m = function () { … }`, or a
    method of `class X extends Model` (not an arrow function's: its `this` is outside)."""
    scope = node.parent
    while scope is not None and scope.type not in (
        "function_expression",
        "function",
        "method_definition",
        "function_declaration",
    ):
        scope = scope.parent
    if scope is None:
        return None
    if scope.type == "method_definition":
        if any(child.type == "static" for child in scope.children):
            return None
        cls = scope.parent.parent if scope.parent is not None else None
        name = cls.child_by_field_name("name") if cls is not None else None
    else:
        assignment = scope.parent
        left = assignment.child_by_field_name("left") if assignment is not None else None
        if left is None or assignment.type != "assignment_expression":
            return None
        parts = source.text(left).split(".")
        if len(parts) != 3 or parts[1] != "prototype":
            return None
        return _model_named(parts[0], files)
    return _model_named(source.text(name), files) if name is not None else None


def _model_named(name: str | None, files: FileModels, here_first: bool = True) -> Declared | None:
    """The Sequelize model called NAME when only one is (HERE_FIRST: or only one of this file)."""
    matches = [d for d in files.models.of(("sequelize",)) if d.name == name]
    if here_first:
        matches = [d for d in matches if d.path == files.path] or matches
    return matches[0] if len(matches) == 1 else None


def _instance(identifier: Node, source: Source, files: FileModels, bindings: Bindings):
    """(the model whose row IDENTIFIER holds, is it a new one) when every binding is
    `[await] M.findOne/findByPk/create(…)`, or `M.build(…)` / `new M(…)` (a new row), of one
    model."""
    bound = bindings.values(identifier)
    if not bound:
        return _loop_row(identifier, source, files)
    models: set[tuple[Declared, bool]] = set()
    for binding in bound:
        value = binding.value
        while (
            value.type in ("await_expression", "parenthesized_expression") and value.named_children
        ):
            value = value.named_children[0]
        if binding.op == "=" and value.type == "new_expression":  # new M(…): a new row
            made = value.child_by_field_name("constructor")
            while made is not None and made.type == "parenthesized_expression":
                made = made.named_children[0] if made.named_children else None
            model = None
            if made is not None:
                model = files.resolve(("sequelize",), made, source) or _by_name(made, source, files)
            if model is None:
                return None
            models.add((model, True))
            continue
        function = (
            value.child_by_field_name("function") if value.type == "call_expression" else None
        )
        if binding.op != "=" or function is None or function.type != "member_expression":
            return None
        method, obj = (
            function.child_by_field_name("property"),
            function.child_by_field_name("object"),
        )
        if method is None or obj is None or source.text(method) not in ROW_SOURCES:
            return None
        declared = files.resolve(("sequelize",), obj, source) or _by_name(obj, source, files)
        if declared is None:
            return None
        models.add((declared, source.text(method) == "build"))
    return models.pop() if len(models) == 1 else None


def _loop_row(identifier: Node, source: Source, files: FileModels):
    """`for (const row of await M.findAll(…))`: (M, not new) for `row` inside the loop."""
    name = source.text(identifier)
    node = identifier.parent
    while node is not None and node.type not in ("function_declaration", "program"):
        if node.type == "for_in_statement":
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            if left is not None and right is not None and source.text(left) == name:
                while right.type in ("await_expression", "parenthesized_expression"):
                    if not right.named_children:
                        return None
                    right = right.named_children[0]
                function = right.child_by_field_name("function")
                if right.type != "call_expression" or function is None:
                    return None
                if function.type != "member_expression":
                    return None
                method = function.child_by_field_name("property")
                obj = function.child_by_field_name("object")
                if method is None or obj is None or source.text(method) != "findAll":
                    return None
                model = files.resolve(("sequelize",), obj, source) or _by_name(obj, source, files)
                return (model, False) if model is not None else None
        node = node.parent
    return None


def _includes(declared: Declared, method: str, args, source: Source, files, found, matcher):
    """The tables a query's `include` reads (nested includes from their model)."""
    if method not in INCLUDING:
        return
    options = args[1] if method == "findByPk" and len(args) > 1 else args[0] if args else None
    if options is None or options.type != "object":
        return
    include = dict((key, value) for key, _, value in object_pairs(options, source)).get("include")
    todo = [(declared, include)] if include is not None else []
    while todo:
        owner, node = todo.pop()
        elements = node.named_children if node.type == "array" else [node]
        for element in elements:
            target, at, nested = _included(owner, element, source, files)
            if target is None:
                continue
            _report_table(target.table, "select", at, found, matcher)
            secondary = _join_table(owner, element, target, source, files)
            if secondary is not None:  # a many-to-many's rows come through its join table
                _report_table(secondary, "select", at, found, matcher)
            if nested is not None:
                todo.append((target, nested))


def _join_table(owner: Declared, element: Node, target: Declared, source, files) -> str | None:
    """The join table an include entry of OWNER reaches TARGET through: the association its
    string or `as`/`association` names, else OWNER's only association to TARGET."""
    name = None
    literal = string_value(element, source)
    if literal is not None:
        name = literal.text
    elif element.type == "object":
        entries = {key: value for key, _, value in object_pairs(element, source)}
        alias = entries.get("as") or entries.get("association")
        value = string_value(alias, source) if alias is not None else None
        name = value.text if value is not None else None
    pairs = [
        p for p in files.models.relations_of(owner)
        if p[1] == target and (name is None or p[0].name == name)
    ]  # fmt: skip
    return files.models.secondary(pairs[0][0]) if len(pairs) == 1 else None


def sequelize_include_objects(
    tree: Tree, source: Source, files: FileModels, found: Found, matcher: TableMatcher
) -> None:
    """Include entries written apart from the query (`const authorInclude = { model: User,
    as: 'author' }`, `include.push({ model: Tag })`): an object with a `model:` naming a
    Sequelize model reads its table (not a model attribute's `references: { model: User }`)."""
    if b"model" not in source.data:
        return
    for pair in nodes_of(tree, ("pair",)):
        key, value = pair.child_by_field_name("key"), pair.child_by_field_name("value")
        if key is None or value is None or source.text(key).strip("'\"") != "model":
            continue
        holder = pair.parent.parent if pair.parent is not None else None
        if holder is not None and holder.type == "pair":
            outer = holder.child_by_field_name("key")
            if outer is not None and source.text(outer).strip("'\"") == "references":
                continue
        model = files.resolve(("sequelize",), value, source) or _by_name(value, source, files)
        if model is None:
            continue
        _report_table(model.table, "select", value.start_byte, found, matcher)
        entries = {k: v for k, _, v in object_pairs(pair.parent, source)}
        alias = string_value(entries["as"], source) if "as" in entries else None
        if alias is None:
            continue
        joins = {
            files.models.secondary(relation)
            for relation in files.models.relations
            if relation.orm == "sequelize" and relation.name == alias.text
        } - {None}  # the association `as` names, whatever its owner (the query is elsewhere)
        if len(joins) == 1:
            _report_table(joins.pop() or "", "select", value.start_byte, found, matcher)


def _included(owner: Declared, element: Node, source: Source, files: FileModels):
    """(model, offset, nested include) of one `include` entry of OWNER's query."""
    models = files.models
    literal = string_value(element, source)
    if literal is not None:  # an association's name
        pair = next((p for p in models.relations_of(owner) if p[0].name == literal.text), None)
        return (pair[1], literal.offset_of(0), None) if pair else (None, 0, None)
    if element.type == "object":
        entries = {key: value for key, _, value in object_pairs(element, source)}
        nested = entries.get("include")
        if "model" in entries:
            target = files.resolve(("sequelize",), entries["model"], source) or _by_name(
                entries["model"], source, files
            )
            return target, entries["model"].start_byte, nested
        association = entries.get("association")
        literal = string_value(association, source) if association is not None else None
        if literal is not None:
            pair = next((p for p in models.relations_of(owner) if p[0].name == literal.text), None)
            return (pair[1], literal.offset_of(0), nested) if pair else (None, 0, None)
        return None, 0, None
    target = files.resolve(("sequelize",), element, source) or _by_name(element, source, files)
    return target, element.start_byte, None


def _by_name(node: Node, source: Source, files: FileModels) -> Declared | None:
    """`models.Post` / `db.Post`: the model of that name, when only one has it."""
    name = _model_name(node, source) if node.type == "member_expression" else None
    return _model_named(name, files, here_first=False)


def helper_parameters(chains: list[Chain], source: Source) -> set[str]:
    """The names of the parameters a call only a model has is made on (`Model.findAll(…)` in
    `function prune(Model)`): what sequelize_helpers needs the other chains of."""
    names = set()
    for chain in chains:
        links = chain.links
        if chain.root.type != "identifier" or len(links) < 2 or links[1].name is not None:
            continue
        if links[0].name in MODEL_ONLY and function_of(chain.root, source.text(chain.root), source):
            names.add(source.text(chain.root))
    return names


def sequelize_helpers(chains: list[Chain], source: Source, found: Found) -> None:
    """The first pass: a function running a model's queries on its parameter (`async function
    prune(Model) { const old = await Model.findAll(…); await Model.destroy(…) }`) is a helper;
    its uses are kept with their places, and a call passing it a model (`prune(db.Comment)`) is
    a reference at each of them. The parameter must have a call only a model has (findAll,
    findByPk, bulkCreate…): `options.update(x)` is not a model's."""
    uses: dict[tuple[str, int], list[tuple[str, int]]] = {}
    models: set[tuple[str, int]] = set()
    for chain in chains:
        links = chain.links
        if chain.root.type != "identifier" or len(links) < 2 or links[1].name is not None:
            continue
        method = links[0].name or ""
        if method not in OPERATIONS:
            continue
        function = function_of(chain.root, source.text(chain.root), source)
        if function is None:
            continue
        for operation in OPERATIONS[method]:
            uses.setdefault(function, []).append((operation, chain.root.start_byte))
        if method in MODEL_ONLY:
            models.add(function)
    for (name, index), found_uses in uses.items():
        if (name, index) not in models:
            continue
        for operation, offset in found_uses:
            line, column = source.position(offset)
            snippet = source.line_text(line)[:160]
            found.record(
                Helper("sequelize", name, index, operation, source.path, line, column, snippet)
            )


def _helper_call(chain: Chain, source: Source, files: FileModels, found: Found, matcher) -> bool:
    """`prune(db.Comment)`, `lib.prune(models.Comment)`: the helper's queries (sequelize_helpers)
    on the model passed, reported where the helper runs them."""
    call = first_call(chain, source)
    if call is None or not call[2]:
        return False
    owner, name, args = call
    helpers = [
        h
        for h in files.models.helpers_named(name)
        if h.orm == "sequelize" and leads_to(h, owner, name, files)
    ]
    claimed = False
    for helper in helpers:
        if helper.index >= len(args):
            continue
        argument = args[helper.index]
        model = files.resolve(("sequelize",), argument, source) or _by_name(argument, source, files)
        table = matcher.match_text(model.table) if model is not None else None
        if table is not None:
            found.reference_at(helper.path, helper.line, helper.column, helper.snippet, table,
                               helper.operation, "sequelize")  # fmt: skip
        claimed = True
    return claimed


def sequelize_row_calls(models) -> set[str]:
    """What a file must contain to call a row named after its model (`article.save`,
    `req.article.getComments`): the model's name in lower case, then one of a row's operations
    or its associations' accessors (the name alone is too common a word to read files for)."""
    calls: set[str] = set()
    for declared in models.of(("sequelize",)):
        name = declared.name[:1].lower() + declared.name[1:]
        methods = set(ROW_OPERATIONS)
        for relation, _ in models.relations_of(declared):
            for each in (relation.name, _singular(relation.name)):
                if each:
                    methods.update(prefix + each[:1].upper() + each[1:] for prefix in ACCESSORS)
        calls.update(f"{name}.{method}" for method in methods)
    return calls


def _report(declared: Declared, method: str, args, node: Node, found: Found, matcher) -> None:
    operations = OPERATIONS[method]
    if method == "bulkCreate" and len(args) > 1:
        if "updateOnDuplicate" in keyword_arguments(args[1:2], found.source):
            operations = ("upsert",)
    found.uses(node.start_byte, declared.table, operations, "sequelize", matcher)


def _report_table(table_name: str, operation: str, offset: int, found: Found, matcher) -> None:
    found.uses(offset, table_name, (operation,), "sequelize", matcher)
