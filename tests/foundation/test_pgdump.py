"""Real pg_dump output as input: dumps made here by pg_dump 15 and 18 (schema only, with data,
and pg_dumpall --roles-only) of a schema with roles, grants, RLS, identity and sequences load in
every command, with their data, and leave the session as they found it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, pg_bin_dir

from migverify.errors import SQLFileError
from migverify.sandbox import LocalCluster, connect
from migverify.sqlload import ROLE_COMMENT, load_sql_files

SOURCE = FIXTURES / "pgdump" / "source.sql"
TARGET = FIXTURES / "pgdump" / "target.sql"
VERSIONS = ("15", "18")
DUMP_ROLES = ("anon", "app_owner", "authenticated")


@pytest.fixture(scope="session")
def dumps(tmp_path_factory) -> dict[tuple[str, str], Path]:
    """(version, kind) -> file, kind being schema, data or roles; made by that version's tools."""
    out = tmp_path_factory.mktemp("dumps")
    made: dict[tuple[str, str], Path] = {}
    for version in VERSIONS:
        cluster = LocalCluster(pg_bin_dir(version))
        cluster.start()
        try:
            with connect(cluster.dsn()) as conn:
                conn.execute("CREATE DATABASE source")
            with connect(cluster.dsn("source")) as conn:
                load_sql_files(conn, [SOURCE])
                for role in DUMP_ROLES:  # as if created by hand: no migverify comment
                    conn.execute(f"COMMENT ON ROLE {role} IS NULL")
            commands = {
                "schema": ["pg_dump", "--schema-only", "-d", cluster.dsn("source")],
                "data": ["pg_dump", "-d", cluster.dsn("source")],
                "roles": ["pg_dumpall", "--roles-only", "-d", cluster.dsn()],
            }
            for kind, (tool, *args) in commands.items():
                result = subprocess.run(
                    [str(cluster.bin_dir / tool), *args],
                    capture_output=True,
                    text=True,
                    user=cluster.user,
                    check=True,
                )
                made[version, kind] = out / f"pg{version}-{kind}.sql"
                made[version, kind].write_text(result.stdout, encoding="utf-8")
        finally:
            cluster.stop()
    return made


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "migverify", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


def _notices(stderr: str) -> list[str]:
    lines = stderr.splitlines()
    assert all(line.startswith("migverify: notice: ") for line in lines), stderr
    return lines


@pytest.mark.parametrize("version", VERSIONS)
def test_dumps_are_real_and_start_with_restrict(dumps, version):
    # The point of these tests: what current pg_dump writes, not a hand-made imitation.
    for kind in ("schema", "data", "roles"):
        text = dumps[version, kind].read_text()
        assert "\\restrict " in text and "\\unrestrict " in text
    assert (
        "COPY public.notes (id, author, body, tags) FROM stdin;"
        in dumps[version, "data"].read_text()
    )
    assert "set_config('search_path', '', false)" in dumps[version, "schema"].read_text()


@pytest.mark.parametrize("version", VERSIONS)
def test_data_dump_loads_every_row_exactly(sandbox, dumps, version):
    db = sandbox.create_database("dump")
    with db.connect() as conn:
        load_sql_files(conn, [dumps[version, "data"]])
        notes = conn.execute("SELECT author, body, tags FROM public.notes ORDER BY id").fetchall()
        orders = conn.execute("SELECT memo FROM public.orders ORDER BY id").fetchall()
        accounts = conn.execute("SELECT note FROM public.accounts ORDER BY id").fetchall()
        sequence = conn.execute("SELECT last_value FROM public.order_no").fetchone()[0]
        identity = conn.execute("INSERT INTO public.notes (body) VALUES ('x') RETURNING id")
        new_id = identity.fetchone()[0]
    assert notes == [("ann", 'it\'s "quoted"\ttab', ["a", "b"]), ("bob", "\\. not the end", None)]
    assert orders == [("line1\nline2",), ("\\.",)]
    assert accounts == [("tab\there",), (None,), ("back\\slash",)]
    assert sequence == 101
    assert new_id == 3  # the identity sequence was set by the dump's setval


