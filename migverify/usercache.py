"""Where migverify keeps things between runs: loaded legacy states (legacy.py) and compiled
templates (render.py). Everything there can be deleted at any time when no migverify runs."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path | None:
    """`$MIGVERIFY_CACHE_DIR`, else `$XDG_CACHE_HOME/migverify` or `~/.cache/migverify`; as
    root `/var/tmp/migverify-cache` (the server runs as another user, who cannot enter /root).
    None when `MIGVERIFY_CACHE` is off."""
    if os.environ.get("MIGVERIFY_CACHE", "").lower() in ("0", "off", "no", "false"):
        return None
    if os.environ.get("MIGVERIFY_CACHE_DIR"):
        return Path(os.environ["MIGVERIFY_CACHE_DIR"])
    if os.geteuid() == 0:
        return Path("/var/tmp/migverify-cache")
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "migverify"
