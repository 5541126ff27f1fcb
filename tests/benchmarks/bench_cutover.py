"""Cutover under load: clients keep using the legacy names while forward.sql (then rollback.sql)
is applied. Counts failed client statements, acknowledged writes lost, and the longest stall.

Run: python tests/benchmarks/bench_cutover.py [--forward F --rollback R] [--pg-bin DIR]
     [--clients 8] [--seconds 3]
Defaults: fixtures/xbot with the generated layer when `migverify.generate` is available, else
the hand-written sound layer next to this file. Prints a Markdown table.

Online: python tests/benchmarks/bench_cutover.py --online --rows 100000,1000000 [--batch 50000]
     [--batch-seconds S] [--lock-timeout 100ms] [--one-transaction] [--control] [--deleter]
     [--trace FILE.json] [--table-from FILE.json]
Fills both xbot legacy tables with ROWS rows each, then runs the online phases (expand, backfill,
switch) through `migverify apply`'s driver while one reader and three writers use the legacy
names throughout; reports failed client statements, acknowledged writes lost, the longest client
stall and the p99.9 (overall and per phase), and the backfill's rows/s against one plain
`INSERT … SELECT` of the same rows (on a copy of the database, no clients). --one-transaction
also applies forward.sql under the same load, for comparison.

Every client statement slower than 50 ms is traced: its phase, kind, start and duration, what a
monitor connection saw its backend do every ~10 ms (pg_stat_activity wait events,
pg_blocking_pids), whether a checkpoint or an autovacuum ran, whether a heartbeat process (no GIL
shared with the clients) woke up late at the same time (the machine did not run it either), and
this process's garbage collections; from that a cause: a lock wait behind whom, the machine, the
client side, server CPU or another server wait. "Longest wait on the cutover's locks" counts only
statements blocked by the cutover's own connection. --control adds a run per size with the same
clients while the same backfill runs in a copy of the database (the machine's load without the
cutover); --deleter adds a client deleting old rows, the one write that waits for a batch's row
locks.

Client retry policy (what an application should do, and what the numbers assume): a statement
that fails with lock_timeout (55P03), a deadlock (40P01) or a serialization failure (40001) is
retried up to 3 times after 50 ms; only a statement that still fails counts as failed.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import psycopg

from migverify.generate import generate_files
from migverify.sandbox import Sandbox, SandboxConfig
from migverify.spec import load_spec
from migverify.sqlload import load_sql, load_sql_files

XBOT = Path(__file__).resolve().parents[2] / "fixtures" / "xbot"
RETRYABLE = {"55P03", "40P01", "40001"}


@dataclass
class ClientStats:
    statements: int = 0
    retried: int = 0
    failed: Counter = field(default_factory=Counter)  # message -> count
    acknowledged: list[str] = field(default_factory=list)  # tweet_ids whose insert committed
    longest: float = 0.0
    pid: int = 0  # the client's backend (for the wait samples)


def _run(
    conn: psycopg.Connection, stats: ClientStats, sql: str, params: tuple, kind: str = ""
) -> bool:
    for attempt in range(4):
        started = time.perf_counter()
        try:
            conn.execute(sql, params)
            seconds = time.perf_counter() - started
            stats.longest = max(stats.longest, seconds)
            if _STALLS is not None:
                _STALLS.record(seconds, started, kind, stats.pid)
            stats.statements += 1
            return True
        except psycopg.Error as error:
            seconds = time.perf_counter() - started
            stats.longest = max(stats.longest, seconds)
            if _STALLS is not None:
                _STALLS.record(seconds, started, f"{kind} ({error.sqlstate})", stats.pid)
            if error.sqlstate in RETRYABLE and attempt < 3:
                stats.retried += 1
                time.sleep(0.05)
                continue
            stats.failed[f"{error.sqlstate}: {str(error).splitlines()[0]}"] += 1
            return False
    return False


@contextmanager
def _connected(dsn: str, stats: ClientStats) -> Iterator[psycopg.Connection]:
    """A client's connection (autocommit), its backend's pid recorded for the monitor."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        stats.pid = conn.info.backend_pid
        yield conn


