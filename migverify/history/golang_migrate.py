"""golang-migrate: `<version>_<title>.up.sql` and `.down.sql`, in numeric version order
(`10_…` after `2_…`), as `migrate up` runs them; a version given twice is an error there too."""

from __future__ import annotations

import re
from pathlib import Path

from migverify.errors import InputError
from migverify.history.files import entries
from migverify.history.model import History, Migration
from migverify.sqlload import Script

# golang-migrate's source.Parse: version, title, direction, extension.
_FILE = re.compile(r"^([0-9]+)_(.*)\.(down|up)\.(.*)$")
_NOT_RUN = "golang-migrate runs only <version>_<title>.up.sql"


def detect(directory: Path) -> bool:
    """`.up.sql` files, unless in a Rust crate using sqlx (whose reversible migrations are
    named the same way)."""
    from migverify.history.sqlx import crate_of

    return any(_up(p) for p in entries(directory)) and crate_of(directory) is None


# Where projects keep them: the tool has no default (`-path` is always given), these two are the
# conventions of `migrate create -dir …` in the wild.
PLACES = ("migrations", "db/migrations")


def locate(root: Path) -> Path | None:
    """The project's `migrations/` or `db/migrations/`, when one holds golang-migrate files;
    both holding them is an error (which one `-path` names is not written in the project)."""
    found = [root / place for place in PLACES if detect(root / place)]
    if len(found) > 1:
        raise InputError(
            f"{root}: golang-migrate migrations in both {PLACES[0]}/ and {PLACES[1]}/: "
            "name the one `migrate -path` runs in [legacy] migrations"
        )
    return found[0] if found else None


def _up(path: Path) -> bool:
    match = _FILE.match(path.name)
    return match is not None and match.group(3) == "up" and path.is_file()


def read(directory: Path) -> History:
    ups: dict[int, Path] = {}
    downs: dict[int, Path] = {}
    skipped = []
    for entry in entries(directory):
        match = _FILE.match(entry.name)
        if match is None or not entry.is_file() or match.group(4) != "sql":
            skipped.append((str(entry), _NOT_RUN))
            continue
        number = int(match.group(1))
        side = ups if match.group(3) == "up" else downs
        if number in side:
            raise InputError(
                f"{entry}: version {number} is also {side[number].name} "
                "(golang-migrate refuses duplicate migration files)"
            )
        side[number] = entry
    for number, path in sorted(downs.items()):
        if number not in ups:
            skipped.append((str(path), f"no {number}_….up.sql: golang-migrate has no such version"))
    migrations = tuple(
        Migration(
            name=path.name.removesuffix(".up.sql"),
            up=Script.read(path),
            down=Script.read(downs[number]) if number in downs else None,
            version=str(number),
        )
        for number, path in sorted(ups.items())
    )
    return History(
        layout="golang-migrate",
        directory=directory,
        migrations=migrations,
        skipped=tuple(sorted(skipped)),
    )
