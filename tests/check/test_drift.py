"""Committed generated SQL that no longer matches a fresh generate fails the gate (MV110)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from migverify.cli import cli

XBOT = Path(__file__).resolve().parents[2] / "fixtures" / "xbot"


def _check(pg, directory: Path):
    result = CliRunner().invoke(
        cli, ["check", str(directory), "--format", "json", "--dsn", pg.dsn, "--examples", "5"]
    )
    return result.exit_code, json.loads(result.output)


def test_drift_in_committed_sql_is_an_error_with_the_diff(pg, tmp_path):
    project = tmp_path / "xbot"
    shutil.copytree(XBOT, project, ignore=shutil.ignore_patterns("app"))
    spec = project / "migverify.toml"
    spec.write_text(spec.read_text().replace('paths = ["app"]', "paths = []"))
    code, data = _check(pg, project)
    assert code == 0, data["problems"]
    assert not [p for p in data["problems"] if p["rule"] == "MV110"]

    forward = project / "migrations" / "forward.sql"
    forward.write_text(
        forward.read_text().replace("lock_timeout TO '5s'", "lock_timeout TO '1min'")
    )
    code, data = _check(pg, project)
    assert code == 1
    (drift,) = [p for p in data["problems"] if p["rule"] == "MV110"]
    assert drift["location"]["path"].endswith("migrations/forward.sql")
    assert drift["location"]["line"] == 5
    assert "-SET LOCAL lock_timeout TO '1min';" in drift["detail"]
    assert "+SET LOCAL lock_timeout TO '5s';" in drift["detail"]
