"""The catalog model read from pg_catalog: every object kind inspect promises."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from migverify.catalog import load_catalog
from migverify.cli import cli
from migverify.sqlload import load_sql

SCHEMA = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mv_reader') THEN CREATE ROLE mv_reader NOLOGIN; END IF;
END $$;
CREATE TABLE parent (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  code varchar(12) NOT NULL UNIQUE,
  score numeric(4,3) CHECK (score BETWEEN 0 AND 1),
  made_at timestamptz NOT NULL DEFAULT now(),
  token uuid DEFAULT gen_random_uuid(),
  label text DEFAULT 'x',
  doubled bigint GENERATED ALWAYS AS (id * 2) STORED
);
COMMENT ON TABLE parent IS 'the parents';
COMMENT ON COLUMN parent.code IS 'business key';
CREATE TABLE child (
  id serial PRIMARY KEY,
  parent_code varchar(12) REFERENCES parent(code) ON DELETE CASCADE ON UPDATE SET NULL,
  seen_at timestamp DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX child_parent_idx ON child (parent_code);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER child_touch BEFORE INSERT OR UPDATE ON child FOR EACH ROW EXECUTE FUNCTION touch();
ALTER TABLE parent ENABLE ROW LEVEL SECURITY;
ALTER TABLE parent FORCE ROW LEVEL SECURITY;
CREATE POLICY readers ON parent FOR SELECT TO mv_reader USING (score > 0.5);
GRANT SELECT ON parent TO mv_reader;
GRANT UPDATE (label) ON parent TO mv_reader;
CREATE VIEW parent_v WITH (security_invoker = true) AS SELECT id, code, label, upper(code) AS up FROM parent;
CREATE VIEW joined AS SELECT p.code, c.id FROM parent p JOIN child c ON c.parent_code = p.code;
CREATE FUNCTION joined_ins() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER joined_ins INSTEAD OF INSERT ON joined FOR EACH ROW EXECUTE FUNCTION joined_ins();
INSERT INTO child (parent_code) VALUES (NULL), (NULL);
"""


@pytest.fixture
def catalog(sandbox):
    db = sandbox.create_database("catalog")
    with db.connect() as conn:
        load_sql(conn, SCHEMA, "schema.sql")
        return load_catalog(conn)


def test_columns_types_defaults_identity_generated(catalog):
    parent = catalog.relation("parent")
    assert parent.kind == "table"
    assert parent.column_names == ("id", "code", "score", "made_at", "token", "label", "doubled")
    assert parent.column("code").type == "character varying(12)"
    assert parent.column("score").type == "numeric(4,3)"
    assert parent.column("id").identity == "always"
    assert parent.column("made_at").not_null and parent.column("made_at").default == "now()"
    assert parent.column("made_at").default_volatility == "stable"
    assert parent.column("token").default_volatility == "volatile"
    assert parent.column("label").default_volatility == "immutable"
    assert parent.column("made_at").nondeterministic_default
    assert not parent.column("label").nondeterministic_default
    assert parent.column("doubled").generated == "(id * 2)"
    assert parent.column("doubled").generated_kind == "stored"
    assert parent.column("code").comment == "business key"
    assert parent.comment == "the parents"
    child = catalog.relation("child")
    assert child.column("id").default_uses_sequence == "public.child_id_seq"
    assert not child.column("id").nondeterministic_default
    assert child.column("seen_at").default_volatility == "stable"


def test_keys_foreign_keys_checks_indexes(catalog):
    parent, child = catalog.relation("parent"), catalog.relation("child")
    assert parent.primary_key.columns == ("id",)
    assert [c.columns for c in parent.unique_keys] == [("id",), ("code",)]
    check = next(c for c in parent.constraints if c.kind == "check")
    assert "score >= 0" in check.definition
    (fk,) = child.foreign_keys
    assert fk.references == "public.parent" and fk.referenced_columns == ("code",)
    assert (fk.on_delete, fk.on_update) == ("CASCADE", "SET NULL")
    index = next(i for i in child.indexes if i.name == "child_parent_idx")
    assert index.columns == ("parent_code",) and not index.unique


