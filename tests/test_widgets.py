"""Explorers: the figure changes when a control moves, and the numbers behind it are right."""

import ipywidgets as widgets
import numpy as np
import pytest

from course_utils.widgets import Explorer, activation_explorer
from course_utils.widgets.initialization import (diagnose, gradient_norms, histograms, layer_activations, saturation,
                                                 scheme_std)


def test_moving_a_control_redraws_the_picture_in_place():
    explorer = activation_explorer()
    before = explorer.image.value
    explorer.controls["std"].value = 1.0  # as a learner's slider would
    assert explorer.image.value != before
    assert explorer.widget.children[1] is explorer.image  # the same Image widget, updated
    assert explorer.last_update_ms > 0


@pytest.mark.parametrize("settings, diagnosis", [
    (dict(activation="tanh", scheme="gaussian", std=0.01), "vanishing"),
    (dict(activation="linear", scheme="gaussian", std=1.0), "exploding"),
    (dict(activation="tanh", scheme="gaussian", std=1.0), "saturated"),
    (dict(activation="relu", scheme="he"), "healthy"),
    (dict(activation="tanh", scheme="xavier"), "healthy"),
    # the activation stds alone would call these two healthy (lesson 03's table); the gradients do not
    (dict(activation="sigmoid", scheme="gaussian", std=0.01), "vanishing"),
    (dict(activation="sigmoid", scheme="xavier"), "vanishing"),
    (dict(activation="sigmoid", scheme="gaussian", std=1.0), "saturated"),
    (dict(activation="relu", scheme="gaussian", std=1.0), "exploding"),
])
def test_activation_explorer_shows_what_the_lesson_teaches(settings, diagnosis):
    explorer = activation_explorer().set(depth=10, **settings)
    assert explorer.result["diagnosis"] == diagnosis
    assert len(explorer.result["stds"]) == 10
    assert diagnosis in explorer.text.value


def test_std_slider_only_applies_to_the_gaussian_scheme():
    explorer = activation_explorer()
    explorer.set(scheme="he")
    assert explorer.controls["std"].disabled
    assert explorer.result["weight_std"] == pytest.approx(scheme_std("he", 256, 256, 0.0)) == pytest.approx(
        np.sqrt(2 / 256))
    explorer.set(scheme="gaussian")
    assert not explorer.controls["std"].disabled


def test_state_is_one_reproducible_line():
    a = activation_explorer().set(depth=7, activation="relu", std=0.2)
    b = activation_explorer()
    b.set(**eval(f"dict({a.state.replace(' ', ', ')})"))
    assert a.state == "depth=7 activation='relu' scheme='gaussian' std=0.2"
    assert a.result["stds"] == b.result["stds"] and a.image.value == b.image.value


def test_histogram_rows_pile_values_beyond_the_range_in_the_edge_bins():
    rows = histograms([np.array([-5.0, 0.0, 5.0, np.inf, np.nan])], bins=4)
    assert rows.shape == (1, 4)
    assert rows[0, 0] > 0 and rows[0, -1] > 0


def test_unknown_control_is_a_clear_error():
    explorer = Explorer({"a": widgets.IntSlider()}, lambda fig: {}, lambda artists, a: None)
    with pytest.raises(KeyError, match="no control named 'b'"):
        explorer.set(b=1)


def test_gradient_norms_agree_with_autograd():
    import torch

    rng = np.random.default_rng(1)
    weights, x, upstream = rng.standard_normal((3, 8, 8)), rng.standard_normal((5, 8)), rng.standard_normal((5, 8))
    for activation in ("tanh", "relu", "sigmoid", "linear"):
        outputs = layer_activations(weights, x, 3, activation, 0.4)
        got = gradient_norms(weights, x, outputs, activation, 0.4, upstream)
        used = [torch.tensor(w * 0.4, requires_grad=True) for w in weights]
        h = torch.tensor(x)
        for w in used:
            h = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid, "linear": lambda v: v}[activation](h @ w)
        (h * torch.tensor(upstream)).sum().backward()
        assert np.allclose(got, [w.grad.norm().item() for w in used], rtol=1e-10), activation


def test_the_diagnosis_reads_saturation_first_then_stds_and_gradients():
    assert saturation([np.full(10, 0.999), np.zeros(10)], "tanh") == 0.5
    assert saturation([np.full(4, 0.995)], "sigmoid") == 1.0 and saturation([np.full(4, 9.0)], "relu") == 0.0
    assert diagnose([1.0, 1.0], saturated=0.87, gradient_ratio=1e4) == "saturated"
    assert diagnose([1.0, 1.0], gradient_ratio=1e4) == "exploding"
    assert diagnose([1.0, 20.0]) == "exploding"
    assert diagnose([1.0, 0.5], gradient_ratio=1e-3) == "vanishing"
    assert diagnose([1.0, 0.05]) == "vanishing"
    assert diagnose([1.0, 0.5], saturated=0.4, gradient_ratio=5) == "healthy"
    assert diagnose([1.0, 0.5], gradient_ratio=20) == "exploding" and diagnose([1.0, 0.5], gradient_ratio=0.05) == "vanishing"


def test_explorer_reports_saturation_and_the_gradient_ratio():
    result = activation_explorer().set(depth=10, activation="tanh", scheme="gaussian", std=1.0).result
    assert result["saturated"] > 0.8 and result["gradient_ratio"] > 1e3  # saturated tanh: gradients grow backwards
    assert len(result["gradients"]) == 10
