"""The decision exercises of labs 03, 04 and 05 on learners' variants.

For five learner ids, each exercise's case is varied (:func:`engine.vary`) as the grader varies it; the
reference solution (the code of the solution notebook's cell) and an independent alternative
(tests/alternatives/) run on the varied case and are judged by the exercise's own comparators. The set of
choices the evidence supports is computed by the harness, independently of the reference, so full marks
here are not circular. The supported sets must differ across the variants: the seed changes the decision.
"""

import functools

import nbformat
import pytest

from alternatives import RIGHT
from conftest import ROOT
from course_utils.checks.engine import attempt, case_key, grade, vary
from course_utils.checks.registry import EXERCISES as REGISTRY
from course_utils.experiments import initialization as init_lab
from course_utils.experiments import losses as loss_lab
from course_utils.experiments import validation as val_lab
from course_utils.grading.markup import BEGIN_SOLUTION, END_SOLUTION

LEARNERS = ("ada", "bob", "cy", "dee", "eve")

#: exercise id -> (lab, the solution cells' grade ids (the function's own last), the choices the lab offers)
DECISIONS = {
    "init.choose_gain": ("03_initialization", ("choose_gain",), init_lab.GAINS),
    "init.choose_scheme": ("03_initialization", ("choose_scheme",), init_lab.SCHEMES),
    "loss.find_broken": ("04_losses", ("find_broken",), loss_lab.RUN_NAMES),
    "loss.choose_bias": ("04_losses", ("choose_bias",), loss_lab.BIASES),
    "val.choose_k": ("05_validation", ("choose_k",), val_lab.KS),
    "val.compare_models": ("05_validation", ("permutation_p", "compare_models"), val_lab.VERDICTS),
}


@functools.cache
def reference(lab: str, grade_ids: tuple):
    """The solution notebook's function: its setup cell and solution cells (the exercise's own last, and
    those of earlier exercises it calls), run here."""
    nb = nbformat.read(ROOT / "solutions" / f"{lab}.ipynb", as_version=4)
    namespace: dict = {}
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid == "setup" or gid in grade_ids:
            code = "\n".join(line for line in cell.source.split("\n")
                             if line.strip() not in (BEGIN_SOLUTION, END_SOLUTION))
            exec(compile(code, f"{lab}:{gid}", "exec"), namespace)
    return namespace[grade_ids[-1]]


def supported_choices(exercise_id, case) -> tuple:
    """The offered choices that the exercise's decision comparator accepts on ``case``."""
    exercise = REGISTRY[exercise_id]
    comparator = exercise.compare["decision"] if isinstance(exercise.compare, dict) else exercise.compare
    return tuple(choice for choice in DECISIONS[exercise_id][2] if comparator(choice, None, case).ok)


@pytest.mark.parametrize("exercise_id", sorted(DECISIONS))
def test_reference_and_alternative_get_full_marks_on_five_variants_that_differ(exercise_id):
    exercise = REGISTRY[exercise_id]
    function = reference(*DECISIONS[exercise_id][:2])
    alternative = RIGHT[exercise_id][0]
    supported = set()
    for learner in LEARNERS:
        case = vary(exercise, exercise.cases[0], learner)
        assert case != exercise.cases[0]
        ours = attempt(exercise, function, case)
        for who, outcome in (("reference", ours), (alternative.__name__, attempt(exercise, alternative, case))):
            result = grade(exercise, [(case, False, outcome)], {case_key(case): ours.value})
            assert result.points == result.max_points, (exercise_id, learner, who, result.cases[0].message)
        supported.add(supported_choices(exercise_id, case))
    assert len(supported) >= 2, f"{exercise_id}: every variant supports the same choices {supported}"


@pytest.mark.parametrize("exercise_id", sorted(DECISIONS))
def test_the_evidence_supports_some_choices_and_rules_out_others(exercise_id):
    for case in REGISTRY[exercise_id].cases:
        supported = supported_choices(exercise_id, case)
        assert 0 < len(supported) < len(DECISIONS[exercise_id][2]), (exercise_id, case, supported)
