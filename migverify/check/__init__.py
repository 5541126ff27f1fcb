"""`migverify check`: the pre-deploy gate. Scan the code, generate (or take) the compatibility
layer, lint it, verify it with the operations the code performs, and say whether cutover is safe.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from migverify.check.model import (
    ERROR,
    WARNING,
    CheckResult,
    Location,
    Problem,
    TableSummary,
)
from migverify.errors import InputError
from migverify.sandbox import Sandbox, SandboxConfig, with_spec_roles
from migverify.spec import Spec, TableSpec, load_spec
from migverify.verify.statement import DEFAULT_OPERATIONS
from migverify.verify.statement import OPERATIONS as VERIFIABLE_OPS

__all__ = ["CheckRequest", "CheckResult", "run_check"]

Progress = Callable[[str], None]
DEFAULT_OPS = DEFAULT_OPERATIONS


@dataclass(frozen=True)
class CheckRequest:
    """What to check: a spec, optionally the user's own layer instead of the generated one."""

    spec: Path
    compat: Path | None = None
    rollback: Path | None = None
    fail_on: str = ERROR
    examples: int | None = None
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    root: Path = field(default_factory=Path.cwd)  # report paths relative to this
    consumer: str | None = None  # "reference": also run the learning pipeline in both worlds
    consumer_cycles: int = 50
    supabase: bool = False  # --supabase: the Supabase shim whether or not the SQL needs it
    allow_incomplete: bool = False  # an INCOMPLETE verdict (something untested) exits 0


@dataclass(frozen=True)
class Layer:
    """The compatibility layer under test: its forward (cutover) and rollback scripts."""

    forward_sql: str
    forward_path: str
    rollback_sql: str | None
    rollback_path: str | None
    files: dict[str, str] = field(default_factory=dict)  # generated files by name (drift check)
    online_tables: tuple[str, ...] = ()  # generated: tables cut over online (verified too)


def run_check(request: CheckRequest, progress: Progress | None = None) -> CheckResult:
    say = progress or (lambda message: None)
    spec = load_spec(request.spec)
    request = replace(request, sandbox=with_spec_roles(request.sandbox, spec.roles))

    problems: list[Problem] = []
    supabase = spec.supabase_options(request.supabase)
    # One server for the whole check: the legacy SQL is loaded once (legacy.py) and every
    # stage's databases are copies of it.
    with Sandbox(request.sandbox) as box:
        if spec.migration is not None:
            layer = _migration_layer(spec, request.root)
        elif request.compat is None:
            say("generating the compatibility layer")
            layer = _generate(spec, box, request.root, supabase)
            problems += _drift(spec, layer, request.root)
        else:
            layer = _user_layer(request)
        say("loading the legacy and migrated schemas")
        generated = request.compat is None and spec.migration is None
        legacy, migrated = _catalogs(spec, layer, box, supabase, generated)
        if not spec.tables:  # `before` without [tables]: the tables the migration changes
            spec = replace(spec, tables=_changed_tables(spec, legacy, migrated))
            if not spec.tables:
                return _nothing_changed(spec, layer, request)
        tables = spec.table_names
        say(f"scanning {len(spec.scan_paths)} path(s) for {len(tables)} legacy table(s)")
        scan = _scan(spec, request.root)
        problems += _lint(spec, layer, legacy, migrated, scan, request.root)

        ops = _operations(scan, tables)
        roles = _roles(legacy, tables)
        say(f"verifying {', '.join(ops)}" + (f" as {', '.join(roles)}" if roles else ""))
        verified, verify_problems = _verify(spec, layer, ops, roles, request, scan, supabase, box)
        problems += verify_problems
    if request.consumer == "reference":
        say(f"running the reference consumer for {request.consumer_cycles} cycles in both worlds")
        problems += _consumer(spec, layer, request)

    summaries = tuple(
        TableSummary(
            legacy=t.legacy,
            target=t.target,
            references=sum(1 for r in scan.references if r.table == t.legacy),
            operations=tuple(sorted({r.operation for r in scan.references if r.table == t.legacy})),
        )
        for t in spec.tables
    )
    return CheckResult(
        spec=_relative(spec.path, request.root),
        compat=_layer_name(spec, request),
        fail_on=request.fail_on,
        tables=summaries,
        problems=tuple(sorted(set(problems), key=Problem.sort_key)),
        references=len(scan.references),
        files_with_references=len({r.path for r in scan.references}),
        dynamic=len(scan.dynamic),
        verified=verified,
        allow_incomplete=request.allow_incomplete,
    )


