"""Exercises of lab 06, class imbalance (``solutions/06_imbalance.ipynb``).

Ids start with ``imb.``. This lab is being written: no exercises yet.
"""

from __future__ import annotations

EXERCISES = ()
