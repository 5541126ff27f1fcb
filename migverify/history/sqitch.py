"""sqitch: the changes of `sqitch.plan` in plan order, each `deploy/<change>.sql`, its down
`revert/<change>.sql`, as `sqitch deploy` runs them (`%pragmas`, `@tags`, blank and `#` lines are
not changes). With `[deploy] verify = true` in sqitch.conf, sqitch runs each change's
`verify/<change>.sql` right after its deploy script (a failing one fails the deploy; a missing
one is only a warning); otherwise verify scripts run only with `--verify`.

A reworked change appears twice in the plan (`users [users@v1.0]`, after a tag): the last
appearance uses `deploy/users.sql`, an earlier one the copy sqitch made when it was reworked,
`deploy/users@<tag>.sql` (the first tag after it whose file exists); its name here is
`users@<tag>`. `sqitch.conf`'s `[core] top_dir` and `plan_file` are followed."""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass
from pathlib import Path

from migverify.errors import InputError, SQLFileError
from migverify.history.files import files_under
from migverify.history.model import History, Migration
from migverify.sqlload import Script

PLAN = "sqitch.plan"
_NAME = re.compile(r"^([+-]?)([^\s\[#]+)")


def detect(directory: Path) -> bool:
    return (directory / PLAN).is_file() or (directory / "sqitch.conf").is_file()


def locate(root: Path) -> Path | None:
    """A sqitch project's root is its history (detect looks there): nothing to look for."""
    return None


@dataclass(frozen=True)
class _Entry:
    line: int
    name: str
    is_tag: bool


def read(directory: Path) -> History:
    config = _config(directory)
    top, plan = _locations(config, directory)
    verifies = _verifies(config, directory)
    if not plan.is_file():
        raise InputError(f"{plan}: no such file (sqitch's plan)")
    plan_entries = _plan(plan)
    migrations, used = [], set()
    for index, entry in enumerate(plan_entries):
        if entry.is_tag:
            continue
        name, file = _change_file(plan, plan_entries, index, top / "deploy")
        deploy, revert, verify = (top / kind / file for kind in ("deploy", "revert", "verify"))
        if not deploy.is_file():
            raise SQLFileError(str(plan), entry.line, f"change {name}: no deploy/{file}")
        used |= {deploy, revert, verify}
        migrations.append(
            Migration(
                name=name,
                up=Script.read(deploy),
                down=Script.read(revert) if revert.is_file() else None,
                verify=Script.read(verify) if verifies and verify.is_file() else None,
            )
        )
    kinds = ("deploy", "revert", "verify") if verifies else ("deploy", "revert")
    skipped = [
        (str(path), "not a change of the plan: sqitch deploy does not run it")
        for kind in kinds
        for path in files_under(top / kind)
        if path not in used
    ]
    if not verifies and files_under(top / "verify"):
        skipped.append(
            (
                str(top / "verify"),
                "verify scripts: sqitch runs them only with --verify or [deploy] verify = true",
            )
        )
    return History(
        layout="sqitch", directory=directory, migrations=tuple(migrations), skipped=tuple(skipped)
    )


def _config(directory: Path) -> configparser.ConfigParser:
    config = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        config.read(directory / "sqitch.conf", encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as error:
        raise InputError(f"{directory / 'sqitch.conf'}: cannot read: {error}") from None
    return config


def _verifies(config: configparser.ConfigParser, directory: Path) -> bool:
    """sqitch.conf's `[deploy] verify` (git-config booleans; false by default)."""
    try:
        return config.getboolean("deploy", "verify", fallback=False)
    except ValueError:
        raise InputError(
            f"{directory / 'sqitch.conf'}: [deploy] verify must be true or false"
        ) from None


def _locations(config: configparser.ConfigParser, directory: Path) -> tuple[Path, Path]:
    """The top directory (deploy/, revert/, verify/) and the plan file, from sqitch.conf."""
    core = config["core"] if config.has_section("core") else {}
    top = directory / core.get("top_dir", ".").strip().strip('"')
    plan = core.get("plan_file")
    return top, (directory / plan.strip().strip('"')) if plan else top / PLAN


def _plan(plan: Path) -> list[_Entry]:
    found = []
    for number, raw in enumerate(Script.read(plan).text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#%":
            continue
        if line.startswith("@"):
            found.append(_Entry(number, line.split()[0][1:], True))
            continue
        match = _NAME.match(line)
        if match is None:  # pragma: no cover - the pattern matches any non-blank line
            raise SQLFileError(str(plan), number, "not a change, tag or pragma")
        if match.group(1) == "-":
            raise SQLFileError(
                str(plan),
                number,
                f"-{match.group(2)}: reverting changes in a plan is not supported",
            )
        found.append(_Entry(number, match.group(2), False))
    return found


def _change_file(
    plan: Path, plan_entries: list[_Entry], index: int, deploy_dir: Path
) -> tuple[str, str]:
    """The name of the change at INDEX and its script's path under deploy/ (a reworked
    change's earlier appearance: `<change>@<tag>.sql`, sqitch's path_segments)."""
    entry = plan_entries[index]
    later = [e for e in plan_entries[index + 1 :] if not e.is_tag and e.name == entry.name]
    if not later:
        return entry.name, f"{entry.name}.sql"
    tags = [e.name for e in plan_entries[index + 1 :] if e.is_tag and e.line < later[0].line]
    if not tags:
        raise SQLFileError(
            str(plan), later[0].line, f"change {entry.name} is reworked without a tag before it"
        )
    tag = next((t for t in tags if (deploy_dir / f"{entry.name}@{t}.sql").is_file()), tags[0])
    return f"{entry.name}@{tag}", f"{entry.name}@{tag}.sql"
