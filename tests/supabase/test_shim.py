"""The Supabase shim: a plain PostgreSQL made to look like a Supabase project's database, only
when the SQL needs it, without clashing with SQL (a pg_dump) that brings auth or storage itself."""

from __future__ import annotations

import textwrap
from pathlib import Path

import psycopg
import pytest

from migverify.supabase import SupabaseOptions, SupabasePlan
from migverify.supabase.load import shim_sql

MIGRATION = """
create extension if not exists pgcrypto with schema extensions;
create table public.profiles (
  id uuid primary key references auth.users on delete cascade,
  username text
);
alter table public.profiles enable row level security;
create policy "own profile" on public.profiles for all to authenticated
  using ((select auth.uid()) = id);
create function public.handle_new_user() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  insert into public.profiles (id, username) values (new.id, new.raw_user_meta_data ->> 'username');
  return new;
end $$;
create trigger on_auth_user_created after insert on auth.users
  for each row execute procedure public.handle_new_user();
insert into storage.buckets (id, name, public) values ('avatars', 'avatars', true);
create policy "avatar owner" on storage.objects for insert to authenticated
  with check (bucket_id = 'avatars' and (storage.foldername(name))[1] = (select auth.uid()::text));
alter publication supabase_realtime add table public.profiles;
"""
# As Supabase seed files insert users: every column GoTrue fills, crypt() for the password.
SEED = """
INSERT INTO auth.users (instance_id, id, aud, role, email, encrypted_password,
  email_confirmed_at, recovery_sent_at, last_sign_in_at, raw_app_meta_data, raw_user_meta_data,
  created_at, updated_at, confirmation_token, email_change, email_change_token_new, recovery_token)
VALUES
 ('00000000-0000-0000-0000-000000000000', uuid_generate_v4(), 'authenticated', 'authenticated',
  'ada@example.com', crypt('password123', gen_salt('bf')), now(), now(), now(),
  '{"provider":"email","providers":["email"]}', '{"username":"ada"}', now(), now(), '', '', '', ''),
 ('00000000-0000-0000-0000-000000000000', extensions.uuid_generate_v4(), 'authenticated',
  'authenticated', 'bob@example.com', extensions.crypt('password123', extensions.gen_salt('bf')),
  now(), now(), now(), '{"provider":"email","providers":["email"]}', '{"username":"bob"}', now(),
  now(), '', '', '', '');
INSERT INTO auth.identities (id, user_id, provider_id, identity_data, provider, last_sign_in_at,
  created_at, updated_at)
SELECT gen_random_uuid(), id, id, jsonb_build_object('sub', id, 'email', email), 'email', now(),
  now(), now()
FROM auth.users;
"""


def _files(tmp_path: Path, **scripts: str) -> tuple[Path, ...]:
    paths = []
    for name, text in scripts.items():
        path = tmp_path / f"{name}.sql"
        path.write_text(textwrap.dedent(text))
        paths.append(path)
    return tuple(paths)


def _load(sandbox, paths, options=None):
    db = sandbox.create_database("shim")
    conn = db.connect()
    plan = SupabasePlan(paths, options or SupabaseOptions())
    loader = plan.prepare(conn)
    loader.load(paths)
    return db, conn, plan, loader


def test_a_supabase_migration_and_seed_load_on_plain_postgresql(sandbox, tmp_path):
    paths = _files(tmp_path, migration=MIGRATION, seed=SEED)
    db, conn, plan, loader = _load(sandbox, paths)
    with conn:
        assert plan.needed
        assert {"auth.users", "role authenticated", "storage.foldername()"} <= set(plan.reasons)
        users = conn.execute(
            "SELECT email, crypt('password123', encrypted_password) = encrypted_password, "
            "crypt('wrong', encrypted_password) = encrypted_password, aud, is_anonymous, "
            "confirmed_at IS NOT NULL FROM auth.users ORDER BY email"
        ).fetchall()
        assert users == [
            ("ada@example.com", True, False, "authenticated", False, True),
            ("bob@example.com", True, False, "authenticated", False, True),
        ]
        # The trigger on auth.users made a profile per user; identities have their email.
        assert conn.execute("SELECT count(*) FROM public.profiles").fetchone()[0] == 2
        assert conn.execute("SELECT count(email) FROM auth.identities").fetchone()[0] == 2
        assert loader.shim_relations == [
            "vault.secrets",
            "auth.users",
            "auth.identities",
            "auth.audit_log_entries",
            "auth.sessions",
            "auth.refresh_tokens",
            "storage.buckets",
            "storage.objects",
        ]
        assert conn.execute(
            "SELECT pubname FROM pg_publication_tables WHERE tablename = 'profiles'"
        ).fetchone() == ("supabase_realtime",)


