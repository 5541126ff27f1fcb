"""Moving a foreign key of an outside table at cutover: NOT VALID inside the transaction, VALIDATE
after it, against adding it validated under the cutover lock.

Run: python tests/benchmarks/bench_fk_retarget.py [--children 1000000] [--pg-bin DIR]
Uses fixtures/generate/outside_fk (post_replies → posted_decisions, ON DELETE CASCADE). Prints the
time the FK statements take inside the cutover transaction (the referencing table is locked),
the VALIDATE after COMMIT, the same constraint added validated (what the lock would cost without
NOT VALID), and the longest wait of a writer inserting replies while VALIDATE runs.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import psycopg

from migverify.generate import generate_layer
from migverify.sandbox import Sandbox, SandboxConfig
from migverify.spec import load_spec
from migverify.sqlload import load_sql_files, split_script

SCENARIO = Path(__file__).resolve().parents[2] / "fixtures" / "generate" / "outside_fk"
FILL = """
INSERT INTO posted_decisions (tweet_id, content)
SELECT 'p' || g, 'post ' || g FROM generate_series(1, {parents}) g;
INSERT INTO post_replies (tweet_id, body)
SELECT 'p' || (1 + g % {parents}), 'reply ' || g FROM generate_series(1, {children}) g;
ANALYZE;
"""


def cut_over(conn: psycopg.Connection, forward: str) -> tuple[float, float]:
    """Run forward.sql; return (seconds of the FK statements in the transaction, VALIDATE)."""
    in_transaction, validate = 0.0, 0.0
    committed = False
    for statement in split_script(forward, "forward.sql"):
        started = time.perf_counter()
        conn.execute(statement.text)
        seconds = time.perf_counter() - started
        text = statement.text.upper()
        committed = committed or text.strip().endswith("COMMIT")
        if "VALIDATE CONSTRAINT" in text:
            validate += seconds
        elif "CONSTRAINT" in text and not committed:
            in_transaction += seconds
    return in_transaction, validate


def writer_waits(dsn: str, stop: threading.Event, waits: list[float]) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET lock_timeout = '5s'")
        n = 0
        while not stop.is_set():
            n += 1
            started = time.perf_counter()
            conn.execute(
                "INSERT INTO post_replies (tweet_id, body) VALUES ('p1', %s)", (f"live {n}",)
            )
            waits.append(time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--children", type=int, default=1_000_000)
    parser.add_argument("--pg-bin", type=Path)
    args = parser.parse_args()
    parents = max(args.children // 10, 1)
    spec = load_spec(SCENARIO)
    config = SandboxConfig(pg_bin=args.pg_bin)
    with Sandbox(config) as box:
        forward = generate_layer(spec, box)["forward.sql"]
        db = box.create_database("fk")
        with db.connect() as conn:
            load_sql_files(conn, [SCENARIO / "legacy.sql", SCENARIO / "target.sql"])
            conn.execute(FILL.format(parents=parents, children=args.children))
            inside, _ = cut_over(conn, forward)
            # VALIDATE again, now with a writer on the referencing table.
            conn.execute(
                "ALTER TABLE post_replies DROP CONSTRAINT post_replies_tweet_id_fkey;"
                "ALTER TABLE post_replies ADD CONSTRAINT post_replies_tweet_id_fkey"
                " FOREIGN KEY (tweet_id) REFERENCES posted_tweets (platform_tweet_id)"
                " ON DELETE CASCADE NOT VALID"
            )
            stop, waits = threading.Event(), []
            writer = threading.Thread(target=writer_waits, args=(db.dsn, stop, waits))
            writer.start()
            time.sleep(0.2)
            started = time.perf_counter()
            conn.execute("ALTER TABLE post_replies VALIDATE CONSTRAINT post_replies_tweet_id_fkey")
            validate = time.perf_counter() - started
            stop.set()
            writer.join()
            conn.execute("ALTER TABLE post_replies DROP CONSTRAINT post_replies_tweet_id_fkey")
            started = time.perf_counter()
            conn.execute(
                "ALTER TABLE post_replies ADD CONSTRAINT post_replies_tweet_id_fkey"
                " FOREIGN KEY (tweet_id) REFERENCES posted_tweets (platform_tweet_id)"
                " ON DELETE CASCADE"
            )
            validated_add = time.perf_counter() - started
        box.drop_database(db)
    print(
        "| referencing rows | FK statements in the cutover transaction (ms) "
        "| VALIDATE after COMMIT (ms) | writer inserts during VALIDATE | longest writer wait (ms) "
        "| added validated instead, under the lock (ms) |"
    )
    print("|---|---|---|---|---|---|")
    print(
        f"| {args.children} | {inside * 1000:.1f} | {validate * 1000:.1f} | {len(waits)} "
        f"| {max(waits) * 1000:.1f} | {validated_add * 1000:.1f} |"
    )


if __name__ == "__main__":
    with tempfile.TemporaryDirectory():
        main()
