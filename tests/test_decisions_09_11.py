"""The decision exercises of labs 09-11: the reference solution and an independent alternative get full
marks on the variants of five learners, the choices the evidence supports differ between variants, a
clearly worse choice is not supported, and the harnesses keep their budgets and their promises."""

import json

import numpy as np
import pytest

from alternatives import RIGHT
from conftest import ROOT
from course_utils.checks.engine import OK, attempt, case_key, grade, vary
from course_utils.checks.registry import EXERCISES as REGISTRY
from course_utils.experiments import pinn
from course_utils.vault import BudgetSpent

LEARNERS = ("ada", "bob", "cy", "dee", "eve")

#: exercise id -> (lab notebook, the solution cell's grade id, the choices the evidence supports for a case)
DECISIONS = {
    "pinn.initial_weight": ("09_pinn", "choose_weight", pinn.acceptable_weights),
    "pinn.keep_fix": ("09_pinn", "keep_fix", pinn.acceptable_fixes),
}


def solution_function(lab: str, grade_id: str):
    """The reference solution's function, from the lab's setup cell and its solution cell."""
    cells = json.loads((ROOT / "solutions" / f"{lab}.ipynb").read_text())["cells"]
    namespace = {}
    for cell in cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") in ("setup", grade_id):
            exec("".join(cell["source"]), namespace)
    return namespace[grade_id]


def variants(exercise_id: str) -> list[dict]:
    exercise = REGISTRY[exercise_id]
    return [vary(exercise, exercise.cases[0], learner) for learner in LEARNERS]


@pytest.mark.parametrize("exercise_id", sorted(DECISIONS))
def test_reference_and_alternatives_get_full_marks_on_five_variants(exercise_id):
    exercise, (lab, grade_id, _) = REGISTRY[exercise_id], DECISIONS[exercise_id]
    solution = solution_function(lab, grade_id)
    for case in variants(exercise_id):
        want = attempt(exercise, solution, case)
        assert want.status == OK, (case, want.error)
        for function in [solution, *RIGHT[exercise_id]]:
            result = grade(exercise, [(case, False, attempt(exercise, function, case))], {case_key(case): want.value})
            assert result.points == result.max_points, (exercise_id, function.__name__, case, result.cases[0].message)


@pytest.mark.parametrize("exercise_id", sorted(DECISIONS))
def test_the_supported_choices_differ_between_variants(exercise_id):
    acceptable = DECISIONS[exercise_id][2]
    supported = {tuple(sorted(map(str, acceptable(case)))) for case in variants(exercise_id)}
    assert len(supported) >= 2, supported


# -- lab 09 ----------------------------------------------------------------------------------------------

def test_pinn_evidence_rejects_a_clearly_worse_weight_and_accepts_a_near_tie():
    """Problem 1: weight 1 far ahead of every other; problem 0: 1 and 10 within the noise of three seeds."""
    means = {w: np.log10(s["val"]).mean() for w, s in pinn.evidence("weight", 1).items()}
    assert min(means, key=means.get) == 1.0 and means[0.1] - means[1.0] > 0.2
    assert pinn.acceptable_weights({"seed": 1}) == [1.0]
    assert sorted(pinn.acceptable_weights({"seed": 0})) == [1.0, 10.0]
    assert pinn.lowest_training_loss("weight", 1) == 0.1  # the small weight flatters the loss


def test_pinn_harness_counts_seeds_keeps_its_budget_and_trains_requests_together():
    vault, train = pinn.fix_lab(3)
    models = train("L-BFGS", [0, 1, 2])
    assert vault.seeds_of("L-BFGS") == 3 and vault.spent == 3
    X, u = vault.val
    before = len(pinn._TRAINED)
    errors = [pinn.relative_l2(model(X), u) for model in models]  # the first use trains them, all at once
    assert len(pinn._TRAINED) > before and all(0 < e < 2 for e in errors)
    assert models[0].training_loss > 0
    with pytest.raises(ValueError, match="choose one of 'none'"):
        train("dropout", [0])
    train("none", list(range(13)))
    with pytest.raises(BudgetSpent, match="budget is 16 trainings"):
        train("none", [20])


def test_pinn_problems_differ_by_seed_and_the_test_grid_stays_sealed():
    assert len({tuple(pinn.problem(seed).values()) for seed in range(5)}) == 5
    vault, _ = pinn.weight_lab(0)
    assert vault.sealed().X.shape == (101 * 51, 2) and len(vault.val) == 200 and not vault.openings
