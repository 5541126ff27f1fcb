"""A fix for a difference, where the catalogs of the two worlds show one: the SQL (or, for a
trigger function's body, the sentence) that makes the layer behave like the legacy table in the
way the difference shows. Read from the legacy relation, the migrated view over it and the
target tables behind the view (facts.view_sources):

- a write through a view that lacks a legacy column's default: `ALTER VIEW … ALTER COLUMN …
  SET DEFAULT` with the target column's default (its identity sequence's nextval()), and `GRANT
  USAGE ON SEQUENCE` for the roles that insert through the view and could not draw from it;
- a view that runs as its owner over tables with row-level security: `security_invoker`;
- a privilege the legacy table granted that the view does not: the GRANT;
- a guarantee lost (a constraint of the legacy table that no target table holds): the
  constraint on the target table, its columns named as the target names them; NOT NULL alike;
- a value the target column cannot hold: the column widened to the legacy type;
- a legacy trigger that fires on no target table: the trigger on the target table;
- an INSTEAD OF trigger that reports no row: its function must return the row.

A fix is a proposal for review (the generated layer does all of this); verify never applies it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from pglast import ast, parse_sql
from pglast.stream import RawStream
from pglast.visitors import Visitor

from migverify.catalog import Catalog, Relation
from migverify.quoting import ident, literal, qualified
from migverify.verify.compare import Difference
from migverify.verify.facts import view_sources

__all__ = ["with_fixes"]

_WRITES = ("insert", "update", "upsert", "merge", "copy-from")
_CONSTRAINT = re.compile(r'constraint "([^"]+)"')
_NULL_COLUMN = re.compile(r'null value in column "([^"]+)"')


def with_fixes(
    differences: Sequence[Difference], legacy: Catalog, migrated: Catalog
) -> tuple[Difference, ...]:
    """DIFFERENCES, each with its fix where one is known."""
    return tuple(_with_fix(d, legacy, migrated) for d in differences)


def _with_fix(difference: Difference, legacy: Catalog, migrated: Catalog) -> Difference:
    if difference.fix:
        return difference
    before = legacy.find(difference.table)
    after = migrated.find(difference.table)
    if before is None or after is None or not after.is_view:
        return difference
    layer = _Layer(before, after, migrated)
    lines: list[str] = []
    states = f"{difference.reference} {difference.migrated} {difference.diagnosis}"
    # a column the view leaves NULL where the table took its default: refused, or another row
    if difference.operation in _WRITES and ("23502" in difference.migrated or "rows" in states):
        lines += layer.view_defaults()
    if "42501" in states or "row-level security" in states or difference.operation == "roles":
        lines += layer.security_invoker()
        lines += layer.grants()
    if difference.diagnosis.startswith("lost guarantee"):
        lines += layer.lost_constraint(difference.reference)
    if difference.migrated.startswith("ERROR 22") and not difference.reference.startswith("ERROR"):
        lines += layer.widened()
    if re.search(r"(affected|returned) 0 rows, legacy [1-9]", difference.diagnosis):
        lines += layer.returning_row(difference.operation)
    if difference.operation in _WRITES and not lines:
        lines += layer.triggers()
    if not lines:
        return difference
    return dataclasses.replace(difference, fix="\n".join(dict.fromkeys(lines)))


class _Layer:
    """The legacy relation BEFORE, the view AFTER over the target tables of MIGRATED."""

    def __init__(self, before: Relation, after: Relation, migrated: Catalog) -> None:
        self.before, self.after, self.migrated = before, after, migrated
        self.view = qualified(after.qualified_name)
        self.sources = {
            column: (table, target)
            for column, (table, target) in view_sources(after).items()
            if (found := migrated.find(table)) is not None and not found.is_view
        }
        self.targets = sorted({table for table, _ in self.sources.values()})

    def _target_column(self, name: str) -> tuple[Relation, str] | None:
        source = self.sources.get(name)
        if source is None:
            return None
        table = self.migrated.find(source[0])
        if table is None or source[1] not in table.column_names:
            return None
        return table, source[1]

    def view_defaults(self) -> list[str]:
        lines, sequences = [], []
        for column in self.before.columns:
            if column.generated or not (column.default is not None or column.identity):
                continue
            if column.name not in self.after.column_names:
                continue
            if self.after.column(column.name).default is not None:
                continue
            expression = self._default_for(column.name)
            if expression is None:
                continue
            lines.append(
                f"ALTER VIEW {self.view} ALTER COLUMN {ident(column.name)} SET DEFAULT "
                f"{expression};"
            )
            found = re.search(r"nextval\('([^']+)'", expression)
            if found:
                sequences.append(found.group(1))
        for name in sequences:
            lines += self._sequence_usage(name)
        return lines

    def _default_for(self, name: str) -> str | None:
        found = self._target_column(name)
        if found is None:
            return None
        table, column_name = found
        column = table.column(column_name)
        if column.identity:
            sequence = next(
                (
                    s
                    for s in self.migrated.sequences
                    if s.owned_by == f"{table.qualified_name}.{column_name}"
                ),
                None,
            )
            if sequence is None:
                return None
            return f"nextval({literal(qualified(sequence.qualified_name))}::regclass)"
        return column.default

    def _sequence_usage(self, name: str) -> list[str]:
        sequence = next(
            (
                s
                for s in self.migrated.sequences
                if qualified(s.qualified_name) == name or s.name == name
            ),
            None,
        )
        if sequence is None:
            return []
        can = {g.grantee for g in sequence.grants if g.privilege in ("USAGE", "UPDATE")}
        inserting = sorted(
            {
                g.grantee
                for g in self.after.grants
                if g.privilege == "INSERT"
                and g.grantee not in can
                and g.grantee != "PUBLIC"
                and g.grantee != self.after.owner
            }
        )
        return [
            f"GRANT USAGE ON SEQUENCE {qualified(sequence.qualified_name)} TO {ident(role)};"
            for role in inserting
        ]

    def security_invoker(self) -> list[str]:
        if self.after.option("security_invoker") in ("true", "on", "1"):
            return []
        guarded = self.before.rls_enabled or any(
            (t := self.migrated.find(name)) is not None and t.rls_enabled for name in self.targets
        )
        if not guarded:
            return []
        return [f"ALTER VIEW {self.view} SET (security_invoker = true);"]

    def grants(self) -> list[str]:
        have = {(g.grantee, g.privilege, g.column) for g in self.after.grants}
        lines = []
        for grant in self.before.grants:
            if grant.grantee == self.before.owner:
                continue
            if (grant.grantee, grant.privilege, grant.column) in have:
                continue
            column = f" ({ident(grant.column)})" if grant.column else ""
            grantee = "PUBLIC" if grant.grantee == "PUBLIC" else ident(grant.grantee)
            lines.append(f"GRANT {grant.privilege}{column} ON {self.view} TO {grantee};")
        return lines

    def lost_constraint(self, reference: str) -> list[str]:
        null = _NULL_COLUMN.search(reference)
        if null:
            found = self._target_column(null.group(1))
            if found is None:
                return []
            table, column = found
            return [
                f"ALTER TABLE {qualified(table.qualified_name)} ALTER COLUMN {ident(column)} "
                "SET NOT NULL;"
            ]
        named = _CONSTRAINT.search(reference)
        constraint = next(
            (c for c in self.before.constraints if named and c.name == named.group(1)), None
        )
        if constraint is None:
            return []
        mapped = [self._target_column(c) for c in constraint.columns]
        if not mapped or any(m is None for m in mapped):
            return []
        tables = {m[0].qualified_name for m in mapped if m}
        if len(tables) != 1:
            return []
        table = qualified(tables.pop())
        renames = {c: m[1] for c, m in zip(constraint.columns, mapped, strict=True) if m}
        statement = f"ALTER TABLE {table} ADD CONSTRAINT {ident(constraint.name)} " + (
            constraint.definition
        )
        return [_renamed_columns(statement, renames) + ";"]

    def widened(self) -> list[str]:
        lines = []
        for column in self.before.columns:
            found = self._target_column(column.name)
            if found is None:
                continue
            table, name = found
            if table.column(name).type != column.type:
                lines.append(
                    f"-- target schema (before a view reads the column): {table.qualified_name}"
                    f".{name} is {table.column(name).type}, the legacy column was {column.type}"
                )
                lines.append(
                    f"ALTER TABLE {qualified(table.qualified_name)} ALTER COLUMN {ident(name)} "
                    f"TYPE {column.type};"
                )
        return lines

    def returning_row(self, operation: str) -> list[str]:
        triggers = [t for t in self.after.triggers if t.timing == "INSTEAD OF"]
        if not triggers:
            return []
        row = "OLD" if operation == "delete" else "NEW"
        return [
            f"-- {t.function_qualified or t.function}(): the INSTEAD OF trigger {t.name} on "
            f"{self.after.qualified_name} must end its {operation.upper()} branch with RETURN "
            f"{row} (a NULL result tells PostgreSQL that no row was written)"
            for t in triggers
        ]

    def triggers(self) -> list[str]:
        """Legacy row triggers whose function fires on no target table (nor the view)."""
        if len(self.targets) != 1:
            return []
        target = self.migrated.find(self.targets[0])
        if target is None:
            return []
        firing = {
            t.function_qualified or t.function for t in (*target.triggers, *self.after.triggers)
        }
        lines = []
        for trigger in self.before.triggers:
            if (
                trigger.timing == "INSTEAD OF"
                or (trigger.function_qualified or trigger.function) in firing
            ):
                continue
            lines.append(_retargeted_trigger(trigger.definition, target.qualified_name) + ";")
        return lines


class _Columns(Visitor):
    def __init__(self, renames: dict[str, str]) -> None:
        self.renames = renames

    def visit_ColumnRef(self, ancestors: object, node: ast.ColumnRef) -> object:  # noqa: N802
        fields = list(node.fields)
        last = fields[-1]
        if isinstance(last, ast.String) and last.sval in self.renames:
            fields[-1] = ast.String(sval=self.renames[last.sval])
            return ast.ColumnRef(fields=tuple(fields), location=node.location)
        return None

    def visit_Constraint(self, ancestors: object, node: ast.Constraint) -> object:  # noqa: N802
        for attribute in ("keys", "fk_attrs", "including"):
            names = getattr(node, attribute, None)
            if names:
                setattr(
                    node,
                    attribute,
                    tuple(
                        ast.String(sval=self.renames.get(n.sval, n.sval))
                        if isinstance(n, ast.String)
                        else n
                        for n in names
                    ),
                )
        return None


def _renamed_columns(statement: str, renames: dict[str, str]) -> str:
    if all(a == b for a, b in renames.items()):
        return statement
    try:
        tree = parse_sql(statement)
    except Exception:
        return statement
    _Columns(renames)(tree)
    return RawStream()(tree)


def _retargeted_trigger(definition: str, table: str) -> str:
    try:
        tree = parse_sql(definition)
    except Exception:
        return definition
    statement = tree[0].stmt
    if not isinstance(statement, ast.CreateTrigStmt):
        return definition
    schema, _, name = table.partition(".")
    statement.relation = ast.RangeVar(schemaname=schema, relname=name, inh=True, relpersistence="p")
    return RawStream()(tree)
