"""Spec checking: unknown keys, wrong types and conflicting mappings are errors at FILE:LINE."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from conftest import FIXTURES

from migverify.errors import InputError
from migverify.spec import load_spec

BASE = """[legacy]
sql = ["legacy.sql"]
[target]
sql = ["target.sql"]
[generate]
batch_size = 10
[tables.posts]
target = "articles"
columns = { body = "content" }
"""


def _spec(tmp_path, text: str):
    (tmp_path / "legacy.sql").write_text("CREATE TABLE posts (id int PRIMARY KEY, body text);\n")
    (tmp_path / "target.sql").write_text(
        "CREATE TABLE articles (id int PRIMARY KEY, content text);\n"
    )
    path = tmp_path / "migverify.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "directory", [FIXTURES / "xbot", *sorted((FIXTURES / "generate").iterdir())], ids=str
)
def test_the_shipped_specs_stay_valid(directory):
    assert load_spec(directory).tables


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        ("batch_size = 10", 'legacy_tabels = "drop"', 6, "unknown key in [generate] 'legacy_tabels' (did you mean 'legacy_tables'?)"),
        ("[generate]", "[lnt]", 5, "unknown section 'lnt' (did you mean 'lint'?)"),
        ("[generate]\nbatch_size = 10\n", "lock_timeout = \"1s\"\n", 5, "unknown key in [target] 'lock_timeout' (it belongs in [generate])"),
        ('target = "articles"', 'target = "articles"\ncolums = {}', 9, "unknown key in [tables.posts] 'colums' (did you mean 'columns'?)"),
        ("batch_size = 10", 'batch_size = "10"', 6, "generate.batch_size must be a positive integer"),
        ('target = "articles"', "target = [1, 2]", 8, "tables.posts.target must be a table name, not an array"),
        ('target = "articles"', 'target = ""', 7, '[tables.posts] needs target = "<target table>"'),
        ('columns = { body = "content" }', 'columns = { body = "content" }\n[[tables.posts.side]]\ntable = 5\njoin = { id = "post_id" }', 11, "tables.posts.side.table must be a table name, not an integer"),
        ("batch_size = 10", "batch_size = true", 6, "generate.batch_size must be a positive integer"),
        ("batch_size = 10", "out = 5", 6, "generate.out must be a directory path, not an integer"),
        ("batch_size = 10", "lock_timeout = [1]", 6, "generate.lock_timeout must be like \"5s\", not an array"),
        ('[target]', '[lint]\nignore = "MV008"\n[target]', 4, "lint.ignore must be a list of rule ids, not a string"),
        ('body = "content"', "body = 1", 9, "must be a table of name = \"column\""),
        ('columns = { body = "content" }', '[tables.posts.columns]\nid = "id"\nbody = 1', 11, "tables.posts.columns must be a table of name = \"column\" (body is not), not an integer"),
        ('columns = { body = "content" }', '[tables.posts.columns]\nbody = ""', 10, "tables.posts.columns: body is mapped to an empty name"),
        ('columns = { body = "content" }', '[tables.posts.discriminator]\nsite = "a"\nkind = [1]', 11, "kind must be a string, number or boolean"),
        ('body = "content"', 'body = "content", id = "content"', 9, "legacy columns 'body' and 'id' are both mapped to articles.content"),
        ('columns = { body = "content" }', 'columns = { body = "content" }\ndiscriminator = { kind = [1] }', 10, "kind must be a string, number or boolean"),
        ('columns = { body = "content" }', 'columns = { body = "content" }\n[[tables.posts.side]]\ntable = "extra"\njoin = { id = "post_id" }\ncolumns = { body = "text" }', 13, "legacy column 'body' is mapped twice (articles.content and extra.text)"),
        ('columns = { body = "content" }', '[[tables.posts.side]]\ntable = "extra"\ncolumns = { body = "text" }', 9, "needs join ="),
        ('columns = { body = "content" }', 'columns = { body = "content" }\n[[tables.posts.side]]\ntable = "extra"\njoin = { id = "post_id" }\nkey = 1', 13, "unknown key in [[tables.posts.side]] 'key'"),
    ],
)  # fmt: skip
def test_bad_specs_name_the_line(tmp_path, old, new, line, message):
    assert old in BASE
    path = _spec(tmp_path, BASE.replace(old, new))
    with pytest.raises(InputError) as caught:
        load_spec(path)
    assert str(caught.value).startswith(f"{path}:{line}: "), str(caught.value)
    assert message in str(caught.value)


def test_a_rename_onto_a_column_another_keeps_is_refused_before_sql_is_written(pg, tmp_path):
    # Legacy `body` renamed onto `content`, which legacy `content` keeps by its own name.
    (tmp_path / "legacy.sql").write_text(
        "CREATE TABLE posts (id int PRIMARY KEY, body text, content text);\n"
    )
    (tmp_path / "target.sql").write_text(
        "CREATE TABLE articles (id int PRIMARY KEY, content text);\n"
    )
    (tmp_path / "migverify.toml").write_text(BASE)
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "migverify", "generate", str(tmp_path), "--out", str(out), "--dsn", pg.dsn],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr == (
        f"migverify: error: {tmp_path / 'migverify.toml'}:9: [tables.posts] columns: legacy "
        "columns 'body' and 'content' both map to public.articles.content (map one of them to "
        "another column)\n"
    )
    assert not out.exists()


def test_pyproject_spec_unknown_key(tmp_path):
    shutil.copy(FIXTURES / "generate" / "rename" / "legacy.sql", tmp_path)
    (tmp_path / "target.sql").write_text("")
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[tool.migverify.legacy]\nsql = ["legacy.sql"]\nsqll = 1\n'
        '[tool.migverify.tables.LineItems]\ntarget = "x"\n'
    )
    with pytest.raises(InputError) as caught:
        load_spec(tmp_path)
    assert str(caught.value).startswith(f"{tmp_path / 'pyproject.toml'}:5: ")
    assert "'sqll' (did you mean 'sql'?)" in str(caught.value)


def test_a_spec_that_is_not_utf8_is_one_error(tmp_path):
    path = _spec(tmp_path, BASE)
    path.write_bytes(b"[legacy]\nsql = ['legacy.sql'] # \xff\n")
    with pytest.raises(
        InputError, match=r"migverify.toml: not UTF-8 text \(invalid start byte at byte 32\)"
    ):
        load_spec(path)
    path.unlink()
    (tmp_path / "pyproject.toml").write_bytes(b"[tool.migverify]\n\xfe")
    with pytest.raises(InputError, match="pyproject.toml: not UTF-8 text"):
        load_spec(tmp_path)


def test_a_byte_order_mark_is_read_past(tmp_path):
    path = _spec(tmp_path, BASE)
    path.write_bytes(b"\xef\xbb\xbf" + BASE.encode())
    assert load_spec(path).table_names == ("posts",)


@pytest.mark.parametrize(
    ("text", "line"),
    [("[legacy]\nsql = [", 2), ("[legacy]\nsql = [\n", 3), ("[", 1), ("[legacy]\nsql = 'a\n", 3)],
)
def test_a_truncated_spec_names_its_last_line(tmp_path, text, line):
    # tomllib says "at end of document" with no line: the error named the file only.
    path = _spec(tmp_path, text)
    with pytest.raises(InputError) as caught:
        load_spec(path)
    assert str(caught.value).startswith(f"{path}:{line}: invalid TOML: ")
    assert "(at " not in str(caught.value)
