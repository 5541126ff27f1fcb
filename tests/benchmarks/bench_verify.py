"""Verify throughput on the xbot fixture: compared statements/s of the workload phase (probes
and random search) and of the whole command, and the time to a verdict.

Run: python tests/benchmarks/bench_verify.py [--pg-bin DIR] [--examples N] [--repeat N]
Prints a Markdown table row per layer. Not part of the test suite (no timing in CI).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from migverify.sandbox import Sandbox, SandboxConfig
from migverify.verify import VerifyRequest
from migverify.verify.run import Verification

T = TypeVar("T")

XBOT = Path(__file__).resolve().parents[2] / "fixtures" / "xbot"
SOUND_LAYER = Path(__file__).resolve().parent / "xbot_sound_layer.sql"
GENERATED_LAYER = XBOT / "migrations" / "forward.sql"


@dataclass(frozen=True)
class Run:
    verdict: str
    total: float  # the whole command: server start, worlds, probes, search, rollback, stop
    workload: float  # the probes and the random search (statements run and compared)
    statements: int
    probes: int
    searched: int


def run(compat: Path, config: SandboxConfig, examples: int, ops: tuple[str, ...]) -> Run:
    request = VerifyRequest(
        legacy=(XBOT / "legacy.sql",),
        seed=(XBOT / "seed.sql",),
        target=(XBOT / "target.sql",),
        compat=compat,
        operations=ops,
        roles=("anon", "service_role"),
        examples=examples,
        sandbox=config,
    )
    spent: list[float] = []

    def timed(action: Callable[..., T]) -> Callable[..., T]:
        def call(*args: object) -> T:
            begun = time.perf_counter()
            try:
                return action(*args)
            finally:
                spent.append(time.perf_counter() - begun)

        return call

    started = time.perf_counter()
    with Sandbox(config) as box:  # what verify() does, with the two workload phases timed
        verification = Verification(request, box, lambda message: None)
        verification.probes = timed(verification.probes)  # type: ignore[method-assign]
        verification.searches = timed(verification.searches)  # type: ignore[method-assign]
        result = verification.run()
    total = time.perf_counter() - started
    workload = sum(spent)
    coverage = result.coverage
    assert coverage is not None
    return Run(
        result.verdict,
        total,
        workload,
        result.statements_compared,
        coverage.probe_statements,
        coverage.search_statements,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pg-bin", type=Path)
    parser.add_argument("--examples", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    config = SandboxConfig(pg_bin=args.pg_bin)
    ops = ("insert", "select", "update", "delete", "upsert")
    print(
        "| layer | verdict | whole command (median, s) | workload phase (s) | statements "
        "compared (probes + search) | statements/s, workload phase | statements/s, whole "
        "command |"
    )
    print("|---|---|---|---|---|---|---|")
    for label, compat in (
        ("seed-views.sql (broken)", XBOT / "seed-views.sql"),
        ("hand-written sound layer", SOUND_LAYER),
        ("generated layer (migrations/forward.sql)", GENERATED_LAYER),
    ):
        runs = [run(compat, config, args.examples, ops) for _ in range(args.repeat)]
        first = runs[0]
        total = statistics.median(r.total for r in runs)
        workload = statistics.median(r.workload for r in runs)
        rate = statistics.median(r.statements / r.workload for r in runs)
        overall = statistics.median(r.statements / r.total for r in runs)
        print(
            f"| {label} | {first.verdict} | {total:.2f} | {workload:.2f} | {first.statements:,} "
            f"({first.probes:,} + {first.searched:,}) | {rate:,.0f} | {overall:,.0f} |"
        )


if __name__ == "__main__":
    with tempfile.TemporaryDirectory():
        main()
