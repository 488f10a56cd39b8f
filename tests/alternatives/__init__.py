"""Independently written *correct* implementations of every exercise: they must get full marks.

One module per lab, each with ``RIGHT = {exercise id: [function, ...]}``. Each function is written the
way another learner would write it -- another algorithm, or another return type the task allows
(a tensor instead of a float, float32 instead of float64, a list instead of an array, scikit-learn
instead of a hand-written loop) -- never a copy of the reference solution. tests/test_alternatives.py
grades each on the public *and* hidden cases against the reference answers: anything short of full
marks means a check that fails a correct answer.
"""

import importlib
import pkgutil

RIGHT = {}
for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    for _exercise, _functions in _module.RIGHT.items():
        RIGHT.setdefault(_exercise, []).extend(_functions)
