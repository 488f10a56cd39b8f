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


#: the course's modules whose code decides reference answers when a topic module uses them: experiment
#: harnesses, the vault, the clinic's broken runs, data and training helpers
ANSWER_CODE = ("course_utils.experiments", "course_utils.vault", "course_utils.clinic", "course_utils.preflight",
               "course_utils.data", "course_utils.train", "course_utils.heat", "course_utils.transfer")


def definitions_digest(exercise_ids) -> str:
    """A fingerprint of what decides the reference answers of these exercises besides the solution: the
    source of their topic modules (cases, ``arguments``, ``observe``), of the answer encoding, and of
    the harness and data code the topic modules use (:data:`ANSWER_CODE`, followed from module to module).

    Stored with the recorded answers, so that editing a case or a harness without ``course release`` is
    caught.

    >>> definitions_digest(["init.he_std"]) == definitions_digest(["init.xavier_std"])  # same module
    True
    """
    from . import values

    modules = _with_answer_code({TOPIC_OF[e] for e in exercise_ids if e in TOPIC_OF}) | {values}
    digest = hashlib.sha256()
    for module in sorted(modules, key=lambda m: m.__name__):
        digest.update(module.__name__.encode() + b"\0" + inspect.getsource(module).encode() + b"\0")
    return digest.hexdigest()


def _with_answer_code(modules: set) -> set:
    """``modules`` and every :data:`ANSWER_CODE` module their source imports (inside functions too: the
    harnesses are imported lazily), followed from module to module."""
    import ast
    import importlib
    import importlib.util

    seen, todo = set(modules), list(modules)
    while todo:
        module = todo.pop()
        package = module.__name__ if hasattr(module, "__path__") else module.__name__.rpartition(".")[0]
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            if isinstance(node, ast.ImportFrom):
                base = importlib.util.resolve_name("." * node.level + (node.module or ""), package) \
                    if node.level else node.module
                names = [base] + [f"{base}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if not name or not name.startswith(ANSWER_CODE):
                    continue
                try:
                    found = importlib.import_module(name)
                except ImportError:  # a name imported from a module, not a module
                    continue
                if found not in seen:
                    seen.add(found)
                    todo.append(found)
    return seen


def get_exercise(exercise_id: str) -> Exercise:
    """The exercise with this id; a clear error, with a suggestion, for a typo."""
    try:
        return EXERCISES[exercise_id]
    except KeyError:
        close = difflib.get_close_matches(str(exercise_id), list(EXERCISES), n=1)
        suggestion = f"; did you mean {close[0]!r}?" if close else ""
        raise KeyError(f"unknown exercise {exercise_id!r}{suggestion}") from None
