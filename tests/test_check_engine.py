"""The check engine: comparators, hints, not-attempted, errors, time limits, rendering, record mode."""

import json
import math

import numpy as np
import pytest
import torch

from course_utils.checks import api, check
from course_utils.checks.answers import read_records
from course_utils.checks.compare import close, exact, label
from course_utils.checks.engine import (ERROR, FAILED, HIDDEN_WRONG, NOT_ATTEMPTED, PASSED, TIMEOUT, Attempt,
                                        Exercise, attempt, case_key, grade, judge, score)
from course_utils.checks.hints import like, when
from course_utils.checks.render import to_html, to_text
from course_utils.checks.values import describe, from_plain, short_repr, to_plain

DOUBLE = Exercise(
    "demo.double", "Double it", points=2, cases=({"x": 1.0}, {"x": -3.0}),
    compare=close(rtol=1e-9),
    hints=(like(lambda want, case: want / 2, "you returned x itself: multiply by two"),
           when(lambda got, want, case: got == -want, "wrong sign")),
    timeout=0.5,
)
ANSWERS = {case_key(case): 2 * case["x"] for case in DOUBLE.cases}


def run(function, exercise=DOUBLE, answers=ANSWERS):
    attempts = [(case, False, attempt(exercise, function, case)) for case in exercise.cases]
    return grade(exercise, attempts, answers)


# -- values ------------------------------------------------------------------

def test_values_round_trip_arrays_tensors_and_nesting():
    value = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": torch.tensor([1, 2]), "c": (1, 2.5, "x"),
             "d": np.float64(0.25), "e": np.bool_(True), "f": None}
    plain = to_plain(value)
    json.dumps(plain)  # JSON-compatible
    back = from_plain(plain)
    assert back["a"].dtype == np.float32 and back["a"].shape == (2, 3)
    assert back["b"].tolist() == [1, 2]
    assert back["c"] == [1, 2.5, "x"] and back["d"] == 0.25 and back["e"] is True and back["f"] is None


def test_values_describe_objects_without_plain_form():
    assert describe(to_plain(torch.nn.Linear(2, 3))) == "a model (Linear)"
    assert describe(to_plain(lambda x: x)).startswith("a function")
    assert describe(to_plain(x for x in [1])).startswith("a generator")
    assert describe(to_plain(1 + 2j)) == "a complex number"
    assert describe(to_plain(object())) == "an object of type object"
    assert short_repr(np.zeros((100, 3))) == "array of shape (100, 3), float64, mean 0, std 0"


# -- comparators --------------------------------------------------------------

@pytest.mark.parametrize("got, want, ok, why", [
    (1.0 + 1e-10, 1.0, True, ""),
    (1.1, 1.0, False, "1.1 but expected 1"),
    (np.array([1.0, 2.0]), [1.0, 2.0], True, ""),
    (np.array([[1.0, 2.0]]), [1.0, 2.0], False, "shape (1, 2) but expected (2,)"),
    ([1.0, float("nan")], [1.0, 2.0], False, "contains NaN (not a number)"),
    ([1.0, 2.0, 3.0], [1.0, 2.5, 3.0], False, "values differ: largest difference 0.5 at index 1 (2 instead of 2.5)"),
    (None, 1.0, False, "got None: did the function forget to `return`?"),
    ("0.5", 0.5, False, "expected a number"),
    ({"a": 1.0}, {"a": 1.0, "b": 2.0}, False, "missing key(s) 'b'"),
    ([{"w": 1.0}, {"w": 2.0}], [{"w": 1.0}, {"w": 2.2}], False, "2 but expected 2.2 at [1]['w']"),
    (np.array(3.0), 3.0, True, ""),
])
def test_close_explains_the_difference(got, want, ok, why):
    verdict = close(rtol=1e-6)(got, want)
    assert verdict.ok is ok
    assert verdict.why == why


