"""`[legacy] supabase = "supabase"`: a Supabase CLI directory as the legacy SQL, in the order
`supabase db reset` runs it; the spec's new keys are validated like the others."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from migverify.errors import InputError
from migverify.history import read_history
from migverify.spec import load_spec

SPEC = """
[legacy]
supabase = "supabase"
{extra}
[target]
sql = ["target.sql"]

[tables.notes]
target = "user_notes"
"""


def _project(tmp_path: Path, config: str | None = None, extra: str = "") -> Path:
    migrations = tmp_path / "supabase" / "migrations"
    migrations.mkdir(parents=True)
    # File-name order, not creation order; a non-SQL file is not a migration.
    for name in ("20240302_b.sql", "20240101_a.sql", "20240303_c.sql", "README.md"):
        (migrations / name).write_text("SELECT 1;\n")
    (tmp_path / "supabase" / "seed.sql").write_text("SELECT 2;\n")
    seeds = tmp_path / "supabase" / "seeds"
    seeds.mkdir()
    for name in ("02_posts.sql", "01_users.sql"):
        (seeds / name).write_text("SELECT 3;\n")
    if config is not None:
        (tmp_path / "supabase" / "config.toml").write_text(textwrap.dedent(config))
    (tmp_path / "target.sql").write_text("SELECT 4;\n")
    spec = tmp_path / "migverify.toml"
    spec.write_text(SPEC.format(extra=extra))
    return spec


def _names(scripts) -> list[str]:
    paths = [Path(s.name) for s in scripts]
    return [p.relative_to(p.parents[1]).as_posix() for p in paths]


def test_migrations_in_file_name_order_then_the_default_seed(tmp_path):
    spec = load_spec(_project(tmp_path))
    assert _names(spec.legacy_sql) == [
        "migrations/20240101_a.sql",
        "migrations/20240302_b.sql",
        "migrations/20240303_c.sql",
        "supabase/seed.sql",
    ]
    assert spec.supabase_dir == (tmp_path / "supabase").resolve()
    assert spec.supabase_options().mode == "on"


def test_config_toml_seed_paths_with_globs_in_their_order(tmp_path):
    config = """
        [db.seed]
        enabled = true
        sql_paths = ["./seeds/*.sql", "./seed.sql", "./seeds/01_users.sql"]
    """
    spec = load_spec(_project(tmp_path, config))
    assert _names(spec.legacy_sql)[3:] == [
        "seeds/01_users.sql",
        "seeds/02_posts.sql",
        "supabase/seed.sql",
    ]


def test_seeding_disabled_in_config_toml(tmp_path):
    spec = load_spec(_project(tmp_path, "[db.seed]\nenabled = false\n"))
    assert len(spec.legacy_sql) == 3


def test_a_seed_pattern_matching_nothing_is_a_notice(tmp_path, caplog):
    caplog.set_level("INFO", logger="migverify")
    spec = load_spec(_project(tmp_path, '[db.seed]\nsql_paths = ["./missing/*.sql"]\n'))
    assert len(spec.legacy_sql) == 3
    assert "no seed file matches ./missing/*.sql" in caplog.text


def test_skip_extensions_is_read(tmp_path):
    spec = load_spec(_project(tmp_path, extra='skip_extensions = ["http", "pg_net"]'))
    assert spec.skip_extensions == ("http", "pg_net")
    assert spec.supabase_options().skip_extensions == ("http", "pg_net")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            'skip_extension = ["http"]',
            "unknown key in [legacy] 'skip_extension' (did you mean 'skip_extensions'?)",
        ),
        ('skip_extensions = "http"', "legacy.skip_extensions must be a list of names"),
    ],
)
def test_bad_legacy_keys_name_the_line(tmp_path, extra, message):
    with pytest.raises(InputError) as error:
        load_spec(_project(tmp_path, extra=extra))
    assert str(error.value) == f"{tmp_path / 'migverify.toml'}:4: {message}"


def test_a_directory_that_is_not_a_supabase_project(tmp_path):
    (tmp_path / "supabase").mkdir()
    (tmp_path / "target.sql").write_text("SELECT 1;\n")
    spec = tmp_path / "migverify.toml"
    spec.write_text(SPEC.format(extra=""))
    with pytest.raises(InputError, match=r"migverify.toml:3: legacy.supabase: .*no migrations/"):
        load_spec(spec)


def test_the_fixture_read_as_a_history():
    root = Path(__file__).resolve().parents[2] / "fixtures" / "supabase" / "supabase"
    history = read_history(root)
    assert history.layout == "supabase"
    names = [Path(s.name).name for s in history.scripts()]
    assert names[-2:] == ["seed.sql", "seed-documents.sql"]
    assert names[:-2] == sorted(names[:-2])
    assert history.skipped == ()
