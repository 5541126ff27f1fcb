"""The online phases on real PostgreSQL, run as any client would run the files: expand, writes
through the legacy names while the sync triggers copy them, the backfill batch by batch with more
writes in between, the switch; the legacy names then show what the same writes left on the legacy
tables. Each phase's rollback gives the legacy tables back; the phases refuse a database that is
not ready for them; REVIEW.md says which mode a table gets and why."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import tomllib
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql

from migverify.cli import cli
from migverify.errors import InputError, SQLFileError
from migverify.generate import generate_layer
from migverify.spec import load_spec
from migverify.sqlload import load_sql, load_sql_files
from tests.conftest import schema_dump

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "fixtures" / "generate"

# Writes through the legacy names, in three rounds: before the backfill, between its batches,
# after it (before the switch). Key changes, deletes of copied and not yet copied rows, inserts.
WORKLOADS = {
    "xbot": (
        [
            "INSERT INTO posted_decisions (tweet_id, content, topic) VALUES ('w1', 'one', 'a')",
            "UPDATE posted_decisions SET content = content || ' (edited)' WHERE id % 7 = 0",
            "DELETE FROM real_tweet_metrics WHERE id % 11 = 0",
            "INSERT INTO real_tweet_metrics (tweet_id, likes) VALUES ('w1', 5)",
            "UPDATE real_tweet_metrics SET id = id + 10000 WHERE id IN (3, 590)",
        ],
        [
            "UPDATE real_tweet_metrics SET likes = likes + 1 WHERE id % 5 = 0",
            "DELETE FROM posted_decisions WHERE id IN (2, 299)",
            "INSERT INTO posted_decisions (tweet_id, content) VALUES ('w2', 'two')",
        ],
        [
            "UPDATE posted_decisions SET topic = 'late' WHERE id BETWEEN 100 AND 110",
            "INSERT INTO real_tweet_metrics (tweet_id, likes) VALUES ('w2', 9), ('w1', 1)",
        ],
    ),
    "rename": (
        [
            'INSERT INTO "LineItems" ("order", "Qty", note) VALUES (7, 2, \'new\')',
            'UPDATE "LineItems" SET "Qty" = "Qty" + 1 WHERE id <= 5',
            'DELETE FROM "LineItems" WHERE id BETWEEN 10 AND 12',
        ],
        [
            'UPDATE "LineItems" SET id = id + 100 WHERE id = 39',
            'DELETE FROM "LineItems" WHERE id = 2',
        ],
        ['INSERT INTO "LineItems" ("order", note) VALUES (8, \'after\')'],
    ),
    "split": (
        [
            "INSERT INTO users (email, name, bio) VALUES ('new@example.com', 'New', 'hi')",
            "UPDATE users SET bio = 'changed' WHERE id IN (1, 24)",
        ],
        ["DELETE FROM users WHERE id IN (3, 25)", "UPDATE users SET avatar_url = NULL"],
        ["UPDATE users SET name = name || '!' WHERE id % 2 = 0"],
    ),
    "merge": (
        [
            "INSERT INTO x_posts (body) VALUES ('new x')",
            "UPDATE linkedin_posts SET likes = likes + 1 WHERE id % 3 = 0",
        ],
        ["DELETE FROM x_posts WHERE id = 20", "DELETE FROM linkedin_posts WHERE id = 1"],
        ["INSERT INTO linkedin_posts (body) VALUES ('new linkedin')"],
    ),
}


def _directory(name: str) -> Path:
    return ROOT / "fixtures" / "xbot" if name == "xbot" else SCENARIOS / name


def _online_files(pg, directory: Path, **changes) -> dict[str, str]:
    spec = dataclasses.replace(load_spec(directory), scan_paths=(), mode="online", **changes)
    with pg.sandbox() as box:
        return generate_layer(spec, box)


def run(conn: psycopg.Connection, files: dict[str, str], phase: str) -> None:
    """One phase script as psql runs it; a failure ends its transaction (ROLLBACK)."""
    try:
        load_sql(conn, files[f"online/{phase}.sql"], f"{phase}.sql")
    except SQLFileError:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.execute("ROLLBACK")
        raise


def backfill(
    conn: psycopg.Connection, files: dict[str, str], batch: int, batches: int | None = None
) -> list[int]:
    """online/backfill.sql as any client can run it: PREPARE, then EXECUTE start and batches.
    Returns the rows read per table."""
    conn.execute("DEALLOCATE ALL")
    load_sql(conn, files["online/backfill.sql"], "backfill.sql")
    read = []
    number = 1
    while conn.execute(
        "SELECT 1 FROM pg_prepared_statements WHERE name = %s",
        (f"migverify_backfill_start_{number}",),
    ).fetchone():
        _, after, upto, _ = conn.execute(f"EXECUTE migverify_backfill_start_{number}").fetchone()
        total, done = 0, 0
        while batches is None or done < batches:
            statement = sql.SQL("EXECUTE {}({}, {}, {})").format(
                sql.Identifier(f"migverify_backfill_batch_{number}"),
                sql.Literal(after),
                sql.Literal(upto),
                sql.Literal(batch),
            )
            after, rows, _ = conn.execute(statement).fetchone()
            if rows == 0:
                break
            total, done = total + rows, done + 1
        read.append(total)
        number += 1
    return read


def _contents(conn: psycopg.Connection, spec) -> dict[str, list[tuple]]:
    """Every legacy name's rows as text, volatile defaults by presence."""
    found = {}
    for table in spec.tables:
        columns = conn.execute(
            "SELECT attname, pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a "
            "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            (sql.Identifier(table.legacy).as_string(conn),),
        ).fetchall()
        shown = [
            sql.SQL("({} IS NOT NULL)" if default and "()" in default else "{}::text").format(
                sql.Identifier(name)
            )
            for name, default in columns
            if name not in ("created_at", "posted_at", "collected_at", "decision_id") or not default
        ]
        query = sql.SQL("SELECT {} FROM {} ORDER BY 1").format(
            sql.SQL(", ").join(shown), sql.Identifier(table.legacy)
        )
        found[table.legacy] = conn.execute(query).fetchall()
    return found


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_writes_during_every_phase_arrive_and_each_rollback_restores(pg, name):
    directory = _directory(name)
    spec = load_spec(directory)
    files = _online_files(pg, directory)
    first, between, after = WORKLOADS[name]
    with pg.sandbox() as box:
        online, plain = box.create_database("online"), box.create_database("plain")
        with online.connect() as conn, plain.connect() as ref:
            for db in (conn, ref):
                load_sql_files(db, [*spec.legacy_sql, *spec.target_sql])
            before = _contents(conn, spec)
            run(conn, files, "expand")
            for statement in first:
                conn.execute(statement)
            read = backfill(conn, files, batch=7, batches=2)
            assert read and all(0 < rows <= 14 for rows in read), read  # two batches of 7
            for statement in between:
                conn.execute(statement)
            backfill(conn, files, batch=7)
            for statement in after:
                conn.execute(statement)
            for statement in (*first, *between, *after):
                ref.execute(statement)
            expected = _contents(ref, spec)
            run(conn, files, "switch")
            kinds = conn.execute(
                "SELECT relkind FROM pg_class WHERE oid = ANY(%s::regclass[])",
                ([sql.Identifier(t.legacy).as_string(conn) for t in spec.tables],),
            ).fetchall()
            assert {k for (k,) in kinds} == {"v"}
            assert _contents(conn, spec) == expected

            # Back, phase by phase: the legacy tables as the writes left them, then as before.
            run(conn, files, "rollback-switch")
            assert _contents(conn, spec) == expected
            run(conn, files, "rollback-backfill")
            assert backfill(conn, files, batch=50)  # copies every row again
            run(conn, files, "rollback-expand")
            assert _contents(conn, spec) == expected
            triggers = conn.execute(
                "SELECT count(*) FROM pg_trigger WHERE tgname LIKE '%migverify_sync%'"
            ).fetchone()
            assert triggers == (0,)
            assert before != expected


