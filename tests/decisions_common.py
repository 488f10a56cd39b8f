"""What the decision-exercise tests of every lab share: the reference solution's function, the cases of
five learners' variants, and the two checks made on each decision exercise.

The set of choices the evidence supports is computed by the harness, independently of the reference, so
full marks on five variants are not circular, and the supported sets must differ across the variants:
the seed changes the decision.
"""

import json

from alternatives import RIGHT
from conftest import ROOT
from course_utils.checks.engine import OK, attempt, case_key, grade, vary
from course_utils.checks.registry import EXERCISES as REGISTRY

LEARNERS = ("ada", "bob", "cy", "dee", "eve")


def solution_function(lab: str, grade_ids: str | tuple[str, ...]):
    """The reference solution's function: the lab's setup cell and the solution cells ``grade_ids`` (one
    grade id, or several with the function's own cell last) run here."""
    grade_ids = (grade_ids,) if isinstance(grade_ids, str) else tuple(grade_ids)
    cells = json.loads((ROOT / "solutions" / f"{lab}.ipynb").read_text())["cells"]
    namespace = {}
    for cell in cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") in ("setup", *grade_ids):
            exec("".join(cell["source"]), namespace)
    return namespace[grade_ids[-1]]


def variant_cases(exercise_id: str) -> list[dict]:
    """The first public case of ``exercise_id`` as the five learners' variants."""
    exercise = REGISTRY[exercise_id]
    return [vary(exercise, exercise.cases[0], learner) for learner in LEARNERS]


def assert_full_marks_on_variants(exercise_id: str, solution) -> None:
    """The reference and every alternative of tests/alternatives get full marks on five variants."""
    exercise = REGISTRY[exercise_id]
    for case in variant_cases(exercise_id):
        want = attempt(exercise, solution, case)
        assert want.status == OK, (case, want.error)
        for function in [solution, *RIGHT[exercise_id]]:
            result = grade(exercise, [(case, False, attempt(exercise, function, case))], {case_key(case): want.value})
            assert result.points == result.max_points, (exercise_id, function.__name__, case, result.cases[0].message)


def assert_supported_choices_differ(exercise_id: str, acceptable) -> None:
    """``acceptable(case)`` (what the evidence supports) is not the same for all five variants."""
    supported = {tuple(sorted(map(str, acceptable(case)))) for case in variant_cases(exercise_id)}
    assert len(supported) >= 2, supported
