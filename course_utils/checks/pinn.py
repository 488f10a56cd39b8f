"""Exercises of lab 09, a physics-informed network for the heat equation (``solutions/09_pinn.ipynb``).

Ids start with ``pinn.``. This lab is being written: no exercises yet.
"""

from __future__ import annotations

EXERCISES = ()
