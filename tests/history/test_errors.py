"""What a history the tool would refuse, or migverify cannot read, looks like to the user: one
line naming the file (and line), or the directory and the way out; through the spec, the spec's
FILE:LINE; through the CLI, exit 2."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES

from migverify import sqlload
from migverify.cli import cli
from migverify.errors import InputError, SQLFileError
from migverify.history import read_history
from migverify.spec import load_spec
from migverify.sqlload import load_sql_files


@pytest.fixture(autouse=True)
def fresh_notices(monkeypatch):
    monkeypatch.setattr(sqlload, "_NOTICED", set())


def _files(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def _refused(directory: Path, layout: str | None = None) -> str:
    with pytest.raises(InputError) as caught:
        read_history(directory, layout)
    assert "\n" not in str(caught.value)
    return str(caught.value)


# --- dbmate ---------------------------------------------------------------------------------

DBMATE_UP_ERROR = """\
    -- An invoice table with a typo in its second statement.
    -- migrate:up
    CREATE TABLE invoices (id uuid PRIMARY KEY);

    INSERT INTO invoice (id) VALUES (gen_random_uuid());

    -- migrate:down
    DROP TABLE invoices;
"""


def test_an_error_in_a_dbmate_up_section_names_the_file_and_its_line(pg, tmp_path):
    directory = _files(tmp_path / "db", {"20240101000000_invoices.sql": DBMATE_UP_ERROR})
    history = read_history(directory)
    assert history.layout == "dbmate"
    migration = history.migrations[0]
    path = directory / "20240101000000_invoices.sql"
    assert migration.up.name == migration.down.name == str(path)
    with pg.sandbox() as box, box.create_database("dbmate").connect() as conn:
        with pytest.raises(SQLFileError) as caught:
            load_sql_files(conn, [migration.up])
    assert str(caught.value).startswith(f'{path}:5: relation "invoice" does not exist')


def test_dbmate_sections_keep_the_file_lines_and_only_the_up_runs_forward(tmp_path):
    directory = _files(tmp_path, {"1_a.sql": DBMATE_UP_ERROR})
    migration = read_history(directory, "dbmate").migrations[0]
    up, down = migration.up.text.split("\n"), migration.down.text.split("\n")
    assert up[2] == "CREATE TABLE invoices (id uuid PRIMARY KEY);" and up[7] == ""
    assert down[2] == "" and down[7] == "DROP TABLE invoices;"
    assert up[0] == down[0] == ""  # the comment before the first section belongs to neither


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("CREATE TABLE t (id int);\n", "", "define an up block with '-- migrate:up'"),
        ("-- note\nCREATE TABLE t (id int);\n-- migrate:up\n-- migrate:down\n", ":2", "preceding"),
        ("-- migrate:up\nCREATE TABLE t (id int);\n", ":1", "define a down block"),
        (
            "-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 2;\n-- migrate:down\n",
            ":5",
            "every '-- migrate:down' to be preceded by a '-- migrate:up'",
        ),
    ],
)
def test_a_file_dbmate_refuses_is_refused_with_its_reason(tmp_path, text, where, message):
    (tmp_path / "20240101000000_t.sql").write_text(text)
    refused = _refused(tmp_path, "dbmate")
    assert refused.startswith(f"{tmp_path / '20240101000000_t.sql'}{where}: dbmate ")
    assert message in refused


# --- Flyway, golang-migrate, sqitch, drizzle, prisma, diesel: what their tools refuse --------


def test_a_flyway_placeholder_is_one_line_with_file_and_line(tmp_path):
    _files(
        tmp_path,
        {"V1__init.sql": "CREATE SCHEMA app;\n\nGRANT USAGE ON SCHEMA app TO ${reader};\n"},
    )
    refused = _refused(tmp_path)
    assert refused.startswith(
        f"{tmp_path / 'V1__init.sql'}:3: Flyway placeholder ${{reader}}: no value (Flyway "
        "refuses it too): give it as flyway.placeholders.reader in the project's flyway.conf or "
        "spring.flyway.placeholders.reader in its src/main/resources/application.properties"
    )


@pytest.mark.parametrize(
    ("files", "layout", "fragment"),
    [
        ({"V1_1__a.sql": "", "V1.1__b.sql": ""}, "flyway", "version 1.1 is also"),
        ({"V1a__a.sql": ""}, "flyway", "invalid Flyway version '1a'"),
        ({"1_a.up.sql": "", "01_b.up.sql": ""}, "golang-migrate", "version 1 is also"),
        ({"a/migration.sql": "", "b/notes.txt": ""}, "prisma", "b: no migration.sql"),
        ({"1_a/up.sql": "", "2_b/down.sql": ""}, "diesel", "2_b: no up.sql"),
        ({"meta/_journal.json": '{"entries": [{"tag": "0000_x"}]}'}, "drizzle", "no 0000_x.sql"),
        ({"meta/_journal.json": '{"entries": [\n{"tag": }]}'}, "drizzle", "_journal.json:2: invalid"),
        ({"sqitch.plan": "a 2024-01-01T00:00:00Z A <a@x>\n"}, "sqitch", "sqitch.plan:1: change a"),
        (
            {"sqitch.plan": "a 2024-01-01T00:00:00Z A <a@x>\na 2024-01-02T00:00:00Z A <a@x>\n"},
            "sqitch",
            "sqitch.plan:2: change a is reworked without a tag",
        ),
        ({"supabase/config.toml": "[db.seed]\nsql_paths = 1\n", "supabase/migrations/x": ""},
         "supabase", "sql_paths must be a list"),
        ({"x.sql": ""}, "rails", "structure.sql: no such file"),
        ({"1_a.sql": "SELECT 1;\n"}, "goose", "1_a.sql:1: goose: a statement before '-- +goose Up'"),
        ({"1_a.sql": "-- nothing yet\n"}, "goose", "1_a.sql: goose: a migration must start with"),
        ({"1_a.sql": "-- +goose Up\nCREATE TABLE t (a int)\n-- +goose Down\n"}, "goose",
         "1_a.sql:2: goose: this statement has no closing ';'"),
        ({"1_a.sql": "-- +goose Up\n-- +goose StatementBegin\nSELECT 1;\n"}, "goose",
         "1_a.sql:2: goose: a '-- +goose StatementBegin' without its '-- +goose StatementEnd'"),
        ({"1_a.sql": "-- +goose Up\n-- +goose StatementEnd\n"}, "goose",
         "1_a.sql:2: goose: '-- +goose StatementEnd' must follow"),
        ({"1_a.sql": "-- +goose Up\n-- +goose Up\n"}, "goose", "1_a.sql:2: goose: duplicate"),
        ({"1_a.sql": "-- +goose Down\n"}, "goose", "1_a.sql:1: goose: a migration must start"),
        ({"1_a.sql": "-- +goose Up\n-- +goose Upgrade\n"}, "goose",
         "1_a.sql:2: goose: unknown annotation 'Upgrade'"),
        ({"1_a.sql": "-- +goose Up\n  -- +goose StatementBegin\n"}, "goose",
         "1_a.sql:2: goose: an annotation with leading whitespace"),
        ({"1_a.sql": "-- +goose Up\n", "01_b.sql": "-- +goose Up\n"}, "goose", "version 1 is also"),
        ({"1_a.sql": "-- +goose Up\n", "1_b.go": "package m\n"}, "goose", "version 1 is also"),
        ({"1_a.sql": "-- +goose Up\n", "init.sql": ""}, "goose", "init.sql: goose cannot read"),
        ({"0_a.sql": "-- +goose Up\n"}, "goose", "0_a.sql: goose cannot read its version"),
        ({"1_a.sql": "", "v2_b.sql": ""}, "sqlx", "v2_b.sql: sqlx cannot read its version"),
        ({"1_a.sql": "", "01_b.up.sql": ""}, "sqlx", "version 1 is also"),
        ({"atlas.sum": "h1:x=\n1_a.sql h1:y=\n", "1_a.sql": "", "2_b.sql": ""}, "atlas",
         "2_b.sql: not in atlas.sum"),
        ({"atlas.sum": "h1:x=\n1_a.sql h1:y=\n2_b.sql h1:z=\n", "1_a.sql": ""}, "atlas",
         "atlas.sum: lists 2_b.sql, which is not in the directory"),
        ({"atlas.sum": "h1:x=\n1_a.sql\n", "1_a.sql": ""}, "atlas", "atlas.sum:2: not a"),
    ],
)  # fmt: skip
def test_what_the_tool_refuses_is_refused(tmp_path, files, layout, fragment):
    _files(tmp_path, files)
    directory = tmp_path / "supabase" if layout == "supabase" else tmp_path
    assert fragment in _refused(directory, layout)


def test_a_sqitch_rework_uses_the_first_tag_whose_file_exists(tmp_path):
    plan = """\
        %project=x
        f 2024-01-01T00:00:00Z A <a@x>
        @v1 2024-01-02T00:00:00Z A <a@x>
        @v1.1 2024-01-03T00:00:00Z A <a@x>
        f [f@v1.1] 2024-01-04T00:00:00Z A <a@x>
    """
    files = {"sqitch.plan": plan, "deploy/f@v1.1.sql": "SELECT 1;", "deploy/f.sql": "SELECT 2;"}
    history = read_history(_files(tmp_path, files))
    assert history.names() == ("f@v1.1", "f")
    assert [Path(m.up.name).name for m in history.migrations] == ["f@v1.1.sql", "f.sql"]


def test_sqitch_deploy_verify_runs_each_changes_verify_script_after_it(pg, tmp_path):
    files = {
        "sqitch.conf": "[core]\n\tengine = pg\n[deploy]\n\tverify = yes\n",
        "sqitch.plan": "a 2024-01-01T00:00:00Z A <a@x>\nb 2024-01-02T00:00:00Z A <a@x>\n",
        "deploy/a.sql": "CREATE TABLE a (id int);\n",
        "verify/a.sql": "BEGIN;\nSELECT id FROM a WHERE FALSE;\nROLLBACK;\n",
        "deploy/b.sql": "DROP TABLE a;\n",
        "verify/b.sql": "BEGIN;\nSELECT 1 / count(*) FROM pg_class WHERE relname = 'a';\nROLLBACK;\n",
        "verify/gone.sql": "",
    }
    history = read_history(_files(tmp_path, files))
    ran = [Path(s.name).relative_to(tmp_path).as_posix() for s in history.scripts()]
    assert ran == ["deploy/a.sql", "verify/a.sql", "deploy/b.sql", "verify/b.sql"]
    assert [Path(path).name for path, _ in history.skipped] == ["gone.sql"]
    with pg.sandbox() as box, box.create_database("sqitch").connect() as conn:
        with pytest.raises(SQLFileError) as caught:
            load_sql_files(conn, history.scripts())
    assert str(caught.value).startswith(f"{tmp_path / 'verify' / 'b.sql'}:2: division by zero")


def test_sqitch_conf_top_dir_is_followed(tmp_path):
    files = {
        "sqitch.conf": '[core]\n\tengine = pg\n\ttop_dir = "sql"\n',
        "sql/sqitch.plan": "a 2024-01-01T00:00:00Z A <a@x>\n",
        "sql/deploy/a.sql": "SELECT 1;",
    }
    history = read_history(_files(tmp_path, files))
    assert history.layout == "sqitch" and history.names() == ("a",)


def test_flyway_baseline_replaces_the_versions_it_covers(tmp_path):
    files = {"V1__a.sql": "", "V2__b.sql": "", "B2__base.sql": "", "V3__c.sql": ""}
    history = read_history(_files(tmp_path, files))
    assert history.names() == ("B2__base", "V3__c")
    assert [Path(p).name for p, _ in history.skipped] == ["V1__a.sql", "V2__b.sql"]


def test_supabase_skips_an_old_clis_init_file_first_and_reads_from_migrations(tmp_path):
    files = {
        "supabase/config.toml": 'project_id = "x"\n',
        "supabase/migrations/20211208000000_init.sql": "SELECT 1;",
        "supabase/migrations/20240101000000_a.sql": "SELECT 2;",
        "supabase/migrations/notes.txt": "",
    }
    _files(tmp_path, files)
    from_project = read_history(tmp_path / "supabase")
    from_migrations = read_history(tmp_path / "supabase" / "migrations")
    assert from_project.names() == from_migrations.names() == ("20240101000000_a",)
    assert [Path(p).name for p, _ in from_project.skipped] == [
        "20211208000000_init.sql",
        "notes.txt",
    ]
    assert from_migrations.layout == "supabase" and from_project.seeds == ()


# --- naming the migration under test ---------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "wanted", "name"),
    [
        ("flyway", "2", "V2__employees_to_staff"),
        ("flyway", "2.0", "V2__employees_to_staff"),
        ("flyway", "V1_10", "V1_10__employee_salary_band"),
        ("flyway", "1.10", "V1_10__employee_salary_band"),
        ("flyway", "V1_10__employee_salary_band.sql", "V1_10__employee_salary_band"),
        ("golang-migrate", "0010", "10_events_to_shows"),
        ("golang-migrate", "10_events_to_shows.up.sql", "10_events_to_shows"),
        ("dbmate", "20240201080000", "20240201080000_invoices_to_bills"),
        ("supabase", "20240201100000_notes_to_documents.sql", "20240201100000_notes_to_documents"),
        ("diesel", "20240120093000", "20240120093000_add_isbn"),
        ("sqitch", "touch_updated_at@v1.0", "touch_updated_at@v1.0"),
    ],
)
def test_before_names_a_migration_by_name_file_name_or_version(case, wanted, name):
    directory = {"flyway": "db/migration", "golang-migrate": "migrations", "dbmate": "db/migrations",
                 "supabase": "supabase", "diesel": "migrations", "sqitch": "db"}[case]  # fmt: skip
    history = read_history(FIXTURES / "history" / case / directory)
    assert history.migrations[history.index(wanted)].name == name


def test_a_version_two_migrations_share_is_ambiguous(tmp_path):
    _files(
        tmp_path,
        {
            "1_a.sql": "-- migrate:up\n-- migrate:down\n",
            "1_b.sql": "-- migrate:up\n-- migrate:down\n",
        },
    )
    history = read_history(tmp_path)
    with pytest.raises(
        InputError, match=r"^'1' names 2 migrations \(1_a, 1_b\): give the full name$"
    ):
        history.index("1")


# --- detection ------------------------------------------------------------------------------


def test_a_directory_of_nothing_known_names_what_was_looked_for(tmp_path):
    (tmp_path / "notes.txt").write_text("")
    refused = _refused(tmp_path)
    assert refused.startswith(f"{tmp_path}: no migration history found (looked for supabase ")
    assert "flyway V<version>__<desc>.sql, sqitch sqitch.plan, rails db/structure.sql)" in refused
    assert 'layout = "…" in [legacy]' in refused


def test_a_directory_of_two_layouts_says_how_to_choose(tmp_path):
    _files(tmp_path, {"V1__a.sql": "SELECT 1;", "1_a.up.sql": "SELECT 1;"})
    refused = _refused(tmp_path)
    assert refused == (
        f"{tmp_path}: looks like a golang-migrate and a flyway history at once; "
        'choose with layout = "golang-migrate" or layout = "flyway" in [legacy]'
    )


@pytest.mark.parametrize(
    ("files", "fragment"),
    [
        ({"alembic.ini": "[alembic]\n"}, "`alembic upgrade head --sql > legacy.sql`"),
        (
            {"0001_initial.py": "class Migration(migrations.Migration):\n    pass\n"},
            "`python manage.py sqlmigrate <app> <migration>`",
        ),
        ({"20240101_users.ts": "export class Users implements MigrationInterface {}\n"}, "TypeORM"),
        ({"20240101-users.js": "module.exports = { up: (queryInterface) => {} };\n"}, "Sequelize"),
        ({"20240101_users.js": "exports.up = (knex) => knex.schema.createTable('u');\n"}, "knex"),
    ],
)
def test_a_history_written_as_code_points_at_its_tools_sql_output(tmp_path, files, fragment):
    _files(tmp_path, files)
    refused = _refused(tmp_path)
    assert refused.startswith(f"{tmp_path}: ") and "code, not SQL" in refused
    assert fragment in refused


def test_an_unknown_layout_lists_the_known_ones(tmp_path):
    assert "(known: supabase, prisma, drizzle, diesel, golang-migrate" in _refused(tmp_path, "x")


# --- through the spec and the CLI ------------------------------------------------------------


def _spec(tmp_path: Path, legacy: str) -> Path:
    """A spec whose [legacy] is LEGACY, beside a copy of the dbmate fixture's db/."""
    shutil.copytree(FIXTURES / "history" / "dbmate" / "db", tmp_path / "db")
    path = tmp_path / "migverify.toml"
    path.write_text(f"[legacy]\n{legacy}\n")
    return path


