"""migverify generate / rollback on real PostgreSQL: verified equivalent, deterministic, golden,
rollback that loses nothing, and clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from migverify.catalog import load_catalog
from migverify.cli import cli
from migverify.generate import generate_layer
from migverify.spec import load_spec
from migverify.sqlload import load_sql, load_sql_files
from migverify.verify import VerifyRequest, verify
from tests.conftest import schema_dump

ROOT = Path(__file__).resolve().parents[2]
GENERATE_SCENARIOS = sorted(
    d for d in (ROOT / "fixtures" / "generate").iterdir() if (d / "migverify.toml").exists()
)
SCENARIOS = GENERATE_SCENARIOS + [ROOT / "fixtures" / "xbot"]
GOLDEN = ROOT / "fixtures" / "xbot" / "migrations"  # committed output: also the drift check


def _generate(pg, directory: Path) -> dict[str, str]:
    with pg.sandbox() as box:
        return generate_layer(load_spec(directory), box)


@pytest.mark.parametrize("directory", SCENARIOS, ids=lambda p: p.name)
def test_generated_layer_verifies_with_its_rollback(pg, directory, tmp_path):
    if (directory / "expect.toml").exists():
        pytest.skip("a scenario that is meant to fail verification (test_transform.py)")
    spec = load_spec(directory)
    files = _generate(pg, directory)
    with pg.sandbox() as box:
        from migverify.generate import load_schemas
        from migverify.generate.plan import build_plans

        plans = build_plans(spec, load_schemas(spec, box))
    ops = ("insert", "select", "update", "delete")
    if not any(p.trigger_operations for p in plans):
        ops += ("upsert",)  # auto-updatable views pass ON CONFLICT through
    roles = sorted(
        {
            g.grantee
            for p in plans
            for g in p.legacy.grants
            if g.grantee not in (p.legacy.owner, "PUBLIC")
        }
    )
    result = verify(
        VerifyRequest(
            legacy=spec.legacy_sql,
            target=spec.target_sql,
            compat=tmp_path / "forward.sql",
            compat_sql=files["forward.sql"],
            rollback=tmp_path / "rollback.sql",
            rollback_sql=files["rollback.sql"],
            operations=ops,
            roles=tuple(roles),
            examples=30,
            sandbox=pg.config,
        )
    )
    assert result.equivalent, [d.diagnosis for d in result.differences]
    assert result.rollback_checked


@pytest.mark.parametrize("directory", GENERATE_SCENARIOS, ids=lambda p: p.name)
def test_check_gives_every_scenario_its_verdict(pg, directory):
    """`migverify check` as a user runs it: the generated layer (and its online phases, where
    the spec sets mode = "online") SAFE, or NOT SAFE where expect.toml says it fails, with only
    the errors it lists when it lists them."""
    result = CliRunner().invoke(
        cli, ["check", str(directory), "--dsn", pg.dsn, "--examples", "20", "--format", "json"]
    )
    report = json.loads(result.stdout)
    errors = [p["message"] for p in report["problems"] if p["severity"] == "error"]
    if not (directory / "expect.toml").exists():
        assert result.exit_code == 0 and not errors, result.output
        return
    expect = tomllib.loads((directory / "expect.toml").read_text())
    assert expect["verdict"] == "fail"
    assert result.exit_code == 1, result.output
    for message in errors if "errors" in expect else ():
        assert any(known in message for known in expect["errors"]), message


def test_generate_is_deterministic_and_matches_the_golden_files(pg):
    """Refresh with: MIGVERIFY_UPDATE_GOLDENS=1 pytest tests/generate -k golden"""
    first = _generate(pg, ROOT / "fixtures" / "xbot")
    second = _generate(pg, ROOT / "fixtures" / "xbot")
    assert first == second
    folder = GOLDEN
    if os.environ.get("MIGVERIFY_UPDATE_GOLDENS"):
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in first.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text)
    for name, text in first.items():
        assert (folder / name).read_text() == text, f"{name} differs from the golden file"


WRITES = """
INSERT INTO "LineItems" ("order", "Qty", note) VALUES (7, 2, 'new line'), (7, 3, NULL);
UPDATE "LineItems" SET "Qty" = "Qty" + 1 WHERE id <= 5;
DELETE FROM "LineItems" WHERE id BETWEEN 10 AND 12;
INSERT INTO "LineItems" ("order", note) VALUES (8, 'after delete');
"""


def test_forward_then_rollback_equals_never_migrating(pg):
    directory = ROOT / "fixtures" / "generate" / "rename"
    spec = load_spec(directory)
    files = _generate(pg, directory)
    with pg.sandbox() as box:
        migrated, plain = box.create_database("migrated"), box.create_database("plain")
        with migrated.connect() as conn:
            load_sql_files(conn, [*spec.legacy_sql, *spec.target_sql])
            load_sql(conn, files["forward.sql"], "forward.sql")
            load_sql(conn, WRITES, "writes.sql")  # through the views, after cutover
            load_sql(conn, files["rollback.sql"], "rollback.sql")
            after = _snapshot(conn)
        with plain.connect() as conn:
            load_sql_files(conn, [*spec.legacy_sql, *spec.target_sql])
            load_sql(conn, WRITES, "writes.sql")
            expected = _snapshot(conn)
    assert after == expected


@pytest.mark.parametrize("legacy_tables", ["keep", "drop"])
@pytest.mark.parametrize("directory", SCENARIOS, ids=lambda p: p.name)
def test_forward_then_rollback_leaves_the_schema_as_it_found_it(
    pg, directory, legacy_tables, tmp_path
):
    """The one-transaction path: `pg_dump --schema-only` after forward.sql and rollback.sql is
    the dump before them, privileges included (nothing the cutover granted stays behind); with
    legacy_tables = "drop" the rebuilt tables too (collations, their sequences' options and
    grants, identity options)."""
    if legacy_tables == "drop":
        if directory.name == "partitioned":
            pytest.skip("drop mode refuses a partitioned legacy table")
        directory = _legacy_tables_dropped(directory, tmp_path)
    spec = load_spec(directory)
    files = _generate(pg, directory)
    with pg.sandbox() as box:
        db = box.create_database("dump")
        with db.connect() as conn:
            load_sql_files(conn, [*spec.legacy_sql, *spec.target_sql])
            before = schema_dump(pg, db.dsn)
            load_sql(conn, files["forward.sql"], "forward.sql")
            load_sql(conn, files["rollback.sql"], "rollback.sql")
            assert schema_dump(pg, db.dsn) == before


def _legacy_tables_dropped(directory: Path, into: Path) -> Path:
    """A copy of the scenario DIRECTORY whose spec says legacy_tables = "drop"."""
    for path in directory.iterdir():
        if path.is_file():
            (into / path.name).write_text(path.read_text())
    spec = into / "migverify.toml"
    text = spec.read_text().replace('paths = ["app"]', "paths = []")
    if 'legacy_tables = "keep"' in text:
        text = text.replace('legacy_tables = "keep"', 'legacy_tables = "drop"')
    elif "[generate]\n" in text:
        text = text.replace("[generate]\n", '[generate]\nlegacy_tables = "drop"\n', 1)
    else:
        text += '\n[generate]\nlegacy_tables = "drop"\n'
    spec.write_text(text)
    return into


def test_drop_mode_rebuilds_a_sequence_it_dropped_and_keeps_one_it_did_not(pg, tmp_path):
    """A serial's own sequence goes with the dropped table and comes back with its options; a
    sequence the table only draws from stays (creating it again would fail: 42P07)."""
    (tmp_path / "legacy.sql").write_text(
        "CREATE SEQUENCE ticket_numbers AS integer START 1000 INCREMENT 5;\n"
        "CREATE TABLE tickets (id integer PRIMARY KEY DEFAULT nextval('ticket_numbers'),\n"
        '  line smallserial NOT NULL, title text NOT NULL COLLATE "C");\n'
        "ALTER SEQUENCE tickets_line_seq INCREMENT 3 MAXVALUE 30000;\n"
        "INSERT INTO tickets (title) VALUES ('one'), ('two');\n"
    )
    (tmp_path / "target.sql").write_text(
        "CREATE TABLE issues (id integer PRIMARY KEY, line integer NOT NULL, title text NOT NULL);"
    )
    (tmp_path / "migverify.toml").write_text(
        '[legacy]\nsql = ["legacy.sql"]\n[target]\nsql = ["target.sql"]\n'
        '[generate]\nlegacy_tables = "drop"\n\n[tables.tickets]\ntarget = "issues"\n'
    )
    spec = load_spec(tmp_path)
    files = _generate(pg, tmp_path)
    with pg.sandbox() as box:
        db = box.create_database("drop")
        with db.connect() as conn:
            load_sql_files(conn, [*spec.legacy_sql, *spec.target_sql])
            before = schema_dump(pg, db.dsn)
            load_sql(conn, files["forward.sql"], "forward.sql")
            conn.execute("INSERT INTO tickets (title) VALUES ('three')")
            load_sql(conn, files["rollback.sql"], "rollback.sql")
            assert schema_dump(pg, db.dsn) == before
            conn.execute("INSERT INTO tickets (title) VALUES ('four')")
            rows = conn.execute("SELECT id, line, title FROM tickets ORDER BY id").fetchall()
    assert rows == [(1000, 1, "one"), (1005, 4, "two"), (1010, 7, "three"), (1015, 10, "four")]


def test_sequence_usage_is_granted_where_the_view_needs_it_and_taken_back(pg, tmp_path):
    """The view default draws from the target's sequence as the invoker: a role that drew the
    legacy default (INSERT, and USAGE on the legacy sequence) gets USAGE for the cutover and
    loses it again at rollback; a role that already had it keeps it; a role that could not draw
    the legacy default (no USAGE on the legacy sequence) gets none."""
    source = ROOT / "fixtures" / "generate" / "rename"
    for path in source.iterdir():
        (tmp_path / path.name).write_text(path.read_text())
    roles = "DO $$ BEGIN CREATE ROLE {0} NOLOGIN; EXCEPTION WHEN duplicate_object THEN END $$;\n"
    legacy = tmp_path / "legacy.sql"
    legacy.write_text(
        legacy.read_text()
        + roles.format("shop_admin")
        + roles.format("shop_import")
        + 'GRANT INSERT ON "LineItems" TO shop_admin, shop_import;\n'
        + 'GRANT USAGE ON SEQUENCE "LineItems_id_seq" TO shop_admin;\n'
    )
    target = tmp_path / "target.sql"
    target.write_text(
        target.read_text() + "GRANT USAGE ON SEQUENCE order_lines_id_seq TO shop_admin;\n"
    )
    files = _generate(pg, tmp_path)
    assert _statements(files["forward.sql"], "ON SEQUENCE") == [
        "GRANT USAGE ON SEQUENCE public.order_lines_id_seq TO shop_app"
    ]
    assert _statements(files["rollback.sql"], "ON SEQUENCE") == [
        "REVOKE USAGE ON SEQUENCE public.order_lines_id_seq FROM shop_app"
    ]
    usage = (
        "SELECT r, has_sequence_privilege(r, 'order_lines_id_seq', 'USAGE') "
        "FROM unnest(ARRAY['shop_app', 'shop_admin', 'shop_import']) AS r"
    )
    spec = load_spec(tmp_path)
    with pg.sandbox() as box:
        db = box.create_database("usage")
        with db.connect() as conn:
            load_sql_files(conn, [*spec.legacy_sql, *spec.target_sql])
            load_sql(conn, files["forward.sql"], "forward.sql")
            assert dict(conn.execute(usage).fetchall()) == {
                "shop_app": True,
                "shop_admin": True,
                "shop_import": False,
            }
            load_sql(conn, files["rollback.sql"], "rollback.sql")
            assert dict(conn.execute(usage).fetchall()) == {
                "shop_app": False,
                "shop_admin": True,
                "shop_import": False,
            }


def _statements(script: str, containing: str) -> list[str]:
    """The statements of SCRIPT that contain CONTAINING, each on one line."""
    statements = (" ".join(s.split()) for s in script.split(";"))
    return [s for s in statements if containing in s]


def _snapshot(conn):
    catalog = load_catalog(conn)
    legacy = catalog.relation("public.LineItems")
    rows = conn.execute(
        'SELECT id, "order", "Qty", note, created_at IS NOT NULL FROM "LineItems" ORDER BY id'
    ).fetchall()
    sequence = conn.execute('SELECT last_value, is_called FROM "LineItems_id_seq"').fetchone()
    shape = (
        legacy.kind,
        [(c.name, c.type, c.not_null, c.default, c.identity) for c in legacy.columns],
        sorted((c.kind, c.name, c.definition) for c in legacy.constraints),
        sorted((g.grantee, g.privilege) for g in legacy.grants),
        legacy.comment,
        sorted(i.definition for i in legacy.indexes),
    )
    return shape, rows, sequence


def test_drop_mode_rollback_rebuilds_the_tables(pg, tmp_path):
    source = ROOT / "fixtures" / "xbot"
    spec_text = (
        (source / "migverify.toml")
        .read_text()
        .replace('legacy_tables = "keep"', 'legacy_tables = "drop"')
    )
    for name in ("legacy.sql", "seed.sql", "target.sql"):
        (tmp_path / name).write_text((source / name).read_text())
    (tmp_path / "migverify.toml").write_text(spec_text.replace('paths = ["app"]', "paths = []"))
    files = _generate(pg, tmp_path)
    assert "DROP TABLE public.posted_decisions" in files["forward.sql"]
    spec = load_spec(tmp_path)
    result = verify(
        VerifyRequest(
            legacy=spec.legacy_sql,
            target=spec.target_sql,
            compat=tmp_path / "forward.sql",
            compat_sql=files["forward.sql"],
            rollback=tmp_path / "rollback.sql",
            rollback_sql=files["rollback.sql"],
            operations=("insert", "update", "delete"),
            examples=15,
            sandbox=pg.config,
        )
    )
    assert result.equivalent, [d.diagnosis for d in result.differences]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('target = "order_lines"', 'target = "no_such_table"'), "migverify.toml:10:"),
        (('Qty = "quantity"', 'Qty = "amount"'), "cannot be mapped"),
        (('Qty = "quantity"', 'Qty = "quantity", nope = "x"'), "has no column 'nope'"),
    ],
)
def test_spec_errors_name_the_line_and_write_nothing(pg, tmp_path, change, message):
    source = ROOT / "fixtures" / "generate" / "rename"
    for path in source.iterdir():
        (tmp_path / path.name).write_text(path.read_text())
    spec = tmp_path / "migverify.toml"
    spec.write_text(spec.read_text().replace(*change))
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "migverify", "generate", str(tmp_path), "--out", str(out)]
        + ["--dsn", pg.dsn],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr
    assert not out.exists()


def test_cli_writes_three_files_and_rollback_prints_the_script(pg, tmp_path):
    runner = CliRunner()
    directory = str(ROOT / "fixtures" / "generate" / "merge")
    result = runner.invoke(cli, ["generate", directory, "--out", str(tmp_path), "--dsn", pg.dsn])
    assert result.exit_code == 0, result.output
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.*")) == [
        "REVIEW.md",
        "forward.sql",
        "online/backfill.sql",
        "online/expand.sql",
        "online/rollback-backfill.sql",
        "online/rollback-expand.sql",
        "online/rollback-switch.sql",
        "online/state.sql",
        "online/switch.sql",
        "rollback.sql",
    ]
    review = (tmp_path / "REVIEW.md").read_text()
    assert "INSTEAD OF INSERT" in review and "upsert" in review
    rollback = runner.invoke(cli, ["rollback", directory, "--dsn", pg.dsn])
    assert rollback.output == (tmp_path / "rollback.sql").read_text()


@pytest.mark.parametrize(
    ("table", "key", "message"),
    [
        (  # a transform: INSTEAD OF INSERT/UPDATE, and the UPDATE must find its row
            'columns = { at = { column = "occurred_at", up = "at", down = "occurred_at" } }\n'
            'mode = "offline"',
            "tables.audit_log",
            "audit_log has no primary key or unique key on NOT NULL columns, and the INSTEAD OF "
            "UPDATE trigger of its view must find the row it writes (at is computed by a "
            "transform (down): writes of the legacy column need a trigger that computes the "
            "target column (up)): add a primary key or a unique index on NOT NULL columns to "
            "audit_log",
        ),
        (
            'columns = { at = "occurred_at" }\nmode = "online"',
            "mode",
            "audit_log cannot be cut over online: it has no primary key or unique key on NOT "
            "NULL columns (the backfill copies in its order, the sync trigger finds rows by it); "
            "add a primary key or a unique index on NOT NULL columns to audit_log, or cut it "
            'over offline (mode = "offline")',
        ),
    ],
)
def test_a_table_without_a_key_is_refused_where_a_row_must_be_found(
    pg, tmp_path, table, key, message
):
    """fixtures/generate/no_key cuts over offline through an auto-updatable view; a view that
    needs INSTEAD OF UPDATE/DELETE triggers, or the online mode, needs a key: one line, exit 2,
    the table and the way out."""
    source = ROOT / "fixtures" / "generate" / "no_key"
    for path in source.iterdir():
        (tmp_path / path.name).write_text(path.read_text())
    spec = tmp_path / "migverify.toml"
    spec.write_text(
        spec.read_text().replace('columns = { at = "occurred_at" }\nmode = "offline"', table)
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["generate", str(tmp_path), "--out", str(out), "--dsn", pg.dsn]
    )
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines() == [
        f"migverify: error: {spec}:{_line_of(spec, key)}: {message}"
    ]
    assert not out.exists()


def _line_of(spec: Path, key: str) -> int:
    """The line of [tables.audit_log], or of its mode = … line."""
    lines = spec.read_text().splitlines()
    header = lines.index("[tables.audit_log]") + 1
    if key != "mode":
        return header
    return next(n for n, line in enumerate(lines, 1) if n > header and line.startswith("mode"))


def test_drop_mode_refuses_a_partitioned_legacy_table(pg, tmp_path):
    """rollback.sql would rebuild it as a plain table without its partitions."""
    source = ROOT / "fixtures" / "generate" / "partitioned"
    for path in source.iterdir():
        (tmp_path / path.name).write_text(path.read_text())
    spec = tmp_path / "migverify.toml"
    spec.write_text(
        spec.read_text().replace("[generate]\n", '[generate]\nlegacy_tables = "drop"\n')
    )
    result = CliRunner().invoke(cli, ["generate", str(tmp_path), "--dsn", pg.dsn])
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f'migverify: error: {spec}:7: legacy_tables = "drop": rollback.sql cannot rebuild '
        "events, a partitioned table, with its partitions; keep the legacy tables "
        '(legacy_tables = "keep")\n'
    )


def test_a_serial_key_onto_an_identity_always_column_takes_the_identity(pg, tmp_path):
    """No nextval() view default for a GENERATED ALWAYS target column (428C9 on every insert
    that leaves the key out): inserts that leave it out or write DEFAULT take the target's
    identity, which continues the legacy sequence; an explicit key is refused, as REVIEW.md
    says (the legacy serial column took it: verify reports that difference)."""
    (tmp_path / "legacy.sql").write_text(
        "CREATE TABLE tickets (id serial PRIMARY KEY, title text NOT NULL);\n"
        "INSERT INTO tickets (title) VALUES ('a'), ('b');"
    )
    (tmp_path / "target.sql").write_text(
        "CREATE TABLE issues (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
        "title text NOT NULL);"
    )
    (tmp_path / "migverify.toml").write_text(
        '[legacy]\nsql = ["legacy.sql"]\n[target]\nsql = ["target.sql"]\n\n'
        '[tables.tickets]\ntarget = "issues"\n'
    )
    spec = load_spec(tmp_path)
    files = _generate(pg, tmp_path)
    assert "SET DEFAULT" not in files["forward.sql"]
    assert (
        "issues.id is GENERATED ALWAYS AS IDENTITY: an explicit id in an INSERT or UPDATE "
        "through the view is refused (428C9), which tickets accepted" in files["REVIEW.md"]
    )
    with pg.sandbox() as box:
        db = box.create_database("identity")
        with db.connect() as conn:
            load_sql_files(conn, [*spec.legacy_sql, *spec.target_sql])
            load_sql(conn, files["forward.sql"], "forward.sql")
            conn.execute("INSERT INTO tickets (title) VALUES ('c')")
            conn.execute("INSERT INTO tickets (id, title) VALUES (DEFAULT, 'd')")
            rows = conn.execute("SELECT id, title FROM tickets ORDER BY id").fetchall()
    assert rows == [(1, "a"), (2, "b"), (3, "c"), (4, "d")]


DEFERRED_CYCLE = """
CREATE TABLE {entries} (id integer PRIMARY KEY, memo text NOT NULL, first_line integer NOT NULL);
CREATE TABLE {lines} (entry_id integer NOT NULL, line_no integer NOT NULL, amount integer NOT NULL,
  PRIMARY KEY (entry_id, line_no));
