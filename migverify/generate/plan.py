"""Spec + catalog → a plan per legacy table: how its compatibility view is built and written.

The plan is plain data; the templates turn it into SQL. Every decision (auto-updatable view or
INSTEAD OF triggers, which sequence a key continues from, which defaults a view needs) is made
here, with the reason, so REVIEW.md can explain it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from migverify.catalog import Catalog, Column, Relation
from migverify.errors import MigverifyError
from migverify.generate.expressions import qualify
from migverify.generate.foreign_keys import referencing_keys
from migverify.generate.model import ColumnMap, SequencePlan, SidePlan, TablePlan
from migverify.generate.online import with_modes
from migverify.generate.policies import carry_rls
from migverify.generate.triggers import carry_triggers
from migverify.quoting import qualified
from migverify.spec import Spec, TableSpec

__all__ = ["ColumnMap", "SequencePlan", "SidePlan", "TablePlan", "build_plans"]


def build_plans(
    spec: Spec, catalog: Catalog, sizes: Mapping[str, int] | None = None
) -> tuple[TablePlan, ...]:
    """One plan per `[tables.*]` entry, in dependency order (referenced tables first). SIZES:
    estimated rows per qualified legacy table, for the choice of online or offline mode."""
    plans = [_plan(spec, catalog, table_spec) for table_spec in spec.tables]
    shared_targets = {}
    for plan in plans:
        shared_targets.setdefault(plan.target.qualified_name, []).append(plan.name)
    plans = [
        _with_sequences(plan, catalog, len(shared_targets[plan.target.qualified_name]) > 1)
        for plan in plans
    ]
    legacy_names = {plan.legacy.qualified_name for plan in plans}
    plans = [
        dataclasses.replace(
            plan,
            referenced_by=referencing_keys(spec, catalog, plan, legacy_names),
            triggers=carry_triggers(spec, catalog, plan),
            rls=carry_rls(spec, plan),
        )
        for plan in plans
    ]
    _check_shared_targets(spec, plans)
    plans = with_modes(spec, plans, sizes or {})
    return tuple(_dependency_order(plans))


def _check_shared_targets(spec: Spec, plans: list[TablePlan]) -> None:
    """Merged legacy tables carry onto one target: their carried objects must not collide."""
    by_target: dict[str, list[TablePlan]] = {}
    for plan in plans:
        by_target.setdefault(plan.target.qualified_name, []).append(plan)
    for group in by_target.values():
        first = group[0]
        seen: dict[str, str] = {}
        for plan in group:
            if (plan.legacy.rls_enabled, plan.legacy.rls_forced) != (
                first.legacy.rls_enabled,
                first.legacy.rls_forced,
            ):
                raise spec.error(
                    f"tables.{plan.name}",
                    f"row-level security of {plan.name} and {first.name} differs, and both "
                    f"become {plan.target.name}: enable it alike on both or in the target SQL",
                )
            for trigger in plan.triggers.triggers:
                if trigger.name in seen:
                    raise spec.error(
                        f"tables.{plan.name}",
                        f"trigger {trigger.name} of {plan.name} cannot be carried onto "
                        f"{plan.target.name}: {seen[trigger.name]} has a trigger of that name "
                        "too (define one for both in the target SQL)",
                    )
                seen[trigger.name] = plan.name


def _relation(spec: Spec, catalog: Catalog, name: str, key: str, what: str) -> Relation:
    relation = catalog.find(name)
    if relation is None or relation.kind not in ("table", "partitioned table"):
        raise spec.error(key, f"{what} table {name!r} is not defined by the {what} SQL")
    return relation


def _plan(spec: Spec, catalog: Catalog, table_spec: TableSpec) -> TablePlan:
    key = f"tables.{table_spec.legacy}"
    legacy = _relation(spec, catalog, table_spec.legacy, key, "legacy")
    if legacy.kind == "partitioned table" and spec.legacy_tables == "drop":
        raise spec.error(
            "generate.legacy_tables",
            f'legacy_tables = "drop": rollback.sql cannot rebuild {legacy.display_name}, a '
            "partitioned table, with its partitions; keep the legacy tables (legacy_tables = "
            '"keep")',
        )
    target = _relation(spec, catalog, table_spec.target, f"{key}.target", "target")
    if not legacy.columns:
        raise spec.error(
            key,
            f"{legacy.display_name} has no columns: a compatibility layer maps columns, and "
            f"there is none to map (leave it out of [tables])",
        )
    renames = dict(table_spec.columns)
    side_columns: dict[str, tuple[int, str]] = {}
    for index, side in enumerate(table_spec.side, start=1):
        for legacy_column, side_column in side.columns:
            side_columns[legacy_column] = (index, side_column)
    for name in renames:
        if name not in legacy.column_names:
            raise spec.error(
                f"{key}.columns", f"[{key}] columns: {legacy.name} has no column {name!r}"
            )
    columns = []
    side_relations = [
        _relation(spec, catalog, side.table, f"{key}.side", "target") for side in table_spec.side
    ]
    for column in legacy.columns:
        if column.name in side_columns:
            index, name = side_columns[column.name]
            holder, alias = side_relations[index - 1], f"s{index}"
        else:
            name, holder, alias = renames.get(column.name, column.name), target, "t"
        found = holder.column(name) if name in holder.column_names else None
        if found is None:
            where = f"{key}.columns" if column.name in renames else key
            raise spec.error(
                where,
                f"legacy column {legacy.name}.{column.name} cannot be mapped: "
                f"{holder.name} has no column {name!r} (add it under [{key}] columns)",
            )
        columns.append(ColumnMap(column, alias, holder.qualified_name, name, found))
    columns = [_transformed(spec, key, c, legacy, target, table_spec) for c in columns]
    _check_one_to_one(spec, key, columns, renames)
    for target_column, _ in table_spec.discriminator:
        if target_column not in target.column_names:
            raise spec.error(
                f"{key}.discriminator",
                f"discriminator column {target_column!r} is not in {target.name}",
            )
    sides = []
    for index, (side, relation) in enumerate(zip(table_spec.side, side_relations, strict=True), 1):
        join_columns = {c for _, c in side.join}
        unique = any(set(u.columns) == join_columns for u in relation.unique_keys) or (
            relation.primary_key is not None and set(relation.primary_key.columns) == join_columns
        )
        sides.append(
            SidePlan(
                relation.qualified_name,
                f"s{index}",
                side.join,
                tuple(c for c in columns if c.alias == f"s{index}"),
                unique,
            )
        )
    plan = _decide(spec, legacy, target, tuple(columns), tuple(sides), table_spec)
    return dataclasses.replace(plan, fill=_fill(spec, key, legacy, target, plan, table_spec))


def _transformed(
    spec: Spec,
    key: str,
    column: ColumnMap,
    legacy: Relation,
    target: Relation,
    table_spec: TableSpec,
) -> ColumnMap:
    """COLUMN with its transform from the spec (up over the legacy columns, down over the
    target's), both checked against the tables' columns."""
    found = [t for t in table_spec.transforms if t[0] == column.legacy.name]
    if not found:
        return column
    _, up, down = found[0]
    where = spec.column_key(key, column.legacy.name)
    if column.alias != "t":
        raise spec.error(
            where,
            f"[{key}] columns: {column.legacy.name} is stored in a side table; transforms are "
            "for columns of the target table",
        )
    if column.legacy.name in (legacy.primary_key.columns if legacy.primary_key else ()) or any(
        column.legacy.name in u.columns for u in legacy.unique_keys
    ):
        raise spec.error(
            f"{key}.columns",
            f"[{key}] columns: {column.legacy.name} is part of a key of {legacy.name}; a key "
            "column cannot be transformed (rows are matched on it)",
        )
    try:
        up_text = qualify(up, set(legacy.column_names), None)
        down_text = qualify(down, set(target.column_names), None)
    except MigverifyError as error:
        raise spec.error(
            where, f"[{key}] columns: the transform of {column.legacy.name}: {error}"
        ) from None
    return dataclasses.replace(column, up=up_text, down=down_text, transform=(up, down))


def _fill(
    spec: Spec,
    key: str,
    legacy: Relation,
    target: Relation,
    plan: TablePlan,
    table_spec: TableSpec,
) -> tuple[tuple[str, str], ...]:
    """The spec's fill expressions for target columns no legacy column maps to; a NOT NULL
    one without a default (or identity, or generation) must have one."""
    mapped = {c.column for c in plan.target_columns} | {c for c, _ in plan.discriminator}
    fills = dict(table_spec.fill)
    for column in fills:
        if column not in target.column_names:
            raise spec.error(f"{key}.fill", f"[{key}] fill: {target.name} has no column {column!r}")
        if column in mapped:
            raise spec.error(
                f"{key}.fill",
                f"[{key}] fill: {target.name}.{column} already takes a legacy column's value",
            )
    result = []
    for column in target.columns:
        if column.name in fills:
            try:
                result.append(
                    (column.name, qualify(fills[column.name], set(legacy.column_names), None))
                )
            except MigverifyError as error:
                raise spec.error(f"{key}.fill", f"[{key}] fill of {column.name}: {error}") from None
        elif (
            column.name not in mapped
            and column.not_null
            and column.default is None
            and not column.identity
            and not column.generated
        ):
            raise spec.error(
                key,
                f"{target.name}.{column.name} is NOT NULL without a default and no legacy column "
                f'of {legacy.name} maps to it: add fill = {{ {column.name} = "<SQL expression '
                'over the legacy columns>" }} under [' + key + "]",
            )
    return tuple(result)


def _check_one_to_one(
    spec: Spec, key: str, columns: list[ColumnMap], renames: dict[str, str]
) -> None:
    """Two legacy columns onto one column (a rename onto a name another column keeps) would
    write that column twice: refuse it at the spec line."""
    taken: dict[tuple[str, str], str] = {}
    for mapped in columns:
        other = taken.setdefault((mapped.table, mapped.column), mapped.legacy.name)
        if other != mapped.legacy.name:
            raise spec.error(
                f"{key}.columns",
                f"[{key}] columns: legacy columns {other!r} and {mapped.legacy.name!r} both map "
                f"to {mapped.table}.{mapped.column} (map one of them to another column)",
            )


def _decide(
    spec: Spec,
    legacy: Relation,
    target: Relation,
    columns: tuple[ColumnMap, ...],
    sides: tuple[SidePlan, ...],
    table_spec: TableSpec,
) -> TablePlan:
    warnings = []
    discriminator = table_spec.discriminator
    generated = [c for c in columns if c.target.generated and not c.legacy.generated]
    trigger_operations: tuple[str, ...] = ()
    if sides:
        strategy = "triggers"
        why = "a join over the target and its side table(s) is not auto-updatable"
        trigger_operations = ("insert", "update", "delete")
    elif generated:
        strategy = "triggers"
        why = (
            f"{', '.join(c.column for c in generated)} is generated in {target.name}: writes "
            "of the legacy column need a trigger"
        )
        trigger_operations = ("insert", "update")
    elif any(c.up for c in columns):
        strategy = "triggers"
        transformed = [c.legacy.name for c in columns if c.up]
        why = (
            f"{', '.join(transformed)} is computed by a transform (down): writes of the legacy "
            "column need a trigger that computes the target column (up)"
        )
        trigger_operations = ("insert", "update")
    elif table_spec.fill:
        strategy = "auto-updatable"
        why = (
            f"one table, plain column references; an INSTEAD OF INSERT trigger sets "
            f"{', '.join(c for c, _ in table_spec.fill)} (fill)"
        )
        trigger_operations = ("insert",)
    elif discriminator and not all(
        (target.column(col).default or "").split("::")[0] == _sql_literal(value)
        for col, value in discriminator
    ):
        strategy = "auto-updatable"
        why = (
            "a filtered view over one table is auto-updatable (UPDATE/DELETE, WITH CHECK "
            "OPTION); an INSTEAD OF INSERT trigger sets the discriminator"
        )
        trigger_operations = ("insert",)
    else:
        strategy = "auto-updatable"
        why = "one table, plain column references: PostgreSQL writes through the view itself"
    if trigger_operations:
        warnings.append(
            f"upsert (INSERT … ON CONFLICT) is not possible through {legacy.name}: it has an "
            "INSTEAD OF INSERT trigger"
        )
    view_defaults = []
    for column_map in columns:
        legacy_default = column_map.legacy.default
        if legacy_default is None or column_map.legacy.identity:
            continue
        if column_map.legacy.default_uses_sequence:
            continue  # key sequences are handled by the sequence plan
        # Always, not only where an insert needs it: `UPDATE … SET c = DEFAULT` through a view
        # takes the view's default, NULL when it has none.
        view_defaults.append((column_map.legacy.name, legacy_default))
    warnings += _generated_warnings(legacy, target, columns, trigger_operations)
    key = next(iter(legacy.row_keys), ())
    finding = [op.upper() for op in trigger_operations if op in ("update", "delete")]
    if not key and finding:
        raise spec.error(
            f"tables.{table_spec.legacy}",
            f"{legacy.display_name} has no primary key or unique key on NOT NULL columns, and "
            f"the INSTEAD OF {'/'.join(finding)} trigger of its view must find the row it "
            f"writes ({why}): add a primary key or a unique index on NOT NULL columns to "
            f"{legacy.display_name}",
        )
    if not key:
        warnings.append(
            f"{legacy.name} has no primary key or unique key on NOT NULL columns: it is copied "
            "in one statement and cannot be cut over online"
        )
    return TablePlan(
        legacy=legacy,
        target=target,
        spec_name=table_spec.legacy,
        kept_name=f"{legacy.name}_legacy",
        columns=columns,
        sides=sides,
        discriminator=discriminator,
        key=key,
        strategy=strategy,
        why=why,
        trigger_operations=trigger_operations,
        view_defaults=tuple(view_defaults),
        sequences=(),
        warnings=tuple(warnings),
    )


def _generated_warnings(
    legacy: Relation,
    target: Relation,
    columns: tuple[ColumnMap, ...],
    trigger_operations: tuple[str, ...],
) -> list[str]:
    """What a view cannot do for the target's GENERATED ALWAYS columns (identity or stored
    expression), for REVIEW.md: verify reports these as differences, and they are the target's
    or PostgreSQL's, not the layer's."""
    warnings = []
    for column in columns:
        name, there = column.legacy.name, f"{target.name}.{column.column}"
        if column.target.generated and column.legacy.generated:
            warnings.append(
                f"`UPDATE {legacy.name} SET {name} = DEFAULT` fails through the view (428C9): "
                f"the rewriter turns DEFAULT into NULL for a view column, which {there}, "
                "generated, refuses; every other write of the row works"
            )
        if column.target.identity != "always":
            continue
        if "insert" in trigger_operations:
            warnings.append(
                f"{there} is GENERATED ALWAYS AS IDENTITY: the INSTEAD OF INSERT trigger writes "
                f"{name} with OVERRIDING SYSTEM VALUE (the view's default, or an explicit value"
                + (
                    f", which {legacy.name} refused without OVERRIDING SYSTEM VALUE"
                    if column.legacy.identity == "always"
                    else ""
                )
                + f"); an UPDATE of {name} is refused (428C9)"
            )
        elif column.legacy.identity == "always":
            warnings.append(
                f"`UPDATE {legacy.name} SET {name} = DEFAULT` fails through the view (428C9): "
                f"{there} is GENERATED ALWAYS AS IDENTITY, and the rewriter turns DEFAULT into "
                "NULL for a view column; inserts that leave it out or write DEFAULT take the "
                "identity"
            )
        else:
            warnings.append(
                f"{there} is GENERATED ALWAYS AS IDENTITY: an explicit {name} in an INSERT or "
                f"UPDATE through the view is refused (428C9), which {legacy.name} accepted; "
                "inserts that leave it out or write DEFAULT take the identity"
            )
    return warnings


def _sql_literal(value: object) -> str:
    from migverify.quoting import literal

    return literal(value)


def _with_sequences(plan: TablePlan, catalog: Catalog, shared: bool) -> TablePlan:
    sequences = []
    defaults = list(plan.view_defaults)
    for column_map in plan.columns:
        legacy_sequence = _sequence_of(catalog, plan.legacy, column_map.legacy)
        if legacy_sequence is None:
            continue
        holder = catalog.find(column_map.table)
        target_sequence = _sequence_of(catalog, holder, column_map.target) if holder else None
        dedicated = shared or target_sequence is None
        layer_sequence = (
            f"{plan.schema}.{plan.name}_{column_map.legacy.name}_seq_compat"
            if dedicated
            else target_sequence
        )
        sequences.append(
            SequencePlan(
                column_map.legacy.name,
                legacy_sequence,
                layer_sequence,
                dedicated,
                _usage_grants(catalog, plan, column_map, legacy_sequence, layer_sequence),
                catalog.sequence(legacy_sequence),
                _owns(catalog, plan.legacy, column_map.legacy, legacy_sequence),
            )
        )
        if column_map.target.identity == "always" and "insert" not in plan.trigger_operations:
            # The target takes no value but its own (428C9): a view default would hand it one.
            # Without one, DEFAULT (or leaving the column out) reaches the target's identity,
            # which the layer sets to continue the legacy sequence. (An INSTEAD OF INSERT
            # trigger needs the value in NEW: it writes it with OVERRIDING SYSTEM VALUE.)
            continue
        # Also for auto-updatable views: `SET id = DEFAULT` takes the view's default.
        defaults.append(
            (
                column_map.legacy.name,
                f"nextval({_sql_literal(qualified(layer_sequence))}::regclass)",
            )
        )
    return TablePlan(
        **{**plan.__dict__, "sequences": tuple(sequences), "view_defaults": tuple(defaults)}
    )


def _usage_grants(
    catalog: Catalog,
    plan: TablePlan,
    column_map: ColumnMap,
    legacy_sequence: str,
    layer_sequence: str,
) -> tuple[str, ...]:
    """The roles that drew the legacy default (INSERT on the table, and USAGE on its sequence
    unless the column is an identity, which needs none) and lack USAGE on the layer sequence:
    exactly what the view default needs, so that the rollback can take back just that."""
    legacy = plan.legacy
    writers = {
        g.grantee
        for g in legacy.grants
        if g.privilege == "INSERT" and not g.column and g.grantee != legacy.owner
    }
    if not column_map.legacy.identity:
        drawn = catalog.sequence(legacy_sequence)
        writers = {role for role in writers if drawn is None or drawn.usable_by(role)}
    layer = catalog.sequence(layer_sequence)
    return tuple(sorted(role for role in writers if layer is None or not layer.usable_by(role)))


def _owns(catalog: Catalog, relation: Relation, column: Column, name: str) -> bool:
    """Whether the sequence NAME is owned by RELATION's COLUMN (serial, identity)."""
    sequence = catalog.sequence(name)
    return sequence is not None and sequence.owned_by == f"{relation.qualified_name}.{column.name}"


def _sequence_of(catalog: Catalog, relation: Relation, column: Column) -> str | None:
    owner = f"{relation.qualified_name}.{column.name}"
    for sequence in catalog.sequences:
        if sequence.owned_by == owner:
            return sequence.qualified_name
    return column.default_uses_sequence


def _dependency_order(plans: list[TablePlan]) -> list[TablePlan]:
    """Referenced legacy tables before the tables referencing them (backfill order)."""
    names = {p.legacy.qualified_name: p for p in plans}
    ordered: list[TablePlan] = []
    visiting: set[str] = set()

    def visit(plan: TablePlan) -> None:
        if plan in ordered or plan.legacy.qualified_name in visiting:
            return
        visiting.add(plan.legacy.qualified_name)
        for fk in plan.legacy.foreign_keys:
            if fk.references in names and fk.references != plan.legacy.qualified_name:
                visit(names[fk.references])
        ordered.append(plan)

    for plan in plans:
        visit(plan)
    return ordered
