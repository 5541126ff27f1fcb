"""Single forms the corpus cannot show on its own: scoping of SQL held in names, the knex
factory, the prefilter keeping files whose table name appears once."""

from __future__ import annotations

from pathlib import Path

from migverify.scan import scan_paths, scan_source


def _refs(path: str, code: str, tables=("user_items",)) -> list[tuple[int, str, str]]:
    references, _ = scan_source(path, code.encode(), list(tables))
    return [(r.line, r.table, r.operation) for r in references]


def test_a_parameter_shadows_a_sql_constant():
    code = (
        "const SQL = 'DELETE FROM user_items';\n"
        "export function run(pool, SQL) { return pool.query(SQL); }\n"
    )
    assert _refs("a.ts", code) == []


def test_a_constant_declared_below_the_function_using_it_counts():
    code = (
        "export function run(pool) { return pool.query(SQL); }\n"
        "const SQL = 'DELETE FROM user_items WHERE id = 1';\n"
    )
    assert _refs("a.js", code) == [(2, "user_items", "delete")]


def test_inside_one_function_only_what_was_assigned_before_counts():
    code = "def run(cursor):\n    cursor.execute(query)\n    query = 'DELETE FROM user_items'\n"
    assert _refs("a.py", code) == []


def test_every_assignment_of_a_sql_name_is_a_reference():
    code = (
        "def run(cursor, archive):\n"
        "    if archive:\n"
        "        sql = 'INSERT INTO user_items (id) VALUES (1)'\n"
        "    else:\n"
        "        sql = 'DELETE FROM user_items'\n"
        "    cursor.execute(sql)\n"
    )
    assert _refs("a.py", code) == [(3, "user_items", "insert"), (5, "user_items", "delete")]


def test_tagged_template_holes_stay_parameters():
    code = "const id = 'user_items';\nsql`SELECT * FROM user_items WHERE id = ${id}`;\n"
    references, _ = scan_source("a.ts", code.encode(), ["user_items"])
    assert [(r.line, r.columns) for r in references] == [(2, ("id",))]


def test_the_knex_factory_called_with_its_config_is_neither_a_table_nor_dynamic():
    code = (
        "import knex from 'knex';\n"
        "const user_items = process.env.TABLE;\n"
        "const db = knex({ client: 'pg', connection: user_items });\n"
        "export const rows = () => db('user_items').where({ id: 1 });\n"
    )
    references, dynamic = scan_source("a.ts", code.encode(), ["user_items"])
    assert [(r.line, r.kind, r.operation) for r in references] == [(4, "knex", "select")]
    assert dynamic == []


def test_prefilter_keeps_a_file_naming_the_table_once_in_a_sql_variable(tmp_path):
    (tmp_path / "a.py").write_text(
        "Q = 'SELECT id FROM user_items'\n\ndef f(cursor):\n    cursor.execute(Q)\n"
    )
    (tmp_path / "b.ts").write_text("export const f = (db, t) => db(t).where({ id: 1 });\n")
    result = scan_paths([tmp_path], ["user_items"], root=tmp_path, jobs=1)
    assert [(r.path, r.line) for r in result.references] == [("a.py", 1)]
    assert [(d.path, d.expression) for d in result.dynamic] == [("b.ts", "t")]


def test_a_class_field_assigned_elsewhere_in_the_class_is_not_a_constant():
    code = (
        "class R {\n"
        "  tableName = 'user_items';\n"
        "  constructor(db, name) { this.db = db; this.tableName = name; }\n"
        "  all() { return this.db(this.tableName).select('*'); }\n"
        "}\n"
    )
    references, dynamic = scan_source("a.js", code.encode(), ["user_items"])
    assert references == [] and [d.expression for d in dynamic] == ["this.tableName"]


def test_a_table_constant_spliced_into_two_statements_keeps_both_operations():
    code = (
        'TABLE = "user_items"\n'
        "def f(cursor):\n"
        '    cursor.execute(f"SELECT id FROM {TABLE}")\n'
        '    cursor.execute(f"DELETE FROM {TABLE} WHERE owner = %s", (1,))\n'
        '    cursor.execute(f"SELECT title FROM {TABLE}")\n'
    )
    references, _ = scan_source("a.py", code.encode(), ["user_items"])
    assert [(r.line, r.column, r.operation, r.columns) for r in references] == [
        (1, 10, "select", ("id", "title")),
        (1, 10, "delete", ("owner",)),
    ]


