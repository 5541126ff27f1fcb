"""The learning pipeline as a reference consumer, on real PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from migverify.cli import cli
from migverify.reference import compare_worlds, run_world
from migverify.spec import load_spec

XBOT = Path(__file__).resolve().parents[2] / "fixtures" / "xbot"


def test_both_worlds_give_byte_identical_json_for_200_cycles(pg, tmp_path):
    outputs = []
    for world in ("legacy", "migrated"):
        process = subprocess.run(
            [sys.executable, "-m", "migverify", "reference", "run", "--world", world]
            + ["--config", str(XBOT), "--cycles", "200", "--seed", "7", "--format", "json"]
            + ["--dsn", pg.dsn],
            capture_output=True,
            check=True,
        )
        outputs.append(process.stdout)
    assert outputs[0] == outputs[1]
    data = json.loads(outputs[0])
    assert len(data["decisions"]) == 200
    first = data["decisions"][0]
    assert first["id"] == 301  # identity continues after the 300 seeded rows
    assert [m["id"] for m in first["snapshots"]] == [601, 602]  # after the 600 seeded snapshots
    assert (first["decision_type"], first["generation_source"]) == ("single", "ai")  # defaults
    assert data["decisions"][3]["snapshots"][2]["id"] == data["decisions"][3]["snapshots"][1]["id"]
    assert all(0 <= d["reward"] <= 1 for d in data["decisions"])
    assert data["summary"]["posts"] == 200
    assert b"created_at" not in outputs[0] and b"decision_id" not in outputs[0]


def test_lockstep_comparison_is_equal_for_the_generated_layer(pg):
    result = compare_worlds(load_spec(XBOT), 60, 3, pg.config)
    assert result.equal, result.divergence
    assert result.legacy == result.migrated


def test_the_seeds_select_star_layer_breaks_the_consumer_and_says_where(pg):
    compat = (XBOT / "seed-views.sql").read_text()
    result = compare_worlds(load_spec(XBOT), 20, 3, pg.config, compat_sql=compat)
    assert not result.equal
    divergence = result.divergence
    assert (divergence.cycle, divergence.stage) == (0, "posting")
    assert "migrated world failed" in divergence.what and "content" in divergence.what
    assert divergence.statement.startswith("INSERT INTO posted_decisions")
    assert "42703" in divergence.migrated  # undefined column


def test_a_layer_that_loses_the_upsert_key_diverges_at_scraping(pg):
    forward = Path(__file__).resolve().parents[1] / "benchmarks" / "xbot_sound_layer.sql"
    broken = forward.read_text().replace(
        "COMMIT;",
        "ALTER TABLE tweet_engagement_metrics_comprehensive DROP CONSTRAINT "
        "tweet_engagement_metrics_comprehensive_tweet_id_collected_at_key;\nCOMMIT;",
    )
    result = compare_worlds(load_spec(XBOT), 10, 3, pg.config, compat_sql=broken)
    assert not result.equal
    assert result.divergence.stage == "scraping"
    assert "42P10" in result.divergence.what  # no unique constraint for ON CONFLICT


def test_a_layer_that_hides_rows_diverges_in_output_and_names_the_field(pg):
    """The layer runs every statement, but its metrics view hides first-hour snapshots: the
    cleanup at cycle 9 deletes nothing through it (4 in the legacy world), and the report names that output."""
    sound = (
        Path(__file__).resolve().parents[1] / "benchmarks" / "xbot_sound_layer.sql"
    ).read_text()
    hiding = sound.replace(
        "FROM tweet_engagement_metrics_comprehensive;",
        "FROM tweet_engagement_metrics_comprehensive WHERE collection_phase = 'T+24h';",
    )
    assert hiding != sound
    result = compare_worlds(load_spec(XBOT), 12, 3, pg.config, compat_sql=hiding)
    assert not result.equal
    divergence = result.divergence
    assert (divergence.cycle, divergence.stage) == (9, "cleanup")
    assert divergence.field == "cleanup (4 vs 0)", divergence
    assert divergence.statement == ""
    assert len(result.legacy["decisions"]) == len(result.migrated["decisions"]) == 10


def test_the_pipeline_learns_the_best_topic(pg):
    """Ground truth (audience.py): `sleep` has twice the engagement rate of any other topic.
    With 5 topics chance is p = 0.2. The test: in the last 100 of 300 cycles at least 50 posts
    choose `sleep` (2.5x chance). Under the null hypothesis (uniform choice) P(X >= 50) for
    X ~ Binomial(100, 0.2) is 2.1e-11, so passing is not luck; the tolerance against the observed
    figures (seed 1: 98/100, seed 2: 91/100) is over 40 posts, so a harmless change to the
    audience's noise or the RNG stream does not break it. The posterior mean of `sleep` must also
    be the highest of the topic arms."""
    for seed in (1, 2):
        data = run_world(load_spec(XBOT), "legacy", 300, seed, pg.config)
        last = data["decisions"][-100:]
        share = sum(d["topic"] == "sleep" for d in last) / len(last)
        assert share >= 0.5, (seed, share)
        arms = data["arms"]["topic"]
        mean = {a: v["alpha"] / (v["alpha"] + v["beta"]) for a, v in arms.items()}
        assert max(mean, key=mean.get) == "sleep"


def _run(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "migverify", "reference", "run", "--config", str(XBOT)]
    return subprocess.run(command + list(args), capture_output=True, text=True)


def test_run_with_a_broken_layer_fails_in_one_line_with_exit_1(pg):
    process = _run(
        *("--world", "migrated", "--compat", str(XBOT / "seed-views.sql"), "--cycles", "3"),
        *("--dsn", pg.dsn),
    )
    assert process.returncode == 1, process.stderr
    assert process.stdout == ""
    (line,) = process.stderr.splitlines()
    assert "migrated world at cycle 0, stage posting: 42703" in line
    assert "(statement: INSERT INTO posted_decisions" in line


def test_run_with_unparseable_layer_names_file_and_line_with_exit_2(pg, tmp_path):
    bad = tmp_path / "layer.sql"
    bad.write_text("-- a layer\nCREATE VIEW posted_decisions AS SELEC 1;\n")
    process = _run("--world", "migrated", "--compat", str(bad), "--dsn", pg.dsn)
    assert process.returncode == 2
    assert process.stderr.splitlines() == [
        f'migverify: error: {bad}:2: syntax error at or near "SELEC"'
    ]


def test_run_text_output_names_the_best_arms(pg):
    result = CliRunner().invoke(
        cli,
        ["reference", "run", "--world", "legacy", "--config", str(XBOT), "--cycles", "40"]
        + ["--seed", "1", "--dsn", pg.dsn],
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "40 cycles in the legacy world (seed 1)"
    assert [line.split()[0] for line in lines[1:4]] == ["style", "timing", "topic"]
    assert lines[4].startswith("  topics posted: sleep ")
    assert lines[5].startswith("  mean reward ")
