"""Topic 05, validation & model selection: the search explorer, and the checks that judge answers by their
properties (group folds) accept every right answer and reject the wrong ones."""

import numpy as np
import pytest
from sklearn.model_selection import GroupKFold

from course_utils.checks.validation import _folds_observe, _groups_arguments
from course_utils.widgets.validation import (BUDGETS, best_error_curves, distinct_values, grid_points, random_points,
                                             search, search_explorer, validation_error)


def test_grid_tries_square_root_many_values_random_tries_all():
    for budget in (9, 16, 25, 64):
        assert distinct_values(grid_points(budget)[:, 0]) == int(np.sqrt(budget))
        assert distinct_values(random_points(budget, seed=1)[:, 0]) == budget


def test_random_search_finds_better_on_average_and_coarse_to_fine_helps():
    curves = best_error_curves()
    late = BUDGETS >= 16
    assert curves[("random", False)][late].mean() < curves[("grid", False)][late].mean()
    assert curves[("random", True)][BUDGETS >= 32].mean() < curves[("random", False)][BUDGETS >= 32].mean()
    assert validation_error(np.array([-2.3]), np.array([-3.5]))[0] == pytest.approx(0.08)


def test_coarse_to_fine_stays_in_the_ranges():
    found = search("random", 40, seed=2, coarse_to_fine=True)
    assert len(found["points"]) == 40
    assert (found["points"][:, 0] >= -5).all() and (found["points"][:, 0] <= 0).all()


def test_explorer_follows_its_controls():
    explorer = search_explorer()
    images = {explorer.image.value}
    grid = explorer.result
    assert explorer.controls["seed"].disabled  # a grid has no randomness
    random = explorer.set(method="random").result
    assert not explorer.controls["seed"].disabled
    images.add(explorer.image.value)
    assert grid["distinct_lr"] == 4 and random["distinct_lr"] == 16
    explorer.set(coarse_to_fine=True)
    images.add(explorer.image.value)
    explorer.set(seed=5)
    images.add(explorer.image.value)
    assert len(images) == 4
    assert explorer.state == "method='random' budget=16 coarse_to_fine=True seed=5"


def test_group_folds_check_accepts_scikit_learns_group_kfold():
    kwargs = _groups_arguments({"seed": 0, "n_groups": 12, "min_size": 1, "max_size": 6, "n_splits": 4})
    folds = [test for _, test in GroupKFold(4).split(kwargs["groups"], groups=kwargs["groups"])]
    observed = _folds_observe(folds, kwargs)
    assert observed["every_sample_once"] and observed["groups_split"] == 0 and observed["n_folds"] == 4
