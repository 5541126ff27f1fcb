"""Migrations their tool runs in a transaction of their own (dbmate, diesel, unless a migration
opts out): the script with `BEGIN;` put before its first line and `COMMIT;` after its last, so
that what fails in a transaction fails here too — `CREATE INDEX CONCURRENTLY`, an enum value
added and used in one migration — and the file's lines keep their numbers (`COMMIT;` is on the
line after the script: a deferred constraint that fails there is reported at that line)."""

from __future__ import annotations

BEGIN = "BEGIN; "
COMMIT = "COMMIT;"


def in_transaction(text: str) -> str:
    """TEXT run as one transaction."""
    return BEGIN + text + ("" if text.endswith("\n") else "\n") + COMMIT
