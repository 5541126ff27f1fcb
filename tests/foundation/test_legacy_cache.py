"""The legacy state is loaded once per run, and on migverify's own server kept between runs
(migverify/legacy.py): the second check of an unchanged history runs on the kept data directory,
says the same, and a changed history gets an entry of its own."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from migverify import sqlload
from migverify.cli import cli
from migverify.usercache import cache_dir

BEFORE = Path(__file__).resolve().parents[2] / "fixtures" / "before"


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("MIGVERIFY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MIGVERIFY_CACHE", raising=False)
    return tmp_path / "cache" / "legacy"


def _project(tmp_path: Path, name: str = "sound") -> Path:
    project = tmp_path / name
    shutil.copytree(BEFORE / name, project)
    return project


def _check(project: Path) -> tuple[int, dict, str]:
    sqlload._NOTICED.clear()  # notices are said once per process: each run is one here
    result = CliRunner().invoke(cli, ["check", str(project), "--format", "json", "--examples", "5"])
    assert result.stdout, (result.exit_code, result.stderr, result.exception)
    return result.exit_code, json.loads(result.stdout), result.stderr


def _entries(cache: Path) -> list[Path]:
    return (
        sorted(p for p in cache.iterdir() if not p.name.startswith(".")) if cache.is_dir() else []
    )


def test_a_second_run_uses_the_kept_state_and_says_the_same(tmp_path, cache) -> None:
    project = _project(tmp_path)
    first = _check(project)
    (entry,) = _entries(cache)
    assert (entry / "data" / "PG_VERSION").is_file() and (entry / "state.json").is_file()
    assert not list(cache.glob(".partial-*"))
    assert not (entry / "data" / "postmaster.pid").exists()  # kept after a clean shutdown
    saved = json.loads((entry / "state.json").read_text())
    before = entry.stat().st_mtime
    second = _check(project)
    assert second[0] == first[0] == 0
    assert second[1] == first[1]  # the same report, byte for byte as JSON
    assert _entries(cache) == [entry]
    assert entry.stat().st_mtime >= before
    # only the kept database is in the kept directory: the run's scratch databases are gone
    assert saved["database"].startswith("migverify_legacy_")


def test_a_changed_history_gets_its_own_entry(tmp_path, cache) -> None:
    project = _project(tmp_path)
    _check(project)
    init = project / "db" / "migrations" / "20240101000000_init.sql"
    init.write_text(init.read_text().replace("char_length(title) > 2", "char_length(title) > 3"))
    _check(project)
    assert len(_entries(cache)) == 2


def test_the_cache_can_be_turned_off(tmp_path, cache, monkeypatch) -> None:
    monkeypatch.setenv("MIGVERIFY_CACHE", "off")
    assert cache_dir() is None
    code, report, _ = _check(_project(tmp_path))
    assert code == 0 and report["verdict"] == "safe"
    assert _entries(cache) == []


def test_notices_of_the_loading_are_said_again_from_the_kept_state(tmp_path, cache) -> None:
    project = _project(tmp_path)
    notices = project / "db" / "migrations" / "20231201000000_roles.sql"
    notices.write_text("-- migrate:up\nGRANT SELECT ON pg_class TO reporting;\n-- migrate:down\n")
    first = _check(project)[2]
    second = _check(project)[2]
    line = "created missing role(s) reporting (NOLOGIN)"
    assert any(line in text for text in first.splitlines()), first
    assert any(line in text for text in second.splitlines()), second
