"""Issue 12 (and issue 14's lab-03 item) reproduced on labs 00-05: correct answers in every form the lab
text allows get full marks, wrong ones lose points with a sentence about the answer.

Each test grades a function as ``course check`` and the grader do: on the public and hidden cases, against
the reference answers recorded by ``course release``.
"""

import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.model_selection import GroupKFold
from torch import nn

from conftest import full_marks, reference_answers
from course_utils.checks import data_quality, initialization, losses, normalization, start, validation
from course_utils.checks.engine import HIDDEN_WRONG, PASSED, case_key
from course_utils.checks.registry import EXERCISES as REGISTRY
from test_alternatives import PYTHON_INTERNALS, graded, learner_texts
from wrong_answers.initialization import _diagnose_stds_only
from wrong_answers.losses import _epoch

LABS = (start, data_quality, normalization, initialization, losses, validation)
OUR_EXERCISES = [exercise for lab in LABS for exercise in lab.EXERCISES]
ANSWERS = reference_answers()


def messages(result) -> list[str]:
    """What the failing public cases say (a hidden case says one fixed sentence whatever the answer: see
    tests/test_grading_leaks.py)."""
    return [case.message for case in result.cases if case.status != PASSED and not case.hidden]


def assert_zero_with(exercise_id, function, sentence, *, public_only=False):
    """No points (on the public cases only: a hidden case may make the mistake harmless), and every case
    that fails says ``sentence`` (no Python internals anywhere)."""
    result = graded(exercise_id, function)
    points = result.public_points if public_only else result.points
    assert points == 0 and result.points < result.max_points, (result.points, messages(result))
    assert all(sentence in message for message in messages(result)), messages(result)
    assert not [text for text in learner_texts(result) if PYTHON_INTERNALS.search(text)]
    return result


# -- correct answers in every form ------------------------------------------------------------------------

def test_group_kfold_gets_full_marks_and_an_unbalanced_leak_free_split_does_not():
    def group_kfold(groups, n_splits):
        return [test for _, test in GroupKFold(n_splits).split(groups, groups=groups)]

    ok, why = full_marks("val.group_folds", group_kfold)
    assert ok, why

    def lopsided(groups, n_splits):
        ids = np.unique(groups)
        parts = [ids[:len(ids) - n_splits + 1]] + [[i] for i in ids[len(ids) - n_splits + 1:]]
        return [np.flatnonzero(np.isin(groups, part)) for part in parts]

    result = graded("val.group_folds", lopsided)
    assert result.points < result.max_points
    assert any("deal the groups out evenly" in message for message in messages(result))


def test_group_folds_balance_rule_is_the_lab_text():
    groups = np.repeat([0, 1, 2, 3], [10, 1, 1, 1])
    by_samples = [np.flatnonzero(groups == 0), np.flatnonzero(groups > 0)]       # 10 vs 3 samples, 1 vs 3 groups
    by_groups = [np.flatnonzero(groups < 2), np.flatnonzero(groups >= 2)]        # 2 groups each
    lopsided = [np.flatnonzero(groups < 3), np.flatnonzero(groups == 3)]         # 12 vs 1 samples, 3 vs 1 groups
    assert validation._balanced(by_samples, groups) and validation._balanced(by_groups, groups)
    assert not validation._balanced(lopsided, groups)


def test_population_std_gets_full_marks_on_hidden_cases_too():
    def population(model, x):
        stds, h = [], x
        with torch.no_grad():
            for layer in model:
                h = layer(h)
                if not isinstance(layer, nn.Linear):
                    stds.append(float(np.std(h.numpy())))
        return stds

    assert any(entry["hidden"] for entry in ANSWERS["init.activation_stds"])
    ok, why = full_marks("init.activation_stds", population)
    assert ok, why


# -- forbidden library calls ------------------------------------------------------------------------------

