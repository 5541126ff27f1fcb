"""The `migverify` command line: click commands only. Options in, library calls, rendering, exit code."""

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
    from migverify.errors import InputError
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
    from migverify.errors import InputError
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
    from migverify.errors import InputError
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


def _load_spec_argument(spec: Path | None) -> Any:
    from migverify.spec import load_spec

    return load_spec(spec or Path("."))


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
    from migverify.errors import InputError
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


@cli.group()
def reference() -> None:
    """The seed's learning pipeline, run as a reference consumer of the legacy names."""


@reference.command("run")
@click.option("--world", type=click.Choice(["legacy", "migrated"]), required=True)
@click.option(
    "--config",
    type=click.Path(path_type=Path),
    help="The spec (default: the seed's xbot scenario, fixtures/xbot, shipped with migverify).",
)
@click.option(
    "--compat",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The compatibility layer for the migrated world (default: the generated one).",
)
@click.option("--cycles", type=click.IntRange(1, 1_000_000), default=50, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@server_options
def reference_run(
    world: str,
    config: Path | None,
    compat: Path | None,
    cycles: int,
    seed: int,
    fmt: str,
    sandbox_config: Any,
) -> None:
    """Run N learning cycles (post, scrape, ingest, reward, bandits, generate) in a fresh world.

    \b
    Example:
      migverify reference run --world migrated --cycles 200 --seed 7 --format json
    """
    import json

    from migverify.reference import run_world, spec_for
    from migverify.sandbox import with_spec_roles
    from migverify.sqlload import read_script

    compat_sql = read_script(compat) if compat else None
    spec = spec_for(config)
    sandbox_config = with_spec_roles(sandbox_config, spec.roles)
    result = run_world(spec, world, cycles, seed, sandbox_config, compat_sql, str(compat or ""))
    _no_interrupt()
    if fmt == "json":
        click.echo(json.dumps(result, indent=2, sort_keys=True))
        return
    click.echo(f"{cycles} cycles in the {world} world (seed {seed})")
    for dimension, arms in result["arms"].items():
        best = max(arms, key=lambda a: arms[a]["alpha"] / (arms[a]["alpha"] + arms[a]["beta"]))
        pulls = ", ".join(f"{arm} {values['pulls']}" for arm, values in sorted(arms.items()))
        click.echo(f"  {dimension:<7} best {best:<12} pulls: {pulls}")
    shares = ", ".join(f"{t} {v:.0%}" for t, v in result["topic_share"].items())
    click.echo(f"  topics posted: {shares}")
    summary = result["summary"]
    click.echo(
        f"  mean reward {summary['mean_reward']:.3f} "
        f"(second half {summary['mean_reward_second_half']:.3f})"
    )


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
