"""What the evidence supports: the candidates within the uncertainty of the best.

Shared by the experiment harnesses: a decision exercise accepts every choice the learner's evidence
cannot tell apart from the best one, and no choice that is clearly worse.

>>> within_noise({"a": 0.90, "b": 0.88, "c": 0.70}, {"a": 0.03, "b": 0.03, "c": 0.03})
['a', 'b']
"""

from __future__ import annotations

import numpy as np


def within_noise(means: dict, errors: dict, z: float = 1.0) -> list:
    """The candidates whose mean is within ``z`` standard errors of the best one's.

    ``errors[c]`` is the standard error of ``means[c]`` as the learner's protocol measures it; the error
    of a difference combines the two candidates' errors.
    """
    best = max(means, key=means.get)
    return [c for c in means
            if means[best] - means[c] <= z * float(np.hypot(errors[c], errors[best])) + 1e-12]


def paired_within_noise(correct: dict, z: float = 1.0) -> list:
    """For models scored on the same validation items: the candidates whose accuracy is within ``z``
    standard errors of the paired difference from the best one's.

    ``correct[c]`` is the boolean array "candidate c is right on item i".

    >>> paired_within_noise({"a": np.array([1, 1, 1, 0] * 25, bool), "b": np.array([1, 1, 0, 0] * 25, bool)})
    ['a']
    """
    accuracy = {c: float(np.mean(v)) for c, v in correct.items()}
    best = max(accuracy, key=accuracy.get)
    n = len(correct[best])
    chosen = []
    for c, v in correct.items():
        difference = correct[best].astype(float) - v.astype(float)
        error = float(difference.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0
        if accuracy[best] - accuracy[c] <= z * error + 1e-12:
            chosen.append(c)
    return chosen
