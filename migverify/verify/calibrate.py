"""Columns two identical runs in the legacy world do not agree on.

A default with `random()` or `gen_random_uuid()` is known from the catalog, and values a clock
writes compare through the run's window (clock.py); but a trigger or a rule can draw a value
too (`NEW.token := md5(random()::text)`), and no reading of the catalog finds every way. So
before the comparison starts, the same small write workload (an insert of a row built for the
table, an update of a stored row that changes nothing, which fires the update triggers) runs
twice in the reference world; a column whose values differ between the two runs is compared by
presence, and the coverage report names it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from migverify.quoting import ident
from migverify.verify.facts import TableFacts
from migverify.verify.probes import ProbeBuilder
from migverify.verify.statement import Statement
from migverify.verify.worlds import World


def unstable_columns(
    world: World,
    facts: Sequence[TableFacts],
    masked: Mapping[str, frozenset[str]],
    server_version: int,
) -> dict[str, frozenset[str]]:
    """Per relation (display name), the columns not already masked whose values differ
    between two runs of the same workload in WORLD."""
    others = {f.relation.qualified_name: f for f in facts}
    found: dict[str, frozenset[str]] = {}
    for fact in facts:
        workload = _workload(ProbeBuilder(fact, others, (), (), server_version))
        if not workload:
            continue
        name = fact.name
        runs = [_after(world, workload, fact, masked) for _ in range(2)]
        if any(isinstance(run, str) for run in runs):
            continue  # the workload failed: nothing learned
        columns = fact.relation.column_names
        differing = frozenset(
            column
            for position, column in enumerate(columns)
            if column not in masked[name]
            and Counter(row[position] for row in runs[0])
            != Counter(row[position] for row in runs[1])
        )
        if differing:
            found[name] = differing
    return found


def _workload(builder: ProbeBuilder) -> tuple[Statement, ...]:
    statements: list[Statement] = []
    if builder.facts.fresh:
        base = builder.built_row(builder.facts.fresh[0])
        statements += [*base.prerequisites, builder.insert(base.values)]
    seeded = builder.facts.seeded
    if seeded and builder.writable:
        name = ident(builder.writable[0].name)
        statements.append(builder.update(f"{name} = {name}", seeded[0]))
    return tuple(statements)


def _after(
    world: World,
    workload: Sequence[Statement],
    fact: TableFacts,
    masked: Mapping[str, frozenset[str]],
) -> Counter | str:
    world.begin_example()
    try:
        world.run_in_transaction(workload, masked)
        return world.contents(fact.relation, masked[fact.name])
    finally:
        world.end_example()
