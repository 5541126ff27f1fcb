"""`migverify reference run`: the seed's learning pipeline as a reference consumer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from migverify.cli.common import (
    _no_interrupt,
    cli,
    server_options,
)


@cli.group()
def reference() -> None:
    """The seed's learning pipeline, run as a reference consumer of the legacy names."""


@reference.command("run")
@click.option("--world", type=click.Choice(["legacy", "migrated"]), required=True)
@click.option(
    "--config",
    type=click.Path(path_type=Path),
    help="The spec (default: the seed's xbot scenario, fixtures/xbot, shipped with migverify).",
)
@click.option(
    "--compat",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The compatibility layer for the migrated world (default: the generated one).",
)
@click.option("--cycles", type=click.IntRange(1, 1_000_000), default=50, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@server_options
def reference_run(
    world: str,
    config: Path | None,
    compat: Path | None,
    cycles: int,
    seed: int,
    fmt: str,
    sandbox_config: Any,
) -> None:
    """Run N learning cycles (post, scrape, ingest, reward, bandits, generate) in a fresh world.

    \b
    Example:
      migverify reference run --world migrated --cycles 200 --seed 7 --format json
    """
    import json

    from migverify.reference import run_world, spec_for
    from migverify.sandbox import with_spec_roles
    from migverify.sqlload import read_script

    compat_sql = read_script(compat) if compat else None
    spec = spec_for(config)
    sandbox_config = with_spec_roles(sandbox_config, spec.roles)
    result = run_world(spec, world, cycles, seed, sandbox_config, compat_sql, str(compat or ""))
    _no_interrupt()
    if fmt == "json":
        click.echo(json.dumps(result, indent=2, sort_keys=True))
        return
    click.echo(f"{cycles} cycles in the {world} world (seed {seed})")
    for dimension, arms in result["arms"].items():
        best = max(arms, key=lambda a: arms[a]["alpha"] / (arms[a]["alpha"] + arms[a]["beta"]))
        pulls = ", ".join(f"{arm} {values['pulls']}" for arm, values in sorted(arms.items()))
        click.echo(f"  {dimension:<7} best {best:<12} pulls: {pulls}")
    shares = ", ".join(f"{t} {v:.0%}" for t, v in result["topic_share"].items())
    click.echo(f"  topics posted: {shares}")
    summary = result["summary"]
    click.echo(
        f"  mean reward {summary['mean_reward']:.3f} "
        f"(second half {summary['mean_reward_second_half']:.3f})"
    )
