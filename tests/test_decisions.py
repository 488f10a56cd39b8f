"""The sealed test set, decision exercises and per-learner variants (the generic pieces; each lab's
decision exercises are tested with its other exercises)."""

import numpy as np
import pytest

from course_utils.checks.decisions import followed, observe_decision, supported
from course_utils.checks.engine import Exercise, attempt, case_key, grade, vary
from course_utils.vault import CHOSE_ON_TEST, FOLLOWED, NOT_REPORTED, ONE_SEED, PEEKED, BudgetSpent, Vault


def accuracy(predict, X, y):
    return float(np.mean(predict(X) == y))


def make_vault(seed=0, budget=None):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(60, 2))
    y = (X[:, 0] > 0).astype(int)
    return Vault((X[:20], y[:20]), (X[20:40], y[20:40]), (X[40:], y[40:]), metric=accuracy, budget=budget)


def threshold_model(t):
    return lambda X: (X[:, 0] > t).astype(int)


def test_train_and_val_are_free_and_the_test_set_opens_through_one_logged_call():
    vault = make_vault()
    X, y = vault.train
    assert len(vault.val) == 20 and X.shape == (20, 2) and not vault.openings
    score = vault.test(threshold_model(0.0), candidate=0.0)
    assert score == 1.0 and vault.log() == [{"candidate": 0.0, "score": 1.0, "at": vault.log()[0]["at"]}]
    with pytest.raises(TypeError, match="does not unpack"):
        list(vault)


@pytest.mark.parametrize("steps, decision, expected", [
    (["test 0.0"], 0.0, FOLLOWED),
    (["test 0.0", "test 0.0"], 0.0, FOLLOWED),                 # the same final choice, scored twice
    (["test 0.5"], 0.0, PEEKED),                               # looked at another candidate
    (["test 0.5", "test 0.0"], 0.0, CHOSE_ON_TEST),           # compared candidates on test
    ([], 0.0, NOT_REPORTED),
])
def test_protocol_names_the_first_violation(steps, decision, expected):
    vault = make_vault()
    for step in steps:
        t = float(step.split()[1])
        vault.test(threshold_model(t), candidate=t)
    assert vault.protocol(decision) == expected


def test_one_seed_is_a_violation_where_the_comparison_needs_several():
    vault = make_vault()
    for candidate in (0.1, 0.01):
        vault.trained(candidate, seed=0)
    vault.test(threshold_model(0.0), candidate=0.1)
    assert vault.protocol(0.1, seeds_needed=3) == ONE_SEED.format(needed=3)
    for candidate in (0.1, 0.01):
        for seed in (1, 2):
            vault.trained(candidate, seed=seed)
    assert vault.protocol(0.1, seeds_needed=3, candidates=2) == FOLLOWED
    # numpy and torch scalars are the same candidate as the Python number
    assert vault.seeds_of(np.float32(0.1)) == 3


def test_the_budget_stops_with_a_sentence():
    vault = make_vault(budget=2)
    vault.spend(2)
    with pytest.raises(BudgetSpent, match="budget is 2 trainings"):
        vault.spend()


DEMO = Exercise(
    "demo.threshold", "Choose a threshold", 2, cases=({"seed": 0},), varies=("seed",),
    arguments=lambda case: {"vault": make_vault(case["seed"])},
    observe=observe_decision("threshold", convert=float),
    compare={"decision": supported(lambda case: [0.0, 0.1]), "protocol": followed()},
    parts=("decision", "protocol"))


def choose_on_validation(vault):
    X, y = vault.val
    best = max((0.0, 0.5, 1.0), key=lambda t: accuracy(threshold_model(t), X, y))
    return {"threshold": best, "test": vault.test(threshold_model(best), candidate=best)}


def choose_on_test(vault):
    scores = {t: vault.test(threshold_model(t), candidate=t) for t in (0.0, 0.5, 1.0)}
    return {"threshold": max(scores, key=scores.get)}


def graded(function, case={"seed": 0}):
    reference = attempt(DEMO, choose_on_validation, case)
    result = attempt(DEMO, function, case)
    return grade(DEMO, [(case, False, result)], {case_key(case): reference.value})


def test_a_decision_from_validation_gets_full_marks():
    result = graded(choose_on_validation)
    assert result.points == 2 and result.status == "passed"


def test_choosing_on_test_costs_the_protocol_share_and_says_why():
    result = graded(choose_on_test)
    assert result.points == 1
    assert CHOSE_ON_TEST in result.cases[0].message


def test_a_decision_the_evidence_does_not_support_is_named():
    result = graded(lambda vault: {"threshold": vault.test(threshold_model(1.0), candidate=1.0) and 1.0})
    assert result.points == 1
    assert "the evidence does not support 1" in result.cases[0].message


def test_a_hint_on_the_decision_does_not_hide_the_protocol_violation():
    from dataclasses import replace

    from course_utils.checks.hints import when

    hinted = replace(DEMO, hints=(when(lambda got, want, case: got["decision"] == 1.0,
                                       "1.0 is the threshold of the training split"),))
    case = {"seed": 0}
    reference = attempt(hinted, choose_on_validation, case)
    peek = attempt(hinted, lambda vault: {"threshold": 1.0 if vault.test(threshold_model(0.0), candidate=0.0) else 1.0},
                   case)
    result = grade(hinted, [(case, False, peek)], {case_key(case): reference.value})
    message = result.cases[0].message
    assert result.points == 0 and "training split" in message and PEEKED in message, message


def test_a_missing_key_is_a_sentence_not_an_exception():
    result = graded(lambda vault: {"t": 0.0})
    assert result.points == 0 and "the key 'threshold'" in result.cases[0].message


def test_variants_differ_per_learner_and_the_public_variant_is_the_declared_case():
    case = DEMO.cases[0]
    assert vary(DEMO, case, None) == case and vary(DEMO, case, "") == case
    seeds = {vary(DEMO, case, learner)["seed"] for learner in ("ada", "bob", "cy", "dee", "eve")}
    assert len(seeds) == 5
    assert vary(DEMO, case, "ada") == vary(DEMO, case, "ada")          # stable
    fixed = Exercise("demo.fixed", "Fixed", 1, cases=({"seed": 0},))
    assert vary(fixed, {"seed": 0}, "ada") == {"seed": 0}             # exercises that do not vary


def test_every_lab_grades_at_least_two_decisions_on_the_learners_own_variant():
    from conftest import SOLUTIONS
    from course_utils.checks.registry import EXERCISES
    from course_utils.grading.markup import lab_exercises
    from course_utils.notebooks import read_notebook

    for path in SOLUTIONS:
        checked = [exercise for exercise, _ in lab_exercises(read_notebook(path))]
        # a decision is made on the learner's own variant of the data (a harness drawn from their id)
        decisions = [ex for ex in checked if EXERCISES[ex].varies]
        assert len(decisions) >= 2, f"{path.stem}: decisions {decisions}"
