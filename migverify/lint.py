"""Lint rules with stable ids: small functions over the catalogs, the compat script and scan results.

Each rule's docstring is its documentation (README "Lint rules" is generated from the same text):
first line = title, then a paragraph, a bad and a good example.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pglast import ast, parse_sql
from pglast.visitors import Visitor

from migverify.catalog import Catalog, Relation

ERROR, WARNING = "error", "warning"
WRITE_OPS = ("insert", "update", "delete", "upsert")
_LOCKING_STATEMENTS = (
    ast.AlterTableStmt,
    ast.RenameStmt,
    ast.DropStmt,
    ast.IndexStmt,
    ast.CreateTrigStmt,
    ast.LockStmt,
    ast.TruncateStmt,
    ast.RuleStmt,
)


@dataclass(frozen=True)
class Finding:
    """One lint finding; `path`/`line` point at the code or script that is affected."""

    rule: str
    severity: str  # error | warning
    table: str | None
    message: str
    path: str | None = None
    line: int | None = None
    column: int | None = None

    def sort_key(self) -> tuple[Any, ...]:
        return (
            self.table or "",
            self.rule,
            self.path or "",
            self.line or 0,
            self.column or 0,
            self.message,
        )


@dataclass(frozen=True)
class LintInput:
    """Everything the rules look at. `references`/`dynamic` are scan results (any objects with the
    attributes path, line, column, table, operation, columns, kind; and path, line, column,
    expression), `compat_sql` the cutover script and `compat_path` its file name."""

    legacy: Catalog
    migrated: Catalog
    tables: tuple[str, ...]
    compat_sql: str = ""
    compat_path: str = "compat.sql"
    references: Sequence[Any] = ()
    dynamic: Sequence[Any] = ()
    skipped: Sequence[Any] = ()  # files the scan could not look into (path, reason)
    embeddings: Sequence[Any] = ()  # (reference, parent table) pairs for PostgREST embedding
    ignore: tuple[str, ...] = ()
    suppressed: Callable[[str, str | None, int | None], bool] = field(
        default=lambda rule, path, line: False, compare=False
    )


Rule = Callable[[LintInput], Iterable[Finding]]
RULES: dict[str, Rule] = {}


def rule(rule_id: str) -> Callable[[Rule], Rule]:
    def register(func: Rule) -> Rule:
        RULES[rule_id] = func
        func.rule_id = rule_id  # type: ignore[attr-defined]
        return func

    return register


def run_lint(data: LintInput) -> tuple[Finding, ...]:
    """All findings of all rules, minus suppressed ones, in a stable order."""
    findings = []
    for rule_id, func in RULES.items():
        if rule_id in data.ignore:
            continue
        for finding in func(data):
            if not data.suppressed(finding.rule, finding.path, finding.line):
                findings.append(finding)
    return tuple(sorted(set(findings), key=Finding.sort_key))


def rule_docs() -> list[tuple[str, str, str]]:
    """(id, title, body) of every rule, for the README and `migverify check --rules`."""
    docs = []
    for rule_id, func in RULES.items():
        text = (func.__doc__ or "").strip()
        title, _, body = text.partition("\n")
        docs.append((rule_id, title.strip(), _dedent(body)))
    return docs


def _dedent(text: str) -> str:
    import textwrap

    return textwrap.dedent(text).strip()


# --- helpers over the migrated world -------------------------------------------------------------


def _legacy_views(data: LintInput) -> Iterable[tuple[str, Relation]]:
    for name in data.tables:
        relation = data.migrated.find(name)
        if relation is not None and relation.is_view:
            yield name, relation


def _base_relations(
    catalog: Catalog, view: Relation, seen: frozenset[str] = frozenset()
) -> list[Relation]:
    """The tables under a view, through views over views."""
    result = []
    for name in view.view_relations:
        if name in seen:
            continue
        relation = catalog.find(name)
        if relation is None:
            continue
        if relation.is_view:
            result += _base_relations(catalog, relation, seen | {name})
        else:
            result.append(relation)
    return result


def _refs(data: LintInput, table: str, operations: Iterable[str]) -> list[Any]:
    wanted = set(operations)
    return [r for r in data.references if _bare(r.table) == _bare(table) and r.operation in wanted]


def _bare(name: str) -> str:
    return name.rpartition(".")[2].strip('"')


def _where(ref: Any) -> dict[str, Any]:
    return {"path": ref.path, "line": ref.line, "column": ref.column}


# --- the rules -----------------------------------------------------------------------------------


@rule("MV001")
def security_definer_view_over_rls(data: LintInput) -> Iterable[Finding]:
    """View over a table with row-level security, without security_invoker.

    A view runs with its owner's privileges unless it is created `WITH (security_invoker = true)`
    (PostgreSQL 15+). When the owner is the table owner or a superuser, the table's row-level
    security policies are bypassed for everyone who reads or writes through the view: the
    compatibility layer silently hands every row to every caller.

    Bad: `CREATE VIEW posted_decisions AS SELECT … FROM posted_tweets_comprehensive;` over a
    table with `ENABLE ROW LEVEL SECURITY`.
    Good: `CREATE VIEW posted_decisions WITH (security_invoker = true) AS SELECT …;`
    """
    for name, view in _legacy_views(data):
        if (view.option("security_invoker") or "").lower() in ("true", "on", "1"):
            continue
        protected = [
            b.qualified_name for b in _base_relations(data.migrated, view) if b.rls_enabled
        ]
        legacy = data.legacy.find(name)
        if protected or (legacy is not None and legacy.rls_enabled):
            under = ", ".join(protected) or "its tables"
            yield Finding(
                "MV001",
                ERROR,
                name,
                f"view {name} reads {under} with its owner's rights (no security_invoker = true): "
                "row-level security policies do not apply to callers",
            )


class _ViewStars(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.views: dict[str, int] = {}  # view name -> statement offset

    def visit_ViewStmt(self, ancestors: Any, node: ast.ViewStmt) -> None:  # noqa: N802
        query = node.query
        targets = getattr(query, "targetList", None) or ()
        if any(
            isinstance(getattr(t.val, "fields", (None,))[-1], ast.A_Star)
            for t in targets
            if isinstance(t.val, ast.ColumnRef)
        ):
            self.views[node.view.relname] = node.view.location or 0


@rule("MV002")
def select_star_view(data: LintInput) -> Iterable[Finding]:
    """Compatibility view defined with SELECT *.

    `SELECT *` is expanded once, when the view is created, to the target table's columns at that
    moment: a wider target table changes the column set and order that old code reads
    (`SELECT *`, positional INSERT), and later columns added to the table never appear. List the
    legacy columns explicitly, in legacy order.

    Bad: `CREATE VIEW real_tweet_metrics AS SELECT * FROM tweet_engagement_metrics_comprehensive;`
    Good: `CREATE VIEW real_tweet_metrics AS SELECT id, tweet_id, likes, … FROM …;`
    """
    if not data.compat_sql:
        return
    try:
        tree = parse_sql(data.compat_sql)
    except Exception:
        return
    stars = _ViewStars()
    stars(tree)
    for name in data.tables:
        if _bare(name) in stars.views:
            offset = stars.views[_bare(name)]
            yield Finding(
                "MV002",
                ERROR,
                name,
                f"view {name} is defined with SELECT *: its columns follow the target table, "
                "not the legacy column list",
                path=data.compat_path,
                line=data.compat_sql.count("\n", 0, offset) + 1,
            )


@rule("MV003")
def write_without_a_path(data: LintInput) -> Iterable[Finding]:
    """The code writes through a view that cannot take that write.

    A view is auto-updatable only when it selects from one table without joins, aggregates or
    DISTINCT, and only its plain column references are writable. Anything else needs an INSTEAD
    OF trigger for each operation the code performs, or the statement fails at run time
    (`cannot insert into view`, `column "x" of view "v" is not updatable`).

    Bad: code inserts `total_engagement` into a view where it is `likes + retweets`.
    Good: map the column to a base column, drop it from the insert, or add an INSTEAD OF trigger.
    """
    for name, view in _legacy_views(data):
        writable = set(view.updatable_operations) | set(view.trigger_operations)
        for ref in _refs(data, name, WRITE_OPS):
            op = "insert" if ref.operation == "upsert" else ref.operation
            if op not in writable:
                yield Finding(
                    "MV003",
                    ERROR,
                    name,
                    f"{ref.operation} on view {name}, which is not updatable for {op} "
                    "and has no INSTEAD OF trigger for it",
                    **_where(ref),
                )
                continue
            if op in view.updatable_operations and op != "delete":
                for column in _unwritable_columns(data.migrated, view, getattr(ref, "columns", ())):
                    yield Finding(
                        "MV003",
                        ERROR,
                        name,
                        f'{ref.operation} writes column "{column}" of view {name}, '
                        "which is not writable there",
                        **_where(ref),
                    )


def _unwritable_columns(catalog: Catalog, view: Relation, columns: Iterable[str]) -> list[str]:
    """Columns the code writes that the view cannot take: expressions, generated, identity ALWAYS."""
    sources = _column_sources(catalog, view)
    blocked = []
    for name in columns or ():
        if name not in view.column_names:
            continue
        if not view.column(name).updatable:
            blocked.append(name)
            continue
        base_name, base_column = sources.get(name, (None, None))
        base = catalog.find(base_name) if base_name else None
        if base is not None and base_column in base.column_names:
            column = base.column(base_column)
            if column.generated or column.identity == "always":
                blocked.append(name)
    return blocked


@rule("MV004")
def upsert_on_trigger_view(data: LintInput) -> Iterable[Finding]:
    """Upsert (INSERT … ON CONFLICT) on a trigger-updatable view.

    ON CONFLICT needs a unique index to infer the conflict target; a view has none, and
    PostgreSQL rejects `INSERT … ON CONFLICT` on a view with INSTEAD OF INSERT triggers. Only an
    auto-updatable view passes ON CONFLICT through to its base table. supabase-js `.upsert()` and
    PostgREST `Prefer: resolution=merge-duplicates` are such statements.

    Bad: `.from('posted_decisions').upsert(row, { onConflict: 'tweet_id' })` on a join view.
    Good: keep the view auto-updatable, or change the code to call a function that upserts.
    """
    for name, view in _legacy_views(data):
        if "insert" in view.updatable_operations:
            continue
        for ref in _refs(data, name, ("upsert",)):
            yield Finding(
                "MV004",
                ERROR,
                name,
                f"upsert on view {name}, which is only updatable through INSTEAD OF triggers: "
                "ON CONFLICT is rejected there",
                **_where(ref),
            )


@rule("MV005")
def embedding_without_relationship(data: LintInput) -> Iterable[Finding]:
    """PostgREST embedding between legacy names that have no relationship through the views.

    PostgREST resolves `select=*,analytics:real_tweet_metrics(*)` from foreign keys. For views it
    follows a foreign key of the base tables only when both views expose the key columns (the
    referencing columns in one view, the referenced ones in the other) as plain column
    references. Otherwise the request fails with PGRST200 ("Could not find a relationship").

    Bad: views that rename or drop the foreign-key column, or a target without the foreign key.
    Good: keep the FK on the target tables and expose its columns in both views.
    """
    for ref, parent in data.embeddings:
        child = _bare(ref.table)
        if data.legacy.find(_bare(parent)) is None and data.migrated.find(_bare(parent)) is None:
            continue  # a parent the schemas do not define: nothing to compare
        if not _has_relationship(data.migrated, _bare(parent), child):
            legacy_ok = _has_relationship(data.legacy, _bare(parent), child)
            yield Finding(
                "MV005",
                ERROR,
                child,
                f"embedding {child} in {_bare(parent)}: PostgREST finds no relationship between the "
                f"views{' (the legacy tables had one)' if legacy_ok else ''}",
                **_where(ref),
            )


def _has_relationship(catalog: Catalog, left: str, right: str) -> bool:
    """PostgREST's rule: a base-table FK whose columns both relations expose as plain columns."""
    a, b = catalog.find(left), catalog.find(right)
    if a is None or b is None:
        return False
    exposed_a = set(_column_sources(catalog, a).values())
    exposed_b = set(_column_sources(catalog, b).values())
    for source, target in ((exposed_a, exposed_b), (exposed_b, exposed_a)):
        for table in sorted({t for t, _ in source}):
            base = catalog.find(table)
            for fk in base.foreign_keys if base else ():
                if all((table, c) in source for c in fk.columns) and all(
                    (fk.references, c) in target for c in fk.referenced_columns
                ):
                    return True
    return False


