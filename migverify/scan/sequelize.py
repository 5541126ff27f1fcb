"""Sequelize: models with an explicit table (`tableName: 't'` in `sequelize.define(…)` or
`Model.init(…)` options, sequelize-typescript's `@Table({ tableName: 't' })`; with
`freezeTableName: true` the model's name), then `Model.findAll/create/update/destroy/upsert/
bulkCreate…`, also as `db.Model.findAll()` through a models object. Without either option
Sequelize pluralizes the model's name at run time: such models are not resolved."""

from __future__ import annotations

from tree_sitter import Node, Tree

from migverify.scan.chains import Chain
from migverify.scan.found import Found
from migverify.scan.orm import Declared, FileModels, keyword_arguments, nodes_of
from migverify.scan.source import Source, StringValue, string_value
from migverify.scan.tables import TableMatcher
from migverify.scan.typeorm import decorators

OPERATIONS: dict[str, str] = {
    **dict.fromkeys(
        ("findAll", "findOne", "findByPk", "findAndCountAll", "count", "max", "min", "sum",
         "aggregate"),
        "select",
    ),
    **dict.fromkeys(("findOrCreate", "findCreateFind", "create", "bulkCreate"), "insert"),
    **dict.fromkeys(("update", "increment", "decrement", "restore"), "update"),
    "destroy": "delete",
    "upsert": "upsert",
    "truncate": "truncate",
}  # fmt: skip


def sequelize_declarations(tree: Tree, source: Source, found: Found, matcher: TableMatcher) -> None:
    data = source.data
    if b"tableName" not in data and b"freezeTableName" not in data:
        return
    for node in nodes_of(tree, ("call_expression", "class_declaration")):
        if node.type == "class_declaration":
            name = node.child_by_field_name("name")
            for callee, args in decorators(node):
                if source.text(callee) == "Table" and name is not None:
                    _declare(source.text(name), None, args, source, found, matcher)
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
            _declare(source.text(obj), None, args[1:2], source, found, matcher)
        elif source.text(method) == "define" and len(args) >= 3:
            model = string_value(args[0], source)
            if model is None or model.holes:
                continue
            names = [model.text]
            declarator = _declarator(node)
            if declarator is not None:
                names.append(declarator)
            for name in dict.fromkeys(names):
                _declare(name, model, args[2:3], source, found, matcher)


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
) -> None:
    options = keyword_arguments(options_args, source)
    literal = string_value(options["tableName"], source) if "tableName" in options else None
    schema = string_value(options["schema"], source) if "schema" in options else None
    if literal is None or literal.holes:
        frozen = options.get("freezeTableName")
        if frozen is None or source.text(frozen) != "true":
            return
        named = string_value(options["modelName"], source) if "modelName" in options else None
        named = named or model
        if named is not None:
            table, offset = named.text, named.offset_of(0)
        else:
            table, offset = name, options_args[0].start_byte
    else:
        table, offset = literal.text, literal.offset_of(0)
    qualified = f"{schema.text}.{table}" if schema is not None else table
    found.declaration(offset, Declared("sequelize", name, qualified, source.path), matcher)


def sequelize_uses(
    chain: Chain, source: Source, files: FileModels, found: Found, matcher: TableMatcher
) -> bool:
    """`Model.method(…)` or `models.Model.method(…)`; True when the chain is claimed."""
    links = chain.links
    claimed = False
    if len(links) >= 2 and chain.root.type == "identifier" and links[1].name is None:
        if links[0].name in OPERATIONS:
            declared = files.resolve(("sequelize",), chain.root, source)
            if declared is not None:
                _report(declared, links[0].name or "", links[1].args, chain.root, found, matcher)
                return True
    names = {d.name: d for d in reversed(files.models.of(("sequelize",)))}
    for index in range(len(links) - 2):
        model, method, call = links[index : index + 3]
        if model.name in names and method.name in OPERATIONS and call.name is None:
            node = model.node.child_by_field_name("property") or model.node
            _report(names[model.name or ""], method.name or "", call.args, node, found, matcher)
            claimed = True
    return claimed


def _report(declared: Declared, method: str, args, node: Node, found: Found, matcher) -> None:
    table = matcher.match_text(declared.table)
    if table is None:
        return
    operation = OPERATIONS[method]
    if method == "bulkCreate" and len(args) > 1:
        if "updateOnDuplicate" in keyword_arguments(args[1:2], found.source):
            operation = "upsert"
    found.reference(node.start_byte, table, operation, (), "sequelize")
