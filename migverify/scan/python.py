"""Python with tree-sitter: supabase-py chains (`client.table('t')`, `from_('t')`) and SQL passed
to execute(), text(), sql.SQL() and the like: literals, and SQL held in names, `.format()`ed,
concatenated or in f-strings, resolved in the file."""

from __future__ import annotations

from functools import cache

from tree_sitter import Language, Parser

from migverify.scan.alembic import alembic_operations
from migverify.scan.bindings import PYTHON, Bindings
from migverify.scan.chains import Chain, Grammar, Use, binding_of, chains_in, extend_by_variables
from migverify.scan.django import django_declarations, django_migrations, django_uses
from migverify.scan.django_admin import django_framework_uses, drf_views
from migverify.scan.django_graph import DjangoGraph
from migverify.scan.found import Found
from migverify.scan.orm import FileModels, Models, python_imports
from migverify.scan.source import Source
from migverify.scan.sqlalchemy import query_variables, sqlalchemy_declarations, sqlalchemy_uses
from migverify.scan.sqlalchemy_graph import Graph
from migverify.scan.supabase import report_supabase, supabase_uses
from migverify.scan.tables import TableMatcher

SQL_CALLS = {
    "execute", "executemany", "text", "SQL", "mogrify", "fetch", "fetchrow", "fetchval",
    "read_sql", "read_sql_query", "exec_driver_sql", "raw", "query", "executescript",
    "copy_expert", "copy", "RunSQL",
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


def scan_python(source: Source, matcher: TableMatcher, models: Models | None = None) -> Found:
    tree = _parser().parse(source.data)
    found = Found(source)
    bindings = Bindings(source, PYTHON, tree)
    sqlalchemy_declarations(tree, source, found, matcher)
    django_declarations(tree, source, found, matcher, models)
    chains = chains_in(tree, source, GRAMMAR)
    files = FileModels(models, python_imports(tree, source), source.path) if models else None
    graph = Graph(tree, source, files, bindings) if files is not None else None
    django = DjangoGraph(source, bindings, files, matcher, tree)
    sqlalchemy = files is not None and "sqlalchemy" in files.models.orms
    uses: list[Use] = []
    for chain in chains:
        if alembic_operations(chain, source, bindings, found, matcher) or django_migrations(
            chain, source, found, matcher, models
        ):
            continue
        if (
            sqlalchemy
            and files is not None
            and sqlalchemy_uses(chain, source, files, bindings, found, matcher, graph)
        ) or django_uses(chain, django, found, matcher):
            continue
        binding = binding_of(chain, source, GRAMMAR)
        uses += supabase_uses(chain, "supabase-py", source, matcher, bindings, binding)
    if graph is not None and sqlalchemy:
        graph.relationships(found, matcher)
        graph.attribute_writes(found, matcher)
    if files is not None:
        if sqlalchemy:
            query_variables(tree, source, files, chains, found, matcher)
        django.forward_reads(found, matcher)
        if django.active:
            django_framework_uses(tree, source, django, found, matcher)
            drf_views(tree, source, django, found, matcher)
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
        if name not in SQL_CALLS:
            continue
        argument = link.args[0]
        if argument.type == "keyword_argument":  # RunSQL(sql=…), execute(query=…)
            argument = argument.child_by_field_name("value") or argument
        # Django's RunSQL takes a list of statements too
        arguments = argument.named_children if name == "RunSQL" and argument.type in (
            "list", "tuple") else [argument]  # fmt: skip
        for each in arguments:  # a literal, or SQL held in a name, `.format()`ed, f-string
            texts = bindings.texts(each)
            found.sql_alternatives(texts, matcher, placeholders="python")