def _column_sources(catalog: Catalog, rel: Relation) -> dict[str, tuple[str, str]]:
    """View column -> (base table, base column) for plain column references; tables map to self."""
    if not rel.is_view:
        return {c: (rel.qualified_name, c) for c in rel.column_names}
    try:
        (stmt,) = parse_sql(rel.view_definition or "")
    except Exception:
        return {}
    select = stmt.stmt
    if not isinstance(select, ast.SelectStmt) or not select.fromClause:
        return {}
    aliases = _from_aliases(catalog, select.fromClause)
    result = {}
    for target, name in zip(select.targetList or (), rel.column_names, strict=False):
        val = target.val
        if not isinstance(val, ast.ColumnRef) or isinstance(val.fields[-1], ast.A_Star):
            continue
        parts = [f.sval for f in val.fields]
        qualifier = parts[0] if len(parts) > 1 else None
        candidates = [aliases[qualifier]] if qualifier in aliases else list(aliases.values())
        for base in candidates:
            if base is not None and parts[-1] in base.column_names:
                inner = _column_sources(catalog, base)
                if parts[-1] in inner:
                    result[name] = inner[parts[-1]]
                break
    return result


def _from_aliases(catalog: Catalog, items: Iterable[Any]) -> dict[str | None, Relation | None]:
    aliases: dict[str | None, Relation | None] = {}
    for item in items:
        if isinstance(item, ast.JoinExpr):
            aliases.update(_from_aliases(catalog, (item.larg, item.rarg)))
        elif isinstance(item, ast.RangeVar):
            name = f"{item.schemaname}.{item.relname}" if item.schemaname else item.relname
            relation = catalog.find(name)
            aliases[item.alias.aliasname if item.alias else item.relname] = relation
    return aliases