def test_tolerances_and_exact_and_labels():
    assert close(rtol=0.1)(1.09, 1.0).ok and not close(rtol=0.05)(1.09, 1.0).ok
    assert close(rtol=0, atol=1e-3)(1e-4, 0.0).ok
    assert exact()([1, 2], [1, 2]).ok and not exact()([1, 2], [1, 3]).ok
    assert label()(" Vanishing ", "vanishing").ok
    assert label()(0.05, "vanishing").why == "expected a text label"


# -- running and judging ------------------------------------------------------

def test_reference_passes_with_full_points():
    result = run(lambda x: 2 * x)
    assert (result.status, result.points, result.max_points) == (PASSED, 2.0, 2.0)


def test_hints_name_the_mistake_and_partial_credit_is_per_case():
    result = run(lambda x: x)
    assert result.status == FAILED and result.points == 0
    assert {c.message for c in result.cases} == {"you returned x itself: multiply by two"}
    partial = run(lambda x: 2 * x if x > 0 else -2 * x)
    assert partial.status == "partial" and partial.points == 1.0
    assert partial.cases[1].message == "wrong sign"


def test_not_implemented_is_not_attempted_not_a_crash():
    def untouched(x):
        # YOUR CODE HERE
        raise NotImplementedError()

    result = run(untouched)
    assert result.status == NOT_ATTEMPTED and result.points == 0
    assert "not attempted" in to_text(result)


def test_a_crash_is_reported_with_the_learners_line():
    def broken(x):
        return 2 * x / 0

    result = run(broken)
    assert result.status == FAILED
    assert all(c.status == ERROR for c in result.cases)
    line = broken.__code__.co_firstlineno + 1
    assert result.cases[0].message == f"your code stopped at line {line} of broken: division by zero"


def test_an_endless_loop_is_stopped_by_the_case_time_limit():
    def endless(x):
        while True:
            pass

    outcome = attempt(DOUBLE, endless, {"x": 1.0})
    # its computing time runs out first, unless the machine is so busy that the loop gets under a sixth of
    # a core: then the wall clock stops it
    assert outcome.status == TIMEOUT and outcome.error in ("took longer than 0.5 s of computing (an endless loop?)",
                                                           "waited longer than 3 s (an endless wait?)")


def test_code_that_waits_is_stopped_by_the_wall_clock():
    import time as clock

    outcome = attempt(DOUBLE, lambda x: clock.sleep(60), {"x": 1.0})
    assert outcome.status == TIMEOUT and outcome.error == "waited longer than 3 s (an endless wait?)"
    assert 2.9 < outcome.seconds < 30


def test_a_learner_except_clause_cannot_swallow_the_time_limit():
    def stubborn(x):
        while True:
            try:
                while True:
                    pass
            except Exception:
                continue

    assert attempt(DOUBLE, stubborn, {"x": 1.0}).status == TIMEOUT


def test_a_function_that_mutates_its_inputs_cannot_spoil_the_next_case():
    exercise = Exercise("demo.sum", "Sum", 1, cases=({"xs": [1, 2]}, {"xs": [1, 2]}))

    def destructive(xs):
        total = sum(xs)
        xs.append(100)
        return total

    values = [attempt(exercise, destructive, case).value for case in exercise.cases]
    assert values == [3, 3]


def test_not_a_function():
    outcome = attempt(DOUBLE, 4.0, {"x": 1.0})
    assert outcome.status == "rejected" and outcome.error == "check(...) needs your function itself, got the number 4"
    assert judge(DOUBLE, {"x": 1.0}, outcome, want=2.0).status == FAILED


