"""Trigger functions of PostgreSQL and its contrib modules that take column names as arguments.

Their code is C, which migverify cannot read, but what they do is fixed and documented: each
finds the columns its trigger's arguments name (by exact name) and does one thing with them. So
a trigger calling one is carried onto the target with those arguments renamed through the column
map, like the NEW.column references of a PL/pgSQL function; every other C function stays
refused when a column is renamed.

A function is recognised by its language and link symbol, and for C by its library too (as
`pg_get_functiondef` prints them), whatever schema it was created in (Supabase puts moddatetime
in `extensions`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from pglast import ast, parse_sql

from migverify.catalog import Trigger


@dataclass(frozen=True)
class ColumnArguments:
    """A known trigger function: which of its arguments name columns."""

    title: str  # as REVIEW.md names it
    does: str  # what it does with the columns, for REVIEW.md
    shape: str  # the arguments it takes, for the refusal of others
    first_column: int  # arguments from this one on name columns …
    every: int  # … every EVERY-th of them (autoinc: column, sequence, column, sequence …)
    counts: tuple[int, int | None]  # how many arguments it takes: at least, at most
    even: bool = False  # an even number of them
    reads_updated_columns: bool = False  # on UPDATE, acts only if a listed column was SET
    also_column: int | None = None  # one more argument that names a column

    def positions(self, count: int) -> tuple[int, ...] | None:
        """The positions of the column-name arguments among COUNT, or None when the function
        refuses that many (it raises on every call)."""
        least, most = self.counts
        if count < least or (most is not None and count > most) or (self.even and count % 2):
            return None
        found = set(range(self.first_column, count, self.every))
        if self.also_column is not None:
            found.add(self.also_column)
        return tuple(sorted(found))


_KNOWN: dict[tuple[str, str, str], ColumnArguments] = {
    ("c", "moddatetime", "moddatetime"): ColumnArguments(
        title="contrib's moddatetime",
        does="sets the column its argument names to the current time on UPDATE",
        shape="moddatetime(column)",
        first_column=0,
        every=1,
        counts=(1, 1),
    ),
    ("c", "insert_username", "insert_username"): ColumnArguments(
        title="contrib's insert_username",
        does="sets the column its argument names to the current user's name",
        shape="insert_username(column)",
        first_column=0,
        every=1,
        counts=(1, 1),
    ),
    ("c", "autoinc", "autoinc"): ColumnArguments(
        title="contrib's autoinc",
        does=(
            "sets each column it names that is NULL or 0 to the next value of the sequence "
            "named after it"
        ),
        shape="autoinc(column, sequence [, column, sequence …])",
        first_column=0,
        every=2,
        counts=(2, None),
        even=True,
    ),
    ("c", "lo", "lo_manage"): ColumnArguments(
        title="contrib's lo_manage",
        does=(
            "unlinks the large object the column its argument names held, when an UPDATE "
            "changes the value or the row is deleted"
        ),
        shape="lo_manage(column)",
        first_column=0,
        every=1,
        counts=(1, 1),
    ),
    ("internal", "", "tsvector_update_trigger_byid"): ColumnArguments(
        title="tsvector_update_trigger",
        does=(
            "sets its first argument's tsvector column from the text columns after the "
            "configuration"
        ),
        shape="tsvector_update_trigger(tsvector column, configuration, text column …)",
        first_column=2,
        every=1,
        counts=(3, None),
        reads_updated_columns=True,
        also_column=0,
    ),
    ("internal", "", "tsvector_update_trigger_bycolumn"): ColumnArguments(
        title="tsvector_update_trigger_column",
        does=(
            "sets its first argument's tsvector column from the text columns after the "
            "configuration column"
        ),
        shape=(
            "tsvector_update_trigger_column(tsvector column, configuration column, text column …)"
        ),
        first_column=0,
        every=1,
        counts=(3, None),
        reads_updated_columns=True,
    ),
}


def column_arguments(trigger: Trigger) -> ColumnArguments | None:
    """What TRIGGER's function does with its arguments, if it is one of the functions above."""
    if trigger.function_language not in ("c", "internal") or not trigger.function_definition:
        return None
    try:
        statement = parse_sql(trigger.function_definition)[0].stmt
    except Exception:  # noqa: BLE001 - a definition pglast cannot read is no known function
        return None
    if not isinstance(statement, ast.CreateFunctionStmt):
        return None
    body = next((o.arg for o in statement.options or () if o.defname == "as"), ())
    names = [item.sval for item in body]
    if trigger.function_language == "c" and len(names) == 2:
        library = PurePosixPath(names[0]).name.removesuffix(".so").removesuffix(".dylib")
        key = ("c", library, names[1])
    elif trigger.function_language == "internal" and len(names) == 1:
        key = ("internal", "", names[0])
    else:
        return None
    return _KNOWN.get(key)
