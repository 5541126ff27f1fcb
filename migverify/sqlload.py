"""Load SQL scripts into a database statement by statement, mapping every error to `FILE:LINE`.

Scripts may be plain SQL or `pg_dump` output: a UTF-8 byte order mark, the `\\restrict` and
`\\unrestrict` lines of current dumps, and `COPY ... FROM stdin` followed by its data up to `\\.`
are understood. Statements are found by the PostgreSQL parser (pglast); a line starting with a
backslash outside any literal is a psql meta-command, and any other than those two is reported
with its line, not run. Roles that a script grants to (or makes owners) without creating them are
created NOLOGIN, with a notice, so a schema dump loads on a fresh server.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pglast
import psycopg
from pglast import ast, parser
from pglast.enums.parsenodes import RoleSpecType
from pglast.visitors import Visitor
from psycopg import sql

from migverify.errors import InputError, SQLFileError

_NEAR = re.compile(r'at or near "(.*)"')
# Lines that start (after blanks) with a backslash: psql meta-commands when outside a literal.
_BACKSLASH_LINE = re.compile(r"^[ \t]*\\", re.M)
# Where a COPY ... FROM stdin statement may be: the scanner and parser decide.
_STDIN = re.compile(r"\bstdin\b", re.I)
_COPY_DATA_LINE = re.compile(r", line (\d+)")
_IGNORED_META = ("\\restrict", "\\unrestrict")  # pg_dump's guard against malicious servers
ROLE_COMMENT = "created by migverify for "  # + the scratch database the role was created for
# Session settings a script may change (the per-transaction ones revert by themselves).
_SESSION_SETTINGS = (
    "SELECT name, setting FROM pg_settings WHERE context IN ('user', 'superuser')"
    " AND name NOT IN ('transaction_isolation', 'transaction_read_only', 'transaction_deferrable')"
)


@dataclass(frozen=True)
class Statement:
    """One statement of a script: its text and where it starts in the file."""

    text: str
    offset: int  # character offset in the script
    line: int  # 1-based line of its first character


@dataclass(frozen=True)
class CopyData:
    """A `COPY ... FROM stdin` statement and the data lines that follow it in the script."""

    statement: Statement
    data: str
    line: int  # 1-based line of the first data line


@dataclass(frozen=True)
class Script:
    """SQL to load, and the name its errors carry: a whole file, or a part of one (a dbmate
    `-- migrate:up` section, say) whose text is padded with empty lines so that its line numbers
    are the file's."""

    name: str
    text: str
    # migrations of its history before it that migverify could not run (a goose Go migration,
    # a data migration in code): an error naming an object they may have created says so
    after_not_run: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def read(cls, path: Path) -> Script:
        return cls(str(path), read_script(path))


# What the loaders take: a file, or a script already read.
Source = Path | Script


def as_script(source: Source) -> Script:
    return source if isinstance(source, Script) else Script.read(source)