ALTER TABLE {lines} ADD CONSTRAINT {lines}_entry_fk FOREIGN KEY (entry_id)
  REFERENCES {entries} (id) ON DELETE CASCADE {mode};
ALTER TABLE {entries} ADD CONSTRAINT {entries}_first_line_fk FOREIGN KEY (id, first_line)
  REFERENCES {lines} (entry_id, line_no) {mode};
"""
DEFERRED_WRITES = """
BEGIN;
SET CONSTRAINTS ALL DEFERRED;
INSERT INTO journal_entries (id, memo, first_line) VALUES ({id}, 'entry {id}', 1);
INSERT INTO journal_lines (entry_id, line_no, amount) VALUES ({id}, 1, 10), ({id}, 2, -10);
COMMIT;
"""


@pytest.mark.parametrize("mode", ["DEFERRABLE", "DEFERRABLE INITIALLY DEFERRED"])
def test_a_cycle_of_deferrable_keys_is_copied_over_and_back(pg, tmp_path, mode):
    """flyway-ledger's journal: an entry and its lines point at each other, NOT NULL both
    ways, so no table order lets a copy check the keys row by row. forward.sql and rollback.sql
    defer them for their copies (verify runs the rollback with every constraint IMMEDIATE, and
    one that is not INITIALLY DEFERRED is so anyway) and check them right after; every
    constraint is left as it was. (verify builds no row for a table in such a cycle yet, so
    this is no scenario of fixtures/generate.)"""
    (tmp_path / "legacy.sql").write_text(
        DEFERRED_CYCLE.format(entries="journal_entries", lines="journal_lines", mode=mode)
        + DEFERRED_WRITES.format(id=1)
        + DEFERRED_WRITES.format(id=2)
    )
    (tmp_path / "target.sql").write_text(
        DEFERRED_CYCLE.format(entries="ledger_entries", lines="ledger_lines", mode=mode)
    )
    (tmp_path / "migverify.toml").write_text(
        '[legacy]\nsql = ["legacy.sql"]\n[target]\nsql = ["target.sql"]\n\n'
        '[tables.journal_entries]\ntarget = "ledger_entries"\n\n'
        '[tables.journal_lines]\ntarget = "ledger_lines"\n'
    )
    spec = load_spec(tmp_path)
    files = _generate(pg, tmp_path)
    assert "SET CONSTRAINTS public.ledger_lines_entry_fk DEFERRED" in files["forward.sql"]
    assert "SET CONSTRAINTS public.journal_lines_entry_fk DEFERRED" in files["rollback.sql"]
    with pg.sandbox() as box:
        migrated, plain = box.create_database("migrated"), box.create_database("plain")
        with migrated.connect() as conn, plain.connect() as ref:
            for db in (conn, ref):
                load_sql_files(db, [*spec.legacy_sql, *spec.target_sql])
            before = _constraints(conn)
            load_sql(conn, files["forward.sql"], "forward.sql")
            assert _constraints(conn, "ledger%") == _constraints(ref, "ledger%")
            for db in (conn, ref):
                load_sql(db, DEFERRED_WRITES.format(id=3), "writes.sql")
            with conn.transaction():  # as verify runs it
                conn.execute("SET CONSTRAINTS ALL IMMEDIATE")
                for statement in _own_statements(files["rollback.sql"]):
                    conn.execute(statement)
            assert _constraints(conn) == before
            query = (
                "SELECT (SELECT array_agg(e ORDER BY e.id)::text FROM journal_entries e), "
                "(SELECT array_agg(l ORDER BY l.entry_id, l.line_no)::text FROM journal_lines l)"
            )
            assert conn.execute(query).fetchone() == ref.execute(query).fetchone()


def _constraints(conn, tables: str = "%") -> list[tuple]:
    return conn.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), convalidated, "
        "condeferrable, condeferred FROM pg_constraint "
        "WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text LIKE %s "
        "ORDER BY 1, 2",
        (tables,),
    ).fetchall()


def _own_statements(script: str) -> list[str]:
    """SCRIPT's statements without its own BEGIN and COMMIT."""
    from pglast import split

    return [s for s in split(script) if s.strip().upper() not in ("BEGIN", "COMMIT")]


