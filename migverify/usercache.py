"""Where migverify keeps things between runs: loaded legacy states (legacy.py), compiled
templates (render.py) and hypothesis's own files. Everything there can be deleted at any time
when no migverify runs; nothing goes into the user's current directory."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path


def cache_dir() -> Path | None:
    """`$MIGVERIFY_CACHE_DIR`, else `$XDG_CACHE_HOME/migverify` or `~/.cache/migverify`; None
    when `MIGVERIFY_CACHE` is off."""
    if os.environ.get("MIGVERIFY_CACHE", "").lower() in ("0", "off", "no", "false"):
        return None
    if os.environ.get("MIGVERIFY_CACHE_DIR"):
        return Path(os.environ["MIGVERIFY_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "migverify"


@cache
def keep_hypothesis_here() -> None:
    """Hypothesis keeps files (constants it found, character tables) in `.hypothesis/` of the
    current directory: in migverify's cache directory instead, or in a temporary directory
    removed at exit when the cache is off. Called before hypothesis is used."""
    import atexit
    import shutil
    import tempfile

    from hypothesis.configuration import set_hypothesis_home_dir

    root = cache_dir()
    if root is not None:
        try:
            (root / "hypothesis").mkdir(parents=True, exist_ok=True)
            set_hypothesis_home_dir(root / "hypothesis")
            return
        except OSError:
            pass
    directory = tempfile.mkdtemp(prefix="migverify-hypothesis-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    set_hypothesis_home_dir(directory)