def read_script(path: Path) -> str:
    """The text of an SQL file (UTF-8, a leading byte order mark dropped)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not an SQL file") from None
    except OSError as error:
        raise InputError(f"{path}: cannot read: {error.strerror}") from None
    if raw.startswith(b"PGDMP"):
        raise InputError(
            f"{path}: a pg_dump archive, not SQL text (convert it: pg_restore -f out.sql {path})"
        )
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    nul = text.find("\x00")
    if nul >= 0:
        # The parser reads up to a NUL byte: everything after it would be dropped in silence.
        raise SQLFileError(str(path), line_of(text, nul), "a NUL byte: not SQL text")
    return text


def line_of(text: str, offset: int) -> int:
    """1-based line number of a character offset."""
    return text.count("\n", 0, max(0, offset)) + 1


class _Lines:
    """Line numbers of offsets asked in increasing order: O(text) in all, not per question."""

    def __init__(self, text: str) -> None:
        self.text, self.offset, self.line = text, 0, 1

    def __call__(self, offset: int) -> int:
        offset = max(0, offset)
        if offset < self.offset:
            self.offset, self.line = 0, 1
        self.line += self.text.count("\n", self.offset, offset)
        self.offset = offset
        return self.line


def split_script(text: str, name: str) -> list[Statement]:
    """Split a script into statements with pglast; syntax errors raise `SQLFileError` with the line.

    COPY ... FROM stdin data cannot be run statement by statement: such a script is refused here
    (`script_parts` and `load_sql` take it).
    """
    statements = []
    for part in script_parts(text, name):
        if isinstance(part, CopyData):
            raise SQLFileError(
                name,
                start_line(part.statement),
                "COPY ... FROM stdin data is not supported in this script (use INSERT)",
            )
        statements.append(part)
    return statements


def script_parts(text: str, name: str) -> list[Statement | CopyData]:
    """The statements and COPY data blocks of a script, in order; syntax errors name the line."""
    text = text.removeprefix("\ufeff")
    lines = _Lines(text)
    parts: list[Statement | CopyData] = []
    pos = 0
    while pos < len(text):
        cut, copy = _next_barrier(text, pos)
        if copy is not None:
            statements = _statements(text, pos, copy.stop, name, lines)
            if not statements:  # pragma: no cover - the scanner saw a COPY statement there
                raise SQLFileError(name, line_of(text, copy.start), "cannot split COPY statement")
            data_start = _next_line(text, copy.stop)
            end = _copy_end(text, data_start)
            if end is None:
                raise SQLFileError(
                    name,
                    start_line(statements[-1]),
                    "COPY ... FROM stdin data is not ended by a line \\.",
                )
            parts.extend(statements[:-1])
            parts.append(CopyData(statements[-1], text[data_start:end], lines(data_start)))
            pos = _next_line(text, end)
            continue
        parts.extend(_statements(text, pos, cut, name, lines))
        if cut >= len(text):
            break
        line_end = text.find("\n", cut)
        line_end = len(text) if line_end < 0 else line_end
        command = text[cut:line_end].split()[0]
        if command not in _IGNORED_META:
            raise SQLFileError(
                name,
                line_of(text, cut),
                f"psql meta-command {command} is not supported (only plain SQL can be loaded)",
            )
        pos = _next_line(text, line_end)
    return parts


def _next_line(text: str, offset: int) -> int:
    newline = text.find("\n", offset)
    return len(text) if newline < 0 else newline + 1


def _copy_end(text: str, data_start: int) -> int | None:
    """Offset of the line `\\.` that ends COPY data starting at DATA_START (COPY's text
    format, not SQL: a plain search), or None."""
    at = data_start
    while True:
        if text.startswith("\\.", at) and text[at + 2 : at + 3] in ("", "\n", "\r"):
            return at
        newline = text.find("\n\\.", at)
        if newline < 0:
            return None
        at = newline + 1


def _next_barrier(text: str, pos: int) -> tuple[int, slice | None]:
    """Where the plain SQL from POS ends: the next meta-command line, or a COPY FROM stdin.

    Returns (offset of the meta-command line or the end of text, slice of a COPY FROM stdin
    statement before it or None). A backslash line inside a literal or comment is no barrier.
    """
    search_from = pos
    while True:
        match = _BACKSLASH_LINE.search(text, search_from)
        cut = match.start() if match else len(text)
        copy = _first_copy(text, pos, cut)
        if copy is not None or cut >= len(text) or _lexically_complete(text[pos:cut]):
            return cut, copy
        search_from = _next_line(text, cut)  # the backslash line is inside a literal


def _first_copy(text: str, start: int, end: int) -> slice | None:
    """The first COPY ... FROM stdin statement in TEXT[start:end].

    Only the SQL up to a statement naming stdin is scanned: the lines after a COPY statement
    are its data, which may be megabytes and need not be valid SQL tokens.
    """
    for hint in _STDIN.finditer(text, start, end):
        semicolon = text.find(";", hint.end(), end)
        stop = end if semicolon < 0 else min(_next_line(text, semicolon), end)
        region = text[start:stop]
        try:
            slices = parser.split(region, with_parser=False, only_slices=True)
        except parser.ParseError as error:
            offset = int(error.args[1]) if len(error.args) > 1 else 0
            try:  # a lexical error after the COPY statement, e.g. a quote in its data
                slices = parser.split(region[:offset], with_parser=False, only_slices=True)
            except parser.ParseError:
                continue
        for piece in slices:
            if _is_copy_from_stdin(region[piece]):
                return slice(start + piece.start, start + piece.stop)
    return None


def _lexically_complete(region: str) -> bool:
    """Whether REGION ends outside any literal or comment (per the PostgreSQL scanner)."""
    try:
        parser.split(region, with_parser=False, only_slices=True)
    except parser.ParseError:
        return False
    return True


def _is_copy_from_stdin(statement: str) -> bool:
    try:
        tokens = parser.scan(statement)
    except parser.ParseError:
        return False
    words = [t for t in tokens if t.name not in ("SQL_COMMENT", "C_COMMENT")]
    if not words or words[0].name != "COPY":
        return False
    try:
        parsed = pglast.parse_sql(statement)
    except parser.ParseError:
        return False
    node = parsed[0].stmt if parsed else None
    return (
        isinstance(node, ast.CopyStmt)
        and bool(node.is_from)
        and not node.filename
        and not node.is_program
    )


def _statements(
    text: str, start: int, end: int, name: str, lines: _Lines | None = None
) -> list[Statement]:
    """The statements of TEXT[start:end], split by the parser; offsets and lines are TEXT's."""
    line = lines or _Lines(text)
    region = text[start:end]
    try:
        slices = pglast.split(region, with_parser=True, only_slices=True)
    except parser.ParseError as error:
        message = str(error.args[0])
        # "syntax error at end of input" comes without a location: the end is where it is.
        location = error.args[1] if len(error.args) > 1 else None
        offset = start + int(location) if location is not None else end
        raise SQLFileError(
            name, line_of(text, offset), _explain_parse_error(text, offset, message)
        ) from None
    return [
        Statement(text=region[piece], offset=start + piece.start, line=line(start + piece.start))
        for piece in slices
    ]


