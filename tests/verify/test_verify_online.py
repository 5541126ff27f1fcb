"""verify proves the online cutover too: workloads through the legacy names while the sync
triggers are installed, the backfill between them, the switch; then each phase's rollback. The
generated phases pass for every scenario; broken ones are found with a counterexample."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from migverify.generate import generate_layer
from migverify.spec import load_spec
from migverify.verify import VerifyRequest
from migverify.verify.online import OnlineScripts, verify_online

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "fixtures" / "generate").iterdir()) + [ROOT / "fixtures" / "xbot"]
XBOT = ROOT / "fixtures" / "xbot"


def _files(pg, directory: Path) -> dict[str, str]:
    spec = dataclasses.replace(load_spec(directory), scan_paths=(), mode="online")
    with pg.sandbox() as box:
        return generate_layer(spec, box)


def _verify(pg, directory: Path, files: dict[str, str], **options):
    spec = load_spec(directory)
    return verify_online(
        VerifyRequest(
            legacy=spec.legacy_sql,
            target=spec.target_sql,
            compat=Path("forward.sql"),
            examples=options.pop("examples", 20),
            sandbox=pg.config,
            **options,
        ),
        OnlineScripts.from_files(files),
    )


@pytest.mark.parametrize("directory", SCENARIOS, ids=lambda p: p.name)
def test_generated_phases_are_equivalent_with_every_rollback(pg, directory):
    if (directory / "expect.toml").exists():
        pytest.skip("a scenario that is meant to fail verification")
    result = _verify(pg, directory, _files(pg, directory))
    assert result.equivalent, [d.diagnosis for d in result.differences]
    assert result.online.rollbacks == ("expand", "backfill", "switch")
    assert result.online.workloads >= 5 and result.statements_compared > 50


def _broken(pg, old: str, new: str, name: str) -> dict[str, str]:
    files = dict(_files(pg, XBOT))
    assert old in files[name], old
    files[name] = files[name].replace(old, new)
    return files


def test_a_sync_trigger_that_forgets_deletes_is_found_with_a_counterexample(pg):
    files = _broken(
        pg,
        "IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE'",
        "IF (TG_OP = 'UPDATE'",
        "online/expand.sql",
    )
    result = _verify(pg, XBOT, files)
    assert not result.equivalent
    example = result.counterexample
    assert "contents of" in example.difference.diagnosis or "rows" in example.difference.diagnosis
    assert "DELETE FROM" in example.script and len(example.statements) <= 3


def test_a_sync_trigger_that_loses_a_column_on_update_is_found(pg):
    files = _broken(pg, "topic = EXCLUDED.topic, ", "", "online/expand.sql")
    result = _verify(pg, XBOT, files)
    assert not result.equivalent
    assert "UPDATE posted_decisions" in result.counterexample.script


def test_a_backfill_that_skips_rows_is_refused_by_the_switch(pg):
    files = _broken(
        pg, "         FOR KEY SHARE", "AND l.id % 50 <> 7 FOR KEY SHARE", "online/backfill.sql"
    )
    result = _verify(pg, XBOT, files)
    assert not result.equivalent
    assert "the backfill has not finished" in result.differences[0].diagnosis


def test_a_stricter_target_makes_writes_fail_during_expand(pg, tmp_path):
    source = ROOT / "fixtures" / "generate" / "rename"
    for path in source.iterdir():
        (tmp_path / path.name).write_text(path.read_text())
    target = tmp_path / "target.sql"
    target.write_text(
        target.read_text().replace(
            "CHECK (quantity > 0)", "CHECK (quantity > 0 AND quantity < 1000)"
        )
    )
    result = _verify(pg, tmp_path, _files(pg, tmp_path))
    assert not result.equivalent
    assert any(
        "order_lines_quantity_check" in d.diagnosis or "rejects" in d.diagnosis
        for d in result.differences
    )


@pytest.mark.parametrize(
    ("name", "old", "new", "message"),
    [
        (
            "online/rollback-expand.sql",
            "DELETE FROM public.posted_tweets_comprehensive AS t;",
            "",
            "rollback of the expand: posted_tweets_comprehensive is not empty after it",
        ),
        (
            "online/rollback-switch.sql",
            "ENABLE ALWAYS TRIGGER posted_decisions_migverify_sync;",
            "ENABLE TRIGGER posted_decisions_migverify_sync;",
            "rollback of the switch: posted_decisions lacks the trigger(s) "
            "posted_decisions_migverify_sync",
        ),
        (
            "online/rollback-expand.sql",
            "ALTER TABLE public.tweet_engagement_metrics_comprehensive ADD CONSTRAINT",
            "-- ",
            "lacks the foreign key FOREIGN KEY (tweet_id)",
        ),
    ],
)
def test_a_rollback_that_leaves_something_behind_is_found(pg, name, old, new, message):
    files = _broken(pg, old, new, name)
    result = _verify(pg, XBOT, files, examples=5)
    assert not result.equivalent
    assert any(message in d.diagnosis for d in result.differences), [
        d.diagnosis for d in result.differences
    ]


def test_verify_cli_takes_the_online_directory(pg, tmp_path):
    files = _files(pg, ROOT / "fixtures" / "generate" / "split")
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    split = ROOT / "fixtures" / "generate" / "split"
    result = subprocess.run(
        [sys.executable, "-m", "migverify", "verify", "--legacy", str(split / "legacy.sql")]
        + ["--seed", str(split / "seed.sql"), "--target", str(split / "target.sql")]
        + ["--compat", str(tmp_path / "forward.sql"), "--online", str(tmp_path / "online")]
        + ["--examples", "10", "--format", "json", "--dsn", pg.dsn],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["online"]["rollbacks"] == ["expand", "backfill", "switch"]
    assert report["verdict"] == "equivalent"
    missing = subprocess.run(
        [sys.executable, "-m", "migverify", "verify", "--legacy", str(split / "legacy.sql")]
        + ["--target", str(split / "target.sql"), "--compat", str(tmp_path / "forward.sql")]
        + ["--online", str(tmp_path / "nowhere"), "--dsn", pg.dsn],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
