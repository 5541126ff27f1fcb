"""Probes that write one thing differently per column: INSERT, UPDATE and DELETE, with DEFAULT,
NULL, edge values, generated and identity columns, sequences, and the related-table forms."""

from __future__ import annotations

from collections.abc import Iterator

from migverify.quoting import ident, qualified
from migverify.verify.probes.builder import (
    BaseRow,
    ProbeBuilder,
    _short,
    sql_value,
)
from migverify.verify.statement import Probe, Statement


def insert_probes(b: ProbeBuilder, base: BaseRow, second: BaseRow) -> Iterator[Probe]:
    op = ("operation", b.table, "insert")
    values = base.values
    yield b.probe("insert a row", b.with_base(base, b.insert(values, returning="*")), op)
    yield b.probe("insert a row (no RETURNING)", b.with_base(base, b.insert(values)), op)
    both = dict(values)
    tuples = [", ".join(values.values()), ", ".join(second.values.values())]
    columns = ", ".join(ident(c) for c in both)
    yield b.probe(
        "multi-row insert",
        (
            *base.prerequisites,
            *second.prerequisites,
            b.statement(
                f"INSERT INTO {b.quoted} ({columns}) VALUES ({tuples[0]}), ({tuples[1]})",
                "insert",
            ),
        ),
        op,
        ("form", "multi-row values"),
    )
    yield b.probe(
        "insert … select",
        b.with_base(base, _insert_select(b, base)),
        op,
        ("form", "insert select"),
    )
    yield b.probe(
        "insert in a writable CTE",
        b.with_base(
            base,
            b.select(
                f"WITH w AS ({b.insert(values, returning='*').sql}) SELECT count(*) AS n FROM w"
            ),
        ),
        op,
        ("form", "writable cte"),
    )
    key = b.key_of({c: v for c, v in values.items() if v != "NULL"})
    expressions = ", ".join(
        [ident(c) for c in key[:2]]
        + [f"{ident(c.name)}::text AS {ident(c.name + '_text')}" for c in b.relation.columns[:3]]
    )
    yield b.probe(
        "returning expressions",
        b.with_base(base, b.insert(values, returning=expressions)),
        op,
        ("form", "returning expressions"),
    )
    if not values:
        return
    yield b.probe(
        "insert default values",
        [b.insert({}, returning="*")],
        op,
        ("form", "default values"),
    )
    for column in b.writable:
        covers = ("column", b.table, column.name)
        rest = {c: v for c, v in values.items() if c != column.name}
        yield b.probe(
            f"insert omitting {column.name}",
            b.with_base(base, b.insert(rest, returning="*")),
            op,
            covers,
        )
        yield b.probe(
            f"insert DEFAULT into {column.name}",
            b.with_base(base, b.insert({**values, column.name: "DEFAULT"}, returning="*")),
            op,
            covers,
            ("form", "default keyword"),
        )
        yield b.probe(
            f"insert NULL into {column.name}",
            b.with_base(base, b.insert({**values, column.name: "NULL"})),
            op,
            covers,
        )
        for value in b.edge_values(column):
            yield b.probe(
                f"insert {column.name} = {_short(value)}",
                b.with_base(base, b.insert({**values, column.name: value})),
                op,
                covers,
            )
    yield from _generated_insert_probes(b, base)
    yield from _sequence_probes(b, base)


def _insert_select(b: ProbeBuilder, base: BaseRow) -> Statement:
    """INSERT … SELECT: the seeded row read back with the base row's fresh values."""
    values = base.values
    columns = ", ".join(ident(c) for c in values)
    seeded = b.facts.seeded[0] if b.facts.seeded else None
    picks = []
    for name, value in values.items():
        column = b.relation.column(name)
        if seeded is None or name in base.fresh or value == "NULL":
            picks.append(f"{value}::{column.type}" if value != "NULL" else f"NULL::{column.type}")
        else:
            picks.append(ident(name))
    source = f" FROM {b.quoted} WHERE {b.where(seeded)}" if seeded else ""
    return b.statement(
        f"INSERT INTO {b.quoted} ({columns}) SELECT {', '.join(picks)}{source}", "insert"
    )


