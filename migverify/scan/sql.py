"""Table references in SQL text, found with pglast: every RangeVar with the kind of statement it
sits in, the columns the statement names for it, and PL/pgSQL function bodies.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from pglast import ast, parse_plpgsql, parse_sql
from pglast.parser import ParseError, scan

from migverify.scan.tables import TableMatcher

_DDL_DEFAULT = "ddl"


@dataclass
class SqlHit:
    """A reference inside one SQL string; `offset` is a character index into that string."""

    offset: int
    table: str
    operation: str
    columns: set[str] = field(default_factory=set)
    statement: str = ""  # the text of the statement it sits in


def analyze_sql(sql: str, matcher: TableMatcher) -> list[SqlHit] | None:
    """References in SQL (one or more statements); None when it does not parse as SQL."""
    if len(sql) > _KEPT_TEXT:  # a whole .sql file: analysed once anyway
        return _analyze(sql, matcher)
    hits = _analyzed(sql, matcher.tables)
    if hits is None:
        return None
    return [SqlHit(h.offset, h.table, h.operation, set(h.columns), h.statement) for h in hits]


_KEPT_TEXT = 4096  # the longest SQL text _analyzed keeps (statements in code are shorter)


@lru_cache(maxsize=4096)
def _analyzed(sql: str, tables: tuple[str, ...]) -> tuple[SqlHit, ...] | None:
    """analyze_sql's work, kept for texts seen again (code repeats its SQL: the same query in
    a service, its tests and a script); callers get copies."""
    result = _analyze(sql, TableMatcher(tables))
    return tuple(result) if result is not None else None


def _analyze(sql: str, matcher: TableMatcher) -> list[SqlHit] | None:
    try:
        statements = parse_sql(sql)
    except (ParseError, Exception):  # pglast raises ParseError; be defensive on odd input
        return None
    hits: list[SqlHit] = []
    for raw in statements:
        start = raw.stmt_location or 0
        length = raw.stmt_len or (len(sql) - start)
        text = sql[start : start + length] if raw.stmt_len else sql[start:]
        found = _statement_hits(raw.stmt, sql, matcher)
        for hit in found:
            hit.statement = text.strip()
        hits += found
        hits += _function_body_hits(raw.stmt, sql, text, start, matcher)
    return hits


def analyze_tokens(sql: str, matcher: TableMatcher) -> list[SqlHit]:
    """References in SQL the parser rejects (a driver's helper spliced in as a parameter:
    postgres.js `insert into t ${sql(row)}`, `where id in ${sql(ids)}`), read from
    PostgreSQL's own tokens (pglast's scanner): the names after FROM, JOIN, INTO, UPDATE,
    USING and TRUNCATE. Only for text that starts as a statement (SELECT, INSERT, UPDATE,
    DELETE, MERGE, COPY, TRUNCATE, WITH); the table a statement writes gets its operation,
    the others `select`. No columns: the statement's shape is unknown."""
    try:
        tokens = scan(sql)
    except Exception:  # the scanner rejects the text: no reference can be read from it
        return []
    if not tokens or tokens[0].name not in _STATEMENT_STARTS:
        return []
    encoded = sql.encode()
    names = [token.name for token in tokens]
    operation = _token_operation(names)
    hits: list[SqlHit] = []
    writes = {"INSERT": "INTO", "UPDATE": "UPDATE", "DELETE_P": "FROM", "MERGE": "INTO"}
    writer = next((name for name in names if name in writes), None)
    target_keyword = writes.get(writer or "", "")
    target_taken = False
    for index, token in enumerate(tokens):
        if token.name not in _BEFORE_TABLES:
            continue
        position = index + 1
        while position < len(tokens) and tokens[position].name in ("ONLY", "TABLE"):
            position += 1
        name, start, end = _qualified_name(tokens, position, encoded)
        if name is None:
            continue
        table = matcher.match_text(name)
        if table is None:
            continue
        target = token.name == target_keyword and not target_taken and writer is not None
        if target or token.name == "TRUNCATE" or (token.name == "COPY" and index == 0):
            target_taken = target_taken or target
            use = operation
        else:  # read; in a SELECT … FOR UPDATE, locked
            use = operation if operation == "lock" else "select"
        offset = len(encoded[:start].decode("utf-8", errors="replace"))
        hits.append(SqlHit(offset, table, use, set(), sql.strip()))
    return hits


_STATEMENT_STARTS = {"SELECT", "INSERT", "UPDATE", "DELETE_P", "MERGE", "COPY", "TRUNCATE", "WITH"}
_BEFORE_TABLES = {"FROM", "JOIN", "INTO", "UPDATE", "USING", "TRUNCATE", "COPY"}
_NAME_TOKENS = {"IDENT", "UNRESERVED_KEYWORD"}


