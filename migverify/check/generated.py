"""The generated layer must run: SQL that migverify wrote failing in a scratch database that holds
the spec's own schemas is a bug in migverify (InternalError, exit 3), not bad input.

Which failures are ours is told by the server's SQLSTATE class: a statement that does not parse,
names a function, column or type that does not exist, mismatches a type or needs a feature the
server lacks (42, 0A …) was written wrong. A constraint violation or bad value (23, 22), a lock
or a resource limit, or a guard of a phase (MVST0) is about the schemas and the data the SQL ran
on, and stays the error it is (exit 2, with the file and line).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import TypeVar

import psycopg

from migverify.errors import InternalError, MigverifyError
from migverify.sandbox import ScratchDatabase

T = TypeVar("T")

# SQLSTATE classes of a statement that is wrong in itself: feature not supported (0A), invalid
# transaction state (25), invalid statement or cursor name (26, 34), dependent objects still
# exist (2B), invalid catalog or schema name (3D, 3F), syntax error or access rule violation (42).
OURS = ("0A", "25", "26", "2B", "34", "3D", "3F", "42")
BATCH = 64  # rows per backfill batch when the online phases are proved: several for a seed
PHASES = (
    "expand",
    "backfill",
    "switch",
    "rollback-switch",
    "rollback-backfill",
    "rollback-expand",
)


def blamed(error: MigverifyError) -> MigverifyError:
    """ERROR as an InternalError when its SQLSTATE says the generated SQL is wrong."""
    sqlstate = getattr(error, "sqlstate", None)
    if sqlstate and sqlstate[:2] in OURS:
        return InternalError(str(error))
    return error


def ours(run: Callable[[], T], names: Iterable[str]) -> T:
    """RUN, whose failures in one of the generated scripts NAMES are blamed on migverify."""
    wanted = set(names)
    try:
        return run()
    except MigverifyError as error:
        if getattr(error, "path", None) in wanted:
            raise blamed(error) from None
        raise


def prove_online_phases(db: ScratchDatabase, files: dict[str, str]) -> None:
    """Run every online phase and its rollback in DB (legacy SQL, seed and target SQL loaded), as
    `migverify apply` runs them: expand, backfill, switch, then back phase by phase."""
    from migverify.apply import Retry, ScriptError, run_backfill
    from migverify.sqlload import load_sql

    with db.connect() as conn:
        for phase in PHASES:
            name = f"online/{phase}.sql"
            if phase == "backfill":
                try:
                    run_backfill(conn, files[name], BATCH, Retry(attempts=1), lambda _: None)
                except MigverifyError as error:
                    raise blamed(error) from None
                except psycopg.Error as error:  # its PREPAREs, which the driver runs as they are
                    message = f"{name} (generated): {error.diag.message_primary or error}"
                    sqlstate = error.sqlstate
                    raise blamed(
                        ScriptError(f"{message} (SQLSTATE {sqlstate})", sqlstate)
                    ) from None
                continue
            label = f"{name} (generated)"
            ours(partial(load_sql, conn, files[name], label), [label])
