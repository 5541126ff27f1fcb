"""Probes for statement forms beyond plain DML: ON CONFLICT, MERGE, TRUNCATE, COPY."""

from __future__ import annotations

from collections.abc import Iterator

from migverify.quoting import ident
from migverify.verify.probes.builder import (
    BaseRow,
    ProbeBuilder,
    _copy_text,
    _partial_predicate,
    sql_value,
)
from migverify.verify.statement import Probe, Statement


def upsert_probes(b: ProbeBuilder, base: BaseRow) -> Iterator[Probe]:
    op = ("operation", b.table, "upsert")
    seeded = b.facts.seeded[0]
    for constraint in b.relation.unique_keys:
        columns = constraint.columns
        conflicting = {
            **base.values,
            **{c: sql_value(seeded.get(c), b.relation.column(c)) for c in columns},
        }
        if any(c not in base.values for c in columns):
            continue
        target = ", ".join(ident(c) for c in columns)
        others = [c for c in base.values if c not in columns]
        covers = ("constraint", b.table, constraint.name, "legacy")
        for label, values in (("conflicting", conflicting), ("new", base.values)):
            yield b.probe(
                f"upsert {label} row on ({target}) do nothing",
                b.with_base(
                    base,
                    b.insert(
                        values,
                        suffix=f" ON CONFLICT ({target}) DO NOTHING",
                        returning="*",
                        operation="upsert",
                    ),
                ),
                op,
                covers,
            )
            if others:
                sets = ", ".join(f"{ident(c)} = EXCLUDED.{ident(c)}" for c in others)
                yield b.probe(
                    f"upsert {label} row on ({target}) do update",
                    b.with_base(
                        base,
                        b.insert(
                            values,
                            suffix=f" ON CONFLICT ({target}) DO UPDATE SET {sets}",
                            returning="*",
                            operation="upsert",
                        ),
                    ),
                    op,
                    covers,
                )
    for index in b.relation.indexes:
        predicate = _partial_predicate(index.definition)
        if not index.unique or predicate is None:
            continue
        columns = [c for c in index.columns]
        if any(c not in base.values for c in columns):
            continue
        target = ", ".join(ident(c) for c in columns)
        yield b.probe(
            f"upsert on partial index {index.name}",
            b.with_base(
                base,
                b.insert(
                    base.values,
                    suffix=f" ON CONFLICT ({target}) WHERE {predicate} DO NOTHING",
                    operation="upsert",
                ),
            ),
            op,
            ("form", "on conflict where"),
        )


def on_constraint_probes(b: ProbeBuilder, base: BaseRow) -> Iterator[Probe]:
    """`ON CONFLICT ON CONSTRAINT name`: the name is the legacy table's own."""
    op = ("operation", b.table, "upsert-on-constraint")
    seeded = b.facts.seeded[0]
    for constraint in b.relation.unique_keys:
        if any(c not in base.values for c in constraint.columns):
            continue
        conflicting = {
            **base.values,
            **{c: sql_value(seeded.get(c), b.relation.column(c)) for c in constraint.columns},
        }
        yield b.probe(
            f"upsert on constraint {constraint.name}",
            b.with_base(
                base,
                b.insert(
                    conflicting,
                    suffix=f" ON CONFLICT ON CONSTRAINT {ident(constraint.name)} DO NOTHING",
                    operation="upsert-on-constraint",
                ),
            ),
            op,
            ("constraint", b.table, constraint.name, "legacy"),
            ("form", "on conflict on constraint"),
        )


def merge_probes(b: ProbeBuilder, base: BaseRow) -> Iterator[Probe]:
    op = ("operation", b.table, "merge")
    seeded = b.facts.seeded[0]
    key = b.key_of(seeded)
    columns = list(base.values)
    if not columns or any(k not in columns for k in key):
        return
    typed = lambda values: ", ".join(  # noqa: E731
        f"{v}::{b.relation.column(c).type}" if v != "NULL" else f"NULL::{b.relation.column(c).type}"
        for c, v in values.items()
    )
    names = ", ".join(ident(c) for c in columns)
    on = " AND ".join(f"t.{ident(k)} = s.{ident(k)}" for k in key)
    others = [c for c in columns if c not in key]
    sets = (
        ", ".join(f"{ident(c)} = s.{ident(c)}" for c in others)
        or f"{ident(key[0])} = s.{ident(key[0])}"
    )
    matched = {
        **base.values,
        **{k: sql_value(seeded.get(k), b.relation.column(k)) for k in key},
    }
    inserts = ", ".join(f"s.{ident(c)}" for c in columns)
    for label, values in (("matched", matched), ("not matched", base.values)):
        yield b.probe(
            f"merge ({label})",
            b.with_base(
                base,
                b.statement(
                    f"MERGE INTO {b.quoted} t USING (VALUES ({typed(values)})) AS s({names}) "
                    f"ON {on} WHEN MATCHED THEN UPDATE SET {sets} "
                    f"WHEN NOT MATCHED THEN INSERT ({names}) VALUES ({inserts})",
                    "merge",
                ),
            ),
            op,
            ("form", "merge"),
        )
    yield b.probe(
        "merge (matched, delete)",
        [
            b.statement(
                f"MERGE INTO {b.quoted} t USING (VALUES ({typed(matched)})) AS s({names}) "
                f"ON {on} WHEN MATCHED THEN DELETE",
                "merge",
            )
        ],
        op,
        ("form", "merge"),
    )


def truncate_probes(b: ProbeBuilder, base: tuple[BaseRow, BaseRow] | None) -> Iterator[Probe]:
    op = ("operation", b.table, "truncate")
    t = b.quoted
    yield b.probe("truncate", [b.statement(f"TRUNCATE {t}", "truncate")], op)
    yield b.probe("truncate cascade", [b.statement(f"TRUNCATE {t} CASCADE", "truncate")], op)
    if base:
        keyed = {c.name for c in b.relation.columns if c.identity or c.default_uses_sequence}
        without = {c: v for c, v in base[0].values.items() if c not in keyed}
        yield b.probe(
            "truncate restart identity, then insert",
            [
                b.statement(f"TRUNCATE {t} RESTART IDENTITY CASCADE", "truncate"),
                b.insert(without, returning="*"),
            ],
            op,
        )


def copy_to_probes(b: ProbeBuilder) -> Iterator[Probe]:
    op = ("operation", b.table, "copy-to")
    t = b.quoted
    yield b.probe(
        "copy to stdout",
        [Statement(f"COPY {t} TO STDOUT", b.table, "copy-to")],
        op,
        ("form", "copy to"),
    )
    yield b.probe(
        "copy (select …) to stdout",
        [Statement(f"COPY (SELECT * FROM {t}) TO STDOUT", b.table, "copy-to")],
        op,
        ("form", "copy to"),
    )


def copy_from_probes(b: ProbeBuilder, base: tuple[BaseRow, BaseRow] | None) -> Iterator[Probe]:
    if base is None:
        return
    columns = list(base[0].values)
    line = "\t".join(_copy_text(base[0].values[c]) for c in columns) + "\n"
    names = ", ".join(ident(c) for c in columns)
    yield b.probe(
        "copy from stdin",
        [
            *base[0].prerequisites,
            Statement(
                f"COPY {b.quoted} ({names}) FROM STDIN", b.table, "copy-from", copy_rows=line
            ),
        ],
        ("operation", b.table, "copy-from"),
        ("form", "copy from"),
    )
