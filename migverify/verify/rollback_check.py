"""The rollback script, checked: run after workloads in the migrated world, it must give back
the legacy tables as the reference world holds them (rows, sequences, shape). A mixin of
Verification (run.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from migverify.catalog import load_catalog
from migverify.quoting import ident
from migverify.verify.compare import (
    FAIL,
    Difference,
    compare_contents,
)
from migverify.verify.probes import ProbeBuilder, sql_value
from migverify.verify.statement import (
    Statement,
)
from migverify.verify.static import (
    rollback_differences,
)


class RollbackCheck:
    """Rollback checks (see the module)."""

    def rollback_checks(self, workloads_: Sequence[tuple[Statement, ...]]) -> list[Difference]:
        """The rollback right after cutover, then after each workload: the legacy tables must
        come back with every row written through the layer."""
        assert self.rollback is not None
        found: list[Difference] = []
        for workload in ((), *workloads_):
            difference = self._rollback_after(workload)
            if difference:
                found.append(difference)
                break
        return found

    def rolled_back_contents(self) -> Difference | None:
        """The first relation whose rows differ from the reference world's after a rollback."""
        for relation in self.relations:
            masked = self.masked[relation.display_name]
            ref = self.ref.contents(relation, masked)
            mig = self.mig.contents(relation, masked, cached=False)
            difference = compare_contents(
                relation.display_name, "rollback", ref, mig, relation.column_names
            )
            if difference:
                return difference
        return None

    def _rollback_after(self, workload: tuple[Statement, ...]) -> Difference | None:
        assert self.rollback is not None
        for world in (self.ref, self.mig):
            world.begin_example()
        try:
            if workload:
                ref_run, mig_run = self._both(
                    lambda world: world.run_in_transaction(workload, self.masked)
                )
                if self.compare(workload, ref_run, mig_run):
                    return None  # a difference the workload shows is reported elsewhere
            error = self._apply_rollback()
            if error:
                return error
            restored = load_catalog(self.mig.conn)
            if not workload:
                for relation in self.relations:
                    problems = rollback_differences(
                        relation, restored.find(relation.qualified_name)
                    )
                    if problems:
                        return problems[0]
            difference = self.rolled_back_contents()
            if difference:
                return dataclasses.replace(
                    difference,
                    diagnosis=difference.diagnosis
                    + (f" (after: {'; '.join(s.sql for s in workload)})" if workload else ""),
                )
            return self._sequence_difference()
        finally:
            for world in (self.ref, self.mig):
                world.end_example()

    def _apply_rollback(self) -> Difference | None:
        """The rollback script, in the workload's transaction but as in one of its own: the
        constraints declared INITIALLY DEFERRED are checked at its end, not per statement."""
        assert self.rollback is not None
        deferred = self.mig.conn.execute(
            "SELECT format('%I.%I', n.nspname, c.conname) FROM pg_constraint c "
            "JOIN pg_namespace n ON n.oid = c.connamespace WHERE c.condeferred ORDER BY 1"
        ).fetchall()
        if deferred:
            self.mig.conn.execute(f"SET CONSTRAINTS {', '.join(d[0] for d in deferred)} DEFERRED")
        steps = [(s.text, s.line) for s in self.rollback.statements()]
        for text, line in [*steps, ("SET CONSTRAINTS ALL IMMEDIATE", None)]:
            outcome = self.mig.execute(text)
            if not outcome.ok:
                self.mig.settle(False)
                where = f"{self.rollback.name}:{line}" if line else f"{self.rollback.name} (end)"
                return Difference(
                    FAIL,
                    "-",
                    "rollback",
                    f"{where}: rollback fails: {outcome.message} (SQLSTATE {outcome.sqlstate})",
                )
            self.mig.settle(True)
        return None

    def _sequence_difference(self) -> Difference | None:
        ref = self.ref.next_values(self.relations)
        mig = self.mig.next_values(self.relations)
        for key, value in ref.items():
            if mig.get(key) != value:
                return Difference(
                    FAIL,
                    key.split(".")[0],
                    "rollback",
                    f"after rollback the sequence of {key} continues at {mig.get(key)}, "
                    f"legacy at {value}",
                )
        return None

    def _rollback_workloads(self) -> list[tuple[Statement, ...]]:
        """A deterministic write workload over every table, then a few random ones."""
        others = {f.relation.qualified_name: f for f in self.facts}
        mixed: list[Statement] = []
        for facts in self.facts:
            builder = ProbeBuilder(facts, others, (), (), self.server_version)
            base = self._base(builder)
            if base:
                mixed += [*base[0].prerequisites, builder.insert(base[0].values)]
                keyed = {
                    c.name for c in facts.relation.columns if c.identity or c.default_uses_sequence
                }
                without = {c: v for c, v in base[1].values.items() if c not in keyed}
                if keyed and without:
                    mixed.append(builder.insert(without))
            if len(facts.seeded) >= 2 and builder.writable:
                column = builder.writable[-1]
                value = facts.seeded[1].get(column.name)
                mixed.append(
                    builder.update(
                        f"{ident(column.name)} = {sql_value(value, column)}", facts.seeded[0]
                    )
                )
        return [tuple(mixed)] if mixed else []
