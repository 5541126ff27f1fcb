"""Flyway run as its configuration says: flyway.conf and Spring Boot's application.properties /
application.yml give the locations, the schemas created first, the default schema on the
search_path and the placeholder values, built-ins included; a placeholder with no value is one
line with the file, the line and where a value may come from."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from migverify.errors import InputError, SQLFileError
from migverify.history import read_history
from migverify.spec import load_spec
from migverify.sqlload import load_sql_files

MIGRATION = "src/main/resources/db/migration"
SEARCH_PATH = "SELECT pg_catalog.set_config('search_path', concat_ws(', ', 'ledger', "


def _files(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def _spring(root: Path, properties: str, migrations: dict[str, str]) -> Path:
    files = {"src/main/resources/application.properties": properties}
    files |= {f"{MIGRATION}/{name}": text for name, text in migrations.items()}
    return _files(root, files)


PROPERTIES = """\
    spring.datasource.url=jdbc:postgresql://db:5432/ledger?ssl=true
    spring.datasource.username=ledger_owner
    spring.flyway.schemas=ledger, audit
    spring.flyway.defaultSchema=ledger
    spring.flyway.placeholders.app_role=ledger_app
    spring.flyway.placeholders.[report.role]=reporting
"""


def test_spring_boot_properties_create_schemas_set_the_search_path_and_fill_placeholders(
    tmp_path,
):
    migration = "CREATE TABLE t (id int);\nGRANT SELECT ON ${flyway:defaultSchema}.t TO ${app_role}, ${report.role};\n"
    history = read_history(_spring(tmp_path, PROPERTIES, {"V1__t.sql": migration}))
    assert history.layout == "flyway" and history.directory == tmp_path
    [preamble] = history.preamble
    assert preamble.name == (
        "flyway migrate: CREATE SCHEMA ledger, audit "
        f"({tmp_path / 'src/main/resources/application.properties'}:3)"
    )
    assert (
        "CREATE SCHEMA IF NOT EXISTS ledger;\nCREATE SCHEMA IF NOT EXISTS audit;" in preamble.text
    )
    up = history.migrations[0].up.text
    first, second = up.split("\n")[:2]
    assert first.startswith(SEARCH_PATH) and first.endswith(" CREATE TABLE t (id int);")
    assert second == "GRANT SELECT ON ledger.t TO ledger_app, reporting;"
    assert up.count("\n") == migration.count("\n")  # the file's lines keep their numbers


@pytest.mark.parametrize(
    ("placeholder", "value"),
    [
        ("flyway:user", "ledger_owner"),
        ("flyway:database", "ledger"),
        ("flyway:filename", "V1__t.sql"),
        ("flyway:table", "flyway_schema_history"),
        ("flyway:schemas", "ledger,audit"),
        ("flyway:defaultSchema", "ledger"),
        ("flyway:environment", "default"),
    ],
)
def test_flyways_built_in_placeholders(tmp_path, placeholder, value):
    migration = f"SELECT '${{{placeholder}}}';\n"
    history = read_history(_spring(tmp_path, PROPERTIES, {"V1__t.sql": migration}))
    assert history.migrations[0].up.text.endswith(f" SELECT '{value}';\n")


def test_the_timestamp_is_flyways_format(tmp_path):
    history = read_history(_spring(tmp_path, "", {"V1__t.sql": "SELECT '${flyway:timestamp}';"}))
    assert re.fullmatch(r"SELECT '\d{4}-\d\d-\d\d \d\d:\d\d:\d\d';", history.migrations[0].up.text)


def test_without_configuration_the_default_schema_is_public_and_the_search_path_stays(tmp_path):
    history = read_history(_files(tmp_path, {"V1__t.sql": "SELECT '${flyway:defaultSchema}';"}))
    assert history.preamble == ()
    assert history.migrations[0].up.text == "SELECT 'public';"


def test_flyway_conf_and_conf_flyway_conf_the_later_wins(tmp_path):
    _files(
        tmp_path,
        {
            "conf/flyway.conf": "flyway.placeholders.who=conf\nflyway.placeholders.kept=yes\n",
            "flyway.conf": """\
                # the CLI's own file beside the project
                flyway.locations=filesystem:sql,filesystem:more
                flyway.placeholders.who=\\
                    root
                flyway.placeholderPrefix=#[
                flyway.placeholderSuffix=]
                flyway.createSchemas=false
                flyway.defaultSchema=ledger
            """,
            "sql/V1__a.sql": "SELECT '#[who]', '#[kept]', '${not_one}';\n",
            "more/V2__b.sql": "SELECT 2;\n",
        },
    )
    history = read_history(tmp_path)
    assert history.names() == ("V1__a", "V2__b") and history.preamble == ()
    assert history.migrations[0].up.text.startswith(SEARCH_PATH)
    assert history.migrations[0].up.text.endswith(" SELECT 'root', 'yes', '${not_one}';\n")


def test_spring_indexed_lists_and_relaxed_names(tmp_path):
    properties = """\
        spring.flyway.schemas[1]=audit
        spring.flyway.schemas[0]=ledger
        spring.flyway.create_schemas=true
        spring.flyway.placeholder-prefix=@@
        spring.flyway.placeholderSuffix=@@
    """
    history = read_history(
        _spring(tmp_path, properties, {"V1__t.sql": "SELECT '@@flyway:schemas@@';"})
    )
    assert history.migrations[0].up.text.endswith(" SELECT 'ledger,audit';")


def test_placeholder_replacement_off_leaves_the_text(tmp_path):
    properties = "spring.flyway.placeholder-replacement=false\n"
    history = read_history(_spring(tmp_path, properties, {"V1__t.sql": "SELECT '${x}';"}))
    assert history.migrations[0].up.text == "SELECT '${x}';"


APPLICATION_YML = """\
    spring:
      datasource:
        username: "app" # quoted, with a comment
      flyway:
        locations: [ "classpath:db/{vendor}" ]
        schemas:
          - ledger
        default-schema: ledger
        placeholders:
          app_role: 'ledger_app'
          url: ${spring.datasource.url:none}
    ---
    spring:
      config:
        activate:
          on-profile: test
      flyway:
        placeholders:
          app_role: test_role
