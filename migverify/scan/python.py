"""Python with tree-sitter: supabase-py chains (`client.table('t')`, `from_('t')`) and SQL passed
to execute(), text(), sql.SQL() and the like: literals, and SQL held in names, `.format()`ed,
concatenated or in f-strings, resolved in the file."""

from __future__ import annotations

from functools import cache

from tree_sitter import Language, Node, Parser

from migverify.scan.alembic import alembic_operations, peewee_migrations, table_object_uses
from migverify.scan.bindings import PYTHON, Bindings
from migverify.scan.chains import Chain, Grammar, Use, binding_of, chains_in, extend_by_variables
from migverify.scan.django import (
    django_declarations,
    django_migrations,
    django_settings,
    django_uses,
)
from migverify.scan.django_admin import django_framework_uses, drf_views
from migverify.scan.django_graph import DjangoGraph
from migverify.scan.found import ASSERTIONS, SQL_START_BYTES, Found, sql_call, statement_strings
from migverify.scan.orm import FileModels, Models, keyword_arguments, positional, python_imports
from migverify.scan.peewee import peewee_declarations, peewee_uses
from migverify.scan.source import Source, string_value
from migverify.scan.sqlalchemy import query_variables, sqlalchemy_declarations, sqlalchemy_uses
from migverify.scan.sqlalchemy_graph import Graph
from migverify.scan.supabase import report_supabase, supabase_uses
from migverify.scan.tables import TableMatcher

SQL_CALLS = {
    "execute", "executemany", "text", "SQL", "mogrify", "fetch", "fetchrow", "fetchval",
    "read_sql", "read_sql_query", "exec_driver_sql", "raw", "query", "executescript",
    "copy_expert", "copy", "RunSQL",
    # encode/databases; asyncpg's COPY of a query's rows
    "fetch_all", "fetch_one", "fetch_val", "execute_many", "iterate", "copy_from_query",
}  # fmt: skip
# Calls naming a table instead of running SQL: (library, the table's position and keyword,
# what the call does). pandas' to_sql depends on `if_exists` (_to_sql).
TABLE_CALLS: dict[str, tuple[str, int, str, tuple[str, ...]]] = {
    "copy_records_to_table": ("asyncpg", 0, "table_name", ("copy-from",)),
    "copy_to_table": ("asyncpg", 0, "table_name", ("copy-from",)),  # a file's rows into it
    "copy_from_table": ("asyncpg", 0, "table_name", ("copy-to",)),
    "read_sql_table": ("pandas", 0, "table_name", ("select",)),
    "to_sql": ("pandas", 0, "name", ("insert",)),
}
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
    if models:
        found.parents = models.parent_tables
    bindings = Bindings(source, PYTHON, tree)
    sqlalchemy_declarations(tree, source, found, matcher, models)
    django_declarations(tree, source, found, matcher, models)
    django_settings(tree, source, found)
    peewee_declarations(tree, source, found, matcher)
    chains = chains_in(tree, source, GRAMMAR)
    files = FileModels(models, python_imports(tree, source), source.path) if models else None
    graph = Graph(tree, source, files, bindings) if files is not None else None
    django = DjangoGraph(source, bindings, files, matcher, tree)
    sqlalchemy = files is not None and "sqlalchemy" in files.models.orms
    peewee = files is not None and "peewee" in files.models.orms
    uses: list[Use] = []
    for chain in chains:
        if (
            alembic_operations(chain, source, bindings, found, matcher)
            or django_migrations(chain, source, found, matcher, models)
            or peewee_migrations(chain, source, bindings, found, matcher)
        ):
            continue
        table_object_uses(chain, source, bindings, found, matcher)  # the chain's joins too
        if (
            sqlalchemy
            and files is not None
            and sqlalchemy_uses(chain, source, files, bindings, found, matcher, graph)
        ) or django_uses(chain, django, found, matcher):
            continue
        if (
            peewee
            and files is not None
            and peewee_uses(chain, source, files, bindings, found, matcher)
        ):
            continue
        binding = binding_of(chain, source, GRAMMAR)
        uses += supabase_uses(chain, "supabase-py", source, matcher, bindings, binding)
    if graph is not None and sqlalchemy:
        graph.relationships(found, matcher)
        graph.attribute_writes(found, matcher)
        graph.row_writes(found, matcher)
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
    # the names a string written as a statement is given to (`db.all("SELECT …")`)
    statement_names = (
        statement_strings(tree, source)[1] if SQL_START_BYTES.search(source.data) else None
    )
    for chain in chains:
        _sql_calls(chain, found, matcher, bindings, statement_names)
    return found


def _table_call(name: str, args, found: Found, matcher: TableMatcher) -> None:
    """`conn.copy_records_to_table('t', …)`, `df.to_sql('t', engine, if_exists=…)`: the table
    named by a literal (as `schema=` gives its schema)."""
    source = found.source
    kind, position, keyword, operations = TABLE_CALLS[name]
    options = keyword_arguments(args, source)
    values = positional(args)
    node = options.get(keyword) or (values[position] if len(values) > position else None)
    literal = string_value(node, source) if node is not None else None
    if literal is None or literal.holes:
        return
    schema = string_value(options["schema"], source) if "schema" in options else None
    qualified = f"{schema.text}.{literal.text}" if schema is not None else literal.text
    table = matcher.match_text(qualified)
    if table is None:
        return
    if name == "to_sql":  # append inserts; fail (the default) and replace create the table
        mode = string_value(options["if_exists"], source) if "if_exists" in options else None
        operations = (
            ("insert",) if mode is not None and mode.text == "append" else ("ddl", "insert")
        )
    for operation in operations:
        found.reference(literal.offset_of(0), table, operation, (), kind)


def _computed_identifiers(
    node: Node, source: Source, bindings: Bindings, found: Found, matcher: TableMatcher
) -> None:
    """psycopg's `sql.Identifier(name)` with a computed name, in the composed SQL NODE is (or
    a name holds): a table the scan cannot know, a dynamic reference at the name (with the
    legacy table its literal parts name as the candidate: `Identifier(schema, 't')`)."""
    stack, seen = [node], 0
    while stack and seen < 200:
        current = stack.pop()
        seen += 1
        if current.type == "identifier":
            bound = bindings.values(current)
            if bound and len(bound) == 1 and bound[0].op == "=":
                stack.append(bound[0].value)
            continue
        if current.type == "call":
            function = current.child_by_field_name("function")
            arguments = current.child_by_field_name("arguments")
            if function is not None and arguments is not None:
                if source.text(function).rpartition(".")[2] == "Identifier":
                    parts = [a for a in arguments.named_children if a.type != "comment"]
                    literals = [string_value(a, source) for a in parts]
                    named = [matcher.match_text(v.text) for v in literals if v is not None]
                    candidates = [table for table in named if table is not None]
                    for part, literal in zip(parts, literals, strict=True):
                        if literal is None:
                            found.dynamic(part, candidates)
                    continue
        stack.extend(current.named_children)


def _sql_calls(
    chain: Chain,
    found: Found,
    matcher: TableMatcher,
    bindings: Bindings,
    statement_names: set[str] | None,
) -> None:
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
        if name in TABLE_CALLS:
            _table_call(name, link.args, found, matcher)
            continue
        if not sql_call(name, SQL_CALLS):
            if statement_names is not None and name not in ASSERTIONS:
                found.statement_argument(
                    link.args[0], statement_names, bindings, matcher, "python"
                )  # a string written as a statement
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
            if b"Identifier(" in source.data:
                _computed_identifiers(each, source, bindings, found, matcher)