def reader(dsn: str, name: str, stop: threading.Event, stats: ClientStats) -> None:
    with _connected(dsn, stats) as conn:
        while not stop.is_set():
            _run(
                conn,
                stats,
                "SELECT d.tweet_id, d.content, m.likes FROM posted_decisions AS d "
                "JOIN real_tweet_metrics AS m USING (tweet_id) WHERE d.tweet_id = %s",
                (f"t{1 + int(time.perf_counter() * 1000) % 1000}",),
                "reader: join by key",
            )
            _run(
                conn,
                stats,
                "SELECT tweet_id FROM posted_decisions WHERE topic = %s ORDER BY posted_at DESC "
                "LIMIT 5",
                ("sleep",),
                "reader: latest by topic",
            )


def client(dsn: str, name: str, stop: threading.Event, stats: ClientStats) -> None:
    with _connected(dsn, stats) as conn:
        counter = 0
        while not stop.is_set():
            counter += 1
            tweet = f"load-{name}-{counter}"
            inserted = _run(
                conn,
                stats,
                "INSERT INTO posted_decisions (tweet_id, content, topic, quality_score) "
                "VALUES (%s, %s, %s, 0.5)",
                (tweet, f"load test {counter}", "sleep"),
                "writer: insert decision",
            )
            if inserted:
                stats.acknowledged.append(tweet)
                _run(
                    conn,
                    stats,
                    "INSERT INTO real_tweet_metrics (tweet_id, likes, impressions) VALUES (%s, 1, 10)",
                    (tweet,),
                    "writer: insert metrics",
                )
                _run(
                    conn,
                    stats,
                    "UPDATE posted_decisions SET quality_score = 0.75 WHERE tweet_id = %s",
                    (tweet,),
                    "writer: update decision",
                )
            _run(
                conn,
                stats,
                "SELECT tweet_id, content FROM posted_decisions WHERE topic = %s "
                "ORDER BY posted_at DESC LIMIT 5",
                ("sleep",),
                "writer: latest by topic",
            )


def deleter(dsn: str, rows: int, stop: threading.Event, stats: ClientStats) -> None:
    """--deleter: deletes random rows of the filled range of real_tweet_metrics, ~50 a second:
    the one kind of write that waits for a backfill batch holding the row (FOR KEY SHARE)."""
    import random

    pick = random.Random(7)
    with _connected(dsn, stats) as conn:
        while not stop.is_set():
            _run(
                conn,
                stats,
                "DELETE FROM real_tweet_metrics WHERE id = %s",
                (pick.randint(1, rows),),
                "deleter: delete an old metrics row",
            )
            time.sleep(0.02)


def phase(dsn: str, script: str, name: str, clients: int, seconds: float) -> dict:
    stop = threading.Event()
    stats = [ClientStats() for _ in range(clients)]
    threads = [
        threading.Thread(target=client, args=(dsn, f"{name}-{n}", stop, stats[n]))
        for n in range(clients)
    ]
    for thread in threads:
        thread.start()
    time.sleep(seconds / 2)
    started = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        load_sql(conn, script, name)
    applied = time.perf_counter() - started
    time.sleep(seconds / 2)
    stop.set()
    for thread in threads:
        thread.join()
    acknowledged = [t for s in stats for t in s.acknowledged]
    with psycopg.connect(dsn, autocommit=True) as conn:
        (found,) = conn.execute(
            "SELECT count(*) FROM posted_decisions WHERE tweet_id = ANY(%s)", (acknowledged,)
        ).fetchone()
    failures = [f for s in stats for f, count in s.failed.items() for _ in range(count)]
    return {
        "script": name,
        "statements": sum(s.statements for s in stats),
        "retried": sum(s.retried for s in stats),
        "failed": len(failures),
        "failures": sorted(set(failures))[:3],
        "acknowledged": len(acknowledged),
        "lost": len(acknowledged) - found,
        "stall_ms": max(s.longest for s in stats) * 1000,
        "apply_ms": applied * 1000,
    }


def layer_scripts(args: argparse.Namespace) -> tuple[str, str, str]:
    if args.forward:
        rollback = args.rollback.read_text() if args.rollback else ""
        return args.forward.read_text(), rollback, str(args.forward)
    files = generate_files(load_spec(XBOT), SandboxConfig(pg_bin=args.pg_bin))
    return files["forward.sql"], files.get("rollback.sql", ""), "generated xbot layer"


