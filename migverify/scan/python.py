"""Python with tree-sitter: supabase-py chains (`client.table('t')`, `from_('t')`) and SQL in
strings passed to execute(), text(), sql.SQL() and the like."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

from tree_sitter import Language, Node, Parser

from migverify.scan.chains import Grammar, table_call
from migverify.scan.found import Found
from migverify.scan.source import Source, string_value
from migverify.scan.tables import TableMatcher

SQL_CALLS = {
    "execute", "executemany", "text", "SQL", "mogrify", "fetch", "fetchrow", "fetchval",
    "read_sql", "read_sql_query", "exec_driver_sql", "raw", "query", "executescript",
    "copy_expert", "copy",
}  # fmt: skip
TABLE_CALLS = {"table", "from_"}
GRAMMAR = Grammar("attribute", "call", "attribute", ("await", "parenthesized_expression"))


@cache
def _parser() -> Parser:
    import tree_sitter_python as grammar

    return Parser(Language(grammar.language()))


def scan_python(source: Source, matcher: TableMatcher) -> Found:
    tree = _parser().parse(source.data)
    found = Found(source)
    constants = _constants(tree.root_node, source)
    for call in _calls(tree.root_node):
        function = call.child_by_field_name("function")
        arguments = call.child_by_field_name("arguments")
        if function is None or arguments is None:
            continue
        name = _name(function, source)
        args = [a for a in arguments.named_children if a.type != "comment"]
        first = args[0] if args else None
        if first is None:
            continue
        if function.type == "attribute" and name in TABLE_CALLS:
            table_call(call, first, "supabase-py", GRAMMAR, found, matcher, constants)
        elif name in SQL_CALLS:
            found.sql_string(first, source, matcher, placeholders="python")
    return found


def _calls(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type == "call":
            yield current
        stack.extend(reversed(current.children))


def _name(function: Node, source: Source) -> str:
    if function.type == "attribute":
        attribute = function.child_by_field_name("attribute")
        return source.text(attribute) if attribute is not None else ""
    return source.text(function) if function.type == "identifier" else ""


def _constants(root: Node, source: Source) -> dict[str, str]:
    """Names assigned a plain string exactly once at module level (TABLE = 'posted_decisions')."""
    seen: dict[str, list[str]] = {}
    for statement in root.named_children:
        if statement.type != "expression_statement" or not statement.named_children:
            continue
        assignment = statement.named_children[0]
        if assignment.type != "assignment":
            continue
        left, right = (
            assignment.child_by_field_name("left"),
            assignment.child_by_field_name("right"),
        )
        if left is None or right is None or left.type != "identifier":
            continue
        value = string_value(right, source)
        if value is not None and not value.holes:
            seen.setdefault(source.text(left), []).append(value.text)
    return {name: values[0] for name, values in seen.items() if len(values) == 1}
