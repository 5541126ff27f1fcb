"""Python with tree-sitter: supabase-py chains (`client.table('t')`, `from_('t')`) and SQL in
strings passed to execute(), text(), sql.SQL() and the like."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

from tree_sitter import Language, Node, Parser

from migverify.scan.chains import ChainCall, analyze_chain
from migverify.scan.found import Found
from migverify.scan.source import Source, string_value
from migverify.scan.tables import TableMatcher

SQL_CALLS = {
    "execute", "executemany", "text", "SQL", "mogrify", "fetch", "fetchrow", "fetchval",
    "read_sql", "read_sql_query", "exec_driver_sql", "raw", "query", "executescript",
    "copy_expert", "copy",
}  # fmt: skip
TABLE_CALLS = {"table", "from_"}
OPERATIONS = {"select", "insert", "update", "delete", "upsert"}


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
            _table_call(call, first, source, matcher, constants, found)
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


def _table_call(
    call: Node,
    argument: Node,
    source: Source,
    matcher: TableMatcher,
    constants: dict[str, str],
    found: Found,
) -> None:
    chain = list(_chain_after(call, source))
    value = string_value(argument, source)
    if value is not None and not value.holes:
        table = matcher.match_text(value.text)
        if table is None:
            return
        offset = value.offset_of(value.text.rfind(".") + 1)
    elif argument.type == "identifier" and source.text(argument) in constants:
        table = matcher.match_text(constants[source.text(argument)])
        if table is None:
            return
        offset = argument.start_byte
    else:
        if any(c.method in OPERATIONS for c in chain):
            found.dynamic(argument)
        return
    analysis = analyze_chain(chain, "supabase-py", source, matcher)
    found.reference(offset, table, analysis.operation, analysis.columns, "supabase-py")
    for embedded in analysis.embedded:
        found.reference(
            embedded.offset, embedded.table, "select", embedded.columns, "supabase-py", parent=table
        )


def _chain_after(call: Node, source: Source) -> Iterator[ChainCall]:
    node = call
    while True:
        parent = node.parent
        if parent is not None and parent.type in ("await", "parenthesized_expression"):
            node = parent
            continue
        if parent is None or parent.type != "attribute":
            return
        grand = parent.parent
        if grand is None or grand.type != "call":
            return
        attribute = parent.child_by_field_name("attribute")
        arguments = grand.child_by_field_name("arguments")
        args = [a for a in arguments.named_children if a.type != "comment"] if arguments else []
        yield ChainCall(source.text(attribute) if attribute else "", tuple(args))
        node = grand
