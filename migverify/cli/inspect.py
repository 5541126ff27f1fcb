"""`migverify inspect`: what a schema holds, as migverify reads it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from migverify.cli.common import (
    _no_interrupt,
    _render_json,
    _require_files,
    cli,
    server_options,
    supabase_options,
)


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@supabase_options
@server_options
def inspect(files: tuple[Path, ...], fmt: str, supabase: Any, sandbox_config: Any) -> None:
    """Load SQL FILES into a scratch database and print the schema catalog.

    \b
    Example:
      migverify inspect fixtures/xbot/legacy.sql --format json
    """
    from migverify.catalog import load_catalog
    from migverify.report.catalog import render_catalog_text
    from migverify.sandbox import Sandbox
    from migverify.supabase import SupabasePlan

    _require_files(files)
    plan = SupabasePlan(tuple(files), supabase)
    with Sandbox(sandbox_config) as sandbox:
        db = sandbox.create_database("inspect")
        with db.connect() as conn:
            plan.prepare(conn).load(files)
            catalog = load_catalog(conn)
    _no_interrupt()
    if fmt == "json":
        click.echo(_render_json(catalog.to_dict()))
    else:
        click.echo(render_catalog_text(catalog), nl=False)
