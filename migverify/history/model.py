"""A migration history's data: its migrations in the order its tool runs them, and what it skips.

The readers of each layout build these; the spec and the rest of migverify read them."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

from migverify.errors import InputError
from migverify.sqlload import Script


@dataclass(frozen=True)
class Migration:
    """One migration: what runs forward and, when the layout has one, its rollback."""

    name: str  # how users name it: file or directory name, version, sqitch change
    up: Script
    down: Script | None = None
    # The version in its file name, when it has one: `before` may name the migration by it.
    version: str | None = None
    # What the tool runs right after `up` to check it (sqitch deploy with verify on): it
    # changes nothing, but its failure fails the deploy.
    verify: Script | None = None

    def runs(self) -> tuple[Script, ...]:
        """What the tool runs forward for this migration, in order."""
        return (self.up,) if self.verify is None else (self.up, self.verify)


@dataclass(frozen=True)
class History:
    """A directory of migrations read the way its tool reads it."""

    layout: str
    directory: Path
    preamble: tuple[Script, ...] = ()  # what the migrator itself creates first
    migrations: tuple[Migration, ...] = ()  # in the order the tool runs them
    seeds: tuple[Script, ...] = ()  # run after the migrations (Supabase's [db.seed])
    skipped: tuple[tuple[str, str], ...] = ()  # (path, reason): files the tool would not run

    def scripts(self) -> tuple[Script, ...]:
        """Everything the tool runs on an empty database, in order."""
        return (*self.preamble, *(s for m in self.migrations for s in m.runs()), *self.seeds)

    def names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.migrations)

    def index(self, wanted: str) -> int:
        """The position of the migration WANTED names: its name, its file name or its version.

        An unknown or ambiguous name raises InputError listing the closest names."""
        for number, migration in enumerate(self.migrations):
            if migration.name == wanted:
                return number
        found = [n for n, m in enumerate(self.migrations) if _names_it(m, wanted)]
        if len(found) == 1:
            return found[0]
        if found:
            names = ", ".join(self.migrations[n].name for n in found)
            raise InputError(
                f"{wanted!r} names {len(found)} migrations ({names}): give the full name"
            )
        if not self.migrations:
            raise InputError(f"no migration {wanted!r}: {self.directory} has no migrations")
        close = difflib.get_close_matches(wanted, self.names(), n=3, cutoff=0.0)
        raise InputError(
            f"no migration {wanted!r} in {self.directory} ({self.layout}); "
            f"closest: {', '.join(close)}"
        )


def _names_it(migration: Migration, wanted: str) -> bool:
    """Whether WANTED is the migration's file name (`name.sql`, `name.up.sql`) or version."""
    if wanted in (Path(migration.up.name).name, f"{migration.name}.sql"):
        return True
    if migration.version is None:
        return False
    bare = re.sub(r"^[Vv](?=\d)", "", wanted)  # Flyway: "V1_10" for version 1.10
    return version_key(bare) == version_key(migration.version)


def version_key(version: str) -> tuple[int | str, ...]:
    """A version as its parts compare: numbers by value (`000001` = `1`), `.` and `_` both
    separate (Flyway's `1_10` = `1.10`), trailing zero parts do not count (`1.0` = `1`)."""
    parts: list[int | str] = [int(p) if p.isdigit() else p for p in re.split(r"[._]", version)]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)
