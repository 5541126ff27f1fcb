"""A finding that has a fix carries it (text, json), and the fix mends the layer: appending the
fixes a run proposes to the compatibility script, round after round, ends in EQUIVALENT."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from migverify.cli import cli

COMPAT = Path(__file__).resolve().parents[2] / "fixtures" / "compat"


def _verify(pg, scenario: Path, compat: Path, *extra: str, target: Path | None = None):
    args = ["verify", "--dsn", pg.dsn, "--compat", str(compat), "--examples", "30", *extra]
    args += ["--target", str(target or scenario / "target.sql")]
    for option in ("legacy", "seed"):
        if (scenario / f"{option}.sql").is_file():
            args += [f"--{option}", str(scenario / f"{option}.sql")]
    return CliRunner().invoke(cli, args)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # the view defaults, the identity sequence's included, and USAGE on it for the clerk
        (
            "security-definer-over-rls",
            "GRANT USAGE ON SEQUENCE public.stock_id_seq TO mv_clerk;",
        ),
        ("set-default-without-view-defaults", "ALTER COLUMN rollout_percent SET DEFAULT 0;"),
        ("lost-check", "ALTER TABLE public.stock ADD CONSTRAINT items_qty_check CHECK"),
        ("narrowed-varchar", "TYPE character varying"),
    ],
)
def test_the_fixes_mend_the_layer(pg, tmp_path, name, expected):
    scenario = COMPAT / name
    compat, target = tmp_path / "compat.sql", tmp_path / "target.sql"
    compat.write_text((scenario / "compat.sql").read_text())
    target.write_text((scenario / "target.sql").read_text())
    proposed: list[str] = []
    for _ in range(4):
        result = _verify(pg, scenario, compat, "--format", "json", target=target)
        report = json.loads(result.stdout)
        if report["verdict"] == "equivalent":
            break
        fixes = [d["fix"] for d in (*report["differences"], *report["warnings"]) if d["fix"]]
        new = [f for f in dict.fromkeys(fixes) if f not in proposed]
        assert new, f"{name}: not equivalent and no new fix: {report['differences'][0]}"
        proposed += new
        for fix in new:  # a fix for the target schema goes there, the rest into the layer
            into = target if fix.startswith("-- target schema") else compat
            into.write_text(into.read_text() + "\n" + fix + "\n")
    else:
        pytest.fail(f"{name}: still not equivalent after the fixes: {proposed}")
    assert any(expected in fix for fix in proposed), proposed
    text = _verify(pg, scenario, scenario / "compat.sql")
    assert text.exit_code == 1
    assert "\n  fix:\n    " in text.output  # under the counterexample


def test_a_finding_without_a_known_fix_has_none(pg):
    scenario = COMPAT / "select-star-view"
    result = _verify(pg, scenario, scenario / "compat.sql", "--format", "json")
    report = json.loads(result.stdout)
    assert report["verdict"] == "not equivalent"
    assert all(d["fix"] == "" for d in report["differences"] if d["operation"] == "shape")
