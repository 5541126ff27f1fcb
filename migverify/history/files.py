"""Listing a history's directory the same way for every layout."""

from __future__ import annotations

from pathlib import Path


def entries(directory: Path) -> list[Path]:
    """The entries of DIRECTORY in name order, without hidden ones (`.keep`, `.gitkeep`): no
    layout runs a file whose name starts with a dot, so they are not reported either."""
    if not directory.is_dir():
        return []
    return sorted((p for p in directory.iterdir() if not p.name.startswith(".")), key=_name)


def _name(path: Path) -> str:
    return path.name


def files_under(directory: Path) -> list[Path]:
    """Every file under DIRECTORY and its subdirectories, in path order (hidden ones left out)."""
    found: list[Path] = []
    for entry in entries(directory):
        found += files_under(entry) if entry.is_dir() else [entry]
    return found
