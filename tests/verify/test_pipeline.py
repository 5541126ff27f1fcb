"""The worlds' work queues: batches queued ahead while the caller compares must give exactly
what running them one at a time gives (the same findings, counterexamples and count of compared
statements), and a caller that stops early leaves both worlds idle."""

from __future__ import annotations

import tomllib
from pathlib import Path

import psycopg
import pytest
from test_stable_verdicts import COMPAT, _request

from migverify.verify import tuning
from migverify.verify.run import Verification
from migverify.verify.statement import Statement

SCENARIOS = ["lost-check", "child-fk-left-on-legacy", "sound-view-defaults"]


def _deterministic(pg, scenario: Path) -> tuple[list, list, int]:
    expect = tomllib.loads((scenario / "expect.toml").read_text())
    with pg.sandbox() as box:
        verification = Verification(_request(pg, scenario, expect), box, lambda message: None)
        with verification.threads():
            verification.prepare()
            differences, counterexamples = verification.deterministic()
            found = verification.searches(3)
        return (
            [d.diagnosis for d in differences],
            [(c.script, c.difference.diagnosis) for c in (*counterexamples, *found)],
            verification.compared,
        )


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_queued_batches_give_what_one_at_a_time_gives(pg, scenario, monkeypatch):
    queued = _deterministic(pg, COMPAT / scenario)
    monkeypatch.setattr(tuning, "AHEAD", 1)
    monkeypatch.setattr(tuning, "PROBES_PER_CALL", 7)  # many small batches, each one alone
    alone = _deterministic(pg, COMPAT / scenario)
    assert queued == alone
    if not scenario.startswith("sound"):
        assert queued[1], "the broken scenario shows a counterexample"


def test_a_caller_that_stops_early_leaves_the_worlds_idle(pg):
    scenario = COMPAT / "lost-check"
    expect = tomllib.loads((scenario / "expect.toml").read_text())
    with pg.sandbox() as box:
        verification = Verification(_request(pg, scenario, expect), box, lambda message: None)
        with verification.threads():
            verification.prepare()
            table = verification.relations[0].name
            slow = Statement(
                f"SELECT pg_sleep(0.01), * FROM {table}", table, "select", returns_rows=True
            )
            batches = [[(slow,)] * 20 for _ in range(4)]
            each = verification.find_each(batches)
            assert next(each) == []
            each.close()  # the caller stops: the batches queued ahead are dropped or finished
            for pool in verification.pools:
                assert pool._work_queue.empty()
            with psycopg.connect(verification.ref.conn.info.dsn) as monitor:  # not behind a lock
                busy = monitor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE %s",
                    ("%migverify_run%",),
                ).fetchone()[0]
            assert busy == 0
