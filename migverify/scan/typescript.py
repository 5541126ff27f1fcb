"""TypeScript / JavaScript (and TSX/JSX) with tree-sitter: supabase-js chains, knex, and SQL in
strings passed to query functions."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

from tree_sitter import Language, Node, Parser

from migverify.scan.chains import Grammar, table_call
from migverify.scan.found import Found
from migverify.scan.source import Source, string_value
from migverify.scan.tables import TableMatcher

SQL_CALLS = {
    "query", "execute", "raw", "sql", "unsafe", "text", "$queryRaw", "$executeRaw",
    "$queryRawUnsafe", "$executeRawUnsafe", "queryRaw", "prepare", "exec", "many", "one",
    "none", "any", "oneOrNone", "manyOrNone", "result", "whereRaw", "fromRaw", "joinRaw",
}  # fmt: skip
KNEX_BUILDERS = {"knex", "trx"}
GRAMMAR = Grammar(
    "member_expression",
    "call_expression",
    "property",
    ("await_expression", "parenthesized_expression"),
)


@cache
def _parser(suffix: str) -> Parser:
    if suffix in (".ts", ".mts", ".cts"):
        import tree_sitter_typescript as grammar

        return Parser(Language(grammar.language_typescript()))
    if suffix == ".tsx":
        import tree_sitter_typescript as grammar

        return Parser(Language(grammar.language_tsx()))
    import tree_sitter_javascript as grammar

    return Parser(Language(grammar.language()))


def scan_typescript(source: Source, suffix: str, matcher: TableMatcher) -> Found:
    tree = _parser(suffix).parse(source.data)
    found = Found(source)
    root = tree.root_node
    constants, builders = _bindings(root, source)
    for call in _calls(root):
        function = call.child_by_field_name("function")
        arguments = call.child_by_field_name("arguments")
        if function is None or arguments is None:
            continue
        name = _callee_name(function, source)
        first = _first_argument(arguments)
        if function.type == "member_expression" and name == "from" and first is not None:
            root_name = _chain_root(function, source)
            kind = "knex" if root_name in builders else "supabase-js"
            table_call(
                call,
                first,
                kind,
                GRAMMAR,
                found,
                matcher,
                constants,
                report_dynamic=kind == "supabase-js",
            )
        elif function.type == "identifier" and name in builders and first is not None:
            table_call(
                call, first, "knex", GRAMMAR, found, matcher, constants, report_dynamic=False
            )
        if name in SQL_CALLS:
            literal = arguments if arguments.type == "template_string" else first
            if literal is not None:
                found.sql_string(
                    literal,
                    source,
                    matcher,
                    placeholders="?" if name in ("raw", "whereRaw", "fromRaw", "joinRaw") else None,
                )
    return found


def _calls(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type == "call_expression":
            yield current
        stack.extend(reversed(current.children))


def _bindings(root: Node, source: Source) -> tuple[dict[str, str], set[str]]:
    """`const NAME = 'text'` in this file, and identifiers bound to a knex instance."""
    constants: dict[str, str] = {}
    builders = set(KNEX_BUILDERS)
    stack = [root]
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if node.type != "lexical_declaration" or not node.children:
            continue
        if source.text(node.children[0]) != "const":
            continue
        for declarator in node.named_children:
            if declarator.type != "variable_declarator":
                continue
            name, value = (
                declarator.child_by_field_name("name"),
                declarator.child_by_field_name("value"),
            )
            if name is None or value is None or name.type != "identifier":
                continue
            text = string_value(value, source)
            if text is not None and not text.holes:
                constants[source.text(name)] = text.text
            elif value.type == "call_expression":
                callee = value.child_by_field_name("function")
                if callee is not None and source.text(callee) in ("knex", "Knex"):
                    builders.add(source.text(name))
    return constants, builders


def _callee_name(function: Node, source: Source) -> str:
    if function.type == "member_expression":
        prop = function.child_by_field_name("property")
        return source.text(prop) if prop is not None else ""
    if function.type == "identifier":
        return source.text(function)
    return ""


def _first_argument(arguments: Node) -> Node | None:
    if arguments.type == "template_string":
        return arguments
    for child in arguments.named_children:
        if child.type != "comment":
            return child
    return None


def _chain_root(node: Node, source: Source) -> str:
    """The identifier a member/call chain starts from (`supabase` in supabase.from(...))."""
    while node.type in (
        "member_expression",
        "call_expression",
        "await_expression",
        "parenthesized_expression",
    ):
        child = node.child_by_field_name("object") or node.child_by_field_name("function")
        if child is None:
            child = node.named_children[0] if node.named_children else None
        if child is None:
            return ""
        node = child
    return source.text(node) if node.type in ("identifier", "this") else ""
