"""Scan speed versus ripgrep on two generated monorepos of 100,000 TypeScript files each.

- small: files of 200–400 bytes (the first benchmark tree).
- ordinary: files of about 4 KB (components, services, types; 428 MB in all), the size of
  ordinary sources, plus a node_modules/ folder both tools leave out (.gitignore'd).

In both, 1% of the files reference the legacy tables (supabase-js chains, SQL strings), 4% hold
near-miss names (posted_decisions_archive, refresh_real_tweet_metrics()), the rest is ordinary
TypeScript (some with Array.from(...), which the dynamic-reference prefilter also lets through).

Run: python tests/benchmarks/bench_scan.py [--files 100000] [--repeat 3] [--trees small,ordinary]
[--keep DIR]. Needs ripgrep (`apt-get install -y ripgrep`). Both tools run on the same warm tree
(the page cache), back to back in each round (so machine load affects both); wall time includes
start-up (each is run as a command), and so does the CPU time (user + system of the command and
every process it started), which depends less on what else the machine is doing. --keep DIR
builds the trees in DIR once and measures the kept ones on later runs.

The reference is `rg -l -e T1 -e T2` as users type it (`rg -l -w` is shown too: the files naming
a table as a word, the least a scan must find; migverify also parses those files and resolves
what they do). The scan is timed twice a round: its first run, with an empty cache directory
(MIGVERIFY_CACHE_DIR), and a repeated run on the same tree, with the cache its previous run left
(migverify/scan/cache.py); both must print the same references.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
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
# Pieces of ordinary ~4 KB sources: a component, a service, types, helpers.
HEADER = """import {{ useCallback, useEffect, useMemo, useState }} from 'react';
import type {{ {Name}Props, {Name}State }} from './types';
import {{ formatDate, logger }} from '../../lib/util';
import {{ api }} from '../../lib/api';
"""
CHUNKS = (
    """
export interface {Name}Item{k} {{
  id: string;
  title: string;
  createdAt: Date;
  tags: string[];
  owner: {{ id: string; name: string; email?: string }};
}}
""",
    """
export function use{Name}{k}(initial: {Name}State) {{
  const [state, setState] = useState(initial);
  const [loading, setLoading] = useState(false);
  useEffect(() => {{
    let cancelled = false;
    setLoading(true);
    api.get(`/v1/{lower}/${{initial.id}}/items?page={k}`).then((response) => {{
      if (!cancelled) {{
        setState((previous) => ({{ ...previous, items: response.data.items }}));
        setLoading(false);
      }}
    }});
    return () => {{
      cancelled = true;
    }};
  }}, [initial.id]);
  return {{ state, loading }};
}}
""",
    """
export class {Name}Store{k} {{
  private readonly cache = new Map<string, {Name}State>();

  constructor(private readonly ttl: number = 60_000) {{}}

  get(id: string): {Name}State | undefined {{
    const entry = this.cache.get(id);
    if (entry && Date.now() - Number(entry.id) < this.ttl) {{
      return entry;
    }}
    this.cache.delete(id);
    return undefined;
  }}

  set(id: string, state: {Name}State): void {{
    this.cache.set(id, {{ ...state, id: String(Date.now()) }});
  }}
}}
""",
    """
export async function fetch{Name}Page{k}(page: number, size = 20): Promise<{Name}State> {{
  const started = Date.now();
  try {{
    const response = await api.get('/v1/{lower}', {{ params: {{ page, size, sort: 'created' }} }});
    const items = Array.from(response.data.items as unknown[]).filter(Boolean);
    logger.debug('{lower} page %d in %d ms', page, Date.now() - started);
    return {{ id: String(page), items, total: response.data.total }} as {Name}State;
  }} catch (error) {{
    logger.error('could not load {lower} page', {{ page, error }});
    throw error;
  }}
}}
""",
    """
export const {upper}_DEFAULTS_{k} = {{
  pageSize: 20,
  sort: 'created',
  direction: 'desc',
  filters: {{ archived: false, mine: true, shared: false }},
  columns: ['title', 'owner', 'createdAt', 'tags'],
}} as const;

