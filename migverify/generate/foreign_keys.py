"""Foreign keys of tables outside the spec that reference a legacy table: moved onto the target.

After cutover the legacy name is a view over the target table, so a child row must find its
parent in the target. The constraint keeps its name, columns, actions, MATCH type and
deferrability; it points at the target's mapped columns, which must form a key of the target.
At cutover it is added NOT VALID (a catalog change, no scan under the cutover lock) and validated
after COMMIT; the rollback moves it back onto the legacy table the same way.
"""

from __future__ import annotations

from collections.abc import Collection

from pglast import ast, parse_sql

from migverify.catalog import Catalog, Constraint, Relation
from migverify.generate.model import RetargetedKey, TablePlan
from migverify.spec import Spec


def referencing_keys(
    spec: Spec, catalog: Catalog, plan: TablePlan, legacy_names: Collection[str]
) -> tuple[RetargetedKey, ...]:
    """The foreign keys of tables outside the spec (LEGACY_NAMES: the spec's legacy tables,
    qualified) that reference PLAN's legacy table."""
    found = []
    for relation in catalog.tables:
        if relation.qualified_name in legacy_names:
            continue  # between legacy tables: they stay on the kept tables, like the rows
        for constraint in relation.foreign_keys:
            if constraint.inherited or constraint.references != plan.legacy.qualified_name:
                continue
            found.append(_retarget(spec, plan, relation, constraint))
    return tuple(found)


def _retarget(
    spec: Spec, plan: TablePlan, child: Relation, constraint: Constraint
) -> RetargetedKey:
    where = f"foreign key {constraint.name} of {child.qualified_name}"
    key = f"tables.{plan.name}"
    legacy_columns = constraint.referenced_columns
    if plan.discriminator:
        raise spec.error(
            key,
            f"{where} cannot be retargeted: {plan.name} becomes a filtered view over "
            f"{plan.target.name}, and a key of {plan.target.name} would also accept the rows of "
            "the other legacy tables merged into it",
        )
    target_columns = []
    for name in legacy_columns:
        column = plan.column(name)
        if column.alias != "t":
            raise spec.error(
                key,
                f"{where} cannot be retargeted: it references {plan.name}.{name}, which moves "
                f"to {column.table}, not {plan.target.qualified_name}",
            )
        target_columns.append(column.column)
    if not _is_key(plan.target, target_columns):
        raise spec.error(
            key,
            f"{where} cannot be retargeted: {plan.name}({', '.join(legacy_columns)}) maps to "
            f"{plan.target.name}({', '.join(target_columns)}), which is not a primary key or "
            f"unique constraint of {plan.target.name} (add one in the target SQL)",
        )
    return RetargetedKey(
        table=child.qualified_name,
        name=constraint.name,
        columns=constraint.columns,
        legacy_table=plan.legacy.qualified_name,
        legacy_columns=legacy_columns,
        target_table=plan.target.qualified_name,
        target_columns=tuple(target_columns),
        match=constraint.match or "SIMPLE",
        on_update=constraint.on_update or "NO ACTION",
        on_delete=constraint.on_delete or "NO ACTION",
        on_delete_columns=constraint.on_delete_columns,
        deferrable=constraint.deferrable,
        initially_deferred=constraint.initially_deferred,
        validated=constraint.validated,
        partitioned=child.kind == "partitioned table",
    )


def _is_key(table: Relation, columns: list[str]) -> bool:
    """A foreign key can reference COLUMNS: a primary key, unique constraint or plain unique
    index of TABLE has exactly these columns (in any order, as PostgreSQL accepts them)."""
    wanted = set(columns)
    if len(wanted) != len(columns):
        return False
    if any(set(c.columns) == wanted for c in table.unique_keys):
        return True
    return any(
        index.unique and _index_columns(index.definition) == wanted for index in table.indexes
    )


def _index_columns(definition: str) -> set[str] | None:
    """The plain columns of a non-partial index (None for a partial or expression index)."""
    statement = parse_sql(definition)[0].stmt
    if not isinstance(statement, ast.IndexStmt) or statement.whereClause is not None:
        return None
    names = [param.name for param in statement.indexParams]
    return None if any(name is None for name in names) else set(names)
