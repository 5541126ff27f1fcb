"""Renderers for `migverify check`: text, json, github annotations, markdown and SARIF 2.1.0."""

from __future__ import annotations

import json
from collections.abc import Iterable
from itertools import groupby

import click

import migverify
from migverify.check.model import ERROR, CheckResult, Location, Problem, rule_catalog
from migverify.report.formats import INFORMATION_URI, SARIF_SCHEMA, escape_data, escape_property

MAX_AFFECTED_SHOWN = 8  # in text/markdown; json and sarif carry all of them


def verdict_line(result: CheckResult) -> str:
    errors, warnings = len(result.errors), len(result.warnings)
    counts = f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
    scope = (
        f"{len(result.tables)} table{'s' * (len(result.tables) != 1)}, "
        f"{result.references} code reference{'s' * (result.references != 1)} "
        f"in {result.files_with_references} file{'s' * (result.files_with_references != 1)}"
    )
    if result.safe:
        return f"SAFE to cut over ({counts}; {scope})"
    if result.verdict == "incomplete":
        untested = len(result.untested)
        allowed = " (allowed by --allow-incomplete)" if result.allow_incomplete else ""
        return (
            f"INCOMPLETE: no problem found, but {untested} thing{'s' * (untested != 1)} asked "
            f"for could not be tested{allowed} ({scope})"
        )
    return f"NOT SAFE to cut over: {counts} ({scope})"


def _where(location: Location | None) -> str:
    if location is None:
        return ""
    return f"{location.path}:{location.line}:{location.column}"


def _grouped(result: CheckResult) -> Iterable[tuple[str, list[Problem]]]:
    problems = sorted(result.problems, key=Problem.sort_key)
    for table, items in groupby(problems, key=lambda p: p.table or ""):
        yield table, list(items)


def render_text(result: CheckResult, *, color: bool = False) -> str:
    def style(text: str, **kwargs: object) -> str:
        return click.style(text, **kwargs) if color else text  # type: ignore[arg-type]

    colour = "green" if result.safe else "yellow" if result.verdict == "incomplete" else "red"
    lines = [style(verdict_line(result), fg=colour, bold=True)]
    online = (result.verified or {}).get("online")
    if online:
        lines.append(
            f"online cutover verified for {', '.join(online['tables'])}: {online['workloads']:,} "
            "workloads through expand, backfill and switch; the rollback of each phase"
        )
    targets = {t.legacy: t for t in result.tables}
    for table, problems in _grouped(result):
        lines.append("")
        if table:
            summary = targets.get(table)
            arrow = f" -> {summary.target}" if summary and summary.target else ""
            ops = (
                f" (code: {', '.join(summary.operations)})"
                if summary and summary.operations
                else ""
            )
            lines.append(style(f"{table}{arrow}{ops}", bold=True))
        else:
            lines.append(style("general", bold=True))
        for problem in problems:
            color_name = "red" if problem.severity == ERROR else "yellow"
            head = f"  {style(problem.severity, fg=color_name)} {problem.rule} {problem.message}"
            lines.append(head)
            if problem.location:
                lines.append(f"      at {_where(problem.location)}")
            for loc in problem.affected[:MAX_AFFECTED_SHOWN]:
                op = f" ({loc.operation})" if loc.operation else ""
                lines.append(f"      bites {_where(loc)}{op}")
            if len(problem.affected) > MAX_AFFECTED_SHOWN:
                lines.append(f"      … and {len(problem.affected) - MAX_AFFECTED_SHOWN} more")
            if problem.detail:
                lines.extend(f"      | {line}" for line in problem.detail.rstrip().splitlines())
            if problem.fix:
                lines.append("      fix:")
                lines.extend(f"      | {line}" for line in problem.fix.splitlines())
    return "\n".join(lines) + "\n"


