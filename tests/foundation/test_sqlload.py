"""Loading SQL scripts: statements, dollar quotes, and FILE:LINE errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from migverify.errors import SQLFileError
from migverify.sqlload import load_sql_files

SCRIPT = """-- a comment; with a semicolon
CREATE TABLE t (id int PRIMARY KEY, note text DEFAULT 'a;b');
/* block
   comment */
CREATE FUNCTION bump() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
  NEW.note := NEW.note || ';';  -- semicolons inside the body
  RETURN NEW;
END
$body$;
CREATE TRIGGER t_bump BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION bump();
INSERT INTO t (id) VALUES (1);
"""


def test_multi_statement_script_with_dollar_quotes_loads(sandbox, tmp_path):
    path = tmp_path / "ok.sql"
    path.write_text(SCRIPT)
    db = sandbox.create_database("load")
    with db.connect() as conn:
        load_sql_files(conn, [path])
        assert conn.execute("SELECT note FROM t").fetchone()[0] == "a;b;"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("SELECT 1;\nSELEC 2;\n", 2, 'syntax error at or near "SELEC"'),
        ("CREATE TABLE a (id int);\n\\i other.sql\n", 2, "psql meta-command \\i is not supported"),
        (
            "CREATE TABLE a (id int);\n\n\nINSERT INTO a\n  VALUES ('x');\n",
            5,
            "invalid input syntax",
        ),
        (
            "CREATE TABLE a (id int);\n-- note\nINSERT INTO missing VALUES (1);\n",
            3,
            'relation "missing" does not exist',
        ),
        # The parser stops at a NUL byte: table b would be dropped in silence.
        ("CREATE TABLE a (id int);\n\x00CREATE TABLE b (id int);\n", 2, "a NUL byte"),
        # A truncated file: the parser gives no location for "at end of input" (was exit 3).
        ("CREATE TABLE a (id int);\n\nCREATE", 3, "syntax error at end of input"),
        ("\\restrict abc\nCREATE TABLE a (id int);\nCREATE TABLE b (id", 3, "at end of input"),
    ],
)
def test_errors_name_the_file_and_line(sandbox, tmp_path, text, line, message):
    path = tmp_path / "bad.sql"
    path.write_text(text)
    db = sandbox.create_database("bad")
    with db.connect() as conn, pytest.raises(SQLFileError) as caught:
        load_sql_files(conn, [path])
    assert str(caught.value).startswith(f"{path}:{line}: ")
    assert message in str(caught.value)


def test_cli_syntax_error_is_one_line_exit_2(pg, tmp_path):
    path = tmp_path / "broken.sql"
    path.write_text("CREATE TABLE ok (id int);\nCREATE TABLE (;\n")
    result = subprocess.run(
        [sys.executable, "-m", "migverify", "inspect", str(path), "--dsn", pg.dsn],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"migverify: error: {path}:2: syntax error")
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_a_feature_the_server_was_built_without_says_how_to_get_it(sandbox, tmp_path):
    # The embedded server is built without ICU (Debian's has it): an ICU collation either loads
    # or fails at its line saying the server lacks the feature, not the SQL.
    path = tmp_path / "icu.sql"
    path.write_text(
        "SELECT 1;\nCREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2');\n"
    )
    with sandbox.create_database("icu").connect() as conn:
        try:
            load_sql_files(conn, [path])
        except SQLFileError as error:
            assert str(error).startswith(f"{path}:2: ICU is not supported in this build")
            assert "give --dsn or --pg-bin for a server built with it" in str(error)
        else:
            assert conn.execute("SELECT 1 FROM pg_collation WHERE collname = 'ci'").fetchone()
