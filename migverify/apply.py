"""`migverify apply`: run the online cutover's phases against a live database.

A thin driver over the reviewed SQL that `migverify generate` wrote under `[generate] out`
(`online/*.sql`): it reads where each legacy table stands from the catalog (`online/state.sql`:
a table, a table with its sync trigger, or a view), refuses a phase the database is not ready for,
runs each phase's transaction with retries when a lock cannot be had in time, and drives the
backfill batch by batch (the statements of `online/backfill.sql`), resuming where a previous run
stopped. Nothing here decides what the SQL does; the templates do.

Phases, in order: expand → backfill → switch; rollbacks in reverse: rollback-switch (back to the
expand phase's state, sync triggers included), rollback-backfill (targets emptied), rollback-expand
(sync triggers gone, targets emptied: as before expand).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from pglast import ast, parse_sql

from migverify import interrupt
from migverify.errors import InputError, MigverifyError
from migverify.spec import Spec
from migverify.sqlload import read_script, split_script

PHASES = ("expand", "backfill", "switch")
ROLLBACKS = {
    "switch": "rollback-switch",
    "backfill": "rollback-backfill",
    "expand": "rollback-expand",
}
SCRIPTS = {
    "expand": "online/expand.sql",
    "backfill": "online/backfill.sql",
    "switch": "online/switch.sql",
    "rollback-switch": "online/rollback-switch.sql",
    "rollback-backfill": "online/rollback-backfill.sql",
    "rollback-expand": "online/rollback-expand.sql",
}
STATE_SCRIPT = "online/state.sql"
STATE_ERROR = "MVST0"  # raised by the phases' own checks: the database is not ready for them
RETRYABLE = (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected)
T = TypeVar("T")


class StateError(InputError):
    """The database is not in the state the phase expects (exit 2, nothing changed)."""


class LockError(MigverifyError):
    """A lock could not be had after every retry (nothing changed; exit 1: try again later)."""

    exit_code = 1


@dataclass(frozen=True)
class TableState:
    """One legacy table as the catalog shows it."""

    legacy_table: str
    mode: str  # online | offline
    state: str  # legacy | expanded | switched | missing
    target_exists: bool
    estimated_rows: int = 0


@dataclass(frozen=True)
class Retry:
    """How long to keep trying when a lock times out (55P03) or a deadlock (40P01) aborts a
    transaction: exponential backoff from FIRST seconds, at most LONGEST, ATTEMPTS tries."""

    attempts: int = 10
    first: float = 0.2
    longest: float = 5.0

    def delays(self) -> Iterator[float]:
        delay = self.first
        for _ in range(self.attempts - 1):
            yield delay
            delay = min(delay * 2, self.longest)


@dataclass
class StepResult:
    """What one phase did (for the report)."""

    step: str
    seconds: float = 0.0
    retries: int = 0
    tables: list[dict[str, Any]] = field(default_factory=list)  # backfill: per table


Say = Callable[[str], None]
ProgressFactory = Callable[[str, int], Any]  # (label, total rows) -> context manager with update()


def read_scripts(out: Path | None, spec_path: Path) -> dict[str, str]:
    """The reviewed phase scripts under [generate] out (what `migverify generate` wrote)."""
    if out is None:
        raise InputError(
            f"{spec_path}: apply runs the reviewed SQL under [generate] out: set out and run "
            "`migverify generate` first"
        )
    scripts = {}
    for name in (STATE_SCRIPT, *SCRIPTS.values()):
        path = out / name
        if not path.is_file():
            raise InputError(f"{path}: no such file: run `migverify generate` first")
        scripts[name] = read_script(path)
    return scripts


def read_states(conn: psycopg.Connection, scripts: dict[str, str]) -> list[TableState]:
    try:
        rows = execute(conn, scripts[STATE_SCRIPT]).fetchall()
    except psycopg.Error as error:
        raise _error(error, STATE_SCRIPT) from None
    return [TableState(*row) for row in rows]


def plan_steps(states: Sequence[TableState], phase: str, rollback: bool) -> list[str]:
    """The steps to run from the current STATES, or a StateError saying why none can run."""
    online = [s for s in states if s.mode == "online"]
    offline = [s for s in states if s.mode != "online"]
    for state in states:
        if state.state == "missing":
            raise StateError(f"{state.legacy_table} does not exist in this database")
    switched = all(s.state == "switched" for s in states)
    if any(s.state == "switched" for s in states) and not switched:
        raise StateError(_mixed(states))
    expanded = bool(online) and all(s.state == "expanded" for s in online)
    if not switched and (
        any(s.state == "expanded" for s in online)
        and not expanded
        or any(s.state != "legacy" for s in offline)
    ):
        raise StateError(_mixed(states))
    at = "switched" if switched else "expanded" if expanded else "legacy"
    if rollback:
        return _rollback_steps(at, phase, bool(online))
    return _forward_steps(at, phase, states)


def _mixed(states: Sequence[TableState]) -> str:
    where = ", ".join(f"{s.legacy_table} {s.state}" for s in states)
    return f"the legacy tables are in different phases ({where}): roll back by hand first"


def _forward_steps(at: str, phase: str, states: Sequence[TableState]) -> list[str]:
    if at == "switched":
        raise StateError(
            f"{', '.join(s.legacy_table for s in states)} already switched (views): nothing "
            "to apply (`--rollback` goes back)"
        )
    for state in states:
        if not state.target_exists:
            raise StateError(
                f"the target table of {state.legacy_table} does not exist: apply the target SQL "
                "first"
            )
    has_online = any(s.mode == "online" for s in states)
    if phase == "all":
        steps = ["expand", "backfill", "switch"] if at == "legacy" else ["backfill", "switch"]
        return [s for s in steps if has_online or s != "backfill"]
    if phase == "expand" and at != "legacy":
        raise StateError("expand already ran (the sync triggers exist): continue with backfill")
    if phase in ("backfill", "switch") and at == "legacy" and has_online:
        raise StateError(f"{phase} needs the expand phase first (no sync trigger exists yet)")
    return [phase]


def _rollback_steps(at: str, phase: str, has_online: bool) -> list[str]:
    if phase == "all":
        if at == "switched":
            return ["rollback-switch", "rollback-expand"] if has_online else ["rollback-switch"]
        if at == "expanded":
            return ["rollback-expand"]
        raise StateError("nothing to roll back: every legacy table is a plain table")
    needed = {"switch": "switched", "backfill": "expanded", "expand": "expanded"}[phase]
    if at != needed:
        raise StateError(f"cannot roll back {phase}: the legacy tables are {at}, not {needed}")
    return [ROLLBACKS[phase]]


def check_offline_sizes(spec: Spec, states: Sequence[TableState], steps: Sequence[str]) -> None:
    """A table that generate judged small (offline: copied under the switch's lock) but that is
    large here is refused, unless the spec chose offline on purpose."""
    if "switch" not in steps:
        return
    for state in states:
        name = state.legacy_table
        chosen = spec.table(name).mode or (spec.mode if spec.mode != "auto" else None)
        if state.mode == "online" or chosen == "offline":
            continue
        if state.estimated_rows >= spec.online_threshold:
            raise StateError(
                f"{name} has about {state.estimated_rows:,} rows here (pg_class.reltuples) but "
                f"the generated SQL copies it under the switch's lock (offline): set mode = "
                f'"online" under [tables.{name}] and generate again (or mode = "offline" to '
                "accept the lock)"
            )


@dataclass(frozen=True)
class ApplyRequest:
    """What `migverify apply` was asked to do."""

    spec: Spec
    dsn: str
    phase: str = "all"  # expand | backfill | switch | all
    rollback: bool = False
    dry_run: bool = False
    batch_size: int | None = None  # default: [generate] batch_size
    throttle: float = 0.0  # seconds to sleep between backfill batches
    batch_seconds: float | None = None  # batches sized to last about this long (batch_size: most)
    retry: Retry = field(default_factory=Retry)


@dataclass
class ApplyResult:
    steps: list[str]
    results: list[StepResult]
    before: list[TableState]
    after: list[TableState]
    dry_run: str | None = None  # the SQL it would run


def apply(
    request: ApplyRequest,
    say: Say,
    progress: ProgressFactory | None = None,
    announce: Say | None = None,
) -> ApplyResult:
    """Run the steps the phase asks for from where the database stands. SAY tells about
    retries, ANNOUNCE about each step starting."""
    scripts = read_scripts(request.spec.out, request.spec.path)
    with _connect(request.dsn) as conn:
        before = read_states(conn, scripts)
        steps = plan_steps(before, request.phase, request.rollback)
        check_offline_sizes(request.spec, before, steps)
        if request.dry_run:
            return ApplyResult(steps, [], before, before, _dry_run(scripts, steps, request))
        results = []
        for step in steps:
            if announce is not None:
                announce(f"{step}: running {SCRIPTS[step]}")
            started = time.perf_counter()
            result = StepResult(step)
            if step == "backfill":
                result.tables = run_backfill(
                    conn,
                    scripts[SCRIPTS[step]],
                    request.batch_size or request.spec.batch_size,
                    request.retry,
                    say,
                    throttle=request.throttle,
                    progress=progress,
                    batch_seconds=request.batch_seconds,
                )
                result.retries = sum(t["retries"] for t in result.tables)
            else:
                result.retries = run_script(
                    conn, scripts[SCRIPTS[step]], SCRIPTS[step], request.retry, say
                )
            result.seconds = round(time.perf_counter() - started, 3)
            results.append(result)
        return ApplyResult(steps, results, before, read_states(conn, scripts))


@contextmanager
def _connect(dsn: str) -> Iterator[psycopg.Connection]:
    try:
        conn = psycopg.connect(dsn, autocommit=True)
    except psycopg.Error as error:
        message = (
            str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
        )
        raise InputError(f"--dsn: cannot connect: {message}") from None
    with conn:
        conn.add_notice_handler(lambda notice: None)
        yield conn


def _dry_run(scripts: dict[str, str], steps: Sequence[str], request: ApplyRequest) -> str:
    parts = []
    for step in steps:
        name = SCRIPTS[step]
        parts.append(f"-- migverify apply would run {name} ({step})")
        if step == "backfill":
            size = request.batch_size or request.spec.batch_size
            rows = (
                str(size)
                if request.batch_seconds is None
                else f"<rows: about {request.batch_seconds:g} s worth, at most {size}>"
            )
            parts.append(
                f"-- prepared, then per table: EXECUTE migverify_backfill_start_N; then "
                f"EXECUTE migverify_backfill_batch_N(<after>, <upto>, {rows}) per batch, one "
                "transaction each, until a batch reads no row"
            )
        parts.append(scripts[name].rstrip("\n"))
    return "\n\n".join(parts) + "\n"


# --- running scripts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ScriptParts:
    """A phase script cut at its transaction: statements before BEGIN, the transaction's
    statements (without BEGIN/COMMIT), statements after COMMIT (each its own transaction)."""

    before: tuple[str, ...]
    transaction: tuple[str, ...]
    after: tuple[str, ...]


@cache
def script_parts(text: str, name: str) -> ScriptParts:
    parts: tuple[list[str], list[str], list[str]] = ([], [], [])
    where = 0
    for statement in split_script(text, name):
        parsed = parse_sql(statement.text)
        node = parsed[0].stmt if parsed else None
        if isinstance(node, ast.TransactionStmt):
            where = 1 if node.kind.name in ("TRANS_STMT_BEGIN", "TRANS_STMT_START") else 2
            continue
        parts[where].append(statement.text.strip())
    return ScriptParts(tuple(parts[0]), tuple(parts[1]), tuple(parts[2]))


def execute(conn: psycopg.Connection, statement: str) -> psycopg.Cursor:
    """One statement as written (no client-side parameters: `%` is just a character)."""
    return conn.execute(statement.encode("utf-8"), prepare=False)  # type: ignore[arg-type]


def run_script(
    conn: psycopg.Connection,
    text: str,
    name: str,
    retry: Retry,
    say: Say,
    *,
    inside: bool = False,
) -> int:
    """Run a phase script: its transaction as a unit, again after a backoff when a lock timed
    out or a deadlock ended it. Returns the number of retries. INSIDE: the caller's transaction
    is already open (verify), run the statements in it without retries."""
    parts = script_parts(text, name)
    if inside:
        try:  # one round trip: the statements as one simple query
            execute(conn, ";\n".join((*parts.before, *parts.transaction, *parts.after)))
        except psycopg.Error as error:
            raise _error(error, name) from None
        return 0
    retries = 0
    for statement in parts.before:
        retries += _with_retries(conn, [statement], retry, say, name)
    if parts.transaction:
        retries += _with_retries(conn, parts.transaction, retry, say, name)
    for statement in parts.after:
        retries += _with_retries(conn, [statement], retry, say, name)
    return retries


def _with_retries(
    conn: psycopg.Connection, statements: Sequence[str], retry: Retry, say: Say, name: str
) -> int:
    def attempt() -> None:
        with conn.transaction():
            for statement in statements:
                execute(conn, statement)

    _, retries = _retrying(
        conn,
        attempt,
        retry,
        say,
        name,
        gave_up="{name}: {reason} after {attempts} attempts ({message}); nothing was changed: "
        "try again later",
        retrying="{name}: {reason}, retrying in {delay:.1f} s",
    )
    return retries


def _retrying(
    conn: psycopg.Connection,
    attempt: Callable[[], T],
    retry: Retry,
    say: Say,
    name: str,
    *,
    gave_up: str,
    retrying: str,
    passing: tuple[type[Exception], ...] = (),
) -> tuple[T, int]:
    """ATTEMPT's result and the number of retries: ATTEMPT again after a backoff when a lock
    timed out or a deadlock ended it, at most RETRY.attempts times. The two messages are format
    strings with {name}, {reason} (lock timeout | deadlock), {message} (the server's),
    {attempts} and, for RETRYING (said before each retry), {delay}; GAVE_UP is the LockError's.
    Inside a caller's transaction (aborted by the error) nothing is retried. PASSING: errors
    raised as they are, for the caller to handle."""
    delays, retries = retry.delays(), 0
    while True:
        try:
            return attempt(), retries
        except RETRYABLE as error:
            if conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR:
                raise _error(error, name) from None  # inside a caller's transaction
            fields = {
                "name": name,
                "reason": "lock timeout" if error.sqlstate == "55P03" else "deadlock",
                "message": error.diag.message_primary,
                "attempts": retry.attempts,
            }
            delay = next(delays, None)
            if delay is None:
                raise LockError(gave_up.format(**fields)) from None
            retries += 1
            say(retrying.format(delay=delay, **fields))
            time.sleep(delay)
        except passing:
            raise
        except psycopg.Error as error:
            raise _error(error, name) from None


class ScriptError(MigverifyError):
    """A phase script failed on the server (exit 2); SQLSTATE says how, for callers that tell
    a bug in the generated SQL from a problem of the database it ran on (`migverify check`)."""

    def __init__(self, message: str, sqlstate: str | None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def _error(error: psycopg.Error, name: str) -> MigverifyError:
    message = (error.diag.message_primary or str(error)).strip()
    if error.sqlstate == STATE_ERROR:
        return StateError(f"{name}: {message}")
    return ScriptError(
        f"{name}: {message} (SQLSTATE {error.sqlstate}); nothing was changed", error.sqlstate
    )


# --- the backfill ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackfillStatements:
    """The prepared statements of online/backfill.sql, numbered per table in order."""

    prepares: tuple[str, ...]
    names: tuple[str, ...]  # of the prepares
    tables: tuple[tuple[str, str], ...]  # (start statement name, batch statement name)


@cache
def backfill_statements(text: str) -> BackfillStatements:
    prepares, names = [], []
    for statement in split_script(text, SCRIPTS["backfill"]):
        node = parse_sql(statement.text)[0].stmt
        if not isinstance(node, ast.PrepareStmt):
            raise MigverifyError(f"{SCRIPTS['backfill']}:{statement.line}: not a PREPARE")
        prepares.append(statement.text.strip())
        names.append(node.name)
    starts = [n for n in names if n.startswith("migverify_backfill_start_")]
    return BackfillStatements(
        tuple(prepares),
        tuple(names),
        tuple((start, start.replace("_start_", "_batch_")) for start in starts),
    )


def prepare_backfill(conn: psycopg.Connection, text: str) -> None:
    """PREPARE the statements of online/backfill.sql in CONN's session, those not prepared
    yet (prepared statements outlive a ROLLBACK, but psycopg may DEALLOCATE ALL after one)."""
    conn.execute("SET plan_cache_mode = force_custom_plan")  # $1 IS NULL folds per batch
    statements = backfill_statements(text)
    prepares = dict(zip(statements.names, statements.prepares, strict=True))
    present = conn.execute(
        "SELECT array_agg(name) FROM pg_prepared_statements WHERE name = ANY(%s)",
        (list(prepares),),
    ).fetchone()[0]
    for name, prepare in prepares.items():
        if name not in (present or ()):
            execute(conn, prepare)


FIRST_TIMED_BATCH = 1000  # rows in the first batch when batches are sized by time
SMALLEST_TIMED_BATCH = 100
# A batch sized to last S seconds is cancelled after this many times S (statement_timeout; its
# row locks go with it, nothing was copied) and tried again with a quarter of the rows; at the
# smallest size it runs without a timeout, so the backfill always gets on.
TIMED_BATCH_CANCEL_AFTER = 4


def next_batch_size(rows: int, seconds: float, target: float, largest: int) -> int:
    """The rows of the next batch when batches should last about TARGET seconds: the last
    batch's rate (ROWS in SECONDS) times TARGET, at most twice the last batch (a fast batch
    says little about a larger one), never more than LARGEST nor fewer than
    SMALLEST_TIMED_BATCH."""
    size = int(rows * target / seconds) if seconds > 0 else 2 * rows
    return max(min(SMALLEST_TIMED_BATCH, largest), min(largest, 2 * max(rows, 1), size))


def run_backfill(
    conn: psycopg.Connection,
    text: str,
    batch_size: int,
    retry: Retry,
    say: Say,
    *,
    throttle: float = 0.0,
    progress: ProgressFactory | None = None,
    limit_batches: int | None = None,
    batch_seconds: float | None = None,
) -> list[dict[str, Any]]:
    """Copy every online table's rows, one transaction per batch, resuming after the last key
    copied. LIMIT_BATCHES stops early (verify interleaves a workload with the backfill).
    BATCH_SECONDS: each batch is sized from the previous one's rate to last about that long,
    BATCH_SIZE rows at most, and cancelled (rolled back, nothing copied) when it runs
    TIMED_BATCH_CANCEL_AFTER times longer, then tried again smaller (a batch's row locks make a
    concurrent DELETE or key UPDATE of its rows wait for its COMMIT: time bounds that wait, rows
    do not)."""
    statements = backfill_statements(text)
    prepare_backfill(conn, text)
    results = []
    client = psycopg.ClientCursor(conn)  # EXECUTE takes no server-side parameters
    for start, batch in statements.tables:
        table, after, upto, remaining = client.execute(f"EXECUTE {start}").fetchone()
        started = time.perf_counter()
        copied = read = batches = retries = cancelled = 0
        longest = 0.0
        size = batch_size if batch_seconds is None else min(batch_size, FIRST_TIMED_BATCH)
        with _progress(progress, table, int(remaining)) as bar:
            while limit_batches is None or batches < limit_batches:
                batch_started = time.perf_counter()
                try:
                    row, tries = _batch(
                        conn,
                        client,
                        batch,
                        (after, upto, size),
                        retry,
                        say,
                        timeout=_batch_timeout(batch_seconds, size),
                    )
                except psycopg.errors.QueryCanceled:
                    interrupt.raise_if_interrupted()  # Ctrl-C, not the batch's timeout
                    # A timeout that fell on the transaction's end (its COMMIT, or a cancel the
                    # server took at the next statement) can leave it aborted: end it first.
                    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                        conn.rollback()
                    prepare_backfill(conn, text)  # in case a ROLLBACK deallocated them
                    cancelled += 1
                    size = max(SMALLEST_TIMED_BATCH, size // 4)
                    continue
                elapsed = time.perf_counter() - batch_started
                retries += tries
                new_after, rows_read, rows_copied = row
                if rows_read == 0:
                    break
                after, read, copied, batches = (
                    new_after,
                    read + rows_read,
                    copied + rows_copied,
                    batches + 1,
                )
                longest = max(longest, elapsed)
                if batch_seconds is not None:
                    size = next_batch_size(rows_read, elapsed, batch_seconds, batch_size)
                bar.update(rows_read)
                if throttle:
                    time.sleep(throttle)
        seconds = time.perf_counter() - started
        results.append(
            {
                "table": table,
                "rows_read": read,
                "rows_copied": copied,
                "batches": batches,
                "longest_batch_seconds": round(longest, 3),
                **({"batches_cancelled": cancelled} if batch_seconds is not None else {}),
                "retries": retries,
                "seconds": round(seconds, 3),
            }
        )
    return results


def _batch(
    conn: psycopg.Connection,
    client: psycopg.ClientCursor,
    batch: str,
    params: tuple[Any, Any, int],
    retry: Retry,
    say: Say,
    *,
    timeout: str | None = None,
) -> tuple[tuple[Any, int, int], int]:
    """One batch: its own transaction (autocommit), or with TIMEOUT an explicit one whose
    statement_timeout it is (SET LOCAL: gone with the COMMIT or ROLLBACK, whatever happens)."""

    def attempt() -> tuple[Any, int, int]:
        if timeout is None:
            row = client.execute(f"EXECUTE {batch}(%s, %s, %s)", params).fetchone()
        else:
            with conn.transaction():
                conn.execute(  # never prepared by psycopg: its DEALLOCATE ALL after a ROLLBACK
                    "SELECT set_config('statement_timeout', %s, true)",  # would take ours too
                    (timeout,),
                    prepare=False,
                )
                row = client.execute(f"EXECUTE {batch}(%s, %s, %s)", params).fetchone()
        return row[0], int(row[1]), int(row[2])

    return _retrying(
        conn,
        attempt,
        retry,
        say,
        SCRIPTS["backfill"],
        gave_up="{name}: {message} after {attempts} attempts; the batches before it are kept: "
        "rerun to resume",
        retrying="backfill: {message}, retrying in {delay:.1f} s",
        passing=(psycopg.errors.QueryCanceled,) if timeout is not None else (),
    )


def _batch_timeout(batch_seconds: float | None, size: int) -> str | None:
    """The statement_timeout of a batch of SIZE rows sized to last BATCH_SECONDS:
    TIMED_BATCH_CANCEL_AFTER times that, none ("0") at the smallest size; None: not timed."""
    if batch_seconds is None:
        return None
    if size <= SMALLEST_TIMED_BATCH:
        return "0"
    return f"{max(1, round(TIMED_BATCH_CANCEL_AFTER * batch_seconds * 1000))}ms"


@contextmanager
def _progress(factory: ProgressFactory | None, label: str, total: int) -> Iterator[Any]:
    if factory is None:
        yield _NoProgress()
        return
    with factory(label, total) as bar:
        yield bar


class _NoProgress:
    def update(self, rows: int) -> None:
        pass
