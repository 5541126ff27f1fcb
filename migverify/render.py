"""Templates → SQL text: the Jinja environment with the quoting filters, and pglast checks.

Used by generate/ (the compatibility layer) and supabase/ (the shim and extension stand-ins)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from pglast import parse_sql, prettify
from pglast.parser import ParseError

from migverify.errors import InternalError, MigverifyError
from migverify.quoting import ident, literal, qualified
from migverify.sqlload import split_script


def templates_dir() -> Path:
    """Templates ship inside the wheel as migverify/templates; in a checkout they sit at the
    top level next to the package."""
    packaged = resources.files("migverify") / "templates"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[1] / "templates"


def _role(name: str) -> str:
    return "PUBLIC" if name.upper() == "PUBLIC" else ident(name)


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates kept between runs (compiling them all took half a second)."""
    from migverify.usercache import cache_dir

    root = cache_dir()
    if root is None:
        return None
    directory = root / "templates"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return jinja2.FileSystemBytecodeCache(str(directory))


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        bytecode_cache=_bytecode_cache(),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters.update(ident=ident, qualified=qualified, literal=literal, role=_role)
    return env


def render(template: str, context: dict[str, Any]) -> str:
    return environment().get_template(template).render(**context)


def pretty_sql(text: str, name: str) -> str:
    """Each statement parsed by pglast and pretty-printed; comments between statements kept.

    A statement whose pretty form would change a function body keeps the template's text (the
    body was written to be read). A statement pglast cannot parse is a bug in a template.
    """
    try:
        statements = split_script(text, name)
    except MigverifyError as error:
        raise InternalError(f"generated {name} does not parse ({error})") from None
    out: list[str] = []
    position = 0
    for statement in statements:
        between = text[position : statement.offset]
        comments = [line.strip() for line in between.splitlines() if line.strip().startswith("--")]
        body = statement.text.lstrip()
        while body.startswith("--"):  # comments the splitter attached to the statement
            line, _, body = body.partition("\n")
            comments.append(line.strip())
            body = body.lstrip()
        if comments:
            out.append("\n".join(comments))
        out.append(_pretty(body))
        position = statement.offset + len(statement.text)
        if text[position : position + 1] == ";":
            position += 1
    blocks = []
    for block in out:
        if block.startswith("--") and blocks:
            blocks.append("")  # a blank line before each commented section
        blocks.append(block)
    return "\n".join(blocks).rstrip() + "\n"


def _pretty(statement: str) -> str:
    source = statement.strip().rstrip(";")
    try:
        parse_sql(source)
    except ParseError as error:
        raise InternalError(f"generated SQL does not parse: {error}: {source[:200]}") from None
    upper = source.lstrip().upper()
    if upper.startswith(("DO ", "DO\n", "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")):
        return source + ";"  # keep PL/pgSQL bodies exactly as the template laid them out
    try:
        return prettify(source) + ";"
    except Exception:  # pglast cannot print every node; the parsed text is still valid SQL
        return source + ";"
