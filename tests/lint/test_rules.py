"""Each lint rule with a failing and a passing case, on catalogs read from real PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from migverify.catalog import load_catalog
from migverify.lint import LintInput, inline_suppressions, rule_docs, run_lint
from migverify.sqlload import load_sql

LEGACY = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'lint_anon') THEN CREATE ROLE lint_anon NOLOGIN; END IF;
END $$;
CREATE TABLE parent (id serial PRIMARY KEY, code text UNIQUE NOT NULL, body text);
CREATE TABLE child (id serial PRIMARY KEY, code text REFERENCES parent(code), n int);
ALTER TABLE parent ENABLE ROW LEVEL SECURITY;
CREATE POLICY all_rows ON parent USING (true);
GRANT SELECT ON parent, child TO lint_anon;
"""
TARGET = """
CREATE TABLE parent_v2 (id serial PRIMARY KEY, code text UNIQUE NOT NULL, body text, extra int);
CREATE TABLE child_v2 (id serial PRIMARY KEY, parent_code text REFERENCES parent_v2(code), n int,
                       doubled int GENERATED ALWAYS AS (n * 2) STORED);
ALTER TABLE parent_v2 ENABLE ROW LEVEL SECURITY;
CREATE POLICY all_rows ON parent_v2 USING (true);
"""
GOOD = """
BEGIN;
SET LOCAL lock_timeout = '5s';
ALTER TABLE child RENAME TO child_legacy;
ALTER TABLE parent RENAME TO parent_legacy;
CREATE VIEW parent WITH (security_invoker = true) AS SELECT id, code, body FROM parent_v2;
CREATE VIEW child WITH (security_invoker = true) AS SELECT id, parent_code AS code, n FROM child_v2;
GRANT SELECT ON parent, child TO lint_anon;
COMMIT;
"""


@dataclass(frozen=True)
class Ref:
    path: str
    line: int
    column: int
    table: str
    operation: str
    columns: tuple[str, ...] = ()
    kind: str = "supabase-js"


@dataclass(frozen=True)
class Dyn:
    path: str
    line: int
    column: int
    expression: str


def lint(sandbox, compat: str, legacy: str = LEGACY, **extra) -> dict[str, list]:
    worlds = []
    for scripts in ((legacy,), (legacy, TARGET, compat)):
        db = sandbox.create_database("lint")
        with db.connect() as conn:
            for number, script in enumerate(scripts):
                load_sql(conn, script, f"script{number}.sql")
            worlds.append(load_catalog(conn))
    data = LintInput(
        legacy=worlds[0], migrated=worlds[1], tables=("parent", "child"), compat_sql=compat, **extra
    )
    found: dict[str, list] = {}
    for finding in run_lint(data):
        found.setdefault(finding.rule, []).append(finding)
    return found


def test_good_layer_has_no_findings(sandbox):
    refs = [
        Ref("a.ts", 1, 1, "parent", "upsert", ("code",)),
        Ref("a.ts", 2, 1, "child", "insert", ("n",)),
    ]
    assert lint(sandbox, GOOD, references=refs, embeddings=[(refs[1], "parent")]) == {}


def test_mv001_security_definer_view_over_rls(sandbox):
    found = lint(
        sandbox,
        GOOD.replace("CREATE VIEW parent WITH (security_invoker = true)", "CREATE VIEW parent"),
    )
    assert [f.table for f in found["MV001"]] == ["parent"]


def test_mv002_select_star_view(sandbox):
    found = lint(
        sandbox, GOOD.replace("SELECT id, code, body FROM parent_v2", "SELECT * FROM parent_v2")
    )
    (finding,) = found["MV002"]
    assert finding.table == "parent" and finding.line == 6


def test_mv003_write_through_a_view_that_cannot_take_it(sandbox):
    join = GOOD.replace(
        "SELECT id, parent_code AS code, n FROM child_v2",
        "SELECT c.id, p.code, c.n FROM child_v2 c JOIN parent_v2 p ON p.code = c.parent_code",
    )
    found = lint(sandbox, join, references=[Ref("jobs.ts", 7, 3, "child", "update", ("n",))])
    (finding,) = found["MV003"]
    assert (finding.path, finding.line, finding.table) == ("jobs.ts", 7, "child")
    generated = GOOD.replace(
        "parent_code AS code, n FROM", "parent_code AS code, doubled AS n FROM"
    )
    found = lint(sandbox, generated, references=[Ref("jobs.ts", 9, 3, "child", "insert", ("n",))])
    assert 'column "n"' in found["MV003"][0].message


def test_mv004_upsert_on_trigger_view(sandbox):
    join = GOOD.replace(
        "SELECT id, parent_code AS code, n FROM child_v2",
        "SELECT c.id, p.code, c.n FROM child_v2 c JOIN parent_v2 p ON p.code = c.parent_code",
    ).replace(
        "COMMIT;",
        """
CREATE FUNCTION child_ins() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER child_ins INSTEAD OF INSERT ON child FOR EACH ROW EXECUTE FUNCTION child_ins();
COMMIT;""",
    )
    found = lint(
        sandbox,
        join,
        references=[
            Ref("o.ts", 4, 2, "child", "upsert", ("n",)),
            Ref("o.ts", 5, 2, "child", "insert", ("n",)),
        ],
    )
    assert [(f.line, f.rule) for f in found["MV004"]] == [(4, "MV004")]
    assert "MV003" not in found