def test_hidden_cases_never_show_the_reference_value():
    """A hidden case says one fixed sentence about any wrong answer: no comparator's wording, no hint
    (a hint fires for some references and not others, so it would tell something about them)."""
    case = {"x": 5.0}
    outcome = judge(DOUBLE, case, Attempt("ok", value=7.0), want=10.0, hidden=True)
    assert outcome.label == "hidden case 1" and outcome.want == "" and outcome.got == "7"
    assert outcome.message == HIDDEN_WRONG
    hinted = judge(DOUBLE, case, Attempt("ok", value=5.0), want=10.0, hidden=True)
    assert hinted.message == HIDDEN_WRONG
    other_kind = judge(DOUBLE, case, Attempt("ok", value=[1.0, 2.0]), want=10.0, hidden=True)
    assert other_kind.status == FAILED and other_kind.message == HIDDEN_WRONG
    assert judge(DOUBLE, case, Attempt("ok", value=5.0), want=10.0).message == "you returned x itself: multiply by two"
    parts = Exercise("demo.parts", "Parts", 1, cases=(), parts=("a", "b"))
    half = judge(parts, {}, Attempt("ok", {"a": 1.0, "b": 0.0}), {"a": 1.0, "b": 2.0}, hidden=True)
    assert (half.status, half.score, half.message) == (FAILED, 0.5, HIDDEN_WRONG)  # which part: not said


def test_missing_reference_never_awards_points():
    result = run(lambda x: 2 * x, answers={})
    assert result.points == 0 and all(c.status == "no reference" for c in result.cases)


def test_an_exercise_that_never_ran_is_an_error():
    assert score(DOUBLE, []).status == ERROR


# -- rendering ----------------------------------------------------------------

def test_html_and_text_reports():
    result = run(lambda x: x)
    html = to_html(result)
    assert "✗" in html and "multiply by two" in html and "0/2 points" in html
    assert "<script" not in html
    passed = run(lambda x: 2 * x)
    assert "public checks passed" in to_text(passed)
    assert "all tests passed" not in to_text(passed).lower()


def test_check_in_a_notebook_shows_html_and_gives_nbgrader_the_points(capsys):
    result = check("init.he_std", lambda fan_in: math.sqrt(1 / fan_in))
    bundle = result._repr_mimebundle_()
    assert float(bundle["text/plain"]) == result.points == 0.0
    assert "Xavier" in bundle["text/html"]
    assert "✗ init.he_std" in capsys.readouterr().out  # plain text outside Jupyter
    good = check("init.he_std", lambda fan_in: math.sqrt(2 / fan_in))
    assert good.passed and float(good._repr_mimebundle_()["text/plain"]) == 1.0


def test_unknown_exercise_suggests_the_right_id():
    with pytest.raises(KeyError, match="did you mean 'init.he_std'"):
        check("init.he_sdt", lambda fan_in: 1.0)


# -- record mode (the grading hook) --------------------------------------------

def test_record_mode_records_answers_instead_of_comparing(tmp_path, monkeypatch):
    record = tmp_path / "records.jsonl"
    monkeypatch.setenv("COURSE_RECORD", str(record))
    api.add_hidden_cases("init.he_std", [{"fan_in": 7}])
    try:
        outcome = check("init.he_std", lambda fan_in: math.sqrt(2 / fan_in))
    finally:
        api._hidden_cases.clear()
    assert repr(outcome) == "recorded 4 cases of init.he_std for grading"
    records = read_records(record)
    assert [(r["case"], r["hidden"], r["status"]) for r in records] == [
        ({"fan_in": 64}, False, "ok"), ({"fan_in": 512}, False, "ok"), ({"fan_in": 3}, False, "ok"),
        ({"fan_in": 7}, True, "ok")]
    assert records[-1]["value"] == pytest.approx(math.sqrt(2 / 7))


# -- one answer pipeline: every form the task allows, a sentence for the rest ------------------------

MEAN = Exercise("demo.mean", "Mean of xs", 1, cases=({"xs": [1.0, 2.0, 4.0]},),
                arguments=lambda case: {"xs": torch.tensor(case["xs"])},
                answer="one number (the mean over the batch)")
MEAN_ANSWERS = {case_key(MEAN.cases[0]): 7 / 3}


@pytest.mark.parametrize("function", [
    lambda xs: xs.mean(),                                   # a 0-d float32 tensor
    lambda xs: xs.mean().item(),                            # a Python float
    lambda xs: np.float32(xs.numpy().mean()),               # a NumPy float32
    lambda xs: xs.double().mean().reshape(1),               # a one-element tensor
    lambda xs: xs.mean().requires_grad_(True) * 1,          # with grad
    lambda xs: np.array(xs.numpy().astype(np.float64).mean()),  # a 0-d array
], ids=["0d-tensor", "float", "np.float32", "1-element", "grad", "0d-array"])
def test_every_form_of_one_number_gets_full_marks(function):
    result = run(function, MEAN, MEAN_ANSWERS)
    assert result.points == 1, result.cases[0].message


