"""`.sql` files: every table reference with its statement kind, PL/pgSQL bodies included. A file
that does not parse whole (psql meta-commands, COPY … FROM stdin data) is scanned statement by
statement so that one bad statement does not hide the rest."""

from __future__ import annotations

import re

from migverify.scan.found import Found
from migverify.scan.source import Source
from migverify.scan.sql import analyze_sql, split_statements
from migverify.scan.tables import TableMatcher

_META = re.compile(r"^[ \t]*\\.*$", re.M)  # psql meta-command lines (\i, \set, \.)
_COPY_FROM_STDIN = re.compile(r"\bFROM\s+STDIN\b[^;]*;", re.I)


def scan_sql(source: Source, matcher: TableMatcher) -> Found:
    found = Found(source)
    text = source.data.decode("utf-8", errors="replace")
    offsets = _char_offsets(text)
    hits = analyze_sql(text, matcher)
    if hits is None:
        hits = []
        for start, statement in split_statements(_blank_non_sql(text)):
            for hit in analyze_sql(statement, matcher) or ():
                hit.offset += start
                hits.append(hit)
    for hit in hits:
        found.reference(
            offsets[min(hit.offset, len(offsets) - 1)], hit.table, hit.operation, hit.columns, "sql"
        )
    return found


def _char_offsets(text: str) -> list[int]:
    """Byte offset of each character (pglast locations are character indices)."""
    offsets, position = [], 0
    for char in text:
        offsets.append(position)
        position += len(char.encode("utf-8"))
    offsets.append(position)
    return offsets


def _blank_non_sql(text: str) -> str:
    """Replace COPY data and meta-command lines with spaces, keeping every offset."""
    result, position = [], 0
    for match in _COPY_FROM_STDIN.finditer(text):
        end = text.find("\n\\.", match.end())
        if end < 0 or end < position:
            continue
        result.append(text[position : match.end()])
        result.append(_blank(text[match.end() : end + 3]))
        position = end + 3
    result.append(text[position:])
    return _META.sub(lambda m: _blank(m.group(0)), "".join(result))


def _blank(text: str) -> str:
    return re.sub(r"[^\n]", " ", text)