@pytest.mark.parametrize(
    ("legacy", "line", "message"),
    [
        (
            'migrations = "db/migrations"\nbefore = "20240201080000_invoices_to_bill"',
            3,
            "legacy.before: no migration '20240201080000_invoices_to_bill' in ",
        ),
        (
            'migrations = "db/migrations"\nbefore = "invoices"',
            3,
            "closest: 20240103100000_create_invoices, 20240201080000_invoices_to_bills, ",
        ),
        ('migrations = "db/migrations"\nlayout = "dbmat"', 3, "unknown migration layout 'dbmat' (did you mean 'dbmate'?)"),
        ('migrations = "db/migrations"\nlayout = "flyway"', 2, "no flyway migrations (V<version>__<desc>.sql) and 5 file(s)"),
        ('migrations = "db"', 2, "no migration history found (looked for"),
        ('migrations = "db/missing"', 2, "legacy.migrations: db/missing is not a directory"),
        ('dsn = "postgresql://x"\nbefore = "x"', 3, 'legacy.before needs migrations = "<directory>"'),
        ('migrations = "db/migrations"\nsupabase = "db"', 2, "give legacy.migrations or legacy.supabase"),
        ('supabase = "db"\nlayout = "dbmate"', 3, 'legacy.supabase is a Supabase project, not layout "dbmate"'),
        ('migrations = 3', 2, "legacy.migrations must be a string, not an integer"),
        ('migrations = "db/migrations"', 1, "the spec names no [tables.<legacy table>]"),
    ],
)  # fmt: skip
def test_spec_errors_name_the_spec_line(tmp_path, legacy, line, message):
    path = _spec(tmp_path, legacy)
    with pytest.raises(InputError) as caught:
        load_spec(path)
    assert str(caught.value).startswith(f"{path}:{line}: "), str(caught.value)
    assert message in str(caught.value)