@rule("MV006")
def lost_privileges(data: LintInput) -> Iterable[Finding]:
    """A role that had privileges on a legacy table has none (or fewer) on its view.

    Grants belong to the table. Replacing the table by a view drops them: every role that could
    read or write the legacy table — e.g. Supabase's `anon`, `authenticated`, `service_role` —
    gets `permission denied for view` until the grants are repeated on the view.

    Bad: `CREATE VIEW posted_decisions …;` and nothing else.
    Good: `GRANT SELECT ON posted_decisions TO anon; GRANT SELECT, INSERT, UPDATE, DELETE ON
    posted_decisions TO authenticated, service_role;`
    """
    for name in data.tables:
        legacy, migrated = data.legacy.find(name), data.migrated.find(name)
        if legacy is None or migrated is None:
            continue
        have = {(g.grantee, g.privilege) for g in migrated.grants if g.column is None}
        for grant in legacy.grants:
            if grant.column or grant.grantee == legacy.owner:
                continue
            if (grant.grantee, grant.privilege) not in have and (
                "PUBLIC",
                grant.privilege,
            ) not in have:
                yield Finding(
                    "MV006",
                    ERROR,
                    name,
                    f"role {grant.grantee} had {grant.privilege} on table {name} "
                    f"but not on the migrated {migrated.kind}",
                )


