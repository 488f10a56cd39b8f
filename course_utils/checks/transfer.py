"""Exercises of lab 10, transfer learning (``solutions/10_transfer.ipynb``).

Ids start with ``transfer.``. This lab is being written: no exercises yet.
"""

from __future__ import annotations

EXERCISES = ()
