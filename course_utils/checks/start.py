"""Exercises of the warm-up lab (``solutions/00_warmup.ipynb``): learn how ``check`` works.

Ids: ``start.accuracy``, ``start.majority_baseline``.
"""

from __future__ import annotations

from collections import Counter

from .compare import close, fraction, is_number
from .engine import Exercise
from .hints import like, when

def _number_like(wrong):
    """A hint test: the answer is one number (not a list of one), equal to ``wrong(want, case)``."""
    return lambda got, want, case: is_number(got) and close(rtol=1e-6)(got, wrong(want, case)).ok


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
)
