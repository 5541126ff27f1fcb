"""`migverify generate` and `migverify rollback`: the layer's SQL from a spec."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from migverify.cli.common import (
    _check_creatable,
    _load_spec_argument,
    _no_interrupt,
    cli,
    server_options,
    supabase_flag,
)
from migverify.errors import InputError


@cli.command()
@click.argument("spec", required=False, type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for forward.sql, rollback.sql and REVIEW.md (default: [generate] out, "
    "else print forward.sql).",
)
@supabase_flag
@server_options
def generate(spec: Path | None, out: Path | None, supabase: bool, sandbox_config: Any) -> None:
    """Write the compatibility layer for SPEC (migverify.toml or a directory holding it).

    Files are parsed by pglast and pretty-printed, and byte-identical on every run.

    \b
    Example:
      migverify generate fixtures/xbot --out /tmp/xbot-layer
    """
    from migverify.generate import generate_files, write_files

    loaded = _load_spec_argument(spec)
    target = out or loaded.out
    what = "--out" if out is not None else "[generate] out"
    if target is not None:
        _check_creatable(target, what)
    files = generate_files(loaded, sandbox_config, supabase)
    _no_interrupt()
    if target is None:
        click.echo(files["forward.sql"], nl=False)
        return
    try:
        write_files(files, target)
    except OSError as error:
        raise InputError(f"{target}: cannot write ({what}): {error.strerror or error}") from None
    for name in files:
        click.echo(f"wrote {target / name}", err=True)


@cli.command()
@click.argument("spec", required=False, type=click.Path(path_type=Path))
@supabase_flag
@server_options
def rollback(spec: Path | None, supabase: bool, sandbox_config: Any) -> None:
    """Print the rollback script of SPEC's compatibility layer.

    \b
    Example:
      migverify rollback fixtures/xbot > rollback.sql
    """
    from migverify.generate import generate_files

    files = generate_files(_load_spec_argument(spec), sandbox_config, supabase)
    click.echo(files["rollback.sql"], nl=False)
