"""Every fixtures/history/<layout>/ is a small migration history with that layout's traps, and an
expect.toml saying what migverify must read from it: the order, the rollbacks, the files not
run, the migration `before` names. Adding a case means adding a directory, not code."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from conftest import FIXTURES

from migverify import sqlload
from migverify.history import read_history
from migverify.spec import load_spec
from migverify.sqlload import load_sql_files
from migverify.supabase import SupabasePlan

CASES = sorted(p for p in (FIXTURES / "history").iterdir() if (p / "expect.toml").is_file())


@pytest.fixture(autouse=True)
def fresh_notices(monkeypatch):
    """Notices are printed once per process: each test sees its own."""
    monkeypatch.setattr(sqlload, "_NOTICED", set())


def _expect(case: Path) -> dict:
    return tomllib.loads((case / "expect.toml").read_text())


def _history_dir(case: Path) -> Path:
    return (case / _expect(case)["history"]).resolve()


def test_every_layout_has_a_fixture():
    from migverify.history import LAYOUTS

    assert sorted(_expect(case)["layout"] for case in CASES) == sorted(LAYOUTS)


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_order_rollbacks_and_files_not_run(case):
    expect, directory = _expect(case), _history_dir(case)
    history = read_history(directory)
    assert history.layout == expect["layout"]
    assert read_history(directory, expect["layout"]) == history
    assert history.names() == tuple(expect["order"])
    assert [m.name for m in history.migrations if m.down] == expect["downs"]
    skipped = [Path(path).relative_to(directory).as_posix() for path, _ in history.skipped]
    assert skipped == expect["skipped"]
    assert all(reason for _, reason in history.skipped)
    assert len(history.preamble) == expect.get("preamble", 0)
    assert [Path(s.name).name for s in history.seeds] == expect.get("seeds", [])
    # Each script is its file's text (dbmate's sections: the file's lines, others blanked).
    for migration in history.migrations:
        text = Path(migration.up.name).read_text(encoding="utf-8")
        assert migration.up.text.count("\n") == text.count("\n")


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_before_splits_the_history(case, tmp_path, capsys):
    expect, directory = _expect(case), _history_dir(case)
    history = read_history(directory)
    index = history.index(expect["before"])
    migration = history.migrations[index]
    assert migration.name == expect.get("before_name", expect["before"])
    spec_path = tmp_path / "migverify.toml"
    spec_path.write_text(f'[legacy]\nmigrations = "{directory}"\nbefore = "{expect["before"]}"\n')
    spec = load_spec(spec_path)
    assert spec.migration == migration
    assert spec.history == history
    runs = (s for m in history.migrations[:index] for s in m.runs())
    assert spec.legacy_sql == (*history.preamble, *runs)
    assert spec.tables == () and spec.target_sql == ()
    notices = capsys.readouterr().err
    for path, reason in history.skipped:
        assert f"migverify: notice: {path}: not run ({reason})" in notices
    if history.seeds:
        assert "seeds not loaded" in notices


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_without_before_the_whole_history_is_legacy(case, tmp_path):
    directory = _history_dir(case)
    (tmp_path / "extra.sql").write_text("SELECT 1;\n")
    spec_path = tmp_path / "migverify.toml"
    spec_path.write_text(
        f'[legacy]\nmigrations = "{directory}"\nsql = ["extra.sql"]\n'
        '[tables.legacy_table]\ntarget = "new_table"\n'
    )
    spec = load_spec(spec_path)
    history = read_history(directory)
    assert spec.legacy_sql == (*history.scripts(), tmp_path / "extra.sql")
    assert spec.migration is None
    assert (spec.supabase_dir is not None) == (history.layout == "supabase")


def _loader(conn, spec, sources):
    """Load steps as the spec's commands do: plain SQL, or a Supabase project over the shim
    (prepared once for every script the database will see)."""
    if spec.supabase_dir is None:
        return lambda step: load_sql_files(conn, step)
    return SupabasePlan(tuple(sources), spec.supabase_options()).prepare(conn).load


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_the_fixture_spec_loads_into_postgresql(pg, case):
    """The legacy state loads; the migration under test runs forward, back and forward again;
    the whole history (seeds included) loads on its own."""
    spec = load_spec(case)
    history = spec.history
    assert history is not None and history.layout == _expect(case)["layout"]
    steps = [spec.legacy_sql]
    if spec.migration is not None:
        assert spec.migration.name == _expect(case).get("before_name", _expect(case)["before"])
        steps.append([spec.migration.up])
        if spec.migration.down is not None:
            steps += [[spec.migration.down], [spec.migration.up]]
    else:
        steps.append(spec.target_sql)
    with pg.sandbox() as box:
        with box.create_database("history_legacy").connect() as conn:
            load = _loader(conn, spec, [s for step in steps for s in step])
            for step in steps:
                load(step)
        with box.create_database("history_whole").connect() as conn:
            _loader(conn, spec, history.scripts())(history.scripts())
