"""Probes that violate exactly one constraint, of the legacy table or of a target table behind
the view, and child rows of neighbouring tables that reference a row written through the layer."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from migverify.catalog import Constraint
from migverify.quoting import ident
from migverify.verify.boundaries import base_type, check_candidates
from migverify.verify.probes.builder import (
    BaseRow,
    ProbeBuilder,
    _short,
    sql_value,
)
from migverify.verify.statement import Probe


def constraint_probes(b: ProbeBuilder, base: BaseRow, second: BaseRow) -> Iterator[Probe]:
    """A statement that violates exactly one constraint, for the legacy table's
    constraints and those of the target tables behind it."""
    ops = set(b.operations)
    constraints = [(c, c.columns, "legacy") for c in b.relation.constraints]
    constraints += [
        (m.constraint, m.columns, f"target {m.table}") for m in b.facts.target_constraints
    ]
    seeded = b.facts.seeded
    for constraint, columns, side in constraints:
        covers = ("constraint", b.table, constraint.name, side)
        if constraint.kind in ("primary key", "unique", "exclusion") and "insert" in ops:
            duplicate = {
                **second.values,
                **{c: base.values[c] for c in columns if c in base.values},
            }
            yield b.probe(
                f"duplicate {', '.join(columns)} ({constraint.name})",
                (
                    *base.prerequisites,
                    *second.prerequisites,
                    b.insert(base.values),
                    b.insert(duplicate),
                ),
                ("operation", b.table, "insert"),
                covers,
            )
            if len(seeded) >= 2 and "update" in ops:
                sets = ", ".join(
                    f"{ident(c)} = {sql_value(seeded[0].get(c), b.relation.column(c))}"
                    for c in columns
                )
                if all(b.relation.column(c) in b.writable for c in columns):
                    yield b.probe(
                        f"update to a duplicate {', '.join(columns)} ({constraint.name})",
                        [b.update(sets, seeded[1])],
                        ("operation", b.table, "update"),
                        covers,
                    )
        elif constraint.kind == "check":
            yield from _check_probes(b, constraint, columns, base, covers)
        elif constraint.kind == "foreign key" and "insert" in ops:
            dangling = dict(base.values)
            for column in columns:
                fresh = b.fresh(b.relation.column(column), 999_983)
                if fresh is None:
                    break
                dangling[column] = fresh
            else:
                yield b.probe(
                    f"insert without a parent ({constraint.name})",
                    [b.insert(dangling)],
                    ("operation", b.table, "insert"),
                    covers,
                )
    yield from _child_probes(b, base)


def _check_probes(
    b: ProbeBuilder,
    constraint: Constraint,
    columns: Sequence[str],
    base: BaseRow,
    covers: tuple[str, ...],
) -> Iterator[Probe]:
    ops = set(b.operations)
    seeded = b.facts.seeded
    for name in columns:
        column = b.relation.column(name)
        if column not in b.writable:
            continue
        for candidate in check_candidates(constraint.definition, column.type):
            value = sql_value(candidate, column)
            if "insert" in ops:
                yield b.probe(
                    f"insert {name} = {_short(value)} ({constraint.name})",
                    b.with_base(base, b.insert({**base.values, name: value})),
                    ("operation", b.table, "insert"),
                    covers,
                )
            if "update" in ops and seeded:
                yield b.probe(
                    f"update {name} = {_short(value)} ({constraint.name})",
                    [b.update(f"{ident(name)} = {value}", seeded[0])],
                    ("operation", b.table, "update"),
                    covers,
                )
    yield from _column_pair_probes(b, constraint, columns, base, covers)


def _column_pair_probes(
    b: ProbeBuilder,
    constraint: Constraint,
    columns: Sequence[str],
    base: BaseRow,
    covers: tuple[str, ...],
) -> Iterator[Probe]:
    """A CHECK that compares columns (parent <> id, starts_on < ends_on) has no constants to
    go around: one column given the other's value, and the two swapped."""
    ops = set(b.operations)
    seeded = b.facts.seeded
    writable = [b.relation.column(c) for c in columns if b.relation.column(c) in b.writable]
    for number, first in enumerate(writable):
        for second in writable[number + 1 :]:
            if base_type(first.type) != base_type(second.type):
                continue
            a, z = ident(first.name), ident(second.name)
            if "insert" in ops and second.name in base.values:
                yield b.probe(
                    f"insert {first.name} = {second.name} ({constraint.name})",
                    b.with_base(
                        base, b.insert({**base.values, first.name: base.values[second.name]})
                    ),
                    ("operation", b.table, "insert"),
                    covers,
                )
            if "update" in ops and seeded:
                for sets, label in (
                    (f"{a} = {z}", f"{first.name} = {second.name}"),
                    (f"{a} = {z}, {z} = {a}", f"{first.name} and {second.name} swapped"),
                ):
                    yield b.probe(
                        f"update {label} ({constraint.name})",
                        [b.update(sets, seeded[0])],
                        ("operation", b.table, "update"),
                        covers,
                    )


def _child_probes(b: ProbeBuilder, base: BaseRow) -> Iterator[Probe]:
    """A row of another compared table that references the base row written through the
    layer (a child table outside the spec must still accept it)."""
    if "insert" not in b.operations:
        return
    for facts in sorted(b.others.values(), key=lambda f: f.relation.qualified_name):
        for fk in facts.relation.foreign_keys:
            if fk.references != b.relation.qualified_name or facts is b.facts:
                continue
            child = ProbeBuilder(facts, b.others, (), (), b.server_version)
            pairs = child.base_candidates()
            if not pairs:
                continue
            row = dict(pairs[0][0].values)
            if any(c not in base.values for c in fk.referenced_columns):
                continue
            for column, referenced in zip(fk.columns, fk.referenced_columns, strict=True):
                row[column] = base.values[referenced]
            yield b.probe(
                f"insert a {facts.name} row referencing a new row ({fk.name})",
                (
                    *base.prerequisites,
                    *pairs[0][0].prerequisites,
                    b.insert(base.values),
                    child.insert(row),
                ),
                ("operation", b.table, "insert"),
                ("constraint", facts.name, fk.name, "neighbour"),
            )
