"""`migverify scan`: references to legacy tables in code (its options beside it)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from migverify.cli.common import (
    MAX_JOBS,
    _table_names,
    cli,
)
from migverify.errors import InputError


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--table",
    "tables",
    multiple=True,
    callback=lambda ctx, param, value: _table_names(value),
    help="A legacy table name (repeatable; may be schema-qualified).",
)
@click.option(
    "--config",
    type=click.Path(path_type=Path),
    help="Take tables ([tables.*]) and paths ([scan] paths) from this spec.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github", "sarif"]),
    default="text",
    show_default=True,
)
@click.option(
    "--jobs",
    type=click.IntRange(1, MAX_JOBS),
    help="Worker processes (default: all cores).",
)
@click.option(
    "--max-file-size",
    "max_file_size",
    metavar="SIZE",
    help="Skip (and report) files larger than this: 5MB, 512k, … or 0 for no limit "
    "[default: 5MB, or [scan] max_file_size of --config].",
)
def scan(
    paths: tuple[Path, ...],
    tables: tuple[str, ...],
    config: Path | None,
    fmt: str,
    jobs: int | None,
    max_file_size: str | None,
) -> None:
    """Find every reference to the legacy tables in PATHS, with operation and columns.

    TypeScript/JavaScript (supabase-js, knex, SQL strings and variables), Python
    (supabase-py, SQL strings and variables) and .sql files. Files that could not be scanned
    are listed as skipped. Exit 0 when the scan ran, 2 on bad input.

    \b
    Examples:
      migverify scan fixtures/xbot/app --table posted_decisions --table real_tweet_metrics
      migverify scan --config fixtures/xbot/migverify.toml --format sarif > scan.sarif
      migverify scan src --table public.orders --max-file-size 0   # no size limit
    """
    from migverify.report.scan import RENDERERS
    from migverify.scan import DEFAULT_MAX_FILE_SIZE, scan_paths
    from migverify.scan.walk import parse_size

    spec_paths: tuple[Path, ...] = ()
    limit = DEFAULT_MAX_FILE_SIZE
    if config is not None:
        from migverify.spec import load_spec

        spec = load_spec(config)
        tables = tables or spec.table_names
        spec_paths = spec.scan_paths
        limit = spec.scan_max_file_size
    if max_file_size is not None:
        try:
            limit = parse_size(max_file_size)
        except ValueError as error:
            raise InputError(f"--max-file-size: {error}") from None
    paths = paths or spec_paths
    if not paths:
        raise InputError("nothing to scan: give PATH... (or a spec with [scan] paths)")
    if not tables:
        raise InputError("no tables: give --table NAME (or --config with [tables.*])")
    progress = None
    if fmt == "text" and sys.stderr.isatty():

        def progress(done: int, total: int) -> None:
            click.echo(f"\rmigverify: scanned {done} of {total} files", err=True, nl=False)

    result = scan_paths(
        list(paths), list(tables), jobs=jobs, progress=progress, max_file_size=limit
    )
    if progress is not None:
        click.echo("", err=True)
    click.echo(RENDERERS[fmt](result), nl=False)