# --- stages ----------------------------------------------------------------------------------


def _relative(path: Path, root: Path) -> str:
    path = Path(path).resolve()
    try:
        return path.relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


@dataclass(frozen=True)
class _NoCode:
    """The scan result of a spec without `[scan] paths`: no code to check against."""

    references: tuple = ()
    dynamic: tuple = ()
    skipped: tuple = ()


def _scan(spec: Spec, root: Path) -> Any:
    if not spec.scan_paths:
        return _NoCode()
    from migverify.scan import scan_paths

    return scan_paths(
        list(spec.scan_paths),
        list(spec.table_names),
        root=root,
        max_file_size=spec.scan_max_file_size,
    )


def _layer_name(spec: Spec, request: CheckRequest) -> str:
    if spec.migration is not None:
        return _relative(Path(spec.migration.up.name.split(" (")[0]), request.root)
    return "generated" if request.compat is None else _relative(request.compat, request.root)


def _migration_layer(spec: Spec, root: Path) -> Layer:
    """`[legacy] before`: the migration under test is the layer, its down script the rollback."""
    migration = spec.migration
    assert migration is not None
    down = migration.down
    return Layer(
        forward_sql=migration.up.text,
        forward_path=migration.up.name,
        rollback_sql=down.text if down else None,
        rollback_path=down.name if down else None,
    )


def _changed_tables(spec: Spec, legacy: Any, migrated: Any) -> tuple[TableSpec, ...]:
    """The legacy tables the migration under test changes (renamed, replaced by a view,
    altered), each with what now stands behind its name."""
    partitions = {r.qualified_name for r in legacy.tables if r.partition_of}
    found = []
    for relation in legacy.tables:
        if relation.qualified_name in partitions or relation.schema in _NOT_THE_APPS:
            continue
        after = migrated.find(relation.qualified_name)
        if after == relation:
            continue
        target = relation.display_name
        if after is not None and after.is_view and after.view_relations:
            schema, _, name = after.view_relations[0].partition(".")
            target = name if schema == "public" else after.view_relations[0]
        found.append(TableSpec(legacy=relation.display_name, target=target))
    return tuple(found)


# Schemas of the Supabase shim (not the application's tables).
_NOT_THE_APPS = frozenset({"auth", "storage", "vault", "extensions"})


def _nothing_changed(spec: Spec, layer: Layer, request: CheckRequest) -> CheckResult:
    message = (
        f"{layer.forward_path} changes no legacy table (no table renamed, replaced or altered): "
        "nothing to verify"
    )
    return CheckResult(
        spec=_relative(spec.path, request.root),
        compat=_layer_name(spec, request),
        fail_on=request.fail_on,
        tables=(),
        problems=(Problem(rule="MV103", severity=WARNING, table=None, message=message),),
        allow_incomplete=request.allow_incomplete,
    )


def _user_layer(request: CheckRequest) -> Layer:
    from migverify.sqlload import read_script

    forward = read_script(request.compat)
    rollback = read_script(request.rollback) if request.rollback else None
    return Layer(
        forward_sql=forward,
        forward_path=_relative(request.compat, request.root),
        rollback_sql=rollback,
        rollback_path=_relative(request.rollback, request.root) if request.rollback else None,
    )


def _generate(spec: Spec, box: Sandbox, root: Path, supabase: Any) -> Layer:
    from migverify.generate import generate_with_plans, upsert_warnings

    # As `migverify generate` writes it:
    files, plans = generate_with_plans(spec, box, upsert_warnings(spec), supabase)
    return Layer(
        forward_sql=files["forward.sql"],
        forward_path="forward.sql (generated)",
        rollback_sql=files.get("rollback.sql"),
        rollback_path="rollback.sql (generated)" if "rollback.sql" in files else None,
        files=dict(files),
        online_tables=tuple(p.name for p in plans if p.online),
    )


