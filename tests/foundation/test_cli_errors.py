"""Every failure is one line on stderr with its exit code: 2 for input, 3 for internal errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES
from psycopg.conninfo import make_conninfo

from migverify.cli import cli
from migverify.sandbox import connect

XBOT = FIXTURES / "xbot"


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "migverify", *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )


def _one_line(result: subprocess.CompletedProcess[str], code: int, *fragments: str) -> str:
    assert result.returncode == code, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr
    return result.stderr


def test_dsn_role_without_createdb_is_one_line_exit_2(pg, tmp_path):
    with connect(pg.dsn) as conn:
        conn.execute("DROP ROLE IF EXISTS mv_no_createdb")
        conn.execute("CREATE ROLE mv_no_createdb LOGIN NOCREATEDB")
    try:
        dsn = make_conninfo(pg.dsn, user="mv_no_createdb")
        result = _run("inspect", str(XBOT / "legacy.sql"), "--dsn", dsn)
        _one_line(result, 2, "migverify: error: cannot create a scratch database", "CREATEDB")
        assert result.stdout == ""
    finally:
        with connect(pg.dsn) as conn:
            conn.execute("DROP ROLE mv_no_createdb")


@pytest.mark.parametrize("ops", ["", ",", " , "])
def test_no_operations_is_exit_2(ops):
    result = _run(
        "verify",
        "--legacy", str(XBOT / "legacy.sql"),
        "--target", str(XBOT / "target.sql"),
        "--compat", str(XBOT / "seed-views.sql"),
        "--ops", ops,
    )  # fmt: skip
    _one_line(result, 2, "no operations")


def test_unwritable_sarif_path_fails_before_the_work(tmp_path):
    missing = tmp_path / "no" / "such" / "dir" / "out.sarif"
    result = _run("check", str(XBOT), "--sarif", str(missing))
    _one_line(result, 2, f"{missing}: no such directory")
    result = _run("check", str(XBOT), "--sarif", str(tmp_path))
    _one_line(result, 2, "is a directory")


def test_unwritable_step_summary_fails_before_the_work(tmp_path):
    summary = tmp_path / "missing" / "summary.md"
    result = _run(
        "check", str(XBOT), "--format", "github", env={"GITHUB_STEP_SUMMARY": str(summary)}
    )
    _one_line(result, 2, "$GITHUB_STEP_SUMMARY")
    assert result.stdout == ""


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_report_write_error_after_the_run_is_one_line(pg):
    # /dev/full looks writable, then fails with ENOSPC: the error comes after the verdict.
    result = _run("check", str(XBOT), "--dsn", pg.dsn, "--examples", "5", "--sarif", "/dev/full")
    _one_line(result, 2, "/dev/full: cannot write (--sarif)")


def _explode(*args: object, **kwargs: object) -> None:
    raise ValueError("an unexpected\nbug")


def test_an_internal_error_is_exit_3_with_a_hint(pg, monkeypatch):
    monkeypatch.setattr("migverify.catalog.load_catalog", _explode)
    result = CliRunner().invoke(cli, ["inspect", str(XBOT / "legacy.sql"), "--dsn", pg.dsn])
    assert result.exit_code == 3
    assert result.stderr == (
        "migverify: internal error: ValueError: an unexpected bug "
        "(rerun with --debug for the traceback)\n"
    )
    assert result.stdout == ""


def test_debug_shows_the_traceback_of_an_internal_error(pg, monkeypatch):
    monkeypatch.setattr("migverify.catalog.load_catalog", _explode)
    result = CliRunner().invoke(
        cli, ["--debug", "inspect", str(XBOT / "legacy.sql"), "--dsn", pg.dsn]
    )
    assert result.exit_code == 3
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.endswith("migverify: internal error: ValueError: an unexpected bug\n")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["inspect"], "Missing argument 'FILES...'. (see 'migverify inspect --help')"),
        (["verify", "--nope"], "No such option '--nope'"),
        (["check", "--examples", "0"], "Invalid value for '--examples'"),
        (["frobnicate"], "No such command 'frobnicate'"),
        (["check", "--examples", "100001"], "100001 is not in the range 1<=x<=100000"),
        (["verify", "--examples", "1000000"], "1000000 is not in the range 1<=x<=100000"),
        (["scan", ".", "--table", ""], "'' is not a table name"),
        (["scan", ".", "--table", "  "], "is not a table name"),
        (["scan", ".", "--table", "a.b.c.d"], "'a.b.c.d' has 4 parts: give table or schema.table"),
        (["verify", "--table", "public."], "'public.' is not a table name"),
    ],
)
def test_usage_errors_are_one_line_exit_2(args, fragment):
    _one_line(_run(*args), 2, "migverify: error: ", fragment)


def test_help_and_version_still_exit_0():
    assert _run("--version").returncode == 0
    result = _run("check", "--help")
    assert result.returncode == 0 and "Usage: migverify check" in result.stdout
