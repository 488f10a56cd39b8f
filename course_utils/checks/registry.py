"""Every exercise of the course, by id.

Each topic module (``checks/<topic>.py``) lists its exercises in ``EXERCISES``;
grep an id (``init.he_std``) to find its cases, comparator and hints.
"""

from __future__ import annotations

import difflib

from . import (data_quality, features, imbalance, initialization, losses, normalization, optimizers, pinn,
               regularization, start, transfer, validation)
from .engine import Exercise

# In course order: one module per lab.
TOPICS = (start, data_quality, normalization, initialization, losses, validation, imbalance, regularization,
          optimizers, pinn, transfer, features)

EXERCISES: dict[str, Exercise] = {}
for _topic in TOPICS:
    for _exercise in _topic.EXERCISES:
        if _exercise.id in EXERCISES:
            raise RuntimeError(f"exercise id {_exercise.id!r} is defined twice")
        EXERCISES[_exercise.id] = _exercise


def get_exercise(exercise_id: str) -> Exercise:
    """The exercise with this id; a clear error, with a suggestion, for a typo."""
    try:
        return EXERCISES[exercise_id]
    except KeyError:
        close = difflib.get_close_matches(str(exercise_id), list(EXERCISES), n=1)
        suggestion = f"; did you mean {close[0]!r}?" if close else ""
        raise KeyError(f"unknown exercise {exercise_id!r}{suggestion}") from None