@rule("MV007")
def ddl_without_lock_timeout(data: LintInput) -> Iterable[Finding]:
    """Lock-taking DDL in the cutover script without a lock_timeout.

    ALTER/DROP/RENAME of a busy table waits for an ACCESS EXCLUSIVE lock; while it waits, every
    other query on that table queues behind it, so one long-running read turns the cutover into
    an outage. Set `lock_timeout` first (and retry the script) so the cutover fails fast instead.

    Bad: `ALTER TABLE posted_decisions RENAME TO posted_decisions_legacy;` at the top of a script.
    Good: `BEGIN; SET LOCAL lock_timeout = '5s'; ALTER TABLE …; COMMIT;`
    """
    if not data.compat_sql:
        return
    try:
        statements = parse_sql(data.compat_sql)
    except Exception:
        return
    timeout_set = False
    for raw in statements:
        stmt = raw.stmt
        if isinstance(stmt, ast.VariableSetStmt) and stmt.name == "lock_timeout":
            timeout_set = _nonzero(stmt)
            continue
        if timeout_set or not isinstance(stmt, _LOCKING_STATEMENTS):
            continue
        if isinstance(stmt, ast.IndexStmt) and stmt.concurrent:
            continue
        line = _statement_line(data.compat_sql, raw.stmt_location or 0)
        yield Finding(
            "MV007",
            WARNING,
            None,
            f"{type(stmt).__name__.removesuffix('Stmt')} takes a strong lock but no lock_timeout "
            "is set before it",
            path=data.compat_path,
            line=line,
        )
        return  # one finding per script is enough: the fix is one SET at the top


