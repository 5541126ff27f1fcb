"""Column types as the row generator needs them (domains resolved to their base, arrays to their
element, enum labels, range subtypes), and candidate values of each type.

Candidates are text (what a literal of the type looks like), the N-th row's own values first, so
that rows of one table get distinct values for unique columns. The server has the last word: a
candidate that does not cast to the column's type (domain checks included) is dropped.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal, localcontext

import psycopg

from migverify.quoting import qualified

_NAMESPACE = uuid.UUID("9b2d3c4e-1f0a-4e8b-9c7d-6a5b4c3d2e1f")
_DAY = dt.date(2001, 1, 1)  # far from any run's clock window (see verify/clock.py)
_TYPMOD = re.compile(r"\((\d+)(?:\s*,\s*(\d+))?\)")
_INTEGERS = {"smallint": 2**15 - 1, "integer": 2**31 - 1, "bigint": 2**63 - 1}
_TEXTS = ("text", "character varying", "character", "citext", "name", "bpchar", "varchar")
CANDIDATES = 8  # values of its own type each column starts with


@dataclass(frozen=True)
class ColumnType:
    """One column's type: SQL_TYPE (format_type, what values are cast to) and what it is."""

    column: str
    sql_type: str
    base: str  # format_type of the base type (domains resolved), with the typmod
    kind: str  # pg_type.typtype of the base: b (base), e (enum), r (range), c (composite), …
    category: str  # pg_type.typcategory of the base: N numeric, S string, A array, …
    element: ColumnType | None = None  # arrays
    labels: tuple[str, ...] = ()  # enums
    subtype: str | None = None  # ranges
    not_null: bool = False  # a NOT NULL domain
    checks: tuple[str, ...] = ()  # the domains' CHECK expressions, VALUE for the value

    @property
    def name(self) -> str:
        """The base type's name without its schema and typmod (`timestamp(3) without time
        zone` is `timestamp without time zone`)."""
        plain = " ".join(_TYPMOD.sub("", self.base).split())
        return plain.rsplit(".", 1)[-1].strip('"')


_TYPES_QUERY = """
WITH RECURSIVE chain(depth, attname, attnum, typid, typmod) AS (
  SELECT 0, a.attname, a.attnum, a.atttypid, a.atttypmod
  FROM pg_attribute a WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT c.depth + 1, c.attname, c.attnum, t.typbasetype,
         CASE WHEN t.typtypmod >= 0 THEN t.typtypmod ELSE c.typmod END
  FROM chain c JOIN pg_type t ON t.oid = c.typid WHERE t.typtype = 'd'
)
SELECT DISTINCT ON (c.attnum) c.attname, format_type(a.atttypid, a.atttypmod) AS sql_type,
       (SELECT bool_or(d.typnotnull) FROM chain x JOIN pg_type d ON d.oid = x.typid
        WHERE x.attnum = c.attnum) AS domain_not_null,
       ARRAY(SELECT pg_get_expr(k.conbin, 0) FROM chain x JOIN pg_constraint k
             ON k.contypid = x.typid AND k.contype = 'c' WHERE x.attnum = c.attnum
             ORDER BY x.depth, k.conname) AS domain_checks,
       c.typid AS base_oid, format_type(c.typid, c.typmod) AS base, t.typtype, t.typcategory,
       t.typelem, CASE WHEN t.typelem <> 0 THEN format_type(t.typelem, c.typmod) END AS element,
       (SELECT array_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e
        WHERE e.enumtypid = c.typid) AS labels,
       (SELECT format_type(r.rngsubtype, NULL) FROM pg_range r WHERE r.rngtypid = c.typid)
         AS subtype
FROM chain c
JOIN pg_attribute a ON a.attrelid = %s::regclass AND a.attnum = c.attnum
JOIN pg_type t ON t.oid = c.typid
ORDER BY c.attnum, c.depth DESC
"""