@pytest.mark.parametrize("version", VERSIONS)
def test_schema_dump_keeps_rls_grants_identity_and_owners(sandbox, dumps, version):
    db = sandbox.create_database("dump")
    with db.connect() as conn:
        load_sql_files(conn, [dumps[version, "schema"]])
        rls = conn.execute(
            "SELECT relname FROM pg_class WHERE relrowsecurity AND relnamespace = 'public'::regnamespace"
            " ORDER BY 1"
        ).fetchall()
        owner = conn.execute(
            "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'public.notes'::regclass"
        ).fetchone()[0]
        grants = conn.execute(
            "SELECT has_table_privilege('authenticated', 'public.notes', 'INSERT'),"
            " has_table_privilege('anon', 'public.notes', 'INSERT')"
        ).fetchone()
        identity = conn.execute(
            "SELECT attidentity FROM pg_attribute"
            " WHERE attrelid = 'public.accounts'::regclass AND attname = 'id'"
        ).fetchone()[0]
        count = conn.execute("SELECT count(*) FROM public.notes").fetchone()[0]
    assert rls == [("notes",), ("orders",)]
    assert owner == "app_owner"
    assert grants == (True, False)
    assert identity == "a"
    assert count == 0


def test_search_path_and_settings_are_restored_after_each_file(sandbox, dumps, tmp_path):
    after = tmp_path / "after.sql"
    after.write_text("CREATE TABLE after_dump (id int);\nSELECT 1 FROM after_dump;\n")
    db = sandbox.create_database("dump")
    with db.connect() as conn:
        before = conn.execute("SHOW search_path").fetchone()[0]
        load_sql_files(conn, [dumps["18", "schema"], after])
        assert conn.execute("SHOW search_path").fetchone()[0] == before
        assert conn.execute("SHOW check_function_bodies").fetchone()[0] == "on"
        assert conn.execute("SHOW row_security").fetchone()[0] == "on"
        schema = conn.execute(
            "SELECT relnamespace::regnamespace::text FROM pg_class WHERE relname = 'after_dump'"
        ).fetchone()[0]
    assert schema == "public"


def test_set_role_in_a_script_is_undone(sandbox, tmp_path):
    script = tmp_path / "role.sql"
    script.write_text("CREATE ROLE mv_dump_reader NOLOGIN;\nSET ROLE mv_dump_reader;\n")
    db = sandbox.create_database("dump")
    with db.connect() as conn:
        user = conn.execute("SELECT current_user").fetchone()[0]
        load_sql_files(conn, [script])
        assert conn.execute("SELECT current_user").fetchone()[0] == user


@pytest.mark.parametrize(("version", "kind"), [("15", "schema"), ("18", "data")])
def test_inspect_accepts_a_dump_and_creates_missing_roles_with_a_notice(dumps, version, kind):
    result = _run("inspect", str(dumps[version, kind]), "--format", "json")
    assert result.returncode == 0, result.stderr
    notices = _notices(result.stderr)
    created = [n for n in notices if "created missing role(s)" in n]
    assert len(created) == 1
    assert "anon, app_owner, authenticated" in created[0] or all(
        role in created[0] for role in DUMP_ROLES
    )
    assert '"notes"' in result.stdout and '"memos"' not in result.stdout


def test_roles_file_from_pg_dumpall_replaces_the_placeholder_roles(dumps):
    result = _run("inspect", str(dumps["15", "schema"]), "--roles", str(dumps["15", "roles"]))
    assert result.returncode == 0, result.stderr
    notices = _notices(result.stderr)
    assert not any("created missing role" in n for n in notices)
    assert any("left existing role(s) postgres as they are" in n for n in notices)


def test_roles_created_on_a_dsn_server_are_dropped_again(pg, dumps):
    result = _run(
        "inspect", str(dumps["18", "data"]), "--dsn", pg.dsn, "--roles", str(dumps["18", "roles"])
    )
    assert result.returncode == 0, result.stderr
    with connect(pg.dsn) as conn:
        left = conn.execute(
            "SELECT count(*) FROM pg_shdescription WHERE description LIKE %s",
            (ROLE_COMMENT + "%",),
        ).fetchone()[0]
    assert left == 0


def _spec(directory: Path, dump: Path, roles: Path | None = None) -> Path:
    (directory / "dump.sql").write_bytes(dump.read_bytes())
    (directory / "target.sql").write_bytes(TARGET.read_bytes())
    roles_line = ""
    if roles is not None:
        (directory / "roles.sql").write_bytes(roles.read_bytes())
        roles_line = 'roles = "roles.sql"\n'
    spec = directory / "migverify.toml"
    spec.write_text(
        f'[legacy]\nsql = ["dump.sql"]\n{roles_line}[target]\nsql = ["target.sql"]\n'
        '[tables.notes]\ntarget = "memos"\ncolumns = { author = "written_by" }\n'
    )
    return spec


