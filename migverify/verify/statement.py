"""What verify runs: statements (from probes or from the random search) and the operation kinds."""

from __future__ import annotations

from dataclasses import dataclass

# Operation kinds a statement can belong to (`--ops`). DEFAULT_OPERATIONS run unless told
# otherwise; the others change or lock whole tables (truncate, lock), need a newer server
# (merge), a client protocol of their own (copy-from, copy-to: `COPY t TO` works on tables
# only, never on a view), or name a constraint of the table, which a
# view never has (`ON CONFLICT ON CONSTRAINT`, upsert-on-constraint).
OPERATIONS = (
    "insert",
    "select",
    "update",
    "delete",
    "upsert",
    "upsert-on-constraint",
    "merge",
    "copy-from",
    "copy-to",
    "truncate",
    "lock",
)
DEFAULT_OPERATIONS = ("insert", "select", "update", "delete")
WRITES = frozenset(
    {
        "insert",
        "update",
        "delete",
        "upsert",
        "upsert-on-constraint",
        "merge",
        "copy-from",
        "truncate",
    }
)
MERGE_SINCE = 150000  # server_version_num of the first release with MERGE


@dataclass(frozen=True)
class Statement:
    """One statement of a workload, run in both worlds and compared.

    `returns_rows`: its result rows are compared (a SELECT, or a write with RETURNING).
    `copy_rows`: the data of `COPY … FROM STDIN` (text format); other COPY statements send
    their rows `TO STDOUT`.
    """

    sql: str
    table: str
    operation: str
    role: str | None = None
    written: tuple[tuple[str, str], ...] = ()  # (column, literal) values a write stores
    returns_rows: bool = False
    copy_rows: str | None = None

    @property
    def is_copy(self) -> bool:
        return self.operation in ("copy-from", "copy-to")

    def script(self) -> str:
        """The statement as it appears in a runnable script (psql syntax for COPY data)."""
        if self.copy_rows is not None:
            return f"{self.sql};\n{self.copy_rows}\\."
        return f"{self.sql};"


@dataclass(frozen=True)
class Probe:
    """A deterministic, catalog-derived workload that fails for one reason only.

    `covers` names what it exercises, e.g. ("column", "items", "qty") or ("constraint",
    "items", "items_qty_check"); the coverage report is built from these names.
    """

    name: str
    statements: tuple[Statement, ...]
    covers: tuple[tuple[str, ...], ...] = ()
