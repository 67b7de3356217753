"""Import one Python file written by an instructor or a student, by its path.

Topologies, labs and exercises are plain files in plain folders; they are imported
under a private module name (no sys.path changes), and any failure while importing
becomes one line naming the file, the line and the problem.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from .errors import LabError
from .paths import shown
from .sandbox import describe_exception


def load_file(path: Path, error: type[LabError], prefix: str) -> ModuleType:
    """Import path as a fresh module named prefix_STEM; raise error on any failure."""
    if not path.is_file():
        raise error(f"{shown(path)}: no such file")
    name = f"{prefix}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before running it, as import does (dataclasses need it)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[name]
        raise error(f"{shown(path)}, line {exc.lineno}: {exc.msg}; fix the syntax and retry") from None
    except Exception as exc:
        del sys.modules[name]
        raise error(f"{shown(path)}: importing it failed: {describe_exception(exc, path)}") from None
    return module