def _explain_parse_error(text: str, offset: int, message: str) -> str:
    """Turn the parser's message into one a psql user recognises (meta-commands mid-line)."""
    line_start = text.rfind("\n", 0, offset) + 1
    line_text = text[line_start:].split("\n", 1)[0].strip()
    near = _NEAR.search(message)
    if line_text.startswith("\\") or (near and near.group(1).startswith("\\")):
        command = line_text.split()[0] if line_text.startswith("\\") else near.group(1)  # type: ignore[union-attr]
        return f"psql meta-command {command} is not supported (only plain SQL can be loaded)"
    return message


# A statement's replacement: None runs it as written, a sequence runs those texts instead (none:
# the statement is skipped). Supabase projects use it to skip or stand in for extensions.
Rewrite = Callable[["Statement"], Sequence[str] | None]


def load_sql_files(
    conn: psycopg.Connection, sources: Iterable[Source], rewrite: Rewrite | None = None
) -> None:
    """Run each script in order on CONN (autocommit, so the scripts' own BEGIN/COMMIT work)."""
    for source in sources:
        script = as_script(source)
        try:
            load_sql(conn, script.text, script.name, rewrite)
        except SQLFileError as error:
            raise _with_not_run(error, script) from None


# undefined table, column, function, object, schema: what a migration not run may have created
_UNDEFINED = frozenset(("42P01", "42703", "42883", "42704", "3F000"))


def _with_not_run(error: SQLFileError, script: Script) -> SQLFileError:
    """ERROR, saying which migrations before SCRIPT were not run when it names a missing
    object."""
    if not script.after_not_run or error.sqlstate not in _UNDEFINED:
        return error
    last = Path(script.after_not_run[-1]).name
    count = len(script.after_not_run)
    if count > 1:
        earlier = f"{count} migrations before it were not run, the last {last}: what they create"
    else:
        earlier = f"the migration {last} before it was not run: what it creates"
    return SQLFileError(
        error.path,
        error.line,
        f"{error.detail} ({earlier} is missing here)",
        error.sqlstate,
    )


def load_sql(
    conn: psycopg.Connection, text: str, name: str, rewrite: Rewrite | None = None
) -> None:
    """Run one script; a server error raises `SQLFileError` at the failing statement's line.

    Session settings the script changes (pg_dump's empty search_path, SET ROLE ...) are put
    back afterwards, so the next script loads as if in a session of its own.
    """
    text = text.removeprefix("\ufeff")
    parts = script_parts(text, name)
    before = _session_state(conn) if _may_change_session(text, parts) else None
    loader = _Loader(conn, text, name)
    try:
        for part in parts:
            if isinstance(part, CopyData):
                loader.copy(part)
                continue
            replacement = rewrite(part) if rewrite is not None else None
            if replacement is None:
                loader.execute(part)
                continue
            for piece in replacement:
                loader.execute(Statement(piece, part.offset, part.line))
    finally:
        loader.report()
    if before is not None:
        _restore_session(conn, before)


