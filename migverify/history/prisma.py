"""Prisma Migrate: `prisma/migrations/<timestamp>_<name>/migration.sql`, in directory-name order
(as `prisma migrate deploy` lists them); `migration_lock.toml` beside them. No down scripts."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from migverify.errors import InputError
from migverify.history.files import entries
from migverify.history.model import History, Migration
from migverify.sqlload import Script

LOCK = "migration_lock.toml"
_VERSION = re.compile(r"^(\d+)_")
_CODE = (".ts", ".js", ".mjs", ".cjs", ".mts")


def detect(directory: Path) -> bool:
    if (directory / LOCK).is_file():
        return True
    return any(p.is_dir() and (p / "migration.sql").is_file() for p in entries(directory))


def locate(root: Path) -> Path | None:
    """The project's `prisma/migrations/` (beside the default `prisma/schema.prisma`)."""
    place = root / "prisma" / "migrations"
    return place if detect(place) else None


def read(directory: Path) -> History:
    migrations, skipped = [], []
    not_run: list[str] = []  # data migrations in code, before the ones that follow
    for entry in entries(directory):
        if not entry.is_dir():
            if entry.name != LOCK:
                skipped.append((str(entry), "Prisma runs only <name>/migration.sql"))
            continue
        script = entry / "migration.sql"
        if not script.is_file():
            code = [p.name for p in entries(entry) if p.suffix in _CODE and p.is_file()]
            if not code:
                raise InputError(f"{entry}: no migration.sql (prisma migrate deploy fails on it)")
            # a project's own migrator running data migrations written as code beside Prisma's
            # (prisma migrate deploy would refuse the directory): reported, as a Go migration
            skipped.append(
                (
                    str(entry),
                    f"a migration in code ({', '.join(code)}), not migration.sql: the "
                    "project's own migrator runs it, not prisma migrate deploy; migverify reads "
                    "SQL migrations only, so what it changes is not in the schema",
                )
            )
            not_run.append(str(entry))
            continue
        version = _VERSION.match(entry.name)
        up = dataclasses.replace(Script.read(script), after_not_run=tuple(not_run))
        migrations.append(Migration(name=entry.name, up=up, version=version and version.group(1)))
        for other in entries(entry):
            if other.name != "migration.sql":
                skipped.append((str(other), "Prisma runs only migration.sql of a migration"))
    return History(
        layout="prisma", directory=directory, migrations=tuple(migrations), skipped=tuple(skipped)
    )
