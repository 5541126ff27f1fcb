"""TypeScript / JavaScript (and TSX/JSX) with tree-sitter: the chains in a file go to the library
modules (knex, supabase-js), and SQL passed to query functions is parsed: literals, and SQL held
in variables, concatenated or spliced into templates (`${subQuery}`), resolved in the file."""

from __future__ import annotations

import posixpath
from functools import cache

from ahocorasick_rs import BytesAhoCorasick, Implementation, MatchKind
from tree_sitter import Language, Node, Parser

from migverify.scan.bindings import JAVASCRIPT, Bindings
from migverify.scan.chains import (
    Chain,
    Grammar,
    Use,
    binding_of,
    chain_names,
    chains_at,
    chains_in,
    extend_by_variables,
)
from migverify.scan.drizzle import drizzle_declarations, drizzle_relations, drizzle_uses
from migverify.scan.found import ASSERTIONS, SQL_HELPER, Found, sql_call, statement_strings
from migverify.scan.knex import CHAIN_NAMES, find_handles, knex_uses, may_be_knex, report_knex
from migverify.scan.kysely import STARTS as KYSELY_STARTS
from migverify.scan.kysely import kysely_uses
from migverify.scan.migration_apis import METHODS as MIGRATION_METHODS
from migverify.scan.migration_apis import migration_api_uses
from migverify.scan.objection import objection_declarations, objection_uses
from migverify.scan.orm import (
    Alias,
    FileModels,
    Models,
    nodes_of,
    typescript_exports,
    typescript_imports,
)
from migverify.scan.prisma import prisma_helpers, prisma_uses
from migverify.scan.sequelize import (
    MODEL_ONLY,
    helper_parameters,
    sequelize_declarations,
    sequelize_helpers,
    sequelize_include_objects,
    sequelize_uses,
)
from migverify.scan.source import Source, StringValue, string_value
from migverify.scan.supabase import TABLE_METHODS, report_supabase, supabase_uses
from migverify.scan.tables import TableMatcher
from migverify.scan.typeorm import Repositories, typeorm_declarations, typeorm_uses
from migverify.scan.walk import IDENTIFIER_BYTES, PRISMA_HELPER

SQL_CALLS = {
    "query", "execute", "raw", "sql", "unsafe", "text", "$queryRaw", "$executeRaw",
    "$queryRawUnsafe", "$executeRawUnsafe", "queryRaw", "prepare", "exec", "many", "one",
    "none", "any", "oneOrNone", "manyOrNone", "result", "whereRaw", "fromRaw", "joinRaw",
    "orWhereRaw", "havingRaw", "orderByRaw", "groupByRaw",
    "copyFrom", "copyTo",  # pg-copy-streams (as its README names them): COPY … FROM STDIN, TO STDOUT
}  # fmt: skip
QUESTION_MARKS = {"raw", "whereRaw", "fromRaw", "joinRaw", "orWhereRaw", "havingRaw",
                  "orderByRaw", "groupByRaw"}  # fmt: skip