def test_a_long_concatenation_is_one_sql_text():
    code = (
        "pool.query('SELECT id, ' + 'title ' + 'FROM user_items ' + 'WHERE owner = ' + owner"
        " + ' AND kind = ' + kind + ' AND archived = ' + flag + ' ORDER BY ' + 'title');\n"
    )
    references, _ = scan_source("a.js", code.encode(), ["user_items"])
    assert [(r.operation, r.columns) for r in references] == [
        ("select", ("archived", "id", "kind", "owner", "title"))
    ]


def test_mongodb_databases_are_neither_tables_nor_dynamic():
    code = (
        "const db = client.db(process.env.DB_NAME);\n"
        "await client.db('user_items').collection('things').find({});\n"
        "await mongo.db(name).collection('user_items').insertOne({});\n"
    )
    references, dynamic = scan_source("a.ts", code.encode(), ["user_items"])
    assert (references, dynamic) == ([], [])


def test_gitignore_combined_matcher_agrees_with_pathspec():
    import pathspec

    from migverify.scan.walk import _matcher

    paths = ["a/node_modules/", "x.log", "a/b/x.log", "build/", "a/build/", "secret/a.ts",
             "a.ts", "secret/b/a.ts", "gen/x.generated.ts", "docs/"]  # fmt: skip
    for text in ("node_modules/\n*.log\n/build\nsecret/*.ts\n**/*.generated.ts\n", "*.ts\n!a.ts\n"):
        spec = pathspec.GitIgnoreSpec.from_lines(text.splitlines())
        matches = _matcher(text)
        assert [matches(p) for p in paths] == [spec.match_file(p) for p in paths], text


def test_gitignore_directory_patterns_are_not_tested_on_files():
    from migverify.scan.walk import _matcher

    assert _matcher("node_modules/\ndist/ \n# only directories\n", files=True) is None
    files = _matcher("node_modules/\n*.log\n", files=True)
    assert files is not None and files("a/x.log") and not files("node_modules")
    negated = _matcher("build/\n!build/keep.ts\n", files=True)
    assert negated is not None and not negated("build/keep.ts")


def test_gitignore_walk_leaves_out_files_under_ignored_directories(tmp_path: Path):
    from migverify.scan.walk import candidate_files

    for name in ("a.ts", "dist/b.ts", "sub/gen/c.ts", "sub/d.ts", "sub/e.log.ts", "sub/gen.ts"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    (tmp_path / ".gitignore").write_text("dist/\n")
    (tmp_path / "sub/.gitignore").write_text("gen/\n*.log.ts\n")
    found = [p[len(str(tmp_path)) + 1 :] for p in candidate_files([tmp_path])]
    assert found == ["a.ts", "sub/d.ts", "sub/gen.ts"]


def test_a_call_of_an_unknown_function_followed_by_first_is_knex_only_where_knex_is_seen():
    """`locator(page).first()` (Playwright) is no query; with knex in the file a builder of a
    computed name is dynamic, and one given a legacy table's name is a reference anywhere."""
    playwright = (
        "test('x', async ({ page }) => {\n"
        "  await getInputs(surface.root).first().fill('a');\n"
        "  await pg('posted_decisions').first();\n"
        "});\n"
    )
    references, dynamic = scan_source("a.spec.ts", playwright.encode(), ["posted_decisions"])
    assert [(r.line, r.operation) for r in references] == [(3, "select")]
    assert dynamic == []
    knex = "import type { Knex } from 'knex';\nexport const f = (t) => getDb(t).first();\n"
    _, dynamic = scan_source("repo.ts", knex.encode(), ["posted_decisions"])
    assert [(d.line, d.expression) for d in dynamic] == [(2, "t")]


def test_later_calls_on_a_builder_held_in_a_variable_and_sql_in_the_same_file():
    """`q.eq(…)` names no query-builder method: its chain is built for the variable alone (its
    column still counts), and the file's other chains (an SQL call) are still read."""
    code = (
        "export async function f(id) {\n"
        "  let q = supabase.from('posted_decisions').delete();\n"
        "  q = q.eq('tweet_id', id);\n"
        "  await q;\n"
        "  return pool.query('SELECT likes FROM real_tweet_metrics');\n"
        "}\n"
    )
    references, _ = scan_source("f.ts", code.encode(), ["posted_decisions", "real_tweet_metrics"])
    assert [(r.line, r.table, r.operation, r.columns) for r in references] == [
        (2, "posted_decisions", "delete", ("tweet_id",)),
        (5, "real_tweet_metrics", "select", ("likes",)),
    ]
