"""Probes that read: SELECT with joins, grouping, DISTINCT, OFFSET, and row locks."""

from __future__ import annotations

from collections.abc import Iterator

from migverify.quoting import ident, qualified
from migverify.verify.probes.builder import (
    ProbeBuilder,
)
from migverify.verify.statement import Probe


def select_probes(b: ProbeBuilder) -> Iterator[Probe]:
    t, order = b.quoted, b.order_by()
    op = ("operation", b.table, "select")
    yield b.probe("select *", [b.select(f"SELECT * FROM {t} ORDER BY {order}")], op)
    yield b.probe("count", [b.select(f"SELECT count(*) AS n FROM {t}")], op, ("form", "aggregate"))
    yield b.probe(
        "offset",
        [b.select(f"SELECT * FROM {t} ORDER BY {order} LIMIT 3 OFFSET 2")],
        op,
        ("form", "offset"),
    )
    if b.facts.seeded:
        row = b.facts.seeded[-1]
        yield b.probe("select by key", [b.select(f"SELECT * FROM {t} WHERE {b.where(row)}")], op)
    groupable = [
        c
        for c in b.relation.columns
        if c.type in ("text", "boolean", "integer", "smallint") or c.type.startswith("char")
    ][:3]
    for column in groupable:
        name = ident(column.name)
        yield b.probe(
            f"group by {column.name}",
            [b.select(f"SELECT {name}, count(*) AS n FROM {t} GROUP BY {name} ORDER BY {name}")],
            op,
            ("form", "group by"),
        )
        yield b.probe(
            f"distinct {column.name}",
            [b.select(f"SELECT DISTINCT {name} FROM {t}")],
            op,
            ("form", "distinct"),
        )
    for fk in b.relation.foreign_keys:
        parent = b.others.get(fk.references or "")
        if parent is None:
            continue
        p = qualified(parent.name) if "." in parent.name else ident(parent.name)
        on = " AND ".join(
            f"c.{ident(a)} = p.{ident(r)}"
            for a, r in zip(fk.columns, fk.referenced_columns, strict=True)
        )
        yield b.probe(
            f"join {parent.name}",
            [b.select(f"SELECT c.*, p.* FROM {t} c JOIN {p} p ON {on}")],
            op,
            ("form", "join"),
        )
        yield b.probe(
            f"left join {parent.name}",
            [b.select(f"SELECT p.*, c.* FROM {p} p LEFT JOIN {t} c ON {on}")],
            op,
            ("form", "join"),
        )


def lock_probes(b: ProbeBuilder) -> Iterator[Probe]:
    op = ("operation", b.table, "lock")
    row = b.facts.seeded[0]
    t = b.quoted
    for clause in ("FOR UPDATE", "FOR NO KEY UPDATE", "FOR SHARE"):
        yield b.probe(
            f"select … {clause.lower()}",
            [b.select(f"SELECT * FROM {t} WHERE {b.where(row)} {clause}", "lock")],
            op,
            ("form", "for update"),
        )
    yield b.probe(
        "select … for update skip locked (job queue)",
        [
            b.select(
                f"SELECT * FROM {t} ORDER BY {b.order_by()} LIMIT 1 FOR UPDATE SKIP LOCKED",
                "lock",
            )
        ],
        op,
        ("form", "skip locked"),
    )
