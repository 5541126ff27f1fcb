"""What every command shares: the `migverify` group (errors, interrupts, notices, --version,
--debug), the server and Supabase options, exit codes, and small file and progress helpers."""

from __future__ import annotations

import functools
import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from migverify.errors import InputError, InternalError, MigverifyError

EXIT_OK, EXIT_FOUND, EXIT_INPUT, EXIT_INTERNAL = 0, 1, 2, 3
MAX_EXAMPLES = 100_000  # hypothesis examples per run: beyond this a run takes days
EXAMPLES = click.IntRange(1, MAX_EXAMPLES)
MAX_JOBS = 1024  # scan worker processes: each is forked up front, beyond this the OS refuses


class _Group(click.Group):
    """A click group that turns every error into one line on stderr and its exit code: 2 for
    input errors, 3 for anything unexpected (a bug: `--debug` shows the traceback)."""

    def invoke(self, ctx: click.Context) -> Any:
        from migverify.interrupt import handling_interrupts, interrupted

        try:
            with handling_interrupts():
                return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except (KeyboardInterrupt, Exception) as error:
            # A signal wins over whatever error it caused on the way out (a cancelled query).
            signum = interrupted()
            if signum is not None or isinstance(error, KeyboardInterrupt):
                if _debug(ctx):
                    traceback.print_exc()
                _exit_interrupted(ctx, signum or signal.SIGINT)
            if not isinstance(error, Exception):
                raise  # pragma: no cover - KeyboardInterrupt is handled above
            self._fail(ctx, error)

    def _fail(self, ctx: click.Context, error: Exception) -> None:
        if isinstance(error, MigverifyError):
            if _debug(ctx):
                traceback.print_exc()
            kind = "internal error" if isinstance(error, InternalError) else "error"
            click.echo(f"migverify: {kind}: {error}", err=True)
            ctx.exit(error.exit_code)
        else:
            debug = _debug(ctx)
            if debug:
                traceback.print_exc()
            message = " ".join(str(error).split()) or "(no message)"
            hint = "" if debug else " (rerun with --debug for the traceback)"
            click.echo(
                f"migverify: internal error: {type(error).__name__}: {message}{hint}", err=True
            )
            ctx.exit(EXIT_INTERNAL)


# What an interrupted command leaves, where it is not "no verdict".
_INTERRUPTED = {
    "apply": "the transaction in flight was rolled back (what committed before it stays); "
    "run the same command again to resume",
}


def _exit_interrupted(ctx: click.Context, signum: int) -> None:
    """Interrupted: no verdict, the word on stderr, exit 128 + the signal (130, 143)."""
    from migverify.interrupt import disarm

    disarm()
    name = signal.Signals(signum).name
    left = _INTERRUPTED.get(ctx.invoked_subcommand or "", "no verdict")
    click.echo(f"migverify: interrupted ({name}): {left}", err=True)
    ctx.exit(128 + signum)


def _no_interrupt() -> None:
    """Before rendering any result: an interrupted run has none (see migverify.interrupt)."""
    from migverify.interrupt import raise_if_interrupted

    raise_if_interrupted()


def _show_version(ctx: click.Context, value: bool) -> None:
    """--version, looked up only when asked for (click's version_option looks it up at import)."""
    if value and not ctx.resilient_parsing:
        import migverify

        click.echo(f"migverify, version {migverify.__version__}")
        ctx.exit()


def _debug(ctx: click.Context) -> bool:
    return bool(ctx.obj and ctx.obj.get("debug"))


class _Notices(logging.Handler):
    """The library's notices (logger "migverify"), each once per command, on the current stderr."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message not in self.seen:
            self.seen.add(message)
            click.echo(f"migverify: notice: {message}", err=True)


def _show_notices() -> None:
    logger = logging.getLogger("migverify")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for handler in [h for h in logger.handlers if isinstance(h, _Notices)]:
        logger.removeHandler(handler)
    logger.addHandler(_Notices())


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=lambda ctx, param, value: _show_version(ctx, value),
    help="Show the version and exit.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Prove a PostgreSQL compatibility layer safe before cutover."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    _show_notices()


def supabase_flag(func: Callable[..., Any]) -> Callable[..., Any]:
    """--supabase: load the SQL into a Supabase-compatible database even if it does not need it."""
    return click.option(
        "--supabase",
        is_flag=True,
        help="Load the SQL over the Supabase shim (roles, auth, storage, extensions) even when "
        "it does not use them (by default the shim is installed when it does).",
    )(func)


def supabase_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--supabase and --skip-extension for commands that take SQL files, not a spec."""

    @supabase_flag
    @click.option(
        "--skip-extension",
        "skip_extensions",
        multiple=True,
        metavar="NAME",
        help="Do not create this extension (repeatable); functions that call it are reported.",
    )
    @functools.wraps(func)
    def wrapper(*args: Any, supabase: bool, skip_extensions: tuple[str, ...], **kwargs: Any) -> Any:
        from migverify.supabase import SupabaseOptions

        options = SupabaseOptions("on" if supabase else "auto", tuple(skip_extensions))
        return func(*args, supabase=options, **kwargs)

    return wrapper


