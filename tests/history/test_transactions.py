"""dbmate and diesel run each migration in a transaction of its own unless it opts out
(`-- migrate:up transaction:false`, diesel's metadata.toml `run_in_transaction = false`): what
fails in a transaction fails here too, at the file's own line, and what opts out loads."""

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


def _load(pg, directory: Path) -> None:
    history = read_history(directory)
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
