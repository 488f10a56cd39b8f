"""The decision exercises of labs 06-08: the reference solution and the independent alternatives get full
marks on the variants of five learners, the choices the evidence supports differ between variants, a
clearly worse choice is never supported, and the harnesses keep their budgets, seeds and sealed test sets."""

import numpy as np
import pytest

from decisions_common import (assert_full_marks_on_variants, assert_supported_choices_differ, solution_function,
                              variant_cases)
from course_utils.checks.engine import OK, attempt, case_key, grade, vary
from course_utils.checks.registry import EXERCISES as REGISTRY
from course_utils.experiments import imbalance, optimizers, regularization
from course_utils.experiments.seeded import supported_over_seeds
from course_utils.vault import BudgetSpent


#: exercise id -> (lab notebook, the grade ids of the cells the solution needs, the choices the evidence supports)
DECISIONS = {
    "imb.threshold": ("06_imbalance", ("threshold_for_recall", "choose_threshold"), imbalance.acceptable_thresholds),
    "imb.remedy": ("06_imbalance", ("choose_remedy",), imbalance.acceptable_remedies),
    "reg.weight_decay": ("07_regularization", ("choose_weight_decay",), regularization.acceptable_weight_decays),
    "reg.stop_epoch": ("07_regularization", ("choose_stop_epoch",), regularization.acceptable_epochs),
    "opt.optimizer": ("08_optimizers", ("choose_optimizer",), optimizers.acceptable_optimizers),
    "opt.learning_rate": ("08_optimizers", ("range_test_lr", "choose_learning_rate"),
                          optimizers.acceptable_learning_rates),
}


@pytest.mark.parametrize("exercise_id", sorted(DECISIONS))
def test_reference_and_alternatives_get_full_marks_on_five_variants(exercise_id):
    lab, grade_ids, _ = DECISIONS[exercise_id]
    assert_full_marks_on_variants(exercise_id, solution_function(lab, grade_ids))

@pytest.mark.parametrize("exercise_id", sorted(DECISIONS))
def test_the_supported_choices_differ_between_variants(exercise_id):
    assert_supported_choices_differ(exercise_id, DECISIONS[exercise_id][2])

def test_within_noise_of_the_best_is_supported_and_clearly_worse_is_not():
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.01, size=(3, 5))
    scores = {"best": 0.30 + noise[0], "tie": 0.301 + noise[1], "worse": 0.40 + noise[2]}
    assert supported_over_seeds(scores, seeds_needed=3) == ["best", "tie"]
    # higher is better: the same table, negated
    assert supported_over_seeds({c: -v for c, v in scores.items()}, seeds_needed=3, lower_is_better=False) == \
        ["best", "tie"]


def test_the_best_of_any_three_seeds_is_supported():
    """A learner who ran seeds 0, 1 and 2 and found the best there is right, even if all five seeds say otherwise."""
    scores = {"a": [0.30, 0.30, 0.30, 0.60, 0.60], "b": [0.40, 0.40, 0.40, 0.40, 0.40]}
    assert supported_over_seeds(scores, seeds_needed=3) == ["a", "b"]
    assert supported_over_seeds(scores, seeds_needed=5) == ["b"]


# -- lab 06 -------------------------------------------------------------------------------------------------

def test_the_training_scores_give_a_threshold_that_misses_the_recall_on_validation():
    case = REGISTRY["imb.threshold"].cases[0]
    lab = imbalance.threshold_lab(case["seed"])
    on_training = imbalance.threshold_on(case["seed"], "train")
    assert imbalance.validation_recall(case["seed"], on_training) < lab.required_recall - 0.03
    assert on_training not in imbalance.acceptable_thresholds(case)
    highest = imbalance.acceptable_thresholds(case)[0]
    assert imbalance.validation_recall(case["seed"], highest) >= lab.required_recall


def test_the_threshold_lab_keeps_the_test_split_sealed_and_logs_each_opening():
    lab = imbalance.threshold_lab(0)
    with pytest.raises(ValueError, match="the test set opens with lab.test"):
        lab.scores("test")
    t = imbalance.acceptable_thresholds({"seed": 0})[0]
    result = lab.test(t - 1e-9)          # just below a positive's score: the same decision on validation
    assert set(result) == {"recall", "precision"} and lab.protocol(t) == "followed"


def test_random_oversampling_hurts_the_neighbours_model_on_every_variant():
    for case in variant_cases("imb.remedy"):
        assert "oversample" not in imbalance.acceptable_remedies(case)


def test_the_remedy_lab_keeps_its_budget_and_its_seeds():
    lab = imbalance.remedy_lab(0)
    with pytest.raises(ValueError, match="the seeds of this lab are"):
        lab.run("none", 7)
    with pytest.raises(ValueError, match="not one of the remedys|not one of the remedies|is not one of"):
        lab.run("smote", 0)
    with pytest.raises(ValueError, match="train the remedy 'none' before you test it"):
        lab.test("none")
    for seed in range(4):
        for remedy in imbalance.REMEDIES:
            lab.run(remedy, seed)
    with pytest.raises(BudgetSpent, match="the budget is 12 trainings"):
        lab.run("none", 4)


# -- lab 07 -------------------------------------------------------------------------------------------------

def test_the_lowest_training_loss_is_no_weight_decay_and_it_is_not_supported():
    case = REGISTRY["reg.weight_decay"].cases[0]
    assert regularization.best_on_training_loss(case["seed"]) == 0.0
    assert 0.0 not in regularization.acceptable_weight_decays(case)


def test_the_last_epoch_has_overfitted():
    case = REGISTRY["reg.stop_epoch"].cases[0]
    losses = regularization.losses_by_epoch(case["seed"])
    best = min(losses, key=lambda e: losses[e].mean())
    assert losses[regularization.EPOCHS].mean() > losses[best].mean() + 0.05
    assert regularization.EPOCHS not in regularization.acceptable_epochs(case)


def test_a_stopping_run_counts_every_epoch_as_trained_with_its_seed():
    lab = regularization.stopping_lab(0)
    curves = lab.run(2)
    assert set(curves) == {"train_loss", "train_accuracy", "val_loss", "val_accuracy"}
    assert len(curves["val_loss"]) == regularization.EPOCHS + 1
    assert lab.vault.seeds_of(0) == lab.vault.seeds_of(regularization.EPOCHS) == 1


# -- lab 08 -------------------------------------------------------------------------------------------------

def test_the_good_learning_rates_move_with_the_scale_of_the_inputs():
    """A larger input scale, a smaller learning rate: the variants really ask different questions."""
    seeds = sorted(range(8), key=lambda s: optimizers.problem(s)["scale"])
    small, large = seeds[0], seeds[-1]
    assert min(optimizers.acceptable_learning_rates({"seed": small})) > \
        max(optimizers.acceptable_learning_rates({"seed": large}))


def test_the_raw_range_test_minimum_is_too_large():
    case = REGISTRY["opt.learning_rate"].cases[0]
    raw = optimizers.range_test_minimum(case["seed"])
    assert raw > max(optimizers.acceptable_learning_rates(case))


def test_the_range_test_costs_one_training_and_is_not_a_candidate():
    lab = optimizers.learning_rate_lab(0)
    test = lab.range_test()
    assert np.all(np.diff(np.log(test["lrs"])) > 0) and lab.vault.spent == 1 and not lab.vault.trainings
