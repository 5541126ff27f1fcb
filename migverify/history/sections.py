"""A script that is part of a file (a dbmate or goose section): the file's text with everything
else blanked, line breaks kept, so that an error names the file's own line."""

from __future__ import annotations

from dataclasses import dataclass

from migverify.history.transaction import in_transaction


@dataclass(frozen=True)
class Section:
    start: int  # offset of its marker
    end: int  # offset of the next marker (or the end of the file)
    transaction: bool  # its tool runs it in a transaction


def only(text: str, sections: list[Section]) -> str:
    """TEXT with everything outside SECTIONS blanked, line breaks kept (lines stay the file's);
    a section run in a transaction begins on its marker's line and commits on the next
    marker's."""
    kept, position = [], 0
    for section in sections:
        part = text[section.start : section.end]
        kept += ["\n" * text.count("\n", position, section.start)]
        kept.append(in_transaction(part) if section.transaction else part)
        position = section.end
    kept.append("\n" * text.count("\n", position))
    return "".join(kept)