def _drift(spec: Spec, layer: Layer, root: Path) -> list[Problem]:
    """Committed generated files that differ from a fresh generate."""
    if spec.out is None or not spec.out.is_dir():
        return []
    problems = []
    for name, fresh in sorted(layer.files.items()):
        committed_path = spec.out / name
        if not committed_path.is_file():
            continue
        committed = committed_path.read_text(encoding="utf-8")
        if committed == fresh:
            continue
        where = _relative(committed_path, root)
        diff = "".join(
            difflib.unified_diff(
                committed.splitlines(keepends=True),
                fresh.splitlines(keepends=True),
                fromfile=f"{where} (committed)",
                tofile=f"{where} (generated now)",
            )
        )
        first = _first_changed_line(committed, fresh)
        problems.append(
            Problem(
                rule="MV110",
                severity=ERROR,
                table=None,
                message=f"{where} differs from a fresh `migverify generate`",
                location=Location(where, first),
                detail=diff,
            )
        )
    return problems


def _first_changed_line(old: str, new: str) -> int:
    for number, (a, b) in enumerate(zip(old.splitlines(), new.splitlines(), strict=False), start=1):
        if a != b:
            return number
    return min(len(old.splitlines()), len(new.splitlines())) + 1


def _catalogs(
    spec: Spec, layer: Layer, box: Sandbox, supabase: Any, generated: bool
) -> tuple[Any, Any]:
    """The legacy world's catalog and the migrated one's (forward.sql applied). A GENERATED
    layer must run: forward.sql, rollback.sql after it and, with online tables, every online
    phase; a failure that says the SQL is wrong is migverify's (check/generated.py)."""
    from migverify.catalog import load_catalog
    from migverify.check.generated import ours, prove_online_phases
    from migverify.legacy import legacy_state
    from migverify.sqlload import Script, load_sql, load_sql_files

    state = legacy_state(box, spec.legacy_sql, supabase, later=spec.target_sql)
    legacy = state.catalog
    migrated_db = state.take_with_target(box, spec.target_sql)
    if generated and layer.online_tables:
        prove_online_phases(box.clone(migrated_db, "check_online"), layer.files)
    names = [layer.forward_path, layer.rollback_path or ""] if generated else []
    # the migration under test as its history's script (which says what was not run before it)
    forward = (
        spec.migration.up
        if spec.migration is not None
        else Script(layer.forward_path, layer.forward_sql)
    )
    with migrated_db.connect() as conn:
        ours(lambda: load_sql_files(conn, [forward]), names)
        migrated = load_catalog(conn)
        if generated and layer.rollback_sql is not None:
            rollback = layer.rollback_sql
            ours(lambda: load_sql(conn, rollback, layer.rollback_path or ""), names)
    return legacy, migrated


def _lint(
    spec: Spec, layer: Layer, legacy: Any, migrated: Any, scan: Any, root: Path
) -> list[Problem]:
    from migverify.lint import LintInput, inline_suppressions, run_lint

    embeddings = [(r, r.parent) for r in scan.references if getattr(r, "parent", None)]
    findings = run_lint(
        LintInput(
            legacy=legacy,
            migrated=migrated,
            tables=spec.table_names,
            compat_sql=layer.forward_sql,
            compat_path=layer.forward_path,
            references=scan.references,
            dynamic=scan.dynamic,
            skipped=scan.skipped,
            embeddings=embeddings,
            ignore=spec.lint_ignore,
            suppressed=inline_suppressions(root),
        )
    )
    return [
        Problem(
            rule=f.rule,
            severity=f.severity,
            table=f.table,
            message=f.message,
            location=Location(f.path, f.line or 1, f.column or 1) if f.path else None,
            affected=_affected(scan, f.table) if not f.path and f.table else (),
        )
        for f in findings
    ]


