"""Lesson 03's rule for a network at initialization, in one place.

The explorer of lesson 03 (``course_utils.widgets.initialization``) and the check of lab 03's
``init.diagnose`` (``course_utils.checks.initialization``) both apply it, from three measurements:

* the share of *saturated* units (:func:`saturated_share`): tanh or sigmoid outputs within 0.01 of a bound,
  where the activation is flat and its units barely learn;
* the activation std of the last layer over the first (the signal's growth through the layers);
* the norm of the first layer's weight gradient over the last layer's (the gradient's growth, backwards).

Saturation is read first (a saturated network keeps its std near 1 and would pass the other two), then
either factor beyond ten, up or down.

>>> diagnose([1.0, 0.98], saturated=0.87, gradient_ratio=5e4)  # tanh with N(0, 1) weights
'saturated'
>>> diagnose([0.04, 0.02], gradient_ratio=1e-14)  # sigmoid with N(0, 0.01^2) weights: stds alone say healthy
'vanishing'
"""

from __future__ import annotations

import math

import numpy as np

#: more than this share of the units saturated (mean over the layers): "saturated"
SATURATED_SHARE = 0.5
#: an output is saturated within this distance of a bound of its activation (ReLU and linear have none)
SATURATED_WITHIN = 0.01
SATURATION_BOUNDS = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}
#: the std ratio (last / first layer) and the gradient ratio (first / last layer) beyond this factor,
#: up or down: "exploding" or "vanishing"
FACTOR = 10.0
DIAGNOSES = ("vanishing", "exploding", "saturated", "healthy")


def saturated_share(outputs, activation: str) -> float:
    """The share of one layer's outputs (an array or a tensor) that are saturated, 0 for an activation
    without bounds.

    >>> saturated_share(np.array([0.0, 0.995, -1.0, 0.5]), "tanh")
    0.5
    >>> saturated_share(np.array([9.0, 0.0]), "relu")
    0.0
    """
    if activation not in SATURATION_BOUNDS:
        return 0.0
    low, high = SATURATION_BOUNDS[activation]
    h = np.asarray(outputs.detach() if hasattr(outputs, "detach") else outputs, dtype=float)
    return float(((h < low + SATURATED_WITHIN) | (h > high - SATURATED_WITHIN)).mean())


def diagnose(stds, saturated: float = 0.0, gradient_ratio: float = 1.0) -> str:
    """One of :data:`DIAGNOSES` from the per-layer activation ``stds``, the mean ``saturated`` share and
    the ``gradient_ratio`` (first layer's weight-gradient norm over the last layer's).

    >>> diagnose([0.5, 0.5], gradient_ratio=1e-6)
    'vanishing'
    >>> diagnose([1.0, 20.0])
    'exploding'
    """
    first, last = stds[0], stds[-1]
    if saturated > SATURATED_SHARE:
        return "saturated"
    if (not math.isfinite(last) or (first > 0 and last / first > FACTOR)
            or not math.isfinite(gradient_ratio) or gradient_ratio > FACTOR):
        return "exploding"
    if first == 0 or last / first < 1 / FACTOR or gradient_ratio < 1 / FACTOR:
        return "vanishing"
    return "healthy"
