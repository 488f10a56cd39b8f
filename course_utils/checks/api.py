"""What a learner calls in a notebook: ``check(exercise_id, function)``.

``check`` runs the learner's function on the exercise's cases and shows one
line per case with a hint for each failure. Outside Jupyter it prints the
same report as plain text.

In *record mode* (environment variable ``COURSE_RECORD`` set by the grader
or by ``course check``) it only records what the function returned; the
comparison happens in the grader's own process, so nothing a learner does
inside the kernel can award points.

Under a learner id (``COURSE_LEARNER``, set by the grader from the student's
folder name), a graded run uses that learner's variant of every exercise that
``varies`` (:func:`.engine.vary`): other data, other hidden cases. The instant
check in a notebook runs the public variant.

For nbgrader, the plain-text form of the result is the points earned: nbgrader
reads a test cell's numeric output as partial credit.
"""

from __future__ import annotations

import os
from typing import Callable, Iterable

from .. import progress
from .answers import RECORD_ENV, load_answers, write_record
from .engine import LEARNER_ENV, TIMEOUT, Attempt, ExerciseResult, attempt, grade, vary
from .registry import get_exercise
from .render import to_html, to_text

_hidden_cases: dict[str, list[dict]] = {}


def add_hidden_cases(exercise_id: str, cases: Iterable[dict]) -> None:
    """Register hidden cases for an exercise (instructor notebooks only).

    Used inside ``### BEGIN HIDDEN TESTS`` blocks of ``solutions/``; the next
    ``check`` of that exercise runs them after the public cases. Running the
    cell twice does not add them twice.
    """
    exercise = get_exercise(exercise_id)
    _hidden_cases[exercise.id] = [dict(case) for case in cases]


def check(exercise_id: str, function: Callable):
    """Check ``function`` on the public cases of ``exercise_id`` (and any hidden ones).

    Example, in a lab::

        check("start.accuracy", accuracy)   # ✓/✗ per case, with a hint for each failure
    """
    exercise = get_exercise(exercise_id)
    record_path = os.environ.get(RECORD_ENV)
    # Graded (record mode) under a learner id, the cases are that learner's variant; the instant check
    # runs the public variant, whose reference answers ship with the course.
    learner = os.environ.get(LEARNER_ENV) if record_path else None
    cases = [(vary(exercise, case, learner), False) for case in exercise.cases]
    cases += [(vary(exercise, case, learner), True) for case in _hidden_cases.get(exercise.id, [])]
    attempts = []
    for case, _ in cases:
        if attempts and attempts[-1].status == TIMEOUT:  # one time limit per check, not one per case
            attempts.append(Attempt(TIMEOUT, error="not run: an earlier case ran out of time"))
        else:
            attempts.append(attempt(exercise, function, case))

    if record_path:
        for (case, hidden), result in zip(cases, attempts):
            write_record(record_path, exercise.id, case, hidden, result)
        return Recorded(exercise.id, len(cases))

    answers = load_answers(include_hidden=any(hidden for _, hidden in cases)).get(exercise.id, {})
    attempted = [(case, hidden, result) for (case, hidden), result in zip(cases, attempts)]
    outcome = CheckResult(grade(exercise, attempted, answers))
    if not _in_kernel():
        print(outcome)
    else:
        progress.record(outcome.result)  # the learner's own progress file (`course progress`)
    return outcome


class CheckResult:
    """The result of :func:`check`: HTML in Jupyter, text in a terminal, points for nbgrader."""

    def __init__(self, result: ExerciseResult):
        self.result = result

    @property
    def points(self) -> float:
        return self.result.points

    @property
    def passed(self) -> bool:
        return self.result.points == self.result.max_points

    def _repr_mimebundle_(self, include=None, exclude=None):
        # nbgrader awards the text/plain number as partial credit for the test cell.
        return {"text/plain": f"{self.result.points:g}", "text/html": to_html(self.result)}

    def __str__(self) -> str:
        return to_text(self.result)

    def __repr__(self) -> str:
        r = self.result
        return f"<CheckResult {r.exercise}: {r.points:g}/{r.max_points:g} points, {r.status}>"


class Recorded:
    """Returned by :func:`check` in record mode: the answers were written for the grader."""

    def __init__(self, exercise_id: str, count: int):
        self.exercise_id = exercise_id
        self.count = count

    def __repr__(self) -> str:
        return f"recorded {self.count} cases of {self.exercise_id} for grading"


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None
