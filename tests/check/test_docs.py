"""Every rule is documented in the README, from the same text the SARIF rule metadata uses."""

from __future__ import annotations

import os
from pathlib import Path

from migverify.check.model import rule_catalog
from migverify.report.check import render_rules_markdown

README = Path(__file__).resolve().parents[2] / "README.md"
START, END = "<!-- rules:start -->", "<!-- rules:end -->"


def test_every_rule_has_a_title_and_a_paragraph():
    ids = [rule_id for rule_id, _, _ in rule_catalog()]
    assert len(ids) == len(set(ids))
    assert {f"MV00{n}" for n in range(1, 9)} <= set(ids)
    for rule_id, title, body in rule_catalog():
        assert title and len(body.split()) >= 15, rule_id


def test_readme_rule_reference_is_current():
    """Refresh with: MIGVERIFY_UPDATE_README=1 pytest tests/check/test_docs.py"""
    text = README.read_text(encoding="utf-8")
    assert START in text and END in text
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    fresh = f"{head}{START}\n{render_rules_markdown()}{END}{tail}"
    if os.environ.get("MIGVERIFY_UPDATE_README"):
        README.write_text(fresh, encoding="utf-8")
    assert text == fresh, "README rule reference is stale; see this test's docstring"


def test_the_readme_test_command_is_what_ci_runs():
    """The quick start's second command works on a fresh machine as written (its own venv, no
    bare pip), and .ci/run runs that very command (with quiet flags)."""
    text = README.read_text(encoding="utf-8")
    command = "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/pytest"
    assert f"```sh\n{command}\n```" in text
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    runs = [
        line.replace(" -q", "").replace(" -p no:cacheprovider", "")
        for line in ci.splitlines()
        if not line.lstrip().startswith("#")
    ]
    assert command in runs


def test_the_github_workflows_pass_actionlint():
    """ci.yml and the reusable gate stay valid (and off deprecated action runtimes)."""
    import shutil
    import subprocess
    import sys

    actionlint = Path(sys.executable).parent / "actionlint"
    binary = str(actionlint) if actionlint.exists() else shutil.which("actionlint")
    assert binary, "actionlint is missing: pip install -e '.[test]'"
    workflows = sorted(str(p) for p in (README.parent / ".github" / "workflows").glob("*.yml"))
    assert len(workflows) >= 2
    result = subprocess.run([binary, *workflows], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_gate_accepts_the_postgresql_versions_the_readme_names():
    """The reusable workflow installs from apt.postgresql.org the versions its case statement
    lets through, 18 being embedded; the README's sentence names exactly those."""
    import re

    gate = (README.parent / ".github" / "workflows" / "migverify-gate.yml").read_text()
    (installed,) = re.findall(r'case "\$PG_VERSION" in\s+([0-9|]+)\)', gate)
    assert "if: inputs.postgres-version != '18'" in gate
    assert "apt.postgresql.org.sh -y" in gate
    versions = sorted(int(v) for v in [*installed.split("|"), "18"])
    text = " ".join(README.read_text(encoding="utf-8").split())
    (named,) = re.findall(r"The gate supports PostgreSQL ([0-9, and]+) \(", text)
    assert sorted(int(v) for v in re.findall(r"\d+", named)) == versions
    assert 'default: "18"' in gate
    # No made-up default for the migverify requirement: it is required (or a requirements file).
    inputs = gate.split("\n      migverify-version:\n", 1)[1].split("\n      requirements:", 1)[0]
    assert "default:" not in inputs and "REQUIRED" in inputs
