"""Probes run as someone else: a role (`SET ROLE`), or a signed-in user of a Supabase-style
project (role `authenticated` plus JWT claims). Each operation once, updates and selects per
column (column privileges), every row updated and deleted (row-level security decides which),
and for users a row written in the name of the other user."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

from pglast import ast, parse_sql
from pglast.visitors import Visitor

from migverify.catalog import Relation
from migverify.quoting import ident, literal
from migverify.verify.probes.builder import BaseRow, ProbeBuilder, _has_default, _required
from migverify.verify.statement import Actor, Probe, Statement


def actor_probes(
    b: ProbeBuilder, actor: Actor, base: tuple[BaseRow, BaseRow] | None, others: Sequence[Actor]
) -> Iterator[Probe]:
    for probe in _probes(b, actor, base, others):
        yield dataclasses.replace(probe, statements=tuple(_as(actor, s) for s in probe.statements))


def _as(actor: Actor, statement: Statement) -> Statement:
    if statement.role is None:  # a prerequisite (a fresh parent row) runs as the owner
        return statement
    return dataclasses.replace(statement, role=actor.role, claims=actor.claims)


def _probes(
    b: ProbeBuilder, actor: Actor, base: tuple[BaseRow, BaseRow] | None, others: Sequence[Actor]
) -> Iterator[Probe]:
    ops = set(b.operations)
    t = b.quoted
    who = actor.name
    role = actor.role
    assert role is not None, "probes as someone else need a role"
    cover = ("role", who, b.table)
    seeded = b.facts.seeded
    if "select" in ops:
        order = b.order_by()
        yield b.probe(
            f"select * as {who}",
            [b.select(f"SELECT * FROM {t} ORDER BY {order}", role=role)],
            cover,
        )
        yield b.probe(
            f"count as {who}", [b.select(f"SELECT count(*) AS n FROM {t}", role=role)], cover
        )
        for column in b.relation.columns:
            yield b.probe(
                f"select {column.name} as {who}",
                [b.select(f"SELECT {ident(column.name)} FROM {t}", role=role)],
                cover,
            )
    if base and "insert" in ops:
        yield from _insert_probes(b, actor, base[0], others, cover)
    if base and "upsert" in ops and seeded:
        key = b.key_of(seeded[0])
        if all(k in base[0].values for k in key):
            target = ", ".join(ident(k) for k in key)
            yield b.probe(
                f"upsert as {who}",
                (
                    *base[0].prerequisites,
                    b.insert(
                        base[0].values,
                        suffix=f" ON CONFLICT ({target}) DO NOTHING",
                        role=role,
                        operation="upsert",
                    ),
                ),
                cover,
            )
    if seeded and "update" in ops:
        for column in b.writable:
            name = ident(column.name)
            yield b.probe(
                f"update {column.name} as {who}",
                [b.update(f"{name} = {name}", seeded[0], role=role)],
                cover,
            )
        if b.writable:
            name = ident(b.writable[-1].name)
            yield b.probe(
                f"update every row as {who}",
                [b.statement(f"UPDATE {t} SET {name} = {name}", "update", role=role)],
                cover,
            )
    if seeded and "delete" in ops:
        yield b.probe(
            f"delete as {who}",
            [b.statement(f"DELETE FROM {t} WHERE {b.where(seeded[0])}", "delete", role=role)],
            cover,
        )
        yield b.probe(
            f"delete every row as {who}",
            [b.statement(f"DELETE FROM {t}", "delete", role=role)],
            cover,
        )


def _insert_probes(
    b: ProbeBuilder,
    actor: Actor,
    base: BaseRow,
    others: Sequence[Actor],
    cover: tuple[str, ...],
) -> Iterator[Probe]:
    who = actor.name
    role = actor.role
    owned = dict(base.values)
    owners = owner_columns(b.relation)
    if actor.user_id is not None:
        for column in owners:  # the row belongs to the user who writes it
            owned[column] = literal(actor.user_id)
    yield b.probe(
        f"insert as {who}", (*base.prerequisites, b.insert(owned, returning="*", role=role)), cover
    )
    yield b.probe(
        f"insert as {who} (no RETURNING)", (*base.prerequisites, b.insert(owned, role=role)), cover
    )
    required = {
        c: v
        for c, v in owned.items()
        if _required(b.relation.column(c))
        or c in owners
        or (c in base.fresh and not _has_default(b.relation.column(c)))
    }
    yield b.probe(
        f"insert as {who}, defaults for the other columns",
        (*base.prerequisites, b.insert(required, returning="*", role=role)),
        cover,
    )
    for other in others:
        if other.user_id is None or other.user_id == actor.user_id or not owners:
            continue
        theirs = {**owned, **{column: literal(other.user_id) for column in owners}}
        yield b.probe(
            f"insert a row of {other.name} as {who}",
            (*base.prerequisites, b.insert(theirs, role=role)),
            cover,
        )


class _UidComparisons(Visitor):
    """Columns compared with `auth.uid()` (or `(SELECT auth.uid())`) in a policy expression."""

    def __init__(self) -> None:
        super().__init__()
        self.columns: set[str] = set()

    def visit_A_Expr(self, ancestors: Any, node: ast.A_Expr) -> None:  # noqa: N802
        names = [n.sval for n in node.name or () if isinstance(n, ast.String)]
        if names != ["="]:
            return
        for side, other in ((node.lexpr, node.rexpr), (node.rexpr, node.lexpr)):
            if _calls_uid(side) and isinstance(other, ast.ColumnRef):
                fields = [f.sval for f in other.fields if isinstance(f, ast.String)]
                if fields:
                    self.columns.add(fields[-1])


class _UidCall(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def visit_FuncCall(self, ancestors: Any, node: ast.FuncCall) -> None:  # noqa: N802
        if [n.sval for n in node.funcname][-1] == "uid":
            self.found = True


def _calls_uid(node: Any) -> bool:
    if node is None:
        return False
    visitor = _UidCall()
    visitor(node)
    return visitor.found


def owner_columns(relation: Relation) -> tuple[str, ...]:
    """Columns a row-level security policy ties to the signed-in user (`auth.uid() = col`)."""
    found: set[str] = set()
    for policy in relation.policies:
        for expression in (policy.using, policy.with_check):
            if not expression:
                continue
            visitor = _UidComparisons()
            try:
                visitor(parse_sql(f"SELECT {expression}"))
            except Exception:  # an expression pglast cannot read names no owner column
                continue
            found |= visitor.columns
    return tuple(c for c in relation.column_names if c in found)
