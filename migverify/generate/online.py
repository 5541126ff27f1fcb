"""The online cutover: which tables go online and what their phases need from the plan.

A table goes **online** when it is large (`pg_class.reltuples` at least `[generate]
online_threshold`) or the spec says `mode = "online"`: the expand phase installs a sync trigger on
the legacy table that copies every write into the target in the writer's own transaction, the
backfill copies the existing rows in key-ordered batches (each its own transaction), and the
switch only confirms and swaps names under a short lock. Otherwise it goes **offline**: the switch
copies its rows under the lock, as forward.sql does.

Online needs a way to address single rows on both sides: a key of the legacy table (primary key,
or unique key on NOT NULL columns, of any btree-orderable types) to copy in its order, and a
unique key of the target on the mapped key (plus discriminator columns) for `ON CONFLICT`. A
table that lacks one stays offline, and REVIEW.md says why; a spec that forces such a table
online is refused, with the way out.

Foreign keys between the target tables are **suspended** while the phases run (dropped by expand,
added back `NOT VALID` by the switch and validated after it): a sync trigger copies a child row as
soon as it is written, possibly before the backfill has copied its parent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from migverify.catalog import Catalog
from migverify.generate.copy_keys import foreign_key_definition
from migverify.generate.model import ColumnMap, SuspendedKey, TablePlan
from migverify.spec import Spec

ONLINE, OFFLINE = "online", "offline"


def with_modes(spec: Spec, plans: Sequence[TablePlan], sizes: Mapping[str, int]) -> list[TablePlan]:
    """Each plan with its mode and the reason, and for online ones the target's conflict key."""
    return [_with_mode(spec, plan, sizes.get(plan.legacy.qualified_name)) for plan in plans]


def _with_mode(spec: Spec, plan: TablePlan, rows: int | None) -> TablePlan:
    forced = spec.table(plan.spec_name).mode or (spec.mode if spec.mode != "auto" else None)
    key, conflict_key, blocker = _online_requirements(plan)
    size = f"about {rows:,} rows (pg_class.reltuples)" if rows is not None else "size unknown"
    if forced == OFFLINE:
        mode, why = OFFLINE, f'the spec says mode = "offline"; {size}'
    elif forced == ONLINE:
        if blocker:
            raise spec.error(
                f"tables.{plan.spec_name}.mode",
                f"{plan.legacy.display_name} cannot be cut over online: {blocker}; "
                + (
                    "add a primary key or a unique index on NOT NULL columns to "
                    f"{plan.legacy.display_name}, or cut it over offline"
                    if not plan.key
                    else "cut it over offline"
                )
                + ' (mode = "offline")',
            )
        mode, why = ONLINE, f'the spec says mode = "online"; {size}'
    elif rows is not None and rows >= spec.online_threshold and not blocker:
        mode, why = ONLINE, f"{size}, at least online_threshold = {spec.online_threshold:,}"
    elif rows is not None and rows >= spec.online_threshold:
        mode, why = OFFLINE, f"{size}, but {blocker}: the switch copies it under the lock"
    else:
        mode, why = OFFLINE, f"{size}, below online_threshold = {spec.online_threshold:,}"
    return dataclasses.replace(
        plan,
        mode=mode,
        mode_why=why,
        rows=rows,
        key=key if mode == ONLINE else plan.key,
        conflict_key=conflict_key if mode == ONLINE else (),
    )


def _online_requirements(
    plan: TablePlan,
) -> tuple[tuple[str, ...], tuple[str, ...], str | None]:
    """The legacy key to copy in order of and the target columns of ON CONFLICT, or why the
    table cannot go online. The first of the legacy table's row keys that the target has a
    unique key for (a partitioned target's keys include its partition key, which the legacy
    primary key may not)."""
    if not plan.key:
        return (
            (),
            (),
            (
                "it has no primary key or unique key on NOT NULL columns (the backfill copies in "
                "its order, the sync trigger finds rows by it)"
            ),
        )
    for side in plan.sides:
        if not side.upsertable:
            return (), (), f"side table {side.table} has no unique key on its join columns"
    blockers = []
    for key in plan.legacy.row_keys:
        conflict_key, blocker = _conflict_key(plan, tuple(plan.column(name) for name in key))
        if blocker is None:
            return key, conflict_key, None
        blockers.append(blocker)
    return (), (), blockers[0]


def _conflict_key(
    plan: TablePlan, key: tuple[ColumnMap, ...]
) -> tuple[tuple[str, ...], str | None]:
    """The target's unique key on the legacy KEY's columns (plus discriminator columns), or
    why there is none."""
    for column in key:
        if column.alias != "t" or column.up is not None:
            return (), (
                f"its key column {column.legacy.name} does not map to a plain column of "
                f"{plan.target.name}"
            )
    mapped = {column.column for column in key}
    discriminator = {column for column, _ in plan.discriminator}
    for index in sorted(plan.target.indexes, key=lambda i: (not i.primary, i.name)):
        columns = index.plain_key
        if columns and index.immediate and mapped <= set(columns) <= mapped | discriminator:
            return columns, None
    return (), (
        f"{plan.target.name} has no primary key or unique constraint on "
        f"({', '.join(column.column for column in key)})"
        + (" and the discriminator" if discriminator else "")
        + " that is not deferrable (the sync trigger and the backfill need one for ON CONFLICT)"
    )


def suspended_keys(plans: Sequence[TablePlan], catalog: Catalog) -> tuple[SuspendedKey, ...]:
    """Foreign keys of online targets (and their side tables) that reference a target or side
    table of the spec, except a side table's key to its own target (both written together)."""
    holders = {p.target.qualified_name for p in plans} | {s.table for p in plans for s in p.sides}
    found: dict[tuple[str, str], SuspendedKey] = {}
    for plan in plans:
        if plan.mode != ONLINE:
            continue
        own = {plan.target.qualified_name: None} | {side.table: side for side in plan.sides}
        for table in own:
            relation = catalog.find(table)
            if relation is None:
                continue
            for constraint in relation.foreign_keys:
                if constraint.inherited or constraint.references not in holders:
                    continue
                if own[table] is not None and constraint.references == plan.target.qualified_name:
                    continue
                found[(table, constraint.name)] = SuspendedKey(
                    table=table,
                    name=constraint.name,
                    definition=foreign_key_definition(constraint),
                    validated=constraint.validated,
                    partitioned=relation.kind == "partitioned table",
                    deferrable=constraint.deferrable,
                )
    return tuple(found[k] for k in sorted(found))
