"""Topic 04, loss values (lesson 04) and debugging a training run (lesson 04b): the loss explorer, the
learning-curve model behind the other explorer, the explorers themselves, and the reference numbers the
lessons teach."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_utils.checks.losses import _buggy_epoch, _epoch_arguments
from course_utils.widgets.losses import (BINARY, LOSSES, SIZES, gaps, learning_curve_explorer, learning_curves,
                                         loss_curve, loss_explorer)


def test_curves_show_each_regime():
    bias = learning_curves(degree=1, noise=0.2, offset=0.0)
    assert bias["train"][-1] > 2 * bias["bayes"] and abs(bias["train_dev"][-1] - bias["train"][-1]) < 0.1
    variance = learning_curves(degree=12, noise=0.2, offset=0.0)
    small = list(SIZES).index(19)
    assert variance["train_dev"][small] - variance["train"][small] > 0.1
    assert variance["train_dev"][-1] - variance["train"][-1] < 0.05  # more data closes the gap
    mismatch = learning_curves(degree=7, noise=0.2, offset=0.4)
    found = gaps(0.2, mismatch["train"][-1], mismatch["train_dev"][-1], mismatch["dev"][-1])
    assert max(found, key=found.get) == "data mismatch"
    assert mismatch["dev"][-1] == pytest.approx(math.hypot(0.2, 0.4), rel=0.1)  # noise and offset add up


def test_a_good_fit_reaches_the_noise_level():
    for noise in (0.1, 0.3):
        curves = learning_curves(degree=9, noise=noise, offset=0.0)
        assert curves["train"][-1] == pytest.approx(noise, rel=0.15)
        assert curves["train_dev"][-1] == pytest.approx(noise, rel=0.15)


def test_explorer_follows_its_controls():
    explorer = learning_curve_explorer()
    assert explorer.result["diagnosis"] == "good"
    images = {explorer.image.value}
    for values, diagnosis in ((dict(degree=1), "high bias"), (dict(degree=15, n=14), "high variance"),
                              (dict(degree=7, n=400, offset=0.4), "data mismatch"), (dict(offset=0.0), "good")):
        explorer.set(**values)
        assert explorer.result["diagnosis"] == diagnosis, values
        images.add(explorer.image.value)
    assert len(images) == 5
    assert "degree=7" in explorer.state and "offset=0.0" in explorer.state


def test_reference_values_of_the_lesson():
    assert math.log(5) == pytest.approx(1.609, abs=1e-3)
    assert -math.log(1e-6) == pytest.approx(13.8, abs=0.02)
    # Sigmoid + BCELoss: the loss is clamped at 100 and the gradient vanishes; from logits it does not.
    z = torch.tensor([-200.0], requires_grad=True)
    F.binary_cross_entropy(torch.sigmoid(z), torch.ones(1)).backward()
    assert z.grad.abs().item() < 1e-6
    z = torch.tensor([-200.0], requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(z, torch.ones(1))
    loss.backward()
    assert loss.item() == pytest.approx(200.0) and z.grad.item() == pytest.approx(-1.0)


def test_each_planted_bug_changes_the_run():
    case = {"seed": 0, "n": 120, "features": 6, "noise": 1.0, "dropout": 0.3, "lr": 0.1, "batch_size": 20}
    runs = {bug: _buggy_epoch(case, bug) for bug in ("no zero_grad", "labels shuffled apart",
                                                      "softmax on the batch axis")}
    losses = [tuple(np.round(run["losses"], 6)) for run in runs.values()]
    assert len(set(losses)) == 3
    with pytest.raises(ValueError):
        _buggy_epoch(case, "none")
    assert len(_epoch_arguments(case)["X"]) == 120


def test_loss_explorer_shows_the_reference_values():
    explorer = loss_explorer()
    for classes in (2, 5, 10):
        result = explorer.set(loss="cross-entropy (logits)", classes=classes).result
        assert result["at_zero"] == pytest.approx(math.log(classes), abs=1e-5)
        assert result["gradient_far"] == pytest.approx(1.0, abs=1e-5)  # a confident mistake is still pushed
    mse = explorer.set(loss="MSE on probabilities", classes=5).result
    assert mse["at_zero"] == pytest.approx(0.80, abs=1e-6) and mse["loss_far"] == pytest.approx(1.25, abs=1e-6)
    twice = explorer.set(loss="softmax, then cross-entropy", classes=10).result
    assert twice["lowest"] == pytest.approx(math.log(1 + 9 / math.e), rel=1e-4) and twice["gradient_far"] < 1e-6
    clamped = explorer.set(loss="Sigmoid + BCELoss").result
    assert clamped["highest"] == pytest.approx(100.0) and clamped["gradient_far"] < 1e-12
    assert explorer.controls["classes"].disabled  # binary losses have no C
    stable = explorer.set(loss="BCEWithLogitsLoss").result
    assert stable["loss_far"] == pytest.approx(60.0) and stable["gradient_far"] == pytest.approx(1.0)
    assert not explorer.set(loss="cross-entropy (logits)").controls["classes"].disabled


def test_loss_explorer_redraws_for_every_loss_and_class_count():
    explorer = loss_explorer()
    images = {explorer.set(loss=loss).image.value for loss in LOSSES}
    assert len(images) == len(LOSSES)
    before = explorer.set(loss="cross-entropy (logits)", classes=5).image.value
    assert explorer.set(classes=12).image.value != before
    assert explorer.state == "loss='cross-entropy (logits)' classes=12"


def test_loss_curve_agrees_with_the_closed_forms():
    z = np.array([-5.0, 0.0, 3.0])
    loss, gradient = loss_curve("cross-entropy (logits)", 4, z)
    p = np.exp(z) / (np.exp(z) + 3)
    assert np.allclose(loss, -np.log(p), rtol=1e-5) and np.allclose(gradient, p - 1, atol=1e-6)
    for name in BINARY:
        loss, gradient = loss_curve(name, 2, z)
        assert np.allclose(loss, np.log1p(np.exp(-z)), rtol=1e-5)  # they agree where |z| is small
    with pytest.raises(ValueError, match="unknown loss"):
        loss_curve("hinge", 2, z)
