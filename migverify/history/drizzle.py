"""Drizzle Kit: the entries of `meta/_journal.json` in their order, each `tag` the file
`<tag>.sql` beside `meta/` (as drizzle-orm's migrator reads them; file names do not order
anything). `--> statement-breakpoint` lines are SQL comments to PostgreSQL. No down scripts."""

from __future__ import annotations

import json
import re
from pathlib import Path

from migverify.errors import InputError, SQLFileError
from migverify.history.files import entries
from migverify.history.model import History, Migration
from migverify.sqlload import Script, line_of

JOURNAL = Path("meta") / "_journal.json"
_VERSION = re.compile(r"^(\d+)_")
CONFIGS = tuple(f"drizzle.config.{ext}" for ext in ("ts", "js", "mjs", "cjs", "mts", "cts", "json"))
DEFAULT_OUT = "drizzle"  # drizzle-kit's default `out`
_OUT = re.compile(r"""["']?\bout["']?\s*:\s*(?:(["'`])(.*?)\1)?""")


def detect(directory: Path) -> bool:
    return (directory / JOURNAL).is_file()


def locate(root: Path) -> Path | None:
    """The project's `out` directory: drizzle.config.*'s `out`, by default `drizzle/`."""
    place = root / _configured_out(root)
    return place if detect(place) else None


def _configured_out(root: Path) -> str:
    """`out` of the project's drizzle.config.* (a string literal), else drizzle-kit's default."""
    config = next((root / name for name in CONFIGS if (root / name).is_file()), None)
    if config is None:
        return DEFAULT_OUT
    text = Script.read(config).text
    found = _OUT.search(text)
    if found is None:
        return DEFAULT_OUT
    if found.group(2) is None:
        raise SQLFileError(
            str(config),
            line_of(text, found.start()),
            "out is not a string literal: name the migrations directory in [legacy] migrations",
        )
    return found.group(2)


def read(directory: Path) -> History:
    journal = directory / JOURNAL
    tags = _journal_tags(journal)
    migrations = []
    for tag in tags:
        path = directory / f"{tag}.sql"
        if not path.is_file():
            raise InputError(f"{journal}: entry {tag!r}: no {path.name} beside meta/")
        version = _VERSION.match(tag)
        migrations.append(
            Migration(name=tag, up=Script.read(path), version=version and version.group(1))
        )
    used = {f"{tag}.sql" for tag in tags}
    skipped = [
        (str(entry), f"not an entry of {JOURNAL.as_posix()}: drizzle's migrator does not run it")
        for entry in entries(directory)
        if entry.name not in used and entry.name != "meta"
    ]
    return History(
        layout="drizzle", directory=directory, migrations=tuple(migrations), skipped=tuple(skipped)
    )


def _journal_tags(journal: Path) -> list[str]:
    try:
        data = json.loads(journal.read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError(f"{journal}: cannot read: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise InputError(f"{journal}: not UTF-8 text ({error.reason})") from None
    except json.JSONDecodeError as error:
        raise InputError(f"{journal}:{error.lineno}: invalid JSON: {error.msg}") from None
    items = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise InputError(f"{journal}: no entries list (is it drizzle-kit's journal?)")
    tags = []
    for number, entry in enumerate(items):
        tag = entry.get("tag") if isinstance(entry, dict) else None
        if not isinstance(tag, str) or not tag:
            raise InputError(f"{journal}: entry {number} has no tag")
        if tag in tags:
            raise InputError(f"{journal}: tag {tag!r} is listed twice")
        tags.append(tag)
    return tags
