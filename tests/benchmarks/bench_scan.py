"""Scan speed on a generated monorepo of 100,000 files versus ripgrep.

1% of the files reference the legacy tables (supabase-js chains, SQL strings), 4% hold
near-miss names (posted_decisions_archive, refresh_real_tweet_metrics()), the rest is ordinary
TypeScript (some with Array.from(...), which the dynamic-reference prefilter also lets through).

Run: python tests/benchmarks/bench_scan.py [--files 100000] [--repeat 3]
Needs Debian's ripgrep (`apt-get install -y ripgrep`). Both tools run on the same warm tree;
wall time includes start-up (each is run as a command).
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TABLES = ("posted_decisions", "real_tweet_metrics")
REFERENCE = """import {{ supabase }} from '../../db';

export async function load{n}(id: string) {{
  const {{ data }} = await supabase
    .from('{table}')
    .select('tweet_id, likes')
    .eq('tweet_id', id);
  await pool.query(`UPDATE {table} SET likes = likes + 1 WHERE tweet_id = ${{id}}`);
  return data;
}}
"""
NEAR_MISS = """// archive job {n}
export async function archive{n}() {{
  await supabase.from('posted_decisions_archive').select('*');
  await supabase.rpc('refresh_real_tweet_metrics');
}}
"""
ORDINARY = """import {{ useMemo }} from 'react';

export function compute{n}(values: number[]): number {{
  const items = Array.from(values).map((v) => v * {n});
  return items.reduce((a, b) => a + b, 0) / Math.max(items.length, 1);
}}

export const LABEL_{n} = 'component {n}';
"""


def build(root: Path, files: int) -> int:
    rng = random.Random(11)
    references = 0
    for n in range(files):
        folder = root / f"packages/pkg{n % 200}/src/mod{n % 17}"
        folder.mkdir(parents=True, exist_ok=True)
        roll = rng.random()
        if roll < 0.01:
            text = REFERENCE.format(n=n, table=TABLES[n % 2])
            references += 2
        elif roll < 0.05:
            text = NEAR_MISS.format(n=n)
        else:
            text = ORDINARY.format(n=n)
        (folder / f"file{n}.ts").write_text(text)
    return references


def timed(command: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    return time.perf_counter() - started, result.stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("rg") is None:
        sys.exit("ripgrep (rg) is not installed: apt-get install -y ripgrep")
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        expected = build(root, args.files)
        rg = ["rg", "-l", "-e", TABLES[0], "-e", TABLES[1], str(root)]
        scan = [sys.executable, "-m", "migverify", "scan", str(root), "--format", "json"]
        scan += [arg for table in TABLES for arg in ("--table", table)]
        timed(rg)  # warm the page cache
        rg_times, scan_times, found = [], [], 0
        for _ in range(args.repeat):
            rg_times.append(timed(rg)[0])
            seconds, output = timed(scan)
            scan_times.append(seconds)
            found = output.count('"operation"')
        rg_s, scan_s = statistics.median(rg_times), statistics.median(scan_times)
        print("| files | references (expected/found) | rg -l (s) | migverify scan (s) | ratio |")
        print("|---|---|---|---|---|")
        print(
            f"| {args.files} | {expected}/{found} | {rg_s:.2f} | {scan_s:.2f} | {scan_s / rg_s:.1f}x |"
        )


if __name__ == "__main__":
    main()
