"""Which names are the legacy tables: schema-qualified or not, quoted or not."""

from __future__ import annotations

from collections.abc import Sequence


class TableMatcher:
    """Matches a (schema, name) pair as code writes it to one of the user's table names.

    `posted_decisions` matches `posted_decisions`, `public.posted_decisions` and quoted forms;
    `archive.posted_decisions` only when the user asked for that schema. Names are compared
    exactly (SQL code is matched after the parser folds unquoted names to lower case).
    """

    def __init__(self, tables: Sequence[str]) -> None:
        self.tables = tuple(tables)
        self._by_name: dict[str, list[tuple[str | None, str]]] = {}
        for table in tables:
            schema, dot, name = table.rpartition(".")
            schema_name = schema.strip('"') if dot else None
            bare = name.strip('"')
            self._by_name.setdefault(bare, []).append((schema_name, table))

    @property
    def names(self) -> tuple[str, ...]:
        """Bare names, for the byte-level prefilter."""
        return tuple(self._by_name)

    def match(self, schema: str | None, name: str | None) -> str | None:
        if not name:
            return None
        for wanted_schema, table in self._by_name.get(name, ()):
            if wanted_schema is None and schema in (None, "public"):
                return table
            if wanted_schema is not None and schema in (wanted_schema, None):
                return table
        return None

    def match_text(self, text: str) -> str | None:
        """A table name as written in a string argument: `t`, `schema.t`, `"t"`."""
        schema, dot, name = text.rpartition(".")
        return self.match(schema.strip('"') if dot else None, name.strip('"'))
