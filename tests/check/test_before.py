"""The pull-request gate: `[legacy] before = "<migration>"` verifies that migration of a history
as the compatibility layer (its down section as the rollback), over the history before it."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from migverify.cli import cli

BEFORE = Path(__file__).resolve().parents[2] / "fixtures" / "before"


def _check(pg, name: str) -> tuple[int, dict]:
    result = CliRunner().invoke(
        cli, ["check", str(BEFORE / name), "--dsn", pg.dsn, "--format", "json"]
    )
    return result.exit_code, json.loads(result.output)


def test_a_sound_rename_migration_is_safe_with_writes_and_rollback_tested(pg) -> None:
    code, report = _check(pg, "sound")
    assert code == 0, report
    assert report["verdict"] == "safe"
    assert [t["legacy"] for t in report["tables"]] == ["posts"]
    assert report["tables"][0]["target"] == "articles"
    verified = report["verified"]
    assert verified["rollback_checked"]
    posts = next(t for t in verified["coverage"]["tables"] if t["table"] == "posts")
    assert all(posts["accepted"].get(op) for op in ("insert", "update", "delete")), posts


def test_a_broken_migration_is_not_safe_with_a_counterexample(pg) -> None:
    code, report = _check(pg, "broken")
    assert code == 1
    assert report["verdict"] == "not safe"
    rules = {p["rule"] for p in report["problems"] if p["severity"] == "error"}
    assert {"MV100", "MV102"} <= rules
    assert any("check constraint" in p["message"] for p in report["problems"])


def test_a_migration_that_changes_no_legacy_table_says_so(pg) -> None:
    code, report = _check(pg, "noop")
    assert code == 0
    (problem,) = report["problems"]
    assert problem["severity"] == "warning" and "changes no legacy table" in problem["message"]


def test_a_rollback_that_drops_an_index_concurrently_is_checked_plainly_and_says_so(pg) -> None:
    # goose runs this migration (NO TRANSACTION) and its Down section outside a transaction;
    # the check runs the rollback inside its own, so without CONCURRENTLY (the same index).
    code, report = _check(pg, "concurrently")
    assert code == 0, report["problems"]
    assert report["verdict"] == "safe" and report["verified"]["rollback_checked"]
    assert any(
        "00002_rename_posts.sql:11: run without CONCURRENTLY" in sentence
        for sentence in report["verified"]["coverage"]["compared_as"]
    )


def test_a_migration_that_fails_over_existing_rows_is_not_safe(pg) -> None:
    # It runs over empty tables (a CI database), not over rows the legacy tables accept.
    code, report = _check(pg, "fails_over_rows")
    assert code == 1
    assert report["verdict"] == "not safe"
    (error,) = [p for p in report["problems"] if p["severity"] == "error"]
    assert error["rule"] == "MV100"
    assert error["message"].startswith(
        f"{BEFORE / 'fails_over_rows' / 'db' / 'migrations' / '20240201000000_rename_posts.sql'}"
        ':3: column "slug" of relation "articles" contains null values (SQLSTATE 23502): '
        "this fails over rows the legacy tables accept, and runs over the same tables empty"
    )


def test_a_column_added_in_place_is_safe_with_a_warning(pg) -> None:
    code, report = _check(pg, "adds_column")
    assert code == 0, report["problems"]
    assert report["verdict"] == "safe" and report["verified"]["rollback_checked"]
    warnings = [p["message"] for p in report["problems"] if p["severity"] == "warning"]
    assert any("posts gains 2 column(s) after its own (pinned, summary)" in w for w in warnings)
    posts = next(t for t in report["verified"]["coverage"]["tables"] if t["table"] == "posts")
    assert all(posts["accepted"].get(op) for op in ("insert", "update", "delete")), posts


def test_a_migration_under_test_needing_a_go_migration_not_run_says_so(pg, tmp_path) -> None:
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "1_a.sql").write_text("-- +goose Up\nCREATE TABLE a (id int PRIMARY KEY);\n")
    (migrations / "2_b.go").write_text("package migrations\n")  # creates table b, in Go
    (migrations / "3_c.sql").write_text("-- +goose Up\nALTER TABLE b RENAME TO c;\n")
    (tmp_path / "migverify.toml").write_text('[legacy]\nmigrations = "migrations"\nbefore = "3"\n')
    result = CliRunner().invoke(cli, ["check", str(tmp_path), "--dsn", pg.dsn])
    assert result.exit_code == 2, result.output
    assert result.stderr.endswith(
        f'{migrations / "3_c.sql"}:2: relation "b" does not exist (SQLSTATE 42P01) (the '
        "migration 2_b.go before it was not run: what it creates is missing here)\n"
    )