def test_auth_functions_read_the_claims_as_postgrest_sets_them(sandbox, tmp_path):
    paths = _files(tmp_path, migration=MIGRATION, seed=SEED)
    db, conn, plan, loader = _load(sandbox, paths)
    with conn:
        ada = conn.execute("SELECT id FROM auth.users WHERE email = 'ada@example.com'").fetchone()[
            0
        ]
        conn.execute("BEGIN")
        conn.execute(
            "SELECT set_config('role', 'authenticated', true), "
            "set_config('request.jwt.claims', %s, true)",
            (f'{{"sub": "{ada}", "role": "authenticated", "email": "ada@example.com"}}',),
        )
        row = conn.execute(
            "SELECT auth.uid(), auth.role(), auth.email(), auth.jwt() ->> 'sub', "
            "(SELECT count(*) FROM public.profiles)"
        ).fetchone()
        assert row == (ada, "authenticated", "ada@example.com", str(ada), 1)  # RLS: own row
        conn.execute("ROLLBACK")
        conn.execute("BEGIN")
        conn.execute("SELECT set_config('request.jwt.claim.sub', %s, true)", (str(ada),))
        assert conn.execute("SELECT auth.uid()").fetchone()[0] == ada  # the older form
        conn.execute("ROLLBACK")


def test_storage_helpers_and_policies_work_per_user(sandbox, tmp_path):
    paths = _files(tmp_path, migration=MIGRATION, seed=SEED)
    db, conn, plan, loader = _load(sandbox, paths)
    with conn:
        assert conn.execute(
            "SELECT storage.foldername('a/b/c.png'), storage.filename('a/b/c.png'), "
            "storage.extension('a/b/c.png')"
        ).fetchone() == (["a", "b"], "c.png", "png")
        ada = conn.execute("SELECT id FROM auth.users WHERE email = 'ada@example.com'").fetchone()[
            0
        ]
        conn.execute("BEGIN")
        conn.execute(
            "SELECT set_config('role', 'authenticated', true), "
            "set_config('request.jwt.claims', %s, true)",
            (f'{{"sub": "{ada}", "role": "authenticated"}}',),
        )
        conn.execute(
            "INSERT INTO storage.objects (bucket_id, name) VALUES ('avatars', %s)",
            (f"{ada}/me.png",),
        )
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO storage.objects (bucket_id, name) VALUES ('avatars', 'x/y.png')"
            )
        conn.execute("ROLLBACK")


def test_the_shim_is_idempotent_and_deterministic(sandbox, tmp_path):
    assert shim_sql() == shim_sql()
    paths = _files(tmp_path, migration=MIGRATION)
    db, conn, plan, loader = _load(sandbox, paths)
    with conn:
        before = conn.execute("SELECT count(*) FROM pg_class").fetchone()[0]
        plan.prepare(conn)  # once more on the same database: nothing new, no error
        assert conn.execute("SELECT count(*) FROM pg_class").fetchone()[0] == before