ONLINE_FILL = """
INSERT INTO posted_decisions (id, tweet_id, content, topic, posted_at)
SELECT g, 't' || g, 'content ' || g, 'topic ' || g % 20, timestamptz '2026-01-01' + g * interval '1 s'
FROM generate_series(1, {rows}) g;
SELECT setval(pg_get_serial_sequence('posted_decisions', 'id'), {rows});
INSERT INTO real_tweet_metrics (id, tweet_id, likes, retweets, impressions, collected_at)
SELECT g, 't' || g, g % 500, g % 50, 1000 + g % 9000, timestamptz '2026-01-01' + g * interval '1 s'
FROM generate_series(1, {rows}) g;
SELECT setval(pg_get_serial_sequence('real_tweet_metrics', 'id'), {rows});
"""


SLOW = 0.05  # a client statement slower than this is traced (phase, kind, start, waits)


@dataclass
class Slow:
    """One client statement slower than SLOW: when, what, and what its backend was doing."""

    phase: str
    kind: str
    pid: int
    start: float  # perf_counter
    seconds: float


class Stalls:
    """Every client statement's duration per phase of the cutover (the phase running when it
    ended), and the statements slower than SLOW."""

    def __init__(self) -> None:
        self.phase = "before"
        self.longest: dict[str, float] = {}
        self.durations: dict[str, list[float]] = {}
        self.slow: list[Slow] = []
        self.lock = threading.Lock()

    def record(self, seconds: float, start: float = 0.0, kind: str = "", pid: int = 0) -> None:
        with self.lock:
            self.longest[self.phase] = max(self.longest.get(self.phase, 0.0), seconds)
            self.durations.setdefault(self.phase, []).append(seconds)
            if seconds > SLOW:
                self.slow.append(Slow(self.phase, kind, pid, start, seconds))

    def percentile(self, phase: str, q: float) -> float:
        values = sorted(self.durations.get(phase, ()))
        if not values:
            return 0.0
        return values[min(len(values) - 1, int(q * len(values)))]


class Sample(NamedTuple):  # a tuple: millions of them cost the garbage collector nothing
    at: float  # perf_counter, midway through the sampling query
    pid: int
    backend: str  # backend_type
    state: str
    wait: str  # wait_event_type:wait_event, or "CPU" (active, no wait event)
    blockers: tuple[int, ...]
    query: str


