"""`migverify check` on a project whose legacy schema is a long migration history.

A generated golang-migrate history of 330 files (`.up.sql` + `.down.sql`) in the shapes real
histories accumulate: tables created one by one with foreign keys, columns added in later
migrations, indexes, a CHECK tightened, an enum grown, a trigger function replaced, data
backfills; 40 tables in the end. The spec renames one of them (with its own definition as the
target). Measured as a user runs it — the command, start-up included, on migverify's own
embedded server:

- cold: an empty cache directory (the server is created, the history loaded once, and the
  loaded state kept);
- warm: the same command again, with the history unchanged (the server runs on the kept state);
- and for comparison the cold run with `MIGVERIFY_CACHE=off` (nothing kept).

Targets (issue 20): cold ≤ 10 s, warm ≤ 3 s.

Run: python tests/benchmarks/bench_history.py [--files 330] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MIGVERIFY = Path(sys.executable).parent / "migverify"


def write_history(directory: Path, files: int) -> None:
    """About FILES migration files (up and down) ending in 40 tables."""
    migrations = directory / "migrations"
    migrations.mkdir(parents=True)
    number = 0

    def migration(up: str, down: str = "SELECT 1;") -> None:
        nonlocal number
        number += 1
        (migrations / f"{number:06d}_m{number}.up.sql").write_text(up)
        (migrations / f"{number:06d}_m{number}.down.sql").write_text(down)

    migration(
        "CREATE TYPE state AS ENUM ('new', 'active');\n"
        "CREATE TABLE tenants (id bigserial PRIMARY KEY, name text NOT NULL UNIQUE,\n"
        "  created_at timestamptz NOT NULL DEFAULT now());\n"
        "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS\n"
        "  $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$;"
    )
    table = 0
    while number * 2 < files:
        name = f"t{table}"
        parent = "tenants" if table % 5 == 0 else f"t{table - 1}"
        migration(
            f"CREATE TABLE {name} (id bigserial PRIMARY KEY,\n"
            f"  parent_id bigint NOT NULL REFERENCES {parent} (id) ON DELETE CASCADE,\n"
            "  name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),\n"
            "  status state NOT NULL DEFAULT 'new',\n"
            "  created_at timestamptz NOT NULL DEFAULT now(),\n"
            "  updated_at timestamptz NOT NULL DEFAULT now());\n"
            f"CREATE TRIGGER {name}_touch BEFORE UPDATE ON {name}\n"
            "  FOR EACH ROW EXECUTE FUNCTION touch();",
            f"DROP TABLE {name};",
        )
        for column in range(3):
            migration(
                f"ALTER TABLE {name} ADD COLUMN c{column} integer NOT NULL DEFAULT {column};",
                f"ALTER TABLE {name} DROP COLUMN c{column};",
            )
        migration(f"CREATE INDEX {name}_parent ON {name} (parent_id, created_at);")
        migration(f"UPDATE {name} SET c0 = c1 + c2 WHERE c0 = 0;")
        migration(
            f"ALTER TABLE {name} ADD CONSTRAINT {name}_c2 CHECK (c2 >= 0) NOT VALID;\n"
            f"ALTER TABLE {name} VALIDATE CONSTRAINT {name}_c2;"
        )
        if table % 10 == 9:
            migration(f"ALTER TYPE state ADD VALUE IF NOT EXISTS 's{table}';")
        table += 1
    (directory / "target.sql").write_text(
        "CREATE TABLE things (LIKE t7 INCLUDING ALL);\n"
        "ALTER TABLE things ADD FOREIGN KEY (parent_id) REFERENCES t6 (id) ON DELETE CASCADE;\n"
    )
    (directory / "migverify.toml").write_text(
        '[legacy]\nmigrations = "migrations"\n\n[target]\nsql = ["target.sql"]\n\n'
        '[tables.t7]\ntarget = "things"\n'
    )


def timed(project: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(
        [str(MIGVERIFY), "check", str(project)], capture_output=True, text=True, env=env
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"check failed ({result.returncode}): {result.stdout}{result.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=330)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="build the project here (and keep it)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-history-"))
    project = work / "project"
    if not project.exists():
        write_history(project, args.files)
    files = len(list((project / "migrations").iterdir()))
    # As users run it: with Python's compiled modules (an environment that forbids writing them
    # recompiles migverify at every start, half a second).
    base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    import migverify

    package = Path(migverify.__file__).parent
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], env=base)
    cold, warm, off = [], [], []
    for _ in range(args.repeat):
        cache = Path(tempfile.mkdtemp(prefix="bench-history-cache-"))
        env = {**base, "MIGVERIFY_CACHE_DIR": str(cache)}
        try:
            cold.append(timed(project, env))
            warm.append(timed(project, env))
            warm.append(timed(project, env))
        finally:
            shutil.rmtree(cache, ignore_errors=True)
        off.append(timed(project, {**base, "MIGVERIFY_CACHE": "off"}))
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)

    def row(label: str, values: list[float], target: str) -> str:
        return (
            f"| {label} | {min(values):.2f} / {statistics.median(values):.2f} / "
            f"{max(values):.2f} s | {target} |"
        )

    print(f"history of {files} files (40 tables), one table renamed; {args.repeat} rounds")
    print("| check | min / median / max | target |")
    print("|---|---|---|")
    print(row("cold (empty cache: create, load once, keep)", cold, "≤ 10 s"))
    print(row("warm (history unchanged: the kept state)", warm, "≤ 3 s"))
    print(row("cache off (create and load, keep nothing)", off, "—"))


if __name__ == "__main__":
    main()
