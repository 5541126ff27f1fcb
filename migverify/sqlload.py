"""Load SQL scripts into a database statement by statement, mapping every error to `FILE:LINE`."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pglast
import psycopg
from pglast import parser

from migverify.errors import InputError, SQLFileError

_NEAR = re.compile(r'at or near "(.*)"')


@dataclass(frozen=True)
class Statement:
    """One statement of a script: its text and where it starts in the file."""

    text: str
    offset: int  # character offset in the script
    line: int  # 1-based line of its first character


def read_script(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not an SQL file") from None
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except OSError as error:
        raise InputError(f"{path}: cannot read: {error.strerror}") from None


def line_of(text: str, offset: int) -> int:
    """1-based line number of a character offset."""
    return text.count("\n", 0, max(0, offset)) + 1


def split_script(text: str, name: str) -> list[Statement]:
    """Split a script into statements with pglast; syntax errors raise `SQLFileError` with the line."""
    try:
        slices = list(pglast.split(text, with_parser=True, only_slices=True))
    except parser.ParseError as error:
        message, offset = str(error.args[0]), int(error.args[1]) if len(error.args) > 1 else 0
        raise SQLFileError(
            name, line_of(text, offset), _explain_parse_error(text, offset, message)
        ) from None
    statements = []
    for piece in slices:
        start = piece.start
        statements.append(Statement(text=text[piece], offset=start, line=line_of(text, start)))
    return statements


def _explain_parse_error(text: str, offset: int, message: str) -> str:
    """Turn the parser's message into one a psql user recognises (meta-commands, COPY data)."""
    line_start = text.rfind("\n", 0, offset) + 1
    line_text = text[line_start:].split("\n", 1)[0].strip()
    near = _NEAR.search(message)
    if line_text.startswith("\\") or (near and near.group(1).startswith("\\")):
        command = line_text.split()[0] if line_text.startswith("\\") else near.group(1)  # type: ignore[union-attr]
        return f"psql meta-command {command} is not supported (only plain SQL can be loaded)"
    before = text[:line_start]
    try:
        previous = list(pglast.split(before, with_parser=False, only_slices=True))
    except parser.ParseError:
        previous = []
    if previous and re.search(r"^\s*copy\b.*\bfrom\s+stdin\b", before[previous[-1]], re.I | re.S):
        return "COPY ... FROM STDIN data is not supported (use INSERT or a server-side file)"
    return message


# A statement's replacement: None runs it as written, a sequence runs those texts instead (none:
# the statement is skipped). Supabase projects use it to skip or stand in for extensions.
Rewrite = Callable[["Statement"], Sequence[str] | None]


def load_sql_files(
    conn: psycopg.Connection, paths: Iterable[Path], rewrite: Rewrite | None = None
) -> None:
    """Run each script in order on CONN (autocommit, so the scripts' own BEGIN/COMMIT work)."""
    for path in paths:
        load_sql(conn, read_script(path), str(path), rewrite)


def load_sql(
    conn: psycopg.Connection, text: str, name: str, rewrite: Rewrite | None = None
) -> None:
    """Run one script; a server error raises `SQLFileError` at the failing statement's line."""
    statements = split_script(text, name)
    for statement in statements:
        replacement = rewrite(statement) if rewrite is not None else None
        if replacement is None:
            _execute(conn, statement, text, name)
            continue
        for piece in replacement:
            _execute(conn, Statement(piece, statement.offset, statement.line), text, name)


def _execute(conn: psycopg.Connection, statement: Statement, text: str, name: str) -> None:
    try:
        with conn.cursor() as cursor:
            cursor.execute(statement.text.encode("utf-8"), prepare=False)  # type: ignore[arg-type]
    except psycopg.Error as error:
        if (
            conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
            and not conn.autocommit
        ):
            conn.rollback()
        raise SQLFileError(
            name, _error_line(error, statement, text), _server_message(error)
        ) from None


def _error_line(error: psycopg.Error, statement: Statement, text: str) -> int:
    diag = getattr(error, "diag", None)
    position = getattr(diag, "statement_position", None) if diag else None
    if position:
        # statement_position is 1-based, in characters of the statement text sent.
        return line_of(text, statement.offset + int(position) - 1)
    return statement.line + _leading_blank_lines(statement.text)


def _leading_blank_lines(text: str) -> int:
    stripped = text.lstrip()
    return text[: len(text) - len(stripped)].count("\n")


def _server_message(error: psycopg.Error) -> str:
    diag = getattr(error, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag else None
    message = primary or str(error).strip().splitlines()[0]
    sqlstate = getattr(error, "sqlstate", None)
    return f"{message} (SQLSTATE {sqlstate})" if sqlstate else message
