"""Where the project's folders are, found from this package, never from the cwd."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOPOLOGIES = ROOT / "topologies"
EXERCISES = ROOT / "exercises"
SOLUTIONS = ROOT / "solutions"
CAPTURES = ROOT / "captures"
LABS = Path(__file__).resolve().parent / "labs"


def shown(path: Path) -> str:
    """A path as a student would type it: relative to the project when inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)