def test_sync_trigger_copies_writes_of_roles_without_rights_on_the_target(pg):
    directory = ROOT / "fixtures" / "xbot"
    spec = load_spec(directory)
    files = _online_files(pg, directory)
    with pg.sandbox() as box:
        db = box.create_database("online")
        with db.connect() as conn:
            load_sql_files(conn, [*spec.legacy_sql, *spec.target_sql])
            conn.execute("REVOKE ALL ON posted_tweets_comprehensive FROM service_role")
            run(conn, files, "expand")
            with conn.transaction():
                conn.execute("SET LOCAL ROLE service_role")
                conn.execute("INSERT INTO posted_decisions (tweet_id, content) VALUES ('r', 'x')")
            assert conn.execute(
                "SELECT tweet_text FROM posted_tweets_comprehensive WHERE tweet_id = 'r'"
            ).fetchone() == ("x",)
            # TRUNCATE of the legacy table empties the target too.
            conn.execute("TRUNCATE real_tweet_metrics")
            assert conn.execute(
                "SELECT count(*) FROM tweet_engagement_metrics_comprehensive"
            ).fetchone() == (0,)


def test_phases_refuse_a_database_that_is_not_ready(pg):
    directory = ROOT / "fixtures" / "xbot"
    spec = load_spec(directory)
    files = _online_files(pg, directory)
    with pg.sandbox() as box:
        db = box.create_database("online")
        with db.connect() as conn:
            load_sql_files(conn, [*spec.legacy_sql, *spec.target_sql])
            with pytest.raises(SQLFileError, match="no sync trigger: run the expand phase"):
                run(conn, files, "switch")
            conn.execute(
                "INSERT INTO posted_tweets_comprehensive (tweet_id, tweet_text) VALUES ('x', 'y')"
            )
            with pytest.raises(SQLFileError, match="holds rows already"):
                run(conn, files, "expand")
            conn.execute("DELETE FROM posted_tweets_comprehensive")
            run(conn, files, "expand")
            with pytest.raises(SQLFileError, match="the expand phase ran"):
                run(conn, files, "expand")
            with pytest.raises(SQLFileError, match="posted_decisions has 300 rows, .* 0 of them"):
                run(conn, files, "switch")
            backfill(conn, files, batch=1000)
            run(conn, files, "switch")
            with pytest.raises(SQLFileError, match="is not a table \\(already switched\\?\\)"):
                run(conn, files, "switch")
            # Nothing half-applied: the failed switch left no trace, the second one is refused.
            assert conn.execute("SELECT count(*) FROM posted_decisions").fetchone() == (300,)


