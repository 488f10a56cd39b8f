"""Exercises of lab 07, regularization (``solutions/07_regularization.ipynb``).

Ids start with ``reg.``. This lab is being written: no exercises yet.
"""

from __future__ import annotations

EXERCISES = ()