def _generated_insert_probes(b: ProbeBuilder, base: BaseRow) -> Iterator[Probe]:
    op = ("operation", b.table, "insert")
    seeded = b.facts.seeded[0] if b.facts.seeded else {}
    for column in b.relation.columns:
        if not (column.generated or column.identity == "always"):
            continue
        covers = ("column", b.table, column.name)
        value = sql_value(seeded.get(column.name), column) if seeded else "1"
        if column.identity == "always" and column.name in base.values:
            continue
        if column.identity == "always":
            explicit = b.fresh(column, 7) or value
            yield b.probe(
                f"insert {column.name} (identity always) explicitly",
                b.with_base(base, b.insert({**base.values, column.name: explicit})),
                op,
                covers,
            )
            yield b.probe(
                f"insert {column.name} overriding system value",
                b.with_base(
                    base,
                    b.insert(
                        {**base.values, column.name: explicit},
                        overriding="SYSTEM",
                        returning="*",
                    ),
                ),
                op,
                covers,
                ("form", "overriding system value"),
            )
        else:
            yield b.probe(
                f"insert into generated {column.name}",
                b.with_base(base, b.insert({**base.values, column.name: value})),
                op,
                covers,
            )
        yield b.probe(
            f"insert DEFAULT into {column.name}",
            b.with_base(base, b.insert({**base.values, column.name: "DEFAULT"}, returning="*")),
            op,
            covers,
            ("form", "default keyword"),
        )


def _sequence_probes(b: ProbeBuilder, base: BaseRow) -> Iterator[Probe]:
    keyed = [c for c in b.relation.columns if c.identity or c.default_uses_sequence]
    if not keyed or not b.facts.seeded:
        return
    without = {c: v for c, v in base.values.items() if c not in {k.name for k in keyed}}
    for column in keyed:
        top = b.facts.maxima.get(column.name)
        if top is None:
            continue
        newest = {column.name: top}
        delete = b.statement(
            f"DELETE FROM {b.quoted} WHERE {b.where(newest, [column.name])}", "delete"
        )
        yield b.probe(
            f"insert after deleting the newest row ({column.name} from its sequence)",
            b.with_base(base, delete, b.insert(without, returning="*")),
            ("operation", b.table, "insert"),
            ("sequence", b.table, column.name),
        )


def written_row_probes(b: ProbeBuilder, base: BaseRow, verb: str) -> Iterator[Probe]:
    """Update or delete a row the same workload inserted: a table whose seeded rows all have
    children (or none at all) is still updated and deleted."""
    row: dict[str, str | None] = {c: _text(v) for c, v in base.values.items()}
    # The row by what the insert wrote: a key it wrote, else every comparable column it wrote
    # (an identity ALWAYS key is not among them).
    written = [c for c in b.key_of(row) if c in row] or [
        c for c in b.key_of({}) if c in row and row[c] is not None
    ]
    where = b.where(row, written)
    if verb == "update":
        column = next((c for c in b.writable if c.name in base.values), None)
        if column is None:
            return
        name = ident(column.name)
        change = b.select(f"UPDATE {b.quoted} SET {name} = {name} WHERE {where} RETURNING *", verb)
    else:
        change = b.select(f"DELETE FROM {b.quoted} WHERE {where} RETURNING *", "delete")
    yield b.probe(
        f"{verb} a row just inserted",
        b.with_base(base, b.insert(base.values), change),
        ("operation", b.table, verb),
    )


def _text(value: str) -> str | None:
    """A base row's SQL literal as the text value b.where() renders again."""
    value = value.strip()
    if value == "NULL":
        return None
    if value.startswith("E'") and value.endswith("'"):
        return value[2:-1].replace("''", "'").replace("\\\\", "\\")
    if value.startswith("'") and value.endswith("'"):
        return value[1:-1].replace("''", "'")
    return value


def update_probes(b: ProbeBuilder, base: tuple[BaseRow, BaseRow] | None) -> Iterator[Probe]:
    op = ("operation", b.table, "update")
    row = b.facts.seeded[0]
    first = b.writable[0] if b.writable else None
    if first is not None:
        same = f"{ident(first.name)} = {ident(first.name)}"
        yield from _row_forms(
            b,
            "update",
            f"UPDATE {b.quoted} SET {same} WHERE {b.where(row)}",
            f"UPDATE {b.quoted} SET {same}",
        )
    for column in b.relation.columns:
        covers = ("column", b.table, column.name)
        name = ident(column.name)
        yield b.probe(
            f"update {column.name} = DEFAULT",
            [b.update(f"{name} = DEFAULT", row, returning="*")],
            op,
            covers,
            ("form", "set default"),
        )
        if column.generated or column.identity == "always":
            value = sql_value(row.get(column.name), column)
            yield b.probe(
                f"update generated/identity {column.name}",
                [b.update(f"{name} = {value}", row)],
                op,
                covers,
            )
            continue
        yield b.probe(f"update {column.name} = NULL", [b.update(f"{name} = NULL", row)], op, covers)
        for value in b.edge_values(column):
            yield b.probe(
                f"update {column.name} = {_short(value)}",
                [b.update(f"{name} = {value}", row)],
                op,
                covers,
            )
    yield from _update_from_probes(b, row)
    yield from _key_update_probes(b)


