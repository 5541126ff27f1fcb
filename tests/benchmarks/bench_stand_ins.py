"""pgcrypto and uuid-ossp on a server without them: what migverify's stand-ins cost, against the
real extensions on a server that has them.

Run: python tests/benchmarks/bench_stand_ins.py [--pg-bin DIR] [--calls 500]
Starts the embedded PostgreSQL 18 (no pgcrypto, no uuid-ossp: the stand-ins) and, with --pg-bin,
another server (Debian's 15 has both: the real ones). For each: the time to prepare and load a
plain schema that creates both extensions and 10 rows whose defaults call them (median of 5 fresh
databases), and the time per call of
uuid_generate_v4(), crypt(pw, gen_salt('bf')), crypt(pw, gen_salt('md5')) and
digest(text, 'sha256') (median of 5 rounds of --calls calls in one statement).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from migverify.sandbox import Sandbox, SandboxConfig
from migverify.supabase import SupabasePlan

SCHEMA = """
create extension if not exists pgcrypto;
create extension if not exists "uuid-ossp";
create table accounts (
  id uuid primary key default uuid_generate_v4(),
  email text not null unique,
  password_hash text not null default crypt('changeme', gen_salt('bf'))
);
insert into accounts (email) select 'user' || g || '@example.com' from generate_series(1, 10) g;
"""
CALLS = {
    "uuid_generate_v4()": "uuid_generate_v4()",
    "crypt(pw, gen_salt('bf'))": "crypt('password' || g, gen_salt('bf'))",
    "crypt(pw, gen_salt('md5'))": "crypt('password' || g, gen_salt('md5'))",
    "digest(text, 'sha256')": "digest('text' || g, 'sha256')",
}


def measure(config: SandboxConfig, calls: int, script: Path) -> dict[str, object]:
    with Sandbox(config) as box:
        loads = []
        for _ in range(5):
            db = box.create_database("bench_stand_ins")
            with db.connect() as conn:
                started = time.perf_counter()
                SupabasePlan((script,)).prepare(conn).load([script])
                loads.append(time.perf_counter() - started)
        with db.connect() as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
            real = conn.execute("SELECT count(*) FROM pg_extension WHERE extname <> 'plpgsql'")
            per_call = {}
            for name, expression in CALLS.items():
                rounds = []
                for _ in range(5):
                    started = time.perf_counter()
                    conn.execute(
                        f"SELECT count({expression}) FROM generate_series(1, %s) g", (calls,)
                    )
                    rounds.append(time.perf_counter() - started)
                per_call[name] = statistics.median(rounds) / calls * 1e6
            kind = "real extensions" if real.fetchone()[0] == 2 else "stand-ins"
    return {"server": f"PostgreSQL {version.split()[0]} ({kind})", "load": loads, **per_call}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pg-bin", type=Path)
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args()
    configs = [SandboxConfig()] + ([SandboxConfig(pg_bin=args.pg_bin)] if args.pg_bin else [])
    with tempfile.TemporaryDirectory() as directory:
        script = Path(directory) / "legacy.sql"
        script.write_text(SCHEMA)
        results = [measure(config, args.calls, script) for config in configs]
    print("| server | load the schema (ms, median of 5) | " + " | ".join(CALLS) + " |")
    print("|---|---|" + "---|" * len(CALLS))
    for result in results:
        load = statistics.median(result["load"]) * 1000  # type: ignore[arg-type]
        calls = " | ".join(f"{result[name]:.1f} µs" for name in CALLS)
        print(f"| {result['server']} | {load:.0f} | {calls} |")


if __name__ == "__main__":
    main()
