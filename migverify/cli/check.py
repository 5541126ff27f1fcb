"""`migverify check`: the whole pre-deploy gate (its options beside it)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from migverify.cli.common import (
    EXAMPLES,
    EXIT_FOUND,
    EXIT_OK,
    _check_writable,
    _no_interrupt,
    _progress_printer,
    _require_files,
    _write,
    cli,
    server_options,
    supabase_flag,
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
    "--compat",
    type=click.Path(path_type=Path),
    help="Check your own compatibility script instead of the generated layer.",
)
@click.option("--rollback", type=click.Path(path_type=Path), help="Your own rollback script.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github", "sarif", "markdown"]),
    default="text",
    show_default=True,
)
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning"]),
    default="error",
    show_default=True,
    help="Lowest severity that makes the verdict unsafe (exit 1).",
)
@click.option("--examples", type=EXAMPLES, help="Hypothesis examples per verify run.")
@click.option(
    "--sarif",
    "sarif_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a SARIF 2.1.0 report to this file (for code scanning).",
)
@click.option(
    "--consumer",
    type=click.Choice(["reference"]),
    help="Also run a consumer in both worlds: `reference` is the seed's learning pipeline.",
)
@click.option("--rules", "list_rules", is_flag=True, help="List the rules and exit.")
@click.option(
    "--allow-incomplete",
    is_flag=True,
    help="Exit 0 when the verdict is INCOMPLETE (nothing failed, something untested).",
)
@supabase_flag
@server_options
def check(
    directory: Path | None,
    config: Path | None,
    compat: Path | None,
    rollback: Path | None,
    fmt: str,
    fail_on: str,
    examples: int | None,
    sarif_path: Path | None,
    consumer: str | None,
    list_rules: bool,
    allow_incomplete: bool,
    supabase: bool,
    sandbox_config: Any,
) -> None:
    """Is it safe to cut over? Scan, lint, generate (or take --compat) and verify.

    Exit 0 when safe, 1 when not or when something asked for could not be tested (INCOMPLETE;
    --allow-incomplete lets that pass), 2 on bad input. With --format github, annotations go to
    stdout and a Markdown summary to $GITHUB_STEP_SUMMARY.

    \b
    Examples:
      migverify check fixtures/xbot
      migverify check fixtures/xbot --compat fixtures/xbot/seed-views.sql
      migverify check --config db/migverify.toml --format github --sarif migverify.sarif
    """
    from migverify.check import CheckRequest, run_check
    from migverify.report.check import RENDERERS, render_markdown, render_sarif

    if list_rules:
        from migverify.check.model import rule_catalog

        for rule_id, title, _ in rule_catalog():
            click.echo(f"{rule_id}  {title}")
        return
    if config is not None and directory is not None:
        raise InputError("give either DIRECTORY or --config, not both")
    spec = config or directory or Path(".")
    for option, path in (("--compat", compat), ("--rollback", rollback)):
        if path is not None:
            _require_files([path], option)
    if rollback is not None and compat is None:
        raise InputError("--rollback needs --compat (the generated layer has its own rollback)")
    summary_path = os.environ.get("GITHUB_STEP_SUMMARY") if fmt == "github" else None
    _check_writable(sarif_path, "--sarif")
    _check_writable(Path(summary_path) if summary_path else None, "$GITHUB_STEP_SUMMARY")
    progress = _progress_printer() if sys.stderr.isatty() else None
    result = run_check(
        CheckRequest(
            spec=spec,
            compat=compat,
            rollback=rollback,
            fail_on=fail_on,
            examples=examples,
            sandbox=sandbox_config,
            consumer=consumer,
            supabase=supabase,
            allow_incomplete=allow_incomplete,
        ),
        progress=progress,
    )
    _no_interrupt()
    if fmt == "text":
        from migverify.report.check import render_text

        click.echo(render_text(result, color=sys.stdout.isatty()), nl=False)
    else:
        click.echo(RENDERERS[fmt](result), nl=False)
    if summary_path:
        _write(Path(summary_path), render_markdown(result), "$GITHUB_STEP_SUMMARY", append=True)
    if sarif_path is not None:
        _write(sarif_path, render_sarif(result), "--sarif")
    sys.exit(EXIT_OK if result.passed else EXIT_FOUND)