def _update_from_probes(b: ProbeBuilder, row: dict[str, str | None]) -> Iterator[Probe]:
    for fk in b.relation.foreign_keys:
        parent = b.others.get(fk.references or "")
        if parent is None or not b.writable:
            continue
        p = qualified(parent.name) if "." in parent.name else ident(parent.name)
        on = " AND ".join(
            f"{b.quoted}.{ident(a)} = p.{ident(r)}"
            for a, r in zip(fk.columns, fk.referenced_columns, strict=True)
        )
        column = next((c for c in b.writable if c.name not in fk.columns), None)
        if column is None:
            continue
        keys = " AND ".join(
            f"p.{ident(r)} = {sql_value(row.get(a), b.relation.column(a))}"
            for a, r in zip(fk.columns, fk.referenced_columns, strict=True)
        )
        value = sql_value(row.get(column.name), column)
        yield b.probe(
            f"update … from {parent.name}",
            [
                b.statement(
                    f"UPDATE {b.quoted} SET {ident(column.name)} = {value} FROM {p} AS p "
                    f"WHERE {on} AND {keys}",
                    "update",
                )
            ],
            ("operation", b.table, "update"),
            ("form", "update from"),
        )
        yield b.probe(
            f"delete … using {parent.name}",
            [b.statement(f"DELETE FROM {b.quoted} USING {p} AS p WHERE {on} AND {keys}", "delete")]
            if "delete" in b.operations
            else [],
            ("operation", b.table, "delete"),
            ("form", "delete using"),
        )


def _key_update_probes(b: ProbeBuilder) -> Iterator[Probe]:
    """Changing a referenced key: the children's ON UPDATE action must act the same."""
    for (child, fk_name), values in sorted(b.facts.with_children.items()):
        fk = b.child_fk(child, fk_name)
        if fk is None:
            continue
        row = dict(zip(fk.referenced_columns, values, strict=True))
        column = b.relation.column(fk.referenced_columns[0])
        fresh = b.fresh(column, 9)
        if fresh is None:
            continue
        yield b.probe(
            f"update a key {child} references ({fk_name})",
            [b.update(f"{ident(column.name)} = {fresh}", row)],
            ("operation", b.table, "update"),
            ("constraint", child, fk_name),
        )


def _row_forms(b: ProbeBuilder, verb: str, one_row: str, every_row: str) -> Iterator[Probe]:
    """A write of one seeded row as it stands, with RETURNING, inside a writable CTE, and of
    every row."""
    op = ("operation", b.table, verb)
    yield b.probe(f"{verb} a row", [b.statement(one_row, verb)], op)
    yield b.probe(f"{verb} returning", [b.select(f"{one_row} RETURNING *", verb)], op)
    yield b.probe(
        f"{verb} in a writable CTE",
        [b.select(f"WITH w AS ({one_row} RETURNING *) SELECT count(*) AS n FROM w", verb)],
        op,
        ("form", "writable cte"),
    )
    yield b.probe(f"{verb} every row", [b.statement(every_row, verb)], op)


def delete_probes(b: ProbeBuilder) -> Iterator[Probe]:
    op = ("operation", b.table, "delete")
    row = b.facts.leaf or b.facts.seeded[0]  # a row no foreign key keeps
    yield from _row_forms(
        b, "delete", f"DELETE FROM {b.quoted} WHERE {b.where(row)}", f"DELETE FROM {b.quoted}"
    )
    for (child, fk_name), values in sorted(b.facts.with_children.items()):
        fk = b.child_fk(child, fk_name)
        if fk is None:
            continue
        parent_row = dict(zip(fk.referenced_columns, values, strict=True))
        yield b.probe(
            f"delete a row {child} references ({fk_name}, ON DELETE {fk.on_delete})",
            [b.statement(f"DELETE FROM {b.quoted} WHERE {b.where(parent_row)}", "delete")],
            op,
            ("constraint", child, fk_name),
        )
