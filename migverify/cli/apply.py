"""`migverify apply`: the online cutover, phase by phase (its options and progress beside it)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from migverify.cli.common import (
    _load_spec_argument,
    _progress_bar,
    _say,
    cli,
)
from migverify.errors import InputError


@cli.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path))
@click.option(
    "--config",
    type=click.Path(path_type=Path),
    help="The spec file (default: migverify.toml in DIRECTORY or the current directory).",
)
@click.option(
    "--dsn",
    required=True,
    help="The database to cut over (yours: this is the one command that changes it).",
)
@click.option(
    "--phase",
    type=click.Choice(["expand", "backfill", "switch", "all"]),
    default="all",
    show_default=True,
    help="Run one phase, or every phase still to run (all).",
)
@click.option("--rollback", is_flag=True, help="Undo the phase (all: back to the legacy tables).")
@click.option("--dry-run", is_flag=True, help="Print the SQL it would run; change nothing.")
@click.option(
    "--batch-size",
    type=click.IntRange(1),
    help="Rows per backfill batch (default: [generate] batch_size).",
)
@click.option(
    "--batch-seconds",
    type=click.FloatRange(0, min_open=True),
    help="Size each backfill batch to last about this long, from the previous batch's rate "
    "(--batch-size rows at most), and cancel a batch that runs 4 times longer (nothing copied; "
    "tried again with fewer rows): bounds how long a writer deleting a row, or changing its key, "
    "waits for the batch that holds it. Default: fixed --batch-size batches.",
)
@click.option(
    "--throttle",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    help="Seconds to pause between backfill batches.",
)
@click.option(
    "--retries",
    type=click.IntRange(1),
    default=10,
    show_default=True,
    help="Attempts when a lock times out or a deadlock aborts a phase (backoff in between).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def apply(
    directory: Path | None,
    config: Path | None,
    dsn: str,
    phase: str,
    rollback: bool,
    dry_run: bool,
    batch_size: int | None,
    batch_seconds: float | None,
    throttle: float,
    retries: int,
    fmt: str,
) -> None:
    """Cut over a live database in phases: expand, backfill, switch (or roll them back).

    Runs the reviewed SQL that `migverify generate` wrote under [generate] out (online/*.sql),
    from where the database stands (read from its catalog). Exit 0 done, 1 a lock could not be
    had after every retry (nothing changed), 2 the database is not ready for the phase, 130
    interrupted (the batch in flight is rolled back; run it again to resume).

    \b
    Examples:
      migverify apply fixtures/xbot --dsn postgresql://localhost/xbot --dry-run
      migverify apply fixtures/xbot --dsn postgresql://localhost/xbot --phase expand
      migverify apply fixtures/xbot --dsn postgresql://localhost/xbot            # the rest
      migverify apply fixtures/xbot --dsn postgresql://localhost/xbot --rollback
    """
    from migverify.apply import ApplyRequest, Retry
    from migverify.apply import apply as run_apply
    from migverify.report.apply import render_json, render_text

    if config is not None and directory is not None:
        raise InputError("give either DIRECTORY or --config, not both")
    spec = _load_spec_argument(config or directory)
    request = ApplyRequest(
        spec=spec,
        dsn=dsn,
        phase=phase,
        rollback=rollback,
        dry_run=dry_run,
        batch_size=batch_size,
        batch_seconds=batch_seconds,
        throttle=throttle,
        retry=Retry(attempts=retries),
    )
    interactive = fmt == "text" and sys.stderr.isatty()
    # Steps are announced on a terminal only; retries always (they explain a slow run in a log).
    result = run_apply(
        request, _say, _progress_bar if interactive else None, _say if interactive else None
    )
    if result.dry_run is not None:
        click.echo(result.dry_run, nl=False)
        return
    click.echo(render_json(result) if fmt == "json" else render_text(result), nl=False)