def test_mv005_embedding_without_relationship(sandbox):
    embedded = Ref("ingest.ts", 3, 14, "child", "select")
    hidden = GOOD.replace(
        "SELECT id, parent_code AS code, n FROM child_v2",
        "SELECT id, n::text AS code, n FROM child_v2",
    )
    found = lint(sandbox, hidden, embeddings=[(embedded, "parent")])
    (finding,) = found["MV005"]
    assert finding.line == 3 and "legacy tables had one" in finding.message


def test_mv005_says_nothing_about_a_parent_no_schema_defines(sandbox):
    """The scan reports embeddings in parents that are not legacy tables (`profiles`); when
    neither schema defines the parent there is no relationship to compare."""
    embedded = Ref("ingest.ts", 3, 14, "child", "select")
    found = lint(sandbox, GOOD, embeddings=[(embedded, "profiles")])
    assert "MV005" not in found


def test_mv006_lost_privileges(sandbox):
    found = lint(
        sandbox,
        GOOD.replace(
            "GRANT SELECT ON parent, child TO lint_anon;", "GRANT SELECT ON parent TO lint_anon;"
        ),
    )
    (finding,) = found["MV006"]
    assert finding.table == "child" and "lint_anon" in finding.message


READERS = """
CREATE TABLE notes (id int PRIMARY KEY, code text);
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY by_parent ON notes USING (EXISTS (SELECT 1 FROM parent p WHERE p.code = notes.code));
CREATE VIEW parent_codes AS SELECT code FROM parent;
"""
READ_AGAIN = """
CREATE OR REPLACE VIEW parent_codes AS SELECT code FROM parent;
DROP POLICY by_parent ON notes;
CREATE POLICY by_parent ON notes USING (EXISTS (SELECT 1 FROM parent p WHERE p.code = notes.code));
"""


def test_mv010_views_and_policies_outside_the_layer_that_read_the_kept_table(sandbox):
    found = lint(sandbox, GOOD, legacy=LEGACY + READERS)
    messages = sorted(f.message for f in found["MV010"])
    assert [f.table for f in found["MV010"]] == ["parent", "parent"]
    assert messages == [
        "policy by_parent on notes reads parent; after the cutover it reads public.parent_legacy "
        "instead, which nothing writes any more: create it again after the cutover so that it "
        "reads parent (the compatibility view)",
        "view parent_codes reads parent; after the cutover it reads public.parent_legacy "
        "instead, which nothing writes any more: create it again after the cutover so that it "
        "reads parent (the compatibility view)",
    ]
    assert "MV010" not in lint(sandbox, GOOD + READ_AGAIN, legacy=LEGACY + READERS)


def test_mv007_ddl_without_lock_timeout(sandbox):
    found = lint(sandbox, GOOD.replace("SET LOCAL lock_timeout = '5s';\n", ""))
    (finding,) = found["MV007"]
    assert (finding.path, finding.line) == ("compat.sql", 3)


def test_mv008_dynamic_reference_and_suppression(sandbox, tmp_path, monkeypatch):
    (tmp_path / "d.ts").write_text(
        "const x = 1;\nsupabase.from(t) // migverify-ignore MV008\nsupabase.from(u)\n"
    )
    monkeypatch.chdir(tmp_path)
    dynamic = [Dyn("d.ts", 2, 1, "t"), Dyn("d.ts", 3, 1, "u")]
    found = lint(sandbox, GOOD, dynamic=dynamic, suppressed=inline_suppressions(tmp_path))
    assert [f.line for f in found["MV008"]] == [3]
    assert lint(sandbox, GOOD, dynamic=dynamic, ignore=("MV008",)) == {}


def test_every_rule_is_documented():
    docs = rule_docs()
    assert [d[0] for d in docs] == [f"MV{i:03d}" for i in range(1, 12)]
    for rule_id, title, body in docs:
        assert title and "Bad:" in body and "Good:" in body, rule_id


@pytest.mark.parametrize(
    "line", ["// migverify-ignore MV005", "# migverify-ignore: MV001, MV005", "-- migverify-ignore"]
)
def test_inline_suppression_syntax(tmp_path, line):
    (tmp_path / "f").write_text(f"x\n{line}\n")
    assert inline_suppressions(tmp_path)("MV005", "f", 2)


def test_mv011_system_columns_through_a_view(sandbox):
    dedupe = Ref("dedupe.py", 2, 31, "parent", "delete", ("code", "ctid"), "sql")
    versioned = Ref("save.py", 7, 5, "child", "select", ("n", "xmin"), "sql")
    plain = Ref("read.py", 1, 1, "parent", "select", ("code", "body"), "sql")
    found = lint(sandbox, GOOD, references=(dedupe, versioned, plain))
    messages = sorted((f.path, f.message) for f in found["MV011"])
    assert messages == [
        (
            "dedupe.py",
            "delete reads system column(s) ctid of parent, which becomes a view: a view has no "
            "system columns, whatever the layer (42703)",
        ),
        (
            "save.py",
            "select reads system column(s) xmin of child, which becomes a view: a view has no "
            "system columns, whatever the layer (42703)",
        ),
    ]
    assert "MV011" not in lint(sandbox, GOOD, references=(plain,))
