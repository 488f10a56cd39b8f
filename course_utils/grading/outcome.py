"""What can happen to a submission besides its exercises' own statuses, as values, not words.

A gradebook row's status is an exercise's :class:`~course_utils.checks.engine.Status`
("passed", "partial", "failed", "not attempted", "error", "timeout") or one of
these :class:`Outcome` values. Notes say what else happened; a note that
reports tampering with the instructor's cells carries its :class:`Tamper` kind,
so that the grader never decides "tampered" by looking for words in a message
(a file named ``00_warmup edited.ipynb`` is not tampering).

>>> str(Note("test cell test_f", Tamper.EDITED)), Note("test cell test_f", Tamper.EDITED).tampering
('test cell test_f was edited', True)
>>> Outcome.NOT_REGULAR == "not a regular file"
True
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Outcome(str, Enum):
    """A row's status when a submission was not graded normally, or was tampered with."""

    TAMPERED = "tampered"                      # graded on the instructor's cells anyway
    KERNEL_DIED = "kernel died"
    NO_SOURCE = "no source"
    MISSING = "missing"
    NOT_REGULAR = "not a regular file"         # a symbolic link, a FIFO, a device...
    NOT_A_NOTEBOOK = "not a notebook"
    MALFORMED = "malformed notebook"
    EMPTY = "empty notebook"
    NO_GRADED_CELLS = "no graded cells"
    WRONG_NOTEBOOK = "wrong notebook"
    GRADER_ERROR = "grader error"
    NEEDS_MANUAL = "needs manual grading"      # an nbgrader answer or task: points pending, graded by hand

    def __str__(self) -> str:
        return self.value


class Tamper(str, Enum):
    """What happened to an instructor's cell in a submission."""

    EDITED = "was edited"
    DELETED = "was deleted"
    DUPLICATED = "was duplicated"
    MOVED = "were moved out of their order"
    KERNEL = "was changed in the kernel"       # seen by the guard of an in-kernel test (:mod:`.guard`)


@dataclass(frozen=True)
class Note:
    """Something to tell about a submission: ``what`` (a cell, a file...) and, for tampering, its kind."""

    what: str
    tamper: Tamper | None = None

    @property
    def tampering(self) -> bool:
        return self.tamper is not None

    def __str__(self) -> str:
        return f"{self.what} {self.tamper.value}" if self.tamper else self.what