@pytest.mark.parametrize("function, says", [
    (lambda xs: xs, "expected one number (the mean over the batch), got a tensor of shape (3,)"),
    (lambda xs: [float(x) for x in xs], "expected one number (the mean over the batch), got a list of 3 numbers"),
    (lambda xs: (x for x in xs), "expected one number (the mean over the batch), got a generator (return a list, e.g. list(...))"),
    (lambda xs: complex(1, 2), "expected one number (the mean over the batch), got a complex number"),
    (lambda xs: torch.nn.Linear(2, 2), "expected one number (the mean over the batch), got a model (Linear)"),
    (lambda xs: None, "got None: did the function forget to `return`?"),
    (lambda batch: batch.mean(), "keep the template's parameter names (`xs`): your function takes (`batch`)"),
])
def test_wrong_shapes_get_a_sentence_about_the_answer(function, says):
    result = run(function, MEAN, MEAN_ANSWERS)
    assert result.points == 0
    assert result.cases[0].message == says
    assert "0x" not in says and "Error" not in says


def test_a_crash_inside_observe_is_reported_as_the_shape_of_the_answer():
    pair = Exercise("demo.pair", "A pair", 1, cases=({"x": 1.0},), answer="a pair (losses, accuracy)",
                    observe=lambda result, kwargs: {"losses": list(result[0]), "accuracy": result[1]})
    outcome = attempt(pair, lambda x: {"losses": [x], "accuracy": 0.5}, {"x": 1.0})
    assert outcome.status == "rejected"
    assert outcome.error == "expected a pair (losses, accuracy), got a dict with keys 'losses', 'accuracy'"


def test_float32_answers_are_compared_at_float32_precision_and_shown_in_full():
    weights = np.array([0.505, 50.5], dtype=np.float64)
    answers = {case_key({"n": 2}): to_plain(weights)}
    exercise = Exercise("demo.w", "Weights", 1, cases=({"n": 2},), compare=close(rtol=1e-9))
    assert run(lambda n: torch.tensor(weights, dtype=torch.float32), exercise, answers).points == 1
    assert run(lambda n: weights.astype(np.float32), exercise, answers).points == 1
    assert run(lambda n: weights.astype(np.float16), exercise, answers).points == 1
    off = run(lambda n: torch.tensor(weights * 1.001, dtype=torch.float32), exercise, answers)
    assert off.points == 0
    assert close(rtol=1e-9)(0.8500001, 0.85).why == "0.8500001 but expected 0.85"


def test_np_str_is_the_same_answer_in_the_kernel_and_in_the_grader():
    exercise = Exercise("demo.s", "Text", 1, cases=({"x": 1},), compare=exact())
    answers = {case_key({"x": 1}): "relu"}
    assert run(lambda x: np.str_("relu"), exercise, answers).points == 1
    outcome = attempt(exercise, lambda x: np.str_("relu"), {"x": 1})
    recorded = Attempt.from_record(json.loads(json.dumps({"status": outcome.status, "value": outcome.value})))
    assert judge(exercise, {"x": 1}, recorded, "relu").status == PASSED


def test_dict_answers_are_reported_key_by_key_and_parts_earn_their_share():
    exercise = Exercise("demo.epoch", "Epoch", 2, cases=({"x": 1},), parts=("losses", "val_accuracy"))
    answers = {case_key({"x": 1}): {"losses": [2.0, 1.5, 1.2], "val_accuracy": 0.73}}
    half = run(lambda x: {"losses": [2.0, 1.5, 1.2], "val_accuracy": 0.70}, exercise, answers)
    assert half.points == 1.0 and half.status == "partial"
    assert half.cases[0].message == "val_accuracy: 0.7 but expected 0.73"
    assert half.cases[0].got == "{losses: [2, 1.5, 1.2], val_accuracy: 0.7}"


