"""Probes that read: SELECT with joins, grouping, DISTINCT, OFFSET, and row locks."""

from __future__ import annotations

from collections.abc import Iterator

from migverify.quoting import ident, qualified
from migverify.verify.probes.builder import (
    ProbeBuilder,
    sql_value,
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
    yield from _order_probes(b)
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


def _order_probes(b: ProbeBuilder) -> Iterator[Probe]:
    """A column the layer shows in another type (an enum kept as text) or that sorts by a
    collation: which row comes first, and which rows lie below a stored value. Rows are compared
    as a multiset, so ORDER BY alone would not tell."""
    t, order = b.quoted, b.order_by()
    op = ("operation", b.table, "select")
    seeded = b.facts.seeded
    for column in b.relation.columns:
        changed = any(other != column.type for other in b.facts.target_types.get(column.name, ()))
        text = column.type == "text" or column.type.startswith(("character", "char"))
        if not (changed or text) or column.type.split("(")[0] in _UNORDERED:
            continue
        name = ident(column.name)
        for direction in ("ASC", "DESC"):
            yield b.probe(
                f"first by {column.name} {direction.lower()}",
                [b.select(f"SELECT * FROM {t} ORDER BY {name} {direction}, {order} LIMIT 1")],
                op,
                ("column", b.table, column.name),
            )
        values = sorted({r.get(column.name) for r in seeded} - {None})
        labels = b.facts.labels.get(column.name, ())
        middle = (
            labels[len(labels) // 2] if labels else (values[len(values) // 2] if values else None)
        )
        if middle is not None:
            value = sql_value(middle, column)
            yield b.probe(
                f"{column.name} below a stored value",
                [b.select(f"SELECT count(*) AS n FROM {t} WHERE {name} < {value}")],
                op,
                ("column", b.table, column.name),
            )


_UNORDERED = (
    "json",
    "xml",
    "point",
    "box",
    "polygon",
    "circle",
    "line",
    "lseg",
    "path",
    "tsvector",
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
