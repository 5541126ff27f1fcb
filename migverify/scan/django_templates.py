"""Django and Jinja templates (`.html` under a `templates/` directory): the model graph walked
in template tags — `{% for m in project.member_set.all %}`, `{{ user.memberships.count }}`,
`{{ user.profile.bio }}`, a Flask app's SQLAlchemy relationship `{{ user.posts.count() }}` — is
a `select` of the related table.

What a template's variables hold is not known, so an accessor counts only when its name belongs
to one relation among the scanned models (by the tables it reaches), and only where the template
language evaluates it: inside `{{ … }}` and `{% … %}`, not in comments (`{# … #}`,
`{% comment %}…{% endcomment %}`), `{% verbatim %}`/`{% raw %}` blocks or quoted strings. A
manager is followed by a read (`all`, `count`, `exists`, `first`, …); a one-to-one accessor by
any attribute.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

import ahocorasick_rs

from migverify.scan.django_graph import MANAGER_METHODS, hop_by_name, hop_operations, rows_by_name
from migverify.scan.found import Found
from migverify.scan.orm import Models
from migverify.scan.source import Source
from migverify.scan.tables import TableMatcher

_HIDDEN = re.compile(
    rb"\{#.*?#\}"
    rb"|\{%-?\s*comment\b.*?%\}.*?\{%-?\s*endcomment\s*-?%\}"
    rb"|\{%-?\s*verbatim\b.*?%\}.*?\{%-?\s*endverbatim\s*-?%\}"
    rb"|\{%-?\s*raw\s*-?%\}.*?\{%-?\s*endraw\s*-?%\}",
    re.S,
)
_STRING = re.compile(rb"\"[^\"]*\"|'[^']*'")
_PATH = re.compile(rb"(?<![\w.])[A-Za-z_]\w*(?:\s*\.\s*[A-Za-z_]\w*)+")
_SEGMENT = re.compile(rb"[A-Za-z_]\w*")
_WORD = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
# What a template may do with a manager: read.
READS = MANAGER_METHODS - {
    "create", "get_or_create", "update_or_create", "update", "delete", "bulk_create",
    "bulk_update", "add", "remove", "clear", "set", "select_for_update",
}  # fmt: skip


def scan_template(source: Source, matcher: TableMatcher, models: Models | None) -> Found:
    """Only the tags around an accessor's name are looked at (one Aho-Corasick pass finds the
    names): most of a template is markup."""
    found = Found(source)
    if not models or not models.template_names():
        return found
    data = source.data
    hidden: list[tuple[int, int]] | None = None
    seen: set[int] = set()
    for at in _accessor_hits(data, models.template_names()):
        start = max(data.rfind(b"{{", 0, at), data.rfind(b"{%", 0, at))
        if start < 0 or start in seen:
            continue
        end = data.find(b"}}" if data[start + 1] == 0x7B else b"%}", start + 2)
        if end < at:  # not inside a tag
            continue
        seen.add(start)
        if hidden is None:
            hidden = [(m.start(), m.end()) for m in _HIDDEN.finditer(data)]
        if any(low <= start < high for low, high in hidden):
            continue
        _tag(data[start + 2 : end], start + 2, models, found, matcher)
    return found


def _accessor_hits(data: bytes, names: frozenset[str]) -> Iterator[int]:
    """Offsets of the accessor names written as an attribute (`.name`, a whole word)."""
    for _, start, end in _automaton(names).find_matches_as_indexes(data):
        if end < len(data) and data[end] in _WORD:
            continue
        before = start - 1
        while before >= 0 and data[before] in b" \t":
            before -= 1
        if before >= 0 and data[before] == 0x2E:  # "."
            yield start


@lru_cache(maxsize=8)
def _automaton(names: frozenset[str]) -> ahocorasick_rs.BytesAhoCorasick:
    return ahocorasick_rs.BytesAhoCorasick(
        sorted((name.encode() for name in names), key=lambda n: (-len(n), n)),
        matchkind=ahocorasick_rs.MatchKind.LeftmostLongest,
    )


def _tag(body: bytes, offset: int, models: Models, found: Found, matcher: TableMatcher) -> None:
    """The accessors walked in one tag's BODY (at OFFSET in the file)."""
    accessors = models.accessor_names()
    relationships = models.template_relations()
    forward = models.template_forward_keys()
    body = _STRING.sub(lambda m: b" " * len(m.group(0)), body)  # offsets kept
    for path in _PATH.finditer(body):
        segments = list(_SEGMENT.finditer(path.group(0)))
        for index in range(1, len(segments)):  # an accessor has a receiver
            name = segments[index].group(0).decode()
            at = offset + path.start() + segments[index].start()
            if name in relationships and name not in accessors:
                # SQLAlchemy: reading the attribute loads the related rows
                for table in relationships[name]:
                    matched = matcher.match_text(table)
                    if matched is not None:
                        found.reference(at, matched, "select", (), "sqlalchemy")
                continue
            if name in forward and name not in accessors:  # `gift.hero`: the hero's row
                matched = matcher.match_text(forward[name])
                if matched is not None:
                    found.reference(at, matched, "select", (), "django")
                continue
            if name not in accessors or index == len(segments) - 1:
                continue  # Django's: an accessor has a use after it too
            hop = hop_by_name(models, name)
            shared = rows_by_name(models, name) if hop is None else None
            if hop is None and shared is None:
                continue
            many = hop.many if hop is not None else shared[1]  # type: ignore[index]
            if many and segments[index + 1].group(0).decode() not in READS:
                continue
            if hop is None:  # relations of different join tables to one model's rows
                tables = [(shared[0].table, "select")]  # type: ignore[index]
            elif hop.many:
                tables = hop_operations(hop, (), found.source)
            else:
                tables = [(hop.rows.table, "select")] if hop.rows is not None else []
            for table, operation in tables:
                matched = matcher.match_text(table)
                if matched is not None:
                    found.reference(at, matched, operation, (), "django")