def _token_operation(names: list[str]) -> str:
    """The operation of a statement by its keywords (see analyze_tokens)."""
    first = names[0]
    writes = [name for name in names if name in ("INSERT", "UPDATE", "DELETE_P", "MERGE")]
    if first == "WITH":
        first = writes[-1] if writes else "SELECT"
    if first == "INSERT":
        return "upsert" if "CONFLICT" in names else "insert"
    if first == "SELECT" and "FOR" in names:
        after = names[names.index("FOR") + 1 : names.index("FOR") + 3]
        if {"UPDATE", "SHARE", "NO", "KEY"} & set(after):
            return "lock"
    if first == "COPY":
        return "copy-to" if "TO" in names else "copy-from"
    return {
        "SELECT": "select", "UPDATE": "update", "DELETE_P": "delete", "MERGE": "merge",
        "TRUNCATE": "truncate",
    }.get(first, "unknown")  # fmt: skip


def _qualified_name(tokens, position: int, encoded: bytes) -> tuple[str | None, int, int]:
    """The (schema-qualified) name starting at token POSITION, as text; its byte span."""
    parts: list[str] = []
    start = end = -1
    if (  # `FROM ${schema}.t`: a schema computed at run time, the table written out
        position + 1 < len(tokens)
        and tokens[position].name == "PARAM"
        and tokens[position + 1].name == "ASCII_46"
    ):
        position += 2
    while position < len(tokens):
        token = tokens[position]
        if token.name != "IDENT" and token.kind != "UNRESERVED_KEYWORD":
            break
        text = encoded[token.start : token.end + 1].decode("utf-8", errors="replace")
        parts.append(text)
        start = token.start if start < 0 else start
        end = token.end
        if position + 1 < len(tokens) and tokens[position + 1].name == "ASCII_46":  # a dot
            position += 2
            continue
        break
    return (".".join(parts), start, end) if parts else (None, 0, 0)


def _statement_hits(stmt: ast.Node, sql: str, matcher: TableMatcher) -> list[SqlHit]:
    walker = _Walker(sql, matcher)
    walker.statement(stmt, _top_operation(stmt))
    walker.attribute_columns()
    return walker.hits


def _copy_operation(stmt: ast.CopyStmt) -> str:
    """COPY t FROM writes the table; COPY t TO reads it (and works on tables only)."""
    return "copy-from" if stmt.is_from else "copy-to"


def _top_operation(stmt: ast.Node) -> str:
    if isinstance(stmt, ast.SelectStmt):
        return "select"
    if isinstance(stmt, ast.CopyStmt):
        return _copy_operation(stmt)
    if isinstance(stmt, ast.ExplainStmt):
        return "select"
    if isinstance(stmt, ast.TruncateStmt):
        return "truncate"
    if isinstance(stmt, ast.LockStmt):
        return "lock"
    return _DDL_DEFAULT


