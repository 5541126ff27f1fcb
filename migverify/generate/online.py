"""The online cutover: which tables go online and what their phases need from the plan.

A table goes **online** when it is large (`pg_class.reltuples` at least `[generate]
online_threshold`) or the spec says `mode = "online"`: the expand phase installs a sync trigger on
the legacy table that copies every write into the target in the writer's own transaction, the
backfill copies the existing rows in key-ordered batches (each its own transaction), and the
switch only confirms and swaps names under a short lock. Otherwise it goes **offline**: the switch
copies its rows under the lock, as forward.sql does.

Online needs a way to address single rows on both sides: a single-column key of the legacy table
to copy in order (the plan's batch column) and a unique key of the target on the mapped key (plus
discriminator columns) for `ON CONFLICT`. A table that lacks one stays offline, and REVIEW.md says
why; a spec that forces such a table online is refused.

Foreign keys between the target tables are **suspended** while the phases run (dropped by expand,
added back `NOT VALID` by the switch and validated after it): a sync trigger copies a child row as
soon as it is written, possibly before the backfill has copied its parent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from migverify.catalog import Catalog
from migverify.generate.model import TablePlan
from migverify.spec import Spec

ONLINE, OFFLINE = "online", "offline"


@dataclass(frozen=True)
class SuspendedKey:
    """A foreign key between target tables, dropped while the phases run."""

    table: str  # qualified referencing target table
    name: str
    definition: str  # pg_get_constraintdef
    validated: bool
    partitioned: bool = False

    @property
    def definition_valid(self) -> str:
        """The definition without a trailing NOT VALID (a key that was not valid stays so)."""
        return self.definition.removesuffix(" NOT VALID")


def with_modes(spec: Spec, plans: Sequence[TablePlan], sizes: Mapping[str, int]) -> list[TablePlan]:
    """Each plan with its mode and the reason, and for online ones the target's conflict key."""
    return [_with_mode(spec, plan, sizes.get(plan.legacy.qualified_name)) for plan in plans]


def _with_mode(spec: Spec, plan: TablePlan, rows: int | None) -> TablePlan:
    forced = spec.table(plan.name).mode or (spec.mode if spec.mode != "auto" else None)
    conflict_key, blocker = _online_requirements(plan)
    size = f"about {rows:,} rows (pg_class.reltuples)" if rows is not None else "size unknown"
    if forced == OFFLINE:
        mode, why = OFFLINE, f'the spec says mode = "offline"; {size}'
    elif forced == ONLINE:
        if blocker:
            raise spec.error(
                f"tables.{plan.name}.mode",
                f'{plan.name} cannot be cut over online: {blocker} (use mode = "offline")',
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
        conflict_key=conflict_key if mode == ONLINE else (),
    )


def _online_requirements(plan: TablePlan) -> tuple[tuple[str, ...], str | None]:
    """The target columns of ON CONFLICT, or why the table cannot go online."""
    if plan.batch_column is None:
        return (), (
            "it has no single-column primary or unique key of an orderable type to copy it in "
            "key order"
        )
    key = plan.batch_column
    if key.alias != "t" or key.up is not None:
        return (), f"its key {key.legacy.name} does not map to a plain column of {plan.target.name}"
    for side in plan.sides:
        if not side.upsertable:
            return (), f"side table {side.table} has no unique key on its join columns"
    discriminator = {column for column, _ in plan.discriminator}
    for constraint in plan.target.unique_keys:
        columns = set(constraint.columns)
        if key.column in columns and columns - {key.column} <= discriminator:
            return tuple(constraint.columns), None
    return (), (
        f"{plan.target.name} has no primary key or unique constraint on {key.column}"
        + (" and the discriminator" if discriminator else "")
        + " (the sync trigger and the backfill need one for ON CONFLICT)"
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
                    definition=constraint.definition,
                    validated=constraint.validated,
                    partitioned=relation.kind == "partitioned table",
                )
    return tuple(found[k] for k in sorted(found))
