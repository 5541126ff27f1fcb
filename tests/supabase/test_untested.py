"""What the loaded SQL has that verify cannot test is named, one sentence each, in verify's
*Not tested* list and as MV103 warnings of check: foreign tables, and functions that call what
nothing installed provides (with the extension it comes from, when it is a known one)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from click.testing import CliRunner

from migverify.cli import cli

LEGACY = """
create foreign data wrapper dummy;
create server elsewhere foreign data wrapper dummy;
create foreign table public.remote_events (id int, payload text) server elsewhere;
create table public.notes (id int primary key, body text not null);
insert into public.notes values (1, 'first');
"""
TARGET = "create table public.notes_v2 (id int primary key, body text not null);\n"
COMPAT = """
begin;
insert into public.notes_v2 select * from public.notes;
alter table public.notes rename to notes_legacy;
create view public.notes with (security_invoker = true) as select id, body from public.notes_v2;
commit;
"""
FOREIGN_TABLE = (
    "foreign table public.remote_events (server elsewhere, foreign-data wrapper dummy without a "
    "handler): untested, verify does not read or write foreign tables (their rows are on another "
    "server)"
)


def _write(directory: Path, **scripts: str) -> dict[str, Path]:
    paths = {}
    for name, text in scripts.items():
        paths[name] = directory / f"{name}.sql"
        paths[name].write_text(textwrap.dedent(text))
    return paths


def test_verify_names_a_foreign_table_untested(pg, tmp_path):
    paths = _write(tmp_path, legacy=LEGACY, target=TARGET, compat=COMPAT)
    args = ["verify", "--dsn", pg.dsn, "--examples", "5"]
    for option in ("legacy", "target", "compat"):
        args += [f"--{option}", str(paths[option])]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("EQUIVALENT: notes behave the same")
    assert f"  - {FOREIGN_TABLE}\n" in result.stdout.split("Not tested:", 1)[1]


# Functions calling what nothing installed provides: a skipped extension's, one of an
# extension nothing creates, one the stand-in lacks, and one of no known extension.
FUNCTIONS = """
create extension if not exists http with schema extensions;
create extension if not exists pgcrypto;
create function public.fetch_title(url text) returns text
language plpgsql as $$ begin return (extensions.http_get(url)).content; end $$;
create function public.notify() returns trigger language plpgsql as $$
begin
  perform net.http_post(url := 'https://example.com/hook', body := to_jsonb(new));
  return new;
end $$;
create function public.seal(t text) returns bytea language plpgsql as $$
begin return pgp_sym_encrypt(t, 'k'); end $$;
create function public.typo() returns int language plpgsql as $$
begin return public.no_such_function(); end $$;
create function public.keep(t text) returns uuid language plpgsql as $$
begin return vault.create_secret(t); end $$;
"""


def test_check_names_each_missing_function_and_its_extension(pg, tmp_path):
    _write(tmp_path, legacy=LEGACY + FUNCTIONS, target=TARGET)
    (tmp_path / "migverify.toml").write_text(
        textwrap.dedent(
            """
            [legacy]
            sql = ["legacy.sql"]
            skip_extensions = ["http"]
            [target]
            sql = ["target.sql"]
            [tables.notes]
            target = "notes_v2"
            """
        )
    )
    result = CliRunner().invoke(
        cli, ["check", str(tmp_path), "--dsn", pg.dsn, "--examples", "5", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    problems = json.loads(result.stdout)["problems"]
    untested = sorted(p["message"] for p in problems if p["rule"] == "MV103")
    assert all(p["severity"] == "warning" for p in problems if p["rule"] == "MV103")
    fails = "which nothing installed provides: untested, it fails the same in both worlds"
    expected = [
        FOREIGN_TABLE,
        "function public.fetch_title() calls extensions.http_get() (extension http, skipped), "
        + fails,
        "function public.notify() calls net.http_post() (extension pg_net, never created), "
        + fails,
        "function public.typo() calls public.no_such_function(), " + fails,
    ]
    if pg.version == "18":  # pgcrypto stood in for; vault.create_secret() comes with the shim
        expected.append(
            "function public.seal() calls pgp_sym_encrypt() (extension pgcrypto: not in "
            "migverify's stand-in), " + fails
        )
    assert untested == sorted(expected)
