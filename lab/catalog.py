"""Finding labs: every module in lab/labs/ that declares LAB is a lab.

Adding a lab is dropping one file in that folder; nothing else lists them. A module
that fails to import is reported by file and line, and does not hide the others.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from .definition import Lab
from .errors import LabDefinitionError, UsageError
from .loader import load_file
from .paths import LABS, shown


@dataclass(frozen=True)
class Catalog:
    labs: dict[str, Lab]
    problems: list[str]

    def find(self, name: str) -> Lab:
        """The lab called name; a UsageError listing the labs and the closest match if none."""
        if name in self.labs:
            return self.labs[name]
        for problem in self.problems:
            if Path(problem.split(":")[0]).stem == name.replace("-", "_"):
                raise LabDefinitionError(problem)
        close = difflib.get_close_matches(name, self.labs, n=1, cutoff=0.5)
        hint = f"did you mean {close[0]}? " if close else ""
        raise UsageError(f"no lab named {name!r}; {hint}available: {', '.join(sorted(self.labs))}")


def discover(directory: Path = LABS) -> Catalog:
    """Load every lab module in directory."""
    labs: dict[str, Lab] = {}
    problems: list[str] = []
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("_"):
            continue
        try:
            module = load_file(path, LabDefinitionError, "lab_def")
            lab = getattr(module, "LAB", None)
            if not isinstance(lab, Lab):
                raise LabDefinitionError(f"{shown(path)}: define LAB = Lab(...) at module level")
            if lab.name in labs:
                raise LabDefinitionError(f"{shown(path)}: a lab named {lab.name} already exists")
            labs[lab.name] = lab
        except LabDefinitionError as exc:
            problems.append(str(exc))
    return Catalog(labs, problems)
