"""Offline data and the shared training loop: seeded, shaped, and learning."""

import math

import numpy as np
import pytest
import torch

from course_utils import data
from course_utils.train import evaluate, fit, mlp


@pytest.mark.parametrize("make", [data.make_blobs, data.make_moons, data.make_rings, data.make_imbalanced])
def test_generators_are_seeded(make):
    X1, y1 = make(seed=3)
    X2, y2 = make(seed=3)
    X3, _ = make(seed=4)
    assert X1.dtype == np.float32 and y1.dtype == np.int64 and len(X1) == len(y1)
    assert np.array_equal(X1, X2) and np.array_equal(y1, y2)
    assert not np.array_equal(X1, X3)


@pytest.mark.parametrize("load, shape, classes", [(data.load_digits, (1797, 64), 10),
                                                  (data.load_breast_cancer, (569, 30), 2),
                                                  (data.load_wine, (178, 13), 3)])
def test_bundled_datasets_load_offline(load, shape, classes):
    X, y = load()
    assert X.shape == shape and len(np.unique(y)) == classes


def test_label_noise_flips_exactly_the_fraction_to_other_classes():
    _, y = data.load_digits()
    noisy, flipped = data.add_label_noise(y, 0.1, seed=0)
    assert flipped.sum() == round(0.1 * len(y))
    assert (noisy[flipped] != y[flipped]).all() and (noisy[~flipped] == y[~flipped]).all()


def test_imbalanced_mixture_has_the_asked_fraction():
    _, y = data.make_imbalanced(2000, positive_fraction=0.05, seed=1)
    assert y.mean() == pytest.approx(0.05)


def test_set_seed_makes_torch_reproducible():
    data.set_seed(5)
    a = torch.randn(3)
    data.set_seed(5)
    assert torch.equal(a, torch.randn(3))


def test_fit_starts_at_ln_c_and_learns():
    X, y = data.make_blobs(300, n_classes=3, seed=0)
    X = (X - X.mean(axis=0)) / X.std(axis=0)  # inputs of unit scale, so the logits start small
    data.set_seed(0)
    model = mlp([2, 16, 3])
    history = fit(model, X, y, epochs=15, lr=0.1, validation=(X, y))
    assert history["train_loss"][0] == pytest.approx(math.log(3), abs=0.3)
    assert history["train_loss"][-1] < 0.5 * history["train_loss"][0]
    assert history["val_accuracy"][-1] > 0.9
    assert len(history["train_loss"]) == 16
    assert evaluate(model, X, y)["accuracy"] == pytest.approx(history["train_accuracy"][-1])


def test_fit_is_reproducible():
    X, y = data.make_moons(200, seed=0)
    runs = []
    for _ in range(2):
        data.set_seed(0)
        runs.append(fit(mlp([2, 8, 2]), X, y, epochs=3)["train_loss"])
    assert runs[0] == runs[1]
