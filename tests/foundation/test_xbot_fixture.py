"""fixtures/xbot loads on real PostgreSQL and models what the seed describes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from migverify.catalog import load_catalog
from migverify.sqlload import load_sql_files

XBOT = Path(__file__).resolve().parents[2] / "fixtures" / "xbot"


def _load(sandbox, *names):
    db = sandbox.create_database("xbot")
    with db.connect() as conn:
        load_sql_files(conn, [XBOT / name for name in names])
        return load_catalog(conn), conn.execute(
            "select (select count(*) from posted_decisions), (select count(*) from real_tweet_metrics)"
        ).fetchone()


def test_legacy_schema_and_seed(sandbox):
    catalog, counts = _load(sandbox, "legacy.sql", "seed.sql")
    assert counts == (300, 600)
    decisions = catalog.relation("posted_decisions")
    metrics = catalog.relation("real_tweet_metrics")
    assert decisions.kind == metrics.kind == "table"
    assert decisions.rls_enabled and metrics.rls_enabled
    (fk,) = metrics.foreign_keys
    assert fk.references == "public.posted_decisions" and fk.on_delete == "CASCADE"
    assert ("tweet_id", "collected_at") in [tuple(u.columns) for u in metrics.unique_keys]
    grantees = {g.grantee for g in decisions.grants}
    assert {"anon", "authenticated", "service_role"} <= grantees
    assert decisions.column("id").identity == "by default"
    sequence = catalog.sequence("public.posted_decisions_id_seq")
    assert sequence.next_value == 301


def test_target_is_comprehensive(sandbox):
    catalog, _ = _load(sandbox, "legacy.sql", "seed.sql", "target.sql")
    metrics = catalog.relation("tweet_engagement_metrics_comprehensive")
    assert len(metrics.columns) >= 40
    assert metrics.column("total_engagement").generated
    assert metrics.column("follows_gained").not_null
    (fk,) = metrics.foreign_keys
    assert fk.references == "public.posted_tweets_comprehensive" and fk.columns == ("tweet_id",)
    assert ("tweet_id", "collected_at") in [tuple(u.columns) for u in metrics.unique_keys]
    tweets = catalog.relation("posted_tweets_comprehensive")
    assert tweets.column("tweet_text") is not None
    assert tweets.column("character_count").generated
    for table in (tweets, metrics):
        assert table.rls_enabled and {p.name for p in table.policies} == {
            "service_role_all",
            "authenticated_read",
        }
        assert {g.grantee for g in table.grants} >= {"anon", "authenticated", "service_role"}
    assert catalog.relation("posted_decisions").kind == "table"  # legacy still there


def test_seed_views_are_the_literal_select_star_layer(sandbox):
    catalog, counts = _load(sandbox, "legacy.sql", "seed.sql", "target.sql", "seed-views.sql")
    assert counts == (300, 600)
    view = catalog.relation("posted_decisions")
    assert view.kind == "view"
    assert "content" not in view.column_names  # SELECT * exposes the target's names
    assert "SELECT *" in (XBOT / "seed-views.sql").read_text()
    assert not view.option("security_invoker")
    # the backfill copied explicit ids but left the identity sequence at its start
    assert catalog.sequence("public.posted_tweets_comprehensive_id_seq").next_value == 1


def test_inspect_lists_both_legacy_tables_as_json(pg):
    result = subprocess.run(
        [sys.executable, "-m", "migverify", "inspect", str(XBOT / "legacy.sql")]
        + ["--format", "json", "--dsn", pg.dsn],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(result.stdout)
    text = json.dumps(data)
    assert '"posted_decisions"' in text and '"real_tweet_metrics"' in text


def test_app_ground_truth_points_at_the_names():
    truth = json.loads((XBOT / "app-references.json").read_text())
    assert truth["tables"] == ["posted_decisions", "real_tweet_metrics"]
    assert truth["references"] == sorted(
        truth["references"], key=lambda r: (r["path"], r["line"], r["column"])
    )
    for ref in truth["references"]:
        line = (XBOT / "app" / ref["path"]).read_text().splitlines()[ref["line"] - 1]
        at = line[ref["column"] - 1 :]
        if not re.match(re.escape(ref["table"]) + r"\b", at):
            const = re.match(r"[A-Z_]+(?=\))", at)
            assert const, ref
            declaration = f"const {const.group()} = '{ref['table']}';"
            assert declaration in (XBOT / "app" / ref["path"]).read_text(), ref
        assert ref["operation"] in {"select", "insert", "update", "delete", "upsert"}
        assert ref["kind"] in {"supabase-js", "knex", "sql"}
        assert ref["columns"] == sorted(set(ref["columns"]))
    for item in truth["dynamic"]:
        line = (XBOT / "app" / item["path"]).read_text().splitlines()[item["line"] - 1]
        assert line[item["column"] - 1 :].startswith(item["expression"])