def test_a_clone_keeps_the_search_path_with_extensions(sandbox, tmp_path):
    paths = _files(tmp_path, migration=MIGRATION)
    db, conn, plan, loader = _load(sandbox, paths)
    conn.close()
    clone = sandbox.clone(db)
    with clone.connect() as copy:
        assert copy.execute("SHOW search_path").fetchone()[0] == '"$user", public, extensions'
        assert copy.execute("SELECT uuid_generate_v4() IS NOT NULL").fetchone()[0]


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TABLE items (id int PRIMARY KEY);",
        # Roles created by the SQL itself (as fixtures/xbot does) do not call for the shim.
        """DO $$ BEGIN
             IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'anon') THEN
               CREATE ROLE anon NOLOGIN;
             END IF;
           END $$;
           CREATE TABLE items (id int PRIMARY KEY);
           GRANT SELECT ON items TO anon;""",
        # A hand-made auth schema (tests/verify/test_users.py) brings what it uses.
        """CREATE SCHEMA auth;
           CREATE TABLE auth.users (id uuid PRIMARY KEY);
           CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql AS 'SELECT NULL::uuid';
           CREATE TABLE notes (user_id uuid REFERENCES auth.users DEFAULT auth.uid());""",
        # Text that only looks like Supabase: a string and a comment.
        "-- auth.users\nCREATE TABLE t (note text DEFAULT 'auth.uid() storage.objects');",
    ],
)
def test_sql_without_supabase_needs_no_shim(tmp_path, sql):
    plan = SupabasePlan(_files(tmp_path, legacy=sql))
    assert not plan.needed, plan.reasons


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("GRANT SELECT ON TABLE t TO authenticated;", "role authenticated"),
        ("CREATE TABLE t (owner uuid REFERENCES auth.users (id));", "auth.users"),
        ("CREATE TABLE t (e extensions.vector(3));", "extensions.vector"),
        (
            "CREATE FUNCTION mine() RETURNS SETOF t LANGUAGE plpgsql AS $$ BEGIN "
            "RETURN QUERY SELECT * FROM t WHERE owner = auth.uid(); END $$;",
            "auth.uid()",
        ),
        ("ALTER TABLE t OWNER TO supabase_admin;", "role supabase_admin"),
    ],
)
def test_sql_that_uses_supabase_objects_needs_the_shim(tmp_path, sql, reason):
    plan = SupabasePlan(_files(tmp_path, legacy=sql))
    assert plan.needed and reason in plan.reasons, plan.reasons


# A pg_dump of a Supabase database, in short (\restrict, COPY data): it creates auth and its
# own auth.users.
DUMP = """\\restrict k3y
SET check_function_bodies = false;
SELECT pg_catalog.set_config('search_path', '', false);
CREATE SCHEMA auth;
CREATE SCHEMA extensions;
CREATE TABLE auth.users (
    instance_id uuid,
    id uuid NOT NULL,
    email character varying(255),
    raw_user_meta_data jsonb
);
ALTER TABLE ONLY auth.users ADD CONSTRAINT users_pkey PRIMARY KEY (id);
COPY auth.users (instance_id, id, email, raw_user_meta_data) FROM stdin;
00000000-0000-0000-0000-000000000000\ta1c5e8d2-3b4f-4c6a-9d7e-0f1a2b3c4d5e\tada@example.com\t{}
\\.
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
  select nullif(current_setting('request.jwt.claim.sub', true), '')::uuid
$$;
CREATE TABLE public.notes (
    id bigint NOT NULL,
    user_id uuid NOT NULL
);
ALTER TABLE ONLY public.notes ADD CONSTRAINT notes_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id);
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON TABLES TO anon;
GRANT ALL ON TABLE public.notes TO authenticated;
INSERT INTO storage.buckets (id, name) VALUES ('files', 'files');
\\unrestrict k3y
"""


def test_a_dump_that_creates_auth_itself_loads_over_the_shim(sandbox, tmp_path):
    paths = _files(tmp_path, dump=DUMP)
    db, conn, plan, loader = _load(sandbox, paths, SupabaseOptions(mode="on"))
    with conn:
        # The dump's own auth.users (4 columns), the shim's storage; no default privileges of
        # the shim (the dump has its own).
        columns = conn.execute(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_schema = 'auth' AND table_name = 'users'"
        ).fetchone()[0]
        assert columns == 4
        assert conn.execute("SELECT email FROM auth.users").fetchall() == [("ada@example.com",)]
        assert loader.shim_relations == ["vault.secrets", "storage.buckets", "storage.objects"]
        assert conn.execute("SELECT count(*) FROM storage.buckets").fetchone()[0] == 1
        assert (
            conn.execute(
                "SELECT count(*) FROM pg_default_acl a JOIN pg_namespace n ON n.oid = a.defaclnamespace "
                "WHERE n.nspname = 'public'"
            ).fetchone()[0]
            == 1
        )  # the dump's one only


def test_the_shims_roles_are_dropped_again_on_a_dsn_server(pg, tmp_path):
    from click.testing import CliRunner

    from migverify.cli import cli

    path = tmp_path / "plain.sql"
    path.write_text("create table public.t (id int primary key);\n")
    roles = "SELECT rolname FROM pg_roles ORDER BY 1"
    with psycopg.connect(pg.dsn, autocommit=True) as conn:
        before = [row[0] for row in conn.execute(roles)]
    result = CliRunner().invoke(cli, ["inspect", str(path), "--supabase", "--dsn", pg.dsn])
    assert result.exit_code == 0, result.output
    # Nothing in the SQL calls for the shim: the notice says who asked for it.
    assert (
        "migverify: notice: Supabase shim installed (roles, schemas auth, storage, extensions, "
        "vault): asked for with --supabase\n"
    ) in result.stderr
    assert "kept role" not in result.stderr
    with psycopg.connect(pg.dsn, autocommit=True) as conn:
        assert [row[0] for row in conn.execute(roles)] == before


