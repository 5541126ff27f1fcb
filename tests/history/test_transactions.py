"""dbmate, diesel, goose, sqlx and Atlas run each migration in a transaction of its own unless
it opts out (`-- migrate:up transaction:false`, diesel's metadata.toml
`run_in_transaction = false`, `-- +goose NO TRANSACTION`, a first line `-- no-transaction` for
sqlx, `-- atlas:txmode none`): what fails in a transaction fails here too, at the file's own
line, and what opts out loads."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from migverify.errors import InputError, SQLFileError
from migverify.history import read_history
from migverify.sqlload import load_sql_files

ENUM = "CREATE TYPE status AS ENUM ('new');\nCREATE TABLE t (s status);\n"
ADD_AND_USE = "ALTER TYPE status ADD VALUE 'old';\nINSERT INTO t VALUES ('old');\n"
CONCURRENTLY = "CREATE INDEX CONCURRENTLY t_s ON t (s);\n"


def _files(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def _dbmate(marker: str, body: str) -> str:
    return f"-- Second migration.\n-- migrate:up{marker}\n{body}\n-- migrate:down\nSELECT 1;\n"


def _diesel(root: Path, body: str, metadata: str | None) -> Path:
    files = {"1_enum/up.sql": ENUM, "2_change/up.sql": body}
    if metadata is not None:
        files["2_change/metadata.toml"] = metadata
    return _files(root, files)


def _load(pg, directory: Path, layout: str | None = None) -> None:
    history = read_history(directory, layout)
    with pg.sandbox() as box, box.create_database("transactions").connect() as conn:
        load_sql_files(conn, history.scripts())


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        (CONCURRENTLY, 3, "CREATE INDEX CONCURRENTLY cannot run inside a transaction block"),
        (ADD_AND_USE, 4, 'unsafe use of new value "old" of enum type status'),
    ],
)
def test_a_dbmate_migration_runs_in_a_transaction_unless_it_opts_out(
    pg, tmp_path, body, line, message
):
    first = f"-- migrate:up\n{ENUM}-- migrate:down\nDROP TABLE t;\n"
    second = tmp_path / "2_change.sql"
    _files(tmp_path, {"1_enum.sql": first, second.name: _dbmate("", body)})
    with pytest.raises(SQLFileError) as caught:
        _load(pg, tmp_path)
    assert str(caught.value).startswith(f"{second}:{line}: {message}")
    second.write_text(_dbmate(" transaction:false", body))
    _load(pg, tmp_path)


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        (CONCURRENTLY, 1, "CREATE INDEX CONCURRENTLY cannot run inside a transaction block"),
        (ADD_AND_USE, 2, 'unsafe use of new value "old" of enum type status'),
    ],
)
def test_a_diesel_migration_runs_in_a_transaction_unless_its_metadata_says_not(
    pg, tmp_path, body, line, message
):
    _diesel(tmp_path, body, None)
    with pytest.raises(SQLFileError) as caught:
        _load(pg, tmp_path)
    assert str(caught.value).startswith(f"{tmp_path / '2_change' / 'up.sql'}:{line}: {message}")
    _diesel(tmp_path, body, "run_in_transaction = false\n")
    _load(pg, tmp_path)


def test_the_transaction_keeps_the_files_lines(tmp_path):
    _files(tmp_path, {"1_a.sql": "-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 2;\n"})
    migration = read_history(tmp_path).migrations[0]
    assert migration.up.text == "BEGIN; -- migrate:up\nSELECT 1;\nCOMMIT;\n\n"
    assert migration.down.text == "\n\nBEGIN; -- migrate:down\nSELECT 2;\nCOMMIT;"


def test_a_diesel_metadata_migverify_cannot_read_is_one_line(tmp_path):
    _diesel(tmp_path, "SELECT 1;", "run_in_transaction = 'no'\n")
    with pytest.raises(InputError, match="metadata.toml: run_in_transaction must be true or false"):
        read_history(tmp_path)


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        (CONCURRENTLY, 2, "CREATE INDEX CONCURRENTLY cannot run inside a transaction block"),
        (ADD_AND_USE, 3, 'unsafe use of new value "old" of enum type status'),
    ],
)
def test_a_goose_migration_runs_in_a_transaction_unless_it_says_no_transaction(
    pg, tmp_path, body, line, message
):
    second = tmp_path / "2_change.sql"
    _files(tmp_path, {"1_enum.sql": f"-- +goose Up\n{ENUM}", second.name: ""})
    second.write_text(f"-- +goose Up\n{body}-- +goose Down\nSELECT 1;\n")
    with pytest.raises(SQLFileError) as caught:
        _load(pg, tmp_path)
    assert str(caught.value).startswith(f"{second}:{line}: {message}")
    second.write_text(f"-- +goose Up\n{body}-- +goose Down\n-- +goose NO TRANSACTION\n")
    _load(pg, tmp_path)


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        (CONCURRENTLY, 1, "CREATE INDEX CONCURRENTLY cannot run inside a transaction block"),
        (ADD_AND_USE, 2, 'unsafe use of new value "old" of enum type status'),
    ],
)
def test_an_sqlx_migration_runs_in_a_transaction_unless_it_starts_with_no_transaction(
    pg, tmp_path, body, line, message
):
    second = tmp_path / "2_change.up.sql"
    _files(tmp_path, {"1_enum.sql": ENUM, second.name: body})
    with pytest.raises(SQLFileError) as caught:
        _load(pg, tmp_path, "sqlx")
    assert str(caught.value).startswith(f"{second}:{line}: {message}")
    # only as the file's first line: further down it is a comment like any other
    second.write_text(f"-- create the index\n-- no-transaction\n{body}")
    with pytest.raises(SQLFileError):
        _load(pg, tmp_path, "sqlx")
    second.write_text(f"-- no-transaction\n{body}")
    _load(pg, tmp_path, "sqlx")


def test_a_last_statement_without_its_semicolon_is_ended_before_the_commit(pg, tmp_path):
    # sqlx (like diesel and dbmate) sends a file as one query: its last `;` may be missing.
    _files(tmp_path, {"1_a.sql": "CREATE TABLE t (a int);\nALTER TABLE t ADD b int -- done\n"})
    migration = read_history(tmp_path, "sqlx").migrations[0]
    assert migration.up.text.endswith("ALTER TABLE t ADD b int -- done\n;COMMIT;")
    _load(pg, tmp_path, "sqlx")
    _files(tmp_path, {"1_a.sql": "CREATE TABLE t (a int); /* done */"})
    assert read_history(tmp_path, "sqlx").migrations[0].up.text.endswith("*/\nCOMMIT;")


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        (CONCURRENTLY, 1, "CREATE INDEX CONCURRENTLY cannot run inside a transaction block"),
        (ADD_AND_USE, 2, 'unsafe use of new value "old" of enum type status'),
    ],
)
def test_an_atlas_file_runs_in_a_transaction_unless_its_header_says_txmode_none(
    pg, tmp_path, body, line, message
):
    second = tmp_path / "2_change.sql"
    summed = "h1:x=\n1_enum.sql h1:y=\n2_change.sql h1:z=\n"
    _files(tmp_path, {"atlas.sum": summed, "1_enum.sql": ENUM, second.name: body})
    with pytest.raises(SQLFileError) as caught:
        _load(pg, tmp_path)
    assert str(caught.value).startswith(f"{second}:{line}: {message}")
    second.write_text(f"-- atlas:txmode none\n\n{body}")
    _load(pg, tmp_path)
