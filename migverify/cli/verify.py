"""`migverify verify`: a compatibility layer against the legacy tables (its options beside it)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from migverify.cli.common import (
    EXAMPLES,
    EXIT_FOUND,
    EXIT_OK,
    _no_interrupt,
    _progress_printer,
    _require_files,
    _table_names,
    cli,
    server_options,
    supabase_options,
)
from migverify.errors import InputError


@cli.command()
@click.option(
    "--legacy",
    "legacy",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path),
    help="SQL defining the legacy tables (repeatable).",
)
@click.option(
    "--target",
    "target",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path),
    help="SQL defining the new tables (repeatable).",
)
@click.option(
    "--compat",
    required=True,
    type=click.Path(path_type=Path),
    help="The compatibility layer (cutover script) to verify.",
)
@click.option(
    "--seed",
    "seed",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Seed data loaded after the legacy SQL (repeatable).",
)
@click.option(
    "--rollback",
    type=click.Path(path_type=Path),
    help="Rollback script: must give back the legacy tables with every row.",
)
@click.option(
    "--ops",
    default="insert,select,update,delete",
    show_default=True,
    help="Operations to verify, comma-separated: insert, select, update, delete, upsert, "
    "upsert-on-constraint, merge, copy-from, copy-to, truncate, lock.",
)
@click.option("--role", "roles", multiple=True, help="Also run the workload as this role.")
@click.option(
    "--table",
    "tables",
    multiple=True,
    callback=lambda ctx, param, value: _table_names(value),
    help="Compare only these legacy tables.",
)
@click.option(
    "--examples",
    type=EXAMPLES,
    default=60,
    show_default=True,
    help="Hypothesis examples (workloads) per role.",
)
@click.option(
    "--steps",
    type=click.IntRange(1, 1000),
    default=8,
    show_default=True,
    help="Most statements per workload.",
)
@click.option(
    "--seed-value",
    type=int,
    default=0,
    show_default=True,
    help="Hypothesis seed; the report prints it to replay a counterexample.",
)
@click.option("--strict", is_flag=True, help="Treat warnings (e.g. class 22 accepted) as failures.")
@click.option(
    "--online",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also prove the online phases in this directory (online/ of migverify generate): "
    "workloads during expand and backfill, then the switch, and each phase's rollback.",
)
@click.option(
    "--queries",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Also replay the statements an application sends (repeatable): a pg_stat_statements "
    "export (CSV with a query column), a PostgreSQL log, or an SQL file.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option(
    "--allow-incomplete",
    is_flag=True,
    help="Exit 0 when the verdict is INCOMPLETE (no difference, something untested).",
)
@supabase_options
@server_options
def verify(
    legacy,
    target,
    compat,
    seed,
    rollback,
    ops,
    roles,
    tables,
    examples,
    steps,
    seed_value,
    strict,
    online,
    queries,
    fmt,
    allow_incomplete,
    supabase,
    sandbox_config,
) -> None:
    """Prove a compatibility layer equivalent to the legacy tables on real PostgreSQL.

    Reference world: LEGACY + SEED. Migrated world: LEGACY + SEED + TARGET + COMPAT. Generated
    workloads run in both; exit 0 when equivalent, 1 with the smallest counterexample when not,
    1 too when INCOMPLETE (something asked for could not be tested; --allow-incomplete: 0).

    \b
    Example:
      migverify verify --legacy fixtures/xbot/legacy.sql --seed fixtures/xbot/seed.sql \\
        --target fixtures/xbot/target.sql --compat fixtures/xbot/seed-views.sql
    """
    from migverify.report.verify import render_json, render_text
    from migverify.verify import OPERATIONS, VerifyRequest
    from migverify.verify import verify as run_verify

    operations = tuple(op.strip() for op in ops.split(",") if op.strip())
    if not operations:
        raise InputError(f"--ops {ops!r}: no operations (choose from {', '.join(OPERATIONS)})")
    for op in operations:
        if op not in OPERATIONS:
            raise InputError(
                f"--ops: unknown operation {op!r} (choose from {', '.join(OPERATIONS)})"
            )
    _require_files([*legacy, *target, compat, *seed, *([rollback] if rollback else []), *queries])
    online_scripts = None
    if online is not None:
        from migverify.verify.online import OnlineScripts

        online_scripts = OnlineScripts.from_directory(online)
    request = VerifyRequest(
        legacy=tuple(legacy),
        target=tuple(target),
        compat=compat,
        seed=tuple(seed),
        rollback=rollback,
        operations=operations,
        roles=tuple(roles),
        tables=tuple(tables),
        examples=examples,
        steps=steps,
        seed_value=seed_value,
        strict=strict,
        sandbox=sandbox_config,
        supabase=supabase,
        online=online_scripts,
        queries=tuple(queries),
    )
    progress = _progress_printer() if fmt == "text" and sys.stderr.isatty() else None
    result = run_verify(request, progress)
    _no_interrupt()
    click.echo(render_json(result) if fmt == "json" else render_text(result), nl=False)
    passed = result.equivalent or (result.verdict == "incomplete" and allow_incomplete)
    sys.exit(EXIT_OK if passed else EXIT_FOUND)
