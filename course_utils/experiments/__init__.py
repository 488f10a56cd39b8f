"""Experiment harnesses for the labs' decision exercises (one module per topic).

A harness wraps a :class:`course_utils.vault.Vault`: it trains candidates against a budget, scores them
on the free splits, and leaves the test split sealed behind ``vault.test``. The decision exercises of
``course_utils.checks`` hand one to the learner's function and judge the decision against what the
harness's own evidence supports.
"""
