"""migverify scan against the hand-labelled corpus in fixtures/scan; output formats; CLI input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from migverify.cli import cli
from migverify.scan import scan_paths

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
CORPUS = FIXTURES / "scan"
XBOT = FIXTURES / "xbot"


def _key(item: dict) -> tuple:
    # one place may be used for several operations (Django's update_or_create, TypeORM's save)
    return (item["path"], item["line"], item["column"], item["table"], item["operation"])


def _compare(root: Path, truth_file: Path) -> tuple[dict, dict, object]:
    truth = json.loads(truth_file.read_text())
    result = scan_paths([root], truth["tables"], root=root)
    found = {_key(r.__dict__): r for r in result.references}
    expected = {_key(r): r for r in truth["references"]}
    return found, expected, result


@pytest.mark.parametrize(
    ("root", "truth"),
    [(CORPUS, CORPUS / "expected.json")],
)
def test_recall_and_precision_are_one_and_operations_right(root, truth):
    found, expected, result = _compare(root, truth)
    true_positives = found.keys() & expected.keys()
    recall = len(true_positives) / len(expected)
    precision = len(true_positives) / len(found)
    assert (recall, precision) == (1.0, 1.0), (
        sorted(expected.keys() - found.keys()),
        sorted(found.keys() - expected.keys()),
    )
    for key in true_positives:
        ref, label = found[key], expected[key]
        assert list(ref.columns) == label["columns"], key
        assert ref.kind == label["kind"], key
        assert ref.parent == label.get("parent", ref.parent), key
    dynamic = {(d.path, d.line, d.column) for d in result.dynamic}
    labelled = json.loads(truth.read_text())["dynamic"]
    assert dynamic == {(d["path"], d["line"], d["column"]) for d in labelled}


def test_ignored_and_vendored_files_are_skipped():
    result = scan_paths([CORPUS], ["posted_decisions"], root=CORPUS)
    paths = {r.path for r in result.references}
    assert not any(p.startswith(("node_modules/", "dist/", "ignored/")) for p in paths)


def test_json_shape_and_relative_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(FIXTURES.parent)
    result = CliRunner().invoke(
        cli, ["scan", "fixtures/xbot/app", "--table", "posted_decisions", "--format", "json"]
    )
    data = json.loads(result.output)
    assert set(data) == {"references", "dynamic", "skipped", "summary"}
    first = data["references"][0]
    assert set(first) >= {
        "path",
        "line",
        "column",
        "table",
        "operation",
        "columns",
        "kind",
        "snippet",
    }
    assert first["path"].startswith("fixtures/xbot/app/src/")
    assert data["dynamic"][0]["expression"] == "tableName"


def test_github_annotations():
    result = CliRunner().invoke(
        cli, ["scan", str(CORPUS / "tsx"), "--table", "posted_decisions", "--format", "github"]
    )
    (line,) = result.output.splitlines()
    assert line.startswith("::notice file=")
    assert line.endswith(
        ",line=4,col=37,title=legacy table posted_decisions::posted_decisions: select (columns: content, id)"
    )


def test_sarif_structure():
    result = CliRunner().invoke(
        cli,
        ["scan", str(XBOT / "app"), "--table", "posted_decisions", "--table", "real_tweet_metrics"]
        + ["--format", "sarif"],
    )
    document = json.loads(result.output)
    assert document["version"] == "2.1.0" and "sarif-2.1.0" in document["$schema"]
    (run,) = document["runs"]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert run["tool"]["driver"]["name"] == "migverify"
    assert run["results"]
    for item in run["results"]:
        assert item["ruleId"] in rules and item["message"]["text"]
        physical = item["locations"][0]["physicalLocation"]
        assert physical["artifactLocation"]["uri"]
        assert physical["region"]["startLine"] >= 1 and physical["region"]["startColumn"] >= 1
    assert any(item["ruleId"] == "MV008" for item in run["results"])


def test_config_supplies_tables_and_paths_and_table_option_wins(tmp_path):
    (tmp_path / "legacy.sql").write_text("CREATE TABLE posted_decisions (id int);")
    (tmp_path / "target.sql").write_text("CREATE TABLE t (id int);")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "a.ts").write_text(
        "supabase.from('posted_decisions').select('id');\nsupabase.from('other').select('id');\n"
    )
    (tmp_path / "migverify.toml").write_text(
        '[legacy]\nsql = ["legacy.sql"]\n[target]\nsql = ["target.sql"]\n'
        '[scan]\npaths = ["app"]\n[tables.posted_decisions]\ntarget = "t"\n'
    )
    runner = CliRunner()
    spec = str(tmp_path / "migverify.toml")
    assert (
        "1 reference in 1 file (1 table)" in runner.invoke(cli, ["scan", "--config", spec]).output
    )
    other = runner.invoke(cli, ["scan", "--config", spec, "--table", "other"]).output
    assert "other" in other and "posted_decisions" not in other.splitlines()[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing-dir", "--table", "t"], "missing-dir: no such file or directory"),
        (["."], "no tables"),
        (["--table", "t"], "nothing to scan"),
        (["--config", "nope.toml"], "nope.toml"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message):
    process = subprocess.run(
        [sys.executable, "-m", "migverify", "scan", *args], capture_output=True, text=True
    )
    assert process.returncode == 2
    assert len(process.stderr.strip().splitlines()) == 1
    assert message in process.stderr