def _table_names(values: tuple[str, ...]) -> tuple[str, ...]:
    """--table values: a name or schema.name, nothing empty (a click.BadParameter otherwise)."""
    for value in values:
        parts = value.split(".")
        # `"` or `a.""`: nothing left once the quotes are taken off
        if not value.strip() or any(not part.strip().strip('"') for part in parts):
            raise click.BadParameter(f"{value!r} is not a table name", param_hint="--table")
        if len(parts) > 2 and not value.startswith('"'):
            raise click.BadParameter(
                f"{value!r} has {len(parts)} parts: give table or schema.table",
                param_hint="--table",
            )
    return values


def server_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by every command that needs a PostgreSQL server."""

    @click.option(
        "--dsn",
        envvar="MIGVERIFY_DSN",
        help="Use this server (scratch databases are created and dropped there) "
        "instead of an embedded PostgreSQL 18. Env: MIGVERIFY_DSN.",
    )
    @click.option(
        "--pg-bin",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="MIGVERIFY_PG_BIN",
        help="Start a throwaway server from this PostgreSQL bin directory "
        "(initdb, pg_ctl) instead of the embedded one. Env: MIGVERIFY_PG_BIN.",
    )
    @click.option(
        "--keep", is_flag=True, help="Keep the scratch databases and print how to connect."
    )
    @click.option(
        "--roles",
        "roles_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Create the roles of this file (pg_dumpall --roles-only output) before loading SQL; "
        "roles the server already has are left as they are.",
    )
    @functools.wraps(func)
    def wrapper(
        *args: Any,
        dsn: str | None,
        pg_bin: Path | None,
        keep: bool,
        roles_file: Path | None,
        **kwargs: Any,
    ) -> Any:
        from migverify.sandbox import SandboxConfig

        if roles_file is not None and not roles_file.is_file():
            raise InputError(f"{roles_file}: no such file (--roles)")
        config = SandboxConfig(dsn=dsn or None, pg_bin=pg_bin, keep=keep, roles=roles_file)
        return func(*args, sandbox_config=config, **kwargs)

    return wrapper


def _render_json(data: Any) -> str:
    import json

    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)


def _require_files(paths: list[Path] | tuple[Path, ...], option: str = "") -> None:
    """Fail before starting a server when an input file is not there."""
    what = f" ({option})" if option else ""
    for path in paths:
        if path.is_dir():
            raise InputError(f"{path}: is a directory, not an SQL file{what}")
        if not path.is_file():
            raise InputError(f"{path}: no such file{what}")


def _check_writable(path: Path | None, what: str) -> None:
    """Fail before the work, not after it, when a report file cannot be written."""
    if path is None:
        return
    if path.is_dir():
        raise InputError(f"{path}: is a directory ({what})")
    if path.exists():
        ok = os.access(path, os.W_OK)
    else:
        parent = path.parent if str(path.parent) else Path(".")
        if not parent.is_dir():
            raise InputError(f"{path}: no such directory {parent} ({what})")
        ok = os.access(parent, os.W_OK | os.X_OK)
    if not ok:
        raise InputError(f"{path}: not writable ({what})")


def _check_creatable(directory: Path, what: str) -> None:
    """Fail before the work when an output directory cannot be created or written."""
    existing = directory
    while not existing.exists() and not existing.is_symlink() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        reason = "not a directory" if existing == directory else f"{existing} is not a directory"
        raise InputError(f"{directory}: {reason} ({what})")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"{directory}: not writable ({what})")


def _write(path: Path, text: str, what: str, *, append: bool = False) -> None:
    try:
        with open(path, "a" if append else "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as error:
        raise InputError(f"{path}: cannot write ({what}): {error.strerror or error}") from None


def _progress_printer() -> Callable[[str], None]:
    def say(message: str) -> None:
        click.echo(f"migverify: {message}…", err=True)

    return say


def _load_spec_argument(spec: Path | None) -> Any:
    from migverify.spec import load_spec

    return load_spec(spec or Path("."))


def _say(message: str) -> None:
    click.echo(f"migverify: {message}", err=True)


def _progress_bar(label: str, total: int) -> Any:
    """A progress bar on stderr with rows/s and the time left."""
    import time

    started = time.perf_counter()
    bar = click.progressbar(
        length=max(total, 1),
        label=f"backfill {label}",
        file=sys.stderr,
        show_eta=True,
        show_percent=True,
        item_show_func=lambda done: (
            f"{done / max(time.perf_counter() - started, 1e-6):,.0f} rows/s"
            if done is not None
            else None
        ),
    )

    class Rows:
        def __init__(self) -> None:
            self.done = 0

        def __enter__(self) -> Rows:
            bar.__enter__()
            return self

        def __exit__(self, *exc: object) -> None:
            bar.__exit__(*exc)

        def update(self, rows: int) -> None:
            self.done += rows
            bar.update(rows, self.done)

    return Rows()
