"""The decision exercises of labs 00-02: the reference solution and an independent alternative get full
marks on the variants of five learners, the choices the evidence supports differ between variants, and
the harnesses keep their budgets and their promises."""

import numpy as np
import pytest

from decisions_common import (assert_full_marks_on_variants, assert_supported_choices_differ, solution_function,
                              variant_cases)
from course_utils.checks.engine import OK, attempt, case_key, grade, vary
from course_utils.checks.registry import EXERCISES as REGISTRY
from course_utils.experiments import data_quality, normalization, start
from course_utils.vault import BudgetSpent


#: exercise id -> (lab notebook, the solution cell's grade id, the choices the evidence supports for a case)
DECISIONS = {
    "start.choose_model": ("00_warmup", "choose_model", start.acceptable_models),
    "start.compare_seeds": ("00_warmup", "compare_seeds", start.acceptable_widths),
    "data.relabel_first": ("01_data_quality", "relabel_first",
                           lambda case: data_quality.ranked(case["seed"])[:data_quality.relabel_problem(case["seed"])["budget"]]),
    "data.leak_threshold": ("01_data_quality", "leak_threshold", data_quality.acceptable_thresholds),
    "norm.choose_scaling": ("02_normalization", "choose_scaling", normalization.acceptable_scalings),
    "norm.representation": ("02_normalization", "choose_representation", normalization.acceptable_representations),
}


@pytest.mark.parametrize("exercise_id", sorted(DECISIONS))
def test_reference_and_alternatives_get_full_marks_on_five_variants(exercise_id):
    lab, grade_ids, _ = DECISIONS[exercise_id]
    assert_full_marks_on_variants(exercise_id, solution_function(lab, grade_ids))

@pytest.mark.parametrize("exercise_id", sorted(DECISIONS))
def test_the_supported_choices_differ_between_variants(exercise_id):
    assert_supported_choices_differ(exercise_id, DECISIONS[exercise_id][2])

# -- lab 00 ----------------------------------------------------------------------------------------------

def test_a_clearly_worse_model_is_not_supported_and_near_ties_are():
    """Seed 2: a linear boundary, the linear model far ahead of 1-NN on validation; seed 4: pure noise,
    where no model is distinguishable from another."""
    scores = start.model_scores(2)
    assert scores["linear"]["right"].mean() - scores["neighbours"]["right"].mean() > 0.05
    assert start.acceptable_models({"seed": 2}) == ["linear"]
    assert start.model_problem(4)["shape"] == "none" and len(start.acceptable_models({"seed": 4})) == 3


def test_the_width_harness_counts_seeds_and_keeps_its_budget():
    vault, fit = start.width_lab(0)
    for seed in range(3):
        fit(6, seed)
    assert vault.seeds_of(6) == 3 and vault.seeds_of(48) == 0
    with pytest.raises(ValueError, match="choose one of 6, 48"):
        fit(7, 0)
    for seed in range(7):
        fit(48, seed)
    with pytest.raises(BudgetSpent, match="budget is 10"):
        fit(48, 99)


def test_two_seeds_give_two_networks_and_the_same_seed_the_same_one():
    vault, fit = start.width_lab(1, budget=None)
    X = vault.val.X
    a, b, again = fit(6, 0).predict(X), fit(6, 1).predict(X), fit(6, 0).predict(X)
    assert (a == again).all() and (a != b).any()
    assert np.isin(a, (0, 1)).all()


# -- lab 01 ----------------------------------------------------------------------------------------------

def test_in_sample_probabilities_find_not_half_the_wrong_labels_out_of_fold_ones_find():
    """The distance-weighted neighbours vouch for every training label in-sample; out of fold they find
    the wrong ones."""
    for seed in range(3):
        budget = data_quality.relabel_problem(seed)["budget"]
        out_of_fold = data_quality.relabel_yield(seed, data_quality.ranked(seed)[:budget])
        in_sample = data_quality.relabel_yield(seed, data_quality.ranked(seed, out_of_fold=False)[:budget])
        assert out_of_fold >= 0.8 * min(budget, data_quality._relabel_data(seed)[2].sum())
        assert in_sample <= 0.5 * data_quality.relabel_needed(seed)


def test_the_supported_thresholds_lie_in_the_gap_and_follow_the_pixel_scale():
    for seed in range(6):
        distance = data_quality.nearest_train_distance(seed)
        leaked = data_quality._leak_data(seed)[5]
        slack = max(1, int(0.01 * len(distance)))
        for threshold in data_quality.acceptable_thresholds({"seed": seed}):
            assert (leaked & (distance > threshold)).sum() <= slack       # copies kept
            assert (~leaked & (distance <= threshold)).sum() <= slack     # genuine items removed
    scales = {data_quality.leak_problem(seed)["scale"] for seed in range(6)}
    assert scales == {1, 16}


def test_report_opens_the_test_set_and_logs_the_threshold():
    vault, X_test, report = data_quality.leak_lab(0)
    assert len(X_test) == len(vault.sealed()) and not vault.openings
    score = report(0.5)
    assert 0 < score <= 1 and vault.log()[0]["candidate"] == 0.5
    with pytest.raises(ValueError, match="removes every test item"):
        report(1e9)


# -- lab 02 ----------------------------------------------------------------------------------------------

def test_scaling_helps_when_the_large_features_are_noise_and_hurts_when_they_carry_the_class():
    """Seed 4: informative features ten times larger than the noise ones; seed 5: a hundred times smaller."""
    for seed, best in ((4, "none"), (5, "minmax")):
        right = normalization.scaling_right(seed)
        worse = {"none": "standard", "minmax": "none"}[best]
        assert right[best].mean() - right[worse].mean() > 0.1
        assert worse not in normalization.acceptable_scalings({"seed": seed})


def test_polar_wins_on_rings_and_loses_on_a_line():
    assert normalization.representation_problem(4)["radial"] == 1.0
    assert normalization.acceptable_representations({"seed": 4}) == ["polar"]
    assert normalization.representation_problem(2)["radial"] == 0.0
    assert normalization.acceptable_representations({"seed": 2}) == ["cartesian"]
