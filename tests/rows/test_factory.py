"""The row factory on real PostgreSQL: rows for schemas without a seed, every shape a real
schema has, and a clear reason where no row can be built."""

from __future__ import annotations

import psycopg
import pytest

from migverify.catalog import load_catalog
from migverify.rows import RowFactory
from migverify.sqlload import load_sql

SHAPES = r"""
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE TYPE mood AS ENUM ('calm', 'busy', 'away');
CREATE DOMAIN us_zip AS text CHECK (VALUE ~ '^\d{5}$');
CREATE DOMAIN positive AS integer CHECK (VALUE > 0);
CREATE SCHEMA billing;

CREATE TABLE orgs (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z][a-z0-9-]{2,30}$'),
  code char(3) NOT NULL UNIQUE CHECK (code ~ '^[A-Z]{3}$'),
  plan text NOT NULL CHECK (plan IN ('free', 'pro', 'team')),
  seats positive NOT NULL,
  zip us_zip
);
CREATE TABLE people (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  org_id uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
  manager_id bigint REFERENCES people (id),
  email text NOT NULL CHECK (email ~* '^[^@\s]+@[^@\s]+\.[a-z]{2,}$'),
  name varchar(12) NOT NULL CHECK (char_length(name) BETWEEN 2 AND 12),
  mood mood NOT NULL,
  tags text[] NOT NULL CHECK (cardinality(tags) > 0),
  prefs jsonb NOT NULL,
  age integer CHECK (age >= 18 AND age < 130),
  display text GENERATED ALWAYS AS (upper(name)) STORED,
  UNIQUE (org_id, email)
);
CREATE TABLE profiles (
  person_id bigint PRIMARY KEY REFERENCES people (id),
  bio text NOT NULL
);
CREATE TABLE memberships (
  org_id uuid NOT NULL,
  person_id bigint NOT NULL REFERENCES people (id),
  role text NOT NULL DEFAULT 'member',
  starts_on date NOT NULL,
  ends_on date NOT NULL,
  CHECK (ends_on > starts_on),
  PRIMARY KEY (org_id, person_id),
  FOREIGN KEY (org_id) REFERENCES orgs (id)
);
CREATE TABLE rooms (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE bookings (
  id serial PRIMARY KEY,
  room_id integer NOT NULL REFERENCES rooms (id),
  during tstzrange NOT NULL,
  EXCLUDE USING gist (room_id WITH =, during WITH &&)
);
CREATE TABLE events (
  id bigserial,
  happened_at timestamptz NOT NULL,
  kind text NOT NULL,
  PRIMARY KEY (id, happened_at)
) PARTITION BY RANGE (happened_at);
CREATE TABLE events_2024 PARTITION OF events
  FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2025-01-01 00:00:00+00');
CREATE TABLE tree (
  id integer PRIMARY KEY,
  parent_id integer NOT NULL REFERENCES tree (id)
);
CREATE TABLE a (id integer PRIMARY KEY, b_id integer);
CREATE TABLE b (id integer PRIMARY KEY, a_id integer NOT NULL REFERENCES a (id));
ALTER TABLE a ADD FOREIGN KEY (b_id) REFERENCES b (id);
CREATE TABLE x (id integer PRIMARY KEY, y_id integer NOT NULL);
CREATE TABLE y (id integer PRIMARY KEY, x_id integer NOT NULL REFERENCES x (id));
ALTER TABLE x ADD FOREIGN KEY (y_id) REFERENCES y (id) DEFERRABLE INITIALLY IMMEDIATE;
CREATE TABLE billing.invoices (
  number numeric(10, 0) PRIMARY KEY CHECK (number > 1000),
  org_id uuid NOT NULL REFERENCES orgs (id),
  total numeric(12, 2) NOT NULL CHECK (total >= 0),
  currency text NOT NULL CHECK (char_length(currency) = 3 AND currency = upper(currency))
);
CREATE TABLE "LineItems" (
  "invoiceNumber" numeric(10, 0) NOT NULL REFERENCES billing.invoices (number),
  "lineNo" smallint NOT NULL CHECK ("lineNo" > 0),
  "qty" integer NOT NULL CHECK ("qty" BETWEEN 1 AND 99),
  PRIMARY KEY ("invoiceNumber", "lineNo")
);
"""