def _affected(
    scan: Any,
    table: str | None,
    operations: Sequence[str] | None = None,
    columns: Sequence[str] = (),
) -> tuple:
    """Code references a problem bites: of TABLE, with one of OPERATIONS; when COLUMNS are
    known, only code naming one of them or reading every column (`*`, columns unknown)."""
    if table is None:
        return ()
    wanted = set(columns)
    return tuple(
        Location(r.path, r.line, r.column, r.operation)
        for r in scan.references
        if r.table == table
        and (operations is None or r.operation in operations)
        and (not wanted or not r.columns or wanted & set(r.columns))
    )


def _code_queries(scan: Any) -> tuple:
    """The raw SQL statements the scan found in the code, once each, for verify to replay."""
    from migverify.verify.replay import Query

    seen: dict[tuple[str, int, str], Query] = {}
    for r in scan.references:
        if r.statement and (r.path, r.line, r.statement) not in seen:
            seen[(r.path, r.line, r.statement)] = Query(f"{r.path}:{r.line}", r.statement)
    return tuple(seen.values())


def _senders(scan: Any, warning: Any) -> tuple:
    """The code that sends the statement form of an unavoidable difference (WARNING): raw SQL
    that sets its column to DEFAULT."""
    from migverify.verify.unavoidable import UNAVOIDABLE, set_to_default

    if UNAVOIDABLE not in warning.diagnosis or not warning.columns:
        return ()
    return tuple(
        Location(r.path, r.line, r.column, r.operation)
        for r in scan.references
        if r.table == warning.table
        and r.statement
        and r.operation == "update"
        and set(warning.columns) & set(set_to_default(r.statement))
    )


def _operations(scan: Any, tables: Sequence[str]) -> tuple[str, ...]:
    """The operations the code performs on the legacy tables; reads and writes always checked."""
    found = {r.operation for r in scan.references if r.table in tables}
    ops = set(DEFAULT_OPS) | (found & set(VERIFIABLE_OPS))
    return tuple(op for op in VERIFIABLE_OPS if op in ops)


def _roles(legacy: Any, tables: Sequence[str]) -> tuple[str, ...]:
    """Roles (other than the owner and PUBLIC) that hold privileges on a legacy table."""
    roles: set[str] = set()
    for name in tables:
        relation = legacy.find(name)
        if relation is None:
            raise InputError(f"spec: legacy table {name!r} is not defined by the legacy SQL")
        for grant in relation.grants:
            if grant.grantee not in (relation.owner, "PUBLIC", "public"):
                roles.add(grant.grantee)
    return tuple(sorted(roles))


