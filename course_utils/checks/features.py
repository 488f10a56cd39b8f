"""Exercises of lab 11, feature space, error analysis & robustness (``solutions/11_features.ipynb``).

Ids start with ``feat.``. This lab is being written: no exercises yet.
"""

from __future__ import annotations

EXERCISES = ()