TABLES = [
    "public.orgs",
    "public.people",
    "public.profiles",
    "public.memberships",
    "public.bookings",
    "public.events",
    "public.tree",
    "public.a",
    "public.b",
    "public.x",
    "public.y",
    "billing.invoices",
    'public."LineItems"',
]


def _loaded(sandbox, sql: str) -> psycopg.Connection:
    db = sandbox.create_database("rows")
    conn = db.connect()
    load_sql(conn, sql, "shapes.sql")
    return conn


def test_fill_builds_rows_for_every_shape(sandbox) -> None:
    conn = _loaded(sandbox, SHAPES)
    catalog = load_catalog(conn)
    names = [t.replace('"', "") for t in TABLES]
    with conn.transaction():
        factory = RowFactory(conn, catalog)
        added, failed = factory.fill(names, 3)
    assert failed == {}
    for table in TABLES:
        (count,) = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert count >= 3, table
    # parents came first and were reused: every person belongs to an existing org
    (orphans,) = conn.execute(
        "SELECT count(*) FROM people p WHERE NOT EXISTS (SELECT FROM orgs o WHERE o.id = p.org_id)"
    ).fetchone()
    assert orphans == 0
    assert added["public.orgs"] >= 3
    # the CHECKs were met with real values, not NULLs where NULL is allowed to pass
    (ok,) = conn.execute(
        "SELECT bool_and(code ~ '^[A-Z]{3}$' AND plan IN ('free', 'pro', 'team')) FROM orgs"
    ).fetchone()
    assert ok


def test_fresh_rows_are_replayable_and_rolled_back(sandbox) -> None:
    conn = _loaded(sandbox, SHAPES)
    catalog = load_catalog(conn)
    with conn.transaction():
        factory = RowFactory(conn, catalog)
        factory.fill([t.replace('"', "") for t in TABLES], 2)
    for table in ("public.people", "public.profiles", "public.memberships", "public.bookings"):
        before = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        with conn.transaction():
            rows, reason = RowFactory(conn, load_catalog(conn)).fresh(table, 4)
        assert reason is None and len(rows) == 4, (table, reason)
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == before
        # every column the table lets a client write has a value: nothing left to a default
        writable = {
            c.name
            for c in catalog.relation(table).columns
            if not c.generated and c.identity != "always"
        }
        assert all(set(row.values) >= writable for row in rows)
        with conn.transaction(force_rollback=True):
            for row in rows:
                for _, statement in row.prerequisites:
                    conn.execute(statement)
                conn.execute(row.statement)


def test_a_row_that_cannot_be_built_says_why(sandbox) -> None:
    conn = _loaded(
        sandbox,
        """
        CREATE TABLE never (id int PRIMARY KEY, v int NOT NULL CHECK (v > 10 AND v < 5));
        CREATE TABLE guarded (id int PRIMARY KEY);
        CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
          $$ BEGIN RAISE EXCEPTION 'inserts go through the api'; END $$;
        CREATE TRIGGER refuse BEFORE INSERT ON guarded FOR EACH ROW EXECUTE FUNCTION refuse();
        CREATE TABLE child (id int PRIMARY KEY, never_id int NOT NULL REFERENCES never (id));
        """,
    )
    with conn.transaction():
        factory = RowFactory(conn, load_catalog(conn))
        added, failed = factory.fill(["public.never", "public.guarded", "public.child"], 3)
    assert added == {}
    assert "never_v_check" in failed["public.never"]
    assert "inserts go through the api" in failed["public.guarded"]
    assert failed["public.child"].startswith("no row of public.never for foreign key")


@pytest.mark.parametrize("pattern", [r"^[a-z]{3}-\d{4}$", "^[[:upper:]]{2}[[:digit:]]+$", "^x"])
def test_regex_samples_match_in_postgresql(sandbox, pattern: str) -> None:
    from migverify.rows.checks import regex_samples

    samples = regex_samples(pattern)
    assert samples
    conn = sandbox.create_database("regex").connect()
    query = "SELECT bool_and(s ~ %s) FROM unnest(%s::text[]) s"
    (ok,) = conn.execute(query, (pattern, samples)).fetchone()
    assert ok
