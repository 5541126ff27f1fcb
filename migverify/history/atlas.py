"""Atlas versioned migrations (`atlas migrate apply`): the `.sql` files of a directory holding
`atlas.sum`, in file-name order (Atlas sorts them lexicographically; the version is the name up
to its first `_`). atlas.sum must list every one of them, as Atlas refuses a directory whose
files and sum differ. Each file runs in a transaction of its own (Atlas's default
`--tx-mode file`) unless its header says `-- atlas:txmode none`. On an empty database Atlas
starts from the latest checkpoint (a file whose header says `-- atlas:checkpoint`) and runs the
files after it; the ones before are reported as not run. Atlas computes down migrations
itself: there is no rollback script. The directory is atlas.hcl's `dir = "file://…"`, by
default `migrations/`."""

from __future__ import annotations

import re
from pathlib import Path

from migverify.errors import InputError
from migverify.history.files import entries
from migverify.history.model import History, Migration
from migverify.history.transaction import in_transaction
from migverify.sqlload import Script, read_script

SUM = "atlas.sum"
DEFAULT_DIR = "migrations"
_DIR = re.compile(r"""\bdir\s*=\s*"file://([^"?]+)""")
_SUM_LINE = re.compile(r"^(\S+)\s+h1:\S+$")
_NOT_RUN = "Atlas runs only the .sql files atlas.sum lists"


def detect(directory: Path) -> bool:
    """atlas.sum, and files in Atlas's own format: Atlas also writes (and sums) directories in
    golang-migrate's, goose's, dbmate's or Flyway's format, which those tools run."""
    if not (directory / SUM).is_file():
        return False
    from migverify.history import dbmate, flyway, golang_migrate, goose

    return not any(tool.detect(directory) for tool in (golang_migrate, goose, dbmate, flyway))


def locate(root: Path) -> Path | None:
    """The project's migration directory: atlas.hcl's `dir = "file://…"` (the first one), by
    default `migrations/`."""
    config = root / "atlas.hcl"
    place = DEFAULT_DIR
    if config.is_file():
        found = _DIR.search(read_script(config))
        if found:
            place = found.group(1)
    return root / place if detect(root / place) else None


def read(directory: Path) -> History:
    listed = _listed(directory / SUM)
    files = {p.name: p for p in entries(directory) if p.suffix == ".sql" and p.is_file()}
    skipped = [
        (str(p), _NOT_RUN) for p in entries(directory) if p.name != SUM and p.name not in files
    ]
    for name in files:
        if name not in listed:
            raise InputError(
                f"{directory / name}: not in atlas.sum (Atlas refuses a directory whose files "
                "and sum differ: run `atlas migrate hash`)"
            )
    for name in listed:
        if name not in files:
            raise InputError(f"{directory / SUM}: lists {name}, which is not in the directory")
    names = sorted(files)
    texts = {name: read_script(files[name]) for name in names}
    checkpoints = [n for n in names if _directive(texts[n], "checkpoint")]
    start = names.index(checkpoints[-1]) if checkpoints else 0
    for name in names[:start]:
        skipped.append(
            (
                str(files[name]),
                f"before the checkpoint {checkpoints[-1]}: Atlas starts an empty database from "
                "the latest checkpoint",
            )
        )
    migrations = tuple(
        Migration(
            name=name.removesuffix(".sql"),
            up=Script(str(files[name]), _as_run(texts[name])),
            version=name.removesuffix(".sql").split("_", 1)[0],
        )
        for name in names[start:]
    )
    return History(
        layout="atlas", directory=directory, migrations=migrations, skipped=tuple(sorted(skipped))
    )


def _listed(path: Path) -> list[str]:
    """The files atlas.sum lists (its first line is the directory's own hash)."""
    names = []
    for number, line in enumerate(read_script(path).splitlines()[1:], start=2):
        if not line.strip():
            continue
        found = _SUM_LINE.match(line.strip())
        if found is None:
            raise InputError(f"{path}:{number}: not a `<file> h1:<hash>` line of atlas.sum")
        names.append(found.group(1))
    return names


def _directive(text: str, name: str, value: str | None = None) -> bool:
    """Whether the file's header (its first comment lines) holds `-- atlas:NAME [VALUE]`."""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("--"):
            return False
        words = stripped[2:].split()
        if words and words[0] == f"atlas:{name}" and (value is None or words[1:2] == [value]):
            return True
    return False


def _as_run(text: str) -> str:
    """The file as Atlas runs it: in a transaction unless `-- atlas:txmode none`."""
    return text if _directive(text, "txmode", "none") else in_transaction(text)
