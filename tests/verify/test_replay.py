"""`verify --queries`: an application's statements (pg_stat_statements export, server log, SQL
file) replayed in both worlds, each with its outcome, the ones not replayed counted with why."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from migverify.cli import cli
from migverify.verify.replay import read_queries

ROOT = Path(__file__).resolve().parents[2]
QUERIES = ROOT / "fixtures" / "queries"
FILES = [QUERIES / "pg_stat_statements.csv", QUERIES / "postgresql.log", QUERIES / "app.sql"]


def test_the_three_kinds_of_file_are_read():
    csv = read_queries(QUERIES / "pg_stat_statements.csv")
    assert [q.source.rsplit(":", 1)[1] for q in csv] == [str(n) for n in range(2, 10)]
    assert csv[2].sql == "INSERT INTO feature_flags (key, owner) VALUES ($1, $2)"
    log = read_queries(QUERIES / "postgresql.log")
    assert [q.sql.split()[0] for q in log] == ["SELECT", "INSERT", "UPDATE", "BEGIN"]
    assert (
        log[0].sql == "SELECT key, enabled FROM feature_flags\nWHERE owner = 'team-1'\nORDER BY key"
    )
    assert log[1].values == {1: "checkout_v2", 2: "team-9"}  # DETAIL:  parameters:
    sql = read_queries(QUERIES / "app.sql")
    assert [q.source.rsplit(":", 1)[1] for q in sql] == ["2", "3", "4", "5", "6"]


def test_structured_logs_and_json_exports_are_read_like_the_others():
    stderr = read_queries(QUERIES / "postgresql.log")[:3]
    for name in ("postgresql.csv", "postgresql.json"):  # csvlog, jsonlog
        found = read_queries(QUERIES / name)
        assert [(q.sql, q.values) for q in found] == [(q.sql, q.values) for q in stderr], name
    csvlog = read_queries(QUERIES / "postgresql.csv")
    assert [q.source.rsplit(":", 1)[1] for q in csvlog] == ["1", "4", "5"]  # record's line
    exported = read_queries(QUERIES / "pg_stat_statements.json")
    assert [q.source.rsplit(":", 1)[1] for q in exported] == ["#1", "#2", "#3"]
    assert exported[1].sql == "UPDATE feature_flags SET description = DEFAULT WHERE key = $1"


def test_a_broken_json_export_is_an_input_error(pg, tmp_path):
    broken = tmp_path / "export.json"
    broken.write_text('[{"query": "SELECT 1"},')
    result = _verify(pg, "sound-view-defaults", broken)
    assert result.exit_code == 2 and "export.json: not JSON" in result.output


def test_a_json_export_replays_and_finds_the_difference(pg):
    result = _verify(pg, "set-default-without-view-defaults", QUERIES / "pg_stat_statements.json")
    report = json.loads(result.stdout)
    outcomes = [outcome for _, outcome in report["replayed"]]
    assert outcomes[0] == "same"
    assert outcomes[1].startswith("differs: ")  # SET description = DEFAULT: no view default
    assert outcomes[2] == "not replayed: not a data statement (VariableSetStmt)"


def _verify(pg, scenario: str, *files: Path):
    directory = ROOT / "fixtures" / "compat" / scenario
    args = ["verify", "--dsn", pg.dsn, "--examples", "10", "--format", "json"]
    for option in ("legacy", "seed", "target", "compat"):
        args += [f"--{option}", str(directory / f"{option}.sql")]
    for path in files:
        args += ["--queries", str(path)]
    return CliRunner().invoke(cli, args)


def test_replayed_statements_have_their_outcomes(pg):
    result = _verify(pg, "set-default-without-view-defaults", *FILES)
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    outcomes = {source.split("queries/")[1]: outcome for source, outcome in report["replayed"]}
    # UPDATE … SET description = DEFAULT: the view has no default, the row keeps NULL
    assert outcomes["postgresql.log:6"].startswith("differs: feature_flags holds different rows")
    replayed = [o for o in outcomes.values() if not o.startswith("not replayed")]
    assert len(replayed) == 11 and replayed.count("same") == 10
    assert (
        outcomes["pg_stat_statements.csv:9"]
        == "not replayed: not a data statement (VariableSetStmt)"
    )
    assert outcomes["app.sql:5"] == "not replayed: reads or writes no compared legacy table"
    # md5(random()): two runs in the legacy world differ: nothing to compare
    assert outcomes["app.sql:6"] == (
        "not replayed: its result differs between two runs in the legacy world (random?)"
    )
    probes = [c["probe"] for c in report["counterexamples"]]
    assert any(p.startswith("query ") and p.endswith("postgresql.log:6") for p in probes)
    untested = report["coverage"]["untested"]
    assert any("replayed 5 of 8 statements from" in s for s in untested)


def test_a_sound_layer_replays_every_statement_the_same(pg):
    result = _verify(pg, "sound-view-defaults", *FILES)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    outcomes = [outcome for _, outcome in report["replayed"]]
    assert outcomes.count("same") == 11
    assert all(o == "same" or o.startswith("not replayed: ") for o in outcomes)


def test_a_missing_or_broken_queries_file_is_an_input_error(pg, tmp_path):
    missing = _verify(pg, "sound-view-defaults", tmp_path / "nope.csv")
    assert missing.exit_code == 2 and "nope.csv" in missing.output
    broken = tmp_path / "broken.sql"
    broken.write_text("SELECT 1;\nSELEC key FROM feature_flags;\n")
    result = _verify(pg, "sound-view-defaults", broken)
    assert result.exit_code == 2
    assert f"{broken}:2" in result.output and "Traceback" not in result.output
