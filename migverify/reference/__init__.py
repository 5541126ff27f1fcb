"""The seed's learning pipeline as a reference consumer: it runs against the legacy tables and
against the compatibility layer, and must behave identically in both worlds.

Stages, named as in shared/seed/data-flow-with-views.md: `posting.PostingQueue`
(postingQueue.ts), `scraping.MetricsScraper` (scrapingOrchestrator.ts / metricsScraperJob.ts),
`ingest.LearningIngestor` (learn/ingest.ts), `rewards.MetricsCalculator`
(generateRewardWithContext), `bandits.BanditManager` (updateTopic, Thompson sampling),
`generation.ContentGenerator`; `pipeline.cycle_events` is the cycle; `audience` the simulated
audience that produces the engagement; `worlds.build_world` the legacy and migrated worlds.
See README.md in this package for the formulas, the bandit algorithm and the ground truth.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from migverify.errors import MigverifyError
from migverify.reference.pipeline import collect, cycle_events, run_pipeline, summarize
from migverify.reference.worlds import build_world
from migverify.sandbox import Sandbox, SandboxConfig
from migverify.spec import Spec

__all__ = ["ConsumerFailed", "ConsumerResult", "Divergence", "compare_worlds", "run_world"]


@dataclass(frozen=True)
class Divergence:
    """Where the worlds parted: CYCLE and STAGE, WHAT in one line, each world's output (or
    error), the failing STATEMENT or the first differing FIELD."""

    cycle: int
    stage: str
    what: str
    legacy: str = ""
    migrated: str = ""
    statement: str = ""  # the SQL statement that failed (one line), when a world failed
    field: str = ""  # the first differing field of the stage's output, when both ran


@dataclass(frozen=True)
class ConsumerResult:
    """EQUAL, or the first DIVERGENCE; LEGACY/MIGRATED: each world's JSON document (complete
    when equal, up to the last stage both agreed on otherwise)."""

    equal: bool
    cycles: int
    seed: int
    divergence: Divergence | None
    legacy: dict[str, Any] = field(default_factory=dict)
    migrated: dict[str, Any] = field(default_factory=dict)


class ConsumerFailed(MigverifyError):
    """The pipeline hit a database error in a world (exit 1: the consumer found a problem)."""

    exit_code = 1


def run_world(
    spec: Spec,
    world: str,
    cycles: int,
    seed: int,
    config: SandboxConfig,
    compat_sql: str | None = None,
    compat_name: str = "compat.sql",
) -> dict[str, Any]:
    """Run CYCLES cycles in a fresh WORLD; the JSON-able result (see pipeline.summarize).

    A database error raises ConsumerFailed naming the cycle, stage, SQLSTATE and statement."""
    with Sandbox(config) as box:
        with build_world(box, spec, world, compat_sql, compat_name) as conn:
            traced = _Traced(conn)
            try:
                return run_pipeline(traced, cycles, seed, traced.progress)
            except psycopg.Error as error:
                where = traced.progress
                raise ConsumerFailed(
                    f"the pipeline failed in the {world} world at cycle {where.get('cycle', -1)}, "
                    f"stage {where.get('stage', 'setup')}: {_error_line(error)} "
                    f"(statement: {traced.last[:160]})"
                ) from error


def compare_worlds(
    spec: Spec,
    cycles: int,
    seed: int,
    config: SandboxConfig,
    compat_sql: str | None = None,
    compat_name: str = "compat.sql",
) -> ConsumerResult:
    """Both worlds in lockstep; the first stage whose output (or error) differs is reported."""
    with Sandbox(config) as box:
        legacy_conn = build_world(box, spec, "legacy", None)
        migrated_conn = build_world(box, spec, "migrated", compat_sql, compat_name)
        with legacy_conn, migrated_conn:
            traced = {"legacy": _Traced(legacy_conn), "migrated": _Traced(migrated_conn)}
            left = cycle_events(traced["legacy"], cycles, seed, traced["legacy"].progress)
            right = cycle_events(traced["migrated"], cycles, seed, traced["migrated"].progress)
            decisions: dict[str, list] = {"legacy": [], "migrated": []}
            arms: dict[str, dict] = {"legacy": {}, "migrated": {}}
            while True:
                a, a_error = _next(left)
                b, b_error = _next(right)
                if a is None and b is None and not a_error and not b_error:
                    break
                if a_error or b_error or a != b:
                    return ConsumerResult(  # the documents up to the divergence
                        False,
                        cycles,
                        seed,
                        _divergence(a, b, a_error, b_error, traced),
                        summarize(decisions["legacy"], arms["legacy"], cycles, seed),
                        summarize(decisions["migrated"], arms["migrated"], cycles, seed),
                    )
                for name, event in (("legacy", a), ("migrated", b)):
                    arms[name] = collect(decisions[name], arms[name], event)
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
        return None, _error_line(error)


def _error_line(error: psycopg.Error) -> str:
    return f"{error.sqlstate}: {str(error).splitlines()[0]}"


class _Traced:
    """A connection that remembers the last statement run (to name the one that failed)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn, self.last = conn, ""
        self.progress: dict[str, Any] = {}

    def execute(self, query: str, params: Any = None) -> psycopg.Cursor:
        self.last = " ".join(query.split())
        return self.conn.execute(query, params)


