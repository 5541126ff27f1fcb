"""`migverify generate` / `migverify rollback`: the compatibility layer and its rollback, from a
spec and the two schemas, rendered from the templates in `templates/`.

Stages (like alembic's autogenerate): load both schemas into one scratch database → catalog →
a plan per legacy table (`plan.py`, with what it carries from its surroundings:
`foreign_keys.py`, `triggers.py`, `policies.py`) → template context → Jinja → pglast (validate,
prettify).

The templates are the steps of one cutover, each with its undoing, so that later phases (expand,
backfill, switch) can be cut from the same plan: backfill.sql.j2; the switch (sequences,
retarget_foreign_keys, retire_legacy, view, instead_of_trigger, grants, carry_triggers,
carry_policies); validate_foreign_keys after it; and in rollback.sql.j2 drop_carried,
copy_back/rebuild_legacy, restore_foreign_keys.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from migverify.catalog import Catalog, load_catalog
from migverify.errors import InputError
from migverify.generate.plan import TablePlan, build_plans
from migverify.generate.render import pretty_sql, render
from migverify.sandbox import Sandbox, SandboxConfig, with_spec_roles
from migverify.spec import Spec
from migverify.supabase import SupabaseOptions

__all__ = ["FILES", "build_plans", "generate_files", "generate_layer", "write_files"]

FILES = ("forward.sql", "rollback.sql", "REVIEW.md")


def load_schemas(spec: Spec, box: Sandbox, supabase: SupabaseOptions | None = None) -> Catalog:
    """One scratch database with the legacy SQL, then the target SQL (as the cutover sees it)."""
    from migverify.supabase import SupabasePlan

    if spec.legacy_dsn and not spec.legacy_sql:
        raise InputError(
            f"{spec.path}: generating from [legacy] dsn is not supported; give sql files"
        )
    paths = (*spec.legacy_sql, *spec.target_sql)
    plan = SupabasePlan(paths, supabase or spec.supabase_options())
    db = box.create_database("generate")
    with db.connect() as conn:
        plan.prepare(conn).load(paths)
        catalog = load_catalog(conn)
    box.drop_database(db)
    return catalog


def generate_layer(
    spec: Spec,
    box: Sandbox,
    code_warnings: Mapping[str, list[str]] | None = None,
    supabase: SupabaseOptions | None = None,
) -> dict[str, str]:
    """forward.sql, rollback.sql and REVIEW.md as text (deterministic)."""
    plans = build_plans(spec, load_schemas(spec, box, supabase))
    context = _context(spec, plans, code_warnings or {})
    return {
        "forward.sql": pretty_sql(render("forward.sql.j2", context), "forward.sql"),
        "rollback.sql": pretty_sql(render("rollback.sql.j2", context), "rollback.sql"),
        "REVIEW.md": render("review.md.j2", context),
    }


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
    by_name = {p.name: p for p in plans}
    trigger_tables = {p.name for p in plans if "insert" in p.trigger_operations}
    filtered_warnings = {
        name: [w for w in items if name in trigger_tables] for name, items in code_warnings.items()
    }
    keys = [key for plan in plans for key in plan.referenced_by]
    return {
        "plans": plans,
        "referencing_tables": sorted({key.table for key in keys}),
        "validated_keys": [key for key in keys if key.validated and not key.partitioned],
        "function_copies": _function_copies(plans),
        "spec_name": spec.path.name,
        "lock_timeout": spec.lock_timeout,
        "batch_size": spec.batch_size,
        "legacy_tables": spec.legacy_tables,
        "code_warnings": {k: v for k, v in filtered_warnings.items() if v and k in by_name},
        "plan_join_source": _join_source,
        "view_grants": _view_grants,
        "writers": _writers,
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


def _join_source(plan: TablePlan, target_column: str) -> str:
    """The legacy column whose value the side table's join column takes."""
    for column in plan.target_columns:
        if column.column == target_column:
            return column.legacy.name
    raise InputError(
        f"{plan.name}: the side table joins on {plan.target.name}.{target_column}, "
        "which no legacy column maps to"
    )


_VIEW_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")


def _view_grants(plan: TablePlan) -> list[Any]:
    return [
        g
        for g in plan.legacy.grants
        if g.grantee != plan.legacy.owner and g.privilege in _VIEW_PRIVILEGES
    ]


def _writers(plan: TablePlan) -> list[str]:
    return sorted(
        {g.grantee for g in _view_grants(plan) if g.privilege == "INSERT" and not g.column}
    )


def write_files(files: Mapping[str, str], out: Path) -> None:
    """Write atomically: into a temporary directory first, then move into place."""
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".migverify-", dir=out))
    try:
        for name, text in files.items():
            (staging / name).write_text(text, encoding="utf-8")
        for name in files:
            (staging / name).replace(out / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
