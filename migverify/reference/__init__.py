"""The seed's learning pipeline as a reference consumer: it runs against the legacy tables and
against the compatibility layer, and must behave identically in both worlds.

Stages, named as in shared/seed/data-flow-with-views.md: `posting.PostingQueue`
(postingQueue.ts), `scraping.MetricsScraper` (scrapingOrchestrator.ts / metricsScraperJob.ts),
`ingest.LearningIngestor` (learn/ingest.ts), `rewards.MetricsCalculator`
(generateRewardWithContext), `bandits.BanditManager` (updateTopic, Thompson sampling),
`generation.ContentGenerator`; `pipeline.cycle_events` is the cycle; `audience` the simulated
audience that produces the engagement.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from migverify.reference.pipeline import cycle_events, run_pipeline, summarize
from migverify.sandbox import Sandbox, SandboxConfig
from migverify.spec import Spec

__all__ = ["ConsumerResult", "Divergence", "compare_worlds", "run_world"]


@dataclass(frozen=True)
class Divergence:
    cycle: int
    stage: str
    what: str
    legacy: str = ""
    migrated: str = ""


@dataclass(frozen=True)
class ConsumerResult:
    equal: bool
    cycles: int
    seed: int
    divergence: Divergence | None
    legacy: dict[str, Any] = field(default_factory=dict)
    migrated: dict[str, Any] = field(default_factory=dict)


def _world(box: Sandbox, spec: Spec, world: str, compat_sql: str | None) -> psycopg.Connection:
    from migverify.sqlload import load_sql, load_sql_files

    db = box.create_database(f"reference_{world}")
    conn = db.connect()
    load_sql_files(conn, spec.legacy_sql)
    if world == "migrated":
        if compat_sql is None:
            from migverify.generate import generate_layer

            compat_sql = generate_layer(spec, box)["forward.sql"]
        load_sql_files(conn, spec.target_sql)
        load_sql(conn, compat_sql, "compat.sql")
    return conn


def run_world(
    spec: Spec,
    world: str,
    cycles: int,
    seed: int,
    config: SandboxConfig,
    compat_sql: str | None = None,
) -> dict[str, Any]:
    with Sandbox(config) as box:
        with _world(box, spec, world, compat_sql) as conn:
            return run_pipeline(conn, cycles, seed)


def compare_worlds(
    spec: Spec, cycles: int, seed: int, config: SandboxConfig, compat_sql: str | None = None
) -> ConsumerResult:
    """Both worlds in lockstep; the first stage whose output (or error) differs is reported."""
    with Sandbox(config) as box:
        legacy_conn = _world(box, spec, "legacy", None)
        migrated_conn = _world(box, spec, "migrated", compat_sql)
        with legacy_conn, migrated_conn:
            left = cycle_events(legacy_conn, cycles, seed)
            right = cycle_events(migrated_conn, cycles, seed)
            decisions: dict[str, list] = {"legacy": [], "migrated": []}
            arms: dict[str, dict] = {"legacy": {}, "migrated": {}}
            while True:
                a, a_error = _next(left)
                b, b_error = _next(right)
                if a is None and b is None and not a_error and not b_error:
                    break
                if a_error or b_error or a != b:
                    where = a or b or (None, "?", None)
                    return ConsumerResult(
                        False,
                        cycles,
                        seed,
                        Divergence(
                            cycle=where[0] if where[0] is not None else -1,
                            stage=where[1],
                            what=_what(a, b, a_error, b_error),
                            legacy=a_error or _short(a),
                            migrated=b_error or _short(b),
                        ),
                    )
                for name, event in (("legacy", a), ("migrated", b)):
                    if event[1] == "posting":
                        decisions[name].append(event[2])
                    elif event[1] == "bandits":
                        arms[name] = event[2]
    return ConsumerResult(
        True,
        cycles,
        seed,
        None,
        summarize(decisions["legacy"], arms["legacy"], cycles, seed),
        summarize(decisions["migrated"], arms["migrated"], cycles, seed),
    )


def _next(events) -> tuple[Any, str]:
    try:
        return next(events), ""
    except StopIteration:
        return None, ""
    except psycopg.Error as error:
        return None, f"{error.sqlstate}: {str(error).splitlines()[0]}"


def _what(a, b, a_error: str, b_error: str) -> str:
    if b_error and not a_error:
        return f"the migrated world failed: {b_error}"
    if a_error and not b_error:
        return f"the legacy world failed: {a_error}"
    if a_error and b_error:
        return f"both failed: {a_error} / {b_error}"
    return "the stage produced different output"


def _short(event: Any) -> str:
    if event is None:
        return "(ended)"
    return json.dumps(event[2], sort_keys=True, default=str)[:400]


def spec_for(config: Path | None) -> Spec:
    """The spec of the world to run: --config, else fixtures/xbot under the current directory."""
    from migverify.errors import InputError
    from migverify.spec import load_spec

    path = config or Path("fixtures/xbot")
    if not path.exists():
        raise InputError(f"{path}: no such spec (give --config pointing at a migverify.toml)")
    return load_spec(path)
