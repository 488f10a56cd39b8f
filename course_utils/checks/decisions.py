"""Decision exercises: the learner returns a choice made from evidence, and the protocol is graded too.

A decision exercise hands the learner's function an experiment harness built
around a :class:`course_utils.vault.Vault` (``arguments``), and observes two
parts (``parts=("decision", "protocol")``, each worth its share):

* ``decision`` -- the choice, judged by :func:`supported` against the choices
  the evidence supports. That set is computed *here*, from the case, by the
  course's own harness code with as many seeds as it takes: in the grader's
  process, never trusting a number the learner's kernel produced;
* ``protocol`` -- the vault's sentence (:meth:`.Vault.protocol`): ``followed``,
  or the first violation (peeking, choosing on test, one seed, no report),
  judged by :func:`followed`, which says the violation in its own words.

Example (a choice of ``k`` in ``{1, 3, 5}`` where 3 and 5 are equally good)::

    Exercise("demo.k", "Choose k", 2, cases=({"seed": 0},), varies=("seed",),
             arguments=lambda case: {"vault": make_vault(case["seed"])},
             observe=observe_decision("k"),
             compare={"decision": supported(lambda case: [3, 5]), "protocol": followed()},
             parts=("decision", "protocol"))

>>> supported(lambda case: [3, 5])(5, 3, {}).ok, supported(lambda case: [3, 5])(1, 3, {}).why
(True, 'the evidence does not support 1: it supports 3 or 5')
>>> followed()("followed", "followed").ok
True
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Callable

from course_utils.vault import FOLLOWED, same

from .compare import Comparator, Verdict
from .engine import case_key
from .values import AnswerError, short_repr


def supported(acceptable: Callable[[dict], list], *, what: str = "") -> Comparator:
    """The decision is one of ``acceptable(case)``: the choices the evidence supports for that case.

    ``acceptable`` runs in the judging process (the grader's, or the notebook's for an instant check);
    results are cached per case. ``what`` names the decision in sentences ("the weight decay").
    """
    cached = lru_cache(maxsize=64)(lambda key: list(acceptable(json.loads(key))))

    def compare(got: Any, want: Any, case: dict | None = None) -> Verdict:
        choices = cached(case_key(case or {}))
        if any(same(got, choice) for choice in choices):
            return Verdict(True)
        shown = " or ".join(short_repr(choice) for choice in choices[:4]) + (" ..." if len(choices) > 4 else "")
        name = f"{what} " if what else ""
        return Verdict(False, f"the evidence does not support {name}{short_repr(got)}: it supports {shown}",
                       "the evidence does not support this choice")

    compare.uses_case = True
    compare.description = "one of the choices the evidence supports"
    return compare


def followed() -> Comparator:
    """The protocol part: ``followed``, or the violation the vault named, said as it is."""

    def compare(got: Any, want: Any) -> Verdict:
        if got == FOLLOWED:
            return Verdict(True)
        return Verdict(False, str(got), str(got))

    compare.description = "the protocol was followed"
    compare.always_said = True  # beside a hint about the decision, the violation is still named
    return compare


def observe_decision(key: str, *, vault: str = "vault", seeds_needed: int = 1, report: bool = True,
                     candidates: int | None = None, convert: Callable[[Any], Any] | None = None
                     ) -> Callable[[Any, dict], dict]:
    """An ``observe`` for decision exercises: ``{"decision": ..., "protocol": ...}``.

    The learner's function returns either a dict holding ``key`` (and anything else the lab asks for,
    such as the test score) or the decision itself. ``convert`` turns the decision into its plain form
    (e.g. ``float``) and may raise :class:`.values.AnswerError` with a sentence.

    >>> from course_utils.vault import Vault
    >>> v = Vault(([0], [0]), ([0], [0]), ([0], [0]))
    >>> observe_decision("k", report=False)({"k": 3}, {"vault": v})
    {'decision': 3, 'protocol': 'followed'}
    """

    def observe(result: Any, kwargs: dict) -> dict:
        if isinstance(result, dict):
            if key not in result:
                raise AnswerError(f"expected a dict with the key {key!r} (your decision), got the keys "
                                  + ", ".join(map(repr, list(result)[:5])))
            choice = result[key]
        else:
            choice = result
        if convert is not None:
            choice = convert(choice)
        protocol = kwargs[vault].protocol(choice, seeds_needed=seeds_needed, report=report, candidates=candidates)
        return {"decision": choice, "protocol": protocol}

    return observe

