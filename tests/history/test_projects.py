"""Every project of fixtures/projects/ loads through the reader from its root, as a spec at the
root with `[legacy] migrations = "."` reads it, and creates the tables fixtures/projects/
README.md counts; the files that README says its tool does not run are reported as not run.
Adding a project means adding its directory and its README row, not code."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import FIXTURES

from migverify import sqlload
from migverify.history import read_history
from migverify.spec import load_spec
from migverify.supabase import SupabasePlan

PROJECTS = FIXTURES / "projects"
_ROW = re.compile(
    r"^\| \[([^\]]+)\]\([^)]*PROJECT\.md\) \|.*\| ([^|]*) \| (\d+)(?: \(\+(\d+) partitions\))? \|$"
)


@dataclass(frozen=True)
class Row:
    """A project's row of fixtures/projects/README.md."""

    name: str
    runs: str  # what runs, in which order (it names the files not run: not `x.sql`)
    tables: int
    partitions: int


def _rows() -> dict[str, Row]:
    rows = {}
    for line in (PROJECTS / "README.md").read_text().splitlines():
        match = _ROW.match(line)
        if match:
            name, runs, tables, partitions = match.groups()
            rows[name] = Row(name, runs, int(tables), int(partitions or 0))
    return rows


ROWS = _rows()
CASES = sorted(p.name for p in PROJECTS.iterdir() if (p / "PROJECT.md").is_file())


@pytest.fixture(autouse=True)
def fresh_notices(monkeypatch):
    monkeypatch.setattr(sqlload, "_NOTICED", set())


def test_every_project_has_its_readme_row():
    assert sorted(ROWS) == CASES


@pytest.mark.parametrize("name", CASES)
def test_the_files_its_tool_does_not_run_are_reported(name):
    history = read_history(PROJECTS / name)
    not_run = re.findall(r"\bnot `([^`]+)`", ROWS[name].runs)
    skipped = [Path(path).name for path, _ in history.skipped]
    assert [f for f in not_run if f not in skipped] == []


@pytest.mark.parametrize("name", CASES)
def test_the_project_loads_from_its_root_with_its_tables(pg, name, tmp_path):
    root = tmp_path / name
    shutil.copytree(PROJECTS / name, root)
    (root / "migverify.toml").write_text(
        '[legacy]\nmigrations = "."\n\n[tables.any_table]\ntarget = "any_target"\n'
    )
    spec = load_spec(root / "migverify.toml")
    history = spec.history
    assert history is not None and history.migrations
    assert spec.legacy_sql == history.scripts()
    with pg.sandbox() as box, box.create_database("project").connect() as conn:
        load = _loader(conn, spec)
        load(history.preamble)  # the migrator's own tables are not the project's
        before = _tables(conn)
        load(history.scripts()[len(history.preamble) :])
        created = _tables(conn) - before
    row = ROWS[name]
    assert (len([t for t in created if not t[1]]), len([t for t in created if t[1]])) == (
        row.tables,
        row.partitions,
    ), sorted(created)


def _loader(conn, spec):
    """Load as the spec's commands do (the Supabase shim where needed, stand-ins for the
    extensions the server lacks)."""
    return SupabasePlan(tuple(spec.legacy_sql), spec.supabase_options()).prepare(conn).load


def _tables(conn) -> set[tuple[str, bool]]:
    """The tables of the database (schema-qualified) and whether each is a partition."""
    rows = conn.execute(
        "SELECT c.oid::regclass::text, c.relispartition FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
        " AND n.nspname NOT LIKE 'pg_toast%'"
    ).fetchall()
    return set(rows)