class Monitor:
    """A connection that samples pg_stat_activity every INTERVAL seconds: what each backend of
    the benchmark's database (clients, the backfill driver, autovacuum workers) and the
    checkpointer are doing, and which backends block them (pg_blocking_pids)."""

    QUERY = """
        SELECT pid, backend_type, coalesce(state, ''),
               CASE WHEN wait_event IS NULL THEN CASE WHEN state = 'active' THEN 'CPU' ELSE '' END
                    ELSE wait_event_type || ':' || wait_event END,
               CASE WHEN wait_event_type = 'Lock' THEN pg_blocking_pids(pid) ELSE '{}' END,
               left(query, 80)
        FROM pg_stat_activity
        WHERE pid <> pg_backend_pid()
          AND (datname = current_database() OR backend_type = 'checkpointer')
    """

    def __init__(self, dsn: str, interval: float = 0.01) -> None:
        self.dsn, self.interval = dsn, interval
        self.samples: list[Sample] = []
        self.batches: list[tuple[float, float]] = []  # backfill batches: (start, end)
        self.checkpoints = 0  # checkpoints completed while it ran
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Monitor:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def _loop(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            counter = _checkpoint_counter(conn)
            first = conn.execute(counter).fetchone()[0]
            while not self.stop.is_set():
                before = time.perf_counter()
                rows = conn.execute(self.QUERY).fetchall()
                at = (before + time.perf_counter()) / 2
                self.samples.extend(Sample(at, *row[:4], tuple(row[4]), row[5]) for row in rows)
                time.sleep(max(0.0, self.interval - (time.perf_counter() - before)))
            self.checkpoints = conn.execute(counter).fetchone()[0] - first

    def progress(self, label: str, total: int) -> _BatchClock:
        """A ProgressFactory for run_backfill: notes when each batch ended."""
        return _BatchClock(self.batches)

    def explain(self, slow: Slow, names: dict[int, str], machine: Machine) -> dict:
        """What SLOW's backend was seen doing while it ran, what else was going on, and the
        likeliest cause."""
        import bisect

        end = slow.start + slow.seconds
        first = bisect.bisect_left(self.samples, slow.start, key=lambda s: s.at)
        last = bisect.bisect_right(self.samples, end, key=lambda s: s.at)
        during = self.samples[first:last]
        own = [s for s in during if s.pid == slow.pid]
        waits = Counter(s.wait or f"({s.state})" for s in own)
        blockers = Counter(names.get(b, f"pid {b}") for s in own for b in s.blockers)
        autovacuum = Counter(
            s.query.removeprefix("autovacuum: ")[:40]
            for s in during
            if s.backend == "autovacuum worker"
        )
        checkpointing = any(
            s.backend == "checkpointer" and s.wait not in ("", "Activity:CheckpointerMain")
            for s in during
        )
        batch = any(b_start < end and slow.start < b_end for b_start, b_end in self.batches)
        late = machine.overlap(machine.late, slow.start, end)
        collecting = machine.overlap(machine.gc, slow.start, end)
        return {
            "phase": slow.phase,
            "kind": slow.kind,
            "start_s": round(slow.start - _T0, 2),
            "ms": round(slow.seconds * 1000),
            "cause": _cause(slow.seconds, own, blockers, late, collecting),
            "samples": len(own),
            "waits": dict(waits.most_common(4)),
            "blocked_by": dict(blockers),
            "heartbeat_late_ms": round(late * 1000),
            "gc_ms": round(collecting * 1000),
            "batch_in_flight": batch,
            "checkpointing": checkpointing,
            "autovacuum": dict(autovacuum.most_common(2)),
        }


def _cause(
    seconds: float, own: list[Sample], blockers: Counter, late: float, collecting: float
) -> str:
    """The likeliest reason a client statement took SECONDS: its backend waited on a lock
    (behind whom), the machine did not run the heartbeat process either, this process was
    collecting garbage, its backend waited for the client (the benchmark process did not run
    the client thread), or the backend itself was busy (CPU) or waiting (I/O, LWLock)."""
    if own and sum(s.wait.startswith("Lock:") for s in own) >= len(own) / 2:
        return f"lock wait behind {', '.join(sorted(blockers)) or 'another backend'}"
    if late >= seconds / 2:
        return "machine (the heartbeat process was not run either)"
    if collecting >= seconds / 2:
        return "benchmark process collecting garbage"
    client = sum(s.wait == "Client:ClientRead" or s.state.startswith("idle") for s in own)
    if not own or client >= len(own) / 2:
        return "client side (backend idle: the benchmark process did not run the client)"
    if sum(s.wait == "CPU" for s in own) >= len(own) / 2:
        return "server CPU"
    return f"server: {Counter(s.wait for s in own).most_common(1)[0][0]}"


def _heartbeat(stop: Any, out: Any, interval: float = 0.005, late: float = 0.03) -> None:
    """In a process of its own (no GIL shared with the clients): sleeps INTERVAL again and
    again and sends every wake-up later than LATE (start, seconds): when the machine, not the
    benchmark or the server, did not run it."""
    misses = []
    while not stop.is_set():
        before = time.perf_counter()
        time.sleep(interval)
        overshoot = time.perf_counter() - before - interval
        if overshoot > late:
            misses.append((before, overshoot + interval))
    out.send(misses)


class Machine:
    """Where the benchmark process itself stood still: a heartbeat process's late wake-ups
    (the OS did not schedule it: the machine's load) and this process's garbage collections
    longer than 10 ms (every client thread waits for them)."""

    def __enter__(self) -> Machine:
        import gc
        import multiprocessing

        context = multiprocessing.get_context("fork")
        self.stop = context.Event()
        self.receive, send = context.Pipe(duplex=False)
        self.process = context.Process(target=_heartbeat, args=(self.stop, send), daemon=True)
        self.process.start()
        self.gc: list[tuple[float, float]] = []
        self._gc_started = 0.0
        gc.callbacks.append(self._collected)
        self.late: list[tuple[float, float]] = []
        return self

    def _collected(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        elif time.perf_counter() - self._gc_started > 0.01:
            self.gc.append((self._gc_started, time.perf_counter() - self._gc_started))

    def __exit__(self, *exc: object) -> None:
        import gc

        gc.callbacks.remove(self._collected)
        self.stop.set()
        self.late = self.receive.recv()
        self.process.join()

    @staticmethod
    def overlap(spans: list[tuple[float, float]], start: float, end: float) -> float:
        """Seconds of SPANS (start, seconds) within [START, END]."""
        return sum(
            max(0.0, min(end, s + d) - max(start, s)) for s, d in spans if s < end and start < s + d
        )


class _BatchClock:
    def __init__(self, batches: list[tuple[float, float]]) -> None:
        self.batches, self.last = batches, time.perf_counter()

    def __enter__(self) -> _BatchClock:
        self.last = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def update(self, rows: int) -> None:
        now = time.perf_counter()
        self.batches.append((self.last, now))
        self.last = now


def _checkpoint_counter(conn: psycopg.Connection) -> str:
    """A query for the number of checkpoints so far (pg_stat_checkpointer from PostgreSQL 17)."""
    if conn.info.server_version >= 170000:
        return "SELECT num_timed + num_requested FROM pg_stat_checkpointer"
    return "SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter"


_T0 = time.perf_counter()


def plain_copy(spec, box: Sandbox) -> str:
    """One INSERT … SELECT per table, the same columns as the backfill copies."""
    from migverify.generate import build_plans, load_schemas
    from migverify.quoting import ident, literal, qualified

    statements = []
    for plan in build_plans(spec, load_schemas(spec, box)):
        columns = [c for c in plan.target_columns if not c.target.generated]
        names = [ident(c.column) for c in columns] + [ident(c) for c, _ in plan.discriminator]
        values = [ident(c.legacy.name) for c in columns]
        values += [literal(v) for _, v in plan.discriminator]
        statements.append(
            f"INSERT INTO {qualified(plan.target.qualified_name)} ({', '.join(names)}) "
            f"SELECT {', '.join(values)} FROM {qualified(plan.legacy.qualified_name)};"
        )
    return "\n".join(statements)


def online_run(
    box: Sandbox,
    files: dict[str, str],
    plain_sql: str,
    rows: int,
    batch: int,
    one: bool,
    backfill_options: dict | None = None,
    control: bool = False,
    with_deleter: bool = False,
) -> dict:
    """One cutover of ROWS rows per legacy table under the clients' load. CONTROL: no cutover;
    the same backfill runs in a copy of the database (same server: the same CPU, WAL and
    checkpoint load, no lock or row in common with the clients), which tells the machine's share
    of the clients' stalls from the cutover's."""
    from migverify.apply import Retry, run_backfill, run_script

    backfill_options = backfill_options or {}
    db = box.create_database("online")
    with db.connect() as conn:
        load_sql_files(conn, [XBOT / "legacy.sql", XBOT / "target.sql"])
        load_sql(conn, ONLINE_FILL.format(rows=rows), "fill.sql")
        conn.execute("ANALYZE")
    plain = None
    if not control:  # the baseline: one INSERT … SELECT, no clients
        copy = box.clone(db, "plain")
        with copy.connect() as conn:
            started = time.perf_counter()
            load_sql(conn, plain_sql, "plain.sql")
            plain = time.perf_counter() - started
        box.drop_database(copy)
    quiet = None
    work = db
    if control:
        work = box.clone(db, "control")
        with psycopg.connect(work.dsn, autocommit=True) as conn:
            run_script(conn, files["online/expand.sql"], "expand", Retry(), lambda m: None)
    elif not one:  # the backfill alone, no clients: the like-for-like comparison with the above
        copy = box.clone(db, "quiet")
        with psycopg.connect(copy.dsn, autocommit=True) as conn:
            run_script(conn, files["online/expand.sql"], "expand", Retry(), lambda m: None)
            started = time.perf_counter()
            run_backfill(
                conn,
                files["online/backfill.sql"],
                batch,
                Retry(),
                lambda m: None,
                **backfill_options,
            )
            quiet = time.perf_counter() - started
        box.drop_database(copy)
    stalls = Stalls()
    stop = threading.Event()
    stats = [ClientStats() for _ in range(5 if with_deleter else 4)]
    global _STALLS
    _STALLS = stalls
    threads = [  # daemons: a failed phase must not leave the process waiting for them
        threading.Thread(target=reader, args=(db.dsn, "reader", stop, stats[0]), daemon=True)
    ] + [
        threading.Thread(target=client, args=(db.dsn, f"writer{n}", stop, stats[n]), daemon=True)
        for n in (1, 2, 3)
    ]
    if with_deleter:
        threads.append(
            threading.Thread(target=deleter, args=(db.dsn, rows, stop, stats[4]), daemon=True)
        )
    load_before = _load()
    machine = Machine().__enter__()
    monitor = Monitor(db.dsn).__enter__()
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    timings = {}
    with psycopg.connect(work.dsn, autocommit=True) as conn:
        driver = conn.info.backend_pid
        if one:
            stalls.phase = "forward.sql"
            started = time.perf_counter()
            load_sql(conn, files["forward.sql"], "forward.sql")
            timings["forward.sql"] = time.perf_counter() - started
        else:
            for phase, name in (
                ("expand", "online/expand.sql"),
                ("backfill", "online/backfill.sql"),
                ("switch", "online/switch.sql"),
            ):
                if control and phase != "backfill":
                    continue
                stalls.phase = phase
                started = time.perf_counter()
                if phase == "backfill":
                    run_backfill(
                        conn,
                        files[name],
                        batch,
                        Retry(),
                        lambda m: None,
                        progress=monitor.progress,
                        **backfill_options,
                    )
                else:
                    run_script(conn, files[name], name, Retry(), lambda m: None)
                timings[phase] = time.perf_counter() - started
    stalls.phase = "after"
    time.sleep(1.0)
    stop.set()
    for thread in threads:
        thread.join()
    monitor.__exit__()
    machine.__exit__()
    _STALLS = None
    load_after = _load()
    acknowledged = [t for s in stats for t in s.acknowledged]
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        (found,) = conn.execute(
            "SELECT count(*) FROM posted_decisions WHERE tweet_id = ANY(%s)", (acknowledged,)
        ).fetchone()
        (kind,) = conn.execute(
            "SELECT relkind FROM pg_class WHERE oid = 'public.posted_decisions'::regclass"
        ).fetchone()
    box.drop_database(db)
    if control:
        box.drop_database(work)
    failures = [f for s in stats for f, count in s.failed.items() for _ in range(count)]
    copied = 2 * rows
    names = {stats[0].pid: "reader", driver: "migverify apply (backfill/switch)"}
    names.update({stats[n].pid: f"writer{n}" for n in (1, 2, 3)})
    if with_deleter:
        names[stats[4].pid] = "deleter"
    slow = [monitor.explain(s, names, machine) for s in stalls.slow]
    return {
        "rows": rows,
        "mode": "control (backfill in a copy)"
        if control
        else "one transaction"
        if one
        else "online",
        "switched": kind == "v",
        "statements": sum(s.statements for s in stats),
        "retried": sum(s.retried for s in stats),
        "failed": len(failures),
        "failures": sorted(set(failures))[:3],
        "acknowledged": len(acknowledged),
        "lost": len(acknowledged) - found,
        "stall_ms": max(s.longest for s in stats) * 1000,
        "phase_stall_ms": {k: round(v * 1000) for k, v in stalls.longest.items()},
        "phase_p999_ms": {k: round(stalls.percentile(k, 0.999) * 1000) for k in stalls.durations},
        "timings": {k: round(v, 2) for k, v in timings.items()},
        "backfill_rows_s": copied / timings["backfill"] if "backfill" in timings else None,
        "plain_rows_s": copied / plain if plain else None,
        "quiet_rows_s": copied / quiet if quiet else None,
        "batches": _batch_summary(monitor.batches),
        "checkpoints": monitor.checkpoints,
        "checkpointing_share": _checkpointing_share(monitor.samples),
        "heartbeat_late": _spans(machine.late),
        "gc_pauses": _spans(machine.gc),
        "autovacuum": _autovacuum_runs(monitor.samples),
        "slow": slow,
        "load": f"{load_before} -> {load_after}",
    }


def _load() -> str:
    """The load averages (1, 5, 15 minutes) as uptime shows them."""
    with open("/proc/loadavg") as file:
        return " ".join(file.read().split()[:3])


def _batch_summary(batches: list[tuple[float, float]]) -> str:
    if not batches:
        return ""
    seconds = sorted(end - start for start, end in batches)
    return (
        f"{len(seconds)} batches, median {statistics.median(seconds) * 1000:.0f} ms, "
        f"longest {seconds[-1] * 1000:.0f} ms"
    )


def _spans(spans: list[tuple[float, float]]) -> str:
    """How many, the longest, and the total of SPANS (start, seconds)."""
    if not spans:
        return "none"
    return (
        f"{len(spans)}, longest {max(d for _, d in spans) * 1000:.0f} ms, "
        f"{sum(d for _, d in spans):.1f} s in all"
    )


def _checkpointing_share(samples: list[Sample]) -> float:
    """The share of the checkpointer's samples in which it was writing (a checkpoint in
    progress): the base rate for the slow statements' "checkpointing" count."""
    states = [s.wait for s in samples if s.backend == "checkpointer"]
    busy = sum(w not in ("", "Activity:CheckpointerMain") for w in states)
    return round(busy / len(states), 2) if states else 0.0


def _autovacuum_runs(samples: list[Sample]) -> list[str]:
    """Each autovacuum seen by the monitor: what, from when to when (seconds into the run)."""
    runs: dict[tuple[int, str], list[float]] = {}
    for s in samples:
        if s.backend == "autovacuum worker":
            runs.setdefault((s.pid, s.query), []).append(s.at)
    return [
        f"{query.removeprefix('autovacuum: ')} {min(at) - _T0:.1f}-{max(at) - _T0:.1f} s"
        for (pid, query), at in sorted(runs.items(), key=lambda item: min(item[1]))
    ]


def lock_wait_longest(slow: list[dict], phase: str | None = None) -> int:
    """The longest slow statement that waited on a lock held by the cutover's own connection
    (migverify apply), in PHASE or any: the stall the cutover's locks caused. Everything else
    (server CPU, the client side, the machine) shows up in the control run too."""
    return max(
        (
            s["ms"]
            for s in slow
            if s["cause"].startswith("lock wait behind migverify apply")
            and (phase is None or s["phase"] == phase)
        ),
        default=0,
    )


def summarize_slow(slow: list[dict], top: int = 6) -> list[str]:
    """Lines for the report: slow statements per phase and cause, and the slowest ones."""
    lines = []
    groups: dict[tuple[str, str], list[dict]] = {}
    for s in slow:
        groups.setdefault((s["phase"], s["cause"]), []).append(s)
    for (phase, cause), items in sorted(groups.items(), key=lambda g: -max(s["ms"] for s in g[1])):
        kinds = Counter(s["kind"] for s in items)
        lines.append(
            f"  {phase} / {cause}: {len(items)} over {SLOW * 1000:.0f} ms, longest "
            f"{max(s['ms'] for s in items)} ms ("
            + ", ".join(f"{k} {n}" for k, n in kinds.most_common(3))
            + f"); checkpoint running {sum(s['checkpointing'] for s in items)}/{len(items)}"
        )
    for s in sorted(slow, key=lambda s: -s["ms"])[:top]:
        lines.append(f"  slowest: {s}")
    return lines


def online_main(args: argparse.Namespace) -> None:
    import dataclasses
    import json

    from migverify.generate import generate_layer

    spec = dataclasses.replace(
        load_spec(XBOT),
        scan_paths=(),
        mode="online",
        batch_size=args.batch,
        lock_timeout=args.lock_timeout,
    )
    print(f"load before: {_load()}")
    backfill = {"batch_seconds": args.batch_seconds} if args.batch_seconds else {}
    results = []
    with Sandbox(SandboxConfig(pg_bin=args.pg_bin)) as box:
        version = box.server_version()
        files = generate_layer(spec, box)
        plain_sql = plain_copy(spec, box)
        for rows in (int(r) for r in args.rows.split(",")):
            for one in (False, True) if args.one_transaction else (False,):
                runs = [{"one": one}] + ([{"control": True}] if args.control and not one else [])
                for options in runs:
                    results.append(
                        online_run(
                            box,
                            files,
                            plain_sql,
                            rows,
                            args.batch,
                            backfill_options=backfill,
                            with_deleter=args.deleter,
                            **{"one": False, **options},
                        )
                    )
                    result = results[-1]
                    print(
                        {k: v for k, v in result.items() if k not in ("slow", "autovacuum")},
                        flush=True,
                    )
                    print(f"  autovacuum seen: {'; '.join(result['autovacuum']) or 'none'}")
                    print("\n".join(summarize_slow(result["slow"])), flush=True)
    print(
        f"load after: {_load()}; server {version}; batch {args.batch}"
        + (f" rows at most, about {args.batch_seconds} s each" if args.batch_seconds else "")
        + "; "
        f"lock_timeout {args.lock_timeout}"
    )
    if args.trace:
        args.trace.write_text(json.dumps(results, indent=1, default=str))
    print_table(results)


def print_table(results: list[dict]) -> None:
    print(
        "| rows per legacy table | mode | load (1 min) before → after | statements | retried | "
        "failed | acknowledged writes | lost | longest stall (ms) | stall per phase (ms) | "
        "p99.9 per phase (ms) | longest wait on the cutover's locks (ms) | phase seconds | "
        "backfill batches | backfill rows/s | "
        "backfill rows/s, no clients | plain INSERT … SELECT rows/s | ratio (no clients) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        ratio = f"{r['quiet_rows_s'] / r['plain_rows_s']:.2f}" if r["quiet_rows_s"] else ""
        plain = f"{r['plain_rows_s']:,.0f}" if r["plain_rows_s"] else ""
        backfill = f"{r['backfill_rows_s']:,.0f}" if r["backfill_rows_s"] else ""
        quiet = f"{r['quiet_rows_s']:,.0f}" if r["quiet_rows_s"] else ""
        load = " → ".join(part.split()[0] for part in r["load"].split(" -> "))
        print(
            f"| {r['rows']:,} | {r['mode']} | {load} | {r['statements']} | {r['retried']} | "
            f"{r['failed']} | {r['acknowledged']} | {r['lost']} | {r['stall_ms']:.0f} | "
            f"{', '.join(f'{k} {v}' for k, v in r['phase_stall_ms'].items())} | "
            f"{', '.join(f'{k} {v}' for k, v in r['phase_p999_ms'].items())} | "
            f"{lock_wait_longest(r['slow'])} (backfill {lock_wait_longest(r['slow'], 'backfill')}) | "
            f"{', '.join(f'{k} {v}' for k, v in r['timings'].items())} | {r['batches']} | "
            f"{backfill} | {quiet} | {plain} | {ratio} |"
        )
        for failure in r["failures"]:
            print(f"  failure: {failure}")


_STALLS: Stalls | None = None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--forward", type=Path)
    parser.add_argument("--rollback", type=Path)
    parser.add_argument("--pg-bin", type=Path)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--online", action="store_true")
    parser.add_argument("--rows", default="100000,1000000")
    parser.add_argument("--batch", type=int, default=50_000)
    parser.add_argument(
        "--batch-seconds",
        type=float,
        help="online: batches sized to last about this long (--batch rows at most)",
    )
    parser.add_argument(
        "--lock-timeout",
        default="100ms",
        help="online: the spec's lock_timeout, which bounds a client's wait behind the switch",
    )
    parser.add_argument("--one-transaction", action="store_true")
    parser.add_argument(
        "--control",
        action="store_true",
        help="online: after each size, a control run: the same clients with the same backfill "
        "running in a copy of the database (the machine's load without the cutover)",
    )
    parser.add_argument(
        "--deleter",
        action="store_true",
        help="online: a fifth client deletes random old rows of real_tweet_metrics (~50/s), "
        "which wait for a backfill batch that holds them",
    )
    parser.add_argument(
        "--trace", type=Path, help="online: write every result, slow statements included, as JSON"
    )
    parser.add_argument(
        "--table-from", type=Path, help="online: print the table of a --trace file, run nothing"
    )
    args = parser.parse_args()
    if args.table_from:
        import json

        print_table(json.loads(args.table_from.read_text()))
        return
    if args.online:
        online_main(args)
        return
    forward, rollback, label = layer_scripts(args)
    rows = []
    with Sandbox(SandboxConfig(pg_bin=args.pg_bin)) as box:
        for _ in range(args.repeat):
            db = box.create_database("cutover")
            with db.connect() as conn:
                load_sql_files(conn, [XBOT / "legacy.sql", XBOT / "seed.sql", XBOT / "target.sql"])
            runs = [phase(db.dsn, forward, "forward.sql", args.clients, args.seconds)]
            if rollback:
                runs.append(phase(db.dsn, rollback, "rollback.sql", args.clients, args.seconds))
            rows.append(runs)
            box.drop_database(db)
    print(f"layer: {label}; {args.clients} clients; medians over {args.repeat} runs")
    print(
        "| script | statements | retried | failed | acknowledged writes | lost | longest stall (ms) | apply (ms) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for index, first in enumerate(rows[0]):
        runs = [r[index] for r in rows]

        def med(key: str, runs: list[dict] = runs) -> float:
            return statistics.median(r[key] for r in runs)

        print(
            f"| {first['script']} | {med('statements'):.0f} | {med('retried'):.0f} | "
            f"{max(r['failed'] for r in runs)} | {med('acknowledged'):.0f} | "
            f"{max(r['lost'] for r in runs)} | {med('stall_ms'):.0f} | {med('apply_ms'):.0f} |"
        )
        for run in runs:
            for failure in run["failures"]:
                print(f"  failure: {failure}")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory():
        main()