_SESSION_VERBS = ("SET", "RESET", "DO", "CALL")


def _may_change_session(text: str, parts: list[Statement | CopyData]) -> bool:
    """Whether a script can leave a session setting or role behind: a statement that starts
    with SET, RESET, DO or CALL, or a call of set_config() anywhere. Most migrations do not,
    and reading the session's state before and after each of hundreds of files costs more than
    running them."""
    if "set_config" in text.lower():
        return True
    for part in parts:
        body = (part.statement if isinstance(part, CopyData) else part).text.lstrip()
        while body.startswith("--"):  # comments the splitter kept in front of the statement
            body = body.partition("\n")[2].lstrip()
        words = body.split(None, 1)
        if words and words[0].upper().rstrip(";") in _SESSION_VERBS:
            return True
    return False


class _Loader:
    """Runs the parts of one script, creating missing roles and collecting notices.

    Every role the script creates is tagged with COMMENT (default: ROLE_COMMENT + the
    database), so the sandbox can drop it again on a --dsn server."""

    def __init__(
        self, conn: psycopg.Connection, text: str, name: str, comment: str | None = None
    ) -> None:
        self.conn, self.text, self.name = conn, text, name
        self.comment = comment or ROLE_COMMENT + str(conn.info.dbname)
        self.created_roles: list[str] = []
        self.skipped: list[str] = []
        self.known_roles: set[str] = set()  # seen to exist: no query per GRANT of a dump

    def execute(self, statement: Statement) -> None:
        node = _parse_one(statement.text)
        if isinstance(node, ast.CreateRoleStmt) and self._role_exists(statement, node.role):
            return
        if node is not None:
            self._create_missing_roles(statement, node)
        # A DO block or procedure may create roles (`IF NOT EXISTS … CREATE ROLE`): they are
        # the server's, not the scratch database's, and must be tagged like any other.
        roles_before = self._role_names() if isinstance(node, ast.DoStmt | ast.CallStmt) else None
        try:
            with self.conn.cursor() as cursor:
                cursor.execute(statement.text.encode("utf-8"), prepare=False)  # type: ignore[arg-type]
        except psycopg.Error as error:
            self._rollback_failed()
            if _unknown_setting(node, error):
                line = start_line(statement)
                self.skipped.append(f"{self.name}:{line}: {_server_message(error)}")
                return
            raise SQLFileError(
                self.name,
                _error_line(error, statement, self.text),
                _server_message(error),
                error.sqlstate,
            ) from None
        if isinstance(node, ast.CreateRoleStmt):
            self._tag_role(node.role)
        elif roles_before is not None:
            for role in sorted(self._role_names() - roles_before):
                self._tag_role(role)

    def _role_names(self) -> set[str]:
        return {name for (name,) in self.conn.execute("SELECT rolname FROM pg_roles").fetchall()}

    def _role_exists(self, statement: Statement, role: str) -> bool:
        """Whether a role to create exists already: roles belong to the server, so a script
        loaded into a second scratch database meets the roles its first load created."""
        row = self.conn.execute(
            "SELECT coalesce(shobj_description(oid, 'pg_authid'), '') FROM pg_roles"
            " WHERE rolname = %s",
            (role,),
        ).fetchone()
        if row is None:
            return False
        if not row[0].startswith(ROLE_COMMENT):
            line = start_line(statement)
            self.skipped.append(f"{self.name}:{line}: role {role!r} exists on the server already")
        return True

    def _tag_role(self, role: str) -> None:
        """Mark a role migverify created, so the sandbox can drop it again on a --dsn server."""
        self.conn.execute(
            sql.SQL("COMMENT ON ROLE {} IS {}").format(
                sql.Identifier(role), sql.Literal(self.comment)
            )
        )

    def copy(self, part: CopyData) -> None:
        node = _parse_one(part.statement.text)
        if node is not None:
            self._create_missing_roles(part.statement, node)
        try:
            with self.conn.cursor() as cursor:
                with cursor.copy(part.statement.text.encode("utf-8")) as copy:  # type: ignore[arg-type]
                    copy.write(part.data.encode("utf-8"))
        except psycopg.Error as error:
            self._rollback_failed()
            context = getattr(getattr(error, "diag", None), "context", None) or ""
            data_line = _COPY_DATA_LINE.search(context)
            line = (
                part.line + int(data_line.group(1)) - 1 if data_line else start_line(part.statement)
            )
            raise SQLFileError(self.name, line, _server_message(error), error.sqlstate) from None

    def _rollback_failed(self) -> None:
        if (
            self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
            and not self.conn.autocommit
        ):
            self.conn.rollback()

    def _create_missing_roles(self, statement: Statement, node: ast.Node) -> None:
        if isinstance(node, ast.DropRoleStmt):
            self.known_roles.clear()
        names = referenced_roles(node) - self.known_roles
        if not names:
            return
        self.known_roles |= names
        rows = self.conn.execute(
            "SELECT name FROM unnest(%s::text[]) AS name"
            " WHERE name NOT IN (SELECT rolname FROM pg_roles) ORDER BY name",
            (sorted(names),),
        ).fetchall()
        for (role,) in rows:
            try:
                self.conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
                self._tag_role(role)
            except psycopg.Error as error:
                self._rollback_failed()
                line = start_line(statement)
                raise SQLFileError(
                    self.name,
                    line,
                    f"role {role!r} does not exist and cannot be created here "
                    f"({_server_message(error)}); create it first or give --roles FILE",
                ) from None
            self.created_roles.append(role)

    def report(self) -> None:
        """Print what was done on the user's behalf: created roles, skipped settings."""
        if self.created_roles:
            names = ", ".join(self.created_roles)
            notice(
                f"{self.name}: created missing role(s) {names} (NOLOGIN): the SQL uses them "
                "but does not create them (give --roles FILE for the real ones)"
            )
        for skipped in self.skipped:
            notice(f"skipped {skipped}")