GRAMMAR = Grammar(
    member="member_expression",
    call="call_expression",
    member_name="property",
    wrappers=(
        "await_expression",
        "parenthesized_expression",
        "non_null_expression",
        "as_expression",
        "satisfies_expression",
        "instantiation_expression",  # prisma.$queryRaw<Row[]>`…`
    ),
    declarator="variable_declarator",
    assignment="assignment_expression",
    scopes=("statement_block", "program"),
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


def reexports_in(path: str, data: bytes) -> list[Alias]:
    """`typescript_exports` of a file holding nothing else of interest (a barrel): parsed, and
    only its export statements read (no chains, handles or uses)."""
    tree = _parser(posixpath.splitext(path)[1]).parse(data)
    return typescript_exports(tree, Source(path, data))


def scan_typescript(
    source: Source, suffix: str, matcher: TableMatcher, models: Models | None = None
) -> Found:
    tree = _parser(suffix).parse(source.data)
    found = Found(source)
    statement_calls, statement_names = statement_strings(tree, source)  # `db.all('SELECT …')`
    bindings = Bindings(source, JAVASCRIPT)
    sequelize_declarations(tree, source, found, matcher, models)  # the connection's defaults
    for declarations in (drizzle_declarations, typeorm_declarations, objection_declarations):
        declarations(tree, source, found, matcher)
    handles = find_handles(tree, source)
    if models is None:
        # the first pass looks only at chains that name a knex, supabase-js or SQL method or
        # a handle: the others (most of a file's: `useState(x)`, `api.get(url)`) are not built
        extra = (handles.names | handles.fields) - GATE_NAMES
        if any(hint in source.data for hint in SEQUELIZE_HELPER_HINTS):  # Model.findAll(…)
            extra |= MODEL_ONLY
        # the calls given a string written as a statement: their chains too
        called = [call.child_by_field_name("function") for call in statement_calls]
        spans = [(f.end_byte - 1, f.end_byte) for f in called if f is not None]
        chains = chains_at(tree, source, GRAMMAR, _gate_spans(source.data, extra) + spans)
    else:  # any chain may use a model
        chains = chains_in(tree, source, GRAMMAR)
    if models is None:  # the first pass: what leads to models (relations, re-exports, helpers)
        drizzle_relations(tree, source, found)
        if b"]." in source.data:
            prisma_helpers(chains, source, found)
        if extra & MODEL_ONLY:  # a helper's other calls on its model parameter: chains too
            parameters = helper_parameters(chains, source)
            if parameters:
                more = chains_at(tree, source, GRAMMAR, _word_spans(source.data, parameters))
                sequelize_helpers(_merged(chains, more), source, found)
        if b"export" in source.data:
            for alias in typescript_exports(tree, source):
                found.record(alias)
    files = None
    if models:  # the file's view of the models: its imports parsed once
        imports = typescript_imports(
            nodes_of(tree, ("import_statement", "variable_declarator")), source
        )
        files = FileModels(models, imports, source.path)
    orm = _orm(tree, source, files, found, matcher, bindings) if files is not None else None
    uses: list[Use] = []
    names = [chain_names(chain, source) for chain in chains]
    for chain, named in zip(chains, names, strict=True):
        if orm is not None and orm(chain):
            continue  # a use of an ORM model
        if not named.isdisjoint(KYSELY_STARTS) and kysely_uses(chain, source, found, matcher):
            continue
        knex = may_be_knex(chain, named, handles)
        if not knex and named.isdisjoint(SUPABASE_NAMES):
            continue  # neither a knex nor a supabase-js chain: no use to find
        binding = binding_of(chain, source, GRAMMAR)
        found_uses = knex_uses(chain, source, matcher, bindings, handles, binding) if knex else None
        if found_uses is None:
            found_uses = supabase_uses(chain, "supabase-js", source, matcher, bindings, binding)
        uses += found_uses
    later = chains
    if models is None:  # the later calls on variables holding a builder: chains of their own
        bound = {use.binding.name for use in uses if use.binding is not None}
        if bound:
            spans = _word_spans(source.data, bound)
            later = _merged(chains, chains_at(tree, source, GRAMMAR, spans))
    if files is not None and "sequelize" in files.models.orms:
        sequelize_include_objects(tree, source, files, found, matcher)
    extend_by_variables(uses, later, source)
    for use in uses:
        (report_knex if use.kind == "knex" else report_supabase)(use, found, matcher)
    statements = bool(statement_calls)
    for chain, named in zip(chains, names, strict=True):
        # a chain naming no SQL function (nor a helper named for one) holds no SQL call
        if (
            statements
            or not named.isdisjoint(SQL_CALLS)
            or any(n and SQL_HELPER.search(n) for n in named)
        ):
            _sql_calls(chain, found, matcher, bindings, files, statement_names)
    if any(not named.isdisjoint(MIGRATION_METHODS) for named in names):
        migration_api_uses(chains, source, found, matcher, bindings)  # queryInterface.…
    return found


SUPABASE_NAMES = frozenset(TABLE_METHODS["supabase-js"])  # `.from('t')`
# A Sequelize helper running a model's queries on its parameter: its calls only a model has
SEQUELIZE_HELPER_HINTS = tuple(f".{name}(".encode() for name in sorted(MODEL_ONLY))
# Names that can make a chain one the first pass looks at (`may_be_knex`, supabase-js, SQL
# calls, Prisma helpers' `client[model].findMany`), and the text of a call called again
# (`db()('t')`): a chain holding none of them is not built.
GATE_NAMES = frozenset(
    str(n)
    for n in CHAIN_NAMES | SUPABASE_NAMES | SQL_CALLS | KYSELY_STARTS.keys() | MIGRATION_METHODS
)
GATE_TEXTS = (b")(", b") (", b")`", b"].", b"Query(", b"Sql(", b"SQL(")  # SQL_HELPER calls


@cache
def _gate() -> BytesAhoCorasick:
    words = sorted({n.encode() for n in GATE_NAMES}, key=lambda n: (-len(n), n))
    return BytesAhoCorasick(
        [*words, *GATE_TEXTS],
        matchkind=MatchKind.LeftmostFirst,
        implementation=Implementation.DFA,
    )


def _gate_spans(data: bytes, extra: set[str]) -> list[tuple[int, int]]:
    """Where DATA names one of GATE_NAMES or EXTRA as a whole identifier, or holds one of
    GATE_TEXTS (`].` only where a Prisma Client operation follows)."""
    spans, words = [], len(GATE_NAMES)
    size = len(data)
    for index, start, end in _gate().find_matches_as_indexes(data):
        if index >= words:
            if data[start] == 0x5D and PRISMA_HELPER.match(data, start) is None:  # `]`
                continue
        elif (start and data[start - 1] in IDENTIFIER_BYTES) or (
            end < size and data[end] in IDENTIFIER_BYTES
        ):
            continue
        spans.append((start, end))
    if extra:
        spans += _word_spans(data, extra)
    return spans


def _word_spans(data: bytes, names: set[str]) -> list[tuple[int, int]]:
    """Where DATA holds one of NAMES as a whole identifier."""
    spans, size = [], len(data)
    for name in names:
        needle = name.encode()
        at = data.find(needle)
        while at >= 0:
            end = at + len(needle)
            if not (at and data[at - 1] in IDENTIFIER_BYTES) and not (
                end < size and data[end] in IDENTIFIER_BYTES
            ):
                spans.append((at, end))
            at = data.find(needle, end)
    return spans


def _merged(chains: list[Chain], more: list[Chain]) -> list[Chain]:
    """CHAINS and MORE, each chain once, in `chains_in`'s order."""
    known = {chain.top.id for chain in chains}
    added = [chain for chain in more if chain.top.id not in known]
    if not added:
        return chains
    return sorted([*chains, *added], key=lambda c: (c.top.start_byte, -c.top.end_byte))


def _orm(tree, source: Source, files: FileModels, found: Found, matcher, bindings: Bindings):
    """The ORM uses of one chain (Prisma, Drizzle, TypeORM, Sequelize, Objection.js): True
    when claimed."""
    repositories = Repositories(tree, source)

    def claim(chain: Chain) -> bool:
        return (
            prisma_uses(chain, source, files, bindings, found, matcher)
            or drizzle_uses(chain, source, files, found, matcher)
            or typeorm_uses(chain, source, files, repositories, bindings, found, matcher)
            or sequelize_uses(chain, source, files, found, matcher, bindings)
            or objection_uses(chain, source, files, bindings, found, matcher)
        )

    return claim


def _sql_calls(
    chain: Chain,
    found: Found,
    matcher: TableMatcher,
    bindings: Bindings,
    files: FileModels | None = None,
    statement_names: set[str] | None = None,
) -> None:
    """SQL passed to query(), raw(), sql`…` and the like, in any link of CHAIN (FILES: a
    Drizzle table in a tagged template's hole, sql`select * from ${users}`, is its name)."""
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
        if not sql_call(name, SQL_CALLS):
            if name not in ASSERTIONS and statement_names is not None:
                found.statement_argument(link.args[0], statement_names, bindings, matcher, "?")
            continue
        argument = _sql_argument(link.args[0], source)
        arguments = link.node.child_by_field_name("arguments")
        tagged = arguments is not None and arguments.type == "template_string"
        # sql`… ${x} …`: x is a parameter; query(`… ${subQuery} …`): the text x holds
        texts = bindings.texts(argument, splice=not tagged)
        if tagged and files is not None and "drizzle" in files.models.orms:
            spliced = string_value(argument, source, _drizzle_table(files, source))
            if spliced is not None:
                texts = [[spliced]]
        found.sql_alternatives(texts, matcher, "?" if name in QUESTION_MARKS else "named")


def _sql_argument(argument: Node, source: Source) -> Node:
    """pg's query config `{ text: sql, values }` holds the SQL in `text`."""
    if argument.type != "object":
        return argument
    for pair in argument.named_children:
        key = pair.child_by_field_name("key") if pair.type == "pair" else None
        if key is not None and source.text(key).strip("'\"") == "text":
            return pair.child_by_field_name("value") or argument
    return argument


def _drizzle_table(files: FileModels, source: Source):
    """A tagged template's hole holding a Drizzle table (`${users}`): Drizzle writes its
    (quoted) name there; any other hole stays a parameter."""

    def substitute(expression: Node) -> StringValue | None:
        declared = files.resolve(("drizzle",), expression, source)
        if declared is None:
            return None
        name = ".".join(f'"{part}"' for part in declared.table.split("."))
        return StringValue(name, (expression.start_byte,) * len(name), 0)

    return substitute
