"""The verdict of a run: differences classified (failures, warnings, notes), evidence that
was required but never gathered (INCOMPLETE), fixes attached, and the VerifyResult. A mixin of
Verification (run.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from migverify.verify import Counterexample, VerifyResult
from migverify.verify.compare import (
    FAIL,
    INFO,
    WARN,
    Difference,
)
from migverify.verify.fixes import with_fixes


class Verdict:
    """The verdict (see the module)."""

    def untested_writes(self) -> list[str]:
        """A sentence per compared table (not a neighbour) on which a requested write was
        never accepted by the legacy table: a verdict needs that evidence."""
        wanted = [op for op in ("insert", "update", "delete") if op in self.request.operations]
        sentences = []
        for relation in self.relations:
            name = relation.display_name
            missing = [op for op in wanted if not self.coverage.accepted[(name, op)]]
            if relation in self.neighbours or not missing:
                continue
            why = self.unbuildable.get(name) or "the legacy table accepted none of the statements"
            sentences.append(f"{name}: {', '.join(missing)} not tested ({why})")
        return sentences

    def result(
        self, differences: Sequence[Difference], counterexamples: Sequence[Counterexample], **run
    ) -> VerifyResult:
        """The verdict on DIFFERENCES (the counterexamples' included); RUN: the fields that
        depend on the kind of run (tables, rollback_checked, coverage, …)."""
        fixed = {
            d: f
            for d, f in zip(
                differences,
                with_fixes(differences, self.ref_catalog, self.mig_catalog),
                strict=True,
            )
        }
        differences = [fixed[d] for d in differences]
        counterexamples = [
            dataclasses.replace(c, difference=fixed.get(c.difference, c.difference))
            for c in counterexamples
        ]
        failures, warnings, notes = self.classified(differences)
        return VerifyResult(
            equivalent=not failures and not self.incomplete,
            differences=failures,
            warnings=warnings,
            counterexample=counterexamples[0] if counterexamples else None,
            counterexamples=tuple(counterexamples),
            operations=self.request.operations,
            roles=self.request.roles,
            examples=self.request.examples,
            statements_compared=self.compared,
            seed_value=self.request.seed_value,
            incomplete=tuple(self.incomplete),
            notes=notes,
            replayed=tuple(self.replayed),
            **run,
        )

    def classified(
        self, differences: Sequence[Difference]
    ) -> tuple[tuple[Difference, ...], tuple[Difference, ...], tuple[Difference, ...]]:
        """DIFFERENCES and the tolerated ones seen on the way, as failures (warnings too with
        --strict), warnings, and notes (information)."""
        strict = self.request.strict
        failures = tuple(
            d for d in differences if d.severity == FAIL or (strict and d.severity == WARN)
        )
        warnings = tuple(d for d in differences if d.severity == WARN and not strict)
        warnings += tuple(
            self._warning(k) for k in sorted(self.warnings) if self.warnings[k].severity == WARN
        )
        notes = tuple(
            self._warning(k) for k in sorted(self.warnings) if self.warnings[k].severity == INFO
        )
        return failures, warnings, notes

    def _warning(self, key: str) -> Difference:
        """One warning per kind, with the SQLSTATE pairs seen (legacy -> through the layer)."""
        codes = sorted(self.warning_codes.get(key, ()))
        shown = "; ".join(codes[:4]) + (f"; +{len(codes) - 4} more" if len(codes) > 4 else "")
        warning = self.warnings[key]
        return dataclasses.replace(warning, diagnosis=f"{warning.diagnosis} ({shown})")
