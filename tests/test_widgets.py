"""Explorers: the figure changes when a control moves, and the numbers behind it are right."""

import ipywidgets as widgets
import numpy as np
import pytest

from course_utils.widgets import Explorer, activation_explorer
from course_utils.widgets.initialization import histograms, scheme_std


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