def _divergence(a, b, a_error: str, b_error: str, traced: dict[str, _Traced]) -> Divergence:
    """Where the worlds parted: the stage's cycle, the failing statement or the first field."""
    failed = traced["migrated" if b_error else "legacy"].progress
    if a_error or b_error:
        where = (failed.get("cycle", -1), failed.get("stage", "setup"))
    else:
        where = (a or b)[:2]
    statement, field_ = "", ""
    if b_error and not a_error:
        statement = traced["migrated"].last
        what = f"the migrated world failed: {b_error} (statement: {statement[:160]})"
    elif a_error and not b_error:
        statement = traced["legacy"].last
        what = f"the legacy world failed: {a_error} (statement: {statement[:160]})"
    elif a_error and b_error:
        statement = traced["migrated"].last
        what = f"both failed: {a_error} / {b_error} (statement: {statement[:160]})"
    elif a is None or b is None:
        what = f"the {'legacy' if a is None else 'migrated'} world stopped early"
    else:
        field_ = _first_difference(a[2], b[2], a[1])
        what = f"the stage produced different output: {field_} differs"
    return Divergence(
        cycle=where[0],
        stage=where[1],
        what=what,
        legacy=a_error or _short(a),
        migrated=b_error or _short(b),
        statement=statement,
        field=field_,
    )


def _first_difference(x: Any, y: Any, path: str) -> str:
    """The path of the first value that differs between two stage outputs (JSON-like data)."""
    if isinstance(x, dict) and isinstance(y, dict):
        for key in sorted(set(x) | set(y), key=str):
            if x.get(key) != y.get(key):
                return _first_difference(x.get(key), y.get(key), f"{path}.{key}")
    elif isinstance(x, list | tuple) and isinstance(y, list | tuple):
        for i, (u, v) in enumerate(zip(x, y, strict=False)):
            if u != v:
                return _first_difference(u, v, f"{path}[{i}]")
        if len(x) != len(y):
            return f"{path} (length {len(x)} vs {len(y)})"
    return f"{path} ({x!r} vs {y!r})"


def _short(event: Any) -> str:
    if event is None:
        return "(ended)"
    return json.dumps(event[2], sort_keys=True, default=str)[:400]


def xbot_dir() -> Path:
    """The seed's xbot scenario: shipped in the wheel as migverify/reference/xbot, in a checkout
    at fixtures/xbot (so `reference run` works from any directory and any install)."""
    from importlib import resources

    packaged = resources.files("migverify") / "reference" / "xbot"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "fixtures" / "xbot"


def spec_for(config: Path | None) -> Spec:
    """The spec of the world to run: --config, else the xbot scenario that ships with migverify."""
    from migverify.errors import InputError
    from migverify.spec import load_spec

    path = config or xbot_dir()
    if not path.exists():
        raise InputError(f"{path}: no such spec (give --config pointing at a migverify.toml)")
    return load_spec(path)
