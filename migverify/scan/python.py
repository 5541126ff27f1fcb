"""Python with tree-sitter: supabase-py chains (`client.table('t')`, `from_('t')`) and SQL passed
to execute(), text(), sql.SQL() and the like: literals, and SQL held in names, `.format()`ed,
concatenated or in f-strings, resolved in the file."""

from __future__ import annotations

from functools import cache

from tree_sitter import Language, Parser

from migverify.scan.bindings import PYTHON, Bindings
from migverify.scan.chains import Chain, Grammar, Use, binding_of, chains_in, extend_by_variables
from migverify.scan.found import Found
from migverify.scan.source import Source
from migverify.scan.supabase import report_supabase, supabase_uses
from migverify.scan.tables import TableMatcher

SQL_CALLS = {
    "execute", "executemany", "text", "SQL", "mogrify", "fetch", "fetchrow", "fetchval",
    "read_sql", "read_sql_query", "exec_driver_sql", "raw", "query", "executescript",
    "copy_expert", "copy",
}  # fmt: skip
GRAMMAR = Grammar(
    member="attribute",
    call="call",
    member_name="attribute",
    wrappers=("await", "parenthesized_expression"),
    declarator="",
    assignment="assignment",
    scopes=("function_definition", "module"),
)


@cache
def _parser() -> Parser:
    import tree_sitter_python as grammar

    return Parser(Language(grammar.language()))


def scan_python(source: Source, matcher: TableMatcher) -> Found:
    tree = _parser().parse(source.data)
    found = Found(source)
    bindings = Bindings(source, PYTHON)
    chains = chains_in(tree, source, GRAMMAR)
    uses: list[Use] = []
    for chain in chains:
        binding = binding_of(chain, source, GRAMMAR)
        uses += supabase_uses(chain, "supabase-py", source, matcher, bindings, binding)
    extend_by_variables(uses, chains, source)
    for use in uses:
        report_supabase(use, found, matcher)
    for chain in chains:
        _sql_calls(chain, found, matcher, bindings)
    return found


def _sql_calls(chain: Chain, found: Found, matcher: TableMatcher, bindings: Bindings) -> None:
    """SQL passed to execute(), text(), sql.SQL() and the like, in any link of CHAIN."""
    source = found.source
    for index, link in enumerate(chain.links):
        if link.name is not None or not link.args:
            continue
        before = chain.links[index - 1] if index else None
        if before is not None:
            name = before.name
        elif chain.root.type == "identifier":
            name = source.text(chain.root)
        else:
            name = None
        if name in SQL_CALLS:  # a literal, or SQL held in a name, `.format()`ed, f-string
            texts = bindings.texts(link.args[0])
            found.sql_alternatives(texts, matcher, placeholders="python")
