"""A Supabase CLI directory as input: `migrations/*.sql` in file-name order, then the seed files
of `config.toml`'s `[db.seed]` (`sql_paths`, globs allowed, relative to the directory;
`enabled = false` turns seeding off), by default `seed.sql` — as `supabase db reset` runs them."""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path

from migverify.errors import InputError

log = logging.getLogger("migverify")
DEFAULT_SEEDS = ("./seed.sql",)


def project_files(directory: Path) -> tuple[Path, ...]:
    """The SQL files of the Supabase project in DIRECTORY, in the order the CLI runs them."""
    if not directory.is_dir():
        raise InputError(f"{directory}: not a directory (a Supabase project's supabase/)")
    migrations_dir = directory / "migrations"
    migrations = sorted(migrations_dir.glob("*.sql"), key=lambda p: p.name)
    if not migrations and not migrations_dir.is_dir():
        raise InputError(f"{directory}: no migrations/ directory (is it a Supabase project?)")
    return (*migrations, *seed_files(directory))


def seed_files(directory: Path) -> tuple[Path, ...]:
    enabled, patterns = _seed_config(directory)
    if not enabled:
        return ()
    seeds: list[Path] = []
    for pattern in patterns:
        relative = pattern[2:] if pattern.startswith("./") else pattern
        if any(c in relative for c in "*?["):
            matches = sorted(p for p in directory.glob(relative) if p.is_file())
        else:
            matches = [directory / relative] if (directory / relative).is_file() else []
        if not matches:
            log.info(f"{directory}: no seed file matches {pattern}")
        seeds += [m for m in matches if m not in seeds]
    return tuple(seeds)


def _seed_config(directory: Path) -> tuple[bool, tuple[str, ...]]:
    config = directory / "config.toml"
    if not config.is_file():
        return True, DEFAULT_SEEDS
    try:
        data = tomllib.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise InputError(f"{config}: cannot read: {error}") from None
    seed = data.get("db", {}).get("seed", {})
    if not isinstance(seed, dict):
        raise InputError(f"{config}: [db.seed] must be a table")
    paths = seed.get("sql_paths", list(DEFAULT_SEEDS))
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise InputError(f"{config}: [db.seed] sql_paths must be a list of paths")
    return bool(seed.get("enabled", True)), tuple(paths)
