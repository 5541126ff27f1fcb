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

from migverify.catalog import Relation
from migverify.quoting import ident
from migverify.verify.facts import TableFacts
from migverify.verify.probes import ProbeBuilder
from migverify.verify.statement import Statement
from migverify.verify.worlds import World


def unstable_columns(
    world: World,
    relations: Sequence[Relation],
    facts: Sequence[TableFacts],
    masked: Mapping[str, frozenset[str]],
    server_version: int,
) -> dict[str, frozenset[str]]:
    """Per relation (display name), the columns not already masked whose values differ
    between two runs of the same workloads in WORLD (whose digests cover RELATIONS, in order):
    a trigger of one table may draw the value another table stores."""
    others = {f.relation.qualified_name: f for f in facts}
    workloads = [
        w for f in facts if (w := _workload(ProbeBuilder(f, others, (), (), server_version)))
    ]
    if not workloads:
        return {}
    first = world.run_examples(workloads, masked)
    second = world.run_examples(workloads, masked)
    found: dict[str, frozenset[str]] = {}
    for workload, a, b in zip(workloads, first, second, strict=True):
        for position, relation in enumerate(relations):
            if position >= len(a.digest) or a.digest[position] == b.digest[position]:
                continue
            runs = [_after(world, workload, relation, masked) for _ in range(2)]
            if any(isinstance(run, str) for run in runs):
                continue  # the workload failed: nothing learned
            name = relation.display_name
            differing = frozenset(
                column
                for index, column in enumerate(relation.column_names)
                if column not in masked[name]
                and Counter(row[index] for row in runs[0]) != Counter(row[index] for row in runs[1])
            )
            if differing:
                found[name] = found.get(name, frozenset()) | differing
    return found


def _workload(builder: ProbeBuilder) -> tuple[Statement, ...]:
    """Writes of the table: a built row inserted, another leaving the columns whose defaults
    draw values (gen_random_uuid(), random()) to them, another leaving every column that has a
    default to it, a stored row updated to itself (which fires the update triggers)."""
    statements: list[Statement] = []
    fresh = builder.facts.fresh
    if fresh:
        base = builder.built_row(fresh[0])
        statements += [*base.prerequisites, builder.insert(base.values)]
    relation = builder.relation
    drawn = {c.name for c in relation.columns if c.default_volatility == "volatile"}
    defaults = {c.name for c in relation.columns if c.default is not None or c.identity}
    # Left to their defaults: the columns a default draws (a uuid key a trigger copies into
    # another table), then every column with a default (auth.uid() may be NULL here).
    for row, omitted in ((fresh[1:2], drawn), (fresh[2:3], defaults)):
        if row and omitted:
            other = builder.built_row(row[0])
            values = {c: v for c, v in other.values.items() if c not in omitted}
            statements += [*other.prerequisites, builder.insert(values)]
    seeded = builder.facts.seeded
    if seeded and builder.writable:
        name = ident(builder.writable[0].name)
        statements.append(builder.update(f"{name} = {name}", seeded[0]))
    return tuple(statements)


def _after(
    world: World,
    workload: Sequence[Statement],
    relation: Relation,
    masked: Mapping[str, frozenset[str]],
) -> Counter | str:
    world.begin_example()
    try:
        world.run_in_transaction(workload, masked)
        return world.contents(relation, masked[relation.display_name])
    finally:
        world.end_example()
