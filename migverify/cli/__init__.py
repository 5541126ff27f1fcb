"""The `migverify` command line: click commands only. Options in, library calls, rendering, exit
code. One room per command (its options beside it); common.py holds the group and what the
commands share."""

from __future__ import annotations

import logging
import os
import sys

import click

from migverify.cli import (  # noqa: F401 - importing a command's room registers the command
    apply,
    check,
    generate,
    inspect,
    reference,
    scan,
    verify,
)
from migverify.cli.common import EXIT_INPUT, EXIT_OK, cli

__all__ = ["cli", "main"]


def main() -> None:
    """Console-script entry point: usage errors are one line too, like every other error."""
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    # psycopg logs its own view of a cancelled query; the CLI reports the interrupt itself.
    logging.getLogger("psycopg").addHandler(logging.NullHandler())
    try:
        code = cli.main(prog_name="migverify", standalone_mode=False)
    except click.exceptions.UsageError as error:
        command = error.ctx.command_path if error.ctx else "migverify"
        message = " ".join(error.format_message().split())
        click.echo(f"migverify: error: {message} (see '{command} --help')", err=True)
        code = EXIT_INPUT
    except click.exceptions.ClickException as error:
        click.echo(f"migverify: error: {' '.join(error.format_message().split())}", err=True)
        code = error.exit_code
    except click.exceptions.Abort:
        click.echo("migverify: interrupted", err=True)
        code = 130
    sys.exit(code if isinstance(code, int) else EXIT_OK)