export function merge{Name}Options{k}(options: Partial<typeof {upper}_DEFAULTS_{k}>) {{
  return {{ ...{upper}_DEFAULTS_{k}, ...options, filters: {{ ...{upper}_DEFAULTS_{k}.filters }} }};
}}
""",
)
WORDS = ("order", "invoice", "profile", "widget", "report", "message", "ticket", "account",
         "project", "session", "payment", "comment", "setting", "upload", "channel")  # fmt: skip


def ordinary_file(n: int, rng: random.Random, target: int = 3900) -> str:
    word = WORDS[n % len(WORDS)]
    names = {"Name": f"{word.title()}{n}", "lower": f"{word}s", "upper": word.upper()}
    parts, size, k = [HEADER.format(**names)], 0, 0
    while size < target:
        chunk = CHUNKS[rng.randrange(len(CHUNKS))].format(k=k, **names)
        parts.append(chunk)
        size += len(chunk)
        k += 1
    return "".join(parts)


def build(root: Path, files: int, kind: str) -> int:
    """A tree of FILES TypeScript files; returns the number of references planted."""
    rng = random.Random(11)
    references = 0
    (root / ".git").mkdir()  # ripgrep applies .gitignore only in a repository
    (root / ".gitignore").write_text("node_modules/\ndist/\n")
    for n in range(files):
        folder = root / f"packages/pkg{n % 200}/src/mod{n % 17}"
        folder.mkdir(parents=True, exist_ok=True)
        roll = rng.random()
        body = ordinary_file(n, rng) if kind == "ordinary" else ORDINARY.format(n=n)
        if roll < 0.01:
            # the reference sits inside an ordinary file
            text = (
                body + REFERENCE.format(n=n, table=TABLES[n % 2])
                if kind == "ordinary"
                else (REFERENCE.format(n=n, table=TABLES[n % 2]))
            )
            references += 2
        elif roll < 0.05:
            text = body + NEAR_MISS.format(n=n) if kind == "ordinary" else NEAR_MISS.format(n=n)
        else:
            text = body
        (folder / f"file{n}.ts").write_text(text)
    if kind == "ordinary":  # vendored code both tools leave out
        vendored = root / "node_modules/some-lib/dist"
        vendored.mkdir(parents=True)
        for n in range(2000):
            (vendored / f"chunk{n}.js").write_text(
                REFERENCE.format(n=n, table=TABLES[0]) + ordinary_file(n, rng)
            )
    return references


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system of the whole process tree) and output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if result.returncode not in (0, 1):  # rg: 1 is "nothing found"
        sys.exit(f"{command[0]} failed ({result.returncode}): {result.stderr.strip()[:500]}")
    return wall, cpu, result.stdout


def measure(root: Path, expected: int, repeat: int) -> dict:
    """rg -l as users type it, rg -l -w, and the scan: its first run (an empty cache
    directory each round) and a repeated one (the cache its previous run left)."""
    plain = ["rg", "-l", *[arg for table in TABLES for arg in ("-e", table)], str(root)]
    words = ["rg", "-l", "-w", *[arg for table in TABLES for arg in ("-e", table)], str(root)]
    scan = [sys.executable, "-m", "migverify", "scan", str(root), "--format", "json"]
    scan += [arg for table in TABLES for arg in ("--table", table)]
    times: dict[str, list[float]] = {name: [] for name in ("rg", "rg_w", "first", "again")}
    cpus: dict[str, list[float]] = {name: [] for name in times}
    outputs: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as kept:
        again = {**os.environ, "MIGVERIFY_CACHE_DIR": kept}
        timed(plain)  # warm the page cache
        timed(scan, again)  # and the scan's own cache
        for _ in range(repeat):  # back to back, so that load on the machine affects all
            with tempfile.TemporaryDirectory() as empty:
                first = {**os.environ, "MIGVERIFY_CACHE_DIR": empty}
                for name, command, env in (
                    ("rg", plain, None),
                    ("first", scan, first),
                    ("again", scan, again),
                    ("rg_w", words, None),
                ):
                    seconds, cpu, output = timed(command, env)
                    times[name].append(seconds)
                    cpus[name].append(cpu)
                    outputs[name] = output
    if outputs["first"] != outputs["again"]:
        sys.exit("the repeated scan's output differs from the first run's")
    size = sum(p.stat().st_size for p in root.rglob("*.ts"))
    return {
        "files": sum(1 for _ in root.rglob("*.ts")),
        "megabytes": size / 1e6,
        "expected": expected,
        "found": outputs["first"].count('"operation"'),
        **{name: statistics.median(values) for name, values in times.items()},
        **{f"{name}_cpu": statistics.median(values) for name, values in cpus.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--trees", default="small,ordinary")
    parser.add_argument("--keep", type=Path, help="build the trees here once and reuse them")
    args = parser.parse_args()
    if shutil.which("rg") is None:
        sys.exit("ripgrep (rg) is not installed: apt-get install -y ripgrep")
    # The byte code an install compiles (pip does): without it (an edited source tree run with
    # PYTHONDONTWRITEBYTECODE) every run would compile the scanner's modules again.
    import migverify

    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(Path(migverify.__file__).parent)],
        check=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    )
    rows = []
    for kind in args.trees.split(","):
        if args.keep is not None:
            rows.append((kind, measure_kept(args.keep / f"{kind}-{args.files}", args, kind)))
            continue
        with tempfile.TemporaryDirectory() as directory:
            root = Path(directory)
            expected = build(root, args.files, kind)
            rows.append((kind, measure(root, expected, args.repeat)))
    print(
        "| tree | files | MB | references (expected/found) | rg -l (s) | scan, first run (s) "
        "| ratio | scan, repeated (s) | ratio | rg -l -w (s) | CPU (s): rg -l / first / repeated |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for kind, row in rows:
        print(
            f"| {kind} | {row['files']} | {row['megabytes']:.0f} | {row['expected']}/{row['found']} "
            f"| {row['rg']:.2f} | {row['first']:.2f} | {row['first'] / row['rg']:.2f}x "
            f"| {row['again']:.2f} | {row['again'] / row['rg']:.2f}x | {row['rg_w']:.2f} "
            f"| {row['rg_cpu']:.2f} / {row['first_cpu']:.2f} / {row['again_cpu']:.2f} |"
        )


def measure_kept(root: Path, args: argparse.Namespace, kind: str) -> dict:
    """Measure the tree kept at ROOT, built there first if it is not complete."""
    marker = root / ".bench.json"
    if not marker.exists():
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        expected = build(root, args.files, kind)
        marker.write_text(json.dumps({"expected": expected}))
    return measure(root, json.loads(marker.read_text())["expected"], args.repeat)


if __name__ == "__main__":
    main()