_LEADING = re.compile(r"(?:\s+|--[^\n]*|/\*.*?\*/)*", re.S)


def _statement_line(text: str, location: int) -> int:
    """Line of a statement's first token (pglast's location includes leading blanks/comments)."""
    start = _LEADING.match(text, location).end()
    return text.count("\n", 0, start) + 1


def _nonzero(stmt: ast.VariableSetStmt) -> bool:
    values = [
        getattr(getattr(a, "val", None), "sval", None)
        or getattr(getattr(a, "val", None), "ival", None)
        for a in stmt.args or ()
    ]
    return any(v not in (None, 0, "0") for v in values)


@rule("MV008")
def dynamic_reference(data: LintInput) -> Iterable[Finding]:
    """A table reference in code that cannot be resolved statically.

    `supabase.from(tableName)` with a computed name may hit a legacy table; migverify cannot tell
    which operations it performs, so the layer is verified without it. Review it by hand, then
    suppress it with `// migverify-ignore MV008` on that line.

    Bad: `supabase.from(kind === 'post' ? table : other)`.
    Good: `supabase.from('posted_decisions')`, or a reviewed suppression.
    """
    for item in data.dynamic:
        yield Finding(
            "MV008",
            WARNING,
            None,
            f"table name not known statically: {item.expression}",
            path=item.path,
            line=item.line,
            column=item.column,
        )


@rule("MV009")
def skipped_file(data: LintInput) -> Iterable[Finding]:
    """A source file the scan could not look into.

    The file was over the scan's size limit (`[scan] max_file_size`, default 5 MB), unreadable,
    binary or not a regular file, so references to legacy tables in it are not counted and the
    operations it performs are not verified. Raise the limit (`0` for none), fix the file's
    permissions, or move generated files out of the scanned paths.

    Bad: a 50 MB generated `queries.ts` under `[scan] paths`, skipped.
    Good: `max_file_size = "100MB"`, or the generated file left out of the scanned paths.
    """
    for item in data.skipped:
        yield Finding(
            "MV009",
            WARNING,
            None,
            f"not scanned: {item.reason}",
            path=item.path,
            line=1,
            column=1,
        )


@rule("MV010")
def dependent_reads_the_kept_table(data: LintInput) -> Iterable[Finding]:
    """A view or policy outside the layer still reads the legacy table, not its replacement.

    A view, or a policy of a table the spec does not rename, that reads a legacy table is bound
    to that table itself, not to its name: when the cutover renames the table (to
    `<name>_legacy`), the view or policy follows it and goes on reading rows that nothing
    writes any more, while every write goes through the new view to the target. Nothing
    fails; what it shows goes stale. (Dropping the legacy table instead fails: they depend on
    it.)

    Bad: `CREATE VIEW shop_names AS SELECT id, owner FROM shops;` left as it is when `shops`
    becomes a view over `stores` (it now reads `shops_legacy`).
    Good: after the cutover, `CREATE OR REPLACE VIEW shop_names AS SELECT id, owner FROM
    shops;` again, so that it reads the compatibility view (and the same for a policy).
    """
    legacy_tables = {}
    for name in data.tables:
        found = data.legacy.find(name)
        if found is not None:
            legacy_tables[found.qualified_name] = name
    if not legacy_tables:
        return
    for relation in data.legacy.relations:
        if relation.qualified_name in legacy_tables:
            continue
        now = data.migrated.find(relation.qualified_name)
        if now is None or now.kind != relation.kind:
            continue
        if relation.kind in ("view", "materialized view"):
            lost = set(relation.view_relations) - set(now.view_relations)
            read = sorted(set(now.view_relations) - set(relation.view_relations))
            for table in sorted(lost & legacy_tables.keys()):
                yield _stale(legacy_tables[table], f"{relation.kind} {relation.display_name}", read)
        for policy in relation.policies:
            after = next((p for p in now.policies if p.name == policy.name), None)
            if after is None:
                continue
            before_reads = _policy_reads(data.legacy, policy)
            after_reads = _policy_reads(data.migrated, after)
            read = sorted(after_reads - before_reads)
            for table in sorted((before_reads - after_reads) & legacy_tables.keys()):
                what = f"policy {policy.name} on {relation.display_name}"
                yield _stale(legacy_tables[table], what, read)


