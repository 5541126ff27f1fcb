"""migverify scan against the hand-written ground truth of the xbot app (exact match)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from migverify.cli import cli
from migverify.scan import scan_paths

XBOT = Path(__file__).resolve().parents[2] / "fixtures" / "xbot"
TRUTH = json.loads((XBOT / "app-references.json").read_text())


def _key(item: dict) -> tuple:
    return (item["path"], item["line"], item["column"], item["table"])


def test_every_reference_of_the_app_exactly():
    result = scan_paths([XBOT / "app"], TRUTH["tables"], root=XBOT / "app")
    found = {
        _key(r.__dict__): {
            "operation": r.operation,
            "columns": list(r.columns),
            "kind": r.kind,
        }
        for r in result.references
    }
    expected = {
        _key(r): {"operation": r["operation"], "columns": r["columns"], "kind": r["kind"]}
        for r in TRUTH["references"]
    }
    assert sorted(expected.keys() - found.keys()) == []  # recall 1.0
    assert sorted(found.keys() - expected.keys()) == []  # precision 1.0
    assert found == expected
    assert [(d.path, d.line, d.column) for d in result.dynamic] == [
        (d["path"], d["line"], d["column"]) for d in TRUTH["dynamic"]
    ]


def test_cli_summary_line_for_the_app():
    result = CliRunner().invoke(
        cli, ["scan", str(XBOT / "app"), *(a for t in TRUTH["tables"] for a in ("--table", t))]
    )
    assert result.exit_code == 0, result.output
    files = len({r["path"] for r in TRUTH["references"]})
    dynamic = len(TRUTH["dynamic"])
    assert result.output.splitlines()[-1] == (
        f"{len(TRUTH['references'])} references in {files} files ({len(TRUTH['tables'])} tables); "
        f"{dynamic} dynamic reference{'s' if dynamic != 1 else ''} not resolved"
    )
