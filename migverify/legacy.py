"""The legacy state, loaded once: the legacy SQL (a migration history of hundreds of files, a
pg_dump, a seed) in a scratch database that every world of the run copies
(`CREATE DATABASE … TEMPLATE`) — generate, check's catalogs, verify's reference and migrated
worlds, the online proof — instead of each loading it again.

On migverify's own server (not `--dsn`, not `--keep`) the loaded state is also kept between
runs: at the end of a run that loaded it, with every other scratch database dropped and the
server stopped cleanly, a copy of the server's data directory becomes an entry in the user's
cache directory (usercache.py), keyed by a digest of everything that decides its contents — the
SQL's names and texts, the Supabase options and what they decided, the roles file, the server
binaries and migverify's version. A later run with the same key starts its server from a copy
of that entry: no `initdb`, no loading; the notices the loading gave are said again. Entries are
plain directories, safe to delete whenever no migverify runs; the least recently used beyond
`KEPT_ENTRIES` are removed. `MIGVERIFY_CACHE=off` turns the cache off.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import migverify
from migverify.catalog import Catalog, load_catalog
from migverify.errors import ServerError
from migverify.sandbox import Sandbox, ScratchDatabase, embedded_bin_dir
from migverify.sqlload import Source, as_script, notice, recording_notices
from migverify.supabase import SupabaseOptions, SupabasePlan
from migverify.usercache import cache_dir

KEPT_ENTRIES = 8
_FORMAT = "1"


@dataclass
class LegacyState:
    """The legacy SQL loaded into DATABASE (no connection open: it is a template), with what
    loading it found."""

    database: ScratchDatabase
    plan: SupabasePlan  # decided over the legacy SQL and what the run loads after it
    catalog: Catalog
    shim_relations: tuple[str, ...]  # the Supabase shim's tables (not the project's)
    untested: tuple[str, ...]  # what cannot be tested (foreign tables, missing functions)

    def copy(self, box: Sandbox, purpose: str) -> ScratchDatabase:
        return box.clone(self.database, purpose)

    def with_target(self, box: Sandbox, target: Sequence[Source]) -> ScratchDatabase:
        """A copy with the target SQL loaded, made once per run: generate reads its catalog,
        then check loads the layer into it (take_with_target)."""
        memo = f"with-target:{self.database.name}"
        if memo not in box.memo:
            db = self.copy(box, "migrated")
            with db.connect() as conn:
                self.plan.prepare(conn, install=False).load(target)
            box.memo[memo] = db
        return box.memo[memo]

    def take_with_target(self, box: Sandbox, target: Sequence[Source]) -> ScratchDatabase:
        """with_target() for a caller that changes it: the next caller gets a new copy."""
        db = self.with_target(box, target)
        del box.memo[f"with-target:{self.database.name}"]
        return db


def legacy_state(
    box: Sandbox,
    sources: Sequence[Source],
    supabase: SupabaseOptions,
    later: Sequence[Source] = (),
) -> LegacyState:
    """SOURCES loaded once per run in BOX (and, on migverify's own server, once per content:
    see the module's docstring). LATER: the SQL the run loads over it (target, layer), which the
    Supabase plan must know of."""
    scripts = [as_script(s) for s in sources]
    memo = f"legacy:{_digest(box, scripts, supabase)}"
    state = box.memo.get(memo)
    if state is None:
        plan = SupabasePlan((*scripts, *later), supabase)
        # What the plan decided for the legacy database (the shim, skipped extensions) is part
        # of its contents, and may depend on LATER: a target that needs the shim.
        key = _digest(box, scripts, supabase, f"{plan.needed} {plan.skipped}")
        state = _kept(box, key, plan) or _load(box, key, plan, scripts)
        box.memo[memo] = state
    return state


def _load(box: Sandbox, key: str, plan: SupabasePlan, scripts: list) -> LegacyState:
    """Load the scripts into a new database; keep the server's data directory for later runs
    when the server is migverify's own."""
    db = box.create_database("legacy")
    with recording_notices() as said, db.connect() as conn:
        loader = plan.prepare(conn)
        loader.load(scripts)
        state = LegacyState(
            db, plan, load_catalog(conn), tuple(loader.shim_relations), tuple(loader.untested())
        )
    root = _entries()
    if root is not None and box.local:
        saved = {
            "format": _FORMAT,
            "database": db.name,
            "shim_relations": list(state.shim_relations),
            "untested": list(state.untested),
            "notices": said,
        }
        files = {
            "state.json": json.dumps(saved, indent=1),
            "catalog.pickle": pickle.dumps(state.catalog),
        }
        box.save_at_close(root / key, db, files)
    return state


def _kept(box: Sandbox, key: str, plan: SupabasePlan) -> LegacyState | None:
    """The state a previous run kept, when the server is not started yet and it is there: the
    server then starts from a copy of the entry's data directory."""
    root = _entries()
    if root is None or not box.local or box.started:
        return None
    entry = root / key
    try:
        saved = json.loads((entry / "state.json").read_text(encoding="utf-8"))
        catalog = pickle.loads((entry / "catalog.pickle").read_bytes())
    except (OSError, ValueError, pickle.UnpicklingError, EOFError, AttributeError):
        return None
    if saved.get("format") != _FORMAT:
        return None
    os.utime(entry)  # recently used: pruned last
    box.start_from(entry / "data")
    try:
        db = box.adopt(saved["database"], "legacy")
    except ServerError:
        shutil.rmtree(entry, ignore_errors=True)
        raise ServerError(
            f"the kept legacy state {entry} could not be started (it was removed; run again)"
        ) from None
    for message in saved["notices"]:
        notice(message)
    return LegacyState(db, plan, catalog, tuple(saved["shim_relations"]), tuple(saved["untested"]))


def _entries() -> Path | None:
    root = cache_dir()
    if root is None:
        return None
    directory = root / "legacy"
    _prune(directory)
    return directory


def _prune(directory: Path) -> None:
    try:
        entries = sorted(
            (p for p in directory.iterdir() if p.is_dir() and not p.name.startswith(".")),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
    except OSError:
        return
    for old in entries[KEPT_ENTRIES:]:
        shutil.rmtree(old, ignore_errors=True)
    for partial in directory.glob(".partial-*"):  # a run killed while loading
        try:
            stale = time.time() - partial.stat().st_mtime > 3600
        except OSError:
            continue
        if stale:
            shutil.rmtree(partial, ignore_errors=True)


def _digest(box: Sandbox, scripts: list, supabase: SupabaseOptions, decided: str = "") -> str:
    """A digest of everything that decides the loaded state's contents."""
    digest = hashlib.sha256()
    for part in (_FORMAT, migverify.__version__, repr(supabase), decided, _server(box)):
        digest.update(part.encode() + b"\0")
    if box.config.roles is not None:
        digest.update(box.config.roles.read_bytes() + b"\0")
    for script in scripts:
        digest.update(script.name.encode() + b"\0" + script.text.encode() + b"\0")
    return digest.hexdigest()[:32]


def _server(box: Sandbox) -> str:
    if box.config.dsn:
        return f"dsn {box.config.dsn}"
    bin_dir = (box.config.pg_bin or embedded_bin_dir()).resolve()
    try:
        stat = (bin_dir / "postgres").stat()
    except OSError:
        return str(bin_dir)
    return f"{bin_dir} {stat.st_size} {stat.st_mtime_ns}"
