"""Exercises of the warm-up lab (``solutions/00_warmup.ipynb``): learn how ``check`` works.

Ids: ``start.accuracy``, ``start.majority_baseline``, ``start.choose_model``, ``start.compare_seeds``.

The last two are decision exercises (:mod:`.decisions`): the learner's function gets a sealed test
set and a way to fit candidates (:mod:`course_utils.experiments.start`); the decision is judged
against the choices the validation evidence supports, the protocol (choose on validation, open the
test set once, several seeds where results vary) separately.
"""

from __future__ import annotations

from collections import Counter

from course_utils.experiments import start as lab

from .choosing import candidate_among
from .compare import close, fraction, is_number
from .decisions import followed, observe_decision, supported
from .engine import Exercise
from .hints import like, when

def _number_like(wrong):
    """A hint test: the answer is one number (not a list of one), equal to ``wrong(want, case)``."""
    return lambda got, want, case: is_number(got) and close(rtol=1e-6)(got, wrong(want, case)).ok


def _decided(predicate):
    """A hint test on a decision's ``{"decision", "protocol"}`` answer: ``predicate(decision, case)``."""
    return lambda got, want, case: isinstance(got, dict) and predicate(got["decision"], case)


def _unsupported(acceptable):
    return lambda decision, case: decision not in acceptable(case)


EXERCISES = (
    Exercise(
        id="start.accuracy",
        title="Accuracy of a list of predictions",
        points=1,
        cases=(
            {"y_true": [0, 1, 1, 0], "y_pred": [0, 1, 0, 0]},
            {"y_true": [2, 2, 1, 0, 1], "y_pred": [2, 1, 1, 0, 0]},
            {"y_true": [1, 1, 1], "y_pred": [0, 0, 0]},
        ),
        compare=fraction(lambda case: len(case["y_true"])),  # k correct out of n
        answer="one number: the fraction of correct predictions, between 0 and 1",
        hints=(
            when(_number_like(lambda want, case: 100 * want),
                 "that is a percentage; return a fraction between 0 and 1"),
            when(_number_like(lambda want, case: 1 - want),
                 "that is the error rate (the fraction of *wrong* predictions)"),
            when(_number_like(lambda want, case: want * len(case["y_true"])),
                 "that is the number of correct predictions; divide by the number of samples"),
        ),
    ),
    Exercise(
        id="start.majority_baseline",
        title="Accuracy of the majority-class baseline",
        points=1,
        cases=(
            {"y_train": [0, 0, 0, 1], "y_test": [0, 1, 1, 1, 1]},
            {"y_train": [2, 1, 2, 0, 2], "y_test": [2, 2, 0]},
            {"y_train": [1, 1, 0], "y_test": [0, 0, 0, 0, 1]},
        ),
        compare=fraction(lambda case: len(case["y_test"])),
        answer="one number: the accuracy on y_test, between 0 and 1",
        hints=(
            like(lambda want, case: Counter(case["y_test"]).most_common(1)[0][1] / len(case["y_test"]),
                 "you took the majority class of the *test* labels: a baseline may only learn from "
                 "the training labels, otherwise it peeks at the answers"),
            like(lambda want, case: Counter(case["y_train"]).most_common(1)[0][1] / len(case["y_train"]),
                 "that is how frequent the majority class is in the training set; the baseline must be "
                 "scored on the test labels"),
            when(lambda got, want, case: isinstance(got, int) and got in case["y_train"] and want != got,
                 "you returned the majority class itself; return the accuracy of always predicting it"),
        ),
    ),
    Exercise(
        id="start.choose_model",
        title="Choose a model on validation, report its test accuracy once",
        points=2,
        cases=({"seed": 2},),
        varies=("seed",),
        arguments=lambda case: dict(zip(("vault", "fit"), lab.model_lab(case["seed"]))),
        observe=observe_decision("model", convert=candidate_among(lab.MODELS, "model")),
        compare={"decision": supported(lab.acceptable_models, what="model"), "protocol": followed()},
        parts=("decision", "protocol"),
        answer="a dict {'model': your choice, 'test': the test accuracy of that model}",
        hints=(
            when(_decided(lambda d, case: d == lab.best_on(case["seed"], "train")
                          and _unsupported(lab.acceptable_models)(d, case)),
                 "you chose the model with the best *training* accuracy: 1-nearest-neighbour recites its "
                 "training set (accuracy 1.0) and tells nothing about new data. Compare on vault.val"),
            when(_decided(lambda d, case: d == "majority" and _unsupported(lab.acceptable_models)(d, case)),
                 "the baseline is the bar to beat, not a choice to keep when a model beats it clearly on "
                 "validation"),
        ),
    ),
    Exercise(
        id="start.compare_seeds",
        title="Compare two networks over several seeds",
        points=2,
        cases=({"seed": 2},),
        varies=("seed",),
        arguments=lambda case: dict(zip(("vault", "fit"), lab.width_lab(case["seed"]))),
        observe=observe_decision("width", seeds_needed=lab.SEEDS_NEEDED, candidates=len(lab.WIDTHS),
                                 convert=candidate_among(lab.WIDTHS, "width")),
        compare={"decision": supported(lab.acceptable_widths, what="width"), "protocol": followed()},
        parts=("decision", "protocol"),
        answer="a dict {'width': 6 or 48, 'test': the test accuracy of one network of that width}",
        hints=(
            when(_decided(lambda d, case: d == lab.best_on_training(case["seed"])
                          and _unsupported(lab.acceptable_widths)(d, case)),
                 "the wider network fits its training set better, which says nothing about new data: "
                 "compare the mean *validation* accuracy over the seeds"),
        ),
    ),
)
