"""`migverify generate` / `migverify rollback`: the compatibility layer and its rollback, from a
spec and the two schemas, rendered from the templates in `templates/`.

Stages (like alembic's autogenerate): load both schemas into one scratch database → catalog →
a plan per legacy table (`plan.py`, with what it carries from its surroundings:
`foreign_keys.py`, `triggers.py`, `policies.py`) → template context → Jinja → pglast (validate,
prettify).

The templates are the steps of one cutover, each with its undoing, cut into phases (see
`online.py`): expand (expand.sql.j2: sync_trigger per online table, foreign keys between targets
suspended), backfill (backfill_batch.sql.j2: one batch, run by `migverify apply`), switch
(switch.sql.j2: a confirmation, then switch_body.sql.j2 under the lock: sequences,
retarget_foreign_keys, retire_legacy, view, instead_of_trigger, grants, carry_triggers,
carry_policies; validate_foreign_keys after it), and the rollback of each (rollback_switch.sql.j2
around rollback_body.sql.j2: drop_carried, copy_back/rebuild_legacy, restore_foreign_keys;
rollback_backfill and rollback_expand: empty_target). forward.sql.j2 is the same phases back to
back in one transaction: the lock instead of sync triggers, backfill.sql.j2 for every table, then
switch_body; rollback.sql.j2 is rollback_body in one transaction. Foreign keys that no table
order satisfies while a copy fills the tables (cycles, self-references copied in batches) are
deferred or dropped around that copy (copy_keys.py, copy_keys.sql.j2).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from migverify.catalog import Catalog, load_catalog
from migverify.errors import InputError
from migverify.generate.copy_keys import copy_back_keys, forward_keys, switch_keys
from migverify.generate.dependents import (
    Dependent,
    drop_blockers,
    load_dependents,
    renamed,
    renamed_expression,
)
from migverify.generate.expressions import qualify
from migverify.generate.model import CopyKeys
from migverify.generate.online import suspended_keys
from migverify.generate.plan import ColumnMap, TablePlan, build_plans
from migverify.quoting import ident
from migverify.render import pretty_sql, render
from migverify.sandbox import Sandbox, SandboxConfig, with_spec_roles
from migverify.spec import Spec
from migverify.supabase import SupabaseOptions

__all__ = [
    "FILES",
    "ONLINE_FILES",
    "build_plans",
    "generate_files",
    "generate_layer",
    "generate_with_plans",
    "write_files",
]

# The online phases, in the order `migverify apply` runs them, and their rollbacks.
ONLINE_FILES = {
    "online/state.sql": "state.sql.j2",
    "online/expand.sql": "expand.sql.j2",
    "online/backfill.sql": "backfill_batch.sql.j2",
    "online/switch.sql": "switch.sql.j2",
    "online/rollback-switch.sql": "rollback_switch.sql.j2",
    "online/rollback-backfill.sql": "rollback_backfill.sql.j2",
    "online/rollback-expand.sql": "rollback_expand.sql.j2",
}
FILES = ("forward.sql", "rollback.sql", "REVIEW.md", *ONLINE_FILES)


def load_schemas(spec: Spec, box: Sandbox, supabase: SupabaseOptions | None = None) -> Catalog:
    """One scratch database with the legacy SQL, then the target SQL (as the cutover sees it)."""
    return _load_schemas(spec, box, supabase)[0]


def _load_schemas(
    spec: Spec, box: Sandbox, supabase: SupabaseOptions | None = None
) -> tuple[Catalog, dict[str, int], tuple[Dependent, ...]]:
    """The catalog, the legacy tables' sizes (pg_class.reltuples after ANALYZE), and the views
    and policies outside the layer that read them (dependents.py)."""
    from migverify.legacy import legacy_state

    if spec.legacy_dsn and not spec.legacy_sql:
        raise InputError(
            f"{spec.path}: generating from [legacy] dsn is not supported; give sql files"
        )
    options = supabase or spec.supabase_options()
    state = legacy_state(box, spec.legacy_sql, options, later=spec.target_sql)
    with state.with_target(box, spec.target_sql).connect() as conn:
        sizes = _table_sizes(conn, spec)
        catalog = load_catalog(conn)
        legacy = [r.qualified_name for name in spec.table_names if (r := catalog.find(name))]
        dependents = load_dependents(conn, legacy)
        blockers = drop_blockers(conn, legacy) if spec.legacy_tables == "drop" else []
    if blockers:
        what, table = blockers[0]
        more = f" (and {len(blockers) - 1} more)" if len(blockers) > 1 else ""
        raise InputError(
            f'{spec.path}: legacy_tables = "drop" cannot drop {table}: {what} depends on it'
            f"{more}; keep the legacy tables, or drop and create it again around the cutover"
        )
    return catalog, sizes, dependents


def _table_sizes(conn: Any, spec: Spec) -> dict[str, int]:
    """Estimated rows of each legacy table, as the planner knows them after ANALYZE (exact for
    tables small enough to be read whole)."""
    from migverify.quoting import qualified

    sizes = {}
    for name in spec.table_names:
        row = conn.execute(
            "SELECT c.oid::regclass::text, n.nspname || '.' || c.relname FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass(%s) "
            "AND c.relkind IN ('r', 'p')",
            (qualified(name),),
        ).fetchone()
        if row is None:
            continue  # the plan names the error
        conn.execute(f"ANALYZE {row[0]}")
        (rows,) = conn.execute(
            "SELECT CASE WHEN c.relkind = 'p' THEN (SELECT sum(greatest(p.reltuples, 0)) "
            "FROM pg_partition_tree(c.oid) t JOIN pg_class p ON p.oid = t.relid) "
            "ELSE greatest(c.reltuples, 0) END::bigint FROM pg_class c WHERE c.oid = %s::regclass",
            (row[0],),
        ).fetchone()
        sizes[row[1]] = int(rows)
    return sizes


def generate_layer(
    spec: Spec,
    box: Sandbox,
    code_warnings: Mapping[str, list[str]] | None = None,
    supabase: SupabaseOptions | None = None,
) -> dict[str, str]:
    """forward.sql, rollback.sql, REVIEW.md and the online phases as text (deterministic)."""
    return generate_with_plans(spec, box, code_warnings, supabase)[0]


def generate_with_plans(
    spec: Spec,
    box: Sandbox,
    code_warnings: Mapping[str, list[str]] | None = None,
    supabase: SupabaseOptions | None = None,
) -> tuple[dict[str, str], tuple[TablePlan, ...]]:
    """The files of generate_layer, and the plans they were rendered from."""
    catalog, sizes, dependents = _load_schemas(spec, box, supabase)
    plans = build_plans(spec, catalog, sizes)
    context = _context(spec, plans, code_warnings or {})
    context.update(_dependents_context(plans, dependents))
    context.update(_copy_keys(spec, plans, catalog))
    context["view_revokes"] = _view_revokes(catalog)
    files = {
        "forward.sql": pretty_sql(render("forward.sql.j2", context), "forward.sql"),
        "rollback.sql": pretty_sql(render("rollback.sql.j2", context), "rollback.sql"),
        "REVIEW.md": render("review.md.j2", context),
    }
    for name, template in ONLINE_FILES.items():
        files[name] = pretty_sql(render(template, context), name)
    return files, plans


def generate_files(
    spec: Spec, config: SandboxConfig | None = None, supabase: bool = False
) -> dict[str, str]:
    """The files, from a sandbox of their own; SUPABASE forces the Supabase shim."""
    with Sandbox(with_spec_roles(config or SandboxConfig(), spec.roles)) as box:
        return generate_layer(spec, box, upsert_warnings(spec), spec.supabase_options(supabase))


def upsert_warnings(spec: Spec) -> dict[str, list[str]]:
    """Code locations that upsert into a legacy table (for REVIEW.md), from a scan of the spec's
    code paths; empty when the spec names none."""
    if not spec.scan_paths:
        return {}
    from migverify.scan import scan_paths

    result = scan_paths(
        list(spec.scan_paths),
        list(spec.table_names),
        root=spec.base_dir,
        max_file_size=spec.scan_max_file_size,
    )
    warnings: dict[str, list[str]] = {}
    for ref in result.references:
        if ref.operation == "upsert":
            warnings.setdefault(ref.table, []).append(
                f"code upserts into {ref.table}: {ref.path}:{ref.line}"
            )
    return warnings


def _context(
    spec: Spec, plans: tuple[TablePlan, ...], code_warnings: Mapping[str, list[str]]
) -> dict[str, Any]:
    by_name = {p.spec_name: p for p in plans}  # code references name tables as the spec does
    trigger_tables = {p.spec_name for p in plans if "insert" in p.trigger_operations}
    filtered_warnings = {
        name: [w for w in items if name in trigger_tables] for name, items in code_warnings.items()
    }
    keys = [key for plan in plans for key in plan.referenced_by]
    return {
        "plans": plans,
        "online_plans": [p for p in plans if p.online],
        "offline_plans": [p for p in plans if not p.online],
        "suspended_keys": (),
        "forward_keys": CopyKeys(),
        "switch_keys": CopyKeys(),
        "copy_back_keys": CopyKeys(),
        "switch_check": spec.switch_check,
        "online_threshold": spec.online_threshold,
        "referencing_tables": sorted({key.table for key in keys}),
        "validated_keys": [key for key in keys if key.validated and not key.partitioned],
        "function_copies": _function_copies(plans),
        "spec_name": spec.path.name,
        "lock_timeout": spec.lock_timeout,
        "batch_size": spec.batch_size,
        "legacy_tables": spec.legacy_tables,
        "code_warnings": {k: v for k, v in filtered_warnings.items() if v and k in by_name},
        "plan_join_source": _join_source,
        "legacy_value": legacy_value,
        "target_read": target_read,
        "copied_back": copied_back,
        "fill_values": fill_values,
        "view_grants": _view_grants,
        "view_revokes": lambda plan, kind="table": (),
        "dependents": (),
        "read_by_dependents": set(),
    }


def _dependents_context(
    plans: tuple[TablePlan, ...], dependents: tuple[Dependent, ...]
) -> dict[str, Any]:
    """The views and policies the switch points at the compatibility views, and the rollback
    back at the legacy tables: by their kept names (`<name>_legacy`) before it names them back."""
    kept = {p.legacy.qualified_name: (p.schema, p.kept_name) for p in plans}
    reading = [d for d in dependents if set(d.reads) & kept.keys()]
    return {
        "dependents": reading,
        "kept_query": lambda query: renamed(query, kept),
        "kept_expression": lambda text: renamed_expression(text, kept) if text else text,
        "read_by_dependents": {t for d in reading for t in d.reads},
    }


def _copy_keys(spec: Spec, plans: tuple[TablePlan, ...], catalog: Catalog) -> dict[str, Any]:
    """The foreign keys each phase suspends: between the targets from expand to switch, and
    those in the way of a copy (the backfill, the switch's, the rollback's copy back)."""
    suspended = suspended_keys(plans, catalog)
    return {
        "suspended_keys": suspended,
        "forward_keys": forward_keys(plans, catalog),
        "switch_keys": switch_keys(plans, catalog, suspended),
        # legacy_tables = "drop": the rollback rebuilds the tables and adds their keys last.
        "copy_back_keys": copy_back_keys(plans) if spec.legacy_tables != "drop" else CopyKeys(),
    }


def _function_copies(plans: tuple[TablePlan, ...]) -> list[Any]:
    """Renamed copies of trigger functions, each once (merged tables may share one)."""
    copies: dict[str, Any] = {}
    for plan in plans:
        for copy in plan.triggers.copies:
            if copies.setdefault(copy.name, copy) != copy:
                raise InputError(
                    f"{plan.name}: its triggers need {copy.name} with other column names than "
                    "another legacy table's triggers; define the trigger in the target SQL"
                )
    return list(copies.values())


def legacy_value(column: ColumnMap, record: str) -> str:
    """The value a target column takes from a legacy row named RECORD (NEW, or an alias; ""
    for bare column names): the legacy column, or its transform's up expression (RECORD in
    lower case there: pglast quotes a keyword, and PL/pgSQL's record is `new`)."""
    if column.up is not None:
        return f"CAST(({qualify(column.up, None, record.lower() or None)}) AS {column.target.type})"
    return f"{record}.{ident(column.legacy.name)}" if record else ident(column.legacy.name)