def _verify(
    spec: Spec,
    layer: Layer,
    ops: Sequence[str],
    roles: Sequence[str],
    request: CheckRequest,
    scan: Any,
    supabase: Any,
    box: Sandbox,
) -> tuple[dict[str, Any], list[Problem]]:
    from migverify.check.generated import ours
    from migverify.verify import DEFAULT_EXAMPLES, VerifyRequest, verify
    from migverify.verify.online import OnlineScripts
    from migverify.verify.replay import source_position

    online = OnlineScripts.from_files(layer.files) if layer.online_tables else None
    # Generated scripts that fail to load in verify's worlds are migverify's (check/generated.py).
    generated = (
        [layer.forward_path, layer.rollback_path or "", "online/expand.sql"]
        if request.compat is None
        else []
    )
    result = ours(
        lambda: verify(
            VerifyRequest(
                legacy=tuple(spec.legacy_sql),
                target=tuple(spec.target_sql),
                compat=Path(layer.forward_path),
                compat_sql=layer.forward_sql,
                rollback=Path(layer.rollback_path) if layer.rollback_path else None,
                rollback_sql=layer.rollback_sql,
                operations=tuple(ops),
                roles=tuple(roles),
                tables=tuple(spec.table_names),
                examples=request.examples or DEFAULT_EXAMPLES,
                sandbox=request.sandbox,
                supabase=supabase,
                online=online,
                code_queries=_code_queries(scan),
            ),
            box=box,
        ),
        generated,
    )
    problems = []
    example = result.counterexample
    fix_at = None
    if request.compat is not None and spec.migration is None:
        ending = layer.forward_sql.count("\n") + (0 if layer.forward_sql.endswith("\n") else 1)
        fix_at = Location(_relative(request.compat, request.root), ending + 1)
    # a difference a replayed statement of the code showed is located at that code
    at_code = {
        c.difference: Location(*source_position(c.probe.removeprefix("query ")))
        for c in result.counterexamples
        if c.probe and c.probe.startswith("query ")
    }
    for difference in result.differences:
        detail = ""
        if example and difference == example.difference:
            detail = (
                f"{example.script}\n-- legacy tables:     {difference.reference}\n"
                f"-- through the layer: {difference.migrated}"
            )
        rule = "MV102" if difference.operation == "rollback" else "MV100"
        problems.append(
            Problem(
                rule=rule,
                severity=ERROR,
                table=difference.table if difference.table in spec.table_names else None,
                message=difference.diagnosis,
                location=at_code.get(difference),
                detail=detail,
                fix=difference.fix,
                fix_at=fix_at if difference.fix else None,
                affected=_affected(
                    scan,
                    difference.table,
                    _AFFECTED_BY.get(difference.operation),
                    difference.columns,
                ),
            )
        )
    for sentence in result.incomplete:
        table = sentence.split(":", 1)[0]
        problems.append(
            Problem(
                rule="MV103",
                severity=ERROR,
                table=table if table in spec.table_names else None,
                message=sentence,
            )
        )
    for sentence in result.skipped:  # known gaps (foreign tables, missing functions): warnings
        problems.append(Problem(rule="MV103", severity=WARNING, table=None, message=sentence))
    for warning in result.warnings:
        senders = _senders(scan, warning)
        if senders:  # a difference no layer can avoid, and the code sends that form
            problems.append(
                Problem(
                    rule="MV100",
                    severity=ERROR,
                    table=warning.table if warning.table in spec.table_names else None,
                    message=f"{warning.diagnosis}; the code sends it",
                    location=senders[0],
                    affected=senders[1:],
                )
            )
            continue
        problems.append(
            Problem(
                rule="MV101",
                severity=WARNING,
                table=warning.table if warning.table in spec.table_names else None,
                message=warning.diagnosis,
                fix=warning.fix,
                fix_at=fix_at if warning.fix else None,
                affected=_affected(scan, warning.table, _AFFECTED_BY.get(warning.operation)),
            )
        )
    summary = {
        "verdict": result.verdict,
        "operations": list(result.operations),
        "roles": list(result.roles),
        "statements_compared": result.statements_compared,
        "examples": result.examples,
        "seed_value": result.seed_value,
        "rollback_checked": result.rollback_checked,
        "online": (
            {
                "tables": list(layer.online_tables),
                "workloads": result.online.workloads,
                "rollbacks": list(result.online.rollbacks),
            }
            if result.online is not None
            else None
        ),
        "coverage": result.coverage.to_dict() if result.coverage else None,
        "replayed": [list(item) for item in result.replayed],
    }
    return summary, problems


def _consumer(spec: Spec, layer: Layer, request: CheckRequest) -> list[Problem]:
    from migverify.reference import compare_worlds

    result = compare_worlds(
        spec, request.consumer_cycles, 0, request.sandbox, compat_sql=layer.forward_sql
    )
    if result.equal:
        return []
    divergence = result.divergence
    assert divergence is not None
    return [
        Problem(
            rule="MV120",
            severity=ERROR,
            table=None,
            message=(
                f"reference consumer diverges at cycle {divergence.cycle}, stage "
                f"{divergence.stage}: {divergence.what}"
            ),
            detail=f"legacy:   {divergence.legacy}\nmigrated: {divergence.migrated}",
        )
    ]


# Which code references a difference found for an operation bites (None: every reference).
_AFFECTED_BY: dict[str, tuple[str, ...] | None] = {
    "insert": ("insert", "upsert"),
    "upsert": ("upsert",),
    "update": ("update", "upsert"),
    "delete": ("delete",),
    "select": ("select",),
    "upsert-on-constraint": ("upsert-on-constraint",),
    "merge": ("merge",),
    "copy-from": ("copy-from",),
    "copy-to": ("copy-to",),
    "truncate": ("truncate",),
    "lock": ("lock",),
    "rollback": (),
    "shape": None,
    "cutover": None,
}


__all__ += ["ERROR", "WARNING"]
