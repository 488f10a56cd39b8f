"""A variant per learner in the grader: copies named, honest mistakes never called copies; a class graded
on its own learners' variants (issue 15)."""

from course_utils.checks.engine import OK, Attempt, Exercise, case_key, vary
from course_utils.grading.variants import Variants, copied, learner_cases

EXERCISE = Exercise("demo.mean", "Mean of your data", 1, cases=({"seed": 0},), varies=("seed",))
LEARNERS = ("ada", "bob", "cy", "dee")


def variants(values: dict[str, object]) -> Variants:
    """Every learner's variant of EXERCISE's case, with ``values[learner]`` as its reference answer."""
    result = Variants()
    for learner in LEARNERS:
        case = vary(EXERCISE, EXERCISE.cases[0], learner)
        result.cases[learner] = {EXERCISE.id: [(case, False)]}
        result.answers.setdefault(EXERCISE.id, {})[case_key(case)] = values[learner]
    return result


def test_an_answer_that_is_one_other_learners_reference_is_a_copy():
    class_ = variants({"ada": 0.4871, "bob": 0.5213, "cy": 0.4990, "dee": 0.5102})
    assert copied(EXERCISE, Attempt(OK, 0.4871), 0, "bob", class_)
    assert copied(EXERCISE, Attempt(OK, 0.4871 + 1e-13), 0, "bob", class_)      # float noise
    assert not copied(EXERCISE, Attempt(OK, 0.4872), 0, "bob", class_)          # a wrong answer of its own
    assert not copied(EXERCISE, Attempt(OK, 0.5213), 0, "bob", class_)          # its own reference
    assert not copied(EXERCISE, Attempt("error", error="x"), 0, "bob", class_)


def test_a_value_that_several_variants_share_is_never_called_a_copy():
    # a choice out of a short list: the reference of two other learners; an honest mistake looks the same,
    # and in a class whose references repeat, no value of that list is called a copy
    class_ = variants({"ada": 0.01, "bob": 0.1, "cy": 0.01, "dee": 0.001})
    assert not copied(EXERCISE, Attempt(OK, 0.01), 0, "bob", class_)
    assert not copied(EXERCISE, Attempt(OK, 0.001), 0, "bob", class_)


DECISION = Exercise("demo.choose", "Choose", 2, cases=({"seed": 0},), varies=("seed",),
                    parts=("decision", "protocol"))


def test_a_copied_decision_is_named_whatever_the_protocol():
    decisions = {"ada": 0.0123, "bob": 0.0456, "cy": 0.0789, "dee": 0.0314}
    class_ = Variants()
    for learner in LEARNERS:
        case = vary(DECISION, DECISION.cases[0], learner)
        class_.cases[learner] = {DECISION.id: [(case, False)]}
        class_.answers.setdefault(DECISION.id, {})[case_key(case)] = {"decision": decisions[learner],
                                                                      "protocol": "followed"}
    no_report = "reported no test score: open the test set once, for your final choice"
    assert copied(DECISION, Attempt(OK, {"decision": 0.0123, "protocol": no_report}), 0, "bob", class_)
    assert not copied(DECISION, Attempt(OK, {"decision": 0.0456, "protocol": no_report}), 0, "bob", class_)
    assert not copied(DECISION, Attempt(OK, {"decision": 0.05, "protocol": "followed"}), 0, "bob", class_)


def test_a_forged_value_is_not_a_copy_and_does_not_crash():
    class_ = variants({"ada": 1.0, "bob": 2.0, "cy": 3.0, "dee": 4.0})
    assert not copied(EXERCISE, Attempt(OK, {"__ndarray__": "forged"}), 0, "bob", class_)


def test_each_learner_gets_their_own_cases_and_exercises_that_do_not_vary_keep_theirs():
    fixed = Exercise("start.accuracy", "fixed", 1, cases=({"seed": 0},))
    expected = {EXERCISE.id: [({"seed": 0}, False), ({"seed": 1}, True)], "start.accuracy": [({"n": 3}, False)]}
    registry = {EXERCISE.id: EXERCISE, fixed.id: fixed}
    ada, bob = learner_cases(expected, "ada", registry), learner_cases(expected, "bob", registry)
    assert ada["start.accuracy"] == expected["start.accuracy"] == bob["start.accuracy"]
    assert [hidden for _, hidden in ada[EXERCISE.id]] == [False, True]        # hidden cases vary too
    seeds = {case["seed"] for variant in (ada, bob) for case, _ in variant[EXERCISE.id]}
    assert len(seeds) == 4 and ada == learner_cases(expected, "ada", registry)
