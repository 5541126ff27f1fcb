"""Rails with `config.active_record.schema_format = :sql`: `db/structure.sql`, the pg_dump that
`bin/rails db:schema:load` runs, as one migration named after the file. The Ruby migrations
under `db/migrate/` are what produced it; they are not run."""

from __future__ import annotations

from pathlib import Path

from migverify.history.files import entries
from migverify.history.model import History, Migration
from migverify.sqlload import Script

STRUCTURE = "structure.sql"


def _db_dir(directory: Path) -> Path:
    """The app's db/ directory: DIRECTORY itself or its db/."""
    return (
        directory
        if directory.name == "db" and not (directory / "db").is_dir()
        else directory / "db"
    )


def detect(directory: Path) -> bool:
    return (_db_dir(directory) / STRUCTURE).is_file()


def locate(root: Path) -> Path | None:
    """The app's root is its history (detect looks into its db/): nothing to look for."""
    return None


def read(directory: Path) -> History:
    db = _db_dir(directory)
    structure = db / STRUCTURE
    skipped = []
    for entry in entries(db):
        if entry == structure:
            continue
        if entry.name == "migrate" and entry.is_dir():
            reason = "Ruby migrations: db/structure.sql is the schema they produce"
        elif entry.suffix == ".rb":
            reason = "Ruby: only db/structure.sql is loaded"
        else:
            reason = "only db/structure.sql is loaded"
        skipped.append((str(entry), reason))
    migration = Migration(name=structure.stem, up=Script.read(structure))
    return History(
        layout="rails", directory=directory, migrations=(migration,), skipped=tuple(skipped)
    )
