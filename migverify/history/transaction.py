"""Migrations their tool runs in a transaction of their own (dbmate, diesel, goose, sqlx, unless a
migration opts out): the script with `BEGIN;` put before its first line and `COMMIT;` after its
last, so that what fails in a transaction fails here too — `CREATE INDEX CONCURRENTLY`, an enum
value added and used in one migration — and the file's lines keep their numbers (`COMMIT;` is on
the line after the script: a deferred constraint that fails there is reported at that line).
A last statement without its `;` (the tool sends the file as one query, where none is needed)
is ended before the `COMMIT;`."""

from __future__ import annotations

from pglast.parser import ParseError, scan

BEGIN = "BEGIN; "
COMMIT = "COMMIT;"


def in_transaction(text: str) -> str:
    """TEXT run as one transaction."""
    end = ";" if _unterminated(text) else ""
    return BEGIN + text + ("" if text.endswith("\n") else "\n") + end + COMMIT


def _unterminated(text: str) -> bool:
    """Whether TEXT's last token (comments aside) is not a `;`."""
    try:
        tokens = scan(text)
    except ParseError:
        return False  # an unterminated string or comment: the load reports it at its line
    for token in reversed(tokens):
        if token.name not in ("SQL_COMMENT", "C_COMMENT"):
            return token.name != "ASCII_59"
    return False
