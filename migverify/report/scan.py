"""Renderers for `migverify scan`: text (grouped by file), json, github annotations, SARIF."""

from __future__ import annotations

import json
from itertools import groupby

import migverify
from migverify.report.formats import INFORMATION_URI, SARIF_SCHEMA, escape_data, escape_property
from migverify.scan import ScanResult

REFERENCE_RULE = "MVS001"
SKIPPED_TITLE = "migverify skipped a file"


def render_text(result: ScanResult) -> str:
    lines = []
    for path, refs in groupby(result.references, key=lambda r: r.path):
        refs = list(refs)
        lines.append(path)
        width = max(len(f"{r.line}:{r.column}") for r in refs)
        for ref in refs:
            where = f"{ref.line}:{ref.column}".ljust(width)
            columns = f"  ({', '.join(ref.columns)})" if ref.columns else ""
            embedded = f"  [embedded in {ref.parent}]" if ref.parent else ""
            lines.append(
                f"  {where}  {ref.table:<24} {ref.operation:<7} {ref.kind:<12}{columns}{embedded}"
            )
    if result.dynamic:
        lines.append("dynamic (table name not known statically; review by hand):")
        for item in result.dynamic:
            lines.append(f"  {item.path}:{item.line}:{item.column}  {item.describe()}")
    if result.skipped:
        lines.append("skipped (not scanned; references in them are not counted):")
        for skipped in result.skipped:
            lines.append(f"  {skipped.path}: {skipped.reason}")
    if lines:
        lines.append("")
    lines.append(result.summary_line())
    return "\n".join(lines) + "\n"


def render_json(result: ScanResult) -> str:
    return json.dumps(result.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_github(result: ScanResult) -> str:
    lines = []
    for ref in result.references:
        columns = f" (columns: {', '.join(ref.columns)})" if ref.columns else ""
        lines.append(
            f"::notice file={escape_property(ref.path)},line={ref.line},col={ref.column},"
            f"title={escape_property('legacy table ' + ref.table)}::"
            f"{escape_data(f'{ref.table}: {ref.operation}{columns}')}"
        )
    for item in result.dynamic:
        lines.append(
            f"::warning file={escape_property(item.path)},line={item.line},col={item.column},"
            f"title=MV008::{escape_data(f'table name not known statically: {item.describe()}')}"
        )
    for skipped in result.skipped:
        lines.append(
            f"::warning file={escape_property(skipped.path)},"
            f"title={escape_property(SKIPPED_TITLE)}::"
            f"{escape_data(f'not scanned: {skipped.reason}')}"
        )
    return "\n".join(lines) + ("\n" if lines else "")


def render_sarif(result: ScanResult) -> str:
    rules = [
        {
            "id": REFERENCE_RULE,
            "name": "LegacyTableReference",
            "shortDescription": {"text": "Code that uses a legacy table"},
            "fullDescription": {
                "text": "This code reads or writes a table that the migration replaces by a "
                "compatibility view; the operation and columns are in the message."
            },
            "defaultConfiguration": {"level": "note"},
            "helpUri": INFORMATION_URI,
        },
        {
            "id": "MV008",
            "name": "DynamicTableReference",
            "shortDescription": {"text": "Table name not known statically"},
            "fullDescription": {
                "text": "A table argument computed at run time may hit a legacy table; review it."
            },
            "defaultConfiguration": {"level": "warning"},
            "helpUri": INFORMATION_URI,
        },
    ]
    results = []
    for ref in result.references:
        columns = f" (columns: {', '.join(ref.columns)})" if ref.columns else ""
        results.append(
            _result(REFERENCE_RULE, 0, "note", f"{ref.table}: {ref.operation}{columns}", ref)
        )
    for item in result.dynamic:
        results.append(
            _result(
                "MV008", 1, "warning", f"table name not known statically: {item.describe()}", item
            )
        )
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
                        "notifications": [
                            {
                                "id": "MVS002",
                                "name": "SkippedFile",
                                "shortDescription": {"text": "A file was not scanned"},
                                "fullDescription": {
                                    "text": "The file could not be scanned (over the size "
                                    "limit, unreadable, binary, not a regular file): references "
                                    "to legacy tables in it are not counted."
                                },
                                "defaultConfiguration": {"level": "warning"},
                            }
                        ],
                    }
                },
                "results": results,
                "invocations": [
                    {
                        "executionSuccessful": True,
                        "toolExecutionNotifications": [
                            _notification(skipped) for skipped in result.skipped
                        ],
                    }
                ],
            }
        ],
    }
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _notification(skipped) -> dict:
    """A skipped file as a SARIF tool execution notification (SARIF 2.1.0 §3.58)."""
    return {
        "level": "warning",
        "descriptor": {"id": "MVS002", "index": 0},
        "message": {"text": f"{skipped.path} was not scanned: {skipped.reason}"},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": skipped.path, "uriBaseId": "%SRCROOT%"}
                }
            }
        ],
    }


def _result(rule: str, index: int, level: str, message: str, where) -> dict:
    return {
        "ruleId": rule,
        "ruleIndex": index,
        "level": level,
        "message": {"text": message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": where.path, "uriBaseId": "%SRCROOT%"},
                    "region": {"startLine": where.line, "startColumn": where.column},
                }
            }
        ],
    }


RENDERERS = {
    "text": render_text,
    "json": render_json,
    "github": render_github,
    "sarif": render_sarif,
}
