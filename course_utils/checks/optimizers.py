"""Exercises of lab 08, optimizers & learning rates (``solutions/08_optimizers.ipynb``).

Ids start with ``opt.``. This lab is being written: no exercises yet.
"""

from __future__ import annotations

EXERCISES = ()
