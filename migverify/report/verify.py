"""Renderers for `migverify verify`: the verdict first, then the evidence."""

from __future__ import annotations

import json

from migverify.verify import VerifyResult


def render_text(result: VerifyResult) -> str:
    lines = []
    if result.equivalent:
        lines.append(
            f"EQUIVALENT: {', '.join(result.tables)} behave the same through the layer "
            f"({result.statements_compared} statements compared; ops {', '.join(result.operations)}"
            + (f"; roles {', '.join(result.roles)}" if result.roles else "")
            + ("; rollback checked" if result.rollback_checked else "")
            + ")"
        )
    else:
        first = result.counterexample.difference if result.counterexample else result.differences[0]
        lines.append(f"NOT EQUIVALENT: {first.diagnosis}")
    for difference in result.differences:
        if any(difference == c.difference for c in result.counterexamples):
            continue
        lines.append(
            f"  difference [{difference.table}, {difference.operation}]: {difference.diagnosis}"
        )
    if result.counterexample:
        example = result.counterexample
        difference = example.difference
        lines += [
            "",
            f"Counterexample ({difference.table}, {difference.operation}"
            + (f", as role {example.role}" if example.role else "")
            + "):",
            "",
        ]
        lines += [f"    {line}" for line in example.script.splitlines()]
        lines += [
            "",
            "  legacy tables:    " + _indent(difference.reference or "-"),
            "  through the layer: " + _indent(difference.migrated or "-"),
            "",
            f"  replay: --seed-value {example.seed_value}",
        ]
    for example in result.counterexamples[1:]:
        difference = example.difference
        lines += [
            "",
            f"Also ({difference.table}, {difference.operation}"
            + (f", as role {example.role}" if example.role else "")
            + f"): {difference.diagnosis}",
        ]
        lines += [f"    {line}" for line in example.script.splitlines()[1:]]
        lines += [
            "  legacy tables:    " + _indent(difference.reference or "-"),
            "  through the layer: " + _indent(difference.migrated or "-"),
        ]
    for warning in result.warnings:
        lines.append(f"  warning [{warning.table}, {warning.operation}]: {warning.diagnosis}")
    if not result.equivalent:
        lines.append(
            f"  ({result.statements_compared} statements compared; ops {', '.join(result.operations)}"
            + (f"; roles {', '.join(result.roles)}" if result.roles else "")
            + ")"
        )
    return "\n".join(lines) + "\n"


def _indent(text: str) -> str:
    return text.replace("\n", "\n                     ")


def render_json(result: VerifyResult) -> str:
    return (
        json.dumps(result.to_dict(), indent=2, sort_keys=True, ensure_ascii=False, default=str)
        + "\n"
    )
