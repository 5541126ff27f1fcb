"""Supabase projects as they are: a Supabase-compatible scratch database (the shim) and extensions
the server lacks. Supabase CLI directories as input are read by `migverify.history.supabase`.

**The shim** (`templates/supabase/shim.sql.j2`) gives a plain PostgreSQL what every Supabase
project's database has before its own migrations run, as far as app schemas, policies, seeds and
app code use it. It is a shim, not Supabase (no GoTrue, storage API or PostgREST), and follows
Supabase's own definitions as of August 2025:

- roles `anon`, `authenticated`, `service_role` (BYPASSRLS when migverify connects as a
  superuser), `authenticator`, `supabase_admin`, `supabase_auth_admin`,
  `supabase_storage_admin`, `dashboard_user`, `postgres`, all NOLOGIN and created only when
  missing (roles are cluster-wide; tagged like sqlload's, so a `--dsn` server drops them
  again at the end); the API roles' usage of `public` and the default privileges
  that grant every new table, function and sequence in `public` to them; schema `extensions` with
  `uuid-ossp` and `pgcrypto`, on the database's search_path; schema `vault` with
  `supabase_vault` (migrations/schema.sql); the empty publication `supabase_realtime` —
  supabase/postgres `migrations/db/init-scripts/00000000000000-initial-schema.sql`;
- schema `auth`: `auth.users`, `auth.identities`, `auth.audit_log_entries`, `auth.sessions` and
  `auth.refresh_tokens` with the columns, defaults, generated columns, keys, indexes and comments
  of supabase/auth (GoTrue) migrations up to 20250731150234, row-level security enabled
  (20240612123726); `auth.uid()`, `auth.role()`, `auth.email()` and
  `auth.jwt()` reading `request.jwt.claims` and the older `request.jwt.claim.<name>` settings
  (20220224000811, 20220531120530); usage of the schema for the API roles;
- schema `storage`: `storage.buckets` and `storage.objects` (path_tokens, owner_id,
  user_metadata, the bucket foreign key and unique names) of supabase/storage migrations up to
  0025 custom-metadata, row-level security enabled, `storage.foldername()`, `filename()`,
  `extension()` and the updated_at trigger; usage and table privileges for the API roles.

It is created only when the SQL needs it (it refers to schema `auth`, `storage`, `extensions` or
`vault`,
a Supabase role or the `supabase_realtime` publication that it does not create itself — found
with pglast, function bodies included) or when asked (`--supabase`, `[legacy] supabase = …`).
Statements of the shim that touch an object the SQL creates itself are left out, so a pg_dump
of a Supabase database (which creates `auth`, `storage` and `extensions`) loads over it; a
migration's `CREATE SCHEMA IF NOT EXISTS` leaves the shim's schema as it is, as on Supabase.

**Extensions**: `pgcrypto`, `uuid-ossp` and `supabase_vault` have stand-ins
(`templates/supabase/pgcrypto.sql.j2`, `uuid-ossp.sql.j2`, `vault.sql.j2`) on servers without
them, such as the embedded PostgreSQL 18, with or without the shim; any other extension the
server lacks stops loading with one line naming it and the way out (`--pg-bin` with a server
that has it, or `[legacy] skip_extensions`). Skipped extensions are not created (nor commented,
altered or dropped). What the loaded SQL leaves untested is named (`Loader.untested`): foreign
tables, and functions that call a function nothing installed provides, with its extension.
"""

from __future__ import annotations

from migverify.supabase.load import SupabaseOptions, SupabasePlan, shim_roles

__all__ = ["SupabaseOptions", "SupabasePlan", "shim_roles"]