_ELEMENT_QUERY = """
SELECT t.typtype, t.typcategory,
       (SELECT array_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e
        WHERE e.enumtypid = t.oid),
       (SELECT format_type(r.rngsubtype, NULL) FROM pg_range r WHERE r.rngtypid = t.oid)
FROM pg_type t WHERE t.oid = %s
"""


def read_types(conn: psycopg.Connection, table: str) -> dict[str, ColumnType]:
    """The types of the columns of TABLE (qualified name), by column name."""
    name = qualified(table)
    found: dict[str, ColumnType] = {}
    for row in conn.execute(_TYPES_QUERY, (name, name)).fetchall():
        column, sql_type, not_null, checks, _, base, kind, category, elem_oid, element = row[:10]
        labels, subtype = row[10:]
        element_type = None
        if category == "A" and elem_oid:
            e_kind, e_category, e_labels, e_subtype = conn.execute(
                _ELEMENT_QUERY, (elem_oid,)
            ).fetchone()
            element_type = ColumnType(
                column, element, element, e_kind, e_category, None, tuple(e_labels or ()), e_subtype
            )
        found[column] = ColumnType(
            column,
            sql_type,
            base,
            kind,
            category,
            element_type,
            tuple(labels or ()),
            subtype,
            bool(not_null),
            tuple(checks or ()),
        )
    return found


def candidates(ct: ColumnType, table: str, n: int) -> list[str]:
    """Values of the column's type for the N-th row, its own first."""
    return [v for k in range(n, n + CANDIDATES) for v in _values(ct, table, k)[:1]] + [
        v for v in _values(ct, table, n)[1:]
    ]


def _values(ct: ColumnType, table: str, k: int) -> list[str]:
    """The K-th value of the type first, then other shapes of the K-th value."""
    name = ct.name
    if ct.category == "A" and ct.element is not None:
        inner = _values(ct.element, table, k)
        return [_array([v]) for v in inner[:2]] + ["{}"]
    if ct.labels:
        return [ct.labels[(k + i) % len(ct.labels)] for i in range(len(ct.labels))]
    if ct.kind == "r":
        return _ranges(ct.subtype or "", k)
    if name in _INTEGERS:
        return [str(k + 1), str(1000 + k), str(-(k + 1))]
    if name == "numeric":
        return _numerics(ct.base, k)
    if name in ("real", "double precision", "float4", "float8"):
        return [f"{k + 1}.5", str(k + 1)]
    if name == "money":
        return [f"{k + 1}.00"]
    if name in _TEXTS or ct.category == "S":
        return _texts(ct, table, k)
    if name == "boolean":
        return ["true", "false"] if k % 2 == 0 else ["false", "true"]
    if name == "uuid":
        return [str(uuid.uuid5(_NAMESPACE, f"{table}.{ct.column}.{k}"))]
    return _others(ct, k)