def test_checksum_finds_a_changed_value_that_counts_miss(pg):
    directory = ROOT / "fixtures" / "xbot"
    spec = load_spec(directory)
    files = _online_files(pg, directory, switch_check="checksum")
    assert "hashtextextended" in files["online/switch.sql"]
    with pg.sandbox() as box:
        db = box.create_database("online")
        with db.connect() as conn:
            load_sql_files(conn, [*spec.legacy_sql, *spec.target_sql])
            run(conn, files, "expand")
            backfill(conn, files, batch=1000)
            conn.execute("UPDATE posted_tweets_comprehensive SET topic = 'tampered' WHERE id = 5")
            with pytest.raises(SQLFileError, match="not the same values \\(checksum\\)"):
                run(conn, files, "switch")
            conn.execute(
                "UPDATE posted_tweets_comprehensive t SET topic = l.topic "
                "FROM posted_decisions l WHERE l.id = t.id"
            )
            run(conn, files, "switch")


def test_review_says_which_mode_each_table_gets_and_why(pg):
    with pg.sandbox() as box:
        auto = generate_layer(
            dataclasses.replace(load_spec(SCENARIOS / "rename"), online_threshold=40), box
        )
        small = generate_layer(load_spec(SCENARIOS / "rename"), box)
        merge = generate_layer(
            dataclasses.replace(load_spec(SCENARIOS / "merge"), mode="offline"), box
        )
    assert (
        "Mode: **online** — about 40 rows (pg_class.reltuples), at least online_threshold = 40"
        in auto["REVIEW.md"]
    )
    assert (
        "Mode: **offline** — about 40 rows (pg_class.reltuples), below online_threshold = 50,000"
        in small["REVIEW.md"]
    )
    assert 'Mode: **offline** — the spec says mode = "offline"' in merge["REVIEW.md"]
    # Offline tables are copied by the switch, under its lock; the backfill has nothing to do.
    assert "migverify_backfill_start" not in small["online/backfill.sql"]
    assert "INSERT INTO public.order_lines" in small["online/switch.sql"]
    assert "migverify_backfill_start_1" in auto["online/backfill.sql"]


