"""Scan results: references to legacy tables found in code, and table names code computes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

# What code does with a table. `model` is an ORM declaration (a model or entity mapped to the
# table): no statement by itself, but the ORM's statements follow the mapping.
OPERATIONS = (
    "select", "insert", "update", "delete", "upsert", "upsert-on-constraint", "merge", "copy-from",
    "copy-to", "truncate", "lock", "ddl", "model", "unknown",
)  # fmt: skip


@dataclass(frozen=True)
class Reference:
    """One use of a legacy table. line/column are 1-based and point at the table name itself
    (for a use of an ORM model: at the model's name in the use). An ORM model's declaration is
    a reference too, with operation `model`; `kind` is the library or ORM it was found through:
    supabase-js, supabase-py, knex, kysely, sql, asyncpg, pandas, prisma, drizzle, typeorm, sequelize, objection, sqlalchemy,
    django, peewee, alembic, diesel, sea-orm, gorm, squirrel, goqu, ent."""

    path: str
    line: int
    column: int
    table: str  # the name as the user gave it (--table), whatever quoting the code used
    operation: str
    columns: tuple[str, ...]
    kind: str
    snippet: str
    parent: str | None = None  # for a PostgREST embedded resource: the table it is embedded in
    # raw SQL: the whole statement, driver placeholders numbered $1, $2, … (check replays it)
    statement: str | None = None

    def sort_key(self) -> tuple[Any, ...]:
        return (self.path, self.line, self.column, self.table)


@dataclass(frozen=True)
class DynamicReference:
    """A table argument migverify cannot resolve statically (e.g. `.from(tableName)`).
    CANDIDATES: the legacy tables it may be, when the scan knows them (a model's name passed to
    a function whose use of it is not visible: `Model (table)`)."""

    path: str
    line: int
    column: int
    expression: str
    candidates: tuple[str, ...] = ()

    def sort_key(self) -> tuple[Any, ...]:
        return (self.path, self.line, self.column)

    def describe(self) -> str:
        """The expression, and the candidates when there are some (for messages)."""
        if not self.candidates:
            return self.expression
        return f"{self.expression} (may be: {', '.join(self.candidates)})"


@dataclass(frozen=True)
class SkippedFile:
    """A file (or directory) the scan could not look into, and why: never a silent pass."""

    path: str
    reason: str

    def sort_key(self) -> tuple[Any, ...]:
        return (self.path, self.reason)


@dataclass(frozen=True)
class ScanResult:
    references: tuple[Reference, ...]
    dynamic: tuple[DynamicReference, ...]
    files_scanned: int = 0
    files_with_references: int = 0
    tables: tuple[str, ...] = ()
    skipped: tuple[SkippedFile, ...] = ()

    def summary(self) -> dict[str, Any]:
        by_table = Counter(r.table for r in self.references)
        by_operation = Counter(r.operation for r in self.references)
        return {
            "references": len(self.references),
            "files": len({r.path for r in self.references}),
            "files_scanned": self.files_scanned,
            "tables": {t: by_table.get(t, 0) for t in self.tables},
            "operations": dict(sorted(by_operation.items())),
            "dynamic": len(self.dynamic),
            "skipped": len(self.skipped),
        }

    def summary_line(self) -> str:
        refs, files = len(self.references), len({r.path for r in self.references})
        tables = len(self.tables)
        line = (
            f"{refs} reference{'s' * (refs != 1)} in {files} file{'s' * (files != 1)} "
            f"({tables} table{'s' * (tables != 1)})"
        )
        if self.dynamic:
            count = len(self.dynamic)
            line += f"; {count} dynamic reference{'s' * (count != 1)} not resolved"
        if self.skipped:
            count = len(self.skipped)
            line += f"; {count} file{'s' * (count != 1)} skipped (not scanned)"
        return line

    def to_dict(self) -> dict[str, Any]:
        return {
            # vars(): the fields, all of immutable values (asdict's deep copy costs more than the
            # rest of the JSON output on a large result)
            "references": [_reference_dict(r) for r in self.references],
            "dynamic": [{**vars(d), "candidates": list(d.candidates)} for d in self.dynamic],
            "skipped": [dict(vars(s)) for s in self.skipped],
            "summary": self.summary(),
        }


def _reference_dict(reference: Reference) -> dict[str, Any]:
    """A reference in scan's JSON: the statement text is check's (it replays it), not shown."""
    data = {**vars(reference), "columns": list(reference.columns)}
    del data["statement"]
    return data