@pytest.mark.parametrize("function, spelled", [
    (lambda logits, targets: F.cross_entropy(logits, targets), "F.cross_entropy"),
    (lambda logits, targets: nn.CrossEntropyLoss()(logits, targets), "nn.CrossEntropyLoss"),
    (lambda logits, targets: F.nll_loss(F.log_softmax(logits, dim=1), targets), "F.log_softmax"),
    (lambda logits, targets: (torch.logsumexp(logits, 1) - logits.gather(1, targets[:, None])[:, 0]).mean(),
     "torch.logsumexp"),
    (lambda logits, targets: (logits.logsumexp(1) - logits.gather(1, targets[:, None])[:, 0]).mean(), ".logsumexp"),
])
def test_cross_entropy_from_a_library_gets_zero(function, spelled):
    assert_zero_with("loss.cross_entropy", function, f"this exercise asks you to write it without `{spelled}`")


def test_cross_entropy_may_use_what_the_text_does_not_forbid():
    def with_nll_loss(logits, targets):
        m = logits.max(dim=1, keepdim=True).values
        return F.nll_loss(logits - m - (logits - m).exp().sum(dim=1, keepdim=True).log(), targets)

    ok, why = full_marks("loss.cross_entropy", with_nll_loss)
    assert ok, why


@pytest.mark.parametrize("function, spelled", [
    (lambda logits, targets: F.binary_cross_entropy_with_logits(logits, targets), "F.binary_cross_entropy_with_logits"),
    (lambda logits, targets: nn.BCEWithLogitsLoss()(logits, targets), "nn.BCEWithLogitsLoss"),
])
def test_bce_from_a_library_gets_zero(function, spelled):
    assert_zero_with("loss.bce_with_logits", function, f"without `{spelled}`")


# -- wrong shapes get a sentence ---------------------------------------------------------------------------

def per_sample_losses(logits, targets):
    m = logits.max(dim=1).values
    return m + (logits - m[:, None]).exp().sum(dim=1).log() - logits[torch.arange(len(targets)), targets]


def test_per_sample_losses_instead_of_the_mean_get_a_sentence():
    result = assert_zero_with("loss.cross_entropy", per_sample_losses,
                              "expected one number: the mean loss over the batch (a float or a 0-d tensor), "
                              "got a tensor of shape", public_only=True)  # one sample: its loss is the mean
    public = [case.message for case in result.cases if not case.hidden]
    assert public[0].endswith("got a tensor of shape (8,)")


def test_a_list_instead_of_the_dict_gets_a_sentence():
    def as_list(X_train, X_test, y_test, predicted, threshold):
        return [[], 0.0, 1.0, 1.0]

    assert_zero_with("data.overlap_report", as_list,
                     "expected a dict with keys 'leaked', 'fraction', 'accuracy_all', 'accuracy_unseen', got a list")


@pytest.mark.parametrize("exercise_id, function", [
    ("val.group_folds", lambda groups, k: [np.arange(len(groups))]),
    ("init.diagnose", lambda stds: "healthy"),
    ("start.accuracy", lambda y, y_hat: 1.0),
])
def test_a_renamed_parameter_gets_a_sentence(exercise_id, function):
    assert_zero_with(exercise_id, function, "keep the template's parameter names")


@pytest.mark.parametrize("exercise_id, function", [
    ("start.accuracy", lambda y_true, y_pred: (t == p for t, p in zip(y_true, y_pred))),
    ("data.find_duplicates", lambda X, threshold: ((i, i + 1) for i in range(2))),
])
def test_a_generator_gets_a_sentence_the_same_every_time(exercise_id, function):
    first = assert_zero_with(exercise_id, function, "a generator")
    again = graded(exercise_id, function)
    assert messages(first) == messages(again)


def test_train_epoch_returning_a_dict_gets_a_sentence():
    assert_zero_with("loss.train_epoch", _epoch(as_dict=True), "expected a pair (losses, accuracy)")


# -- hints that explain the answer --------------------------------------------------------------------------

def test_forgetting_good_is_named_and_not_called_a_bias_mistake():
    def no_good(human, train, train_dev, dev):
        gaps = {"high bias": train - human, "high variance": train_dev - train, "data mismatch": dev - train_dev}
        return max(gaps, key=gaps.get)

    said = messages(graded("loss.diagnose", no_good))
    assert said and any("return 'good'" in message for message in said)
    assert not any("not against 0" in message for message in said)


