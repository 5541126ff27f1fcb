"""Verify throughput on the xbot fixture: compared statements/s and time to verdict.

Run: python tests/benchmarks/bench_verify.py [--pg-bin DIR] [--examples N]
Prints a Markdown table row per layer. Not part of the test suite (no timing in CI).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from migverify.sandbox import SandboxConfig
from migverify.verify import VerifyRequest, verify

XBOT = Path(__file__).resolve().parents[2] / "fixtures" / "xbot"
SOUND_LAYER = Path(__file__).resolve().parent / "xbot_sound_layer.sql"


def run(
    compat: Path, config: SandboxConfig, examples: int, ops: tuple[str, ...]
) -> tuple[float, int, str]:
    started = time.perf_counter()
    result = verify(
        VerifyRequest(
            legacy=(XBOT / "legacy.sql",),
            seed=(XBOT / "seed.sql",),
            target=(XBOT / "target.sql",),
            compat=compat,
            operations=ops,
            roles=("anon", "service_role"),
            examples=examples,
            sandbox=config,
        )
    )
    return time.perf_counter() - started, result.statements_compared, result.verdict


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pg-bin", type=Path)
    parser.add_argument("--examples", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    config = SandboxConfig(pg_bin=args.pg_bin)
    ops = ("insert", "select", "update", "delete", "upsert")
    print("| layer | verdict | time to verdict (median, s) | statements compared | statements/s |")
    print("|---|---|---|---|---|")
    for label, compat in (
        ("seed-views.sql (broken)", XBOT / "seed-views.sql"),
        ("sound layer", SOUND_LAYER),
    ):
        runs = [run(compat, config, args.examples, ops) for _ in range(args.repeat)]
        seconds = statistics.median(r[0] for r in runs)
        statements = runs[0][1]
        rate = statistics.median(r[1] / r[0] for r in runs)
        print(f"| {label} | {runs[0][2]} | {seconds:.2f} | {statements} | {rate:.0f} |")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory():
        main()
