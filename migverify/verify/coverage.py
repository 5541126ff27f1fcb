"""What a verification exercised, per table, and what it did not test (never a silent pass).

Built from the names the probes carry (`Probe.covers`) and from the statements the search ran;
nothing here is re-derived from the catalogs except the list of what exists to be covered.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from migverify.verify.facts import TableFacts
from migverify.verify.statement import Probe, Statement


@dataclass(frozen=True)
class TableCoverage:
    table: str
    neighbour: bool
    columns_probed: tuple[str, ...]
    columns_not_probed: tuple[str, ...]  # "name: reason"
    constraints_probed: tuple[str, ...]  # "name (legacy)" / "name (target schema.table)"
    constraints_not_probed: tuple[str, ...]
    operations: tuple[tuple[str, int], ...]  # statements compared per operation
    roles: tuple[str, ...]
    # statements the legacy table accepted per operation (writes: that changed a row): the
    # evidence an operation was tested, not only tried
    accepted: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class Coverage:
    tables: tuple[TableCoverage, ...]
    forms: tuple[str, ...]  # statement forms the probes ran
    untested: tuple[str, ...]  # what was not tested and why, one sentence each
    probes: int
    probe_statements: int
    search_statements: int
    # how values that cannot be compared as they are were compared (clock values, added rows)
    compared_as: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        data = asdict(self)
        for table in data["tables"]:
            table["operations"] = dict(table["operations"])
            table["accepted"] = dict(table["accepted"])
        return data


@dataclass
class CoverageRecorder:
    """Collects what ran while the verification goes on."""

    probes_run: list[Probe] = field(default_factory=list)
    searched: Counter = field(default_factory=Counter)  # (table, operation) -> statements
    untested: list[str] = field(default_factory=list)
    compared_as: list[str] = field(default_factory=list)
    accepted: Counter = field(default_factory=Counter)  # (table, operation) -> statements

    def probe(self, probe: Probe) -> None:
        self.probes_run.append(probe)

    def search(self, statements: Iterable[Statement]) -> None:
        for statement in statements:
            self.searched[(statement.table, statement.operation)] += 1

    def note(self, sentence: str) -> None:
        if sentence not in self.untested:
            self.untested.append(sentence)

    def compared(self, sentence: str) -> None:
        if sentence not in self.compared_as:
            self.compared_as.append(sentence)

    def accept(self, table: str, operation: str) -> None:
        self.accepted[(table, operation)] += 1

    def build(self, facts: Sequence[TableFacts]) -> Coverage:
        covered: set[tuple[str, ...]] = set()
        operations: Counter = Counter(self.searched)
        for probe in self.probes_run:
            covered.update(probe.covers)
            for statement in probe.statements:
                operations[(statement.table, statement.operation)] += 1
        tables = []
        for fact in facts:
            tables.append(_table(fact, covered, operations, self.accepted))
        forms = sorted({c[1] for c in covered if c[0] == "form"})
        return Coverage(
            tables=tuple(tables),
            forms=tuple(forms),
            untested=tuple(self.untested),
            probes=len(self.probes_run),
            probe_statements=sum(len(p.statements) for p in self.probes_run),
            search_statements=sum(self.searched.values()),
            compared_as=tuple(self.compared_as),
        )


def _table(
    fact: TableFacts, covered: set[tuple[str, ...]], operations: Counter, accepted: Counter
) -> TableCoverage:
    name = fact.name
    relation = fact.relation
    columns = [c.name for c in relation.columns]
    probed = [c for c in columns if ("column", name, c) in covered]
    not_probed = [f"{c}: no probe reached it" for c in columns if c not in probed]
    constraints: list[tuple[str, str]] = [(c.name, "legacy") for c in relation.constraints]
    constraints += [(m.constraint.name, f"target {m.table}") for m in fact.target_constraints]
    constraint_done = {(c[2], c[3] if len(c) > 3 else "") for c in covered if c[0] == "constraint"}
    constraint_names = {c[2] for c in covered if c[0] == "constraint"}
    done, missing = [], []
    for constraint, side in constraints:
        label = f"{constraint} ({side})"
        if (constraint, side) in constraint_done or (
            side == "legacy" and constraint in constraint_names
        ):
            done.append(label)
        else:
            missing.append(f"{label}: no witness derived")
    roles = sorted({c[1] for c in covered if c[0] == "role" and c[2] == name})
    ops = sorted((op, n) for (table, op), n in operations.items() if table == name)
    return TableCoverage(
        table=name,
        neighbour=fact.neighbour,
        columns_probed=tuple(probed),
        columns_not_probed=tuple(not_probed),
        constraints_probed=tuple(done),
        constraints_not_probed=tuple(missing),
        operations=tuple(ops),
        roles=tuple(roles),
        accepted=tuple(sorted((op, n) for (table, op), n in accepted.items() if table == name)),
    )
