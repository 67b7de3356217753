"""Text that fits the terminal: its width, and lines filled or cut to it."""
from __future__ import annotations

import shutil
import textwrap


def width() -> int:
    """The terminal's width (COLUMNS when set, as when piped), never below 60."""
    return max(60, shutil.get_terminal_size((80, 24)).columns)


def wrapped(text: str, indent: int, width: int, hanging: int = 0, refill: bool = True) -> list[str]:
    """text indented and within width; a line that runs over goes on at indent +
    hanging. refill: text is prose wrapped by hand, so its paragraphs (blank-line
    separated) are filled again; else each line is kept as it is (a table row, say)
    unless it is too wide."""
    lines = []
    for paragraph in text.split("\n\n") if refill else text.split("\n"):
        lines += textwrap.wrap(" ".join(paragraph.split()) if refill else paragraph.rstrip(), width,
                               initial_indent=" " * indent, subsequent_indent=" " * (indent + hanging),
                               break_on_hyphens=False) or [""]
        if refill:
            lines.append("")
    return lines[:-1] if refill else lines


def cut(text: str, room: int) -> str:
    """text, shortened with '...' if it takes more than room columns."""
    return text if len(text) <= room else text[:max(0, room - 3)] + "..."
