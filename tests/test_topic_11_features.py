"""Topic 11, feature space, error analysis & robustness: the snapshot trainer, the PCA helper, the
feature-space explorer and the lesson's poisoning claims. (The lab's correct answers written differently are in
tests/alternatives/features.py.)"""

import numpy as np
import pytest
import torch

from course_utils.checks.features import TRIGGER
from course_utils.data import load_digits, set_seed
from course_utils.train import evaluate, fit, mlp
from course_utils.widgets.features import (LIMIT, feature_explorer, hidden_layers, pca_2d, penultimate, silhouette,
                                           spectral_recall, train_with_snapshots)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    order = np.random.default_rng(0).permutation(len(X))
    return X, y, order[:1000], order[1400:]


# -- train_with_snapshots ----------------------------------------------------------------------------

def test_snapshot_training_is_exactly_fit(digits):
    """The lesson mixes both: a snapshot run must give the weights that fit() gives."""
    X, y, train, test = digits
    model, run = train_with_snapshots(X[train[:300]], y[train[:300]], X[:7], X[test], y[test], epochs=3, seed=4)
    set_seed(4)
    reference = mlp([64, 128, 64, 10])
    history = fit(reference, X[train[:300]], y[train[:300]], epochs=3, lr=0.05, momentum=0.9, batch_size=32,
                  seed=4)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), reference.parameters()))
    assert run["features"].shape == (4, 7, 64) and run["accuracy"].shape == (4,)
    assert run["accuracy"][-1] == pytest.approx(evaluate(reference, X[test], y[test])["accuracy"])
    assert np.allclose(run["features"][-1], penultimate(reference, X[:7]))
    assert [layer.shape for layer in run["layers"]] == [(4, 7, 128), (4, 7, 64)]
    assert np.allclose(run["layers"][0][-1], hidden_layers(reference, X[:7])[0])
    with torch.no_grad():
        assert np.allclose(run["layers"][0][-1], reference[:2](torch.as_tensor(X[:7])).numpy())
    assert history["train_loss"][-1] < history["train_loss"][0]


def test_penultimate_uses_eval_mode_and_restores_the_mode():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Dropout(0.5), torch.nn.Linear(8, 2))
    x = np.ones((3, 4), np.float32)
    a, b = penultimate(net, x), penultimate(net, x)
    assert net.training and np.array_equal(a, b) and a.shape == (3, 8)  # no dropout noise, mode restored


# -- pca_2d and silhouette ---------------------------------------------------------------------------

def test_pca_2d_has_unit_spread_and_follows_the_reference_signs():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 5)) * [5.0, 2.0, 1.0, 0.5, 0.1] + 3.0
    coords = pca_2d(features)
    assert coords.shape == (200, 2) and coords[:, 0].std() == pytest.approx(1.0)
    assert abs(coords.mean(axis=0)).max() < 1e-9
    assert coords[:, 1].std() == pytest.approx(0.4, abs=0.08)  # 2 / 5, the ratio of the spreads
    flipped = pca_2d(features, reference=-coords)
    assert np.allclose(flipped, -coords)


def test_silhouette_is_high_for_separate_clusters_and_zero_for_constant_features():
    labels = np.repeat([0, 1, 2], 50)
    clusters = np.eye(3)[labels] * 10 + np.random.default_rng(0).normal(size=(150, 3))
    assert silhouette(clusters, labels) > 0.7
    assert silhouette(clusters, labels, max_points=60) > 0.7
    assert silhouette(np.zeros((150, 3)), labels) == 0.0


# -- the explorer ---------------------------------------------------------------------------------------

LAYERS = ["1st hidden", "penultimate"]


@pytest.fixture(scope="module")
def runs(digits):
    """A clean and a poisoned run (12 of 400 images triggered and relabelled 0), 6 epochs, both layers."""
    X, y, train, test = digits
    part = train[:400]
    marked = np.zeros(len(part), bool)
    marked[np.flatnonzero(y[part] != 0)[:12]] = True
    X_p, y_p = X[part].copy(), y[part].copy()
    X_p[np.ix_(np.flatnonzero(marked), TRIGGER)] = 1.0
    y_p[marked] = 0
    runs = {}
    settings = {"clean": (X[part], y[part], None), "poisoned": (X_p, y_p, marked)}
    for name, (images, labels, mark) in settings.items():
        _, run = train_with_snapshots(images, labels, images, X[test], y[test], epochs=6)
        runs[name] = {"features": dict(zip(LAYERS, run["layers"])), "labels": labels, "accuracy": run["accuracy"],
                      "marked": mark}
    return runs


@pytest.fixture(scope="module")
def explorer(runs):
    return feature_explorer(runs)


def test_snapshots_hold_every_hidden_layer(runs):
    first, last = runs["clean"]["features"].values()
    assert first.shape == (7, 400, 128) and last.shape == (7, 400, 64)


def test_moving_the_epoch_redraws_the_picture(explorer):
    explorer.set(epoch=6, run="clean", layer="penultimate", view="all images")
    before = explorer.image.value
    explorer.controls["epoch"].value = 0
    assert explorer.image.value != before
    assert explorer.widget.children[1] is explorer.image
    assert explorer.state == "epoch=0 run='clean' layer='penultimate' view='all images'"


@pytest.mark.parametrize("control, value", [("run", "poisoned"), ("layer", "1st hidden"),
                                            ("view", "target class only")])