def test_an_error_in_a_history_file_names_that_file_not_the_spec(tmp_path):
    path = _spec(
        tmp_path, 'migrations = "db/migrations"\nbefore = "20240201080000_invoices_to_bills"'
    )
    broken = tmp_path / "db" / "migrations" / "20240301000000_broken.sql"
    broken.write_text("SELECT 1;\n-- migrate:up\nSELECT 2;\n-- migrate:down\n")
    with pytest.raises(SQLFileError) as caught:
        load_spec(path)
    assert str(caught.value).startswith(f"{broken}:1: dbmate does not support statements")


def test_notices_come_only_with_a_valid_spec(tmp_path, capsys):
    path = _spec(tmp_path, 'migrations = "db/migrations"\nbefore = "nope"')
    with pytest.raises(InputError):
        load_spec(path)
    assert capsys.readouterr().err == ""


def test_the_cli_exits_2_with_one_line(tmp_path):
    path = _spec(tmp_path, 'migrations = "db/migrations"\nbefore = "invoices_to_bill"')
    result = CliRunner().invoke(cli, ["generate", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"migverify: error: {path}:3: legacy.before: no migration ")
    assert not (tmp_path / "out").exists()


def test_the_cli_reports_a_flyway_placeholder_with_exit_2(tmp_path):
    _files(tmp_path / "sql", {"V1__init.sql": "CREATE SCHEMA ${schema};\n"})
    path = tmp_path / "migverify.toml"
    path.write_text('[legacy]\nmigrations = "sql"\nbefore = "1"\n')
    result = CliRunner().invoke(cli, ["generate", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.stderr == (
        f"migverify: error: {tmp_path / 'sql' / 'V1__init.sql'}:1: Flyway placeholder ${{schema}}: "
        "no value (Flyway refuses it too): give it as flyway.placeholders.schema in the project's "
        "flyway.conf or spring.flyway.placeholders.schema in its src/main/resources/application."
        "properties (read when [legacy] migrations names the project or a location in it), or "
        "write the value into the file\n"
    )


# --- goose and sqlx -------------------------------------------------------------------------


def test_a_goose_down_section_goose_would_refuse_drops_only_the_rollback(tmp_path, capsys):
    _files(
        tmp_path,
        {
            "1_a.sql": "-- +goose Up\nCREATE TABLE t (a int);\n-- +goose Down\nDROP TABLE t\n",
            "2_b.sql": "-- +goose Up\nSELECT 1;\n-- +goose Down\n-- +goose StatementBegin\n",
        },
    )
    history = read_history(tmp_path)
    assert [m.down for m in history.migrations] == [None, None]
    assert [reason for _, reason in history.skipped] == [
        "its -- +goose Down section is not read: the statement at line 4 has no closing ';' "
        "(goose down refuses it)",
        "its -- +goose Down section is not read: a '-- +goose StatementBegin' without its "
        "'-- +goose StatementEnd' at line 4",
    ]


def test_goose_sections_keep_the_files_lines(tmp_path):
    _files(
        tmp_path,
        {"1_a.sql": "-- note\n-- +goose up\nSELECT 1;\n\n-- +goose DOWN\nSELECT 2;\n"},
    )
    migration = read_history(tmp_path).migrations[0]
    assert migration.up.text == "\nBEGIN; -- +goose up\nSELECT 1;\n\nCOMMIT;\n\n"
    assert migration.down.text == "\n\n\n\nBEGIN; -- +goose DOWN\nSELECT 2;\nCOMMIT;"


def test_goose_envsub_replaces_variables_from_the_environment(tmp_path, monkeypatch):
    text = (
        "-- +goose Up\nCREATE ROLE ${READER};\n-- +goose ENVSUB ON\n"
        "GRANT ${PRIVILEGE:-SELECT} ON t TO $READER;\n-- +goose ENVSUB OFF\nSELECT '$READER';\n"
    )
    _files(tmp_path, {"1_a.sql": text})
    monkeypatch.setenv("READER", "app_reader")
    monkeypatch.delenv("PRIVILEGE", raising=False)
    up = read_history(tmp_path).migrations[0].up.text
    assert "CREATE ROLE ${READER};" in up  # before ENVSUB ON: as written
    assert "GRANT SELECT ON t TO app_reader;" in up
    assert "SELECT '$READER';" in up  # after ENVSUB OFF
    monkeypatch.delenv("READER")
    assert _refused(tmp_path).startswith(
        f"{tmp_path / '1_a.sql'}:4: goose ENVSUB: $READER is not set in the environment"
    )


def test_an_sqlx_toml_migverify_cannot_read_is_one_line(tmp_path):
    _files(
        tmp_path,
        {
            "Cargo.toml": '[dependencies]\nsqlx = "0.8"\n',
            "sqlx.toml": "[migrate]\ncreate-schemas = 1\n",
            "migrations/1_a.sql": "SELECT 1;\n",
        },
    )
    assert _refused(tmp_path) == (
        f"{tmp_path / 'sqlx.toml'}: [migrate] create-schemas must be a list of schema names"
    )


def test_a_prisma_directory_holding_a_data_migration_in_code_is_reported_not_run(tmp_path):
    # formbricks' own migrator runs <timestamp>_<name>/migration.ts beside Prisma's SQL ones
    _files(
        tmp_path,
        {
            "migration_lock.toml": "",
            "1_init/migration.sql": "CREATE TABLE t (a int);\n",
            "2_backfill/migration.ts": "export const backfill = {};\n",
            "3_more/migration.sql": "ALTER TABLE t ADD b int;\n",
        },
    )
    history = read_history(tmp_path)
    assert history.names() == ("1_init", "3_more")
    ((path, reason),) = history.skipped
    assert path == str(tmp_path / "2_backfill")
    assert reason.startswith("a migration in code (migration.ts), not migration.sql")


def test_a_missing_object_after_a_go_migration_not_run_names_that_migration(pg, tmp_path):
    _files(
        tmp_path,
        {
            "1_a.sql": "-- +goose Up\nCREATE TABLE a (id int);\n",
            "2_b.go": "package migrations\n",  # creates table b, in Go
            "3_c.sql": "-- +goose Up\nSELECT 1;\nALTER TABLE b ADD c int;\n",
        },
    )
    history = read_history(tmp_path)
    with pg.sandbox() as box, box.create_database("not_run").connect() as conn:
        with pytest.raises(SQLFileError) as caught:
            load_sql_files(conn, history.scripts())
    assert str(caught.value) == (
        f'{tmp_path / "3_c.sql"}:3: relation "b" does not exist (SQLSTATE 42P01) (the migration '
        "2_b.go before it was not run: what it creates is missing here)"
    )
