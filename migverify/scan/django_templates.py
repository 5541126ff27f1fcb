"""Django and Jinja templates (`.html` under a `templates/` directory): the model graph walked
in template tags — `{% for m in project.member_set.all %}`, `{{ user.memberships.count }}`,
`{{ user.profile.bio }}` — is a `select` of the related table.

What a template's variables hold is not known, so an accessor counts only when its name belongs
to one relation among the scanned models (by the tables it reaches), and only where the template
language evaluates it: inside `{{ … }}` and `{% … %}`, not in comments (`{# … #}`,
`{% comment %}…{% endcomment %}`), `{% verbatim %}`/`{% raw %}` blocks or quoted strings. A
manager is followed by a read (`all`, `count`, `exists`, `first`, …); a one-to-one accessor by
any attribute.
"""

from __future__ import annotations

import re

from migverify.scan.django_graph import MANAGER_METHODS, hop_by_name, hop_operations
from migverify.scan.found import Found
from migverify.scan.orm import Models
from migverify.scan.source import Source
from migverify.scan.tables import TableMatcher

_TAG = re.compile(rb"\{\{(.*?)\}\}|\{%(.*?)%\}", re.S)
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
# What a template may do with a manager: read.
READS = MANAGER_METHODS - {
    "create", "get_or_create", "update_or_create", "update", "delete", "bulk_create",
    "bulk_update", "add", "remove", "clear", "set", "select_for_update",
}  # fmt: skip


def scan_template(source: Source, matcher: TableMatcher, models: Models | None) -> Found:
    found = Found(source)
    if not models or not models.relations:
        return found
    accessors = models.accessor_names()
    data = source.data
    hidden = [(m.start(), m.end()) for m in _HIDDEN.finditer(data)]
    for tag in _TAG.finditer(data):
        if any(start <= tag.start() < end for start, end in hidden):
            continue
        group = 1 if tag.group(1) is not None else 2
        body, offset = tag.group(group), tag.start(group)
        body = _STRING.sub(lambda m: b" " * len(m.group(0)), body)  # offsets kept
        for path in _PATH.finditer(body):
            segments = list(_SEGMENT.finditer(path.group(0)))
            for index in range(1, len(segments) - 1):  # an accessor has a receiver and a use
                name = segments[index].group(0).decode()
                if name not in accessors:
                    continue
                hop = hop_by_name(models, name)
                if hop is None:
                    continue
                if hop.many and segments[index + 1].group(0).decode() not in READS:
                    continue
                at = offset + path.start() + segments[index].start()
                if hop.many:
                    tables = hop_operations(hop, (), source)
                else:
                    tables = [(hop.rows.table, "select")] if hop.rows is not None else []
                for table, operation in tables:
                    matched = matcher.match_text(table)
                    if matched is not None:
                        found.reference(at, matched, operation, (), "django")
    return found
