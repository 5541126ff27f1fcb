"""Deterministic edge values for probes: the limits of a column's type, of the narrower or
different type the layer maps it to, and the constants a CHECK constraint compares against.

Values are SQL text (rendered later as untyped literals), so PostgreSQL resolves them against
the column type in each world, as it would for application code.
"""

from __future__ import annotations

import re
from decimal import Decimal, localcontext
from typing import Any

from pglast import ast, parse_sql
from pglast.visitors import Visitor

from migverify.rows.types import exact_digits

_INT_LIMITS = {
    "smallint": (-(2**15), 2**15 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}
_TYPMOD = re.compile(r"\((\d+)(?:,(\d+))?\)")
_TEXT_TYPES = ("text", "character varying", "character", "citext", "name", "varchar", "bpchar")
NON_ASCII = "é漢字😀"


def base_type(type_name: str) -> str:
    return type_name.split("(")[0].strip()


def is_text(type_name: str) -> bool:
    return base_type(type_name) in _TEXT_TYPES and not type_name.endswith("[]")


def is_integer(type_name: str) -> bool:
    return type_name in _INT_LIMITS


def is_number(type_name: str) -> bool:
    return is_integer(type_name) or base_type(type_name) in ("numeric", "real", "double precision")


def text_limit(type_name: str) -> int | None:
    match = _TYPMOD.search(type_name)
    return int(match.group(1)) if match and is_text(type_name) else None


def _integer_values(type_name: str, others: tuple[str, ...]) -> list[str]:
    low, high = _INT_LIMITS[type_name]
    values = [low, high, 0, -1]
    for other in others:  # just outside a narrower type the layer stores it in
        if other in _INT_LIMITS:
            o_low, o_high = _INT_LIMITS[other]
            values += [v for v in (o_low - 1, o_high + 1) if low <= v <= high]
    return [str(v) for v in values]


def _numeric_values(type_name: str) -> list[str]:
    match = _TYPMOD.search(type_name)
    if not match:
        # 1.10: a scale another type or a jsonb round trip may not keep
        return ["NaN", "Infinity", "-Infinity", "0.000000000000000000001", "1e30", "-1", "1.10"]
    precision, scale = int(match.group(1)), int(match.group(2) or 0)
    with localcontext(prec=exact_digits(precision, scale)):
        unit = Decimal(1).scaleb(-scale)
        largest = Decimal(10) ** (precision - scale) - unit
        finer = unit / 2  # one more decimal than the scale: rounded differently by another scale
        return [str(largest), str(-largest), str(largest + unit), str(finer + unit), "0"]


def _float_values(type_name: str) -> list[str]:
    # -0: a jsonb number has no negative zero; 0.1: not exact in real, a narrower float shows it
    values = ["NaN", "Infinity", "-Infinity", "-0", "1e-40", "0.1"]
    if type_name == "double precision":
        values += ["1e300"]  # overflows real
    return values


def _text_values(type_name: str, others: tuple[str, ...]) -> list[str]:
    values = ["", " ", NON_ASCII, "a  ", "it's \\"]
    for limit in sorted({text_limit(t) for t in (type_name, *others)} - {None}):
        values += ["x" * limit, "x" * (limit + 1)]
    if not any(text_limit(t) for t in (type_name, *others)):
        values.append("x" * 10_000)
    return values


_SPECIAL: dict[str, list[str]] = {
    "boolean": ["true", "false"],
    "date": ["infinity", "-infinity", "0001-01-01", "2026-02-28"],
    "timestamp without time zone": [
        "infinity",
        "-infinity",
        "2026-03-29 02:30:00",
        "2026-01-01 00:00:00.123456",
    ],
    "timestamp with time zone": [
        "infinity",
        "-infinity",
        "2026-03-29 02:30:00+02",
        "2026-01-01 00:00:00.123456+05:30",
    ],
    "time without time zone": ["24:00:00", "00:00:00.000001"],
    # equal intervals that print differently when stored another way ('1 mon' is '30 days')
    "interval": ["1 mon -1 days", "-1 years", "00:00:00.000001", "1 mon", "24:00:00"],
    "uuid": ["00000000-0000-0000-0000-000000000000", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"],
    "json": ['{"b": 1, "a": 2}', '{"a": 1, "a": 2}', "[]", "null", '"\\u0000"', "1.0"],
    "jsonb": ['{"b": 1, "a": 2}', "[]", "null", "1.0"],
    "bytea": ["\\x", "\\x00ff"],
}


def edge_values(
    type_name: str, others: tuple[str, ...] = (), labels: tuple[str, ...] = ()
) -> list[str]:
    """Edge values of TYPE_NAME (legacy), including those that break OTHERS (the types the
    layer maps the column to); LABELS for an enum. Deduplicated, in a fixed order."""
    base = base_type(type_name)
    if type_name.endswith("[]"):
        values = ["{}", "{NULL}"]
    elif labels:
        values = [*labels, "not-a-label"]
    elif type_name in _INT_LIMITS:
        values = _integer_values(type_name, others)
    elif base == "numeric":
        values = _numeric_values(type_name)
        for other in others:
            if base_type(other) == "numeric" and other != type_name:
                values += _numeric_values(other)
            elif other in _INT_LIMITS:
                values += ["0.5", str(_INT_LIMITS[other][1] + 1)]
    elif base in ("real", "double precision"):
        values = _float_values(type_name)
    elif is_text(type_name):
        values = _text_values(type_name, others)
    else:
        values = list(_SPECIAL.get(base, []))
    for other in others:
        if base_type(other) == "jsonb" and base == "json":
            values.append('"\\u0000"')
    return list(dict.fromkeys(values))


class _Constants(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.values: list[Any] = []

    def visit_A_Const(self, ancestors: Any, node: ast.A_Const) -> None:  # noqa: N802
        value = node.val
        if isinstance(value, ast.Integer):
            self.values.append(int(value.ival))
        elif isinstance(value, ast.Float):
            self.values.append(Decimal(value.fval))
        elif isinstance(value, ast.String):
            self.values.append(value.sval)
        elif isinstance(value, ast.Boolean):
            self.values.append(bool(value.boolval))


def check_constants(definition: str) -> list[Any]:
    """The constants a CHECK definition (`CHECK (likes >= 0)`) compares against, in order."""
    expression = definition.strip()
    if expression.upper().startswith("CHECK"):
        expression = expression[5:].strip()
    expression = re.sub(r"\s+NOT VALID$", "", expression)
    visitor = _Constants()
    try:
        visitor(parse_sql(f"SELECT {expression}"))
    except Exception:  # a server-printed expression pglast cannot read: no candidates
        return []
    return visitor.values


def check_candidates(definition: str, type_name: str) -> list[str]:
    """Values around the constants of a CHECK, for a column of TYPE_NAME: each number and its
    neighbours (as lengths for text columns), each string and one that is not in the list."""
    values: list[str] = []
    for constant in check_constants(definition):
        if isinstance(constant, bool):
            values += ["true", "false"]
        elif isinstance(constant, int | Decimal):
            if is_text(type_name):
                if 0 <= constant <= 100_000 and int(constant) == constant:
                    n = int(constant)
                    values += ["x" * max(n - 1, 0), "x" * n, "x" * (n + 1)]
            else:
                values += [str(constant - 1), str(constant), str(constant + 1)]
                if isinstance(constant, Decimal) or base_type(type_name) == "numeric":
                    values += [str(constant - Decimal("0.001")), str(constant + Decimal("0.001"))]
        elif isinstance(constant, str):
            values += [constant, constant + "_"]
    return list(dict.fromkeys(values))