class _Walker:
    """Recursive walk keeping the operation a RangeVar is used for."""

    def __init__(self, sql: str, matcher: TableMatcher) -> None:
        self.sql, self.matcher = sql, matcher
        self.hits: list[SqlHit] = []
        self.aliases: dict[str, SqlHit] = {}
        self.explicit: list[tuple[SqlHit, set[str]]] = []
        # One scope per SELECT/INSERT/UPDATE/DELETE: its relations and its column references.
        self.scopes: list[tuple[list[SqlHit | None], list[tuple[str | None, str]]]] = [([], [])]

    def statement(self, node: ast.Node, operation: str) -> None:
        if isinstance(node, ast.InsertStmt | ast.UpdateStmt | ast.DeleteStmt | ast.MergeStmt):
            self.scopes.append(([], []))
            self._statement(node, operation)
            self._close_scope()
            return
        self._statement(node, operation)

    def _close_scope(self) -> None:
        ranges, refs = self.scopes.pop()
        unresolved = []
        for qualifier, column in refs:
            if qualifier is not None:
                if qualifier in self.aliases:
                    self.aliases[qualifier].columns.add(column)
            elif len(ranges) == 1:
                if ranges[0] is not None:
                    ranges[0].columns.add(column)
            elif not ranges:
                unresolved.append((qualifier, column))  # e.g. VALUES: the enclosing scope's
        if self.scopes:
            self.scopes[-1][1].extend(unresolved)

    def _statement(self, node: ast.Node, operation: str) -> None:
        if isinstance(node, ast.InsertStmt):
            op = _insert_operation(node)
            hit = self.range_var(node.relation, op)
            names = {t.name for t in node.cols or () if t.name}
            if node.onConflictClause:
                clause = node.onConflictClause
                if clause.infer and clause.infer.indexElems:
                    names |= {e.name for e in clause.infer.indexElems if getattr(e, "name", None)}
                names |= {t.name for t in clause.targetList or () if t.name}
            if hit:
                self.explicit.append((hit, names))
            for child in (node.selectStmt, node.withClause, node.returningClause):
                self.visit(child, "select")
            if node.onConflictClause:
                self.visit(node.onConflictClause.whereClause, "select")
            return
        if isinstance(node, ast.UpdateStmt):
            hit = self.range_var(node.relation, "update")
            if hit:
                self.explicit.append((hit, {t.name for t in node.targetList or () if t.name}))
            for name in (
                "targetList",
                "whereClause",
                "fromClause",
                "returningClause",
                "withClause",
            ):
                self.visit(getattr(node, name), "select")
            return
        if isinstance(node, ast.DeleteStmt):
            self.range_var(node.relation, "delete")
            for name in ("usingClause", "whereClause", "returningClause", "withClause"):
                self.visit(getattr(node, name), "select")
            return
        if isinstance(node, ast.MergeStmt):
            hit = self.range_var(node.relation, "merge")
            if hit:  # the columns its UPDATE SET and INSERT (…) write
                self.explicit.append(
                    (
                        hit,
                        {
                            t.name
                            for w in node.mergeWhenClauses or ()
                            for t in w.targetList or ()
                            if t.name
                        },
                    )  # fmt: skip
                )
            for name in ("sourceRelation", "joinCondition", "mergeWhenClauses", "withClause"):
                self.visit(getattr(node, name), "select")
            return
        if isinstance(node, ast.CopyStmt):
            hit = self.range_var(node.relation, _copy_operation(node)) if node.relation else None
            if hit:
                self.explicit.append((hit, {a.sval for a in node.attlist or ()}))
            self.visit(node.query, "select")
            return
        if isinstance(node, ast.ViewStmt | ast.CreateTableAsStmt):
            self.visit(node.view if isinstance(node, ast.ViewStmt) else node.into, "ddl")
            self.visit(node.query, "select")
            return
        if isinstance(node, ast.DropStmt):
            self.drop(node)
            return
        self.visit(node, operation)

    def visit(self, node: object, operation: str) -> None:
        if node is None:
            return
        if isinstance(node, tuple | list):
            for item in node:
                self.visit(item, operation)
            return
        if not isinstance(node, ast.Node):
            return
        if isinstance(node, ast.InsertStmt | ast.UpdateStmt | ast.DeleteStmt | ast.MergeStmt):
            self.statement(node, operation)
            return
        if isinstance(node, ast.SelectStmt):
            operation = "select" if operation != "ddl" else operation
            self.scopes.append(([], []))
            for name in node:
                if name == "fromClause" and node.lockingClause and operation == "select":
                    self.locked_from(node)
                elif name != "lockingClause":  # `OF t` names a FROM item, not another table
                    self.visit(getattr(node, name), operation)
            self._close_scope()
            return
        if isinstance(node, ast.RangeVar):
            self.range_var(node, operation)
            return
        if isinstance(node, ast.ColumnRef):
            self.column_ref(node)
            return
        for name in node:
            self.visit(getattr(node, name), operation)

    def locked_from(self, node: ast.SelectStmt) -> None:
        """`SELECT … FOR UPDATE / NO KEY UPDATE / SHARE / KEY SHARE [OF t]`: the tables it locks
        (every table of the FROM list, or those named after OF) are used for `lock`."""
        first = len(self.hits)
        self.visit(node.fromClause, "select")
        here = self.hits[first:]
        named: set[str] = set()
        for clause in node.lockingClause or ():
            if not clause.lockedRels:
                named = set(self.aliases)  # every table of the FROM list
                break
            named |= {rv.relname for rv in clause.lockedRels}
        locked = {id(self.aliases[name]) for name in named if name in self.aliases}
        for hit in here:
            if id(hit) in locked:
                hit.operation = "lock"

    def range_var(self, node: ast.RangeVar | None, operation: str) -> SqlHit | None:
        if node is None:
            return None
        table = self.matcher.match(node.schemaname, node.relname)
        if table is None:
            self.scopes[-1][0].append(None)
            return None
        offset = _name_offset(self.sql, node.location, node.relname)
        hit = SqlHit(offset, table, operation)
        self.hits.append(hit)
        self.scopes[-1][0].append(hit)
        self.aliases[node.relname] = hit
        if node.alias is not None:
            self.aliases[node.alias.aliasname] = hit
        return hit

    def column_ref(self, node: ast.ColumnRef) -> None:
        parts = [getattr(f, "sval", None) for f in node.fields]
        if not parts or parts[-1] is None:  # `*` or `t.*`
            return
        qualifier = parts[-2] if len(parts) >= 2 else None
        self.scopes[-1][1].append((qualifier, parts[-1]))

    def drop(self, node: ast.DropStmt) -> None:
        for obj in node.objects or ():
            names = [getattr(p, "sval", None) for p in obj] if isinstance(obj, tuple | list) else []
            if not names or None in names:
                continue
            schema, name = (names[-2] if len(names) > 1 else None), names[-1]
            table = self.matcher.match(schema, name)
            if table is not None:
                offset = _find_name(self.sql, name)
                self.hits.append(SqlHit(offset, table, "ddl"))

    def attribute_columns(self) -> None:
        for hit, names in self.explicit:
            hit.columns |= names
        while self.scopes:
            self._close_scope()