def test_the_spec_asking_for_the_shim_is_named(tmp_path):
    from migverify.spec import load_spec

    (tmp_path / "supabase" / "migrations").mkdir(parents=True)
    (tmp_path / "migverify.toml").write_text(
        '[legacy]\nsupabase = "supabase"\n[tables.notes]\ntarget = "notes_v2"\n'
    )
    spec = load_spec(tmp_path / "migverify.toml")
    assert spec.supabase_options().asked_by == "[legacy] supabase"
    assert spec.supabase_options(force=True).asked_by == "--supabase"


# --- what migrations do to the shim's schemas ---------------------------------------------------


@pytest.mark.parametrize(
    "ensure",
    [
        "create schema if not exists extensions;",
        'create extension if not exists "uuid-ossp" with schema extensions;',
        "create schema if not exists extensions;\n"
        'create extension if not exists "uuid-ossp" with schema extensions;\n'
        "create extension if not exists pgcrypto with schema extensions;",
        "create schema if not exists vault;\n"
        "create extension if not exists supabase_vault with schema vault;",
    ],
)
def test_a_migration_making_sure_of_a_schema_keeps_the_shims_contents(sandbox, tmp_path, ensure):
    migration = f"""
    {ensure}
    create table public.profiles (
      id uuid primary key default uuid_generate_v4(),
      user_id uuid references auth.users (id),
      pin text default extensions.crypt('0000', extensions.gen_salt('bf'))
    );
    insert into public.profiles default values;
    select vault.create_secret('s3cret', 'api_key');
    """
    db, conn, plan, loader = _load(sandbox, _files(tmp_path, migration=migration))
    with conn:
        where = conn.execute(
            "SELECT p.proname, n.nspname FROM pg_proc p JOIN pg_namespace n "
            "ON n.oid = p.pronamespace WHERE p.proname IN ('uuid_generate_v4', 'crypt', "
            "'create_secret') ORDER BY 1"
        ).fetchall()
        assert where == [
            ("create_secret", "vault"),
            ("crypt", "extensions"),
            ("uuid_generate_v4", "extensions"),
        ]
        assert conn.execute("SELECT count(*) FROM public.profiles").fetchone()[0] == 1
        assert conn.execute("SELECT name FROM vault.secrets").fetchall() == [("api_key",)]


# --- auth tables seeds write --------------------------------------------------------------------

# supabase/auth migrations up to 20250731150234, applied in order on PostgreSQL 15: the columns
# of each table as information_schema lists them (name, type, nullable, default).
GOTRUE_COLUMNS = {
    "identities": [
        ("provider_id", "text", "NO", None),
        ("user_id", "uuid", "NO", None),
        ("identity_data", "jsonb", "NO", None),
        ("provider", "text", "NO", None),
        ("last_sign_in_at", "timestamp with time zone", "YES", None),
        ("created_at", "timestamp with time zone", "YES", None),
        ("updated_at", "timestamp with time zone", "YES", None),
        ("email", "text", "YES", None),
        ("id", "uuid", "NO", "gen_random_uuid()"),
    ],
    "audit_log_entries": [
        ("instance_id", "uuid", "YES", None),
        ("id", "uuid", "NO", None),
        ("payload", "json", "YES", None),
        ("created_at", "timestamp with time zone", "YES", None),
        ("ip_address", "character varying", "NO", "''::character varying"),
    ],
    "sessions": [
        ("id", "uuid", "NO", None),
        ("user_id", "uuid", "NO", None),
        ("created_at", "timestamp with time zone", "YES", None),
        ("updated_at", "timestamp with time zone", "YES", None),
        ("factor_id", "uuid", "YES", None),
        ("aal", "USER-DEFINED", "YES", None),
        ("not_after", "timestamp with time zone", "YES", None),
        ("refreshed_at", "timestamp without time zone", "YES", None),
        ("user_agent", "text", "YES", None),
        ("ip", "inet", "YES", None),
        ("tag", "text", "YES", None),
    ],
    "refresh_tokens": [
        ("instance_id", "uuid", "YES", None),
        ("id", "bigint", "NO", "nextval('auth.refresh_tokens_id_seq'::regclass)"),
        ("token", "character varying", "YES", None),
        ("user_id", "character varying", "YES", None),
        ("revoked", "boolean", "YES", None),
        ("created_at", "timestamp with time zone", "YES", None),
        ("updated_at", "timestamp with time zone", "YES", None),
        ("parent", "character varying", "YES", None),
        ("session_id", "uuid", "YES", None),
    ],
}

