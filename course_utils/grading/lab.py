"""Grade one lab notebook: execute it in record mode, judge the records here.

The learner's kernel only *records* what each function returned on each
case (see :mod:`course_utils.checks.answers`); this module compares those
records with the reference answers in its own process.

Example::

    report = check_notebook("solutions/03_initialization.ipynb")
    report.points, report.max_points   # (9.0, 9.0)
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from course_utils.checks.answers import RECORD_ENV, load_answers, read_records
from course_utils.checks.engine import (ERROR, NOT_ATTEMPTED, TIMEOUT, Attempt, ExerciseResult, case_key, grade,
                                        score)
from course_utils.checks.registry import EXERCISES
from course_utils.notebooks import Execution, NotebookError, execute_notebook, read_notebook

CHECK_CALL = re.compile(r"""\bcheck\(\s*["']([\w.]+)["']""")


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


def lab_exercises(nb: nbformat.NotebookNode) -> list[tuple[str, int]]:
    """``(exercise id, cell index)`` of every ``check("...")`` in the lab's test cells, in order.

    Test cells are nbgrader grade cells: a ``check`` in an ordinary cell (a
    lesson's demonstration, a learner's experiment) is not graded.
    """
    graded = [(i, c) for i, c in enumerate(nb.cells)
              if c.cell_type == "code" and c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    found: list[tuple[str, int]] = []
    for index, cell in graded:
        for exercise_id in CHECK_CALL.findall(cell.source):
            if exercise_id not in [e for e, _ in found]:
                found.append((exercise_id, index))
    return found


def check_notebook(path: str | Path, *, timeout: float = 600) -> LabReport:
    """Execute a lab headless in record mode and grade every exercise it checks."""
    path = Path(path)
    nb = read_notebook(path)
    exercises = lab_exercises(nb)
    if not exercises:
        raise NotebookError(f"{path}: not a lab, no check(...) calls in its test cells")
    with tempfile.TemporaryDirectory(prefix="course-check-") as scratch:
        record = Path(scratch) / "records.jsonl"
        execution = execute_notebook(nb, cwd=path.parent, timeout=timeout,
                                     env={RECORD_ENV: str(record)}, allow_errors=True)
        records = read_records(record)
    cell_messages = {error.index: f"{error.ename}: {error.evalue}" for error in execution.errors}
    results = grade_records(exercises, records, load_answers(include_hidden=True), cell_messages,
                            execution.message)
    return LabReport(path, execution, results)


def grade_records(exercises: list[tuple[str, int]], records: list[dict], answers: dict[str, dict],
                  cell_messages: dict[int, str], run_message: str = "",
                  expected: dict[str, list[tuple[dict, bool]]] | None = None) -> list[ExerciseResult]:
    """Judge the recorded attempts of each exercise against the reference answers.

    The cases judged are ``expected[exercise]`` (public and hidden, as the
    grader knows them) or, without ``expected``, the exercise's public cases
    plus whatever hidden cases the notebook ran (``course check``). An expected
    case with no record counts as an error: skipping a case never helps.
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
                latest[(case_key(record["case"]), hidden)] = (record["case"], hidden, attempt_from_record(record))
        if not latest:
            result = score(exercise, [])
            result.message = cell_messages.get(cell_index) or run_message or result.message
            results.append(result)
            continue
        wanted = expected[exercise_id] if expected is not None else (
            [(case, False) for case in exercise.cases] + [(entry[0], True) for (_, hidden), entry in latest.items()
                                                         if hidden])
        attempts = [latest.get((case_key(case), hidden))
                    or (case, hidden, Attempt(ERROR, error="this case was never checked"))
                    for case, hidden in wanted]
        results.append(grade(exercise, attempts, answers.get(exercise_id, {})))
    return results


def attempt_from_record(record: dict) -> Attempt:
    """An attempt from a record line, distrusting everything in it (the learner's kernel wrote it)."""
    return Attempt.from_record(record)
