"""The same renames as test_rename_every_table.py, with one target that loses a guarantee of
its legacy table (a CHECK constraint dropped, else a NOT NULL): `migverify check` must say NOT
SAFE, with a counterexample, on every project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from migverify.catalog import Catalog
from migverify.cli import cli
from migverify.quoting import ident
from tests.projects.rename import application_tables, legacy_catalog, write_spec

PROJECTS = Path(__file__).resolve().parents[2] / "fixtures" / "projects"
NAMES = sorted(p.name for p in PROJECTS.iterdir() if (p / "PROJECT.md").is_file())


def break_one(directory: Path, catalog: Catalog) -> tuple[str, str]:
    """Append to target.sql the loss of one guarantee; (legacy table, what was lost)."""
    tables = application_tables(catalog)
    for relation in tables:
        checks = [c for c in relation.constraints if c.kind == "check"]
        if checks:
            target = f"{ident(relation.schema)}.{ident(relation.name + '_v2')}"
            statement = f"ALTER TABLE {target} DROP CONSTRAINT {ident(checks[0].name)};"
            break
    else:
        relation = next(r for r in tables if any(c.not_null for c in r.columns))
        column = next(c for c in relation.columns if c.not_null and not c.identity)
        target = f"{ident(relation.schema)}.{ident(relation.name + '_v2')}"
        statement = f"ALTER TABLE {target} ALTER COLUMN {ident(column.name)} DROP NOT NULL;"
    with (directory / "target.sql").open("a") as sql:
        sql.write(statement + "\n")
    return relation.display_name, statement


@pytest.mark.parametrize("name", NAMES)
def test_a_lost_guarantee_is_not_safe_with_a_counterexample(pg, name, tmp_path):
    project = PROJECTS / name
    with pg.sandbox() as box:
        legacy = legacy_catalog(box, project)
    write_spec(tmp_path, project, legacy)
    table, lost = break_one(tmp_path, legacy.catalog)
    args = ["check", str(tmp_path), "--dsn", pg.dsn, "--examples", "10", "--format", "json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, (lost, result.stdout[-3000:], result.stderr[-2000:])
    report = json.loads(result.stdout)
    assert report["verdict"] == "not safe", lost
    found = [p for p in report["problems"] if p["rule"] == "MV100" and p["table"] == table]
    assert found and any(p["detail"] for p in found), (lost, report["problems"])