"""


def test_application_yml_is_read_without_pyyaml(tmp_path):
    _files(
        tmp_path,
        {
            "src/main/resources/application.yml": APPLICATION_YML,
            "src/main/resources/db/postgresql/V1__t.sql": "SELECT '${app_role}', '${url}', "
            "'${flyway:user}';\n",
        },
    )
    history = read_history(tmp_path)
    assert history.migrations[0].up.text.endswith(" SELECT 'ledger_app', 'none', 'app';\n")
    assert [s.text.count("CREATE SCHEMA") for s in history.preamble] == [1]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"src/main/resources/application.yml": "spring:\n  flyway:\n    schemas: &s ledger\n"},
            "application.yml:3: spring.flyway.schemas: a YAML construct migverify does not read",
        ),
        (
            {"src/main/resources/application.properties": "spring.flyway.schemas=${SCHEMA}\n"},
            "application.properties:1: ${SCHEMA} has no value in the configuration files",
        ),
        (
            {"flyway.conf": "flyway.locations=s3:bucket/sql\n"},
            "flyway.conf:1: Flyway location 's3:bucket/sql': only classpath: and filesystem:",
        ),
        (
            {"flyway.conf": "flyway.createSchemas=yes\n"},
            "flyway.conf:1: createschemas must be true or false, not 'yes'",
        ),
    ],
)
def test_a_configuration_migverify_cannot_follow_is_one_line(tmp_path, files, message):
    _files(tmp_path, {**files, f"{MIGRATION}/V1__t.sql": "SELECT 1;", "sql/V1__t.sql": ""})
    with pytest.raises(InputError) as caught:
        read_history(tmp_path, "flyway")
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_placeholder_with_no_value_names_the_line_and_the_files_read(tmp_path):
    _spring(tmp_path, PROPERTIES, {"V1__t.sql": "SELECT 1;\n\nGRANT x TO ${reader};\n"})
    with pytest.raises(SQLFileError) as caught:
        read_history(tmp_path)
    message = str(caught.value)
    assert message.startswith(
        f"{tmp_path / MIGRATION / 'V1__t.sql'}:3: Flyway placeholder ${{reader}}: no value"
    )
    assert f"(read: {tmp_path / 'src/main/resources/application.properties'})" in message


def test_a_location_inside_the_project_gets_its_configuration(tmp_path):
    _spring(tmp_path, PROPERTIES, {"V1__t.sql": "SELECT '${app_role}';"})
    history = read_history(tmp_path / MIGRATION)
    assert history.directory == tmp_path / MIGRATION
    assert len(history.preamble) == 1
    assert history.migrations[0].up.text.endswith(" SELECT 'ledger_app';")


def test_before_keeps_the_preamble_in_the_legacy_state(tmp_path):
    _spring(tmp_path, PROPERTIES, {"V1__a.sql": "CREATE TABLE a ();", "V2__b.sql": "SELECT 2;"})
    (tmp_path / "migverify.toml").write_text('[legacy]\nmigrations = "."\nbefore = "2"\n')
    spec = load_spec(tmp_path / "migverify.toml")
    history = spec.history
    assert spec.legacy_sql == (*history.preamble, history.migrations[0].up)
    assert spec.migration.up.text.startswith(SEARCH_PATH)


def test_the_migrations_land_in_the_default_schema(pg, tmp_path):
    migrations = {
        "V1__t.sql": "CREATE TABLE t (id int);\nCOMMENT ON TABLE t IS '${flyway:defaultSchema}';",
        "R__v.sql": "CREATE VIEW v AS SELECT * FROM t;",
    }
    history = read_history(_spring(tmp_path, PROPERTIES, migrations))
    with pg.sandbox() as box, box.create_database("flyway").connect() as conn:
        load_sql_files(conn, history.scripts())
        rows = conn.execute(
            "SELECT n.nspname, c.relname, obj_description(c.oid) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relname IN ('t', 'v') ORDER BY 2"
        ).fetchall()
        schemas = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname IN ('ledger', 'audit') ORDER BY 1"
        ).fetchall()
        # Each script's search_path is its own: the session is as before after loading.
        (search_path,) = conn.execute("SHOW search_path").fetchone()
    assert rows == [("ledger", "t", "ledger"), ("ledger", "v", None)]
    assert schemas == [("audit",), ("ledger",)]
    assert search_path == '"$user", public'
