"""Reading a learner's decision: the candidate their answer names, in whatever form the task allows.

A ``convert`` for :func:`.decisions.observe_decision`: a weight returned as ``np.float32(0.1)``, a 0-d
tensor or ``1`` (for ``1.0``), a name as ``np.str_``, a list of names as a tuple or an array -- each is
the candidate it names; anything else is a sentence listing the candidates.

>>> choose = candidate_among((0.1, 1.0, 10.0), "weight")
>>> choose(np.float32(0.1)), choose(1)
(0.1, 1.0)
>>> candidate_among(("a", "b"), "fix")(np.str_("b"))
'b'
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from course_utils.vault import same

from .values import AnswerError, describe, to_plain


def _plain(value: Any) -> Any:
    """NumPy and torch scalars (0-d arrays and tensors too) as Python numbers or texts."""
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "shape", None) == ():
        try:
            return item()
        except (TypeError, ValueError, RuntimeError):
            return value
    return value


def candidate_among(candidates: tuple, what: str) -> Callable[[Any], Any]:
    """The candidate the learner's answer names (numbers within float32 rounding), or an
    :class:`.values.AnswerError` naming the candidates."""
    listed = ", ".join(map(repr, candidates))

    def convert(value: Any) -> Any:
        plain = _plain(value)
        for candidate in candidates:
            if isinstance(plain, bool) or isinstance(candidate, str) != isinstance(plain, str):
                continue
            if isinstance(plain, (str, int, float)) and same(plain, candidate):
                return candidate
        raise AnswerError(f"expected the {what}, one of {listed}, got {describe(to_plain(value))}")

    return convert


def chose_unsupported(pick: Callable[[dict], Any], acceptable: Callable[[dict], list]) -> Callable:
    """A hint test on a decision's ``{"decision", "protocol"}`` answer: the learner chose ``pick(case)``,
    a typical wrong choice, and the evidence does not support it.

    >>> test = chose_unsupported(lambda case: "a", lambda case: ["b"])
    >>> test({"decision": "a", "protocol": "followed"}, None, {}), test({"decision": "b"}, None, {})
    (True, False)
    """
    return lambda got, want, case: (isinstance(got, dict) and got["decision"] == pick(case)
                                    and got["decision"] not in acceptable(case))
