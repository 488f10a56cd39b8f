"""The decision exercises of labs 09-11: the reference solution and an independent alternative get full
marks on the variants of five learners, the choices the evidence supports differ between variants, a
clearly worse choice is not supported, and the harnesses keep their budgets and their promises."""

import numpy as np
import pytest

from decisions_common import (assert_full_marks_on_variants, assert_supported_choices_differ, solution_function,
                              variant_cases)
from course_utils.checks.engine import OK, attempt, case_key, grade, vary
from course_utils.checks.registry import EXERCISES as REGISTRY
from course_utils.experiments import features, pinn, transfer
from course_utils.vault import BudgetSpent


#: exercise id -> (lab notebook, the solution cell's grade id, the choices the evidence supports for a case)
DECISIONS = {
    "pinn.initial_weight": ("09_pinn", "choose_weight", pinn.acceptable_weights),
    "pinn.keep_fix": ("09_pinn", "keep_fix", pinn.acceptable_fixes),
    "transfer.frozen_or_finetune": ("10_transfer", "frozen_or_finetune", transfer.acceptable_strategies),
    "transfer.feature_layer": ("10_transfer", "feature_layer", transfer.acceptable_layers),
    "feat.fix_first": ("11_features", "fix_first", features.acceptable_slices),
    "feat.choose_detector": ("11_features", "choose_detector", features.acceptable_detectors),
}


@pytest.mark.parametrize("exercise_id", sorted(DECISIONS))
def test_reference_and_alternatives_get_full_marks_on_five_variants(exercise_id):
    lab, grade_ids, _ = DECISIONS[exercise_id]
    assert_full_marks_on_variants(exercise_id, solution_function(lab, grade_ids))

@pytest.mark.parametrize("exercise_id", sorted(DECISIONS))
def test_the_supported_choices_differ_between_variants(exercise_id):
    assert_supported_choices_differ(exercise_id, DECISIONS[exercise_id][2])

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


# -- lab 10 ----------------------------------------------------------------------------------------------

def test_transfer_evidence_follows_the_task():
    """Task 2 (rotated digits, 20 per class): fine-tuning and the layer-2 features are far ahead; task 0 (the
    digits as they are): the later layers' features are the best."""
    assert transfer.task(2) == {"kind": "rotated", "n_per_class": 20}
    assert transfer.acceptable_strategies({"seed": 2}) == ["fine-tune"]
    assert transfer.acceptable_layers({"seed": 2}) == ["layer2"]
    assert transfer.task(0)["kind"] == "as they are" and transfer.acceptable_layers({"seed": 0}) == ["layer3", "layer4"]


def test_transfer_harness_counts_seeds_and_keeps_its_budget():
    vault, fit = transfer.strategy_lab(1)
    X, y = vault.train
    assert len(X) == 5 * transfer.task(1)["n_per_class"] and tuple(X.shape[1:]) == (1, 12, 12)
    frozen = [fit("features + LR", seed) for seed in range(3)]
    assert vault.seeds_of("features + LR") == 3
    assert len({tuple(model.predict(vault.val.X)) for model in frozen}) == 1  # the seed changes nothing
    with pytest.raises(ValueError, match="choose one of 'features \\+ LR', 'fine-tune'"):
        fit("scratch", 0)
    for seed in range(5):
        fit("fine-tune", seed)
    with pytest.raises(BudgetSpent, match="budget is 8 trainings"):
        fit("fine-tune", 5)


# -- lab 11 ----------------------------------------------------------------------------------------------

def test_the_first_errors_of_the_list_are_a_biased_sample():
    """Case 59: the errors sorted by class put other categories first; a random sample finds the best."""
    vault, inspect, fixable = features.slice_lab(59)
    first = inspect(range(60))
    with pytest.raises(BudgetSpent, match="budget is 60 inspections"):
        inspect([0])
    vault, inspect, fixable = features.slice_lab(59)
    sample = inspect(np.random.default_rng(0).choice(len(vault.val), 60, replace=False))
    assert features.acceptable_slices({"seed": 59}) == ["rotated"]
    assert features.slice_mistake({"seed": 59}, "first") != "rotated"
    assert first.count("rotated") < sample.count("rotated")


def test_the_detectors_are_measured_on_a_canary_and_the_test_split_stays_sealed():
    vault, detect = features.detector_lab(4)
    F, planted = vault.val
    assert F.shape[0] == len(planted) == 400 and planted.dtype == bool and 0 < planted.mean() < 0.3
    assert (vault.train.y == -1).all()  # the training set's truth is only in the sealed split
    assert features.acceptable_detectors({"seed": 4}) == ["distance", "norm"]
    assert vault.test(lambda X: detect("norm", X), candidate="norm") == features.detector_scores(4)["norm"]["test"]
    with pytest.raises(ValueError, match="choose one of 'spectral'"):
        detect("loss", F)
