"""`migverify verify`: is a compatibility layer equivalent to the legacy tables?

Two worlds on one real PostgreSQL: the reference (legacy.sql + seed.sql) and the migrated one,
a copy of the reference after the seed plus target.sql and the compat script. Static checks
first (shape, neighbouring tables, data right after cutover), then deterministic probes derived
from the catalogs, then hypothesis workloads for interactions, then the rollback. Every
difference comes with the smallest script that shows it, and the coverage report says what was
exercised and what was not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from migverify.errors import InputError
from migverify.sandbox import Sandbox, SandboxConfig
from migverify.sqlload import Source
from migverify.supabase import SupabaseOptions
from migverify.verify.compare import FAIL, INFO, WARN, Difference
from migverify.verify.coverage import Coverage
from migverify.verify.statement import DEFAULT_OPERATIONS, OPERATIONS, Statement, session_lines

__all__ = [
    "DEFAULT_OPERATIONS",
    "OPERATIONS",
    "Counterexample",
    "Difference",
    "VerifyRequest",
    "VerifyResult",
    "verify",
]

DEFAULT_EXAMPLES = 60
Progress = Callable[[str], None]


@dataclass(frozen=True)
class VerifyRequest:
    """The inputs of one verification. `legacy` may list several files (e.g. schema then seed)."""

    legacy: tuple[Source, ...]
    target: tuple[Source, ...]
    compat: Path
    seed: tuple[Source, ...] = ()
    rollback: Path | None = None
    operations: tuple[str, ...] = DEFAULT_OPERATIONS
    roles: tuple[str, ...] = ()
    tables: tuple[str, ...] = ()
    examples: int = DEFAULT_EXAMPLES
    steps: int = 8
    seed_value: int = 0
    strict: bool = False
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    compat_sql: str | None = None  # the compat script's text when it is not a file (generated)
    rollback_sql: str | None = None
    supabase: SupabaseOptions = field(default_factory=SupabaseOptions)  # shim, skipped extensions
    online: Any = None  # OnlineScripts: also prove the online phases (verify/online.py)
    queries: tuple[Path, ...] = ()  # the application's statements to replay (replay.py)
    code_queries: tuple[Any, ...] = ()  # replay.Query: raw SQL the scan found in the code


def script_lines(statements: Sequence[Statement]) -> tuple[str, ...]:
    """Statements as lines of a psql script, switching role (and signed-in user) where they
    change."""
    lines: list[str] = []
    current: tuple[str | None, str | None] = (None, None)
    for statement in statements:
        session = (statement.role, statement.claims)
        if session != current:
            lines += session_lines(*session)
            current = session
        lines.append(statement.script())
    return tuple(lines)


@dataclass(frozen=True)
class Counterexample:
    """The smallest workload found that shows a difference, as a runnable script."""

    role: str | None
    statements: tuple[str, ...]  # script lines (see script_lines)
    difference: Difference
    seed_value: int
    probe: str | None = None  # the deterministic probe that found it (None: the random search)

    @property
    def script(self) -> str:
        lines = ["-- state: legacy + seed (reference) / + target + compat (migrated)"]
        lines += list(self.statements)
        return "\n".join(lines)


@dataclass(frozen=True)
class VerifyResult:
    equivalent: bool
    differences: tuple[Difference, ...]
    warnings: tuple[Difference, ...]
    counterexample: Counterexample | None
    counterexamples: tuple[Counterexample, ...]
    tables: tuple[str, ...]
    operations: tuple[str, ...]
    roles: tuple[str, ...]
    examples: int
    statements_compared: int
    seed_value: int
    rollback_checked: bool
    coverage: Coverage | None = None
    incomplete: tuple[str, ...] = ()  # requested but impossible to test (no verdict of equal)
    notes: tuple[Difference, ...] = ()  # information: differences that do not matter
    skipped: tuple[str, ...] = ()  # left untested by skipped extensions (also in coverage)
    online: Any = None  # OnlineSummary when the online phases were proved too
    # the replayed statements of --queries: (file:line, outcome), in file order
    replayed: tuple[tuple[str, str], ...] = ()

    @property
    def verdict(self) -> str:
        if self.differences:
            return "not equivalent"
        return "incomplete" if self.incomplete else "equivalent"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["verdict"] = self.verdict
        if self.coverage is not None:
            data["coverage"] = self.coverage.to_dict()
        if self.counterexample:
            data["counterexample"]["script"] = self.counterexample.script
        for item, example in zip(data["counterexamples"], self.counterexamples, strict=True):
            item["script"] = example.script
        return data


def verify(
    request: VerifyRequest, progress: Progress | None = None, *, box: Sandbox | None = None
) -> VerifyResult:
    """Run the whole verification; raises InputError for bad input (unknown table or role).
    BOX: a sandbox the caller has open (its server, and the legacy SQL it loaded already)."""
    from migverify.verify.run import Verification

    for operation in request.operations:
        if operation not in OPERATIONS:
            raise InputError(
                f"unknown operation {operation!r} (choose from {', '.join(OPERATIONS)})"
            )
    say = progress or (lambda message: None)
    if box is None:
        with Sandbox(request.sandbox) as own:
            return verify(request, progress, box=own)
    result = Verification(request, box, say).run()
    if request.online is not None:
        from migverify.verify.online import OnlineVerification, merged

        result = merged(result, OnlineVerification(request, request.online, box, say).run())
    return result


__all__ += ["FAIL", "INFO", "WARN", "script_lines"]