def test_an_enum_kept_as_text_round_trips_but_sorts_as_text(pg, tmp_path):
    """fixtures/generate/enum_to_text: the rollback copies the text back into the enum column
    (failed with 42804), and verify finds what the text view changes: the order."""
    directory = ROOT / "fixtures" / "generate" / "enum_to_text"
    spec = load_spec(directory)
    files = _generate(pg, directory)
    assert "CAST(t.state AS ticket_state)" in " ".join(files["rollback.sql"].split())
    result = verify(
        VerifyRequest(
            legacy=spec.legacy_sql,
            target=spec.target_sql,
            compat=tmp_path / "forward.sql",
            compat_sql=files["forward.sql"],
            rollback=tmp_path / "rollback.sql",
            rollback_sql=files["rollback.sql"],
            examples=20,
            sandbox=pg.config,
        )
    )
    assert not result.equivalent
    assert not [d for d in result.differences if d.operation == "rollback"]
    assert result.counterexample is not None and "state" in result.counterexample.script


def test_drop_mode_refuses_a_materialized_view_it_cannot_keep(pg, tmp_path):
    """legacy_tables = "drop": a materialized view (or a BEGIN ATOMIC function) reading a legacy
    table would make the cutover's DROP TABLE fail; generate says so, exit 2, before any SQL."""
    source = ROOT / "fixtures" / "generate" / "views_outside"
    for path in source.iterdir():
        (tmp_path / path.name).write_text(path.read_text())
    legacy = tmp_path / "legacy.sql"
    legacy.write_text(
        legacy.read_text()
        + "CREATE MATERIALIZED VIEW shop.revenue AS SELECT sum(total) AS total FROM shop.orders;\n"
    )
    spec = tmp_path / "migverify.toml"
    args = ["generate", str(tmp_path), "--dsn", pg.dsn, "--out", str(tmp_path / "out")]
    kept = CliRunner().invoke(cli, args)
    assert kept.exit_code == 0, kept.output  # kept legacy tables: lint MV010 names it
    spec.write_text(spec.read_text() + '\n[generate]\nlegacy_tables = "drop"\n')
    dropped = CliRunner().invoke(cli, args)
    assert dropped.exit_code == 2, dropped.output
    assert (
        'legacy_tables = "drop" cannot drop shop.orders: materialized view shop.revenue depends '
        "on it"
    ) in dropped.output


def test_a_legacy_table_without_columns_is_refused_at_its_spec_line(pg, tmp_path):
    # `CREATE TABLE t ()` (a PostgreSQL regression shape): nothing to map; the generated
    # INSERT INTO t_new () … did not even parse.
    (tmp_path / "legacy.sql").write_text("CREATE TABLE t ();\n")
    (tmp_path / "target.sql").write_text("CREATE TABLE t_new ();\n")
    spec = tmp_path / "migverify.toml"
    spec.write_text(
        '[legacy]\nsql = ["legacy.sql"]\n[target]\nsql = ["target.sql"]\n'
        '[tables.t]\ntarget = "t_new"\n'
    )
    result = CliRunner().invoke(cli, ["generate", str(tmp_path), "--dsn", pg.dsn])
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"migverify: error: {spec}:5: t has no columns: a compatibility layer maps columns, "
        "and there is none to map (leave it out of [tables])\n"
    )
