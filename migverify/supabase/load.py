"""Loading SQL into a scratch database, for any schema and the way a Supabase project expects it:
decide from the scripts whether the shim is needed and which of its statements the scripts make
redundant, install it, rewrite the scripts' extension statements (skipped, or stood in for where
the server lacks the extension), and name what the loaded SQL leaves untested."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import psycopg
from pglast import ast, enums, parse_sql
from pglast.parser import ParseError

from migverify.errors import InputError
from migverify.sqlload import (
    ROLE_COMMENT,
    CopyData,
    Script,
    Source,
    Statement,
    as_script,
    load_sql_files,
    script_parts,
    split_script,
    start_line,
)
from migverify.supabase import extensions
from migverify.supabase.objects import Key, Objects, extension_schema, statement_objects

log = logging.getLogger("migverify")

SUPABASE_SCHEMAS = frozenset({"auth", "storage", "extensions", "vault"})
SHIM_NAME = "supabase shim"


@dataclass(frozen=True)
class ShimRole:
    name: str
    options: str
    bypassrls: bool = False


def shim_roles() -> tuple[ShimRole, ...]:
    """The roles the shim creates when missing (supabase/postgres initial-schema.sql, NOLOGIN)."""
    return (
        ShimRole("anon", "NOLOGIN NOINHERIT"),
        ShimRole("authenticated", "NOLOGIN NOINHERIT"),
        ShimRole("service_role", "NOLOGIN NOINHERIT", bypassrls=True),
        ShimRole("authenticator", "NOLOGIN NOINHERIT"),
        ShimRole("supabase_admin", "NOLOGIN"),
        ShimRole("supabase_auth_admin", "NOLOGIN NOINHERIT"),
        ShimRole("supabase_storage_admin", "NOLOGIN NOINHERIT"),
        ShimRole("dashboard_user", "NOLOGIN"),
        ShimRole("postgres", "NOLOGIN"),
    )


def shim_sql() -> str:
    """The shim's script (deterministic): roles, schemas, tables, functions, privileges."""
    from migverify.render import render

    return render("supabase/shim.sql.j2", {"roles": shim_roles(), "role_comment": ROLE_COMMENT})


# Roles whose mention makes a schema a Supabase one (`postgres` is everyone's).
SUPABASE_ROLES = frozenset(r.name for r in shim_roles()) - {"postgres"}


@dataclass(frozen=True)
class SupabaseOptions:
    """`mode`: "auto" (the shim when the SQL needs it) or "on" (always, as `asked_by` asked);
    `skip_extensions`: extensions not created (`[legacy] skip_extensions`)."""

    mode: str = "auto"
    skip_extensions: tuple[str, ...] = ()
    asked_by: str = "--supabase"


@dataclass(frozen=True)
class _Parsed:
    name: str
    line: int
    text: str
    node: ast.Node
    objects: Objects


@dataclass
class SupabasePlan:
    """What the scripts need, decided once from their text; `prepare` applies it to a database.

    One plan serves every database the same scripts are loaded into (legacy, migrated, clones),
    so the shim and the extension decisions are the same in all of them.
    """

    paths: tuple[Source, ...]  # files or scripts already read
    options: SupabaseOptions = field(default_factory=SupabaseOptions)

    def __post_init__(self) -> None:
        self.statements = [s for source in self.paths for s in _parse_script(as_script(source))]
        self.creates: set[Key] = set()  # anything, DO blocks included
        self.creates_directly: set[Key] = set()  # top-level statements (not guarded)
        references: set[Key] = set()
        for statement in self.statements:
            self.creates |= statement.objects.creates
            references |= statement.objects.references
            if not isinstance(statement.node, ast.DoStmt):
                self.creates_directly |= statement.objects.creates - _ensured(statement.node)
        self.reasons = sorted(_describe(k) for k in references if self._missing(k))
        self.needed = self.options.mode == "on" or bool(self.reasons)
        self.skipped = tuple(sorted(set(self.options.skip_extensions)))
        self._said: set[str] = set()

    def _missing(self, key: Key) -> bool:
        """A Supabase object the scripts use but do not create."""
        kind = key[0]
        if kind in ("relation", "function", "type") and key[1] in SUPABASE_SCHEMAS:
            return ("schema", key[1]) not in self.creates and key not in self.creates
        if kind == "schema":
            return key[1] in SUPABASE_SCHEMAS and key not in self.creates
        if kind == "role":
            return key[1] in SUPABASE_ROLES and key not in self.creates
        if kind == "publication":
            return key[1] == "supabase_realtime" and key not in self.creates
        return False

    def say(self, message: str) -> None:
        """A notice, once per plan however many databases it prepares."""
        if message not in self._said:
            self._said.add(message)
            log.info(message)

    def prepare(self, conn: psycopg.Connection, *, install: bool = True) -> Loader:
        """Check the scripts' extensions against CONN's server and, when INSTALL, put the shim
        into CONN's database (a clone of a prepared database already has it)."""
        loader = Loader(self, conn)
        loader.check_extensions()
        if install and self.needed:
            loader.install_shim()
        loader.start_session()
        return loader


