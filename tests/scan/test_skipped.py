"""Files the scan cannot look into are reported with the reason, in every format; never a
silent pass."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from migverify.cli import cli
from migverify.scan import scan_paths
from migverify.scan.walk import parse_size

REFERENCE = "export const load = () => supabase.from('user_items').select('id');\n"
PADDING = ("// " + "generated " * 100 + "\n") * 6500  # 6.5 MB: over the default limit of 5 MB


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "small.ts").write_text(REFERENCE)
    (tmp_path / "huge.ts").write_text(REFERENCE + PADDING + REFERENCE)
    return tmp_path


def _scan(path: Path, *args: str):
    return CliRunner().invoke(cli, ["scan", str(path), "--table", "user_items", *args])


def test_a_file_over_the_default_limit_is_reported_not_dropped(tree):
    result = scan_paths([tree], ["user_items"], root=tree, jobs=1)
    assert [r.path for r in result.references] == ["small.ts"]
    assert [(s.path, s.reason) for s in result.skipped] == [
        ("huge.ts", "6.2 MB, over the max file size of 5 MB")
    ]
    output = _scan(tree).output
    assert "skipped (not scanned; references in them are not counted):" in output
    assert f"  {tree.as_posix()}/huge.ts: 6.2 MB, over the max file size of 5 MB\n" in output
    assert output.endswith("1 reference in 1 file (1 table); 1 file skipped (not scanned)\n")


def test_max_file_size_zero_means_no_limit_and_a_size_raises_it(tree):
    unlimited = scan_paths([tree], ["user_items"], root=tree, jobs=1, max_file_size=0)
    assert [(r.path, r.line) for r in unlimited.references] == [
        ("huge.ts", 1),
        ("huge.ts", 6502),
        ("small.ts", 1),
    ]
    assert unlimited.skipped == ()
    assert "3 references in 2 files" in _scan(tree, "--max-file-size", "10MB").output
    lowered = _scan(tree, "--max-file-size", "10").output
    assert "small.ts: 68 bytes, over the max file size of 10 bytes" in lowered


@pytest.mark.parametrize(
    ("text", "size"), [("5MB", 5 << 20), ("512k", 512 << 10), ("1.5 MiB", 3 << 19), ("0", 0)]
)
def test_sizes(text, size):
    assert parse_size(text) == size


def test_a_bad_size_is_one_line_and_exit_2(tree):
    result = CliRunner().invoke(
        cli, ["scan", str(tree), "--table", "t", "--max-file-size", "lots"], catch_exceptions=False
    )
    assert result.exit_code == 2
    assert "--max-file-size: not a size: 'lots'" in result.output


def _unreadable(tmp_path: Path, kind: str) -> tuple[Path, str]:
    path = tmp_path / "bad.ts"
    if kind == "chmod":
        path.write_text(REFERENCE)
        path.chmod(0)
        try:
            path.read_bytes()
        except PermissionError:
            return path, "not readable (Permission denied)"
        path.chmod(0o644)
        pytest.skip("running as root: chmod 000 does not prevent reading")
    if kind == "dangling symlink":
        path.symlink_to(tmp_path / "gone.ts")
        return path, "broken symbolic link"
    os.mkfifo(path)  # opening it for reading would wait for a writer
    return path, "not a regular file (FIFO)"


@pytest.mark.parametrize("kind", ["chmod", "dangling symlink", "fifo"])
def test_an_unreadable_file_is_reported_in_every_format(tmp_path, kind):
    (tmp_path / "small.ts").write_text(REFERENCE)
    _, reason = _unreadable(tmp_path, kind)
    result = scan_paths([tmp_path], ["user_items"], root=tmp_path, jobs=1)
    assert [(s.path, s.reason) for s in result.skipped] == [("bad.ts", reason)]
    assert [r.path for r in result.references] == ["small.ts"]

    data = json.loads(_scan(tmp_path, "--format", "json").output)
    assert data["skipped"] == [{"path": f"{tmp_path.as_posix()}/bad.ts", "reason": reason}]
    assert data["summary"]["skipped"] == 1

    sarif = json.loads(_scan(tmp_path, "--format", "sarif").output)
    (invocation,) = sarif["runs"][0]["invocations"]
    (note,) = invocation["toolExecutionNotifications"]
    assert note["level"] == "warning" and reason in note["message"]["text"]
    uri = note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri.endswith("bad.ts")
    assert sarif["runs"][0]["tool"]["driver"]["notifications"][0]["id"] == "MVS002"

    github = _scan(tmp_path, "--format", "github").output.splitlines()
    warning = [line for line in github if "bad.ts" in line]
    assert len(warning) == 1 and warning[0].startswith("::warning file=")
    assert warning[0].endswith(f"::not scanned: {reason}")


def test_regular_files_read_in_one_bounded_read_and_special_files_still_reported(tmp_path):
    """A file the listing shows as regular is read without an fstat, in one read bounded by
    64 KiB and the size limit: a read that fills the bound goes the careful way (its size is
    asked). A FIFO holding data, a link to a device or to a file, are not regular files."""
    padded = {name: REFERENCE + "/" * (size - len(REFERENCE)) for name, size in (
        ("under.ts", 64 * 1024 - 1), ("at.ts", 64 * 1024), ("over.ts", 64 * 1024 + 1),
        ("limit.ts", 200), ("above.ts", 201),
    )}  # fmt: skip
    for name, text in padded.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "linked.ts").symlink_to(tmp_path / "under.ts")
    (tmp_path / "zero.ts").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "pipe.ts")
    writer = os.open(tmp_path / "pipe.ts", os.O_RDWR | os.O_NONBLOCK)  # data waits in it
    try:
        os.write(writer, REFERENCE.encode())
        everything = sorted(["linked.ts", *padded])
        over_200 = ["above.ts", "at.ts", "linked.ts", "over.ts", "under.ts"]
        for limit, over in ((0, []), (200, over_200)):
            result = scan_paths(
                [tmp_path], ["user_items"], root=tmp_path, jobs=1, max_file_size=limit
            )
            skipped = {s.path: s.reason for s in result.skipped}
            assert skipped.pop("pipe.ts") == "not a regular file (FIFO)"
            assert skipped.pop("zero.ts") == "not a regular file (device)"
            assert sorted(skipped) == over
            assert all("over the max file size of 200 bytes" in r for r in skipped.values())
            found = sorted({r.path for r in result.references})
            assert found == [name for name in everything if name not in over]
    finally:
        os.close(writer)


def test_an_unreadable_directory_is_reported(tmp_path):
    (tmp_path / "small.ts").write_text(REFERENCE)
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "inner.ts").write_text(REFERENCE)
    locked.chmod(0)
    try:
        try:
            os.listdir(locked)
        except PermissionError:
            pass
        else:
            pytest.skip("running as root: chmod 000 does not prevent listing")
        result = scan_paths([tmp_path], ["user_items"], root=tmp_path, jobs=1)
        assert [(s.path, s.reason) for s in result.skipped] == [
            ("locked", "directory not readable (Permission denied)")
        ]
    finally:
        locked.chmod(0o755)


def test_a_link_to_a_directory_outside_the_scan_is_reported(tmp_path):
    inside, outside = tmp_path / "app", tmp_path / "elsewhere"
    inside.mkdir()
    outside.mkdir()
    (outside / "a.ts").write_text(REFERENCE)
    (inside / "shared").symlink_to(outside)
    (inside / "self").symlink_to(inside)  # its target is scanned anyway: not a skip
    result = scan_paths([inside], ["user_items"], root=tmp_path, jobs=1)
    assert [s.path for s in result.skipped] == ["app/shared"]
    assert "not followed" in result.skipped[0].reason


def test_a_binary_source_file_is_reported(tmp_path):
    (tmp_path / "blob.js").write_bytes(b"\0\1\2 user_items")
    result = scan_paths([tmp_path], ["user_items"], root=tmp_path, jobs=1)
    assert [(s.path, s.reason) for s in result.skipped] == [("blob.js", "binary (NUL bytes)")]


def test_a_config_sets_the_limit(tmp_path, tree):
    (tmp_path / "legacy.sql").write_text("CREATE TABLE user_items (id int);")
    (tmp_path / "migverify.toml").write_text(
        '[legacy]\nsql = ["legacy.sql"]\n[target]\nsql = ["legacy.sql"]\n'
        '[scan]\npaths = ["."]\nmax_file_size = "20MB"\n[tables.user_items]\ntarget = "t"\n'
    )
    output = CliRunner().invoke(cli, ["scan", "--config", str(tmp_path / "migverify.toml")])
    assert "4 references in 3 files (1 table)\n" in output.output  # legacy.sql too
