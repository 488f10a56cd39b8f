"""Hint rules: recognise a typical wrong answer and name the mistake.

A rule is asked only about a case that failed. It sees the learner's answer
(``got``), the reference answer (``want``) and the case's inputs (``case``),
all as plain decoded values.

Two ways to write one:

* :func:`like` -- compute the typical wrong answer and let the rule fire when
  the learner's answer equals it::

      like(lambda want, case: want ** 2,
           "you returned the variance; the standard deviation is its square root")

* :func:`when` -- any predicate over ``(got, want, case)``::

      when(lambda got, want, case: got < 0, "a standard deviation is never negative")

>>> rule = like(lambda want, case: want / 2, "off by a factor of two")
>>> rule.matches(1.0, 2.0, {})
True
>>> rule.matches(1.5, 2.0, {})
False
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .compare import close, is_number


@dataclass(frozen=True)
class Hint:
    """A rule: ``test(got, want, case)`` recognises a mistake, ``says`` names it.

    ``reveals`` marks a rule whose firing tells the expected answer (e.g. "every gap is within the
    tolerance: the answer is 'good'"); such a rule is never used on a hidden case.
    """

    says: str
    test: Callable[[Any, Any, dict], bool]
    reveals: bool = False

    def matches(self, got: Any, want: Any, case: dict) -> bool:
        """True when the rule recognises ``got``; a rule that crashes never matches."""
        try:
            return bool(self.test(got, want, case))
        except Exception:
            return False


def like(wrong: Callable[[Any, dict], Any], says: str, rtol: float = 1e-4, *, reveals: bool = False) -> Hint:
    """Fires when the answer equals ``wrong(want, case)`` within ``rtol``."""
    compare = close(rtol=rtol, atol=1e-12)

    def test(got: Any, want: Any, case: dict) -> bool:
        return compare(got, wrong(want, case)).ok

    return Hint(says, test, reveals)


def when(predicate: Callable[[Any, Any, dict], bool], says: str, *, reveals: bool = False) -> Hint:
    """Fires when ``predicate(got, want, case)`` is true."""
    return Hint(says, predicate, reveals)


def ratio(got: Any, want: Any) -> float:
    """``got / want`` for two numbers (``nan`` when it is undefined).

    >>> ratio(3.0, 2.0)
    1.5
    """
    if not (is_number(got) and is_number(want)) or float(want) == 0:
        return float("nan")
    return float(got) / float(want)


def first_match(hints: tuple[Hint, ...], got: Any, want: Any, case: dict, *, hidden: bool = False) -> str:
    """The message of the first rule that recognises ``got``, or ``""`` (on a hidden case, never a
    rule that ``reveals`` the answer)."""
    for hint in hints:
        if hidden and hint.reveals:
            continue
        if hint.matches(got, want, case):
            return hint.says
    return ""


def distinct(rules: tuple[Hint, ...] | list[Hint]) -> tuple[Hint, ...]:
    """The same rules, each firing only when no other rule of the group recognises the answer too.

    When two typical mistakes give the same answer on a case (a balanced data set, say), naming either
    would be a guess: then none of them speaks, and the comparator's sentence is shown.

    >>> half, double = like(lambda want, case: want / 2, "half"), like(lambda want, case: want * 2, "double")
    >>> [rule.matches(0.0, 0.0, {}) for rule in distinct([half, double])], distinct([half, double])[0].matches(1.0, 2.0, {})
    ([False, False], True)
    """
    rules = tuple(rules)

    def alone(rule: Hint) -> Callable[[Any, Any, dict], bool]:
        return lambda got, want, case: rule.matches(got, want, case) and not any(
            other.matches(got, want, case) for other in rules if other is not rule)

    return tuple(Hint(rule.says, alone(rule), rule.reveals) for rule in rules)