def test_bce_overflow_hint_tells_where_sigmoid_rounds():
    rule = next(h.says for h in REGISTRY["loss.bce_with_logits"].hints if "inf" in h.says)
    assert "above about 37" in rule and "-37" not in rule
    # the facts the hint states, in float64
    z = torch.tensor([36.0, 37.0, -709.0, -710.0], dtype=torch.float64)
    s = torch.sigmoid(z)
    assert 1 - s[0] > 0 and 1 - s[1] == 0 and s[2] > 0 and s[3] == 0
    assert math.isclose(1 / (1 + math.exp(37)), 8.5e-17, rel_tol=0.01)  # sigma(-37): far from underflowing


def test_cross_entropy_hints_never_suggest_a_forbidden_call():
    for hint in REGISTRY["loss.cross_entropy"].hints:
        assert "logsumexp" not in hint.says and "log_softmax" not in hint.says


def test_a_column_block_gets_its_hint():
    def columns(logits, targets):
        m = logits.max(dim=1).values
        lse = m + (logits - m[:, None]).exp().sum(dim=1).log()
        return (lse - logits[:, targets]).mean()

    result = graded("loss.cross_entropy", columns)
    assert result.points < result.max_points
    assert messages(result) and all("logits[:, targets] is an (n, n) block" in m for m in messages(result))


# -- train_epoch: partial credit by component, one message per key -------------------------------------------

def test_three_bugs_fixed_out_of_four_earns_the_losses():
    result = graded("loss.train_epoch", _epoch(evaluate=False))
    assert 0 < result.points < result.max_points
    for case in result.cases:
        assert case.score == 0.5, case
        assert "dropout still active" in case.message or (case.hidden and case.message == HIDDEN_WRONG)
    for case in result.cases:  # both dicts show the key that differs
        assert "val_accuracy: " in case.got and (case.hidden or "val_accuracy: " in case.want)


def test_train_epoch_reports_key_by_key_without_a_hint():
    """An accuracy no planted bug explains: the message names the key and both values."""
    def wrong_accuracy(model, optimizer, X, y, X_val, y_val, batch_size, generator):
        losses_, accuracy = _epoch()(model, optimizer, X, y, X_val, y_val, batch_size, generator)
        return losses_, accuracy - 0.5

    result = graded("loss.train_epoch", wrong_accuracy)
    public = [case for case in result.cases if not case.hidden]
    assert all(case.score == 0.5 for case in result.cases)
    assert re.fullmatch(r"val_accuracy: -?[\d.]+ but expected [\d.]+", public[0].message), public[0].message
    hidden = [case for case in result.cases if case.hidden]
    assert all(case.message == HIDDEN_WRONG for case in hidden)  # not even which key


@pytest.mark.parametrize("kwargs, hint", [
    (dict(softmax=1), "a softmax over the classes (dim=1) is still applied"),
    (dict(zero_grad=False, evaluate=False), "two bugs are left: the gradients accumulate"),
    (dict(same_order=False, softmax=0), "two bugs are left: X and y are shuffled"),
])
def test_train_epoch_names_the_half_fix_and_two_bugs_at_once(kwargs, hint):
    result = graded("loss.train_epoch", _epoch(**kwargs))
    assert result.points < result.max_points
    assert messages(result) and all(hint in message for message in messages(result)), messages(result)


# -- hidden cases never reveal the answer --------------------------------------------------------------------

@pytest.mark.parametrize("exercise_id, function", [
    ("loss.diagnose", lambda human, train, train_dev, dev: "high bias"),
    ("init.diagnose", lambda stds, saturation, grad_norms: "healthy"),
])
def test_label_exercises_say_nothing_on_hidden_cases_but_that_the_label_is_wrong(exercise_id, function):
    result = graded(exercise_id, function)
    hidden = [case for case in result.cases if case.hidden and case.status != PASSED]
    assert hidden
    for case in hidden:
        assert case.message == HIDDEN_WRONG and case.want == ""


def test_label_choices_are_the_labels_the_lab_offers():
    assert REGISTRY["loss.diagnose"].compare.choices == ("high bias", "high variance", "data mismatch", "good")
    assert REGISTRY["init.diagnose"].compare.choices == ("vanishing", "exploding", "saturated", "healthy")
    said = messages(graded("init.diagnose", lambda stds, saturation, grad_norms: "dead"))
    assert all("'dead' is not one of 'vanishing', 'exploding', 'saturated', 'healthy'" in m for m in said)
    revealing = [hint for hint in REGISTRY["loss.diagnose"].hints if "'good'" in hint.says]
    assert revealing and all(hint.reveals for hint in revealing)


