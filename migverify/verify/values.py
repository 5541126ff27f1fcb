"""Hypothesis strategies for column values, derived from the legacy catalog and the seed rows.

Values are SQL text (rendered later as untyped string literals), so that PostgreSQL resolves
them against the column type in each world exactly as it would for application code: a value
too long for a narrowed `varchar(20)` fails in the migrated world, not in the generator.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from hypothesis import strategies as st

from migverify.catalog import Column

_INT_RANGES = {
    "smallint": (-32768, 32767),
    "integer": (-2147483648, 2147483647),
    "bigint": (-9223372036854775808, 9223372036854775807),
}
_TEXT_ALPHABET = st.characters(
    blacklist_categories=("Cs",), blacklist_characters="\x00", max_codepoint=0x1F600
)
_TYPMOD = re.compile(r"\((\d+)(?:,(\d+))?\)")


def _integers(type_name: str) -> st.SearchStrategy[str]:
    low, high = _INT_RANGES[type_name]
    return st.one_of(
        st.integers(-3, 400),
        st.sampled_from([low, high, 0, -1, 1]),
        st.integers(low, high),
    ).map(str)


def _numeric(type_name: str) -> st.SearchStrategy[str]:
    match = _TYPMOD.search(type_name)
    if match:
        precision, scale = int(match.group(1)), int(match.group(2) or 0)
        bound = 10 ** (precision - scale)
        boundary = [str(bound), f"-{bound}"]  # just outside the precision
        inner = st.decimals(
            min_value=-bound + 1, max_value=bound - 1, places=scale, allow_nan=False
        ).map(str)
        return st.one_of(inner, st.sampled_from(["0", "1", "-1", "0.5", "1.5", *boundary]))
    return st.one_of(
        st.decimals(min_value=-(10**6), max_value=10**6, places=3, allow_nan=False).map(str),
        st.sampled_from(["0", "-1", "NaN", "1e20"]),
    )


def _floats() -> st.SearchStrategy[str]:
    return st.one_of(
        st.floats(-1e6, 1e6, allow_nan=False).map(repr),
        st.sampled_from(["NaN", "Infinity", "-Infinity", "0", "-0"]),
    )


def _text(type_name: str) -> st.SearchStrategy[str]:
    match = _TYPMOD.search(type_name)
    limit = int(match.group(1)) if match else None
    size = (limit + 2) if limit else 40
    return st.one_of(
        st.text(_TEXT_ALPHABET, max_size=size),
        st.sampled_from(["", " ", "a", "x" * ((limit or 300) + 1)]),
    )


def _timestamps(with_zone: bool) -> st.SearchStrategy[str]:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    offsets = st.integers(-86400 * 400, 86400 * 400).map(lambda s: base + timedelta(seconds=s))
    if with_zone:
        return offsets.map(lambda d: d.isoformat())
    return offsets.map(lambda d: d.replace(tzinfo=None).isoformat(sep=" "))


def _dates() -> st.SearchStrategy[str]:
    return st.dates(date(2000, 1, 1), date(2035, 12, 31)).map(str)


def type_strategy(type_name: str) -> st.SearchStrategy[str] | None:
    """Values for a `format_type` name, or None for a type migverify has no generator for."""
    base = type_name.split("(")[0].strip()
    if type_name.endswith("[]"):
        return st.sampled_from(["{}"])
    if base in _INT_RANGES:
        return _integers(base)
    if base == "numeric":
        return _numeric(type_name)
    if base in ("real", "double precision"):
        return _floats()
    if base in ("text", "character varying", "character", "citext", "name"):
        return _text(type_name)
    if base == "boolean":
        return st.sampled_from(["true", "false"])
    if base == "timestamp with time zone":
        return _timestamps(True)
    if base == "timestamp without time zone":
        return _timestamps(False)
    if base == "date":
        return _dates()
    if base == "uuid":
        return st.uuids().map(str)
    if base in ("json", "jsonb"):
        return st.sampled_from(["{}", '{"a": 1}', "[]", "null", '{"k": [1, 2, "x"]}'])
    return None


def column_values(column: Column, samples: Sequence[str]) -> st.SearchStrategy[str | None]:
    """Values for COLUMN: seeded values (to hit keys and foreign keys), generated ones, NULL."""
    options: list[st.SearchStrategy[str | None]] = []
    if samples:
        options.append(st.sampled_from(list(samples)))
    generated = type_strategy(column.type)
    if generated is not None:
        options += [generated, generated]  # fresh values weigh more: unique keys need them
    options.append(st.none())  # NULL one time in four (or more with few options)
    return st.one_of(*options)