def _insert_operation(node: ast.InsertStmt) -> str:
    """`ON CONFLICT ON CONSTRAINT name` needs the table's constraint (a view has none), so it is
    an operation of its own; `ON CONFLICT (cols)` and `DO NOTHING` are upserts."""
    clause = node.onConflictClause
    if clause is None:
        return "insert"
    if clause.infer is not None and clause.infer.conname:
        return "upsert-on-constraint"
    return "upsert"


def _name_offset(sql: str, location: int | None, relname: str) -> int:
    """Offset of the table name itself (after any schema), quoted or not."""
    start = location or 0
    pattern = re.compile(
        r'"' + re.escape(relname.replace('"', '""')) + r'"|\b' + re.escape(relname) + r"\b", re.I
    )
    match = pattern.search(sql, start)
    if match is None:
        return start
    return match.start() + (1 if match.group(0).startswith('"') else 0)


def _find_name(sql: str, name: str) -> int:
    match = re.search(r'"?\b' + re.escape(name) + r'\b"?', sql, re.I)
    if match is None:
        return 0
    return match.start() + (1 if match.group(0).startswith('"') else 0)


# --- PL/pgSQL bodies -----------------------------------------------------------------------------


def _function_body_hits(
    stmt: ast.Node, sql: str, text: str, start: int, matcher: TableMatcher
) -> list[SqlHit]:
    if not isinstance(stmt, ast.CreateFunctionStmt | ast.DoStmt):
        return []
    language = "plpgsql" if isinstance(stmt, ast.DoStmt) else "sql"
    body = None
    for option in (stmt.options if isinstance(stmt, ast.CreateFunctionStmt) else stmt.args) or ():
        if option.defname == "language":
            language = option.arg.sval
        elif option.defname == "as":
            arg = option.arg
            body = arg[0].sval if isinstance(arg, tuple | list) else getattr(arg, "sval", None)
    if body is None:
        return []
    body_offset = sql.find(body, start)
    if body_offset < 0:
        return []
    if language == "sql":
        queries = [body]
    elif language == "plpgsql":
        queries = _plpgsql_queries(text, isinstance(stmt, ast.DoStmt))
    else:
        return []
    hits = []
    cursor = 0
    for query in queries:
        position = body.find(query, cursor)
        if position < 0:
            position = body.find(query)
        if position < 0:
            continue
        cursor = position + len(query)
        for hit in analyze_sql(query, matcher) or ():
            hit.offset += body_offset + position
            hits.append(hit)
    return hits


def _plpgsql_queries(text: str, is_do: bool) -> list[str]:
    if is_do:  # parse_plpgsql wants a CREATE FUNCTION
        match = re.search(r"(\$[A-Za-z_]*\$)(.*)\1", text, re.S)
        if not match:
            return []
        text = f"CREATE FUNCTION migverify_do() RETURNS void LANGUAGE plpgsql AS {match.group(0)}"
    try:
        tree = parse_plpgsql(text)
    except Exception:
        return []
    return list(_queries_in(tree))


def _queries_in(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "PLpgSQL_expr" and isinstance(value, dict) and "query" in value:
                yield value["query"]
            else:
                yield from _queries_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from _queries_in(item)


def split_statements(text: str) -> Sequence[tuple[int, str]]:
    """(offset, text) of each statement, by pglast's scanner; used when a file does not parse
    whole (psql meta-commands, COPY data): one bad statement must not hide the rest."""
    from pglast import split

    try:
        parts = list(split(text, with_parser=False, only_slices=True))
    except Exception:
        return [(0, text)]
    return [(part.start, text[part]) for part in parts]