def test_forcing_online_a_table_without_a_key_names_the_spec_line(pg, tmp_path):
    (tmp_path / "legacy.sql").write_text("CREATE TABLE events (at timestamptz, what text);")
    (tmp_path / "target.sql").write_text("CREATE TABLE event_log (at timestamptz, what text);")
    (tmp_path / "migverify.toml").write_text(
        '[legacy]\nsql = ["legacy.sql"]\n[target]\nsql = ["target.sql"]\n\n'
        '[tables.events]\ntarget = "event_log"\nmode = "online"\n'
    )
    with pytest.raises(InputError, match=r"migverify.toml:8: events cannot be cut over online"):
        with pg.sandbox() as box:
            generate_layer(load_spec(tmp_path), box)
    result = subprocess.run(
        [sys.executable, "-m", "migverify", "generate", str(tmp_path), "--out", str(tmp_path / "o")]
        + ["--dsn", pg.dsn],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert (
        "events cannot be cut over online: it has no primary key or unique key on NOT NULL "
        "columns (the backfill copies in its order, the sync trigger finds rows by it); add a "
        "primary key or a unique index on NOT NULL columns to events, or cut it over offline "
        '(mode = "offline")'
    ) in result.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[tables.events]\ntarget = "event_log"\nmode = "fast"\n',
            ":8: [tables.events] mode must be",
        ),
        (
            '[generate]\nmode = "soon"\n',
            ':7: generate.mode must be one of "auto", "online", "offline"',
        ),
        ("[generate]\nbatch = 5\n", ":7: unknown key in [generate] 'batch'"),
        (
            '[tables.events]\ntarget = "event_log"\nmodes = "online"\n',
            ":8: unknown key in [tables.events] 'modes' (did you mean 'mode'?)",
        ),
    ],
)
def test_spec_options_of_the_online_mode_are_validated(tmp_path, text, message):
    (tmp_path / "legacy.sql").write_text("CREATE TABLE events (id int PRIMARY KEY);")
    (tmp_path / "migverify.toml").write_text(
        '[legacy]\nsql = ["legacy.sql"]\n[target]\nsql = []\n\n'
        + text
        + ("" if "[tables" in text else '[tables.events]\ntarget = "x"\n')
    )
    with pytest.raises(InputError) as error:
        load_spec(tmp_path)
    assert message in str(error.value)


# --- every scenario through `migverify apply` ------------------------------------------------


def _cuts_over(directory: Path) -> bool:
    """A scenario whose layer cuts over as it should: no expect.toml, or one that lists the
    only statements that differ (errors), not a layer that loses data (transform_lossy)."""
    expect = directory / "expect.toml"
    return not expect.exists() or "errors" in tomllib.loads(expect.read_text())


APPLY_SCENARIOS = [
    d for d in sorted(SCENARIOS.iterdir()) if (d / "migverify.toml").exists() and _cuts_over(d)
]


def _project(directory: Path, into: Path) -> Path:
    """A copy of the scenario DIRECTORY whose spec writes its layer under migrations/."""
    for path in directory.iterdir():
        if path.is_file():
            (into / path.name).write_text(path.read_text())
    spec = into / "migverify.toml"
    text = spec.read_text()
    if "[generate]\n" in text:
        text = text.replace("[generate]\n", '[generate]\nout = "migrations"\n', 1)
    else:
        text += '\n[generate]\nout = "migrations"\n'
    spec.write_text(text)
    return into


def _relation(name: str) -> sql.Identifier:
    return sql.Identifier(*name.split(".", 1))


