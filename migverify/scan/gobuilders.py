"""Go query builders that take a table's name as a string: squirrel and goqu.

`sq.Select("id").From("users")`, `sq.Insert("users").Columns(…)`, `sq.Update("users").Set(…)`,
`sq.Delete("users")`, `.Join("posts p ON p.user_id = users.id")`, goqu's `goqu.From("users")`,
`db.Insert("users")`, `db.Update("users").Set(goqu.Record{…})`: the string's first word is the
table (a schema-qualified one too), the method its operation (`From` a read, unless the chain
is a `Delete`'s or an `Update`'s). A call counts only when the chain is a builder's: its root is
the package (`sq.`, `squirrel.`, `goqu.`, a `StatementBuilder`), or the chain calls another of
a builder's methods before or after (`Select`, `Columns`, `Where`, `OrderBy`, `ToSql`,
`RunWith`, `QueryContext`, `Executor`, …), so `cache.Delete("users")` alone is not one;
`Update`, `Insert`, `Delete` and `From` take exactly one argument there (GORM's
`Update("col", v)` takes two).
"""

from __future__ import annotations

from tree_sitter import Node, Tree

from migverify.scan.found import Found
from migverify.scan.gorm import GoCode, _literal, _method
from migverify.scan.orm import nodes_of
from migverify.scan.source import Source
from migverify.scan.tables import TableMatcher

TABLE_METHODS = {
    "From": "select", "Into": "insert", "Insert": "insert", "Replace": "insert",
    "Update": "update", "Delete": "delete", "Join": "select", "LeftJoin": "select",
    "RightJoin": "select", "InnerJoin": "select", "FullJoin": "select", "CrossJoin": "select",
}  # fmt: skip
JOINS = frozenset(("Join", "LeftJoin", "RightJoin", "InnerJoin", "FullJoin", "CrossJoin"))
ROOTS = ("sq", "squirrel", "goqu", "sqlbuilder")
# …and the methods a builder's chain has besides (with a table method, the chain is one)
BUILDER_METHODS = frozenset(
    (
        "Select",
        "Columns",
        "Values",
        "Set",
        "Where",
        "OrderBy",
        "GroupBy",
        "Having",
        "Limit",
        "Offset",
        "Options",
        "From",
        "Join",
        "LeftJoin",
        "InnerJoin",
        "Query",
        "QueryContext",
        "QueryRow",
        "QueryRowContext",
        "Exec",
        "ExecContext",
    )
)
BUILDER_ONLY = frozenset((
    "ToSql", "ToSQL", "RunWith", "PlaceholderFormat", "MustSql", "SetMap", "Suffix", "Prefix",
    "Executor", "ScanStructs", "ScanStruct", "ScanVals", "ScanVal", "Prepared", "StatementBuilder",
))  # fmt: skip


def scan_go_builders(tree: Tree, source: Source, found: Found, matcher: TableMatcher) -> None:
    code = GoCode(tree, source)
    for call in nodes_of(tree, ("call_expression",)):
        method = _method(call, source)
        if method not in TABLE_METHODS:
            continue
        arguments = call.child_by_field_name("arguments")
        values = arguments.named_children if arguments is not None else []
        if not values or (method not in JOINS and len(values) != 1):
            continue
        literal = _literal(values[0], source)
        if literal is None or not literal[0].split():
            continue
        table = matcher.match_text(literal[0].split()[0])
        if table is None:
            continue
        chain = list(code.chain(call))
        if not _builder(call, chain, source):
            continue
        operation = TABLE_METHODS[method]
        if method == "From":
            names = {name for name, _ in chain}
            operation = (
                "delete" if "Delete" in names else "update" if "Update" in names else operation
            )
        found.reference(literal[1], table, operation, (), _kind(source))


def _builder(call: Node, chain: list[tuple[str, Node]], source: Source) -> bool:
    """Is the chain a squirrel or goqu builder's (see the module's docstring)?"""
    root = chain[-1][1] if chain and chain[-1][0] == "" else None
    if root is not None and source.text(root).split(".")[0] in ROOTS:
        return True
    if any(name in BUILDER_ONLY or name in BUILDER_METHODS for name, _ in chain):
        return True
    if root is not None and source.text(root).endswith("StatementBuilder"):
        return True
    outer = call  # the calls made on the builder afterwards
    while outer.parent is not None and outer.parent.type == "selector_expression":
        field = outer.parent.child_by_field_name("field")
        if field is not None and (source.text(field) in BUILDER_ONLY
                                  or source.text(field) in BUILDER_METHODS):  # fmt: skip
            return True
        outer = outer.parent.parent if outer.parent.parent is not None else outer.parent
        if outer.type != "call_expression":
            break
    return False


def _kind(source: Source) -> str:
    """`goqu` in a file using it, else `squirrel`."""
    return "goqu" if b"doug-martin/goqu" in source.data or b"goqu." in source.data else "squirrel"
