"""Run every benchmark and write their tables to tests/benchmarks/RESULTS.md.

Run: python tests/benchmarks/run_all.py [--pg-bin DIR] [--quick]
Each benchmark is also runnable alone (see its docstring). Figures depend on the machine; the
file records which one. --quick uses smaller sizes for a smoke run.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def benchmarks(quick: bool) -> list[tuple[str, list[str]]]:
    return [
        (
            "1–2. Read and write overhead per view kind",
            ["bench_overhead.py"] + (["--rows", "20000", "--ops", "1000"] if quick else []),
        ),
        (
            "3. Backfill: batched vs one INSERT … SELECT",
            ["bench_backfill.py"] + (["--rows", "100000", "--repeat", "1"] if quick else []),
        ),
        (
            "4. Verify throughput on fixtures/xbot",
            ["bench_verify.py"] + (["--repeat", "1"] if quick else []),
        ),
        (
            "5. Scan vs ripgrep",
            ["bench_scan.py"] + (["--files", "10000", "--repeat", "1"] if quick else []),
        ),
        (
            "6. Cutover under load",
            ["bench_cutover.py"] + (["--repeat", "1", "--seconds", "2"] if quick else []),
        ),
        (
            "7. Foreign keys of outside tables moved at cutover",
            ["bench_fk_retarget.py"] + (["--children", "100000"] if quick else []),
        ),
        (
            "10. check on a 330-file migration history: cold, warm (kept state), no cache",
            ["bench_history.py"] + (["--files", "100", "--repeat", "1"] if quick else []),
        ),
        (
            "9. pgcrypto and uuid-ossp: the stand-ins against the real extensions",
            ["bench_stand_ins.py"] + (["--calls", "50"] if quick else []),
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pg-bin", type=Path)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args()
    server = f"--pg-bin {args.pg_bin}" if args.pg_bin else "embedded PostgreSQL 18"
    lines = [
        "# migverify benchmarks",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"server: {server}.",
        "",
    ]
    for title, command in benchmarks(args.quick):
        script, *options = command
        if args.pg_bin and script not in ("bench_scan.py", "bench_history.py"):
            options += ["--pg-bin", str(args.pg_bin)]
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, str(HERE / script), *options], capture_output=True, text=True
        )
        seconds = time.perf_counter() - started
        lines += [
            f"## {title}",
            "",
            f"`python tests/benchmarks/{script} {' '.join(options)}` ({seconds:.0f} s)",
            "",
        ]
        lines += [result.stdout.strip() or f"failed: {result.stderr.strip().splitlines()[-1:]}", ""]
        print(f"{title}: {seconds:.0f} s", file=sys.stderr)
    args.out.write_text("\n".join(lines) + "\n")
    print(args.out.read_text())


if __name__ == "__main__":
    main()