def load_roles(conn: psycopg.Connection, path: Path, comment: str) -> list[str]:
    """Create the roles of a `pg_dumpall --roles-only` file that the server does not have yet.

    Roles that already exist are left as they are (an `ALTER ROLE postgres ...` must not change
    the connecting user), and every statement about them is skipped with a notice. Created roles
    carry COMMENT so they can be dropped again. Returns the created roles.
    """
    name = str(path)
    text = read_script(path)
    existing = {row[0] for row in conn.execute("SELECT rolname FROM pg_roles").fetchall()}
    loader = _Loader(conn, text, name, comment)
    created: list[str] = []
    left: set[str] = set()
    try:
        for part in script_parts(text, name):
            statement = part.statement if isinstance(part, CopyData) else part
            node = _parse_one(statement.text)
            if node is None or isinstance(part, CopyData):
                loader.execute(statement)  # reports the error with its line
                continue
            roles = referenced_roles(node) | _roles_defined(node)
            touched = roles & existing
            if touched:
                left |= touched
                continue
            loader.execute(statement)
            if isinstance(node, ast.CreateRoleStmt):
                created.append(node.role)
    finally:
        # After the file's own COMMENT ON ROLE statements, and on an error half-way too: every
        # role created so far must be found (and dropped) again.
        for role in created:
            loader._tag_role(role)
    loader.report()
    if left:
        notice(f"{name}: left existing role(s) {', '.join(sorted(left))} as they are")
    return created


def _roles_defined(node: ast.Node) -> set[str]:
    """The role a CREATE ROLE or ALTER ROLE statement is about."""
    if isinstance(node, ast.CreateRoleStmt):
        return {node.role}
    if isinstance(node, ast.AlterRoleStmt | ast.AlterRoleSetStmt) and node.role is not None:
        return {node.role.rolename} if node.role.rolename else set()
    return set()


_NOTICED: set[str] = set()  # a command loads the same files into several databases: say it once


def notice(message: str) -> None:
    """One line on stderr about something done or skipped on the user's behalf (once per run)."""
    for recording in _RECORDINGS:
        recording.append(message)
    if message in _NOTICED:
        return
    _NOTICED.add(message)
    print(f"migverify: notice: {message}", file=sys.stderr)


_RECORDINGS: list[list[str]] = []


