"""Collecting what one file's scan found, with positions mapped back to the source."""

from __future__ import annotations

import re
from collections.abc import Iterable

from tree_sitter import Node

from migverify.scan.model import DynamicReference, Reference
from migverify.scan.source import Source, string_value
from migverify.scan.sql import analyze_sql
from migverify.scan.tables import TableMatcher

_KNEX_PLACEHOLDER = re.compile(r"\?\??")


class Found:
    def __init__(self, source: Source) -> None:
        self.source = source
        self.references: list[Reference] = []
        self.dynamics: list[DynamicReference] = []

    def reference(
        self,
        offset: int,
        table: str,
        operation: str,
        columns: Iterable[str],
        kind: str,
        parent: str | None = None,
    ) -> None:
        line, column = self.source.position(offset)
        self.references.append(
            Reference(
                path=self.source.path,
                line=line,
                column=column,
                table=table,
                operation=operation,
                columns=tuple(sorted(set(columns))),
                kind=kind,
                snippet=self.source.line_text(line)[:160],
                parent=parent,
            )
        )

    def dynamic(self, node: Node) -> None:
        line, column = self.source.position(node.start_byte)
        expression = self.source.text(node)
        self.dynamics.append(DynamicReference(self.source.path, line, column, expression[:120]))

    def sql_string(
        self, node: Node, source: Source, matcher: TableMatcher, placeholders: str | None = None
    ) -> None:
        """SQL in a string literal: parse it; prose and non-SQL strings are not references."""
        value = string_value(node, source)
        if value is None or not any(name in value.text for name in matcher.names):
            return
        text = value.text
        if placeholders == "?":  # knex.raw('… WHERE a = ?'): positional bindings
            counter = iter(range(1, 10_000))
            text = _KNEX_PLACEHOLDER.sub(lambda m: f"${next(counter)}".ljust(len(m.group(0))), text)
        for hit in analyze_sql(text, matcher) or ():
            self.reference(
                value.offset_of(hit.offset), hit.table, hit.operation, hit.columns, "sql"
            )
