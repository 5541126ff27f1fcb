"""What `migverify apply` did, as text or JSON."""

from __future__ import annotations

import json
from typing import Any

from migverify.apply import ApplyResult


def to_dict(result: ApplyResult) -> dict[str, Any]:
    return {
        "steps": [
            {
                "step": r.step,
                "seconds": r.seconds,
                "retries": r.retries,
                **({"tables": r.tables} if r.tables else {}),
            }
            for r in result.results
        ],
        "before": {s.legacy_table: s.state for s in result.before},
        "after": {s.legacy_table: s.state for s in result.after},
    }


def render_json(result: ApplyResult) -> str:
    return json.dumps(to_dict(result), indent=2, sort_keys=True) + "\n"


def render_text(result: ApplyResult) -> str:
    lines = []
    for step in result.results:
        retried = (
            f", {step.retries} retr{'y' if step.retries == 1 else 'ies'}" if step.retries else ""
        )
        lines.append(f"{step.step}: done in {step.seconds:.2f} s{retried}")
        for table in step.tables:
            rate = table["rows_read"] / table["seconds"] if table["seconds"] else 0
            skipped = table["rows_read"] - table["rows_copied"]
            lines.append(
                f"  {table['table']}: {table['rows_copied']:,} rows copied"
                + (f" ({skipped:,} more were there already)" if skipped else "")
                + f" in {table['batches']} batch{'es' if table['batches'] != 1 else ''}, "
                f"{table['seconds']:.2f} s ({rate:,.0f} rows/s)"
            )
    states = ", ".join(f"{s.legacy_table} {s.state}" for s in result.after)
    lines.append(f"now: {states}")
    return "\n".join(lines) + "\n"
