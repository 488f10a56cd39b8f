"""Feedback never reveals a hidden answer: what a learner reads does not depend on the hidden references.

Every exercise that has hidden cases is fed a wrong answer of each kind (None,
text, numbers, NaN, lists, nested lists, dicts, arrays, and the right kind
with the wrong value) on its hidden cases, as the grader receives it; its
gradebook row and feedback page are rendered twice, once against the real
reference answers and once against references whose hidden values were all
changed (same kind and shape). (The public cases are left unanswered: their
expected values are public anyway.)

* No hidden reference value appears in the page or the gradebook: no text
  form of a hidden value (a label, a number as the feedback writes numbers) is
  in the real rendering that is not also in the other one.
* Stricter, wherever the hidden cases pass or fail alike, the two renderings
  are byte for byte the same: a message that depends on a hidden value in any
  way (a hint that fires only for some expected values, a count of the
  elements that differ) tells something about it.
"""

import math

import numpy as np
import pytest

from conftest import reference_answers
from course_utils.checks.engine import Attempt, case_key, grade
from course_utils.checks.registry import EXERCISES
from course_utils.checks.values import canonical, from_plain, short_repr
from course_utils.grading.collect import Submission
from course_utils.grading.grade import Graded, _row
from course_utils.grading.report import csv_text, feedback_html

WITH_HIDDEN = sorted(ex for ex, entries in reference_answers().items() if any(e["hidden"] for e in entries))
WRONG = {"none": None, "text": "not an answer", "zero": 0, "number": -1.5, "nan": float("nan"), "bool": True,
         "list": [0.0, 1.0], "long list": [0.5] * 50, "nested": [[1, 2], [3, 4]], "dict": {"a": 1},
         "array": np.full((3, 3), 0.25)}



def changed(value, scale=1.37, shift=0.123):
    """The same kind and shape of plain value, every number, label and flag different."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 7
    if isinstance(value, float):
        return value * scale + shift if math.isfinite(value) else 0.5
    if isinstance(value, str):
        return "zz-" + value[::-1]
    if isinstance(value, list):
        return [changed(item, scale, shift) for item in value]
    if isinstance(value, dict):
        kept = ("dtype", "shape", "type") if "__array__" in value else ()
        return {key: item if key in kept else changed(item, scale, shift) for key, item in value.items()}
    return value


def texts(value) -> set[str]:
    """How a plain value's labels and numbers may be written in feedback."""
    if isinstance(value, dict) and "__array__" in value:
        value = value["__array__"]
    if isinstance(value, dict):
        return set().union(*map(texts, value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*map(texts, value)) if value else set()
    if isinstance(value, str):
        return {value} if len(value) > 1 else set()
    if isinstance(value, float) and not value.is_integer():
        return {short_repr(from_plain(value)), repr(value)}
    return set()


def rendered(exercise_id, attempts, answers):
    result = grade(EXERCISES[exercise_id], attempts, answers)
    submission = Submission("learner", "lab", "lab", None, None)
    row = _row(submission, result, result.status, None, [])
    return [(c.status, c.score) for c in result.cases if c.hidden], feedback_html(Graded(submission, [row], [result])) + \
        csv_text([row])


def renderings(exercise_id):
    """For each kind of wrong answer: (hidden cases' statuses, page + gradebook) against the real and the
    changed references."""
    entries = reference_answers()[exercise_id]
    real = {case_key(e["case"]): e["value"] for e in entries}
    other = {case_key(e["case"]): changed(e["value"]) if e["hidden"] else e["value"] for e in entries}
    public = [e["value"] for e in entries if not e["hidden"]] or [entries[0]["value"]]
    kinds = {**{name: canonical(value) for name, value in WRONG.items()},
             "right kind, wrong value": changed(public[0], scale=-0.61, shift=-0.77)}
    found = {}
    for name, value in kinds.items():
        attempts = [(e["case"], e["hidden"], Attempt("ok", value=value) if e["hidden"] else Attempt("not attempted"))
                    for e in entries]
        found[name] = (rendered(exercise_id, attempts, real), rendered(exercise_id, attempts, other))
    return found


@pytest.fixture(scope="module")
def renders():
    """Every exercise's renderings, computed once."""
    return {exercise_id: renderings(exercise_id) for exercise_id in WITH_HIDDEN}


@pytest.mark.parametrize("exercise_id", WITH_HIDDEN)
def test_no_hidden_reference_value_appears_in_the_feedback(renders, exercise_id):
    hidden = set().union(*(texts(e["value"]) for e in reference_answers()[exercise_id] if e["hidden"]))
    for name, ((_, text), (_, other_text)) in renders[exercise_id].items():
        leaked = sorted(form for form in hidden if form in text and form not in other_text)
        assert not leaked, f"{name}: the feedback shows the hidden value(s) {leaked}"


@pytest.mark.parametrize("exercise_id", WITH_HIDDEN)
def test_feedback_does_not_depend_on_hidden_references(renders, exercise_id):
    compared = 0
    for name, ((statuses, text), (other_statuses, other_text)) in renders[exercise_id].items():
        if statuses != other_statuses:  # the wrong answer happens to be right on a hidden case
            continue
        assert text == other_text, f"{name}: the feedback depends on a hidden reference"
        compared += 1
    assert compared >= len(WRONG) - 2