def _legacy_rows(conn: psycopg.Connection, spec) -> dict[str, list[tuple]]:
    """Every legacy name's rows as text in a total order; columns with a volatile default
    (now(), gen_random_uuid()) by presence, as two databases cannot agree on them."""
    found = {}
    for table in spec.tables:
        relation = _relation(table.legacy)
        columns = conn.execute(
            "SELECT attname, coalesce(pg_get_expr(d.adbin, d.adrelid), '') LIKE '%%()%%' "
            "FROM pg_attribute a LEFT JOIN pg_attrdef d "
            "ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            (relation.as_string(conn),),
        ).fetchall()
        shown = [
            sql.SQL("({} IS NOT NULL)" if volatile else "{}::text").format(sql.Identifier(name))
            for name, volatile in columns
        ]
        order = sql.SQL(", ".join(str(n) for n in range(1, len(shown) + 1)))
        query = sql.SQL("SELECT {} FROM {} ORDER BY {}").format(
            sql.SQL(", ").join(shown), relation, order
        )
        found[table.legacy] = conn.execute(query).fetchall()
    return found


@pytest.mark.parametrize("directory", APPLY_SCENARIOS, ids=lambda p: p.name)
def test_apply_cuts_every_scenario_over_and_back(pg, directory, tmp_path):
    """`migverify apply` on the scenario's seeded database, every phase as the spec sets its
    modes; its writes.sql (if any) runs through the legacy names after the expand phase, so
    the sync triggers copy it. The legacy names then show what the same writes left on the
    legacy tables, and `--rollback` gives the legacy tables back with those rows, the schema
    as `pg_dump --schema-only` showed it before (privileges included)."""
    project = _project(directory, tmp_path)
    runner = CliRunner()
    generated = runner.invoke(cli, ["generate", str(project), "--dsn", pg.dsn])
    assert generated.exit_code == 0, generated.output
    spec = load_spec(project)
    writes = project / "writes.sql"
    with pg.sandbox() as box:
        live, plain = box.create_database("apply"), box.create_database("plain")
        with live.connect() as conn, plain.connect() as ref:
            for db in (conn, ref):
                load_sql_files(db, [*spec.legacy_sql, *spec.target_sql])
            if writes.exists():
                load_sql_files(ref, [writes])
            expected = _legacy_rows(ref, spec)
            before = schema_dump(pg, live.dsn)

            def apply(*args: str) -> None:
                result = runner.invoke(cli, ["apply", str(project), "--dsn", live.dsn, *args])
                assert result.exit_code == 0, result.output

            apply("--phase", "expand")
            if writes.exists():
                load_sql_files(conn, [writes])
            apply()  # the rest: backfill (online tables), switch
            kinds = conn.execute(
                "SELECT DISTINCT relkind FROM pg_class WHERE oid = ANY(%s::regclass[])",
                ([_relation(t.legacy).as_string(conn) for t in spec.tables],),
            ).fetchall()
            assert kinds == [("v",)]
            assert _legacy_rows(conn, spec) == expected
            apply("--rollback")
            assert _legacy_rows(conn, spec) == expected
            assert conn.execute(
                "SELECT count(*) FROM pg_trigger WHERE tgname LIKE '%migverify_sync%'"
            ).fetchone() == (0,)
            assert schema_dump(pg, live.dsn) == before


def test_online_copies_in_order_of_the_legacy_key_the_target_has_too(pg, tmp_path):
    """A partitioned target's unique keys include its partition key: of the legacy table's row
    keys (primary key id, unique (id, region)) the online phases take the one the target has."""
    (tmp_path / "legacy.sql").write_text(
        "CREATE TABLE orders (id bigint PRIMARY KEY, region text NOT NULL, UNIQUE (id, region));"
    )
    (tmp_path / "target.sql").write_text(
        "CREATE TABLE regional_orders (id bigint, region text NOT NULL, "
        "PRIMARY KEY (region, id)) PARTITION BY LIST (region);"
    )
    (tmp_path / "migverify.toml").write_text(
        '[legacy]\nsql = ["legacy.sql"]\n[target]\nsql = ["target.sql"]\n\n'
        '[tables.orders]\ntarget = "regional_orders"\nmode = "online"\n'
    )
    with pg.sandbox() as box:
        files = generate_layer(load_spec(tmp_path), box)
    assert (
        "an upsert on `(region, id)`. The backfill copies in order of `id, region` "
        "(a row comparison)" in files["REVIEW.md"]
    )
    assert "ORDER BY l.id\n                , l.region" in files["online/backfill.sql"]
