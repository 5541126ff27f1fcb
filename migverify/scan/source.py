"""A source file's text with byte-offset → (line, column) mapping, and string literal contents
with a per-character map back to the file, so references inside SQL strings get exact positions.
"""

from __future__ import annotations

import bisect
import codecs
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate

from tree_sitter import Node

_SIMPLE_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "0": "\0",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "`": "`",
    "$": "$",
    "\n": "",
}


@dataclass
class Source:
    path: str
    data: bytes
    _lines: list[int] | None = field(default=None, repr=False)

    @property
    def _starts(self) -> list[int]:
        """Byte offset of each line's start, found when a position is first asked for (most
        files the scan parses hold nothing to report)."""
        if self._lines is None:  # each line's length plus its newline, summed (in C)
            lengths = map((1).__add__, map(len, self.data.split(b"\n")[:-1]))
            self._lines = [0, *accumulate(lengths)]
        return self._lines

    def position(self, offset: int) -> tuple[int, int]:
        """1-based line and column (in characters) of a byte offset."""
        starts = self._starts
        line = bisect.bisect_right(starts, offset) - 1
        prefix = self.data[starts[line] : offset]
        return line + 1, len(prefix.decode("utf-8", errors="replace")) + 1

    def line_text(self, line: int) -> str:
        starts = self._starts
        start = starts[line - 1]
        end = starts[line] - 1 if line < len(starts) else len(self.data)
        return self.data[start:end].decode("utf-8", errors="replace").strip()

    def text(self, node: Node) -> str:
        return self.data[node.start_byte : node.end_byte].decode("utf-8", errors="replace")


@dataclass(frozen=True)
class StringValue:
    """The characters of a string literal and, for each, the byte offset it came from."""

    text: str
    offsets: tuple[int, ...]
    holes: int = 0  # interpolations replaced by $1, $2, …

    def offset_of(self, index: int) -> int:
        if not self.offsets:
            return 0
        return self.offsets[min(index, len(self.offsets) - 1)]


FRAGMENTS = {"string_fragment", "string_content"}
HOLES = {"template_substitution", "interpolation"}


Substitute = Callable[[Node], "StringValue | None"]


def string_value(
    node: Node, source: Source, substitute: Substitute | None = None
) -> StringValue | None:
    """Contents of a JS/TS string or template string, or a Python string (f-string holes become
    parameters); None for anything else. SUBSTITUTE may give the text a hole's expression holds
    (`${subQuery}`), spliced in with its own offsets."""
    if node.type == "concatenated_string":  # Python "a" "b"
        parts = [string_value(child, source, substitute) for child in node.named_children]
        if any(p is None for p in parts):
            return None
        text = "".join(p.text for p in parts)  # type: ignore[union-attr]
        offsets = tuple(o for p in parts for o in p.offsets)  # type: ignore[union-attr]
        return StringValue(text, offsets, sum(p.holes for p in parts))  # type: ignore[union-attr]
    if node.type not in ("string", "template_string"):
        return None
    chars: list[str] = []
    offsets: list[int] = []
    holes = 0
    children = node.children
    content_start = children[0].end_byte if children else node.start_byte
    content_end = children[-1].start_byte if len(children) > 1 else node.end_byte
    cursor = content_start
    for child in children:
        if child.start_byte < content_start or child.end_byte > content_end:
            continue
        # text the grammar does not expose as a node (e.g. spaces in Python strings)
        add_raw(source, cursor, child.start_byte, chars, offsets)
        if child.type in HOLES:
            spliced = _substituted(child, substitute)
            if spliced is not None:
                chars.extend(spliced.text)
                offsets.extend(spliced.offsets)
                holes += spliced.holes
            else:
                holes += 1
                placeholder = f"${holes}"
                chars.extend(placeholder)
                offsets.extend([child.start_byte] * len(placeholder))
        elif child.type == "escape_sequence":
            chars.append(_unescape(source.text(child)))
            offsets.append(child.start_byte)
        elif child.type in FRAGMENTS:
            add_raw(source, child.start_byte, child.end_byte, chars, offsets)
        cursor = child.end_byte
    add_raw(source, cursor, content_end, chars, offsets)
    return StringValue("".join(chars), tuple(offsets), holes)


def _substituted(hole: Node, substitute: Substitute | None) -> StringValue | None:
    if substitute is None:
        return None
    expressions = [
        c for c in hole.named_children if c.type not in ("format_specifier", "type_conversion")
    ]
    if len(expressions) != 1:
        return None
    value = substitute(expressions[0])
    return value if value is not None and len(value.offsets) == len(value.text) else None


def add_raw(source: Source, start: int, end: int, chars: list[str], offsets: list[int]) -> None:
    """Append SOURCE's bytes START..END as characters to CHARS, each one's offset to OFFSETS."""
    if end <= start:
        return
    raw = source.data[start:end]
    if raw.isascii():  # one byte per character: no loop in Python
        chars.extend(raw.decode("ascii"))
        offsets.extend(range(start, end))
        return
    position = start
    for char in raw.decode("utf-8", errors="replace"):
        chars.append(char)
        offsets.append(position)
        position += len(char.encode("utf-8"))


def _unescape(escape: str) -> str:
    body = escape[1:]
    if body[:1] in _SIMPLE_ESCAPES and len(body) == 1:
        return _SIMPLE_ESCAPES[body]
    try:
        return codecs.decode(escape, "unicode_escape")
    except (UnicodeDecodeError, ValueError):
        return body
