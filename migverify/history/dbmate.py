"""dbmate: `db/migrations/<version>_<name>.sql` in file-name order, each with `-- migrate:up` and
`-- migrate:down` sections (options after the marker; a file may hold several up/down pairs).
Only the up sections run forward; the down sections are the rollback. dbmate runs each section
in a transaction of its own, unless its marker says `transaction:false`. Each section's script
is the whole file with everything else blanked out, so an error names the file's own line."""

from __future__ import annotations

import re
from pathlib import Path

from migverify.errors import InputError, SQLFileError
from migverify.history.files import entries
from migverify.history.model import History, Migration
from migverify.history.sections import Section, only
from migverify.sqlload import Script, line_of, read_script

# dbmate's migrationFileRegexp and its section markers (pkg/dbmate/migration.go).
_FILE = re.compile(r"^(\d+).*\.sql$")
_UP = re.compile(r"^--\s*migrate:up(\s*$|\s+\S+)", re.M)
_DOWN = re.compile(r"^--\s*migrate:down(\s*$|\s+\S+)", re.M)
_BLANK_OR_COMMENT = re.compile(r"^\s*($|--)")
_NO_TRANSACTION = re.compile(r"\stransaction:false(\s|$)")
_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$")
DEFAULT_DIR = "db/migrations"  # dbmate's default --migrations-dir


def detect(directory: Path) -> bool:
    for path in entries(directory):
        if _FILE.match(path.name) and path.is_file():
            try:
                return _UP.search(path.read_text(encoding="utf-8", errors="replace")) is not None
            except OSError:
                return False
    return False


def locate(root: Path) -> Path | None:
    """The project's migrations directory: `DBMATE_MIGRATIONS_DIR` of its `.env` (which dbmate
    reads), by default `db/migrations/`."""
    place = root / (env(root / ".env").get("DBMATE_MIGRATIONS_DIR") or DEFAULT_DIR)
    return place if detect(place) else None


def env(path: Path) -> dict[str, str]:
    """The variables of a .env file (`KEY=value`, `export KEY=value`, quoted or not)."""
    if not path.is_file():
        return {}
    found = {}
    for line in Script.read(path).text.splitlines():
        match = _ENV_LINE.match(line)
        if match is not None:
            value = match.group(2).strip()
            if value[:1] in ("'", '"') and value.find(value[0], 1) > 0:
                value = value[1 : value.find(value[0], 1)]
            else:
                value = value.split(" #")[0].strip()
            found[match.group(1)] = value
    return found


def read(directory: Path) -> History:
    migrations, skipped = [], []
    for entry in entries(directory):
        match = _FILE.match(entry.name)
        if match is None or not entry.is_file():
            skipped.append((str(entry), "dbmate runs only <version>_<name>.sql files"))
            continue
        up, down = split_sections(read_script(entry), str(entry))
        migrations.append(Migration(name=entry.name[:-4], up=up, down=down, version=match.group(1)))
    return History(
        layout="dbmate", directory=directory, migrations=tuple(migrations), skipped=tuple(skipped)
    )


def split_sections(text: str, name: str) -> tuple[Script, Script]:
    """The up and the down script of a dbmate migration, each padded to the file's lines;
    a file dbmate refuses is refused with dbmate's reason and the line."""
    ups = [m.start() for m in _UP.finditer(text)]
    if not ups:
        raise InputError(
            f"{name}: dbmate requires each migration to define an up block with '-- migrate:up'"
        )
    for number, line in enumerate(text[: ups[0]].split("\n"), start=1):
        if not _BLANK_OR_COMMENT.match(line):
            raise SQLFileError(
                name,
                number,
                "dbmate does not support statements preceding the '-- migrate:up' block",
            )
    up_ranges: list[Section] = []
    down_ranges: list[Section] = []
    for start, end in zip(ups, [*ups[1:], len(text)], strict=True):
        downs = [m.start() for m in _DOWN.finditer(text, start, end)]
        if not downs:
            raise SQLFileError(
                name,
                line_of(text, start),
                "dbmate requires each migration to define a down block with '-- migrate:down'",
            )
        if len(downs) > 1:
            raise SQLFileError(
                name,
                line_of(text, downs[1]),
                "dbmate requires every '-- migrate:down' to be preceded by a '-- migrate:up'",
            )
        up_ranges.append(Section(start, downs[0], _transaction(text, start)))
        down_ranges.append(Section(downs[0], end, _transaction(text, downs[0])))
    return Script(name, only(text, up_ranges)), Script(name, only(text, down_ranges))


def _transaction(text: str, marker: int) -> bool:
    """Whether dbmate runs the section whose marker is at MARKER in a transaction: unless the
    marker line says `transaction:false`."""
    line = text[marker:].split("\n", 1)[0]
    return _NO_TRANSACTION.search(line) is None
