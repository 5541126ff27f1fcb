"""Collecting what one file's scan found, with positions mapped back to the source."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace

from tree_sitter import Node, Tree

from migverify.scan.bindings import Bindings
from migverify.scan.model import DynamicReference, Reference
from migverify.scan.orm import Declared, Record
from migverify.scan.source import Source, StringValue, string_value
from migverify.scan.sql import analyze_sql, analyze_tokens
from migverify.scan.tables import TableMatcher

# Driver placeholders that are not PostgreSQL syntax, numbered $1, $2, … before parsing:
# knex/mysql-style ? and ?? (and knex's and Sequelize's :name), psycopg %s and %(name)s,
# SQLAlchemy-style :name.
PLACEHOLDERS = {
    "?": re.compile(r"\?\??|(?<![:\w]):[A-Za-z_]\w*"),  # knex and Sequelize also take :name
    "python": re.compile(r"%\(\w+\)s|%s|(?<![:\w]):[A-Za-z_]\w*"),
    "named": re.compile(r"(?<![:\w]):[A-Za-z_]\w*"),  # Sequelize's replacements, any other query
}


# A function of the application's own named for running SQL (`rawQuery(sql, params)`,
# `run_query(sql)`, `executeSql(…)`): its first argument is SQL when it parses as SQL
SQL_HELPER = re.compile(r"[a-z0-9_](?:Query|Sql|SQL|_query|_sql)$")


# A string that starts as a statement does (`'SELECT … FROM t'`), given to any call (sqlite's
# `db.all(sql)`, a wrapper's `selectAll(sql)`): SQL when it parses as SQL (not on its tokens:
# prose like "Update your profile" parses as nothing)
SQL_START = re.compile(r"\s*(?:\(\s*)?(?:select|insert|update|delete|with|merge)\s", re.I)
# …and holds what prose does not ("Delete from notes completed" parses, with an alias)
SQL_EVIDENCE = re.compile(
    r"\b(?:where|set|values|join|returning|limit|group\s+by|order\s+by)\b|[*=?]|\$\d|%s", re.I
)
SQL_START_BYTES = re.compile(rb"[`'\"]\s*(?:\(\s*)?(?i:select|insert|update|delete|with|merge)\s")


# …but not an assertion's expected value (`expect(sql).toBe('SELECT …')`): a text compared, not run
ASSERTIONS = frozenset((
    "toBe", "toEqual", "toStrictEqual", "toMatch", "toContain", "toMatchInlineSnapshot",
    "toHaveBeenCalledWith", "equal", "strictEqual", "deepEqual", "assertEqual", "assertIn",
    "assertMultiLineEqual", "assert_equal", "assertRegex", "eq", "is_", "expect",
))  # fmt: skip


# A hole (`$n` in a string's text) where SQL names a table, not a schema (`FROM ${s}.t`)
HOLE_TABLE = re.compile(
    r"\b(?:from|join|into|update|truncate(?:\s+table)?)\s+(\$\d+)(?![\w$]|\s*\.)", re.I
)
# …and in the file, the hole itself: `${table}` (JS), `{table}` (an f-string, `.format()`)
HOLE_TEXT = re.compile(rb"\$?\{([^{}]{0,80})\}")

# The nodes a string written as a statement sits in, on its way to a call or a name
STRINGS = ("string", "template_string")
CONCATENATIONS = ("binary_expression", "binary_operator", "concatenated_string",
                  "parenthesized_expression")  # fmt: skip


def statement_strings(tree: Tree, source: Source) -> tuple[list[Node], set[str]]:
    """The calls given a string written as a statement (`db.all('SELECT …')`, SQL_START_BYTES)
    and the names such a string is assigned to (`const sql = 'SELECT …'`, `query = "…"`):
    only these are looked at for the written-statement rule (`Found.sql_statement`)."""
    calls, names = [], set()
    root = tree.root_node
    for match in SQL_START_BYTES.finditer(source.data):
        node = root.named_descendant_for_byte_range(match.start(), match.start() + 1)
        while node is not None and node.type not in STRINGS:
            node = node.parent
        parent = node.parent if node is not None else None
        while parent is not None and parent.type in CONCATENATIONS:
            parent = parent.parent
        if parent is None:
            continue
        if parent.type in ("arguments", "argument_list") and parent.parent is not None:
            calls.append(parent.parent)
            continue
        if parent.type == "call_expression":  # a tagged template: sql`SELECT …`
            calls.append(parent)
            continue
        if parent.type == "variable_declarator":
            target = parent.child_by_field_name("name")
        elif parent.type in ("assignment", "assignment_expression"):
            target = parent.child_by_field_name("left")
        else:
            continue
        if target is not None and target.type == "identifier":
            names.add(source.text(target))
    return calls, names


def sql_call(name: str | None, calls: frozenset[str] | set[str]) -> bool:
    """Is a call of NAME one running SQL: one of CALLS (the drivers' and libraries'), or a
    helper named for it (SQL_HELPER)?"""
    return name is not None and (name in calls or SQL_HELPER.search(name) is not None)


# What a use of a subclass's table does to its parents' tables, by ORM
INHERITED = {
    "sqlalchemy": ("select", "insert", "delete", "lock"),
    "django": ("select", "insert", "update", "delete", "lock"),
}


class Found:
    def __init__(self, source: Source) -> None:
        self.source = source
        self.references: list[Reference] = []
        self.dynamics: list[DynamicReference] = []
        # ORM models declared in the file, and the relations, aliases, helpers that lead to them
        self.declarations: list[Record] = []
        # (orm, table) → its parents' tables (Models.parent_tables: joined inheritance)
        self.parents: dict[tuple[str, str], tuple[str, ...]] = {}
        self._seen: dict[tuple[int, int, str, str], int] = {}

    def reference(
        self,
        offset: int,
        table: str,
        operation: str,
        columns: Iterable[str],
        kind: str,
        parent: str | None = None,
        statement: str | None = None,
    ) -> None:
        line, column = self.source.position(offset)
        reference = Reference(
            path=self.source.path,
            line=line,
            column=column,
            table=table,
            operation=operation,
            columns=tuple(sorted(set(columns))),
            kind=kind,
            snippet=self.source.line_text(line)[:160],
            parent=parent,
            statement=statement,
        )
        # SQL held in a variable and run twice names the same place: once per operation, with
        # the columns of every use.
        key = (line, column, table, operation)
        if key in self._seen:
            index = self._seen[key]
            merged = sorted(set(self.references[index].columns) | set(reference.columns))
            self.references[index] = replace(self.references[index], columns=tuple(merged))
            return
        self._seen[key] = len(self.references)
        self.references.append(reference)

    def reference_at(
        self, path: str, line: int, column: int, snippet: str, table: str, operation: str, kind: str
    ) -> None:
        """A reference in another file, whose use this file's code decides (a helper's query
        of the model a call here passes it)."""
        self.references.append(Reference(path, line, column, table, operation, (), kind, snippet))

    def declaration(
        self, offset: int, declared: Declared, matcher: TableMatcher, kind: str | None = None
    ) -> None:
        """An ORM model mapped to a table: kept for the uses in other files, and a reference
        (operation `model`) when the table is one of the legacy tables."""
        self.declarations.append(declared)
        table = matcher.match_text(declared.table)
        if table is not None:
            self.reference(offset, table, "model", (), kind or declared.orm)

    def uses(
        self, offset: int, table: str, operations: Iterable[str], kind: str, matcher: TableMatcher
    ) -> None:
        """A reference at OFFSET to TABLE (a model's table as declared, a join table) for each
        of OPERATIONS, when it is one of the legacy tables."""
        matched = matcher.match_text(table)
        if matched is not None:
            for operation in operations:
                self.reference(offset, matched, operation, (), kind)
        self.inherited(offset, table, operations, kind, matcher)

    def inherited(
        self, offset: int, table: str, operations: Iterable[str], kind: str, matcher: TableMatcher
    ) -> None:
        """A use of a subclass's table (joined or multi-table inheritance) is one of its
        parents' too: its rows are read joined to theirs, inserted and deleted with them, and
        Django's `save()` updates them (SQLAlchemy updates a parent's only for its columns:
        not reported)."""
        for parent in self.parents.get((kind, table), ()):
            matched = matcher.match_text(parent)
            if matched is not None:
                for operation in operations:
                    if operation in INHERITED.get(kind, ()):
                        self.reference(offset, matched, operation, (), kind)

    def record(self, item: Record) -> None:
        """A relation, alias or helper: how other files reach a model (no reference itself)."""
        self.declarations.append(item)

    def dynamic(self, node: Node, candidates: Iterable[str] = ()) -> None:
        self.dynamic_at(node.start_byte, self.source.text(node), candidates)

    def dynamic_at(self, offset: int, expression: str, candidates: Iterable[str] = ()) -> None:
        """A dynamic reference at OFFSET: EXPRESSION, the table computed there."""
        line, column = self.source.position(offset)
        self.dynamics.append(
            DynamicReference(self.source.path, line, column, expression[:120], tuple(candidates))
        )

    def sql_string(
        self, node: Node, source: Source, matcher: TableMatcher, placeholders: str | None = None
    ) -> None:
        """SQL in a string literal: parse it; prose and non-SQL strings are not references."""
        value = string_value(node, source)
        if value is not None:
            self.sql_text(value, matcher, placeholders)

    def sql_text(
        self,
        value: StringValue,
        matcher: TableMatcher,
        placeholders: str | None = None,
        analyze=analyze_sql,
    ) -> bool:
        """SQL text (from a literal, a variable, a concatenation); False when it is not SQL.
        ANALYZE: pglast's parse, or (analyze_tokens) the tokens of text the parser rejects."""
        if not any(name in value.text for name in matcher.names):
            return False
        text, index = value.text, list(range(len(value.text) + 1))
        if placeholders in PLACEHOLDERS:
            text, index = _replace_placeholders(text, PLACEHOLDERS[placeholders])
        hits = analyze(text, matcher)
        if hits is None:
            return False
        for hit in hits:
            offset = value.offset_of(index[min(hit.offset, len(index) - 1)])
            self.reference(
                offset, hit.table, hit.operation, hit.columns, "sql", None, hit.statement or None
            )
        return True

    def statement_argument(
        self,
        node: Node,
        names: set[str],
        bindings: Bindings,
        matcher: TableMatcher,
        placeholders: str | None,
    ) -> None:
        """A call's first argument NODE for the written-statement rule: a literal, or a name
        one is assigned to (NAMES, `statement_strings`)."""
        literal = node.type in STRINGS or node.type in CONCATENATIONS  # `'SELECT …' + id`
        if literal or (node.type == "identifier" and node.text.decode() in names):
            self.sql_statement(bindings.texts(node), matcher, placeholders)

    def sql_statement(
        self, groups: Iterable[list[StringValue]], matcher: TableMatcher, placeholders: str | None
    ) -> None:
        """What a call's first argument holds (a literal, or one held in a name: GROUPS, as
        Bindings.texts gives them): a text starting as a statement does (SQL_START) and holding
        more of SQL's syntax than prose (SQL_EVIDENCE) is SQL when it parses."""
        statements = [
            group for group in groups
            if group and SQL_START.match(group[0].text) and SQL_EVIDENCE.search(group[0].text)
        ]  # fmt: skip
        self.sql_alternatives(statements, matcher, placeholders, tokens=False)

    def hole_tables(self, value: StringValue) -> None:
        """A hole of VALUE (a template's `${table}`, an f-string's `{table}`, `.format()`'s
        `{}`) where SQL names a table (`FROM ${table}`, `INSERT INTO ${t}`, not `FROM
        ${schema}.t`): a table computed at run time, a dynamic reference at the hole."""
        if not value.holes or not SQL_START.match(value.text):
            return  # only a statement's holes (not a message's "Error from ${service}")
        data = self.source.data
        for match in HOLE_TABLE.finditer(value.text):
            offset = value.offset_of(match.start(1))
            hole = HOLE_TEXT.match(data, offset)
            if hole is None:
                continue  # a `$1` written in the text, not a hole
            if hole.group(1).strip().isdigit() or not hole.group(1).strip():
                if b"Identifier(" in data:
                    continue  # `.format()`'s field filled by psycopg's sql.Identifier(…)
            expression = hole.group(1).decode(errors="replace").strip() or hole.group(0).decode()
            self.dynamic_at(offset, expression)

    def sql_alternatives(
        self,
        groups: Iterable[list[StringValue]],
        matcher: TableMatcher,
        placeholders: str | None = None,
        tokens: bool = True,
    ) -> None:
        """Each group holds one text in order of preference (`sql += …` appended, then
        without): the first that parses counts; with TOKENS, when none parses, what
        PostgreSQL's tokens show of the preferred one."""
        for group in groups:
            for value in group:
                if self.sql_text(value, matcher, placeholders):
                    break
            else:
                if group and tokens:
                    self.sql_text(group[0], matcher, placeholders, analyze_tokens)
            if group:
                self.hole_tables(group[0])


def _replace_placeholders(text: str, pattern: re.Pattern[str]) -> tuple[str, list[int]]:
    """TEXT with the placeholders numbered $1, $2, …, and for each new index the original one."""
    pieces, index, position = [], [], 0
    numbers: dict[str, str] = {}  # $1, $2, … in order; %(name)s and :name once per name
    for count, match in enumerate(pattern.finditer(text)):
        pieces.append(text[position : match.start()])
        index.extend(range(position, match.start()))
        name = match.group(0)
        key = name if name.startswith((":", "%(")) else f"#{count}"
        placeholder = numbers.setdefault(key, f"${len(numbers) + 1}")
        pieces.append(placeholder)
        index.extend([match.start()] * len(placeholder))
        position = match.end()
    pieces.append(text[position:])
    index.extend(range(position, len(text) + 1))
    return "".join(pieces), index
