"""Renderers for `migverify verify`: the verdict first, then the evidence, then the coverage."""

from __future__ import annotations

import json

from migverify.verify import Counterexample, VerifyResult
from migverify.verify.coverage import Coverage


def _scope(result: VerifyResult) -> str:
    coverage = result.coverage
    parts = [f"{result.statements_compared:,} statements compared"]
    if coverage is not None:
        parts[0] += (
            f" ({coverage.probes:,} probes, {coverage.search_statements:,} in random workloads)"
        )
    parts.append(f"ops {', '.join(result.operations)}")
    if result.roles:
        parts.append(f"roles {', '.join(result.roles)}")
    if result.rollback_checked:
        parts.append("rollback checked")
    if result.online is not None:
        parts.append(
            f"online phases checked ({result.online.workloads:,} workloads through expand, "
            "backfill and switch; the rollback of each phase)"
        )
    return "; ".join(parts)


def _verdict(result: VerifyResult) -> str:
    if result.verdict == "equivalent":
        return (
            f"EQUIVALENT: {', '.join(result.tables)} behave the same through the layer "
            f"({_scope(result)})"
        )
    if result.verdict == "incomplete":
        return f"INCOMPLETE: no difference found, but {'; '.join(result.incomplete)}"
    first = result.counterexample.difference if result.counterexample else result.differences[0]
    return f"NOT EQUIVALENT: {first.diagnosis}"


def _example(example: Counterexample, first: bool) -> list[str]:
    difference = example.difference
    found_by = f", probe: {example.probe}" if example.probe else ""
    where = f"({difference.table}, {difference.operation}{found_by})"
    heading = f"Counterexample {where}:" if first else f"Also {where}: {difference.diagnosis}"
    lines = ["", heading, ""]
    lines += [f"    {line}" for line in example.script.splitlines()]
    lines += [
        "",
        "  legacy tables:     " + _indent(difference.reference or "-"),
        "  through the layer: " + _indent(difference.migrated or "-"),
    ]
    if first and example.probe is None:
        lines += ["", f"  replay: --seed-value {example.seed_value}"]
    lines += _fix(difference.fix)
    return lines


def _fix(fix: str) -> list[str]:
    if not fix:
        return []
    return ["", "  fix:"] + [f"    {line}" for line in fix.splitlines()]


def render_text(result: VerifyResult) -> str:
    lines = [_verdict(result)]
    for difference in result.differences:
        if any(difference == c.difference for c in result.counterexamples):
            continue
        lines.append(
            f"  difference [{difference.table}, {difference.operation}]: {difference.diagnosis}"
        )
        lines += [f"    fix: {line}" for line in difference.fix.splitlines()]
    for number, example in enumerate(result.counterexamples):
        lines += _example(example, first=number == 0)
    for warning in result.warnings:
        lines.append(f"  warning [{warning.table}, {warning.operation}]: {warning.diagnosis}")
        lines += [f"    fix: {line}" for line in warning.fix.splitlines()]
    for note in result.notes:
        lines.append(f"  note [{note.table}, {note.operation}]: {note.diagnosis}")
    if result.verdict != "equivalent":
        lines.append(f"  ({_scope(result)})")
    if result.replayed:
        lines += ["", "Replayed statements:"]
        lines += [f"  {source}: {outcome}" for source, outcome in result.replayed]
    if result.coverage is not None:
        lines += _coverage(result.coverage)
    return "\n".join(lines) + "\n"


def _coverage(coverage: Coverage) -> list[str]:
    lines = ["", "Coverage:"]
    for table in coverage.tables:
        label = f"{table.table} (neighbour)" if table.neighbour else table.table
        total = len(table.columns_probed) + len(table.columns_not_probed)
        ops = ", ".join(f"{op} {n:,}" for op, n in table.operations) or "none"
        lines.append(f"  {label}: statements {ops}")
        accepted = ", ".join(f"{op} {n:,}" for op, n in table.accepted) or "none"
        lines.append(f"    accepted by the legacy table: {accepted}")
        lines.append(f"    columns probed: {len(table.columns_probed)}/{total}")
        for missing in table.columns_not_probed:
            lines.append(f"      not probed: {missing}")
        if table.constraints_probed:
            lines.append(f"    constraints probed: {', '.join(table.constraints_probed)}")
        for missing in table.constraints_not_probed:
            lines.append(f"      not probed: {missing}")
        if table.roles:
            lines.append(f"    roles: {', '.join(table.roles)}")
    if coverage.forms:
        lines.append(f"  statement forms: {', '.join(coverage.forms)}")
    if coverage.compared_as:
        lines.append("Compared by what can be compared:")
        lines += [f"  - {sentence}" for sentence in coverage.compared_as]
    if coverage.untested:
        lines.append("Not tested:")
        lines += [f"  - {sentence}" for sentence in coverage.untested]
    return lines


def _indent(text: str) -> str:
    return text.replace("\n", "\n                     ")


def render_json(result: VerifyResult) -> str:
    return (
        json.dumps(result.to_dict(), indent=2, sort_keys=True, ensure_ascii=False, default=str)
        + "\n"
    )
