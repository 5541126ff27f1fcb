"""Column references in SQL expressions (policy USING/WITH CHECK, trigger WHEN), found and
renamed on pglast's tree, then printed back: never by text substitution.

An expression is parsed as `SELECT <expression>`. Each column reference is reported with its
scope: at the top level a name is a column of the table the expression belongs to; inside a
sub-select (EXISTS, IN, scalar sub-query) it belongs to the sub-select's own FROM items unless
its qualifier names something those items do not bind (an outer reference).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from pglast import ast, parse_sql
from pglast.parser import ParseError
from pglast.stream import RawStream

from migverify.errors import MigverifyError


@dataclass(frozen=True)
class Reference:
    """One ColumnRef of an expression and where it stands."""

    node: ast.ColumnRef
    fields: tuple[str, ...]  # "*" for a star
    nested: bool  # inside a sub-select
    bound: frozenset[str]  # names bound by the FROM clauses of the enclosing sub-selects

    def rename(self, fields: tuple[str, ...]) -> None:
        self.node.fields = tuple(ast.A_Star() if f == "*" else ast.String(sval=f) for f in fields)


def parse_expression(text: str) -> ast.Node:
    """The tree of one SQL expression (as pg_get_expr or pg_get_triggerdef print it)."""
    try:
        statement = parse_sql(f"SELECT {text}")[0].stmt
    except ParseError as error:
        raise MigverifyError(f"cannot parse the expression {text!r}: {error}") from None
    return statement.targetList[0].val


def deparse(node: ast.Node) -> str:
    return RawStream()(node)


def references(node: ast.Node) -> list[Reference]:
    """Every column reference under NODE, in tree order."""
    return list(_walk(node, nested=False, bound=frozenset()))


def _walk(node: object, *, nested: bool, bound: frozenset[str]) -> Iterator[Reference]:
    if isinstance(node, tuple | list):
        for item in node:
            yield from _walk(item, nested=nested, bound=bound)
        return
    if not isinstance(node, ast.Node):
        return
    if isinstance(node, ast.ColumnRef):
        fields = tuple("*" if isinstance(f, ast.A_Star) else f.sval for f in node.fields)
        yield Reference(node, fields, nested, bound)
        return
    if isinstance(node, ast.SelectStmt):
        nested, bound = True, bound | _bound_names(node)
    for name in node.__slots__:
        yield from _walk(getattr(node, name), nested=nested, bound=bound)


def _bound_names(select: ast.SelectStmt) -> frozenset[str]:
    names: set[str] = set()
    for item in select.fromClause or ():
        names |= _from_item_names(item)
    if select.withClause is not None:
        names |= {cte.ctename for cte in select.withClause.ctes or ()}
    return frozenset(names)


def _from_item_names(item: object) -> set[str]:
    if isinstance(item, ast.RangeVar):
        return {item.alias.aliasname if item.alias else item.relname}
    if isinstance(item, ast.JoinExpr):
        names = _from_item_names(item.larg) | _from_item_names(item.rarg)
        return names | ({item.alias.aliasname} if item.alias else set())
    alias = getattr(item, "alias", None)
    return {alias.aliasname} if alias is not None else set()


def qualify(text: str, columns: set[str] | frozenset[str] | None, record: str | None) -> str:
    """TEXT (an expression over COLUMNS, unqualified) with every column read from RECORD (NEW,
    a FROM alias; None: left bare), printed back by pglast. A name not in COLUMNS (None: any
    name), a qualified
    name or a sub-select raise MigverifyError naming it."""
    node = parse_expression(text)
    for reference in references(node):
        if reference.nested:
            raise MigverifyError(f"{text!r}: a sub-select cannot be part of a transform")
        if len(reference.fields) != 1 or reference.fields[0] == "*":
            raise MigverifyError(
                f"{text!r}: {'.'.join(reference.fields)} must be a plain column name"
            )
        name = reference.fields[0]
        if columns is not None and name not in columns:
            raise MigverifyError(
                f"{text!r}: no column {name!r} (it can use {', '.join(sorted(columns))})"
            )
        reference.rename((record, name) if record else (name,))
    return deparse(node)