def test_triggers_rls_policies_grants(catalog):
    child, parent = catalog.relation("child"), catalog.relation("parent")
    (trigger,) = child.triggers
    assert (trigger.timing, trigger.events, trigger.level) == (
        "BEFORE",
        ("INSERT", "UPDATE"),
        "ROW",
    )
    assert trigger.function == "touch"
    assert parent.rls_enabled and parent.rls_forced and not child.rls_enabled
    (policy,) = parent.policies
    assert (policy.command, policy.roles, policy.using) == (
        "SELECT",
        ("mv_reader",),
        "(score > 0.5)",
    )
    grants = {(g.grantee, g.privilege, g.column) for g in parent.grants}
    assert ("mv_reader", "SELECT", None) in grants
    assert ("mv_reader", "UPDATE", "label") in grants
    assert ("mv_reader", "INSERT", None) not in grants


def test_views_updatability_and_options(catalog):
    view = catalog.relation("parent_v")
    assert view.is_view and view.option("security_invoker") == "true"
    assert view.updatable_operations == ("insert", "update", "delete")
    assert [c.updatable for c in view.columns] == [True, True, True, False]
    assert "upper" in view.view_definition
    assert view.view_relations == ("public.parent",)
    joined = catalog.relation("joined")
    assert joined.view_relations == ("public.child", "public.parent")
    assert joined.updatable_operations == () and joined.trigger_operations == ("insert",)
    assert joined.triggers[0].timing == "INSTEAD OF"


def test_sequences_with_state(catalog):
    seq = catalog.sequence("public.child_id_seq")
    assert (seq.last_value, seq.is_called, seq.next_value) == (2, True, 3)
    assert seq.owned_by == "public.child.id"
    identity = catalog.sequence("public.parent_id_seq")
    assert identity.owned_by == "public.parent.id" and not identity.is_called


def test_reading_twice_gives_equal_catalogs(sandbox):
    db = sandbox.create_database("twice")
    with db.connect() as conn:
        load_sql(conn, SCHEMA, "schema.sql")
        assert load_catalog(conn) == load_catalog(conn)


def test_inspect_json_is_deterministic_and_names_relations(pg, tmp_path):
    path = tmp_path / "schema.sql"
    path.write_text(SCHEMA)
    runs = [
        CliRunner().invoke(cli, ["inspect", str(path), "--dsn", pg.dsn, "--format", "json"])
        for _ in range(2)
    ]
    assert all(r.exit_code == 0 for r in runs), runs[0].output
    assert runs[0].stdout == runs[1].stdout
    data = json.loads(runs[0].stdout)
    names = [r["name"] for r in data["relations"]]
    assert names == ["child", "joined", "parent", "parent_v"]
    assert '"parent"' in runs[0].stdout


def test_inspect_text_lists_every_kind(pg, tmp_path):
    path = tmp_path / "schema.sql"
    path.write_text(SCHEMA)
    result = CliRunner().invoke(cli, ["inspect", str(path), "--dsn", pg.dsn])
    assert result.exit_code == 0, result.output
    for needle in (
        "table public.parent",
        "RLS enabled (forced)",
        "foreign key child_parent_code_fkey",
        "trigger child_touch",
        "policy readers",
        "grant mv_reader",
        "view public.joined",
        "via triggers: insert",
        "public.child_id_seq",
    ):
        assert needle in result.stdout


# A foreign table whose wrapper has no handler: the server cannot say whether it is updatable.
FOREIGN = """
CREATE FOREIGN DATA WRAPPER dummy;
CREATE SERVER elsewhere FOREIGN DATA WRAPPER dummy;
CREATE FOREIGN TABLE remote_events (id int NOT NULL, payload text) SERVER elsewhere;
CREATE TABLE events (id int PRIMARY KEY, payload text);
"""


def test_a_foreign_table_without_a_handler_is_read(pg, tmp_path):
    path = tmp_path / "schema.sql"
    path.write_text(FOREIGN)
    result = CliRunner().invoke(cli, ["inspect", str(path), "--dsn", pg.dsn, "--format", "json"])
    assert result.exit_code == 0, result.output
    relations = {r["name"]: r for r in json.loads(result.stdout)["relations"]}
    remote = relations["remote_events"]
    assert remote["kind"] == "foreign table"
    assert [(c["name"], c["type"], c["not_null"]) for c in remote["columns"]] == [
        ("id", "integer", True),
        ("payload", "text", False),
    ]
    assert relations["events"]["kind"] == "table"