def _array(items: list[str]) -> str:
    quoted = ['"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in items]
    return "{" + ",".join(quoted) + "}"


def _numerics(base: str, k: int) -> list[str]:
    found = _TYPMOD.search(base)
    if not found:
        return [str(k + 1), f"{k + 1}.25"]
    precision, scale = int(found.group(1)), int(found.group(2) or 0)
    with localcontext(prec=exact_digits(precision, scale)):
        unit = Decimal(1).scaleb(-scale)
        largest = Decimal(10) ** (precision - scale) - unit
        values = [Decimal(k + 1), (k + 1) * unit, Decimal(k + 1) / 4]
        return [str(v.quantize(unit)) for v in values if abs(v) <= largest and v != 0] or ["0"]


def exact_digits(precision: int, scale: int) -> int:
    """Digits a decimal context needs to compute exactly with numeric(PRECISION, SCALE) values:
    numeric(65,30) (Prisma's Decimal) needs more than the default context's 28."""
    return max(precision, 28) + abs(scale) + 2


def _limit(base: str) -> int | None:
    found = _TYPMOD.search(base)
    return int(found.group(1)) if found else None


def _texts(ct: ColumnType, table: str, k: int) -> list[str]:
    column = ct.column.lower()
    word = re.sub(r"[^a-z0-9]+", "-", column).strip("-") or "value"
    shapes = [
        f"{word}-{k + 1}",
        f"user{k + 1}@example.com",
        f"https://example.com/{word}/{k + 1}",
        f"{word}{k + 1}".replace("-", ""),
        f"{word.upper()[:3]}{k + 1}".replace("-", ""),
        f"{k + 1}",
        f"+1555{k + 1:07d}",
    ]
    hints = (
        ("mail", 1),
        ("url", 2),
        ("link", 2),
        ("website", 2),
        ("href", 2),
        ("slug", 3),
        ("code", 4),
        ("phone", 6),
    )
    for hint, index in hints:
        if hint in column:
            shapes.insert(0, shapes.pop(index))
            break
    limit = _limit(ct.base) if ct.name not in ("text", "citext", "name") else None
    if limit:
        shapes = [s if len(s) <= limit else s[-limit:] for s in shapes]
    return list(dict.fromkeys(shapes))


def _ranges(subtype: str, k: int) -> list[str]:
    if subtype in ("integer", "bigint", "numeric"):
        return [f"[{10 * k},{10 * k + 5})"]
    if subtype == "date":
        start = _DAY + dt.timedelta(days=3 * k)
        return [f"[{start},{start + dt.timedelta(days=1)})"]
    if subtype.startswith("timestamp"):
        start = dt.datetime.combine(_DAY, dt.time(10)) + dt.timedelta(days=k)
        zone = "+00" if "with time zone" in subtype else ""
        return [f"[{start}{zone},{start + dt.timedelta(hours=1)}{zone})"]
    return ["empty"]


def _others(ct: ColumnType, k: int) -> list[str]:
    name = ct.name
    day = _DAY + dt.timedelta(days=k)
    moment = dt.datetime.combine(day, dt.time(10, 0, 0))
    simple = {
        "date": [str(day)],
        "timestamp without time zone": [str(moment)],
        "timestamp with time zone": [f"{moment}+00"],
        "time without time zone": [f"{8 + k % 12:02d}:00:00"],
        "time with time zone": [f"{8 + k % 12:02d}:00:00+00"],
        "interval": [f"{k + 1} days"],
        "bytea": [f"\\x{k + 1:02x}"],
        "json": [f'{{"n": {k + 1}}}', "{}", "[]"],
        "jsonb": [f'{{"n": {k + 1}}}', "{}", "[]"],
        "inet": [f"10.0.{k // 250}.{k % 250 + 1}"],
        "cidr": [f"10.{k % 250}.0.0/16"],
        "macaddr": [f"08:00:2b:00:{k // 256 % 256:02x}:{k % 256:02x}"],
        "macaddr8": [f"08:00:2b:ff:fe:00:{k // 256 % 256:02x}:{k % 256:02x}"],
        "bit": ["1" * (_limit(ct.base) or 1)],
        "bit varying": ["1"],
        "tsvector": [f"word{k + 1}"],
        "tsquery": [f"word{k + 1}"],
        "point": [f"({k},{k})"],
        "box": [f"(({k},{k}),({k + 1},{k + 1}))"],
        "circle": [f"<({k},{k}),1>"],
        "lseg": [f"[({k},{k}),({k + 1},{k + 1})]"],
        "path": [f"[({k},{k}),({k + 1},{k + 1})]"],
        "polygon": [f"(({k},{k}),({k + 1},{k}),({k},{k + 1}))"],
        "xml": [f"<v>{k + 1}</v>"],
        "hstore": [f'"n"=>"{k + 1}"'],
        "ltree": [f"top.n{k + 1}"],
        "oid": [str(k + 1)],
    }
    if name in simple:
        return simple[name]
    if name in ("vector", "halfvec"):
        dimensions = _limit(ct.base) or 3
        return ["[" + ",".join([f"{k + 1}"] + ["0"] * (dimensions - 1)) + "]"]
    return ["", str(k + 1), f"value-{k + 1}", "{}", "[]", "()", "0"]