# -- issue 14: init.diagnose judges saturation and gradients --------------------------------------------------

def test_the_lessons_networks_get_the_right_label():
    tanh_large = {"activation": "tanh", "sigma": 1.0, "depth": 10, "width": 256, "seed": 0}
    sigmoid_small = {"activation": "sigmoid", "sigma": 0.01, "depth": 10, "width": 256, "seed": 0}
    for case, diagnosis in ((tanh_large, "saturated"), (sigmoid_small, "vanishing")):
        measured = initialization._network_measurements(case)
        assert initialization._diagnosis(**measured) == diagnosis
        recorded = {case_key(e["case"]): e["value"] for e in ANSWERS["init.diagnose"]}
        assert recorded[case_key(case)] == diagnosis
    measured = initialization._network_measurements(tanh_large)
    assert np.mean(measured["saturation"]) > 0.8 and 0.5 < measured["stds"][-1] / measured["stds"][0] < 2
    measured = initialization._network_measurements(sigmoid_small)
    assert 0.1 < measured["stds"][-1] / measured["stds"][0] < 10 and measured["grad_norms"][0] < 1e-6


def test_the_std_ratio_alone_fails_where_the_lesson_says_it_does():
    result = graded("init.diagnose", _diagnose_stds_only)
    public = {case.label: case for case in result.cases if not case.hidden}
    tanh = next(case for label_, case in public.items() if "'tanh'" in label_ and "sigma=1.0" in label_)
    sigmoid = next(case for label_, case in public.items() if "'sigmoid'" in label_ and "sigma=0.01" in label_)
    assert tanh.status != PASSED and "more than half of the units are saturated" in tanh.message
    assert sigmoid.status != PASSED and "the gradients do not" in sigmoid.message


def test_diagnose_cases_are_far_from_the_thresholds():
    """Every case is decided with a margin: no label hangs on float noise or on the measuring batch."""
    cases = [e["case"] for e in ANSWERS["init.diagnose"]]
    assert len(cases) >= 8
    for case in cases:
        m = initialization._network_measurements(case)
        saturation = np.mean(m["saturation"])
        signal, gradient = m["stds"][-1] / m["stds"][0], m["grad_norms"][0] / m["grad_norms"][-1]
        assert abs(saturation - 0.5) > 0.1, case
        if saturation < 0.5:
            for ratio in (signal, gradient):
                assert min(abs(math.log10(ratio) - 1), abs(math.log10(ratio) + 1)) > 0.15, (case, ratio)


# -- the family: tolerances, exact comparisons, answers --------------------------------------------------------

@pytest.mark.parametrize("exercise", OUR_EXERCISES, ids=lambda e: e.id)
def test_every_exercise_says_what_it_expects(exercise):
    assert exercise.answer, f"{exercise.id} has no answer= in the learner's words"


@pytest.mark.parametrize("exercise", OUR_EXERCISES, ids=lambda e: e.id)
def test_no_tolerance_below_float_noise(exercise):
    description = getattr(exercise.compare, "description", "")
    found = re.search(r"rtol ([0-9.e-]+)", description)
    if found and description.startswith("close"):
        assert float(found.group(1)) == 0 or float(found.group(1)) > 1e-9, (exercise.id, description)


@pytest.mark.parametrize("exercise", [e for e in OUR_EXERCISES if getattr(e.compare, "description", "")
                                      == "exactly equal"], ids=lambda e: e.id)
def test_exact_comparisons_only_compare_exact_values(exercise):
    def floats(value):
        if isinstance(value, float):
            yield value
        elif isinstance(value, dict):
            if "__array__" in value and value.get("dtype", "").startswith("float"):
                yield from np.asarray(value["__array__"], dtype=float).ravel().tolist()
            else:
                for item in value.values():
                    yield from floats(item)
        elif isinstance(value, list):
            for item in value:
                yield from floats(item)

    for entry in ANSWERS[exercise.id]:
        assert all(x == round(x) for x in floats(entry["value"])), (exercise.id, entry["case"])
