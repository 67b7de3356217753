"""`lab serve`: captures/ over HTTP (to be written)."""
from __future__ import annotations

from pathlib import Path

from .errors import UsageError


def serve(folder: Path, port: int, bind: str) -> int:
    raise UsageError("lab serve is not written yet")
