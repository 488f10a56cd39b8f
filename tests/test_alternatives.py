"""Checks that are fair to every correct answer and precise about every mistake.

* every exercise has at least one independently written correct implementation in tests/alternatives/
  that gets full marks on its public and hidden cases (the lab tests alone are circular: the reference
  answers are recorded from the reference solution);
* every known-wrong implementation in tests/wrong_answers/ gets the hint written for its mistake and no
  other rule's hint, and every hint rule stays silent on at least one other mistake;
* nothing a learner reads contains an exception name, a traceback or a memory address.
"""

import re

import pytest

from alternatives import RIGHT
from conftest import full_marks, reference_answers
from course_utils.checks.engine import PASSED, attempt, case_key, grade
from course_utils.checks.registry import EXERCISES as REGISTRY
from wrong_answers import WRONG

ANSWERS = reference_answers()
PYTHON_INTERNALS = re.compile(r"\b\w+(Error|Exception)\b|Traceback|\bat 0x[0-9a-f]+|<\w+ object")


def graded(exercise_id, function):
    exercise, entries = REGISTRY[exercise_id], ANSWERS[exercise_id]
    answers = {case_key(e["case"]): e["value"] for e in entries}
    return grade(exercise, [(e["case"], e["hidden"], attempt(exercise, function, e["case"])) for e in entries],
                 answers)


def learner_texts(result) -> list[str]:
    return [result.message] + [text for case in result.cases for text in (case.message, case.got, case.want)]


@pytest.mark.parametrize("exercise_id", sorted(REGISTRY))
def test_every_exercise_has_an_independent_correct_alternative(exercise_id):
    assert RIGHT.get(exercise_id), f"{exercise_id}: no correct alternative in tests/alternatives/"


@pytest.mark.parametrize("exercise_id, index", [(e, i) for e in sorted(RIGHT) for i in range(len(RIGHT[e]))])
def test_correct_alternatives_get_full_marks(exercise_id, index):
    function = RIGHT[exercise_id][index]
    ok, messages = full_marks(exercise_id, function)
    assert ok, f"{exercise_id}: correct alternative {function.__name__} lost points: {messages}"


@pytest.mark.parametrize("exercise_id", sorted(WRONG))
def test_each_mistake_gets_its_own_hint_and_no_other(exercise_id):
    rules = [rule.says for rule in REGISTRY[exercise_id].hints]
    for wrong, hint in WRONG[exercise_id]:
        result = graded(exercise_id, wrong)
        assert result.points < result.max_points, f"{exercise_id}: {wrong.__name__} got full marks"
        messages = [case.message for case in result.cases if case.status != PASSED]
        assert any(hint in message for message in messages), f"{exercise_id}: no {hint!r} in {messages}"
        others = [rule for rule in rules if hint not in rule and any(rule in m for m in messages)]
        assert not others, f"{exercise_id}: {wrong.__name__} ({hint!r}) also gets {others}"
        internals = [text for text in learner_texts(result) if PYTHON_INTERNALS.search(text)]
        assert not internals, f"{exercise_id}: Python internals shown to the learner: {internals}"


@pytest.mark.parametrize("exercise_id", sorted(REGISTRY))
def test_every_hint_rule_stays_silent_on_another_mistake(exercise_id):
    for rule in REGISTRY[exercise_id].hints:
        silent = [hint for wrong, hint in WRONG.get(exercise_id, []) if hint not in rule.says]
        assert silent, f"{exercise_id}: no other known mistake shows that {rule.says!r} stays silent"
