"""Cutover under load: clients keep using the legacy names while forward.sql (then rollback.sql)
is applied. Counts failed client statements, acknowledged writes lost, and the longest stall.

Run: python tests/benchmarks/bench_cutover.py [--forward F --rollback R] [--pg-bin DIR]
     [--clients 8] [--seconds 3]
Defaults: fixtures/xbot with the generated layer when `migverify.generate` is available, else
the hand-written sound layer next to this file. Prints a Markdown table.

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--forward", type=Path)
    parser.add_argument("--rollback", type=Path)
    parser.add_argument("--pg-bin", type=Path)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
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
