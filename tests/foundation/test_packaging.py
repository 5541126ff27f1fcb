"""The wheel is self-contained: templates ship inside it, and the console script is declared."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("migverify-*.whl")
    return built


def test_wheel_contains_package_and_templates(wheel, tmp_path):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"migverify/cli/__init__.py", "migverify/cli/verify.py"} <= names
    templates = sorted(n for n in names if n.startswith("migverify/templates/"))
    expected = sorted(
        f"migverify/templates/{p.relative_to(ROOT / 'templates').as_posix()}"
        for p in (ROOT / "templates").rglob("*")
        if p.is_file()
    )
    assert templates == expected and templates
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "migverify = migverify.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
    # Installed from the wheel (not editable), generate finds its templates inside the package.
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "from migverify.render import templates_dir, render;"
            "print(templates_dir()); render('forward.sql.j2', {})",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(unpacked)},
    )
    assert probe.stdout.startswith(str(unpacked / "migverify" / "templates")), probe.stderr


def test_python_dash_m_and_version():
    result = subprocess.run(
        [sys.executable, "-m", "migverify", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0 and result.stdout.startswith("migverify, version ")


def test_every_command_has_help():
    from click.testing import CliRunner

    from migverify.cli import cli

    runner = CliRunner()
    assert runner.invoke(cli, ["--help"]).exit_code == 0
    for name in cli.commands:
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output, name


def test_usage_error_exits_2():
    result = subprocess.run(
        [sys.executable, "-m", "migverify", "inspect"], capture_output=True, text=True
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_reference_run_works_from_a_wheel_in_any_directory(wheel, tmp_path, pg):
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("migverify.toml", "legacy.sql", "seed.sql", "target.sql"):
        assert f"migverify/reference/xbot/{name}" in names
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "migverify", "reference", "run", "--world", "migrated"]
        + ["--cycles", "3", "--format", "json", "--dsn", pg.dsn],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env={**os.environ, "PYTHONPATH": str(unpacked)},
    )
    assert result.returncode == 0, result.stderr
    assert '"summary"' in result.stdout
    probe = subprocess.run(
        [sys.executable, "-c", "from migverify.reference import xbot_dir; print(xbot_dir())"],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env={**os.environ, "PYTHONPATH": str(unpacked)},
    )
    assert probe.stdout.strip() == str(unpacked / "migverify" / "reference" / "xbot")
