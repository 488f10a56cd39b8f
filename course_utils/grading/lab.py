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
from course_utils.checks.engine import ERROR, Attempt, ExerciseResult, case_key, grade, score
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
                  cell_messages: dict[int, str], run_message: str = "") -> list[ExerciseResult]:
    """Judge the recorded attempts of each exercise against the reference answers.

    Public cases come from the exercise's definition; a public case with no
    record counts as an error. Hidden cases are those the notebook ran.
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
            if record["exercise"] == exercise_id:
                attempt = Attempt(record["status"], record.get("value"), record.get("error", ""),
                                  record.get("seconds", 0.0))
                latest[(case_key(record["case"]), bool(record["hidden"]))] = (record["case"], bool(record["hidden"]), attempt)
        if not latest:
            result = score(exercise, [])
            result.message = cell_messages.get(cell_index) or run_message or result.message
            results.append(result)
            continue
        attempts = [latest.get((case_key(case), False))
                    or (case, False, Attempt(ERROR, error="this case was never checked"))
                    for case in exercise.cases]
        attempts += [entry for (key, hidden), entry in latest.items() if hidden]
        results.append(grade(exercise, attempts, answers.get(exercise_id, {})))
    return results
