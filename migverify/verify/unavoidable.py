"""Differences no view layer can avoid: PostgreSQL makes them impossible to preserve through a
view, whatever the compatibility layer does. They are warnings that say so, and coverage names
the statement form, instead of failing a sound layer.

- `UPDATE … SET c = DEFAULT` of an identity `GENERATED ALWAYS` column or a generated column
  (`GENERATED ALWAYS AS (…) STORED`, which recomputes it): a view fills DEFAULT from the view
  column's own default (NULL without one) before the table sees the statement, and the column
  then rejects that value (428C9), whether the view is auto-updatable or has an INSTEAD OF
  trigger (which cannot tell DEFAULT from an unchanged value).

`check` makes such a warning an error when the scan finds code that sends that form.
"""

from __future__ import annotations

from pglast import ast, parse_sql

from migverify.catalog import Relation
from migverify.verify.statement import Statement
from migverify.verify.worlds import Outcome

UNAVOIDABLE = "cannot work through any view"  # in every such diagnosis


def unavoidable(
    statement: Statement, relation: Relation | None, ref: Outcome, mig: Outcome
) -> tuple[str, str] | None:
    """Why a statement that works on the legacy table cannot work through any view, and the
    column concerned; None when it can."""
    if relation is None or not ref.ok or mig.ok or mig.sqlstate != "428C9":
        return None
    kinds = {c.name: "identity ALWAYS" for c in relation.columns if c.identity == "always"}
    kinds.update({c.name: "generated" for c in relation.columns if c.generated})
    for column in set_to_default(statement.sql):
        if column in kinds:
            return (
                f"UPDATE … SET {column} = DEFAULT on {relation.display_name}'s {kinds[column]} "
                f"column {UNAVOIDABLE} (PostgreSQL fills DEFAULT from the view column, which the "
                "table's column then rejects: 428C9)",
                column,
            )
    return None


def set_to_default(sql: str) -> list[str]:
    """The columns an UPDATE in SQL (or in its CTEs) sets to DEFAULT."""
    try:
        statements = parse_sql(sql)
    except Exception:  # noqa: BLE001 - not a statement pglast reads: nothing to say
        return []
    found = []
    for raw in statements:
        node = raw.stmt
        if isinstance(node, ast.SelectStmt) and node.withClause:  # an update in a CTE
            nodes = [cte.ctequery for cte in node.withClause.ctes]
        else:
            nodes = [node]
        for item in nodes:
            if isinstance(item, ast.UpdateStmt):
                found += [
                    t.name for t in item.targetList or () if isinstance(t.val, ast.SetToDefault)
                ]
    return found
