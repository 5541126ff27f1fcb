"""The configuration files of Java projects as Flyway and Spring Boot read them, as flat
dotted keys with where each is written: java.util.Properties files (flyway.conf,
application.properties) and the `key: value` nesting of Spring's application.yml; and the TOML
files of other migrators (diesel.toml, supabase/config.toml, sqlx.toml, metadata.toml).

PyYAML is not a dependency of migverify, so application.yml is read as Spring configuration is
written — mappings by indentation, plain or quoted scalars, lists as `- item` lines or `[a, b]`;
other YAML (anchors, block scalars, flow mappings) is kept as an entry with its problem, an error
only when a setting that matters is written so."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migverify.errors import InputError
from migverify.sqlload import read_script


def read_toml(path: Path) -> dict[str, Any] | None:
    """The tables of a TOML file, None when there is no such file; one that cannot be read is
    an InputError naming it."""
    if not path.is_file():
        return None
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise InputError(f"{path}: cannot read: {error}") from None


@dataclass(frozen=True)
class Entry:
    """One setting as written: its value (a list for YAML lists), where, and why it cannot
    be read (a YAML construct migverify does not read), if so."""

    value: str | tuple[str, ...]
    where: str  # path:line
    problem: str | None = None


# --- java.util.Properties (flyway.conf, application.properties) --------------------------------


def read_properties(path: Path) -> dict[str, Entry]:
    """The entries of a .properties file: `key=value`, `key: value` or `key value`, `#` and `!`
    comments, backslash continuations and escapes."""
    entries: dict[str, Entry] = {}
    lines = read_script(path).splitlines()
    number = 0
    while number < len(lines):
        first = number + 1
        logical = lines[number].lstrip()
        while _continues(logical) and number + 1 < len(lines):
            number += 1
            logical = logical[:-1] + lines[number].lstrip()
        number += 1
        if not logical or logical[0] in "#!":
            continue
        key, value = _split_property(logical)
        entries[key] = Entry(value, f"{path}:{first}")
    return entries


def _continues(line: str) -> bool:
    return (len(line) - len(line.rstrip("\\"))) % 2 == 1


def _split_property(line: str) -> tuple[str, str]:
    key, position = [], 0
    while position < len(line) and line[position] not in "=: \t\f":
        if line[position] == "\\" and position + 1 < len(line):
            position += 1
        key.append(line[position])
        position += 1
    rest = line[position:].lstrip(" \t\f")
    if rest[:1] in ("=", ":"):
        rest = rest[1:].lstrip(" \t\f")
    return _unescape("".join(key)), _unescape(rest)


def _unescape(text: str) -> str:
    escapes = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}

    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if code.startswith("u") and len(code) == 5:
            return chr(int(code[1:], 16))
        return escapes.get(code[0], code[0]) + code[1:]

    return re.sub(r"\\(u[0-9a-fA-F]{4}|.)", one, text)


# --- application.yml: the key/value nesting of Spring configuration ----------------------------

_YAML_KEY = re.compile(
    r"""^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s'"#\[{][^:#]*?)\s*:(?:\s+(.*))?$"""
)
_PROFILE_KEYS = ("spring.config.activate.on-profile", "spring.profiles")
_UNREAD = "a YAML construct migverify does not read without PyYAML (write it as key: value)"


def read_yaml(path: Path) -> dict[str, Entry]:
    """The entries of an application.yml, documents merged in order, except profile documents
    (`spring.config.activate.on-profile`): migverify runs the default profile."""
    merged: dict[str, Entry] = {}
    document: dict[str, Entry] = {}
    stack: list[tuple[int, str]] = []  # (indent, key) of keys whose value is nested below
    for number, raw in enumerate(read_script(path).splitlines(), start=1):
        where = f"{path}:{number}"
        text = _without_comment(raw).rstrip()
        if not text.strip():
            continue
        if text in ("---", "..."):
            merged |= _default_profile(document)
            document, stack = {}, []
            continue
        indent = len(text) - len(text.lstrip(" "))
        body = text.strip()
        if body == "-" or body.startswith("- "):
            while stack and stack[-1][0] > indent:
                stack.pop()
            if stack:
                _add_item(document, stack[-1][1], body[1:].strip(), where)
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        match = _YAML_KEY.match(body)
        if match is None or "\t" in raw[:indent]:
            continue  # not a key this reader understands: only a Flyway key would matter
        key = _scalar(match.group(1))
        full = f"{stack[-1][1]}.{key}" if stack else key
        value = match.group(2)
        if value is None or not value.strip():
            stack.append((indent, full))
            document.pop(full, None)
        else:
            document[full] = _yaml_value(value.strip(), where)
    return merged | _default_profile(document)


def _default_profile(document: dict[str, Entry]) -> dict[str, Entry]:
    return {} if any(key in document for key in _PROFILE_KEYS) else document


def _add_item(document: dict[str, Entry], key: str, item: str, where: str) -> None:
    previous = document.get(key)
    items = previous.value if previous and isinstance(previous.value, tuple) else ()
    problem = previous.problem if previous else None
    if _YAML_KEY.match(item) or item[:1] in "[{|>&*!":
        problem = _UNREAD
    document[key] = Entry((*items, _scalar(item)), previous.where if previous else where, problem)


def _yaml_value(value: str, where: str) -> Entry:
    if value.startswith("[") and value.endswith("]"):
        inner = value[1:-1].strip()
        return Entry(tuple(_scalar(v.strip()) for v in inner.split(",")) if inner else (), where)
    if value[:1] in "[{|>&*!":
        return Entry(value, where, _UNREAD)
    return Entry(_scalar(value), where)


def _scalar(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return _unescape(text[1:-1])
    return text


def _without_comment(line: str) -> str:
    """LINE without its `#` comment (one starting the line or after a blank, outside quotes)."""
    quote = None
    for position, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (position == 0 or line[position - 1] in " \t"):
            return line[:position]
    return line
