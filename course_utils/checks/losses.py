"""Exercises of lab 04, loss values & debugging (``solutions/04_losses.ipynb``).

Ids start with ``loss.``. This lab is being written: no exercises yet.
"""

from __future__ import annotations

EXERCISES = ()
