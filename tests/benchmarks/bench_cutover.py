"""Cutover under load: clients keep using the legacy names while forward.sql (then rollback.sql)
is applied. Counts failed client statements, acknowledged writes lost, and the longest stall.

Run: python tests/benchmarks/bench_cutover.py [--forward F --rollback R] [--pg-bin DIR]
     [--clients 8] [--seconds 3]
Defaults: fixtures/xbot with the generated layer when `migverify.generate` is available, else
the hand-written sound layer next to this file. Prints a Markdown table.

Online: python tests/benchmarks/bench_cutover.py --online --rows 100000,1000000 [--batch 50000]
     [--lock-timeout 100ms]
     [--one-transaction]
Fills both xbot legacy tables with ROWS rows each, then runs the online phases (expand, backfill,
switch) through `migverify apply`'s driver while one reader and three writers use the legacy
names throughout; reports failed client statements, acknowledged writes lost, the longest client
stall (overall and per phase), and the backfill's rows/s against one plain `INSERT … SELECT` of
the same rows (on a copy of the database, no clients). --one-transaction also applies forward.sql
under the same load, for comparison.

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
from dataclasses import dataclass, field
from pathlib import Path

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


def _run(conn: psycopg.Connection, stats: ClientStats, sql: str, params: tuple) -> bool:
    for attempt in range(4):
        started = time.perf_counter()
        try:
            conn.execute(sql, params)
            stats.longest = max(stats.longest, time.perf_counter() - started)
            if _STALLS is not None:
                _STALLS.record(time.perf_counter() - started)
            stats.statements += 1
            return True
        except psycopg.Error as error:
            stats.longest = max(stats.longest, time.perf_counter() - started)
            if error.sqlstate in RETRYABLE and attempt < 3:
                stats.retried += 1
                time.sleep(0.05)
                continue
            stats.failed[f"{error.sqlstate}: {str(error).splitlines()[0]}"] += 1
            return False
    return False


def reader(dsn: str, name: str, stop: threading.Event, stats: ClientStats) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        while not stop.is_set():
            _run(
                conn,
                stats,
                "SELECT d.tweet_id, d.content, m.likes FROM posted_decisions AS d "
                "JOIN real_tweet_metrics AS m USING (tweet_id) WHERE d.tweet_id = %s",
                (f"t{1 + int(time.perf_counter() * 1000) % 1000}",),
            )
            _run(
                conn,
                stats,
                "SELECT tweet_id FROM posted_decisions WHERE topic = %s ORDER BY posted_at DESC "
                "LIMIT 5",
                ("sleep",),
            )


def client(dsn: str, name: str, stop: threading.Event, stats: ClientStats) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
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
            )
            if inserted:
                stats.acknowledged.append(tweet)
                _run(
                    conn,
                    stats,
                    "INSERT INTO real_tweet_metrics (tweet_id, likes, impressions) VALUES (%s, 1, 10)",
                    (tweet,),
                )
                _run(
                    conn,
                    stats,
                    "UPDATE posted_decisions SET quality_score = 0.75 WHERE tweet_id = %s",
                    (tweet,),
                )
            _run(
                conn,
                stats,
                "SELECT tweet_id, content FROM posted_decisions WHERE topic = %s "
                "ORDER BY posted_at DESC LIMIT 5",
                ("sleep",),
            )


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


class Stalls:
    """The longest client statement per phase of the cutover (what phase was running when it
    ended)."""

    def __init__(self) -> None:
        self.phase = "before"
        self.longest: dict[str, float] = {}
        self.lock = threading.Lock()

    def record(self, seconds: float) -> None:
        with self.lock:
            self.longest[self.phase] = max(self.longest.get(self.phase, 0.0), seconds)


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
    box: Sandbox, files: dict[str, str], plain_sql: str, rows: int, batch: int, one: bool
) -> dict:
    from migverify.apply import Retry, run_backfill, run_script

    db = box.create_database("online")
    with db.connect() as conn:
        load_sql_files(conn, [XBOT / "legacy.sql", XBOT / "target.sql"])
        load_sql(conn, ONLINE_FILL.format(rows=rows), "fill.sql")
        conn.execute("ANALYZE")
    copy = box.clone(db, "plain")  # the baseline: one INSERT … SELECT, no clients
    with copy.connect() as conn:
        started = time.perf_counter()
        load_sql(conn, plain_sql, "plain.sql")
        plain = time.perf_counter() - started
    box.drop_database(copy)
    quiet = None
    if not one:  # the backfill alone, no clients: the like-for-like comparison with the above
        copy = box.clone(db, "quiet")
        with psycopg.connect(copy.dsn, autocommit=True) as conn:
            run_script(conn, files["online/expand.sql"], "expand", Retry(), lambda m: None)
            started = time.perf_counter()
            run_backfill(conn, files["online/backfill.sql"], batch, Retry(), lambda m: None)
            quiet = time.perf_counter() - started
        box.drop_database(copy)
    stalls = Stalls()
    stop = threading.Event()
    stats = [ClientStats() for _ in range(4)]
    global _STALLS
    _STALLS = stalls
    threads = [threading.Thread(target=reader, args=(db.dsn, "reader", stop, stats[0]))] + [
        threading.Thread(target=client, args=(db.dsn, f"writer{n}", stop, stats[n]))
        for n in (1, 2, 3)
    ]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    timings = {}
    with psycopg.connect(db.dsn, autocommit=True) as conn:
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
                stalls.phase = phase
                started = time.perf_counter()
                if phase == "backfill":
                    run_backfill(conn, files[name], batch, Retry(), lambda m: None)
                else:
                    run_script(conn, files[name], name, Retry(), lambda m: None)
                timings[phase] = time.perf_counter() - started
    stalls.phase = "after"
    time.sleep(1.0)
    stop.set()
    for thread in threads:
        thread.join()
    _STALLS = None
    acknowledged = [t for s in stats for t in s.acknowledged]
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        (found,) = conn.execute(
            "SELECT count(*) FROM posted_decisions WHERE tweet_id = ANY(%s)", (acknowledged,)
        ).fetchone()
        (kind,) = conn.execute(
            "SELECT relkind FROM pg_class WHERE oid = 'public.posted_decisions'::regclass"
        ).fetchone()
    box.drop_database(db)
    failures = [f for s in stats for f, count in s.failed.items() for _ in range(count)]
    copied = 2 * rows
    return {
        "rows": rows,
        "mode": "one transaction" if one else "online",
        "switched": kind == "v",
        "statements": sum(s.statements for s in stats),
        "retried": sum(s.retried for s in stats),
        "failed": len(failures),
        "failures": sorted(set(failures))[:3],
        "acknowledged": len(acknowledged),
        "lost": len(acknowledged) - found,
        "stall_ms": max(s.longest for s in stats) * 1000,
        "phase_stall_ms": {k: round(v * 1000) for k, v in stalls.longest.items()},
        "timings": {k: round(v, 2) for k, v in timings.items()},
        "backfill_rows_s": copied / timings["backfill"] if "backfill" in timings else None,
        "plain_rows_s": copied / plain,
        "quiet_rows_s": copied / quiet if quiet else None,
    }


def online_main(args: argparse.Namespace) -> None:
    import dataclasses
    import subprocess

    from migverify.generate import generate_layer

    spec = dataclasses.replace(load_spec(XBOT), scan_paths=(), mode="online", batch_size=args.batch)
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"load before: {load}")
    results = []
    with Sandbox(SandboxConfig(pg_bin=args.pg_bin)) as box:
        version = box.server_version()
        files = generate_layer(spec, box)
        plain_sql = plain_copy(spec, box)
        for rows in (int(r) for r in args.rows.split(",")):
            for one in (False, True) if args.one_transaction else (False,):
                results.append(online_run(box, files, plain_sql, rows, args.batch, one))
                print(results[-1], flush=True)
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(
        f"load after: {load}; server {version}; batch {args.batch}; "
        f"lock_timeout {args.lock_timeout}"
    )
    print(
        "| rows per legacy table | mode | statements | retried | failed | acknowledged writes | "
        "lost | longest stall (ms) | stall per phase (ms) | phase seconds | backfill rows/s | "
        "backfill rows/s, no clients | plain INSERT … SELECT rows/s | ratio (no clients) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        ratio = f"{r['quiet_rows_s'] / r['plain_rows_s']:.2f}" if r["quiet_rows_s"] else ""
        backfill = f"{r['backfill_rows_s']:,.0f}" if r["backfill_rows_s"] else ""
        quiet = f"{r['quiet_rows_s']:,.0f}" if r["quiet_rows_s"] else ""
        print(
            f"| {r['rows']:,} | {r['mode']} | {r['statements']} | {r['retried']} | {r['failed']} | "
            f"{r['acknowledged']} | {r['lost']} | {r['stall_ms']:.0f} | "
            f"{', '.join(f'{k} {v}' for k, v in r['phase_stall_ms'].items())} | "
            f"{', '.join(f'{k} {v}' for k, v in r['timings'].items())} | {backfill} | {quiet} | "
            f"{r['plain_rows_s']:,.0f} | {ratio} |"
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
        "--lock-timeout",
        default="100ms",
        help="online: the spec's lock_timeout, which bounds a client's wait behind the switch",
    )
    parser.add_argument("--one-transaction", action="store_true")
    args = parser.parse_args()
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
