"""The report as one self-contained web page (to be written)."""
from __future__ import annotations

from pathlib import Path


def write_page(result, path: Path) -> None:
    """Write the run's report as an HTML page at path (placeholder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<!doctype html><title>{result.lab.name}</title><p>{result.lab.title}</p>\n")
