"""`migverify verify`: is a compatibility layer equivalent to the legacy tables?

Two worlds on one real PostgreSQL: the reference (legacy.sql + seed.sql) and the migrated one
(the same + target.sql + the compat script). Static checks first (shape, data right after
cutover, rollback), then hypothesis workloads run side by side; the first difference is shrunk
to the smallest script that shows it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from migverify.errors import InputError
from migverify.sandbox import Sandbox, SandboxConfig
from migverify.verify.compare import FAIL, WARN, Difference
from migverify.verify.workload import DEFAULT_OPERATIONS, OPERATIONS

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

    legacy: tuple[Path, ...]
    target: tuple[Path, ...]
    compat: Path
    seed: tuple[Path, ...] = ()
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


@dataclass(frozen=True)
class Counterexample:
    """The smallest workload found that shows a difference, as a runnable script."""

    role: str | None
    statements: tuple[str, ...]
    difference: Difference
    seed_value: int

    @property
    def script(self) -> str:
        lines = ["-- state: legacy + seed (reference) / + target + compat (migrated)"]
        if self.role:
            lines.append(f"SET ROLE {self.role};")
        lines += [f"{s};" for s in self.statements]
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

    @property
    def verdict(self) -> str:
        return "equivalent" if self.equivalent else "not equivalent"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["verdict"] = self.verdict
        if self.counterexample:
            data["counterexample"]["script"] = self.counterexample.script
        for item, example in zip(data["counterexamples"], self.counterexamples, strict=True):
            item["script"] = example.script
        return data


def verify(request: VerifyRequest, progress: Progress | None = None) -> VerifyResult:
    """Run the whole verification; raises InputError for bad input (unknown table or role)."""
    from migverify.verify.run import Verification

    for operation in request.operations:
        if operation not in OPERATIONS:
            raise InputError(
                f"unknown operation {operation!r} (choose from {', '.join(OPERATIONS)})"
            )
    with Sandbox(request.sandbox) as box:
        return Verification(request, box, progress or (lambda message: None)).run()


__all__ += ["FAIL", "WARN"]