def target_read(column: ColumnMap, alias: str) -> str:
    """The legacy column's value read from the target row aliased ALIAS: the target column, or
    its transform's down expression (cast to the legacy column's type)."""
    if column.down is not None:
        return f"CAST(({qualify(column.down, None, alias.lower())}) AS {column.legacy.type})"
    return f"{alias}.{ident(column.column)}"


def copied_back(column: ColumnMap, alias: str) -> str:
    """target_read, cast to the legacy column's type where the target's differs (an enum kept
    as text goes back into the enum column: no assignment cast does that)."""
    value = target_read(column, alias)
    if column.down is None and column.target.type != column.legacy.type:
        return f"CAST({value} AS {column.legacy.type})"
    return value


def fill_values(plan: TablePlan, record: str) -> list[tuple[str, str]]:
    """(target column, value) of the spec's fill expressions, over the legacy row RECORD."""
    return [(column, qualify(text, None, record.lower() or None)) for column, text in plan.fill]


def _join_source(plan: TablePlan, target_column: str) -> str:
    """The legacy column whose value the side table's join column takes."""
    for column in plan.target_columns:
        if column.column == target_column:
            return column.legacy.name
    raise InputError(
        f"{plan.name}: the side table joins on {plan.target.name}.{target_column}, "
        "which no legacy column maps to"
    )


