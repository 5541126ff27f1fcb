"""Backfill speed: the generated batched backfill versus one INSERT … SELECT, at 1M rows.

Run: python tests/benchmarks/bench_backfill.py [--rows 1000000] [--batch 50000] [--pg-bin DIR]
Uses the xbot metrics table (13 legacy columns onto the 48-column comprehensive table).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from migverify.generate import generate_layer
from migverify.sandbox import Sandbox, SandboxConfig
from migverify.spec import load_spec
from migverify.sqlload import load_sql, load_sql_files

XBOT = Path(__file__).resolve().parents[2] / "fixtures" / "xbot"
FILL = """
INSERT INTO posted_decisions (id, tweet_id, content, posted_at)
SELECT g, 't' || g, 'c', timestamptz '2026-01-01' FROM generate_series(1, {tweets}) g;
INSERT INTO real_tweet_metrics (id, tweet_id, likes, retweets, impressions, collected_at)
SELECT g, 't' || (1 + g % {tweets}), g % 500, g % 50, 1000 + g % 9000,
       timestamptz '2026-01-01' + g * interval '1 second'
FROM generate_series(1, {rows}) g;
"""
SINGLE = """
INSERT INTO tweet_engagement_metrics_comprehensive
  (id, tweet_id, likes, retweets, replies, impressions, bookmarks, quotes, follows_gained,
   engagement_rate, collection_phase, is_verified, collected_at)
SELECT id, tweet_id, likes, retweets, replies, impressions, bookmarks, quotes, followers_gained,
       engagement_rate, collection_phase, is_verified, collected_at
FROM real_tweet_metrics;
"""


def measure(box: Sandbox, rows: int, batch: int, forward: str | None) -> float:
    db = box.create_database("backfill")
    with db.connect() as conn:
        load_sql_files(conn, [XBOT / "legacy.sql", XBOT / "target.sql"])
        load_sql(conn, FILL.format(rows=rows, tweets=max(rows // 10, 1)), "fill.sql")
        conn.execute("ANALYZE")
        if forward is None:  # the baseline still has to copy the parent table first
            conn.execute(
                "INSERT INTO posted_tweets_comprehensive (id, tweet_id, tweet_text, posted_at) "
                "SELECT id, tweet_id, content, posted_at FROM posted_decisions"
            )
            started = time.perf_counter()
            load_sql(conn, SINGLE, "single.sql")
        else:
            started = time.perf_counter()
            load_sql(conn, forward, "forward.sql")
        seconds = time.perf_counter() - started
    box.drop_database(db)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg-bin", type=Path)
    args = parser.parse_args()
    config = SandboxConfig(pg_bin=args.pg_bin)
    spec = load_spec(XBOT)
    spec = type(spec)(**{**spec.__dict__, "batch_size": args.batch, "scan_paths": ()})
    with Sandbox(config) as box:
        forward = generate_layer(spec, box)["forward.sql"]
        single = [measure(box, args.rows, args.batch, None) for _ in range(args.repeat)]
        batched = [measure(box, args.rows, args.batch, forward) for _ in range(args.repeat)]
    s, b = statistics.median(single), statistics.median(batched)
    print("| backfill of real_tweet_metrics | rows | seconds (median) | rows/s |")
    print("|---|---|---|---|")
    print(f"| one INSERT … SELECT | {args.rows} | {s:.2f} | {args.rows / s:,.0f} |")
    print(
        f"| generated forward.sql, batches of {args.batch} (whole cutover) | {args.rows} | {b:.2f} | {args.rows / b:,.0f} |"
    )
    print(f"ratio batched/single throughput: {s / b:.2f}")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory():
        main()
