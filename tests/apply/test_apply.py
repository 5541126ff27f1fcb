"""`migverify apply` on real PostgreSQL: the phases run from where the database stands, writers
keep going on the legacy names throughout, a lock that cannot be had is retried, Ctrl-C rolls the
batch in flight back and a rerun resumes, and a database that is not ready is refused with one
line (exit 2, nothing changed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from psycopg.conninfo import make_conninfo

from migverify.apply import Retry, next_batch_size, run_backfill
from migverify.cli import cli
from migverify.sqlload import load_sql, load_sql_files
from tests.conftest import schema_dump

ROOT = Path(__file__).resolve().parents[2]
XBOT = ROOT / "fixtures" / "xbot"


@pytest.fixture
def project(pg, tmp_path: Path) -> Path:
    """A copy of fixtures/xbot (no code to scan) with its layer generated under migrations/."""
    for name in ("legacy.sql", "seed.sql", "target.sql"):
        (tmp_path / name).write_text((XBOT / name).read_text())
    spec = (XBOT / "migverify.toml").read_text().replace('paths = ["app"]', "paths = []")
    (tmp_path / "migverify.toml").write_text(
        spec.replace('lock_timeout = "5s"', 'lock_timeout = "200ms"')
    )
    result = CliRunner().invoke(cli, ["generate", str(tmp_path), "--dsn", pg.dsn])
    assert result.exit_code == 0, result.output
    return tmp_path


@pytest.fixture
def database(pg, project: Path) -> Iterator[str]:
    """A database holding the legacy tables (seeded) and the empty target tables."""
    with pg.sandbox() as box:
        db = box.create_database("apply")
        with db.connect() as conn:
            load_sql_files(
                conn, [project / "legacy.sql", project / "seed.sql", project / "target.sql"]
            )
        yield db.dsn


def _apply(project: Path, dsn: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "migverify", "apply", str(project), "--dsn", dsn, *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def _one(dsn: str, query: str) -> tuple:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(query).fetchone()


def _states(dsn: str) -> tuple:
    return _one(
        dsn,
        "SELECT (SELECT relkind FROM pg_class WHERE oid = 'posted_decisions'::regclass), "
        "(SELECT count(*) FROM pg_trigger WHERE tgname LIKE '%migverify_sync%')",
    )


def test_all_phases_then_rollback_with_json_on_stdout_only(project, database):
    result = _apply(project, database, "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)  # nothing else on stdout
    assert [s["step"] for s in report["steps"]] == ["expand", "backfill", "switch"]
    backfill = {t["table"]: t for t in report["steps"][1]["tables"]}
    assert backfill["posted_decisions"]["rows_copied"] == 300
    assert backfill["real_tweet_metrics"]["rows_copied"] == 600
    assert report["after"] == {"posted_decisions": "switched", "real_tweet_metrics": "switched"}
    assert _one(database, "SELECT count(*) FROM real_tweet_metrics") == (600,)

    back = _apply(project, database, "--rollback")
    assert back.returncode == 0, back.stderr
    steps = [line.split(":")[0] for line in back.stdout.splitlines()[:2]]
    assert steps == ["rollback-switch", "rollback-expand"]
    assert back.stdout.strip().endswith("now: posted_decisions legacy, real_tweet_metrics legacy")
    assert _states(database) == ("r", 0)
    assert _one(database, "SELECT count(*) FROM posted_tweets_comprehensive") == (0,)


@pytest.mark.parametrize("path", ["online", "offline", "one transaction"])
def test_rollback_leaves_the_schema_as_it_found_it_privileges_included(pg, project, database, path):
    """`pg_dump --schema-only` after a full cutover, a write through the views and the rollback
    is the dump before it: no grant (USAGE on the targets' sequences), trigger or policy left
    behind. Online and offline through `apply`, and forward.sql then rollback.sql."""
    if path == "offline":
        spec = project / "migverify.toml"
        spec.write_text(spec.read_text().replace('mode = "online"', 'mode = "offline"'))
        result = CliRunner().invoke(cli, ["generate", str(project), "--dsn", pg.dsn])
        assert result.exit_code == 0, result.output
    before = schema_dump(pg, database)
    write = "INSERT INTO posted_decisions (tweet_id, content) VALUES ('after', 'through the view')"
    if path == "one transaction":
        with psycopg.connect(database, autocommit=True) as conn:
            load_sql(conn, (project / "migrations" / "forward.sql").read_text(), "forward.sql")
            conn.execute(write)
            load_sql(conn, (project / "migrations" / "rollback.sql").read_text(), "rollback.sql")
    else:
        applied = _apply(project, database)
        assert applied.returncode == 0, applied.stderr
        assert _one(database, "SELECT count(*) FROM pg_views WHERE viewname = 'posted_decisions'")
        _one(database, write + " RETURNING id")
        back = _apply(project, database, "--rollback")
        assert back.returncode == 0, back.stderr
    assert _one(database, "SELECT count(*) FROM posted_decisions WHERE tweet_id = 'after'") == (1,)
    assert schema_dump(pg, database) == before


def test_each_phase_alone_and_refusals_name_the_state(project, database):
    refused = _apply(project, database, "--phase", "backfill")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "migverify: error: backfill needs the expand phase first (no sync trigger exists yet)"
    ]
    assert _apply(project, database, "--phase", "expand").returncode == 0
    assert _states(database) == ("r", 4)
    again = _apply(project, database, "--phase", "expand")
    assert again.returncode == 2 and "expand already ran" in again.stderr
    # The switch checks that the backfill finished (inside its own SQL) and changes nothing.
    early = _apply(project, database, "--phase", "switch")
    assert early.returncode == 2 and len(early.stderr.strip().splitlines()) == 1
    assert "posted_decisions has 300 rows, posted_tweets_comprehensive 0 of them" in early.stderr
    assert _states(database) == ("r", 4)
    assert _apply(project, database, "--phase", "backfill").returncode == 0
    assert _apply(project, database, "--phase", "switch").returncode == 0
    done = _apply(project, database)
    assert done.returncode == 2 and "already switched" in done.stderr
    rolled = _apply(project, database, "--rollback", "--phase", "switch")
    assert rolled.returncode == 0, rolled.stderr
    assert _states(database) == ("r", 4)  # back to the expand phase's state
    assert _apply(project, database, "--rollback", "--phase", "expand").returncode == 0
    assert _states(database) == ("r", 0)
    nothing = _apply(project, database, "--rollback")
    assert nothing.returncode == 2 and "nothing to roll back" in nothing.stderr


def test_a_refused_switch_runs_nothing_not_even_its_analyze(project, database):
    assert _apply(project, database, "--phase", "expand").returncode == 0
    with psycopg.connect(database, autocommit=True) as conn:  # the sync trigger copies 10 rows
        conn.execute("UPDATE posted_decisions SET topic = topic WHERE id <= 10")
    analyzed = (
        "SELECT analyze_count FROM pg_stat_user_tables "
        "WHERE relid = 'posted_tweets_comprehensive'::regclass"
    )
    early = _apply(project, database, "--phase", "switch")
    assert early.returncode == 2, early.stderr
    assert "posted_decisions has 300 rows, posted_tweets_comprehensive 10 of them" in early.stderr
    assert _one(database, analyzed) == (0,)  # ANALYZE comes after the checks
    assert _apply(project, database, "--phase", "backfill").returncode == 0
    done = _apply(project, database, "--phase", "switch")
    assert done.returncode == 0, done.stderr
    assert _one(database, analyzed) == (1,)  # and still runs when the switch goes ahead


def test_dry_run_prints_the_sql_and_changes_nothing(project, database):
    result = _apply(project, database, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "-- migverify apply would run online/expand.sql (expand)" in result.stdout
    assert "CREATE TRIGGER posted_decisions_migverify_sync" in result.stdout
    assert "EXECUTE migverify_backfill_batch_N(<after>, <upto>, 50000)" in result.stdout
    assert result.stdout.index("(expand)") < result.stdout.index("(backfill)")
    assert _states(database) == ("r", 0)


def test_a_lock_held_by_a_long_transaction_is_retried(project, database):
    assert _apply(project, database, "--phase", "expand").returncode == 0
    assert _apply(project, database, "--phase", "backfill").returncode == 0
    holder = psycopg.connect(database)
    holder.execute("SELECT count(*) FROM posted_decisions")  # ACCESS SHARE until ROLLBACK
    process = subprocess.Popen(
        [sys.executable, "-m", "migverify", "apply", str(project), "--dsn", database]
        + ["--phase", "switch", "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:  # the lock is given up once the switch has timed out on it (not after a fixed time)
        lines = []
        for line in process.stderr:
            lines.append(line)
            if "lock timeout, retrying in" in line:
                break
        holder.rollback()
        out, rest = process.communicate(timeout=300)
    finally:
        holder.close()
    stderr = "".join(lines) + rest
    assert process.returncode == 0, stderr
    assert json.loads(out)["steps"][0]["retries"] >= 1
    assert "lock timeout, retrying in" in stderr


def test_a_lock_never_had_fails_with_nothing_changed(project, database):
    assert _apply(project, database, "--phase", "expand").returncode == 0
    assert _apply(project, database, "--phase", "backfill").returncode == 0
    with psycopg.connect(database) as holder:
        holder.execute("LOCK posted_decisions IN ACCESS SHARE MODE")
        result = _apply(project, database, "--phase", "switch", "--retries", "2")
        holder.rollback()
    assert result.returncode == 1
    assert "lock timeout after 2 attempts" in result.stderr.splitlines()[-1]
    assert _states(database) == ("r", 4)


def test_a_backfill_batch_whose_rows_stay_locked_is_retried_then_given_up(project, database):
    assert _apply(project, database, "--phase", "expand").returncode == 0
    impatient = make_conninfo(database, options="-c lock_timeout=100ms")
    with psycopg.connect(database) as holder:  # FOR UPDATE conflicts with the FOR KEY SHARE
        holder.execute("SELECT FROM real_tweet_metrics WHERE id = 1 FOR UPDATE")
        result = _apply(project, impatient, "--phase", "backfill", "--retries", "2")
        holder.rollback()
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert (
        "migverify: backfill: canceling statement due to lock timeout, retrying in 0.2 s" in lines
    )
    assert lines[-1] == (
        "migverify: error: online/backfill.sql: canceling statement due to lock timeout after 2 "
        "attempts; the batches before it are kept: rerun to resume"
    )
    # posted_decisions was copied before, real_tweet_metrics not: a rerun resumes there.
    assert _one(database, "SELECT count(*) FROM posted_tweets_comprehensive") == (300,)
    assert _one(database, "SELECT count(*) FROM tweet_engagement_metrics_comprehensive") == (0,)


def test_interrupted_backfill_rolls_back_its_batch_and_a_rerun_resumes(project, database):
    _expanded_with_metrics(project, database)
    stderr = _interrupted_backfill(project, database)
    assert stderr.strip().splitlines()[-1] == (
        "migverify: interrupted (SIGINT): the transaction in flight was rolled back (what "
        "committed before it stays); run the same command again to resume"
    )
    (copied,) = _one(database, "SELECT count(*) FROM tweet_engagement_metrics_comprehensive")
    assert 2000 <= copied < 20600 and copied % 500 == 0  # whole batches only
    rerun = _apply(project, database, "--phase", "backfill", "--format", "json")
    assert rerun.returncode == 0, rerun.stderr
    tables = {t["table"]: t for t in json.loads(rerun.stdout)["steps"][0]["tables"]}
    assert tables["real_tweet_metrics"]["rows_read"] == 20600 - copied
    assert tables["real_tweet_metrics"]["rows_copied"] == 20600 - copied
    assert tables["posted_decisions"]["rows_read"] == 0
    assert _apply(project, database, "--phase", "switch").returncode == 0
    _all_metrics_switched(database)


def test_batches_sized_by_time_shrink_below_and_grow_up_to_the_batch_size(project, database):
    _expanded_with_metrics(project, database)
    dry = _apply(project, database, "--dry-run", "--batch-seconds", "0.5")
    assert (
        "EXECUTE migverify_backfill_batch_N(<after>, <upto>, <rows: about 0.5 s worth, at most 50000>)"
        in dry.stdout
    )
    # 1 ms per batch cannot be had: batches stay small (one batch of 50,000 rows without it).
    quick = _apply(
        project, database, "--phase", "backfill", "--batch-seconds", "0.001", "--format", "json"
    )
    assert quick.returncode == 0, quick.stderr
    tables = {t["table"]: t for t in json.loads(quick.stdout)["steps"][0]["tables"]}
    assert tables["real_tweet_metrics"]["rows_copied"] == 20600
    assert tables["real_tweet_metrics"]["batches"] >= 20  # at most 1,000 rows each
    assert _apply(project, database, "--rollback", "--phase", "backfill").returncode == 0
    # 100 s per batch: sizes double from 1,000 (1k, 2k, 4k, 8k, then the last 5,600 rows).
    slow = _apply(
        project, database, "--phase", "backfill", "--batch-seconds", "100", "--format", "json"
    )
    assert slow.returncode == 0, slow.stderr
    tables = {t["table"]: t for t in json.loads(slow.stdout)["steps"][0]["tables"]}
    assert tables["real_tweet_metrics"]["batches"] == 5
    assert tables["posted_decisions"]["batches"] == 1  # 300 rows
    assert _apply(project, database, "--phase", "switch").returncode == 0
    _all_metrics_switched(database)


def test_a_timed_batch_held_up_is_cancelled_and_retried_smaller(project, database):
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO real_tweet_metrics (tweet_id, likes, collected_at) "
            "SELECT (1790000000000000000 + (1 + g % 300) * 7919)::text, g % 50, "
            "timestamptz '2026-01-01' + g * interval '1 min' "
            "FROM generate_series(1, 5000) g"
        )
    assert _apply(project, database, "--phase", "expand").returncode == 0
    holder = psycopg.connect(database)  # FOR UPDATE conflicts with the batch's FOR KEY SHARE
    holder.execute("SELECT FROM real_tweet_metrics WHERE id = 1 FOR UPDATE")
    release = threading.Timer(6.0, holder.rollback)
    release.start()
    try:  # 0.05 s per batch: cancelled after 0.2 s, 1,000 -> 250 -> 100 rows, then untimed
        result = _apply(
            project, database, "--phase", "backfill", "--batch-seconds", "0.05", "--format", "json"
        )
    finally:
        release.join()
        holder.close()
    assert result.returncode == 0, result.stderr
    tables = {t["table"]: t for t in json.loads(result.stdout)["steps"][0]["tables"]}
    assert tables["real_tweet_metrics"]["batches_cancelled"] == 2
    assert tables["real_tweet_metrics"]["rows_copied"] == 5600
    assert tables["posted_decisions"]["batches_cancelled"] == 0
    # Through the driver on a session of its own: its statement_timeout is given back.
    assert _apply(project, database, "--rollback", "--phase", "backfill").returncode == 0
    text = (project / "migrations" / "online" / "backfill.sql").read_text()
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("SET statement_timeout = '7s'")
        tables = run_backfill(conn, text, 50000, Retry(), lambda m: None, batch_seconds=0.05)
        assert conn.execute("SHOW statement_timeout").fetchone() == ("7s",)
    assert sum(t["rows_copied"] for t in tables) == 300 + 5600
    assert _apply(project, database, "--phase", "switch").returncode == 0


def test_interrupted_timed_backfill_rolls_back_its_batch_and_a_rerun_resumes(project, database):
    _expanded_with_metrics(project, database)
    _interrupted_backfill(project, database, "--batch-seconds", "0.05")
    (copied,) = _one(database, "SELECT count(*) FROM tweet_engagement_metrics_comprehensive")
    rerun = _apply(project, database, "--phase", "backfill", "--batch-seconds", "0.05")
    assert rerun.returncode == 0, rerun.stderr
    assert f"{20600 - copied:,} rows copied" in rerun.stdout
    assert _apply(project, database, "--phase", "switch").returncode == 0
    _all_metrics_switched(database)


def test_next_batch_size_aims_at_the_time_within_its_bounds():
    assert next_batch_size(1000, 0.5, 0.25, 50000) == 500  # half the time, half the rows
    assert next_batch_size(1000, 0.01, 0.25, 50000) == 2000  # at most twice the last
    assert next_batch_size(40000, 0.1, 0.25, 50000) == 50000  # never above the batch size
    assert next_batch_size(1000, 30.0, 0.25, 50000) == 100  # a stalled batch: not below 100
    assert next_batch_size(10, 30.0, 0.25, 50) == 50  # unless the batch size is smaller
    assert next_batch_size(1000, 0.0, 0.25, 50000) == 2000


def test_writers_on_the_legacy_names_lose_nothing_across_every_phase(project, database):
    stop = threading.Event()
    acknowledged: list[str] = []
    failures: list[str] = []

    def writer() -> None:
        with psycopg.connect(database, autocommit=True) as conn:
            n = 0
            while not stop.is_set():
                n += 1
                for _ in range(4):
                    try:
                        conn.execute(
                            "INSERT INTO posted_decisions (tweet_id, content) VALUES (%s, 'w')",
                            (f"w{n}",),
                        )
                        conn.execute(
                            "UPDATE posted_decisions SET topic = 'seen' WHERE tweet_id = %s",
                            (f"w{n}",),
                        )
                        acknowledged.append(f"w{n}")
                        break
                    except psycopg.errors.LockNotAvailable:
                        time.sleep(0.05)
                    except psycopg.Error as error:
                        failures.append(str(error))
                        break

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        time.sleep(0.3)
        result = _apply(project, database, "--batch-size", "40", "--throttle", "0.02")
        time.sleep(0.3)
    finally:
        stop.set()
        thread.join()
    assert result.returncode == 0, result.stderr
    assert failures == []
    found = _one(
        database,
        "SELECT count(*) FILTER (WHERE topic = 'seen') FROM posted_decisions "
        f"WHERE tweet_id = ANY(ARRAY{acknowledged!r}::text[])",
    )
    assert acknowledged and found == (len(acknowledged),)
    assert _one(database, "SELECT count(*) FROM posted_decisions") == (300 + len(acknowledged),)


def test_a_table_generated_offline_but_large_here_is_refused(pg, project, database):
    spec = project / "migverify.toml"
    spec.write_text(spec.read_text().replace('mode = "online"', 'mode = "auto"'))
    assert CliRunner().invoke(cli, ["generate", str(project), "--dsn", pg.dsn]).exit_code == 0
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO real_tweet_metrics (tweet_id, collected_at) "
            "SELECT (1790000000000000000 + (1 + g % 300) * 7919)::text, "
            "timestamptz '2026-01-01' + g * interval '1 min' FROM generate_series(1, 60000) g"
        )
        conn.execute("ANALYZE real_tweet_metrics")
    result = _apply(project, database)
    assert result.returncode == 2
    assert "real_tweet_metrics has about 60,600 rows here" in result.stderr
    assert _states(database) == ("r", 0)


def test_without_generated_files_apply_says_what_to_do(project, database):
    for path in sorted((project / "migrations" / "online").iterdir()):
        os.remove(path)
    result = _apply(project, database)
    assert result.returncode == 2
    assert result.stderr.strip().endswith("no such file: run `migverify generate` first")


def _expanded_with_metrics(project: Path, database: str) -> None:
    """20,000 more legacy metrics rows (20,600 in all), then the expand phase."""
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO real_tweet_metrics (tweet_id, likes, collected_at) "
            "SELECT (1790000000000000000 + (1 + g % 300) * 7919)::text, g % 50, "
            "timestamptz '2026-01-01' + g * interval '1 min' "
            "FROM generate_series(1, 20000) g"
        )
    assert _apply(project, database, "--phase", "expand").returncode == 0


def _all_metrics_switched(database: str) -> None:
    """After the switch every metrics row is there, once."""
    assert _one(database, "SELECT count(*), count(DISTINCT id) FROM real_tweet_metrics") == (
        20600,
        20600,
    )


def _interrupted_backfill(project: Path, database: str, *options: str) -> str:
    """The backfill (500-row batches, throttled) sent SIGINT once 2,000 rows are copied; its
    stderr."""
    process = subprocess.Popen(
        [sys.executable, "-m", "migverify", "apply", str(project), "--dsn", database]
        + ["--phase", "backfill", "--batch-size", "500", *options, "--throttle", "0.05"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while _one(database, "SELECT count(*) FROM tweet_engagement_metrics_comprehensive")[0] < 2000:
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    return stderr