def _view_grants(plan: TablePlan) -> list[Any]:
    """The legacy table's grants, each repeated on its view: TRUNCATE, REFERENCES, TRIGGER and
    MAINTAIN mean little on a view, but no role has fewer privileges on the legacy name than it
    had (MV006)."""
    return [g for g in plan.legacy.grants if g.grantee != plan.legacy.owner]


def _view_revokes(catalog: Catalog) -> Any:
    """The roles that default privileges (ALTER DEFAULT PRIVILEGES, Supabase's grants to anon,
    authenticated and service_role) may give a view created in a plan's schema: the view is
    created, then their privileges on it are revoked, then the legacy table's granted (so the
    view has exactly the legacy table's). Whoever
    runs the cutover owns the view; the legacy table's owner (most likely that role) is left
    alone. The rebuilt legacy tables of a drop-mode rollback, and their sequences (KIND
    "sequence"), are created under the same default privileges and are treated alike."""

    def revokes(plan: TablePlan, kind: str = "table") -> list[str]:
        return sorted(
            {
                default.grantee
                for default in catalog.default_privileges
                if default.kind == kind
                and default.schema in (None, plan.schema)
                and default.grantee != plan.legacy.owner
            }
        )

    return revokes


def write_files(files: Mapping[str, str], out: Path) -> None:
    """Write atomically: into a temporary directory first, then move into place."""
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".migverify-", dir=out))
    try:
        for name, text in files.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_text(text, encoding="utf-8")
        for name in files:
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).replace(out / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