@pytest.mark.slow
def test_generate_then_verify_a_data_dump(dumps, tmp_path):
    spec = _spec(tmp_path, dumps["15", "data"])
    generated = _run("generate", str(spec), "--out", str(tmp_path / "layer"))
    assert generated.returncode == 0, generated.stderr
    forward = tmp_path / "layer" / "forward.sql"
    assert "CREATE VIEW" in forward.read_text() or "create view" in forward.read_text().lower()
    verified = _run(
        "verify",
        "--legacy", str(tmp_path / "dump.sql"),
        "--target", str(tmp_path / "target.sql"),
        "--compat", str(forward),
        "--table", "notes",
        "--examples", "15",
    )  # fmt: skip
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith("EQUIVALENT")


@pytest.mark.slow
def test_check_accepts_a_schema_dump_with_its_roles_file(dumps, tmp_path):
    spec = _spec(tmp_path, dumps["18", "schema"], roles=dumps["18", "roles"])
    result = _run("check", str(spec.parent), "--examples", "15")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("SAFE to cut over")
    assert not any("created missing role" in n for n in _notices(result.stderr))


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("\\restrict abc\nCREATE TABLE a (id int);\n\\connect other\n", 3, "\\connect"),
        ("CREATE TABLE a (id int);\nCOPY a FROM stdin;\n1\nx\n\\.\n", 4, "invalid input syntax"),
        ("CREATE TABLE a (id int);\nCOPY a FROM stdin;\n1\n", 2, "not ended by a line \\."),
        ("CREATE TABLE a (id int);\n\nCREATE TABLE (;\n\\unrestrict abc\n", 3, "syntax error"),
    ],
)
def test_dump_shaped_errors_name_the_file_and_line(sandbox, tmp_path, text, line, message):
    path = tmp_path / "bad.sql"
    path.write_text(text)
    db = sandbox.create_database("bad")
    with db.connect() as conn, pytest.raises(SQLFileError) as caught:
        load_sql_files(conn, [path])
    assert str(caught.value).startswith(f"{path}:{line}: ")
    assert message in str(caught.value)


def test_bom_and_backslash_lines_inside_literals(sandbox, tmp_path):
    path = tmp_path / "bom.sql"
    text = (
        "CREATE TABLE t (note text);\n"
        "INSERT INTO t VALUES ('first\n\\restrict is data here\n');\n"
        "/* a comment\n\\i not.sql\n*/\n"
        "COPY t FROM stdin;\n\\N\nit's\n\\.\n"
        "INSERT INTO t VALUES ($$\n\\.\n$$);\n"
    )
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    db = sandbox.create_database("bom")
    with db.connect() as conn:
        load_sql_files(conn, [path])
        rows = conn.execute("SELECT note FROM t").fetchall()
    assert rows == [("first\n\\restrict is data here\n",), (None,), ("it's",), ("\n\\.\n",)]


def test_pg_dump_archive_is_named(tmp_path):
    path = tmp_path / "db.dump"
    path.write_bytes(b"PGDMP\x01\x0e\x00binary")
    result = _run("inspect", str(path))
    assert result.returncode == 2
    assert result.stderr == (
        f"migverify: error: {path}: a pg_dump archive, not SQL text "
        f"(convert it: pg_restore -f out.sql {path})\n"
    )


def test_a_set_of_a_parameter_the_server_lacks_is_skipped_with_a_notice(tmp_path):
    # What a PostgreSQL 18 dump's `SET transaction_timeout = 0;` does on a 15 server.
    path = tmp_path / "newer.sql"
    path.write_text("SET no_such_parameter_here = 0;\nCREATE TABLE t (id int);\n")
    result = _run("inspect", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        f"migverify: notice: skipped {path}:1: unrecognized configuration parameter "
        '"no_such_parameter_here" (SQLSTATE 42704)\n'
    )
    assert "table public.t" in result.stdout


def test_other_meta_commands_are_reported_not_run(tmp_path):
    path = tmp_path / "meta.sql"
    path.write_text("\\restrict k\nCREATE TABLE t (id int);\n\\set ON_ERROR_STOP on\n")
    result = _run("inspect", str(path))
    assert result.returncode == 2
    assert result.stderr == (
        f"migverify: error: {path}:3: psql meta-command \\set is not supported "
        "(only plain SQL can be loaded)\n"
    )


def test_lines_name_the_statement_not_the_comments_before_it(tmp_path):
    path = tmp_path / "commented.sql"
    path.write_text("\\restrict k\n\n--\n-- Name: x; Type: SETTING\n--\n\nSET no_such_x = 1;\n")
    result = _run("inspect", str(path))
    assert result.returncode == 0, result.stderr
    assert f"skipped {path}:7: unrecognized configuration parameter" in result.stderr
