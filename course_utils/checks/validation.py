"""Exercises of lab 05, validation & model selection (``solutions/05_validation.ipynb``).

Ids start with ``val.``. This lab is being written: no exercises yet.
"""

from __future__ import annotations

EXERCISES = ()
