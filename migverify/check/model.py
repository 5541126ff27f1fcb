"""What `migverify check` found: problems (lint, verify, drift), where they bite, and the verdict."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

ERROR, WARNING = "error", "warning"
INCOMPLETE_RULE = "MV103"

# Rules of the gate itself, next to the lint rules MV001-MV011 (documented in migverify.lint).
CHECK_RULES: dict[str, tuple[str, str]] = {
    "MV100": (
        "Behaviour differs through the compatibility layer",
        "`migverify verify` ran the operations the code performs (found by the scan) against "
        "the legacy tables and through the compatibility layer, on real PostgreSQL, and an "
        "outcome differed: an error where the legacy table accepted the statement, different "
        "rows stored or returned, or a guarantee (key, foreign key, NOT NULL, check) lost. The "
        "finding carries the smallest SQL script that reproduces it.",
    ),
    "MV101": (
        "Behaviour differs in a tolerated way",
        "The layer accepts a value the legacy table rejected with a data error (class 22, e.g. "
        "a widened type), or both reject with different error codes. Not an error unless "
        "`--fail-on warning` (or `strict = true` under `[check]`).",
    ),
    "MV102": (
        "Rollback does not restore the legacy tables",
        "After the workload, the rollback script ran and a legacy table differs from one that "
        "never migrated: rows written after cutover lost, a column, key, constraint or default "
        "missing, or a sequence that no longer continues where it was.",
    ),
    "MV103": (
        "Verification incomplete",
        "Something the gate was asked to verify could not be tested, so the verdict is "
        "INCOMPLETE (exit 1; `--allow-incomplete` lets it pass), never SAFE: a renamed table "
        "on which the legacy table accepted no insert, update or delete (migverify builds rows "
        "for any schema, parents first, CHECKs solved; the finding says why none could be "
        "built, e.g. a trigger that rejects every insert), a role the connection cannot "
        "assume (`SET ROLE` refused), or a statement form the server lacks (MERGE before "
        "PostgreSQL 15). Give the table a seed row it accepts, grant the role to the "
        "connecting user, or verify on a server that has the feature. A warning for what the "
        "loaded SQL has that cannot be tested here: each foreign table (its rows are on another "
        "server), and each function that calls a function nothing installed provides (it fails "
        "the same way in both worlds), named with the extension it comes from when known and "
        "whether that extension was skipped (`[legacy] skip_extensions`) or never created.",
    ),
    "MV120": (
        "The reference consumer behaves differently",
        "`check --consumer reference` runs the seed's learning pipeline (posting, scraping, "
        "ingest, rewards, bandits, content choice) for a number of cycles against the legacy "
        "tables and through the layer, in lockstep. Every stage must produce the same output; "
        "the first stage that differs, or fails in one world only, is reported.",
    ),
    "MV110": (
        "Committed SQL differs from a fresh generate (drift)",
        "The generated compatibility layer committed under `[generate] out` is not what "
        "`migverify generate` produces from the current spec and schemas. Regenerate it and "
        "review the diff, or fix the spec.",
    ),
}


@dataclass(frozen=True)
class Location:
    """A place in the user's files: code that uses a legacy table, or a script line."""

    path: str
    line: int
    column: int = 1
    operation: str | None = None


@dataclass(frozen=True)
class Problem:
    """One reason (or warning) against cutting over, with the code locations it affects."""

    rule: str
    severity: str  # error | warning
    table: str | None
    message: str
    location: Location | None = None
    detail: str = ""  # e.g. a counterexample script or a diff
    affected: tuple[Location, ...] = ()
    fix: str = ""  # SQL (or a sentence) that mends it, when known
    fix_at: Location | None = None  # where the fix goes: the end of the user's layer script

    def sort_key(self) -> tuple[Any, ...]:
        where = self.location or Location("", 0)
        return (
            self.table or "",
            0 if self.severity == ERROR else 1,
            self.rule,
            where.path,
            where.line,
            where.column,
            self.message,
        )


@dataclass(frozen=True)
class TableSummary:
    legacy: str
    target: str | None
    references: int
    operations: tuple[str, ...]


@dataclass(frozen=True)
class CheckResult:
    """The gate's answer. `safe` is the verdict under the chosen `fail_on` level."""

    spec: str
    compat: str  # "generated" or the user's script
    fail_on: str
    tables: tuple[TableSummary, ...]
    problems: tuple[Problem, ...]
    references: int = 0
    files_with_references: int = 0
    dynamic: int = 0
    verified: dict[str, Any] = field(default_factory=dict)  # verify's summary (ops, roles, …)
    allow_incomplete: bool = False  # --allow-incomplete: an INCOMPLETE verdict passes the gate

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == ERROR)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == WARNING)

    @property
    def safe(self) -> bool:
        failing = self.problems if self.fail_on == WARNING else self.errors
        return not failing

    @property
    def untested(self) -> tuple[Problem, ...]:
        """What could not be tested (MV103 errors): no verdict of safe rests on it."""
        return tuple(p for p in self.errors if p.rule == INCOMPLETE_RULE)

    @property
    def verdict(self) -> str:
        """safe; incomplete (nothing failed, but something asked for was not tested); not safe."""
        if self.safe:
            return "safe"
        failing = self.problems if self.fail_on == WARNING else self.errors
        if all(p.rule == INCOMPLETE_RULE for p in failing):
            return "incomplete"
        return "not safe"

    @property
    def passed(self) -> bool:
        """Whether the gate lets the cutover through (exit 0)."""
        return self.safe or (self.verdict == "incomplete" and self.allow_incomplete)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["problems"] = [asdict(p) for p in sorted(self.problems, key=Problem.sort_key)]
        data["safe"] = self.safe
        data["verdict"] = self.verdict
        data["passed"] = self.passed
        data["counts"] = {"errors": len(self.errors), "warnings": len(self.warnings)}
        return data


def rule_catalog() -> list[tuple[str, str, str]]:
    """(id, title, documentation) of every rule `check` can report: lint rules and gate rules."""
    from migverify.lint import rule_docs

    return [*rule_docs(), *((rid, t, body) for rid, (t, body) in CHECK_RULES.items())]
