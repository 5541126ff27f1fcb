"""Deterministic probes, derived from the catalogs before any random search.

Each probe starts from a valid base row (a seeded row copied with fresh key values and its
foreign-key parents kept) or from a seeded row, and changes one thing, so that a difference
has one cause and the probe is already its minimal counterexample. Probes name what they
cover (columns, constraints, operations, statement forms, roles); the coverage report is
built from those names.

`builder` knows the table and writes statements; each other module is one family of probes.
"""

from __future__ import annotations

from collections.abc import Iterator

from migverify.verify.probes.builder import BaseRow, ProbeBuilder, sql_value
from migverify.verify.probes.constraints import constraint_probes
from migverify.verify.probes.forms import (
    copy_from_probes,
    copy_to_probes,
    merge_probes,
    on_constraint_probes,
    truncate_probes,
    upsert_probes,
)
from migverify.verify.probes.reads import lock_probes, select_probes
from migverify.verify.probes.roles import actor_probes, owner_columns
from migverify.verify.probes.writes import (
    delete_probes,
    insert_probes,
    update_probes,
    written_row_probes,
)
from migverify.verify.statement import MERGE_SINCE, Probe

__all__ = ["BaseRow", "ProbeBuilder", "owner_columns", "probes", "sql_value"]


def probes(b: ProbeBuilder, base: tuple[BaseRow, BaseRow] | None) -> Iterator[Probe]:
    ops = set(b.operations)
    seeded = b.facts.seeded
    if base is None and ops & {"insert", "upsert", "merge", "copy-from"}:
        b.notes.append(f"{b.table}: no base row the legacy table accepts: inserts untested")
    if "select" in ops:
        yield from select_probes(b)
    if base:
        yield from constraint_probes(b, *base)
    if base and "insert" in ops:
        yield from insert_probes(b, *base)
    if base and "update" in ops:
        yield from written_row_probes(b, base[0], "update")
    if seeded and "update" in ops:
        yield from update_probes(b, base)
    if base and "delete" in ops:
        yield from written_row_probes(b, base[0], "delete")
    if seeded and "delete" in ops:
        yield from delete_probes(b)
    if base and seeded and "upsert" in ops:
        yield from upsert_probes(b, base[0])
    if base and seeded and "upsert-on-constraint" in ops:
        yield from on_constraint_probes(b, base[0])
    if seeded and "merge" in ops:
        if b.server_version < MERGE_SINCE:
            b.notes.append(
                f"merge not tested: the server is PostgreSQL {b.server_version // 10000}"
            )
        elif base:
            yield from merge_probes(b, base[0])
    if seeded and "lock" in ops:
        yield from lock_probes(b)
    if "truncate" in ops:
        yield from truncate_probes(b, base)
    if "copy-to" in ops:
        yield from copy_to_probes(b)
    if "copy-from" in ops:
        yield from copy_from_probes(b, base)
    for actor in b.actors:
        yield from actor_probes(b, actor, base, b.actors)
    if not seeded:
        b.notes.append(f"{b.table}: the seed has no rows: updates and deletes untested")
