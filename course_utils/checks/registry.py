"""Every exercise of the course, by id.

Each topic module (``checks/<topic>.py``) lists its exercises in ``EXERCISES``;
grep an id (``init.he_std``) to find its cases, comparator and hints.
"""

from __future__ import annotations

import difflib
import hashlib
import inspect

from . import (clinic, data_quality, features, imbalance, initialization, losses, normalization, optimizers, pinn,
               regularization, start, transfer, validation)
from .engine import Exercise

# In course order: one module per lab.
TOPICS = (start, data_quality, normalization, initialization, losses, validation, imbalance, regularization,
          optimizers, pinn, transfer, features, clinic)

EXERCISES: dict[str, Exercise] = {}
TOPIC_OF: dict[str, object] = {}  # exercise id -> the module that defines it
for _topic in TOPICS:
    for _exercise in _topic.EXERCISES:
        if _exercise.id in EXERCISES:
            raise RuntimeError(f"exercise id {_exercise.id!r} is defined twice")
        EXERCISES[_exercise.id] = _exercise
        TOPIC_OF[_exercise.id] = _topic


def definitions_digest(exercise_ids) -> str:
    """A fingerprint of what decides the reference answers of these exercises besides the solution: the
    source of their topic modules (cases, ``arguments``, ``observe``) and of the answer encoding.

    Stored with the recorded answers, so that editing a case without ``course release`` is caught.

    >>> definitions_digest(["init.he_std"]) == definitions_digest(["init.xavier_std"])  # same module
    True
    """
    from . import values

    modules = {TOPIC_OF[e] for e in exercise_ids if e in TOPIC_OF} | {values}
    digest = hashlib.sha256()
    for module in sorted(modules, key=lambda m: m.__name__):
        digest.update(module.__name__.encode() + b"\0" + inspect.getsource(module).encode() + b"\0")
    return digest.hexdigest()


def get_exercise(exercise_id: str) -> Exercise:
    """The exercise with this id; a clear error, with a suggestion, for a typo."""
    try:
        return EXERCISES[exercise_id]
    except KeyError:
        close = difflib.get_close_matches(str(exercise_id), list(EXERCISES), n=1)
        suggestion = f"; did you mean {close[0]!r}?" if close else ""
        raise KeyError(f"unknown exercise {exercise_id!r}{suggestion}") from None
