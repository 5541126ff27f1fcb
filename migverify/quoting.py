"""SQL identifier and literal quoting for generated SQL (templates and verify workloads).

Identifiers are quoted only when needed, so generated SQL stays readable: a lower-case name
that is not a reserved keyword stays bare, anything else is double-quoted (PostgreSQL's own
`quote_ident` rule).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from pglast.keywords import COL_NAME_KEYWORDS, RESERVED_KEYWORDS, TYPE_FUNC_NAME_KEYWORDS
from psycopg import sql

_PLAIN = re.compile(r"[a-z_][a-z0-9_$]*")
_KEYWORDS = RESERVED_KEYWORDS | TYPE_FUNC_NAME_KEYWORDS | COL_NAME_KEYWORDS


def ident(name: str) -> str:
    """Quote an identifier if PostgreSQL's quote_ident would."""
    if _PLAIN.fullmatch(name) and name not in _KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


def qualified(name: str) -> str:
    """Quote a possibly schema-qualified name given as `schema.name` (split on the first dot)."""
    schema, dot, rest = name.partition(".")
    return f"{ident(schema)}.{ident(rest)}" if dot else ident(name)


def literal(value: Any) -> str:
    """An SQL literal for a Python value: NULL, numbers, booleans, strings (standard quoting)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return sql.Literal(str(value)).as_string(None)


def bounded_identifier(name: str, limit: int = 63) -> str:
    """NAME if PostgreSQL keeps it whole (NAMEDATALEN - 1 bytes), else shortened with a digest of
    the full name, so that two long names stay distinct and the result is deterministic."""
    raw = name.encode()
    if len(raw) <= limit:
        return name
    digest = hashlib.sha1(raw).hexdigest()[:8]
    return f"{raw[: limit - 9].decode(errors='ignore')}_{digest}"
