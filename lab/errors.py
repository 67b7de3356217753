"""Errors the user can act on.

The library raises these; only the command line turns them into one line of text and
an exit code, so every failure a student meets reads the same way.
"""


class LabError(Exception):
    """Something the user can fix; the message says what to do."""

    exit_code = 1


class UsageError(LabError):
    """A wrong name or argument on the command line."""

    exit_code = 2


class SetupError(LabError):
    """The machine lacks something: root, a package, a kernel feature."""

    exit_code = 3


class TopologyError(LabError):
    """A topology file that cannot be loaded or describes an impossible network."""

    exit_code = 2


class LabDefinitionError(LabError):
    """A lab module that does not follow the lab contract."""

    exit_code = 2


class ExerciseError(LabError):
    """The student's code raised, hung, or returned something unusable."""

    exit_code = 1


class ScenarioError(LabError):
    """The network did not do what the lab's own steps rely on (a bug in the lab)."""

    exit_code = 70

    def __str__(self) -> str:
        return f"{super().__str__()} (a step of the lab itself failed: please report it)"