def test_every_control_changes_the_picture(explorer, control, value):
    explorer.set(epoch=6, run="clean", layer="penultimate", view="all images")
    before = explorer.image.value
    explorer.controls[control].value = value
    assert explorer.image.value != before and explorer.result[control] == value


def test_switching_the_run_shows_the_marked_points(explorer, runs):
    clean = explorer.set(epoch=6, run="clean", view="all images").result
    poisoned = explorer.set(run="poisoned").result
    assert clean["marked"] == 0 and poisoned["marked"] == 12 == runs["poisoned"]["marked"].sum()
    assert np.isnan(clean["recall"]) and 0 <= poisoned["recall"] <= 1
    assert len(explorer.artists["crosses"].get_offsets()) == 12
    assert "12 marked" in explorer.text.value


def test_target_view_shows_the_images_labelled_as_the_target(explorer, runs):
    result = explorer.set(run="poisoned", view="target class only", epoch=6).result
    labels = runs["poisoned"]["labels"]
    assert result["points"] == np.sum(labels == 0) == len(explorer.artists["points"].get_offsets())
    assert result["marked"] == 12  # every poisoned image is labelled 0
    assert "images labelled 0" in explorer.artists["title"].get_text()


def test_explorer_numbers_are_those_of_the_runs(explorer, runs):
    run = runs["poisoned"]
    zeros = run["labels"] == 0
    for layer in LAYERS:
        for epoch in (0, 3, 6):
            result = explorer.set(epoch=epoch, run="poisoned", layer=layer, view="all images").result
            features = run["features"][layer][epoch]
            assert result["accuracy"] == pytest.approx(run["accuracy"][epoch])
            assert result["silhouette"] == pytest.approx(silhouette(features, run["labels"], 500))
            assert result["recall"] == pytest.approx(spectral_recall(features[zeros], run["marked"][zeros]))
            expected = np.clip(pca_2d(features), -LIMIT, LIMIT)
            shown = explorer.artists["points"].get_offsets()
            assert np.allclose(np.abs(shown), np.abs(expected), atol=1e-4)  # the same projection, signs aligned
    assert explorer.result["points"] == 400
    trained = explorer.set(epoch=6, run="clean", layer="penultimate").result
    untrained = explorer.set(epoch=0).result
    assert trained["accuracy"] > 0.8 > 0.3 > untrained["accuracy"]
    assert trained["silhouette"] > untrained["silhouette"]


def test_spectral_recall_counts_the_flagged_marked_images():
    features = np.zeros((10, 2))
    features[:, 1] = np.arange(10) * 0.01
    features[[2, 7], 0] = 5.0  # two outliers along the first axis
    marked = np.zeros(10, bool)
    marked[[2, 7]] = True
    assert spectral_recall(features, marked) == 1.0  # 3 flagged, both marked among them
    marked[[2, 5]] = True, True
    marked[7] = False
    assert spectral_recall(features, marked) == 0.5


def test_explorer_updates_within_the_budget(explorer):
    times = []
    for run in ("clean", "poisoned"):
        for layer in LAYERS:
            for view in ("all images", "target class only"):
                for epoch in (0, 3, 6):
                    explorer.set(epoch=epoch, run=run, layer=layer, view=view)
                    times.append(explorer.last_update_ms)
    for control, values in [("epoch", range(7)), ("layer", LAYERS), ("view", ["all images", "target class only"])]:
        for value in values:
            explorer.controls[control].value = value
            times.append(explorer.last_update_ms)
    assert max(times) <= 150, times


def test_a_single_array_of_features_gives_no_layer_control(runs):
    run = runs["clean"]
    explorer = feature_explorer({"only": {**run, "features": run["features"]["penultimate"]}})
    assert "layer" not in explorer.controls and explorer.result["layer"] == "penultimate"


# -- the lesson's poisoning claims -------------------------------------------------------------------------

def test_a_three_percent_backdoor_keeps_clean_accuracy_and_the_first_layer_finds_it(digits):
    """The lesson's setting (seeded): 30 of 1000 training images poisoned. Measured: clean accuracy 0.980
    (clean network 0.980), attack success 0.994; spectral signature recall 0.53 on the penultimate layer,
    0.97 on the first hidden layer."""
    X, y, train, test = digits
    rows = np.sort(np.random.default_rng(1).choice(np.flatnonzero(y[train] != 0), 30, replace=False))
    X_p, y_p = X[train].copy(), y[train].copy()
    X_p[np.ix_(rows, TRIGGER)] = 1.0
    y_p[rows] = 0
    set_seed(0)
    net = mlp([64, 128, 64, 10])
    fit(net, X_p, y_p, epochs=20, lr=0.05, momentum=0.9, batch_size=32)
    assert evaluate(net, X[test], y[test])["accuracy"] > 0.95
    others = X[test][y[test] != 0].copy()
    others[:, TRIGGER] = 1.0
    with torch.no_grad():
        assert (net(torch.as_tensor(others)).argmax(dim=1) == 0).float().mean() > 0.9

    zeros = np.flatnonzero(y_p == 0)

    def recall(layer):
        with torch.no_grad():
            features = net[:2 * layer](torch.as_tensor(X_p[zeros])).numpy()
        centred = features - features.mean(axis=0)
        scores = (centred @ np.linalg.svd(centred, full_matrices=False)[2][0]) ** 2
        return np.isin(zeros[np.argsort(scores)[::-1][:45]], rows).mean() * 45 / 30

    assert recall(1) >= 0.85 and recall(1) > recall(2) + 0.2