def _parse_script(script: Script) -> list[_Parsed]:
    parsed = []
    for part in script_parts(script.text, script.name):  # a pg_dump's COPY data: only its statement
        statement = part.statement if isinstance(part, CopyData) else part
        try:
            nodes = parse_sql(statement.text)
        except ParseError:
            continue  # split_script parsed the whole file; a piece alone may not (COPY data)
        for raw in nodes:
            parsed.append(
                _Parsed(
                    script.name,
                    start_line(statement),
                    statement.text,
                    raw.stmt,
                    statement_objects(raw.stmt),
                )
            )
    return parsed


def _ensured(node: ast.Node) -> set[Key]:
    """The schema of a `CREATE SCHEMA IF NOT EXISTS`: a migration making sure it is there, which
    on Supabase leaves it as it was (the shim's `extensions` keeps uuid-ossp and pgcrypto)."""
    if isinstance(node, ast.CreateSchemaStmt) and node.if_not_exists and node.schemaname:
        return {("schema", node.schemaname)}
    return set()


def _describe(key: Key) -> str:
    kind, *name = key
    if kind in ("relation", "function", "type"):
        return ".".join(name) + ("()" if kind == "function" else "")
    return f"{kind} {name[0]}"


class Loader:
    """The plan applied to one connection: loads scripts with their extension statements
    rewritten; `shim_relations` are the tables the shim or a stand-in created here."""

    def __init__(self, plan: SupabasePlan, conn: psycopg.Connection) -> None:
        self.plan, self.conn = plan, conn
        self.available = {
            row[0] for row in conn.execute("SELECT name FROM pg_available_extensions")
        }
        self.shim_relations: list[str] = []

    # --- extensions -------------------------------------------------------------------------------

    def check_extensions(self) -> None:
        """Every extension the scripts create exists on the server, is skipped, or has a
        stand-in; otherwise one line naming it and the way out."""
        mentioned = set()
        for statement in self.plan.statements:
            if not isinstance(statement.node, ast.CreateExtensionStmt):
                continue
            name = statement.node.extname
            mentioned.add(name)
            if name in self.plan.skipped:
                self.plan.say(
                    f"extension {name} skipped ([legacy] skip_extensions): "
                    f"{statement.name}:{statement.line}"
                )
            elif name in self.available:
                continue
            elif name in extensions.STAND_INS:
                continue  # rewrite() says so when it stands in
            else:
                raise InputError(
                    f"{statement.name}:{statement.line}: "
                    + extensions.missing_message(self.conn, name)
                )
        for name in self.plan.skipped:
            if name not in mentioned:
                self.plan.say(f"skip_extensions: the SQL never creates extension {name}")

    def rewrite(self, statement: Statement) -> Sequence[str] | None:
        """sqlload's hook: what to run for one statement (None: the statement itself)."""
        if "extension" not in statement.text.lower():
            return None  # cheap: only extension statements are rewritten (decided by pglast)
        try:
            nodes = parse_sql(statement.text)
        except ParseError:
            return None
        if len(nodes) != 1:
            return None
        node = nodes[0].stmt
        name = _extension_of(node)
        if name is None:
            return None
        if name in self.plan.skipped:
            return []
        if name in self.available or name not in extensions.STAND_INS:
            return None
        if isinstance(node, ast.CreateExtensionStmt):
            return self._stand_in(name, node)
        return []  # COMMENT ON / ALTER / DROP EXTENSION of a stand-in: nothing to do

    def _stand_in(self, name: str, node: ast.CreateExtensionStmt) -> list[str] | None:
        """The statements that stand in for CREATE EXTENSION NAME, in the schema the extension
        would use: its control file's, WITH SCHEMA's, else the current schema."""
        if extensions.stand_in_schema(self.conn, name) is not None:
            return []  # created already (IF NOT EXISTS, or the shim's and then the scripts')
        schema = (
            extensions.STAND_INS[name].schema
            or extension_schema(node)
            or self.conn.execute("SELECT current_schema()").fetchone()[0]
        )
        if schema is None:
            return None  # no schema to create in: the server says so, with the line
        self.plan.say(extensions.stand_in_notice(self.conn, name))
        statements = [s.text for s in split_script(extensions.stand_in(name, schema), name)]
        for text in statements:
            node = parse_sql(text)[0].stmt
            if isinstance(node, ast.CreateStmt):  # the stand-in's tables are not the project's
                self.shim_relations.append(f"{node.relation.schemaname}.{node.relation.relname}")
        return statements

    # --- the shim ---------------------------------------------------------------------------------

    def install_shim(self) -> None:
        text = shim_sql()
        left_out = 0
        for statement in split_script(text, SHIM_NAME):
            node = parse_sql(statement.text)[0].stmt
            if self._brought_by_scripts(statement_objects(node)):
                left_out += 1
                continue
            load_sql_text(self.conn, statement, self.rewrite)
            if isinstance(node, ast.CreateStmt):
                relation = node.relation
                self.shim_relations.append(f"{relation.schemaname}.{relation.relname}")
        self._apply_database_settings()
        self.plan.say(
            "Supabase shim installed (roles, schemas auth, storage, extensions, vault): "
            + self._why()
            + (
                f"; {left_out} statements left out: the SQL creates those objects"
                if left_out
                else ""
            )
        )

    def _why(self) -> str:
        reasons = self.plan.reasons
        if not reasons:
            return f"asked for with {self.plan.options.asked_by}"
        more = f" and {len(reasons) - 4} more" if len(reasons) > 4 else ""
        return f"the SQL uses {', '.join(reasons[:4])}{more}"

    def _apply_database_settings(self) -> None:
        """The database's own settings (the shim's search_path with `extensions`) in this session
        too: a new connection gets them, and sqlload puts back what each script SETs."""
        rows = self.conn.execute(
            "SELECT unnest(setconfig) FROM pg_db_role_setting"
            " WHERE setrole = 0 AND setdatabase ="
            " (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchall()
        for (item,) in rows:
            name, _, value = item.partition("=")
            self.conn.execute("SELECT set_config(%s, %s, false)", (name, value))

    def _brought_by_scripts(self, objects: Objects) -> bool:
        """A shim statement that creates, or works on, an object the scripts create directly."""
        mine = self.plan.creates_directly
        if objects.creates & mine:
            return True
        if any(("schema", key[1]) in mine for key in objects.creates if len(key) == 3):
            return True  # lives in a schema the scripts create
        return any(
            key in mine for key in objects.references if key[0] != "schema" or key[1] != "public"
        )

    def start_session(self) -> None:
        if self.plan.skipped:
            # Function bodies may call what a skipped extension would provide.
            self.conn.execute("SET check_function_bodies = off")

    # --- loading ----------------------------------------------------------------------------------

    def load(self, sources: Iterable[Source]) -> None:
        load_sql_files(self.conn, sources, self.rewrite)

    def untested(self) -> list[str]:
        """What the loaded SQL has that verify cannot test, one sentence each: functions that
        call what nothing installed provides, foreign tables."""
        return [*self._unresolved(), *_foreign_tables(self.conn)]

    def _unresolved(self) -> list[str]:
        sentences = []
        for function, calls in extensions.unresolved_calls(self.conn):
            named = ", ".join(self._named(call) for call in calls)
            sentences.append(
                f"function {function} calls {named}, which nothing installed provides: "
                "untested, it fails the same in both worlds"
            )
        return sentences

    def _named(self, call: str) -> str:
        """`net.http_post() (extension pg_net, never created)`: a missing function, and the
        extension it comes from when it is a known one."""
        name = extensions.extension_providing(call)
        if name is None:
            return call
        if name in self.plan.skipped:
            return f"{call} (extension {name}, skipped)"
        if extensions.stand_in_schema(self.conn, name) is not None:
            return f"{call} (extension {name}: not in migverify's stand-in)"
        created = self.conn.execute(
            "SELECT EXISTS (SELECT FROM pg_extension WHERE extname = %s)", (name,)
        ).fetchone()[0]
        return f"{call} (extension {name}{'' if created else ', never created'})"


def _foreign_tables(conn: psycopg.Connection) -> list[str]:
    """A sentence for each foreign table: its rows are not on this server (and a wrapper without
    a handler cannot even be asked), so verify neither reads nor writes it."""
    rows = conn.execute(
        "SELECT n.nspname || '.' || c.relname, s.srvname, w.fdwname, w.fdwhandler <> 0 "
        "FROM pg_foreign_table f JOIN pg_class c ON c.oid = f.ftrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_foreign_server s ON s.oid = f.ftserver "
        "JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw ORDER BY 1"
    ).fetchall()
    return [
        f"foreign table {table} (server {server}, foreign-data wrapper {wrapper}"
        + (")" if handler else " without a handler)")
        + ": untested, verify does not read or write foreign tables (their rows are on "
        "another server)"
        for table, server, wrapper, handler in rows
    ]


def load_sql_text(conn: psycopg.Connection, statement: Statement, rewrite) -> None:  # noqa: ANN001
    """One statement of the shim, through the same path as a script's."""
    from migverify.sqlload import load_sql

    load_sql(conn, statement.text, SHIM_NAME, rewrite)


def _extension_of(node: ast.Node) -> str | None:
    """The extension an extension statement is about (CREATE/COMMENT ON/ALTER/DROP)."""
    if isinstance(node, ast.CreateExtensionStmt | ast.AlterExtensionStmt):
        return node.extname
    if isinstance(node, ast.AlterExtensionContentsStmt):
        return node.extname
    if isinstance(node, ast.CommentStmt) and node.objtype == enums.ObjectType.OBJECT_EXTENSION:
        return node.object.sval if isinstance(node.object, ast.String) else None
    if isinstance(node, ast.DropStmt) and node.removeType == enums.ObjectType.OBJECT_EXTENSION:
        names = [o.sval for o in node.objects or () if isinstance(o, ast.String)]
        return names[0] if len(names) == 1 else None
    return None