# What seed files write after the users (as GoTrue records a sign-in).
SIGN_IN_SEED = """
INSERT INTO auth.sessions (id, user_id, created_at, updated_at, aal)
SELECT gen_random_uuid(), id, now(), now(), 'aal1' FROM auth.users;
INSERT INTO auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at,
  session_id)
SELECT u.instance_id, md5(s.id::text), u.id::text, false, now(), now(), s.id
FROM auth.users u JOIN auth.sessions s ON s.user_id = u.id;
INSERT INTO auth.audit_log_entries (instance_id, id, payload, created_at, ip_address)
SELECT instance_id, gen_random_uuid(),
  json_build_object('action', 'login', 'actor_id', id, 'actor_username', email), now(), '127.0.0.1'
FROM auth.users;
"""


def test_the_auth_tables_have_gotrues_columns_and_take_seeds(sandbox, tmp_path):
    paths = _files(tmp_path, migration=MIGRATION, seed=SEED, sign_in=SIGN_IN_SEED)
    db, conn, plan, loader = _load(sandbox, paths)
    with conn:
        for table, columns in GOTRUE_COLUMNS.items():
            rows = conn.execute(
                "SELECT column_name, data_type, is_nullable, column_default "
                "FROM information_schema.columns WHERE table_schema = 'auth' "
                "AND table_name = %s ORDER BY ordinal_position",
                (table,),
            ).fetchall()
            assert rows == columns, table
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM auth.sessions), (SELECT count(*) FROM "
            "auth.refresh_tokens), (SELECT count(*) FROM auth.audit_log_entries)"
        ).fetchone()
        assert counts == (2, 2, 2)
        # Deleting a user takes its sessions and their refresh tokens with it.
        conn.execute("DELETE FROM auth.users WHERE email = 'ada@example.com'")
        assert conn.execute("SELECT count(*) FROM auth.refresh_tokens").fetchone()[0] == 1


# --- vault ------------------------------------------------------------------------------------


def test_the_vault_stand_in_has_supabases_signatures_and_keeps_secrets(sandbox, tmp_path):
    seed = """
    select vault.create_secret('sk_test_1', 'stripe_key', 'Stripe test key');
    select vault.create_secret('only the secret');
    """
    db, conn, plan, loader = _load(sandbox, _files(tmp_path, seed=seed))
    with conn:
        assert plan.needed and "vault.create_secret()" in plan.reasons
        signatures = conn.execute(
            "SELECT p.proname || '(' || pg_get_function_arguments(p.oid) || ') ' || "
            "pg_get_function_result(p.oid) FROM pg_proc p JOIN pg_namespace n "
            "ON n.oid = p.pronamespace WHERE n.nspname = 'vault' AND p.proname NOT LIKE '\\_%' "
            "ORDER BY 1"
        ).fetchall()
        assert signatures == [
            (
                "create_secret(new_secret text, new_name text DEFAULT NULL::text, "
                "new_description text DEFAULT ''::text, new_key_id uuid DEFAULT NULL::uuid) uuid",
            ),
            (
                "update_secret(secret_id uuid, new_secret text DEFAULT NULL::text, "
                "new_name text DEFAULT NULL::text, new_description text DEFAULT NULL::text, "
                "new_key_id uuid DEFAULT NULL::uuid) void",
            ),
        ]
        key = conn.execute("SELECT id FROM vault.secrets WHERE name = 'stripe_key'").fetchone()[0]
        conn.execute("SELECT vault.update_secret(%s, 'sk_test_2')", (key,))
        rows = conn.execute(
            "SELECT name, description, decrypted_secret FROM vault.decrypted_secrets ORDER BY 1"
        ).fetchall()
        assert rows == [
            ("stripe_key", "Stripe test key", "sk_test_2"),
            (None, "", "only the secret"),
        ]
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("SELECT vault.create_secret('again', 'stripe_key')")
        assert "vault.secrets" in loader.shim_relations  # not one of the project's tables
