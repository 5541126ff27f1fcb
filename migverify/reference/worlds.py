"""The two worlds the pipeline runs in, each a fresh database on the sandbox's server.

- legacy:   the spec's legacy SQL (fixtures/xbot: legacy.sql + seed.sql) — the tables the
            pipeline was written against.
- migrated: the same, then the spec's target SQL (target.sql: the new tables and the data
            copy) and the compatibility layer: `compat_sql` if given, else the forward.sql that
            `migverify generate` produces for the spec.
"""

from __future__ import annotations

import psycopg

from migverify.sandbox import Sandbox
from migverify.spec import Spec

WORLDS = ("legacy", "migrated")


def build_world(
    box: Sandbox,
    spec: Spec,
    world: str,
    compat_sql: str | None = None,
    compat_name: str = "compat.sql",
) -> psycopg.Connection:
    """A fresh database for WORLD, loaded; an autocommit connection to it."""
    from migverify.sqlload import load_sql, load_sql_files

    db = box.create_database(f"reference_{world}")
    conn = db.connect()
    load_sql_files(conn, spec.legacy_sql)
    if world == "migrated":
        if compat_sql is None:
            from migverify.generate import generate_layer

            compat_sql = generate_layer(spec, box)["forward.sql"]
        load_sql_files(conn, spec.target_sql)
        load_sql(conn, compat_sql, compat_name)
    return conn