def test_public_weight_caps_what_public_cases_alone_can_earn():
    exercise = Exercise("demo.x", "X", 2, cases=({"x": 1.0},))
    answers = {case_key({"x": 1.0}): 2.0, case_key({"x": 3.0}): 6.0}
    hard_coded = lambda x: 2.0
    attempts = [({"x": 1.0}, False, attempt(exercise, hard_coded, {"x": 1.0})),
                ({"x": 3.0}, True, attempt(exercise, hard_coded, {"x": 3.0}))]
    assert grade(exercise, attempts, answers).points == 1.0
    weighted = grade(exercise, attempts, answers, public_weight=0.2)
    assert (weighted.points, weighted.public_points, weighted.hidden_points) == (0.4, 0.4, 0.0)


def test_hidden_cases_of_a_label_exercise_give_no_hint_that_names_the_answer():
    exercise = Exercise("demo.label", "Label", 1, cases=(), compare=label(choices=("good", "bad")),
                        hints=(when(lambda got, want, case: want == "good", "the answer is 'good'", reveals=True),))
    public = judge(exercise, {"x": 1}, Attempt("ok", "bad"), "good")
    hidden = judge(exercise, {"x": 1}, Attempt("ok", "bad"), "good", hidden=True)
    assert public.message == "the answer is 'good'"
    assert hidden.message == HIDDEN_WRONG and "good" not in hidden.message + hidden.want


def test_forbidden_library_calls_get_zero_with_a_sentence():
    import torch.nn.functional as F
    exercise = Exercise("demo.ce", "CE", 1, cases=({"n": 3},), forbid=("torch.nn.functional.cross_entropy",),
                        arguments=lambda case: {"logits": torch.zeros(case["n"], 2),
                                                "targets": torch.zeros(case["n"], dtype=torch.long)})
    ce = F.cross_entropy

    def cheat(logits, targets):
        return ce(logits, targets)

    outcome = attempt(exercise, cheat, {"n": 3})
    assert outcome.status == "rejected"
    assert outcome.error == "this exercise asks you to write it without `ce`"


def test_records_that_name_odd_dtypes_or_huge_shapes_are_unreadable_not_built():
    forged = Attempt("ok", {"__array__": [[1]], "dtype": "(1000,1000)f8", "shape": [1, 1]})
    assert judge(DOUBLE, {"x": 1.0}, forged, 2.0).message == "the recorded answer could not be read"
    huge = Attempt("ok", {"__array__": [], "dtype": "float64", "shape": [100000, 100000]})
    assert judge(DOUBLE, {"x": 1.0}, huge, 2.0).message == "the recorded answer could not be read"


def test_a_case_read_back_from_an_answer_file_reads_the_same_as_in_the_notebook():
    exercise = Exercise("demo.pair", "Pair", 1, cases=({"y_true": [1], "y_pred": [1]},))
    from_file = json.loads(json.dumps({"y_true": [1], "y_pred": [0]}, sort_keys=True))
    assert list(from_file) == ["y_pred", "y_true"]
    assert exercise.label(from_file) == "y_true=[1], y_pred=[0]"
    renamed = attempt(exercise, lambda truth, prediction: 1.0, from_file)
    assert renamed.error == ("keep the template's parameter names (`y_true`, `y_pred`): "
                             "your function takes (`truth`, `prediction`)")


def test_a_hint_never_guesses_about_an_answer_of_another_kind():
    exercise = Exercise("demo.n", "N", 1, cases=({"x": 1.0},),
                        hints=(when(lambda got, want, case: True, "a hint about values"),))
    other_kind = judge(exercise, {"x": 1.0}, Attempt("ok", [1.0, 2.0]), 1.0)
    assert other_kind.message == "expected one number, got a list of 2 numbers"
    same_kind = judge(exercise, {"x": 1.0}, Attempt("ok", [1.0, 2.0]), [1.0, 2.0, 3.0])
    assert same_kind.message == "a hint about values"