def render_json(result: CheckResult) -> str:
    return json.dumps(result.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _annotation(problem: Problem, location: Location | None, note: str = "") -> str:
    level = "error" if problem.severity == ERROR else "warning"
    props = []
    if location:
        props += [
            f"file={escape_property(location.path)}",
            f"line={location.line}",
            f"col={location.column}",
        ]
    title = f"{problem.rule} {problem.table}" if problem.table else problem.rule
    props.append(f"title={escape_property(title)}")
    fix = f"\nfix:\n{problem.fix}" if problem.fix else ""
    return f"::{level} {','.join(props)}::{escape_data(problem.message + note + fix)}"


def render_github(result: CheckResult) -> str:
    """Workflow commands: one annotation per problem, and one per code location it bites."""
    lines = []
    for problem in sorted(result.problems, key=Problem.sort_key):
        if problem.location or not problem.affected:
            lines.append(_annotation(problem, problem.location))
        for loc in problem.affected:
            note = f" (this code {loc.operation}s {problem.table})" if loc.operation else ""
            lines.append(_annotation(problem, loc, note))
    level = "notice" if result.safe else "warning" if result.passed else "error"
    lines.append(f"::{level} title=migverify::{escape_data(verdict_line(result))}")
    return "\n".join(lines) + "\n"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(result: CheckResult) -> str:
    icon = "✅" if result.safe else "⚠️" if result.verdict == "incomplete" else "❌"
    lines = [f"## {icon} migverify: {verdict_line(result)}", ""]
    if result.tables:
        lines += ["| legacy table | target | code references | operations |", "|---|---|---|---|"]
        for t in result.tables:
            ops = ", ".join(t.operations) or "-"
            lines.append(f"| `{t.legacy}` | `{t.target or '-'}` | {t.references} | {ops} |")
        lines.append("")
    for table, problems in _grouped(result):
        lines += [f"### `{table}`" if table else "### general", ""]
        for problem in problems:
            mark = "**error**" if problem.severity == ERROR else "warning"
            where = f" (`{_where(problem.location)}`)" if problem.location else ""
            lines.append(f"- {mark} `{problem.rule}` {_md_cell(problem.message)}{where}")
            shown = problem.affected[:MAX_AFFECTED_SHOWN]
            for loc in shown:
                op = f" — {loc.operation}" if loc.operation else ""
                lines.append(f"  - `{_where(loc)}`{op}")
            if len(problem.affected) > len(shown):
                lines.append(f"  - … and {len(problem.affected) - len(shown)} more")
            if problem.detail:
                lines += ["", "  <details><summary>details</summary>", "", "  ```sql"]
                lines += [f"  {line}" for line in problem.detail.rstrip().splitlines()]
                lines += ["  ```", "  </details>", ""]
            if problem.fix:
                lines += ["", "  fix:", "", "  ```sql"]
                lines += [f"  {line}" for line in problem.fix.splitlines()]
                lines += ["  ```", ""]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def render_sarif(result: CheckResult) -> str:
    rules = []
    index = {}
    for number, (rule_id, title, body) in enumerate(rule_catalog()):
        index[rule_id] = number
        rules.append(
            {
                "id": rule_id,
                "name": rule_id,
                "shortDescription": {"text": title},
                "fullDescription": {"text": body.split("\n\n")[0].replace("\n", " ")},
                "help": {"text": body, "markdown": body},
                "helpUri": f"{INFORMATION_URI}",
            }
        )
    results = []
    for problem in sorted(result.problems, key=Problem.sort_key):
        locations = [problem.location] if problem.location else []
        locations += list(problem.affected)
        if not locations:
            locations = [Location(result.spec, 1)]
        entry = {
            "ruleId": problem.rule,
            "ruleIndex": index.get(problem.rule, 0),
            "level": "error" if problem.severity == ERROR else "warning",
            "message": {"text": problem.message},
            "locations": [_sarif_location(loc) for loc in locations[:1]],
        }
        if len(locations) > 1:
            entry["relatedLocations"] = [
                {"id": n, **_sarif_location(loc)} for n, loc in enumerate(locations[1:], 1)
            ]
        if problem.fix:
            entry["properties"] = {"fix": problem.fix}
            if problem.fix_at is not None:
                start = {"startLine": problem.fix_at.line, "startColumn": 1}
                entry["fixes"] = [
                    {
                        "description": {"text": "append to the compatibility layer"},
                        "artifactChanges": [
                            {
                                "artifactLocation": {
                                    "uri": problem.fix_at.path,
                                    "uriBaseId": "%SRCROOT%",
                                },
                                "replacements": [
                                    {
                                        "deletedRegion": {
                                            **start,
                                            "endLine": problem.fix_at.line,
                                            "endColumn": 1,
                                        },
                                        "insertedContent": {"text": problem.fix + "\n"},
                                    }
                                ],
                            }
                        ],
                    }
                ]
        entry["partialFingerprints"] = {
            "migverify/v1": f"{problem.rule}:{problem.table or ''}:{problem.message}"
        }
        results.append(entry)
    document = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "migverify",
                        "version": migverify.__version__,
                        "informationUri": INFORMATION_URI,
                        "rules": rules,
                    }
                },
                "results": results,
                # For CI that reads the report instead of the exit code (the reusable gate):
                # exit 1 is NOT SAFE or INCOMPLETE, which this tells apart.
                "properties": {"verdict": result.verdict, "passed": result.passed},
            }
        ],
    }
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _sarif_location(location: Location) -> dict:
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": location.path, "uriBaseId": "%SRCROOT%"},
            "region": {"startLine": max(location.line, 1), "startColumn": max(location.column, 1)},
        }
    }


RENDERERS = {
    "text": render_text,
    "json": render_json,
    "github": render_github,
    "markdown": render_markdown,
    "sarif": render_sarif,
}


def render_rules_markdown() -> str:
    """The README's rule reference: one heading and the documentation paragraph(s) per rule."""
    parts = []
    for rule_id, title, body in rule_catalog():
        parts.append(f"### {rule_id}: {title}\n\n{body.strip()}\n")
    return "\n".join(parts)