@contextmanager
def recording_notices() -> Iterator[list[str]]:
    """The notices said during the block (notice() and the "migverify" logger), in order: a
    cached legacy state says them again when it is used instead of loaded."""
    import logging

    said: list[str] = []

    class _Recorder(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            said.append(record.getMessage())

    logger = logging.getLogger("migverify")
    handler = _Recorder()
    level = logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    _RECORDINGS.append(said)
    try:
        yield said
    finally:
        _RECORDINGS.remove(said)
        logger.removeHandler(handler)
        logger.setLevel(level)


def _parse_one(text: str) -> ast.Node | None:
    try:
        parsed = pglast.parse_sql(text)
    except parser.ParseError:
        return None
    return parsed[0].stmt if parsed else None


class _RoleNames(Visitor):
    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_RoleSpec(self, ancestors: object, node: ast.RoleSpec) -> None:
        if node.roletype == RoleSpecType.ROLESPEC_CSTRING and node.rolename:
            self.names.add(node.rolename)

    def visit_GrantRoleStmt(self, ancestors: object, node: ast.GrantRoleStmt) -> None:
        for granted in node.granted_roles or ():
            if isinstance(granted, ast.AccessPriv) and granted.priv_name:
                self.names.add(granted.priv_name)


def referenced_roles(node: ast.Node) -> set[str]:
    """Roles a statement needs to exist: grantees, owners, policy roles, SET ROLE targets."""
    if isinstance(node, ast.DropRoleStmt | ast.CreateRoleStmt):
        return set()
    if isinstance(node, ast.VariableSetStmt):
        if node.name in ("role", "session_authorization") and node.args:
            value = getattr(node.args[0], "val", None)
            name = getattr(value, "sval", None)
            return {name} if name and name != "none" else set()
        return set()
    visitor = _RoleNames()
    visitor(node)
    return visitor.names


def _unknown_setting(node: ast.Node | None, error: psycopg.Error) -> bool:
    """A SET of a parameter this server does not know (a newer pg_dump's transaction_timeout)."""
    return (
        isinstance(node, ast.VariableSetStmt)
        and getattr(error, "sqlstate", None) == "42704"
        and node.name not in ("role", "session_authorization")
    )


@dataclass(frozen=True)
class _SessionState:
    current_user: str
    session_user: str
    settings: dict[str, str]


def _session_state(conn: psycopg.Connection) -> _SessionState:
    current, session = conn.execute("SELECT current_user, session_user").fetchone()  # type: ignore[misc]
    settings = dict(conn.execute(_SESSION_SETTINGS).fetchall())
    return _SessionState(current, session, settings)


def _restore_session(conn: psycopg.Connection, before: _SessionState) -> None:
    """Undo SET ROLE / SESSION AUTHORIZATION and session settings a script left behind."""
    if conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR:
        return
    current, session = conn.execute("SELECT current_user, session_user").fetchone()  # type: ignore[misc]
    if session != before.session_user:
        conn.execute("RESET SESSION AUTHORIZATION")
    elif current != before.current_user:
        conn.execute("RESET ROLE")
    after = dict(conn.execute(_SESSION_SETTINGS).fetchall())
    for name, value in sorted(after.items()):
        if name not in before.settings:
            conn.execute(sql.SQL("RESET {}").format(sql.Identifier(name)))
        elif before.settings[name] != value:
            conn.execute("SELECT set_config(%s, %s, false)", (name, before.settings[name]))


def _error_line(error: psycopg.Error, statement: Statement, text: str) -> int:
    diag = getattr(error, "diag", None)
    position = getattr(diag, "statement_position", None) if diag else None
    if position:
        # statement_position is 1-based, in characters of the statement text sent.
        return line_of(text, statement.offset + int(position) - 1)
    return start_line(statement)


def start_line(statement: Statement) -> int:
    """The line of a statement's first token (a dump puts comment lines before each one)."""
    try:
        tokens = parser.scan(statement.text)
    except parser.ParseError:
        tokens = []
    first = next((t for t in tokens if t.name not in ("SQL_COMMENT", "C_COMMENT")), None)
    start = first.start if first else len(statement.text) - len(statement.text.lstrip())
    return statement.line + statement.text.count("\n", 0, start)


def _server_message(error: psycopg.Error) -> str:
    diag = getattr(error, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag else None
    message = primary or str(error).strip().splitlines()[0]
    sqlstate = getattr(error, "sqlstate", None)
    if sqlstate == "0A000" and _NOT_BUILT_IN.search(message):
        message += (
            " (a feature this PostgreSQL server was built without: give --dsn or --pg-bin for "
            "a server built with it)"
        )
    return f"{message} (SQLSTATE {sqlstate})" if sqlstate else message


# The server's words for a feature left out when it was built (ICU collations, lz4, libxml).
_NOT_BUILT_IN = re.compile(r"(in|by) this build|built with \S+ support", re.I)
