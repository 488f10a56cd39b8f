"""Grade one lab notebook: execute it in record mode, judge the records here.

The learner's kernel only *records* what each function returned on each
case (see :mod:`course_utils.checks.answers`); this module compares those
records with the reference answers in its own process.

Example::

    report = check_notebook("solutions/03_initialization.ipynb")
    report.points, report.max_points   # (9.0, 9.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from course_utils.checks.answers import load_answers
from course_utils.checks.engine import ERROR, FAILED, Attempt, Exercise, ExerciseResult, case_key, grade, score
from course_utils.checks.registry import EXERCISES
from course_utils.grading.markup import lab_exercises
from course_utils.grading.runner import run_recorded
from course_utils.grading.variants import COPIED
from course_utils.notebooks import Execution, NotebookError, read_notebook

__all__ = ["LabReport", "check_notebook", "grade_records", "lab_exercises"]

NEVER_CHECKED = "this case was never checked"
TOO_LARGE = "the answers were too large to read (an answer over 1 MB, or over 4 MB for the exercise)"


@dataclass
class LabReport:
    path: Path
    execution: Execution
    results: list[ExerciseResult]

    @property
    def points(self) -> float:
        return round(sum(r.points for r in self.results), 4)

    @property
    def max_points(self) -> float:
        return round(sum(r.max_points for r in self.results), 4)


def check_notebook(path: str | Path, *, timeout: float = 600) -> LabReport:
    """Execute a lab headless in record mode and grade every exercise it checks."""
    path = Path(path)
    nb = read_notebook(path)
    exercises = lab_exercises(nb)
    if not exercises:
        raise NotebookError(f"{path}: not a lab, no check(...) calls in its test cells")
    run = run_recorded(nb, exercises, cwd=path.parent, timeout=timeout)
    cell_messages = {error.index: f"{error.ename}: {error.evalue}" for error in run.execution.errors}
    results = grade_records(exercises, run.records, load_answers(include_hidden=True), cell_messages,
                            run.execution.message, oversized=set(run.oversized))
    return LabReport(path, run.execution, results)


def grade_records(exercises: list[tuple[str, int]], records: list[dict], answers: dict[str, dict],
                  cell_messages: dict[int, str], run_message: str = "",
                  expected: dict[str, list[tuple[dict, bool]]] | None = None, *,
                  public_weight: float | None = None, oversized: set[str] = frozenset(),
                  copied: Callable[[Exercise, Attempt, int], bool] | None = None) -> list[ExerciseResult]:
    """Judge the recorded attempts of each exercise against the reference answers.

    The cases judged are ``expected[exercise]`` (public and hidden, as the
    grader knows them) or, without ``expected``, the exercise's public cases
    plus whatever hidden cases the notebook ran (``course check``). An expected
    case with no record counts as an error: skipping a case never helps.
    ``public_weight`` is the share of an exercise's points that its public cases
    alone can earn when it has hidden ones (see :func:`.engine.score`).
    ``copied(exercise, attempt, position)`` says whether a wrong answer is right
    for another learner's variant (:func:`.variants.copied`); its case then says so.
    """
    results = []
    for exercise_id, cell_index in exercises:
        exercise = EXERCISES.get(exercise_id)
        if exercise is None:
            results.append(ExerciseResult(exercise_id, "unknown exercise", 0.0, 0.0, ERROR, [],
                                          f"unknown exercise id {exercise_id!r}"))
            continue
        latest: dict[tuple[str, bool], tuple[dict, bool, Attempt]] = {}
        for record in records:
            if record.get("exercise") == exercise_id and isinstance(record.get("case"), dict):
                hidden = record.get("hidden") is True
                latest[(case_key(record["case"]), hidden)] = (record["case"], hidden, Attempt.from_record(record))
        if not latest:
            result = score(exercise, [])
            result.message = (TOO_LARGE if exercise_id in oversized else
                              cell_messages.get(cell_index) or run_message or result.message)
            results.append(result)
            continue
        wanted = expected[exercise_id] if expected is not None else (
            [(case, False) for case in exercise.cases] + [(entry[0], True) for (_, hidden), entry in latest.items()
                                                         if hidden])
        attempts = [latest.get((case_key(case), hidden)) or (case, hidden, Attempt(ERROR, error=NEVER_CHECKED))
                    for case, hidden in wanted]
        result = grade(exercise, attempts, answers.get(exercise_id, {}), public_weight)
        if copied is not None and exercise.varies:
            for position, (judged, (_, _, attempt)) in enumerate(zip(result.cases, attempts)):
                if judged.status == FAILED and copied(exercise, attempt, position):
                    judged.message = COPIED
        results.append(result)
    return results
