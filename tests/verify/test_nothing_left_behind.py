"""A verify run leaves nothing in the user's current directory: hypothesis's own files go to
migverify's cache directory, or to a temporary directory removed at exit when it is off."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCENARIO = Path(__file__).resolve().parents[2] / "fixtures" / "compat" / "sound-no-seed-fk-graph"


@pytest.mark.parametrize("cache", ["on", "off"])
def test_a_verify_run_leaves_the_current_directory_as_it_was(pg, tmp_path, cache):
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "MIGVERIFY_CACHE_DIR": str(tmp_path / "cache")}
    if cache == "off":
        env["MIGVERIFY_CACHE"] = "off"
    args = [sys.executable, "-m", "migverify", "verify", "--dsn", pg.dsn, "--examples", "5"]
    for name in ("legacy", "target", "compat"):
        args += [f"--{name}", str(SCENARIO / f"{name}.sql")]
    result = subprocess.run(args, cwd=work, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(p.name for p in work.iterdir()) == []
    if cache == "on":
        assert (tmp_path / "cache" / "hypothesis").is_dir()
