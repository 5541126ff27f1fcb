"""Checks that need no workload: the shape of each legacy name after cutover, the constraints of
the tables around them, whether the layer replaced anything, and what a rollback restores."""

from __future__ import annotations

from collections.abc import Sequence

from migverify.catalog import Catalog, Relation
from migverify.verify.compare import FAIL, WARN, Difference


def shape_differences(relations: Sequence[Relation], migrated: Catalog) -> list[Difference]:
    """Each legacy relation must still exist with the same columns in the same order."""
    found = []
    for relation in relations:
        other = migrated.find(relation.qualified_name)
        name = relation.display_name
        if other is None:
            found.append(
                Difference(FAIL, name, "shape", f'relation "{name}" does not exist after cutover')
            )
            continue
        legacy_cols, new_cols = relation.column_names, other.column_names
        missing = [c for c in legacy_cols if c not in new_cols]
        extra = [c for c in new_cols if c not in legacy_cols]
        if missing:
            found.append(
                Difference(
                    FAIL,
                    name,
                    "shape",
                    f"{name} lost column(s) {', '.join(missing)}: code that reads or writes them "
                    f"fails",
                    columns=tuple(missing),
                )
            )
        listed = f"{', '.join(extra[:8])}{', …' if len(extra) > 8 else ''}"
        if extra and appended_columns(relation, other):
            found.append(
                Difference(
                    WARN,
                    name,
                    "shape",
                    f"{name} gains {len(extra)} column(s) after its own ({listed}): the table "
                    "is altered in place; code reading SELECT * receives them too",
                )
            )
        elif extra:
            found.append(
                Difference(
                    FAIL,
                    name,
                    "shape",
                    f"{name} exposes {len(extra)} column(s) the legacy table does not have "
                    f"({listed}): SELECT * and positional INSERT change meaning",
                )
            )
        if not missing and not extra and legacy_cols != new_cols:
            found.append(
                Difference(FAIL, name, "shape", f"{name} has its columns in a different order")
            )
        for column in relation.columns:
            if column.name in new_cols and other.column(column.name).type != column.type:
                found.append(
                    Difference(
                        WARN,
                        name,
                        "shape",
                        f"{name}.{column.name} is {other.column(column.name).type}, "
                        f"was {column.type}",
                    )
                )
    return found


def appended_columns(relation: Relation, migrated: Relation | None) -> tuple[str, ...]:
    """The columns a legacy table, altered in place (still a table under its name, not a view
    over another), gained after its own, which keep their names and order: what
    `ALTER TABLE … ADD COLUMN` does. Code naming its columns, positional reads of the legacy
    columns and positional INSERTs of them (the new ones take their defaults) work as before;
    only `SELECT *` receives more. A view exposing more columns than the legacy table is
    another matter (a `SELECT *` over a wider table: the layer's promise is the legacy shape)."""
    if migrated is None or migrated.kind not in ("table", "partitioned table"):
        return ()
    if relation.kind not in ("table", "partitioned table"):
        return ()
    own = relation.column_names
    if migrated.column_names[: len(own)] != own:
        return ()
    return migrated.column_names[len(own) :]


def neighbour_differences(neighbours: Sequence[Relation], migrated: Catalog) -> list[Difference]:
    """Tables around the legacy ones keep their constraints, and a foreign key to a legacy name
    must reference what that name shows after cutover (the table behind the view), not the
    renamed legacy table: that one no longer receives the rows written through the layer."""
    found = []
    for relation in neighbours:
        after = migrated.find(relation.qualified_name)
        name = relation.display_name
        if after is None or after.is_view:
            continue
        now = {c.name: c for c in after.constraints}
        for constraint in relation.constraints:
            moved = now.get(constraint.name)
            if moved is None:
                found.append(
                    Difference(
                        FAIL,
                        name,
                        "cutover",
                        f"{name} lost its {constraint.kind} {constraint.name} at cutover",
                    )
                )
                continue
            if constraint.kind != "foreign key" or moved.references == constraint.references:
                continue
            shown = migrated.find(constraint.references or "")
            if shown is not None and moved.references in shown.view_relations:
                continue  # retargeted to the table behind the view
            found.append(
                Difference(
                    FAIL,
                    name,
                    "cutover",
                    f"foreign key {constraint.name} of {name} references "
                    f"{_short_name(moved.references)} after cutover, not the table behind "
                    f"{_short_name(constraint.references)}: rows written through the layer cannot "
                    f"be referenced",
                )
            )
    return found


def _short_name(qualified_name: str | None) -> str:
    if qualified_name is None:
        return "?"
    schema, _, name = qualified_name.partition(".")
    return name if schema == "public" else qualified_name


def unchanged(relations: Sequence[Relation], before: Catalog, after: Catalog) -> bool:
    """Did target + compat leave every legacy relation exactly as it was?"""
    return all(before.find(r.qualified_name) == after.find(r.qualified_name) for r in relations)


def rollback_differences(legacy: Relation, restored: Relation | None) -> list[Difference]:
    """After rollback a legacy table must be back with its columns, constraints, grants and RLS."""
    name = legacy.display_name
    if restored is None:
        return [Difference(FAIL, name, "rollback", f'rollback leaves no relation "{name}"')]
    if restored.kind != legacy.kind:
        return [
            Difference(
                FAIL,
                name,
                "rollback",
                f"after rollback {name} is a {restored.kind}, not a {legacy.kind}",
            )
        ]
    found = []

    def column_shape(relation: Relation) -> list[tuple]:
        return [
            (
                c.name,
                c.type,
                c.not_null,
                "<sequence>" if c.default_uses_sequence else c.default,
                c.identity,
                c.generated,
            )
            for c in relation.columns
        ]

    if column_shape(restored) != column_shape(legacy):
        before, after = column_shape(legacy), column_shape(restored)
        changed = [a[0] for a, b in zip(before, after, strict=False) if a != b]
        changed += [c[0] for c in before[len(after) :]] + [c[0] for c in after[len(before) :]]
        found.append(
            Difference(
                FAIL,
                name,
                "rollback",
                f"after rollback the columns of {name} differ: {', '.join(changed)}",
            )
        )
    constraints = {(c.kind, c.definition) for c in legacy.constraints}
    restored_constraints = {(c.kind, c.definition) for c in restored.constraints}
    for kind, definition in sorted(constraints - restored_constraints):
        found.append(
            Difference(
                FAIL, name, "rollback", f"after rollback {name} lacks the {kind} {definition}"
            )
        )
    grants = {(g.grantee, g.privilege, g.column) for g in legacy.grants}
    restored_grants = {(g.grantee, g.privilege, g.column) for g in restored.grants}
    for grantee, privilege, _column in sorted(grants - restored_grants, key=str):
        found.append(
            Difference(
                FAIL, name, "rollback", f"after rollback {grantee} lacks {privilege} on {name}"
            )
        )
    if (legacy.rls_enabled, legacy.rls_forced) != (restored.rls_enabled, restored.rls_forced):
        found.append(
            Difference(
                FAIL, name, "rollback", f"after rollback row-level security of {name} differs"
            )
        )
    policies = {(p.command, p.permissive, p.roles, p.using, p.with_check) for p in legacy.policies}
    restored_policies = {
        (p.command, p.permissive, p.roles, p.using, p.with_check) for p in restored.policies
    }
    if policies != restored_policies:
        found.append(
            Difference(
                FAIL,
                name,
                "rollback",
                f"after rollback the row-level security policies of {name} differ",
            )
        )
    return found
