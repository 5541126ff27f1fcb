"""Supabase CLI: `supabase/migrations/<timestamp>_<name>.sql` in file-name order, then the seed
files of `config.toml`'s `[db.seed]` — as `supabase db reset` runs them.

The CLI reads the migrations directory in file-name order and runs only the files matching
`^([0-9]+)_(.*)\\.sql$` (others, such as `local_seed.sql`, are skipped with a message); an old
CLI's `<timestamp>_init.sql` as the first file (before 20211209) is skipped too. The seeds are
`[db.seed] sql_paths` (relative to the directory, globs expanded in name order, duplicates once;
`enabled = false` turns seeding off), by default `seed.sql`."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from migverify.errors import InputError
from migverify.history.config_files import read_toml
from migverify.history.files import entries
from migverify.history.model import History, Migration
from migverify.sqlload import Script

log = logging.getLogger("migverify")
DEFAULT_SEEDS = ("./seed.sql",)
_MIGRATION = re.compile(r"^([0-9]+)_(.*)\.sql$")
_OLD_INIT = re.compile(r"([0-9]{14})_init\.sql")
_NOT_RUN = "the Supabase CLI runs only files named <timestamp>_<name>.sql"


def detect(directory: Path) -> bool:
    """A Supabase project directory (config.toml and migrations/) or its migrations/."""
    if (directory / "migrations").is_dir() and _is_config(directory / "config.toml"):
        return True
    return directory.name == "migrations" and _is_config(directory.parent / "config.toml")


def locate(root: Path) -> Path | None:
    """The project's `supabase/` (where `supabase init` puts it), when it is one."""
    place = root / "supabase"
    return place if detect(place) else None


def _is_config(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return re.search(r"^\s*(project_id\s*=|\[db[.\]])", text, re.M) is not None


def project_dir(directory: Path) -> Path:
    """The Supabase project directory (the one with config.toml) of DIRECTORY, which may be
    the project or its migrations/."""
    if (directory / "migrations").is_dir():
        return directory
    if directory.name == "migrations" and (directory.parent / "config.toml").is_file():
        return directory.parent
    raise InputError(f"{directory}: no migrations/ directory (is it a Supabase project?)")


def read(directory: Path) -> History:
    project = project_dir(directory)
    migrations_dir = project / "migrations"
    migrations, skipped = [], []
    # The CLI's first entry may be a hidden file (which it skips with a message, unlike us).
    first = min((p.name for p in migrations_dir.iterdir()), default="")
    for entry in entries(migrations_dir):
        if entry.name == first and _old_init(entry.name):
            skipped.append((str(entry), "an old Supabase CLI's initial schema: the CLI skips it"))
            continue
        match = _MIGRATION.match(entry.name)
        if entry.is_dir():
            skipped.append((str(entry), "a directory: the Supabase CLI does not look into it"))
        elif match is None:
            skipped.append((str(entry), _NOT_RUN))
        else:
            migrations.append(
                Migration(name=entry.name[:-4], up=Script.read(entry), version=match.group(1))
            )
    return History(
        layout="supabase",
        directory=directory,
        migrations=tuple(migrations),
        seeds=tuple(Script.read(p) for p in seed_files(project)),
        skipped=tuple(skipped),
    )


def _old_init(name: str) -> bool:
    match = _OLD_INIT.search(name)
    return match is not None and int(match.group(1)) < 20211209000000


def seed_files(directory: Path) -> tuple[Path, ...]:
    """The seed files of the project in DIRECTORY, in the order `supabase db reset` runs them."""
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
    data = read_toml(config)
    if data is None:
        return True, DEFAULT_SEEDS
    seed = data.get("db", {}).get("seed", {})
    if not isinstance(seed, dict):
        raise InputError(f"{config}: [db.seed] must be a table")
    paths = seed.get("sql_paths", list(DEFAULT_SEEDS))
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise InputError(f"{config}: [db.seed] sql_paths must be a list of paths")
    return bool(seed.get("enabled", True)), tuple(paths)
