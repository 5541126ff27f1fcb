"""The scan's results kept between runs (migverify/scan/cache.py): a file parsed once is not
parsed again while its bytes stay the same, and the results are those of a fresh scan."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import migverify.scan as scan
from migverify.scan import cache, scan_paths

TS = "export const load = () => supabase.from('user_items').select('id');\n"
MODELS = """\
from django.db import models


class Member(models.Model):
    name = models.CharField(max_length=80)

    class Meta:
        db_table = "{table}"
"""
VIEW = """\
from team.models import Member


def members():
    return Member.objects.filter(name="x")
"""


@pytest.fixture
def parsed(monkeypatch, tmp_path) -> list[str]:
    """The files scan_file parses (in this process: jobs=1), with a cache directory of its own."""
    monkeypatch.setenv("MIGVERIFY_CACHE_DIR", str(tmp_path / "cache"))
    calls: list[str] = []
    original = scan.scan_file

    def counted(path, data, matcher, models=None):
        calls.append(path)
        return original(path, data, matcher, models)

    monkeypatch.setattr(scan, "scan_file", counted)
    return calls


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _refs(root: Path, tables: list[str]) -> list[tuple]:
    result = scan_paths([root], tables, root=root, jobs=1)
    return [(r.path, r.line, r.table, r.operation, r.columns) for r in result.references]


def test_an_unchanged_file_is_not_parsed_again_and_a_changed_one_is(tmp_path, parsed):
    root = _tree(tmp_path / "src", {"a.ts": TS, "b.ts": TS.replace("load", "other")})
    first = _refs(root, ["user_items"])
    assert sorted(parsed) == ["a.ts", "b.ts"]
    parsed.clear()
    assert _refs(root, ["user_items"]) == first
    assert parsed == []
    (root / "b.ts").write_text(TS.replace("select('id')", "delete()"))
    changed = _refs(root, ["user_items"])
    assert parsed == ["b.ts"]
    assert ("b.ts", 1, "user_items", "delete", ()) in changed
    # other tables: other results, parsed afresh
    parsed.clear()
    assert _refs(root, ["user_items", "accounts"]) == changed
    assert sorted(parsed) == ["a.ts", "b.ts"]


def test_a_moved_file_is_parsed_again_under_its_new_path(tmp_path, parsed):
    root = _tree(tmp_path / "src", {"a.ts": TS})
    _refs(root, ["user_items"])
    (root / "a.ts").rename(root / "c.ts")
    parsed.clear()
    assert [r[0] for r in _refs(root, ["user_items"])] == ["c.ts"]
    assert parsed == ["c.ts"]


def test_the_second_pass_is_redone_when_a_model_changes(tmp_path, parsed):
    root = _tree(
        tmp_path / "src",
        {"team/models.py": MODELS.format(table="members"), "team/views.py": VIEW},
    )
    tables = ["members", "people"]
    before = [r for r in _refs(root, tables) if r[0] == "team/views.py"]
    assert [(r[2], r[3]) for r in before] == [("members", "select")]
    parsed.clear()
    assert [r for r in _refs(root, tables) if r[0] == "team/views.py"] == before
    assert parsed == []
    # the view's bytes are the same, but the model it uses now maps to another table
    (root / "team/models.py").write_text(MODELS.format(table="people"))
    after = [r for r in _refs(root, tables) if r[0] == "team/views.py"]
    assert [(r[2], r[3]) for r in after] == [("people", "select")]
    assert "team/views.py" in parsed


def test_with_the_cache_off_nothing_is_written(tmp_path, parsed, monkeypatch):
    monkeypatch.setenv("MIGVERIFY_CACHE", "off")
    root = _tree(tmp_path / "src", {"a.ts": TS})
    _refs(root, ["user_items"])
    _refs(root, ["user_items"])
    assert parsed == ["a.ts", "a.ts"]
    assert not (tmp_path / "cache").exists()


def test_a_damaged_cache_file_is_ignored_and_replaced(tmp_path, parsed):
    root = _tree(tmp_path / "src", {"a.ts": TS})
    first = _refs(root, ["user_items"])
    [kept] = (tmp_path / "cache" / "scan").glob("*.pickle")
    kept.write_bytes(b"\x80\x05not a pickle")
    parsed.clear()
    assert _refs(root, ["user_items"]) == first
    assert parsed == ["a.ts"]
    parsed.clear()
    assert _refs(root, ["user_items"]) == first
    assert parsed == []


def test_a_run_keeps_only_what_it_used(tmp_path, parsed):
    root = _tree(tmp_path / "src", {"a.ts": TS, "b.ts": TS.replace("load", "other")})
    _refs(root, ["user_items"])
    [kept] = (tmp_path / "cache" / "scan").glob("*.pickle")
    assert len(cache.entries(str(kept))) == 2
    (root / "b.ts").unlink()
    _refs(root, ["user_items"])
    assert len(cache.entries(str(kept))) == 1


def test_workers_use_and_fill_the_cache_like_one_process(tmp_path, monkeypatch):
    monkeypatch.setenv("MIGVERIFY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(scan, "CHUNK", 2)  # several chunks: the workers take some
    monkeypatch.setattr(scan, "RACY_NS", 0)
    files = {f"d{n}/f{n}.ts": TS.replace("load", f"load{n}") for n in range(9)}
    files |= {f"d{n}/plain.ts": "export const x = 1;\n" for n in range(9)}
    root = _tree(tmp_path / "src", files)
    cold = scan_paths([root], ["user_items"], root=root, jobs=2)
    [kept] = (tmp_path / "cache" / "scan").glob("*.pickle")
    assert len(cache.entries(str(kept))) == 9
    assert sorted(cache.rejected(str(kept))[1]) == [f"d{n}" for n in range(9)]
    warm = scan_paths([root], ["user_items"], root=root, jobs=2)
    assert warm == cold
    assert len(warm.references) == 9
    (root / "d4/plain.ts").write_text(TS)
    assert len(scan_paths([root], ["user_items"], root=root, jobs=2).references) == 10


def _rejected(tmp_path: Path) -> dict[str, frozenset[str]]:
    """The names turned away, by directory."""
    [kept] = (tmp_path / "cache" / "scan").glob("*.pickle")
    return {label: names for label, (_, names) in cache.rejected(str(kept))[1].items()}


def _opened(monkeypatch) -> list[str]:
    """The base names of the files opened from now on."""
    opened: list[str] = []
    original = os.open

    def counted(path, *args, **kwargs):
        opened.append(os.path.basename(os.fsdecode(path)))
        return original(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", counted)
    return opened


def test_a_file_written_just_before_the_scan_is_read_again_next_time(tmp_path, parsed, monkeypatch):
    root = _tree(tmp_path / "src", {"a.ts": TS, "lib/util.ts": "export const x = 1;\n"})
    first = _refs(root, ["user_items"])
    assert _rejected(tmp_path) == {"lib": {"util.ts"}}
    # written within the timestamps' granularity before the run: its change time cannot
    # tell whether the run read it before or after a last change, so it is read again
    opened = _opened(monkeypatch)
    assert _refs(root, ["user_items"]) == first
    assert "util.ts" in opened


def test_a_directory_replaced_under_its_name_is_read_again(tmp_path, parsed, monkeypatch):
    """Files moved in with their directory keep their change times: the directory's inode
    tells the record is not theirs."""
    monkeypatch.setattr(scan, "RACY_NS", 0)
    plain = "export const x = 1;\n"
    root = _tree(tmp_path / "src", {"a.ts": TS, "lib/util.ts": plain, "elsewhere/util.ts": TS})
    _refs(root, ["user_items"])
    assert _rejected(tmp_path)["lib"] == {"util.ts"}
    (root / "lib").rename(tmp_path / "old-lib")
    (root / "elsewhere").rename(root / "lib")  # an older util.ts, naming the table
    opened = _opened(monkeypatch)
    refs = _refs(root, ["user_items"])
    assert "util.ts" in opened
    assert any(r[0] == "lib/util.ts" for r in refs)


def test_a_file_turned_away_is_not_read_while_unchanged_and_read_once_changed(
    tmp_path, parsed, monkeypatch
):
    monkeypatch.setattr(scan, "RACY_NS", 0)  # the files below count as written long ago
    plain = "export const x = 1;\n"
    root = _tree(tmp_path / "src", {"a.ts": TS, "lib/util.ts": plain, "lib/more.ts": plain})
    first = _refs(root, ["user_items"])
    assert set(_rejected(tmp_path)["lib"]) == {"util.ts", "more.ts"}

    reads = _opened(monkeypatch)
    assert _refs(root, ["user_items"]) == first
    assert not {"util.ts", "more.ts"} & set(reads)

    # the same size and modification time, other bytes: the change time tells
    time.sleep(0.05)
    info = (root / "lib/util.ts").stat()
    (root / "lib/util.ts").write_text(plain.replace("x = 1", "y = 2"))
    os.utime(root / "lib/util.ts", ns=(info.st_atime_ns, info.st_mtime_ns))
    # a new reference of another size
    (root / "lib/more.ts").write_text(TS)
    reads.clear()
    after = _refs(root, ["user_items"])
    assert {"util.ts", "more.ts"} <= set(reads)
    assert ("lib/more.ts", 1, "user_items", "select", ("id",)) in after


def test_a_cache_directory_that_cannot_be_written_only_costs_time(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory should be")
    monkeypatch.setenv("MIGVERIFY_CACHE_DIR", str(blocker))
    root = _tree(tmp_path / "src", {"a.ts": TS})
    first = _refs(root, ["user_items"])
    assert first == [("a.ts", 1, "user_items", "select", ("id",))]
    assert _refs(root, ["user_items"]) == first
    assert blocker.read_text().startswith("a file")


def test_the_second_pass_reads_again_what_new_models_may_use(tmp_path, parsed, monkeypatch):
    monkeypatch.setattr(scan, "RACY_NS", 0)
    other = "from team.models import Widget\n\n\ndef widgets():\n    return Widget.objects.all()\n"
    root = _tree(
        tmp_path / "src",
        {
            "team/models.py": MODELS.format(table="members"),
            "team/views.py": VIEW,
            "team/other.py": other,
        },
    )
    tables = ["members", "team_widget"]
    assert [r[0] for r in _refs(root, tables) if r[3] != "model"] == ["team/views.py"]
    [kept] = (tmp_path / "cache" / "scan").glob("*.pickle")
    context, (_, again) = cache._kept(str(kept))["second"]
    assert context and "other.py" in again["team"][1]  # turned away: no model of that name yet
    parsed.clear()
    original = os.open
    opened = _opened(monkeypatch)
    assert [r[0] for r in _refs(root, tables) if r[3] != "model"] == ["team/views.py"]
    assert parsed == []
    assert "other.py" not in opened  # turned away by both passes, and unchanged
    monkeypatch.setattr(os, "open", original)
    with (root / "team/models.py").open("a") as stream:
        stream.write("\n\nclass Widget(models.Model):\n    name = models.CharField(max_length=9)\n")
    used = [(r[0], r[2], r[3]) for r in _refs(root, tables) if r[3] != "model"]
    assert ("team/other.py", "team_widget", "select") in used
