"""A project root as [legacy] migrations: the history is found where its tool keeps it, by
default or per the project's configuration; two tools' histories in one root is one line saying
how to choose."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from migverify.errors import InputError
from migverify.history import read_history

DBMATE = "-- migrate:up\nSELECT 1;\n-- migrate:down\n"
JOURNAL = '{"entries": [{"idx": 0, "tag": "0000_a"}]}'
GOOSE = "-- +goose Up\nSELECT 1;\n"
CARGO = (
    '[package]\nname = "x"\n\n[dependencies]\nsqlx = { version = "0.8", features = ["postgres"] }\n'
)


def _files(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


@pytest.mark.parametrize(
    ("files", "layout", "place"),
    [
        ({"supabase/config.toml": 'project_id = "x"\n', "supabase/migrations/1_a.sql": ""},
         "supabase", "supabase"),
        ({"prisma/migrations/migration_lock.toml": "", "prisma/migrations/1_a/migration.sql": ""},
         "prisma", "prisma/migrations"),
        ({"drizzle/meta/_journal.json": JOURNAL, "drizzle/0000_a.sql": ""}, "drizzle", "drizzle"),
        ({"drizzle.config.ts": 'export default defineConfig({\n  out: "./db/out",\n});\n',
          "db/out/meta/_journal.json": JOURNAL, "db/out/0000_a.sql": ""}, "drizzle", "db/out"),
        ({"drizzle.config.json": '{"out": "sql"}', "sql/meta/_journal.json": JOURNAL,
          "sql/0000_a.sql": ""}, "drizzle", "sql"),
        ({"migrations/1_a/up.sql": ""}, "diesel", "migrations"),
        ({"diesel.toml": '[migrations_directory]\ndir = "db/diesel"\n',
          "db/diesel/1_a/up.sql": "", "migrations/1_b/up.sql": ""}, "diesel", "db/diesel"),
        ({"migrations/1_a.up.sql": ""}, "golang-migrate", "migrations"),
        ({"db/migrations/1_a.up.sql": ""}, "golang-migrate", "db/migrations"),
        ({"db/migrations/1_a.sql": DBMATE}, "dbmate", "db/migrations"),
        ({".env": "DATABASE_URL=postgres://x\nexport DBMATE_MIGRATIONS_DIR='sql/up' # here\n",
          "sql/up/1_a.sql": DBMATE}, "dbmate", "sql/up"),
        ({"src/main/resources/db/migration/V1__a.sql": ""}, "flyway", "."),
        ({"sqitch.plan": "a 2024-01-01T00:00:00Z A <a@x>\n", "deploy/a.sql": ""}, "sqitch", "."),
        ({"db/structure.sql": ""}, "rails", "."),
        ({"migrations/00001_a.sql": GOOSE}, "goose", "migrations"),
        ({"sql/schema/001_users.sql": GOOSE}, "goose", "sql/schema"),
        ({".env": "GOOSE_DRIVER=postgres\nGOOSE_MIGRATION_DIR=internal/store/migrations\n",
          "internal/store/migrations/1_a.sql": GOOSE, "migrations/1_b.sql": GOOSE},
         "goose", "internal/store/migrations"),
        ({"Cargo.toml": CARGO, "migrations/20240101000000_a.sql": ""}, "sqlx", "migrations"),
        # reversible sqlx migrations are named as golang-migrate's: the crate tells them apart
        ({"Cargo.toml": CARGO, "migrations/1_a.up.sql": "", "migrations/1_a.down.sql": ""},
         "sqlx", "migrations"),
        ({"Cargo.toml": '[package]\nname = "x"\n', "sqlx.toml": '[migrate]\nmigrations-dir = "db/sql"\n',
          "db/sql/1_a.sql": ""}, "sqlx", "db/sql"),
        ({"migrations/atlas.sum": "h1:x=\n1_a.sql h1:y=\n", "migrations/1_a.sql": ""}, "atlas",
         "migrations"),
        ({"atlas.hcl": 'env "dev" {\n  migration {\n    dir = "file://db/atlas"\n  }\n}\n',
          "db/atlas/atlas.sum": "h1:x=\n1_a.sql h1:y=\n", "db/atlas/1_a.sql": ""}, "atlas",
         "db/atlas"),
    ],
)  # fmt: skip
def test_a_project_root_reads_the_history_where_its_tool_keeps_it(tmp_path, files, layout, place):
    history = read_history(_files(tmp_path, files))
    assert history.layout == layout
    assert history.directory == tmp_path / place
    assert len(history.migrations) == 1
    assert read_history(tmp_path, layout) == history


def test_two_tools_histories_in_one_root_say_how_to_choose(tmp_path):
    _files(
        tmp_path,
        {
            "supabase/config.toml": 'project_id = "x"\n',
            "supabase/migrations/1_a.sql": "",
            "prisma/migrations/1_a/migration.sql": "",
        },
    )
    with pytest.raises(InputError) as caught:
        read_history(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path}: looks like a supabase (supabase) and a prisma (prisma/migrations) history "
        'at once; choose with layout = "supabase" or layout = "prisma" in [legacy]'
    )
    assert read_history(tmp_path, "prisma").directory == tmp_path / "prisma" / "migrations"


def test_the_directory_itself_comes_before_what_it_holds(tmp_path):
    # A Supabase project's migrations/ is no golang-migrate history, though it is `migrations/`.
    _files(tmp_path, {"config.toml": "[db]\nport = 1\n", "migrations/1_a.sql": ""})
    assert read_history(tmp_path).layout == "supabase"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"migrations/1_a.up.sql": "", "db/migrations/1_b.up.sql": ""},
            "golang-migrate migrations in both migrations/ and db/migrations/",
        ),
        (
            {"drizzle.config.ts": "export default { out: process.env.OUT };\n"},
            "drizzle.config.ts:1: out is not a string literal",
        ),
        ({"diesel.toml": "[migrations_directory]\ndir = 3\n"}, "dir must be a path"),
    ],
)
def test_a_root_whose_place_cannot_be_told_is_one_line(tmp_path, files, message):
    _files(tmp_path, files)
    with pytest.raises(InputError) as caught:
        read_history(tmp_path)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_root_with_nothing_known_keeps_todays_message(tmp_path):
    _files(tmp_path, {"migrations/notes.txt": "", "README.md": ""})
    with pytest.raises(InputError, match="no migration history found"):
        read_history(tmp_path)


@pytest.mark.parametrize(
    ("files", "layout"),
    [
        ({"1_a.up.sql": "SELECT 1;", "1_a.down.sql": "SELECT 1;"}, "golang-migrate"),
        ({"1_a.sql": "-- +goose Up\nSELECT 1;\n"}, "goose"),
        ({"V1__a.sql": "SELECT 1;"}, "flyway"),
        ({"1_a.sql": "SELECT 1;"}, "atlas"),
    ],
)
def test_a_directory_atlas_sums_in_another_tools_format_is_that_tools(tmp_path, files, layout):
    # `atlas migrate diff --dir-format golang-migrate` (goose, flyway …) writes atlas.sum too
    listed = "".join(f"{name} h1:x=\n" for name in files)
    _files(tmp_path, {"atlas.sum": f"h1:x=\n{listed}", **files})
    assert read_history(tmp_path).layout == layout
