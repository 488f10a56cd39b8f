"""Exercises of lab 01, data quality (``solutions/01_data_quality.ipynb``).

Ids start with ``data.``. This lab is being written: no exercises yet.
"""

from __future__ import annotations

EXERCISES = ()
