"""Probes run under SET ROLE: each operation once, and per column (column privileges, RLS)."""

from __future__ import annotations

from collections.abc import Iterator

from migverify.quoting import ident
from migverify.verify.probes.builder import (
    BaseRow,
    ProbeBuilder,
    _has_default,
    _required,
)
from migverify.verify.statement import Probe


def role_probes(
    b: ProbeBuilder, role: str, base: tuple[BaseRow, BaseRow] | None
) -> Iterator[Probe]:
    """Each operation once under SET ROLE; updates and selects per column (column grants)."""
    ops = set(b.operations)
    t = b.quoted
    cover = ("role", role, b.table)
    seeded = b.facts.seeded
    if "select" in ops:
        yield b.probe(
            f"select * as {role}",
            [b.select(f"SELECT * FROM {t} ORDER BY {b.order_by()}", role=role)],
            cover,
        )
        for column in b.relation.columns:
            yield b.probe(
                f"select {column.name} as {role}",
                [b.select(f"SELECT {ident(column.name)} FROM {t}", role=role)],
                cover,
            )
    if base and "insert" in ops:
        yield b.probe(
            f"insert as {role}",
            (*base[0].prerequisites, b.insert(base[0].values, returning="*", role=role)),
            cover,
        )
        yield b.probe(
            f"insert as {role} (no RETURNING)",
            (*base[0].prerequisites, b.insert(base[0].values, role=role)),
            cover,
        )
        required = {
            c: v
            for c, v in base[0].values.items()
            if _required(b.relation.column(c))
            or (c in base[0].fresh and not _has_default(b.relation.column(c)))
        }
        yield b.probe(
            f"insert as {role}, defaults for the other columns",
            (*base[0].prerequisites, b.insert(required, returning="*", role=role)),
            cover,
        )
    if base and "upsert" in ops and seeded:
        key = b.key_of(seeded[0])
        if all(k in base[0].values for k in key):
            target = ", ".join(ident(k) for k in key)
            yield b.probe(
                f"upsert as {role}",
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
                f"update {column.name} as {role}",
                [b.update(f"{name} = {name}", seeded[0], role=role)],
                cover,
            )
    if seeded and "delete" in ops:
        yield b.probe(
            f"delete as {role}",
            [b.statement(f"DELETE FROM {t} WHERE {b.where(seeded[0])}", "delete", role=role)],
            cover,
        )
