"""Known-wrong implementations of every exercise, each with the hint it must get.

One module per lab, each with ``WRONG = {exercise id: [(function, hint substring), ...]}``.
tests/test_labs.py runs each function on the public *and* hidden cases, checks
that it loses points and gets its hint, and checks that every hint rule of
every exercise is reached by at least one entry.
"""

from . import (clinic, data_quality, features, imbalance, initialization, losses, normalization, optimizers, pinn,
               regularization, start, transfer, validation)

WRONG = {}
for _lab in (start, data_quality, normalization, initialization, losses, validation, imbalance, regularization,
             optimizers, pinn, transfer, features, clinic):
    WRONG.update(_lab.WRONG)
