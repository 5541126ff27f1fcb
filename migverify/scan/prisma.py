"""Prisma: models in `.prisma` schema files (`model UserItem { … @@map("user_items") }`, the
table being the model's name without `@@map`), and their uses through Prisma Client
(`prisma.userItem.findMany()`, `tx.userItem.create()`, `ctx.db.userItem.upsert()`).
`$queryRaw`/`$executeRaw` SQL is found with the other SQL calls.

The schema language is neither TypeScript nor Python: it is read by a small tokenizer over its
lines (comments dropped, strings kept whole), enough for the block structure and attributes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from migverify.scan.chains import Chain
from migverify.scan.found import Found
from migverify.scan.orm import Declared, FileModels, prisma_accessor
from migverify.scan.source import Source, string_value
from migverify.scan.tables import TableMatcher

_BLOCK = re.compile(r"^\s*(model|view)\s+([A-Za-z_]\w*)\s*\{")
_ATTRIBUTE = re.compile(r'^\s*@@(map|schema)\s*\(\s*(?:name\s*:\s*)?"((?:[^"\\]|\\.)*)"')
OPERATIONS = {
    "findMany": "select", "findUnique": "select", "findUniqueOrThrow": "select",
    "findFirst": "select", "findFirstOrThrow": "select", "count": "select",
    "aggregate": "select", "groupBy": "select", "create": "insert", "createMany": "insert",
    "createManyAndReturn": "insert", "update": "update", "updateMany": "update",
    "updateManyAndReturn": "update", "upsert": "upsert", "delete": "delete",
    "deleteMany": "delete",
}  # fmt: skip
# A Prisma Client is named like one: `prisma`, `db` (create-t3-app's `ctx.db`), `tx` in
# `$transaction`, `client`. tRPC's `api.user.findMany.useQuery()` is not called directly.
CLIENT = re.compile(r"(?i)prisma|^db$|database|^tx$|^trx$|transaction|client|^orm$")


@dataclass
class _Model:
    name: str
    name_offset: int
    table: str | None = None
    table_offset: int | None = None
    schema: str | None = None


def scan_prisma_schema(source: Source, matcher: TableMatcher) -> Found:
    """A Prisma schema file: every model (and view) is a declaration."""
    found = Found(source)
    model: _Model | None = None
    offset = 0
    for raw in source.data.split(b"\n"):
        line = _without_comment(raw.decode("utf-8", errors="replace"))
        if model is None:
            match = _BLOCK.match(line)
            if match:
                name_offset = offset + len(line[: match.start(2)].encode())
                model = _Model(match.group(2), name_offset)
        elif line.strip().startswith("}"):
            _declare(model, found, matcher, source.path)
            model = None
        else:
            match = _ATTRIBUTE.match(line)
            if match and match.group(1) == "map":
                model.table = match.group(2)
                model.table_offset = offset + len(line[: match.start(2)].encode())
            elif match:
                model.schema = match.group(2)
        offset += len(raw) + 1
    return found


def _without_comment(line: str) -> str:
    """The line up to a `//` comment that is not inside a string."""
    quoted = False
    for index, char in enumerate(line):
        if char == '"' and (index == 0 or line[index - 1] != "\\"):
            quoted = not quoted
        elif not quoted and line.startswith("//", index):
            return line[:index]
    return line


def _declare(model: _Model, found: Found, matcher: TableMatcher, path: str) -> None:
    table = model.table or model.name
    qualified = f"{model.schema}.{table}" if model.schema else table
    offset = model.table_offset if model.table_offset is not None else model.name_offset
    found.declaration(offset, Declared("prisma", model.name, qualified, path), matcher)


def prisma_uses(
    chain: Chain, source: Source, files: FileModels, found: Found, matcher: TableMatcher
) -> bool:
    """`client.model.method(…)` in CHAIN: a reference with the method's operation; True when
    the chain is Prisma's (even for a model of another table)."""
    links = chain.links
    models = {prisma_accessor(d.name): d for d in reversed(files.models.of(("prisma",)))}
    claimed = False
    for index in range(len(links) - 2):
        accessor, method, call = links[index], links[index + 1], links[index + 2]
        if accessor.name is None or method.name not in OPERATIONS or call.name is not None:
            continue
        declared = models.get(accessor.name)
        if declared is None or not _is_client(chain, index, source):
            continue
        claimed = True
        table = matcher.match_text(declared.table)
        if table is not None:
            offset = accessor.node.child_by_field_name("property") or accessor.node
            found.reference(offset.start_byte, table, OPERATIONS[method.name], (), "prisma")
    if not claimed and chain.root.type == "subscript_expression" and links:
        claimed = _computed(chain, source, found, matcher, models)
    return claimed


def _is_client(chain: Chain, index: int, source: Source) -> bool:
    """Is what comes before link INDEX a Prisma Client (`prisma`, `this.prisma`, `ctx.db`)?"""
    if index == 0:
        return chain.root.type == "identifier" and bool(CLIENT.search(source.text(chain.root)))
    before = chain.links[index - 1].name
    return before is not None and bool(CLIENT.search(before))


def _computed(chain: Chain, source: Source, found: Found, matcher: TableMatcher, models) -> bool:
    """`prisma[model].findMany()`: a literal index resolves, anything else is dynamic."""
    root, links = chain.root, chain.links
    obj, index = root.child_by_field_name("object"), root.child_by_field_name("index")
    if obj is None or index is None or links[0].name not in OPERATIONS or len(links) < 2:
        return False
    if links[1].name is not None or not CLIENT.search(source.text(obj).rpartition(".")[2]):
        return False
    literal = string_value(index, source)
    if literal is None or literal.holes:
        found.dynamic(index)
        return True
    declared: Declared | None = models.get(literal.text)
    if declared is not None:
        table = matcher.match_text(declared.table)
        if table is not None:
            found.reference(
                literal.offset_of(0), table, OPERATIONS[links[0].name or ""], (), "prisma"
            )
    return True
