"""A large table is backfilled in key-ordered batches, with progress notices.

200,000 rows in four batches by default; MIGVERIFY_BIG_TESTS=1 runs the million rows (the
speed figures are in tests/benchmarks/bench_backfill.py, not here)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from migverify.generate import generate_layer
from migverify.spec import load_spec
from migverify.sqlload import load_sql, load_sql_files

XBOT = Path(__file__).resolve().parents[2] / "fixtures" / "xbot"
ROWS = 1_000_000 if os.environ.get("MIGVERIFY_BIG_TESTS") else 200_000
BATCH = ROWS // 4


def test_a_large_table_backfills_in_batches(pg):
    spec = dataclasses.replace(load_spec(XBOT), batch_size=BATCH, scan_paths=())
    notices: list[str] = []
    with pg.sandbox() as box:
        forward = generate_layer(spec, box)["forward.sql"]
        db = box.create_database("backfill")
        with db.connect() as conn:
            load_sql_files(conn, [XBOT / "legacy.sql", XBOT / "target.sql"])
            conn.execute(
                "INSERT INTO posted_decisions (id, tweet_id, content) "
                "SELECT g, 't' || g, 'c' FROM generate_series(1, 1000) g"
            )
            conn.execute(
                "INSERT INTO real_tweet_metrics (id, tweet_id, likes, collected_at) "
                "SELECT g, 't' || (1 + g % 1000), g % 500, "
                "timestamptz '2026-01-01' + g * interval '1 second' "
                f"FROM generate_series(1, {ROWS}) g"
            )
            conn.add_notice_handler(lambda notice: notices.append(notice.message_primary))
            load_sql(conn, forward, "forward.sql")
            (copied,) = conn.execute("SELECT count(*) FROM real_tweet_metrics").fetchone()
            (through,) = conn.execute(
                "SELECT count(*) FROM tweet_engagement_metrics_comprehensive"
            ).fetchone()
    progress = [n for n in notices if n.startswith("migverify: real_tweet_metrics:")]
    assert progress == [
        f"migverify: real_tweet_metrics: {n * BATCH} rows copied" for n in range(1, 5)
    ]
    assert copied == through == ROWS