_SYSTEM_COLUMNS = ("ctid", "xmin", "xmax", "cmin", "cmax", "tableoid")


@rule("MV011")
def system_column_through_a_view(data: LintInput) -> Iterable[Finding]:
    """The code reads a system column (ctid, xmin, tableoid, …) of a legacy table that becomes a view.

    Tables have system columns; views have none, and no compatibility layer can give them one:
    `SELECT ctid FROM items` (a row's physical address, used to delete duplicates or to page),
    `xmin` (optimistic locking, as Hibernate and some ORMs do) or `tableoid` fails through the
    view with `column "ctid" does not exist` (42703). Such code has to change before the cutover,
    whatever the layer.

    Bad: `DELETE FROM items a USING items b WHERE a.ctid < b.ctid AND a.sku = b.sku;`
    Good: compare by the primary key (`a.id < b.id`), or a version column of your own for
    optimistic locking.
    """
    for name, _view in _legacy_views(data):
        for ref in [r for r in data.references if _bare(r.table) == _bare(name)]:
            used = sorted(set(getattr(ref, "columns", ()) or ()) & set(_SYSTEM_COLUMNS))
            if used:
                yield Finding(
                    "MV011",
                    ERROR,
                    name,
                    f"{ref.operation} reads system column(s) {', '.join(used)} of {name}, which "
                    "becomes a view: a view has no system columns, whatever the layer (42703)",
                    **_where(ref),
                )


def _stale(table: str, what: str, read: list[str]) -> Finding:
    instead = f"it reads {', '.join(read)} instead, which" if read else "it reads the table that"
    return Finding(
        "MV010",
        ERROR,
        table,
        f"{what} reads {table}; after the cutover {instead} nothing writes any more: create it "
        f"again after the cutover so that it reads {table} (the compatibility view)",
    )


class _Relations(Visitor):
    def __init__(self) -> None:
        self.names: list[tuple[str | None, str]] = []

    def visit_RangeVar(self, ancestors: Any, node: ast.RangeVar) -> None:  # noqa: N802
        self.names.append((node.schemaname, node.relname))


def _policy_reads(catalog: Catalog, policy: Any) -> set[str]:
    """The relations a policy's expressions read (sub-queries), as qualified names."""
    found: set[str] = set()
    for expression in (policy.using, policy.with_check):
        if not expression:
            continue
        visitor = _Relations()
        visitor(parse_sql(f"SELECT {expression}"))  # pg_get_expr's text
        for schema, name in visitor.names:
            relation = catalog.find(f"{schema}.{name}" if schema else name)
            found.add(relation.qualified_name if relation else f"{schema or 'public'}.{name}")
    return found


_MAX_SUPPRESSION_SCAN = 64 * 1024 * 1024
_COMMENT_STARTS = ("//", "#", "--", "/*", "{/*", "*")
_IGNORE = re.compile(r"migverify-ignore\b[:\s]*((?:MV\d{3}[\s,]*)*)")


def inline_suppressions(root: Path = Path(".")) -> Callable[[str, str | None, int | None], bool]:
    """A predicate: is RULE suppressed by a `migverify-ignore MVnnn` comment on LINE, or on a
    comment-only line directly above it?

    A bare `migverify-ignore` suppresses every rule on that line.
    """
    cache: dict[str, list[str]] = {}

    def suppressed(rule_id: str, path: str | None, line: int | None) -> bool:
        if not path or not line:
            return False
        if path not in cache:
            cache[path] = _source_lines(root / path)
        lines = cache[path]
        candidates = [line]
        if line >= 2 and lines[line - 2].lstrip().startswith(_COMMENT_STARTS):
            candidates.append(line - 1)  # a comment-only line directly above
        for number in candidates:
            if number <= len(lines):
                match = _IGNORE.search(lines[number - 1])
                if match and (not match.group(1).strip() or rule_id in match.group(1)):
                    return True
        return False

    return suppressed


def _source_lines(path: Path) -> list[str]:
    """The lines of a source file; none for what the scan skipped (a FIFO would block, a huge
    file is not worth reading for a comment)."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode) or info.st_size > _MAX_SUPPRESSION_SCAN:
            return []
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
