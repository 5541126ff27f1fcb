"""Every compatibility layer in fixtures/compat/ gets the verdict its expect.toml states.

Adding a scenario means adding a directory: legacy.sql, target.sql, seed.sql, compat.sql,
optional rollback.sql, and expect.toml (verdict pass, fail or incomplete, why, optional ops,
roles, tables, strict, diagnosis, absent, writes_tested). `tables` compares only those legacy
tables (`--table`), so the others become neighbours; `absent` lists text the output must not
contain (a difference the layer must not show); `writes_tested` lists tables on which the legacy
table must have accepted an insert, an update and a delete.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from migverify.cli import cli

COMPAT = Path(__file__).resolve().parents[2] / "fixtures" / "compat"
SCENARIOS = sorted(p for p in COMPAT.iterdir() if (p / "expect.toml").is_file())


def test_the_library_is_big_enough():
    verdicts = [tomllib.loads((p / "expect.toml").read_text())["verdict"] for p in SCENARIOS]
    assert verdicts.count("fail") >= 12 and verdicts.count("pass") >= 6


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_scenario_verdict(pg, scenario):
    expect = tomllib.loads((scenario / "expect.toml").read_text())
    args = ["verify", "--dsn", pg.dsn]
    for option in ("legacy", "seed", "target", "compat", "rollback"):
        if (scenario / f"{option}.sql").is_file():
            args += [f"--{option}", str(scenario / f"{option}.sql")]
    if "ops" in expect:
        args += ["--ops", ",".join(expect["ops"])]
    for role in expect.get("roles", ()):
        args += ["--role", role]
    for table in expect.get("tables", ()):
        args += ["--table", table]
    if expect.get("strict"):
        args.append("--strict")
    result = CliRunner().invoke(cli, args)  # the default budget
    if expect["verdict"] == "fail":
        assert result.exit_code == 1, result.output
        assert result.output.startswith("NOT EQUIVALENT")
        assert "Counterexample" in result.output or "difference [" in result.output
        assert expect.get("diagnosis", "") in result.output
    elif expect["verdict"] == "incomplete":
        assert result.exit_code == 1, result.output
        assert result.output.startswith("INCOMPLETE"), result.output
        assert expect["diagnosis"] in result.output
    else:
        assert result.exit_code == 0, result.output
        assert result.output.startswith("EQUIVALENT")
    for table in expect.get("writes_tested", ()):
        accepted = re.search(
            rf"\n  {re.escape(table)}: .*\n    accepted by the legacy table: (.*)", result.output
        )
        assert accepted and all(op in accepted.group(1) for op in ("insert", "update", "delete")), (
            result.output
        )
    for text in expect.get("absent", ()):
        assert text not in result.output, result.output
