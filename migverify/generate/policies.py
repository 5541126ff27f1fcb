"""Row-level security carried onto the target table: ENABLE/FORCE and every policy, with the
column references of USING and WITH CHECK rewritten through the column map on pglast's tree.

The views are `security_invoker`, so the target's policies are what restricts a role reading or
writing through the legacy name. On a merge the target also holds the other legacy tables' rows:
a carried policy is scoped to this table's discriminator (permissive: `d = v AND (…)`;
restrictive: `(d = v) IS NOT TRUE OR (…)`), so it grants and restricts exactly what it did.
"""

from __future__ import annotations

from typing import Any

from migverify.catalog import Policy
from migverify.errors import InputError, MigverifyError
from migverify.generate.expressions import Reference, deparse, parse_expression, references
from migverify.generate.model import CarriedPolicy, RlsCarry, TablePlan
from migverify.quoting import bounded_identifier
from migverify.spec import Spec


def carry_rls(spec: Spec, plan: TablePlan) -> RlsCarry:
    legacy, target = plan.legacy, plan.target
    if not legacy.rls_enabled:
        notes = []
        if legacy.policies:
            notes.append(
                f"policies of {legacy.name} not carried: row-level security is disabled there, "
                "so they restrict nothing"
            )
        if target.rls_enabled:
            notes.append(
                f"{target.name} has row-level security and {legacy.name} does not: roles that "
                f"are not its owner see and write only what the policies of {target.name} allow"
            )
        return RlsCarry(notes=tuple(notes))
    notes = []
    if target.rls_enabled:
        notes.append(f"row-level security: already enabled on {target.name} by the target SQL")
    else:
        notes.append(f"row-level security enabled on {target.name}, as on {legacy.name}")
    if legacy.rls_forced and target.rls_forced:
        notes.append(f"FORCE ROW LEVEL SECURITY: already set on {target.name} by the target SQL")
    elif legacy.rls_forced:
        notes.append(
            f"FORCE ROW LEVEL SECURITY set on {target.name}, as on {legacy.name} (its owner is "
            "subject to the policies too)"
        )
    for side in plan.sides:
        notes.append(
            f"the policies of {legacy.name} are carried onto {target.name} only; "
            f"{side.table} is reached through the view's join, not restricted on its own"
        )
    existing = {p.name for p in target.policies}
    policies = []
    for policy in legacy.policies:
        carried = _PolicyCarrier(spec, plan, policy).carry()
        if policy.name in existing or carried.name in existing:
            notes.append(
                f"policy {policy.name}: the target SQL already defines a policy of that name on "
                f"{target.name}; not carried"
            )
            continue
        policies.append(carried)
        renamed = f" as {carried.name}" if carried.name != policy.name else ""
        condition = " AND ".join(f"{c} = {v!r}" for c, v in carried.scope)
        scoped = f", scoped to {condition}" if carried.scope else ""
        notes.append(
            f"policy {policy.name} ({'permissive' if policy.permissive else 'restrictive'} "
            f"{policy.command} to {', '.join(policy.roles)}) carried onto {target.name}"
            f"{renamed}{scoped}"
        )
    return RlsCarry(
        enable=not target.rls_enabled,
        force=legacy.rls_forced and not target.rls_forced,
        policies=tuple(policies),
        notes=tuple(notes),
    )


class _PolicyCarrier:
    def __init__(self, spec: Spec, plan: TablePlan, policy: Policy) -> None:
        self.spec, self.plan, self.policy = spec, plan, policy

    def refuse(self, reason: str) -> InputError:
        return self.spec.error(
            f"tables.{self.plan.name}",
            f"policy {self.policy.name} on {self.plan.name} cannot be carried onto "
            f"{self.plan.target.name}: {reason}",
        )

    def carry(self) -> CarriedPolicy:
        plan, policy = self.plan, self.policy
        name = policy.name
        scope: tuple[tuple[str, Any], ...] = ()
        if plan.discriminator:
            # Two merged tables often have policies of the same name: keep them apart.
            name = bounded_identifier(f"{plan.name}_{policy.name}")
            scope = plan.discriminator
        return CarriedPolicy(
            name=name,
            legacy_name=policy.name,
            table=plan.target.qualified_name,
            command=policy.command,
            permissive=policy.permissive,
            roles=policy.roles,
            using=self.rewrite(policy.using, "USING"),
            with_check=self.rewrite(policy.with_check, "WITH CHECK"),
            scope=scope,
        )

    def rewrite(self, text: str | None, clause: str) -> str | None:
        if text is None:
            return None
        try:
            node = parse_expression(text)
        except MigverifyError as error:
            raise self.refuse(str(error)) from None
        for reference in references(node):
            self.rename(reference, clause)
        return deparse(node)

    def rename(self, reference: Reference, clause: str) -> None:
        legacy, target = self.plan.legacy, self.plan.target
        fields = reference.fields
        if not reference.nested and len(fields) == 1:
            if fields[0] in legacy.column_names:
                reference.rename((self.column(fields[0], clause),))
            elif fields[0] == legacy.name:
                self.whole_row(clause)
                reference.rename((target.name,))
            return
        if not reference.nested and fields[0] in legacy.column_names and fields[0] != legacy.name:
            # column.field of a composite column
            reference.rename((self.column(fields[0], clause), *fields[1:]))
            return
        qualifier = 1 if fields[0] == legacy.name else 0
        if not qualifier and len(fields) >= 3 and fields[:2] == (legacy.schema, legacy.name):
            qualifier = 2
        if not qualifier or (reference.nested and legacy.name in reference.bound):
            return  # a column of another relation
        if reference.nested and target.name in reference.bound:
            raise self.refuse(
                f"its {clause} expression refers to {legacy.name} from a sub-query that reads "
                f"{target.name} itself"
            )
        head = (target.schema, target.name) if qualifier == 2 else (target.name,)
        rest = fields[qualifier:]
        if not rest or rest[0] == "*":
            self.whole_row(clause)
            reference.rename((*head, *rest))
            return
        reference.rename((*head, self.column(rest[0], clause), *rest[1:]))

    def column(self, name: str, clause: str) -> str:
        if name not in self.plan.legacy.column_names:
            raise self.refuse(
                f"its {clause} expression names {name!r}, which is not a column of {self.plan.name}"
            )
        column = self.plan.column(name)
        if column.alias != "t":
            raise self.refuse(
                f"its {clause} expression uses {name}, which moves to {column.table}, "
                f"not {self.plan.target.name}"
            )
        return column.column

    def whole_row(self, clause: str) -> None:
        """A whole-row reference carries over only when the rows look alike."""
        legacy = [(c.name, c.type) for c in self.plan.legacy.columns]
        if legacy == [(c.name, c.type) for c in self.plan.target.columns]:
            return
        raise self.refuse(
            f"its {clause} expression uses the whole row of {self.plan.name}, whose columns "
            f"differ from those of {self.plan.target.name}"
        )
