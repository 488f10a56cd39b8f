"""Exercises of lab 02, normalization & input representation (``solutions/02_normalization.ipynb``).

Ids start with ``norm.``. This lab is being written: no exercises yet.
"""

from __future__ import annotations

EXERCISES = ()
