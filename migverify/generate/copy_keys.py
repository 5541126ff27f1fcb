"""Foreign keys that a bulk copy would trip over, and how each copy gets past them.

The copies fill tables one after the other, in the plans' order (referenced tables first): the
backfill of forward.sql (every target, in batches along the key), the switch's copy of the
offline tables, and the rollback's copy back into the kept legacy tables (one statement per
table). A foreign key between two of the tables being filled holds at every step only if the
table it references is filled completely before the table that holds it: a cycle of keys
(dbmate-wiki: a page points at its current revision, each revision at its page) or a
self-reference copied in batches (a row whose parent is in a later batch) breaks that.

Such a key is taken out of the way for the copy only: a DEFERRABLE one is deferred (`SET
CONSTRAINTS … DEFERRED`, checked by `SET CONSTRAINTS … IMMEDIATE` right after the copy); any
other is dropped before the copy and added back after it `NOT VALID` (no scan under the lock),
then validated after COMMIT, as the foreign keys the cutover moves are. Every constraint ends as
it was: its name, definition and validity.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pglast import ast, parse_sql
from pglast.stream import RawStream

from migverify.catalog import Catalog, Constraint, Relation
from migverify.generate.model import CopyKeys, SidePlan, SuspendedKey, TablePlan


@dataclass(frozen=True)
class _Filled:
    """When a copy fills a table: the first and last of its steps, whether it is filled in
    more than one statement, and the side tables' join columns onto their target."""

    first: tuple[int, int]
    last: tuple[int, int]
    batched: bool
    joins: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = ()  # (target, cols, ref)


def forward_keys(plans: Sequence[TablePlan], catalog: Catalog) -> CopyKeys:
    """Keys of the targets (and side tables) that forward.sql's backfill would trip over."""
    filled = _target_steps(plans)
    return _copy_keys(_tripped(filled, catalog), _pending(filled, catalog))


def switch_keys(
    plans: Sequence[TablePlan], catalog: Catalog, suspended: Iterable[SuspendedKey]
) -> CopyKeys:
    """Keys that the switch's copy of the offline tables would trip over: between tables it
    fills (an online target is full by then), except those the expand phase suspended."""
    already = {(key.table, key.name) for key in suspended}
    filled = _target_steps([plan for plan in plans if not plan.online])
    keys = tuple(k for k in _tripped(filled, catalog) if (k.table, k.name) not in already)
    return _copy_keys(keys, _pending(filled, catalog))


def copy_back_keys(plans: Sequence[TablePlan]) -> CopyKeys:
    """Keys between the kept legacy tables that the rollback's copy back would trip over (one
    INSERT per table: a self-reference is checked at its end). The key is dropped from the
    kept table and added back once the table has its legacy name again."""
    position = {plan.legacy.qualified_name: index for index, plan in enumerate(plans)}
    found = []
    for index, plan in enumerate(plans):
        for constraint in plan.legacy.foreign_keys:
            parent = position.get(constraint.references or "")
            if constraint.inherited or parent is None or parent <= index:
                continue
            kept = f"{plan.schema}.{plan.kept_name}"
            found.append(_suspended(plan.legacy, constraint, copy_table=kept))
    pending = any(
        constraint.initially_deferred
        for plan in plans
        for constraint in plan.legacy.foreign_keys
        if not constraint.inherited
    )
    return _copy_keys(tuple(found), pending)


def _copy_keys(keys: tuple[SuspendedKey, ...], initially_deferred: bool) -> CopyKeys:
    return CopyKeys(keys, initially_deferred or any(key.deferrable for key in keys))


def _pending(filled: dict[str, _Filled], catalog: Catalog) -> bool:
    """Whether a key of a filled table checks its rows at COMMIT (INITIALLY DEFERRED)."""
    for table in filled:
        relation = catalog.find(table)
        if relation is not None and any(
            c.initially_deferred for c in relation.foreign_keys if not c.inherited
        ):
            return True
    return False


def _target_steps(plans: Sequence[TablePlan]) -> dict[str, _Filled]:
    """Each table the copy of PLANS fills (targets, then their side tables, per plan)."""
    filled: dict[str, _Filled] = {}
    for index, plan in enumerate(plans):
        batched = bool(plan.key)
        tables = [(plan.target.qualified_name, None)] + [(s.table, s) for s in plan.sides]
        for number, (table, side) in enumerate(tables):
            # In batches, the target and its side tables are filled turn about, batch by batch.
            first, last = ((index, 0), (index, len(tables))) if batched else ((index, number),) * 2
            joins = _join(plan, side)
            known = filled.get(table)
            if known is None:
                filled[table] = _Filled(first, last, batched, joins)
            else:  # a merge: several plans fill one target
                filled[table] = _Filled(known.first, last, True, known.joins + joins)
    return filled


def _join(plan: TablePlan, side: SidePlan | None) -> tuple:
    if side is None:
        return ()
    target_columns = tuple(target for target, _ in side.join)
    side_columns = tuple(column for _, column in side.join)
    return ((plan.target.qualified_name, side_columns, target_columns),)


def _tripped(filled: dict[str, _Filled], catalog: Catalog) -> tuple[SuspendedKey, ...]:
    found: dict[tuple[str, str], SuspendedKey] = {}
    for table, child in filled.items():
        relation = catalog.find(table)
        if relation is None:
            continue
        for constraint in relation.foreign_keys:
            parent = filled.get(constraint.references or "")
            if constraint.inherited or parent is None:
                continue
            if _holds_throughout(table, child, constraint, parent):
                continue
            found[(table, constraint.name)] = _suspended(relation, constraint)
    return tuple(found[key] for key in sorted(found))


def _holds_throughout(table: str, child: _Filled, key: Constraint, parent: _Filled) -> bool:
    """Every row the copy writes into TABLE finds its parent already there: the parent table
    is filled before, or the key is a side table's join onto its target (filled in the same
    batch, first), or a self-reference of a table filled in one statement."""
    if parent.last < child.first:
        return True
    if key.references == table:
        return not child.batched
    return any(
        target == key.references
        and set(zip(columns, referenced, strict=True))
        == set(zip(key.columns, key.referenced_columns, strict=True))
        for target, columns, referenced in child.joins
    )


def _suspended(relation: Relation, constraint: Constraint, copy_table: str = "") -> SuspendedKey:
    return SuspendedKey(
        table=relation.qualified_name,
        name=constraint.name,
        definition=foreign_key_definition(constraint),
        validated=constraint.validated,
        partitioned=relation.kind == "partitioned table",
        deferrable=constraint.deferrable,
        copy_table=copy_table,
    )


def foreign_key_definition(constraint: Constraint) -> str:
    """CONSTRAINT's definition (pg_get_constraintdef) with the referenced table schema-qualified
    (it was printed for the search_path of the scratch database) and without NOT VALID."""
    statement = parse_sql(f"ALTER TABLE x ADD {constraint.definition}")[0].stmt
    node = statement.cmds[0].def_
    schema, _, name = (constraint.references or "").partition(".")
    node.pktable = ast.RangeVar(schemaname=schema, relname=name, inh=True, relpersistence="p")
    node.skip_validation = False
    node.initially_valid = True
    return RawStream()(node)
